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

template <int F>
struct SmlalTile {
  const ep_conv2d_s8_neon_params *p;

  // Output channels [0, out_c) of 4 pixels (FULL: n == 4 and out_c >= 4: every tile stores 4 whole channels;
  // OVERLAP: out_c % 4 != 0, the last tile is [out_c - 4, out_c)).
  template <bool FULL, bool OVERLAP>
  void quad(const int8_t *r0, const int8_t *r1, const int8_t *r2, const int8_t *r3, int32_t n,
            const ep::neon::Steps &steps, int8_t *out) const {
    const int32_t out_c = p->out_c;
    const int16x8_t offset = vdupq_n_s16((int16_t)p->output_offset);
    const int8x8_t lo = vdup_n_s8((int8_t)p->act_min), hi = vdup_n_s8((int8_t)p->act_max);
    const int8_t *w = p->filter;
    const int32_t *rq = p->rq;
    for (int32_t oc = 0; oc < out_c; oc += 4, rq += 4 * EP_NEON_RQ_FIELDS) {
      if (OVERLAP && oc > out_c - 4 && out_c >= 4) oc = out_c - 4;  // the last tile overlaps the one before
      // 56 instructions per 256 MACs, hand-scheduled: with intrinsics the compiler hoists the products ahead of
      // their accumulations, runs out of vector registers and spills accumulators inside the loop. Leaves the
      // four pixels' sums (lane = output channel) in sums[pixel], in registers (v28-v31: the only ones not clobbered).
      int32x4_t sums[4];
      {
        intptr_t count = steps.count - 1, k;
        const int32_t *offsets = steps.offsets + 1;
        __asm__ volatile(
            // step 0 (offset 0)
            "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"
            "ldr q24, [%[r0]]\n\t"
            "ldr q25, [%[r1]]\n\t"
            "ldr q26, [%[r2]]\n\t"
            "ldr q27, [%[r3]]\n\t"
            EP_DOT16_PIXEL_FIRST("v0", "v1", "v2", "v3", "v24")
            EP_DOT16_PIXEL_FIRST("v4", "v5", "v6", "v7", "v25")
            EP_DOT16_PIXEL_FIRST("v8", "v9", "v10", "v11", "v26")
            EP_DOT16_PIXEL_FIRST("v12", "v13", "v14", "v15", "v27")
            "cbz %[count], 3f\n\t"
            "1:\n\t"
            "ldrsw %[k], [%[offsets]], #4\n\t"
            "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"
            "ldr q24, [%[r0], %[k]]\n\t"
            "ldr q25, [%[r1], %[k]]\n\t"
            "ldr q26, [%[r2], %[k]]\n\t"
            "ldr q27, [%[r3], %[k]]\n\t"
            EP_DOT16_PIXEL("v0", "v1", "v2", "v3", "v24")
            EP_DOT16_PIXEL("v4", "v5", "v6", "v7", "v25")
            EP_DOT16_PIXEL("v8", "v9", "v10", "v11", "v26")
            EP_DOT16_PIXEL("v12", "v13", "v14", "v15", "v27")
            "subs %[count], %[count], #1\n\t"
            "b.ne 1b\n\t"
            "3:\n\t"
            "addp v0.4s, v0.4s, v1.4s\n\t" "addp v2.4s, v2.4s, v3.4s\n\t" "addp %[s0].4s, v0.4s, v2.4s\n\t"
            "addp v4.4s, v4.4s, v5.4s\n\t" "addp v6.4s, v6.4s, v7.4s\n\t" "addp %[s1].4s, v4.4s, v6.4s\n\t"
            "addp v8.4s, v8.4s, v9.4s\n\t" "addp v10.4s, v10.4s, v11.4s\n\t" "addp %[s2].4s, v8.4s, v10.4s\n\t"
            "addp v12.4s, v12.4s, v13.4s\n\t" "addp v14.4s, v14.4s, v15.4s\n\t" "addp %[s3].4s, v12.4s, v14.4s\n\t"
            : [w] "+r"(w), [count] "+r"(count), [k] "=&r"(k), [offsets] "+r"(offsets), [s0] "=w"(sums[0]),
              [s1] "=w"(sums[1]), [s2] "=w"(sums[2]), [s3] "=w"(sums[3])
            : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [r3] "r"(r3)
            : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13",
              "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27");
      }
      const int32x4_t bias = vld1q_s32(rq), m = vld1q_s32(rq + 4), l = vld1q_s32(rq + 8), r = vld1q_s32(rq + 12);
      const int32x4_t v0 = vaddq_s32(bias, sums[0]), v1 = vaddq_s32(bias, sums[1]);
      const int32x4_t v2 = vaddq_s32(bias, sums[2]), v3 = vaddq_s32(bias, sums[3]);
      const int8x8_t y01 = ep::neon::narrow(rescale(v0, m, l, r), rescale(v1, m, l, r), offset, lo, hi);
      const int8x8_t y23 = ep::neon::narrow(rescale(v2, m, l, r), rescale(v3, m, l, r), offset, lo, hi);
      const int32_t left = out_c - oc;
      int8_t *dst = out + oc;
      if (FULL) {  // every tile is 4 pixels by 4 channels: no checks per store
        const int32x2_t u01 = vreinterpret_s32_s8(y01), u23 = vreinterpret_s32_s8(y23);
        vst1_lane_s32((int32_t *)(void *)dst, u01, 0);
        vst1_lane_s32((int32_t *)(void *)(dst + out_c), u01, 1);
        vst1_lane_s32((int32_t *)(void *)(dst + 2 * out_c), u23, 0);
        vst1_lane_s32((int32_t *)(void *)(dst + 3 * out_c), u23, 1);
      } else if (left >= 4) {
        const int32x2_t u01 = vreinterpret_s32_s8(y01), u23 = vreinterpret_s32_s8(y23);
        vst1_lane_s32((int32_t *)(void *)dst, u01, 0);
        if (n > 1) vst1_lane_s32((int32_t *)(void *)(dst + out_c), u01, 1);
        if (n > 2) vst1_lane_s32((int32_t *)(void *)(dst + 2 * out_c), u23, 0);
        if (n > 3) vst1_lane_s32((int32_t *)(void *)(dst + 3 * out_c), u23, 1);
      } else {
        int8_t tmp[16];
        vst1_s8(tmp, y01);
        vst1_s8(tmp + 8, y23);
        for (int32_t i = 0; i < n; ++i)
          for (int32_t o = 0; o < left; ++o) dst[(size_t)i * out_c + o] = tmp[4 * i + o];
      }
    }
  }

  static inline int32x4_t rescale(int32x4_t v, int32x4_t m, int32x4_t l, int32x4_t r) {
    if (F & EP_LEFT) v = vshlq_s32(v, l);
    return ep::neon::round_shift<(F & EP_ALL_RIGHT) != 0>(vqrdmulhq_s32(v, m), r);
  }

  void operator()(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n, const ep::neon::Steps &steps,
                  int8_t *out, bool /*packed*/) const {
    if (n == EP_NEON_GEMM_PIXELS && p->out_c % 4 == 0) {
      quad<true, false>(rows[0], rows[1], rows[2], rows[3], 4, steps, out);
      quad<true, false>(rows[4], rows[5], rows[6], rows[7], 4, steps, out + (size_t)4 * p->out_c);
      return;
    }
    if (n == EP_NEON_GEMM_PIXELS && p->out_c > 4) {
      quad<true, true>(rows[0], rows[1], rows[2], rows[3], 4, steps, out);
      quad<true, true>(rows[4], rows[5], rows[6], rows[7], 4, steps, out + (size_t)4 * p->out_c);
      return;
    }
    quad<false, true>(rows[0], rows[1], rows[2], rows[3], n < 4 ? n : 4, steps, out);
    if (n > 4) quad<false, true>(rows[4], rows[5], rows[6], rows[7], n - 4, steps, out + (size_t)4 * p->out_c);
  }
};

}  // namespace
#endif

extern "C" ep_status ep_conv2d_s8_neon(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch,
                                       int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON)
  switch ((p->left_shifts ? EP_LEFT : 0) | (p->all_right ? EP_ALL_RIGHT : 0)) {
    case EP_LEFT:
      return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<EP_LEFT>{p});
    case EP_ALL_RIGHT:
      return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<EP_ALL_RIGHT>{p});
    case EP_LEFT | EP_ALL_RIGHT:
      return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<EP_LEFT | EP_ALL_RIGHT>{p});
    default:
      return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<0>{p});
  }
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
