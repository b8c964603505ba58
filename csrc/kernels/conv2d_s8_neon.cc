// CONV_2D on any Armv8-A NEON core (Cortex-A72, Raspberry Pi 4): a GEMM tile of 4 output pixels by 4 output
// channels; per 16 k, SMULL + SMLAL2 sum two int8 products in int16 lanes (no weight is -128, so
// |sum| <= 2 * 128 * 127 < 2^15) and SADALP folds them into int32. Bit-exact with ep_conv2d_s8.
#include "edgeprune/detail/neon_gemm.h"

#include <stdint.h>

#if defined(__aarch64__) && defined(__ARM_NEON)
namespace {

// One (pixel, channel) pair of a step: the 16 products of x (v24 + pixel) and w (v16 + channel) summed pairwise in
// the int16 lanes of t, then added pairwise into the int32 accumulator (v0 + 4 * pixel + channel).
#define EP_DOT16(acc, x, w, t)              \
  "smull " t ".8h, " x ".8b, " w ".8b\n\t"   \
  "smlal2 " t ".8h, " x ".16b, " w ".16b\n\t" \
  "sadalp " acc ".4s, " t ".8h\n\t"
#define EP_DOT16_PIXEL(a0, a1, a2, a3, x) \
  EP_DOT16(a0, x, "v16", "v20")            \
  EP_DOT16(a1, x, "v17", "v21")            \
  EP_DOT16(a2, x, "v18", "v22")            \
  EP_DOT16(a3, x, "v19", "v23")
// The first step of a tile: SADDLP starts the accumulators (no zeroing needed).
#define EP_DOT16_FIRST(acc, x, w, t)         \
  "smull " t ".8h, " x ".8b, " w ".8b\n\t"   \
  "smlal2 " t ".8h, " x ".16b, " w ".16b\n\t" \
  "saddlp " acc ".4s, " t ".8h\n\t"
#define EP_DOT16_PIXEL_FIRST(a0, a1, a2, a3, x) \
  EP_DOT16_FIRST(a0, x, "v16", "v20")            \
  EP_DOT16_FIRST(a1, x, "v17", "v21")            \
  EP_DOT16_FIRST(a2, x, "v18", "v22")            \
  EP_DOT16_FIRST(a3, x, "v19", "v23")

// The 4 pixels' bytes of a step: at r_i + k, or (packed windows) 64 contiguous bytes at r0 + k.
#define EP_SMLAL_LOAD_ROWS(k)      \
  "ldr q24, [%[r0]" k "]\n\t"     \
  "ldr q25, [%[r1]" k "]\n\t"     \
  "ldr q26, [%[r2]" k "]\n\t"     \
  "ldr q27, [%[r3]" k "]\n\t"
#define EP_SMLAL_ROWS_FIRST EP_SMLAL_LOAD_ROWS("")
#define EP_SMLAL_ROWS_STEP EP_SMLAL_LOAD_ROWS(", %[k]")
#define EP_SMLAL_PACKED_FIRST "ld1 {v24.16b-v27.16b}, [%[r0]]\n\t"
#define EP_SMLAL_PACKED_STEP "add %[k], %[r0], %[k]\n\t" "ld1 {v24.16b-v27.16b}, [%[k]]\n\t"
#define EP_SMLAL_LEFT_ON(a) "sshl " a ".4s, " a ".4s, v18.4s\n\t"
#define EP_SMLAL_LEFT_OFF(a) ""
#define EP_SMLAL_FIX_ALL(a) "ssra " a ".4s, " a ".4s, #31\n\t"
#define EP_SMLAL_FIX_MASK(a) "and v20.16b, " a ".16b, v19.16b\n\t" "ssra " a ".4s, v20.4s, #31\n\t"
// bias (v16), then requantization (multiplier v17, left shift v18, right shift v19) as in conv_neon.h.
#define EP_SMLAL_RQ(a, LEFT, FIX) \
  "add " a ".4s, " a ".4s, v16.4s\n\t" LEFT(a) "sqrdmulh " a ".4s, " a ".4s, v17.4s\n\t" FIX(a) \
  "srshl " a ".4s, " a ".4s, v19.4s\n\t"

// One further 16-byte step: weights, the 4 pixels' bytes (STEP), 48 multiply-accumulates.
#define EP_SMLAL_STEP(STEP)                              \
  "ldrsw %[k], [%[offsets]], #4\n\t"                     \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"               \
  STEP                                                   \
  EP_DOT16_PIXEL("v0", "v1", "v2", "v3", "v24")          \
  EP_DOT16_PIXEL("v4", "v5", "v6", "v7", "v25")          \
  EP_DOT16_PIXEL("v8", "v9", "v10", "v11", "v26")        \
  EP_DOT16_PIXEL("v12", "v13", "v14", "v15", "v27")

// One 4 x 4 tile in one asm block: 56 instructions per 256 MACs per step (with intrinsics the compiler hoists the
// products ahead of their accumulations, runs out of vector registers and spills accumulators inside the loop).
// Accumulators v0-v15 (pixel p, channel c: v4p+c, 4 partial sums each), weights v16-v19, pixels v24-v27, products
// v20-v23. Then ADDP to one vector per pixel (lane = channel), the bias and requantization (rq: bias, multiplier,
// left shift, right shift: v16-v19), narrowing with the output offset and clamp (consts: v24-v26) and four 4-byte
// stores, dst advancing by ostride per pixel.
#define EP_SMLAL_TILE_ASM(FIRST, STEP, LEFT, FIX)                                                              \
  __asm__ volatile(                                                                                            \
      "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                 \
      FIRST                                                                                                    \
      EP_DOT16_PIXEL_FIRST("v0", "v1", "v2", "v3", "v24")                                                      \
      EP_DOT16_PIXEL_FIRST("v4", "v5", "v6", "v7", "v25")                                                      \
      EP_DOT16_PIXEL_FIRST("v8", "v9", "v10", "v11", "v26")                                                    \
      EP_DOT16_PIXEL_FIRST("v12", "v13", "v14", "v15", "v27")                                                  \
      "cbz %[count], 3f\n\t"                                                                                   \
      "tbz %[count], #0, 2f\n\t" /* an odd count of further steps: one first, then pairs */                    \
      EP_SMLAL_STEP(STEP)                                                                                      \
      "subs %[count], %[count], #1\n\t"                                                                        \
      "b.eq 3f\n\t"                                                                                            \
      "2:\n\t"                                                                                                 \
      EP_SMLAL_STEP(STEP)                                                                                      \
      EP_SMLAL_STEP(STEP)                                                                                      \
      "subs %[count], %[count], #2\n\t"                                                                        \
      "b.ne 2b\n\t"                                                                                            \
      "3:\n\t"                                                                                                 \
      "addp v0.4s, v0.4s, v1.4s\n\t" "addp v2.4s, v2.4s, v3.4s\n\t" "addp v0.4s, v0.4s, v2.4s\n\t"             \
      "addp v4.4s, v4.4s, v5.4s\n\t" "addp v6.4s, v6.4s, v7.4s\n\t" "addp v4.4s, v4.4s, v6.4s\n\t"             \
      "addp v8.4s, v8.4s, v9.4s\n\t" "addp v10.4s, v10.4s, v11.4s\n\t" "addp v8.4s, v8.4s, v10.4s\n\t"         \
      "addp v12.4s, v12.4s, v13.4s\n\t" "addp v14.4s, v14.4s, v15.4s\n\t" "addp v12.4s, v12.4s, v14.4s\n\t"     \
      "ld1 {v16.4s-v19.4s}, [%[rq]]\n\t"                                                                       \
      "ld1 {v24.16b-v26.16b}, [%[consts]]\n\t"                                                                 \
      EP_SMLAL_RQ("v0", LEFT, FIX) EP_SMLAL_RQ("v4", LEFT, FIX) EP_SMLAL_RQ("v8", LEFT, FIX)                   \
      EP_SMLAL_RQ("v12", LEFT, FIX)                                                                            \
      "sqxtn v21.4h, v0.4s\n\t"                                                                                \
      "sqxtn2 v21.8h, v4.4s\n\t"                                                                               \
      "sqxtn v22.4h, v8.4s\n\t"                                                                                \
      "sqxtn2 v22.8h, v12.4s\n\t"                                                                              \
      "sqadd v21.8h, v21.8h, v24.8h\n\t"                                                                       \
      "sqadd v22.8h, v22.8h, v24.8h\n\t"                                                                       \
      "sqxtn v23.8b, v21.8h\n\t"                                                                               \
      "sqxtn2 v23.16b, v22.8h\n\t"                                                                             \
      "smax v23.16b, v23.16b, v25.16b\n\t"                                                                     \
      "smin v23.16b, v23.16b, v26.16b\n\t"                                                                     \
      "st1 {v23.s}[0], [%[dst]], %[ostride]\n\t"                                                               \
      "st1 {v23.s}[1], [%[dst]], %[ostride]\n\t"                                                               \
      "st1 {v23.s}[2], [%[dst]], %[ostride]\n\t"                                                               \
      "st1 {v23.s}[3], [%[dst]], %[ostride]\n\t"                                                               \
      : [w] "+r"(w), [count] "+r"(count), [k] "=&r"(k), [offsets] "+r"(offsets), [dst] "+r"(dst)             \
      : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [r3] "r"(r3), [rq] "r"(rq), [consts] "r"(consts),           \
        [ostride] "r"(ostride)                                                                                 \
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13",   \
        "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27")

template <int F, bool PACKED>
__attribute__((always_inline)) static inline void smlal_tile(const int8_t *r0, const int8_t *r1, const int8_t *r2, const int8_t *r3, const int8_t *&w,
                              const ep::neon::Steps &steps, const int32_t *rq, const int8_t *consts, int8_t *dst,
                              intptr_t ostride) {
  intptr_t count = steps.count - 1, k;
  const int32_t *offsets = steps.offsets + 1;
  if (PACKED) {
    if (F & EP_LEFT) EP_SMLAL_TILE_ASM(EP_SMLAL_PACKED_FIRST, EP_SMLAL_PACKED_STEP, EP_SMLAL_LEFT_ON, EP_SMLAL_FIX_MASK);
    else if (F & EP_ALL_RIGHT) EP_SMLAL_TILE_ASM(EP_SMLAL_PACKED_FIRST, EP_SMLAL_PACKED_STEP, EP_SMLAL_LEFT_OFF, EP_SMLAL_FIX_ALL);
    else EP_SMLAL_TILE_ASM(EP_SMLAL_PACKED_FIRST, EP_SMLAL_PACKED_STEP, EP_SMLAL_LEFT_OFF, EP_SMLAL_FIX_MASK);
  } else {
    if (F & EP_LEFT) EP_SMLAL_TILE_ASM(EP_SMLAL_ROWS_FIRST, EP_SMLAL_ROWS_STEP, EP_SMLAL_LEFT_ON, EP_SMLAL_FIX_MASK);
    else if (F & EP_ALL_RIGHT) EP_SMLAL_TILE_ASM(EP_SMLAL_ROWS_FIRST, EP_SMLAL_ROWS_STEP, EP_SMLAL_LEFT_OFF, EP_SMLAL_FIX_ALL);
    else EP_SMLAL_TILE_ASM(EP_SMLAL_ROWS_FIRST, EP_SMLAL_ROWS_STEP, EP_SMLAL_LEFT_OFF, EP_SMLAL_FIX_MASK);
  }
}

template <int F>
struct SmlalTile {
  const ep_conv2d_s8_neon_params *p;
  int8_t consts[48];  // output offset (8 x int16), act_min (16 x int8), act_max (16 x int8)

  explicit SmlalTile(const ep_conv2d_s8_neon_params *params) : p(params) {
    vst1q_s16((int16_t *)(void *)consts, vdupq_n_s16((int16_t)p->output_offset));
    vst1q_s8(consts + 16, vdupq_n_s8((int8_t)p->act_min));
    vst1q_s8(consts + 32, vdupq_n_s8((int8_t)p->act_max));
  }

  // Output channels [0, out_c) of 4 pixels (FULL: n == 4 and out_c >= 4: every tile stores 4 whole channels;
  // OVERLAP: out_c % 4 != 0, the last tile is [out_c - 4, out_c)). PACKED: r_i == r0 + 16 * i.
  template <bool FULL, bool OVERLAP, bool PACKED>
  void quad(const int8_t *r0, const int8_t *r1, const int8_t *r2, const int8_t *r3, int32_t n,
            const ep::neon::Steps &steps, int8_t *out) const {
    const int32_t out_c = p->out_c;
    const int8_t *w = p->filter;
    const int32_t *rq = p->rq;
    int8_t tmp[16];
    for (int32_t oc = 0; oc < out_c; oc += 4, rq += 4 * EP_NEON_RQ_FIELDS) {
      if (OVERLAP && oc > out_c - 4 && out_c >= 4) oc = out_c - 4;  // the last tile overlaps the one before
      if (FULL) {
        smlal_tile<F, PACKED>(r0, r1, r2, r3, w, steps, rq, consts, out + oc, out_c);
        continue;
      }
      smlal_tile<F, PACKED>(r0, r1, r2, r3, w, steps, rq, consts, tmp, 4);
      const int32_t left = out_c - oc < 4 ? out_c - oc : 4;
      for (int32_t i = 0; i < n; ++i)
        for (int32_t o = 0; o < left; ++o) out[(size_t)i * out_c + oc + o] = tmp[4 * i + o];
    }
  }

  void operator()(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n, const ep::neon::Steps &steps,
                  int8_t *out, bool packed) const {
    int8_t *out4 = out + (size_t)4 * p->out_c;
    if (packed && p->out_c % 4 == 0) {
      quad<true, false, true>(rows[0], rows[1], rows[2], rows[3], 4, steps, out);
      quad<true, false, true>(rows[4], rows[5], rows[6], rows[7], 4, steps, out4);
    } else if (n == EP_NEON_GEMM_PIXELS && p->out_c % 4 == 0) {
      quad<true, false, false>(rows[0], rows[1], rows[2], rows[3], 4, steps, out);
      quad<true, false, false>(rows[4], rows[5], rows[6], rows[7], 4, steps, out4);
    } else if (n == EP_NEON_GEMM_PIXELS && p->out_c > 4) {
      quad<true, true, false>(rows[0], rows[1], rows[2], rows[3], 4, steps, out);
      quad<true, true, false>(rows[4], rows[5], rows[6], rows[7], 4, steps, out4);
    } else {
      quad<false, true, false>(rows[0], rows[1], rows[2], rows[3], n < 4 ? n : 4, steps, out);
      if (n > 4) quad<false, true, false>(rows[4], rows[5], rows[6], rows[7], n - 4, steps, out4);
    }
  }
};

}  // namespace
#endif

extern "C" ep_status ep_conv2d_s8_neon(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch,
                                       int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON)
  switch ((p->left_shifts ? EP_LEFT : 0) | (p->all_right ? EP_ALL_RIGHT : 0)) {
    case EP_LEFT:
      return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<EP_LEFT>(p));
    case EP_ALL_RIGHT:
      return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<EP_ALL_RIGHT>(p));
    case EP_LEFT | EP_ALL_RIGHT:
      return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<EP_LEFT | EP_ALL_RIGHT>(p));
    default:
      return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<0>(p));
  }
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
