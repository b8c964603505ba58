// CONV_2D on AArch32 NEON (armv7-a + NEON, 32-bit Raspberry Pi OS): the GEMM of ep_conv2d_s8_neon (same driver,
// weight panels [ceil(oc/4)][K/16][4 oc][16 k], rq and scratch) with a tile of 2 output pixels by 4 output channels
// for AArch32's 16 q registers. Per 16 k and (pixel, channel) pair, VMULL + VMLAL sum two int8 products in int16
// lanes (no weight is -128, so |sum| <= 2 * 128 * 127 < 2^15) and VPADAL folds them into int32. Bit-exact with
// ep_conv2d_s8 (requantization as ep::neon::requantize in conv_neon.h).
#include "edgeprune/detail/neon_gemm.h"

#include <stdint.h>
#include <string.h>

#if defined(__ARM_NEON) && !defined(__aarch64__)
namespace {

// One (pixel, channel) pair of a step: the 16 products of pixel x (q12 / q13) and weights w (q8-q11) summed pairwise
// in int16 (t: q14 / q15), then added pairwise into the int32 accumulator (q0-q3: pixel 0, q4-q7: pixel 1).
#define EP32_DOT(OP, acc, xl, xh, wl, wh, t) \
  "vmull.s8 " t ", " xl ", " wl "\n\t"        \
  "vmlal.s8 " t ", " xh ", " wh "\n\t"        \
  OP " " acc ", " t "\n\t"
#define EP32_DOTS(OP)                                           \
  EP32_DOT(OP, "q0", "d24", "d25", "d16", "d17", "q14")         \
  EP32_DOT(OP, "q4", "d26", "d27", "d16", "d17", "q15")         \
  EP32_DOT(OP, "q1", "d24", "d25", "d18", "d19", "q14")         \
  EP32_DOT(OP, "q5", "d26", "d27", "d18", "d19", "q15")         \
  EP32_DOT(OP, "q2", "d24", "d25", "d20", "d21", "q14")         \
  EP32_DOT(OP, "q6", "d26", "d27", "d20", "d21", "q15")         \
  EP32_DOT(OP, "q3", "d24", "d25", "d22", "d23", "q14")         \
  EP32_DOT(OP, "q7", "d26", "d27", "d22", "d23", "q15")
// The weights of a step (64 bytes) and the two pixels' next 16 bytes.
#define EP32_LOAD                              \
  "vld1.8 {d16-d19}, [%[w]]!\n\t"              \
  "vld1.8 {d20-d23}, [%[w]]!\n\t"              \
  "vld1.8 {d24-d25}, [%[p0]]!\n\t"             \
  "vld1.8 {d26-d27}, [%[p1]]!\n\t"
#define EP32_LEFT_ON(a) "vshl.s32 " a ", " a ", q10\n\t"
#define EP32_LEFT_OFF(a) ""
#define EP32_FIX_ALL(a) "vsra.s32 " a ", " a ", #31\n\t"
#define EP32_FIX_MASK(a) "vand q12, " a ", q11\n\t" "vsra.s32 " a ", q12, #31\n\t"
// bias (q8), then requantization (multiplier q9, left shift q10, right shift q11) as in conv_neon.h.
#define EP32_RQ(a, LEFT, FIX) \
  "vadd.i32 " a ", " a ", q8\n\t" LEFT(a) "vqrdmulh.s32 " a ", " a ", q9\n\t" FIX(a) "vrshl.s32 " a ", " a ", q11\n\t"
// 4 accumulators (4 partial sums each) -> one vector of the 4 channel sums in the first (qa = d_a0, d_a1).
#define EP32_REDUCE(a0, a1, b0, b1, c0, c1, e0, e1) \
  "vpadd.i32 " a0 ", " a0 ", " a1 "\n\t"            \
  "vpadd.i32 " a1 ", " b0 ", " b1 "\n\t"            \
  "vpadd.i32 " b0 ", " c0 ", " c1 "\n\t"            \
  "vpadd.i32 " b1 ", " e0 ", " e1 "\n\t"            \
  "vpadd.i32 " a0 ", " a0 ", " a1 "\n\t"            \
  "vpadd.i32 " a1 ", " b0 ", " b1 "\n\t"

// One 2 x 4 tile in one asm block: 32 instructions per 128 MACs per further step. The GEMM row is `rows` runs of
// `inner` contiguous 16-byte steps, `skip` bytes apart (one run for direct 1x1 and im2col rows; a window's filter rows
// for segments), so the pixel loads post-increment. Then the bias and requantization (rq: bias, multiplier, left
// shift, right shift: q8-q11), narrowing with the output offset (q13) and the clamp (d28, d29: consts) and two 4-byte
// stores, dst advancing by ostride.
#define EP32_TILE_ASM(LEFT, FIX)                                                                                    \
  __asm__ volatile(                                                                                                 \
      EP32_LOAD                                                                                                     \
      EP32_DOTS("vpaddl.s16")                                                                                       \
      "subs %[count], %[inner], #1\n\t"                                                                             \
      "beq 4f\n\t"                                                                                                  \
      "2:\n\t"                                                                                                      \
      EP32_LOAD                                                                                                     \
      EP32_DOTS("vpadal.s16")                                                                                       \
      "subs %[count], %[count], #1\n\t"                                                                             \
      "bne 2b\n\t"                                                                                                  \
      "4:\n\t"                                                                                                      \
      "subs %[rows], %[rows], #1\n\t"                                                                               \
      "beq 3f\n\t"                                                                                                  \
      "add %[p0], %[p0], %[skip]\n\t"                                                                               \
      "add %[p1], %[p1], %[skip]\n\t"                                                                               \
      "mov %[count], %[inner]\n\t"                                                                                  \
      "b 2b\n\t"                                                                                                    \
      "3:\n\t"                                                                                                      \
      EP32_REDUCE("d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7")                                                   \
      EP32_REDUCE("d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15")                                             \
      "vld1.32 {d16-d19}, [%[rq]]!\n\t"                                                                             \
      "vld1.32 {d20-d23}, [%[rq]]\n\t"                                                                              \
      "vld1.8 {d26-d29}, [%[consts]]\n\t"                                                                           \
      EP32_RQ("q0", LEFT, FIX) EP32_RQ("q4", LEFT, FIX)                                                             \
      "vqmovn.s32 d0, q0\n\t"                                                                                       \
      "vqmovn.s32 d1, q4\n\t"                                                                                       \
      "vqadd.s16 q0, q0, q13\n\t"                                                                                   \
      "vqmovn.s16 d0, q0\n\t"                                                                                       \
      "vmax.s8 d0, d0, d28\n\t"                                                                                     \
      "vmin.s8 d0, d0, d29\n\t"                                                                                     \
      "vst1.32 {d0[0]}, [%[dst]], %[ostride]\n\t"                                                                   \
      "vst1.32 {d0[1]}, [%[dst]]\n\t"                                                                               \
      : [w] "+r"(w), [count] "=&r"(count), [rows] "+r"(rows), [p0] "+r"(r0), [p1] "+r"(r1), [dst] "+r"(dst),      \
        [rq] "+r"(rq)                                                                                               \
      : [inner] "r"(run.inner), [skip] "r"(run.skip), [consts] "r"(consts), [ostride] "r"(ostride)                 \
      : "cc", "memory", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13",     \
        "d14", "d15", "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23", "d24", "d25", "d26", "d27", "d28",   \
        "d29", "d30", "d31")

// The GEMM row as runs of contiguous 16-byte steps (see EP32_TILE_ASM).
struct Runs {
  intptr_t rows, inner, skip;
};

#define EP_LEFT32 1
#define EP_ALL_RIGHT32 2

template <int F>
__attribute__((always_inline)) static inline void tile2x4(const int8_t *r0, const int8_t *r1, const int8_t *w,
                                                          const Runs &run, const int32_t *rq, const int8_t *consts,
                                                          int8_t *dst, intptr_t ostride) {
  intptr_t count, rows = run.rows;
  if (F & EP_LEFT32) EP32_TILE_ASM(EP32_LEFT_ON, EP32_FIX_MASK);
  else if (F & EP_ALL_RIGHT32) EP32_TILE_ASM(EP32_LEFT_OFF, EP32_FIX_ALL);
  else EP32_TILE_ASM(EP32_LEFT_OFF, EP32_FIX_MASK);
}

template <int F>
struct Neon32Tile {
  const ep_conv2d_s8_neon_params *p;
  int32_t panel;  // bytes of one 4-channel weight panel: 4 * k_padded
  int8_t consts[32];  // output offset (8 x int16), act_min (8 x int8), act_max (8 x int8)

  explicit Neon32Tile(const ep_conv2d_s8_neon_params *params) : p(params), panel(4 * params->k_padded) {
    vst1q_s16((int16_t *)(void *)consts, vdupq_n_s16((int16_t)p->output_offset));
    vst1_s8(consts + 16, vdup_n_s8((int8_t)p->act_min));
    vst1_s8(consts + 24, vdup_n_s8((int8_t)p->act_max));
  }

  // All output channels of n <= 8 pixels (rows past n repeat row n - 1), in channel tiles of 4 (the last one
  // [out_c - 4, out_c) when out_c % 4 != 0: it overlaps the one before, so every tile stores whole).
  void operator()(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n, const ep::neon::Steps &steps,
                  int8_t *out, bool) const {
    // The steps (driver offsets) as runs: segments are filter_h runs of segment_bytes, one padded row apart.
    Runs run;
    run.inner = p->segments && !p->direct ? ep::neon::segment_bytes(p) / 16 : steps.count;
    run.rows = steps.count / run.inner;
    run.skip = run.rows > 1 ? steps.offsets[run.inner] - 16 * run.inner : 0;
    const int32_t out_c = p->out_c;
    const int8_t *w = p->filter;
    const int32_t *rq = p->rq;
    int8_t tmp[8];
    for (int32_t oc = 0; oc < out_c; oc += 4, rq += 4 * EP_NEON_RQ_FIELDS, w += panel) {
      if (oc > out_c - 4 && out_c >= 4) oc = out_c - 4;
      const int32_t width = out_c - oc < 4 ? out_c - oc : 4;
      for (int32_t i = 0; i < n; i += 2) {
        int8_t *dst = out + (size_t)i * out_c + oc;
        if (width == 4 && i + 1 < n) {
          tile2x4<F>(rows[i], rows[i + 1], w, run, rq, consts, dst, out_c);
          continue;
        }
        tile2x4<F>(rows[i], rows[i + 1], w, run, rq, consts, tmp, 4);
        for (int32_t j = 0; j < 2 && i + j < n; ++j)
          for (int32_t o = 0; o < width; ++o) dst[(size_t)j * out_c + o] = tmp[4 * j + o];
      }
    }
  }
};

}  // namespace
#endif

extern "C" ep_status ep_conv2d_s8_neon32(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch,
                                         int8_t *output) {
#if defined(__ARM_NEON) && !defined(__aarch64__)
  switch ((p->left_shifts ? EP_LEFT32 : 0) | (p->all_right ? EP_ALL_RIGHT32 : 0)) {
    case EP_LEFT32:
      return ep::neon::conv_gemm(p, input, scratch, output, Neon32Tile<EP_LEFT32>(p));
    case EP_ALL_RIGHT32:
      return ep::neon::conv_gemm(p, input, scratch, output, Neon32Tile<EP_ALL_RIGHT32>(p));
    case EP_LEFT32 | EP_ALL_RIGHT32:
      return ep::neon::conv_gemm(p, input, scratch, output, Neon32Tile<EP_LEFT32 | EP_ALL_RIGHT32>(p));
    default:
      return ep::neon::conv_gemm(p, input, scratch, output, Neon32Tile<0>(p));
  }
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
