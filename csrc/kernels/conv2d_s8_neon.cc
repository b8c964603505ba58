// CONV_2D on any Armv8-A NEON core (Cortex-A72, Raspberry Pi 4): a GEMM tile of 4 output pixels by 4 output
// channels; per 16 k, SMULL + SMLAL2 sum two int8 products in int16 lanes (no weight is -128, so
// |sum| <= 2 * 128 * 127 < 2^15) and SADALP folds them into int32. Bit-exact with ep_conv2d_s8.
#include "edgeprune/detail/neon_gemm.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
namespace {

static inline int32x4_t dot16(int32x4_t acc, int8x16_t x, int8x16_t w) {
  int16x8_t t = vmull_s8(vget_low_s8(x), vget_low_s8(w));
  t = vmlal_high_s8(t, x, w);
  return vpadalq_s16(acc, t);
}

struct SmlalTile {
  const ep_conv2d_s8_neon_params *p;

  // Output channels [0, out_c) of 4 pixels.
  void quad(const int8_t *r0, const int8_t *r1, const int8_t *r2, const int8_t *r3, int32_t n, int8_t *out) const {
    const int32_t out_c = p->out_c, steps = p->k_padded / 16;
    const int16x8_t offset = vdupq_n_s16((int16_t)p->output_offset);
    const int8x8_t lo = vdup_n_s8((int8_t)p->act_min), hi = vdup_n_s8((int8_t)p->act_max);
    const int8_t *w = p->filter;
    const int32_t *rq = p->rq;
    for (int32_t oc = 0; oc < out_c; oc += 4, rq += 4 * EP_NEON_RQ_FIELDS) {
      int32x4_t a00 = vdupq_n_s32(0), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
      int32x4_t a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
      for (int32_t s = 0, k = 0; s < steps; ++s, k += 16, w += 64) {
        const int8x16x4_t f = vld1q_s8_x4(w);
        const int8x16_t x0 = vld1q_s8(r0 + k), x1 = vld1q_s8(r1 + k);
        a00 = dot16(a00, x0, f.val[0]);
        a01 = dot16(a01, x0, f.val[1]);
        a02 = dot16(a02, x0, f.val[2]);
        a03 = dot16(a03, x0, f.val[3]);
        a10 = dot16(a10, x1, f.val[0]);
        a11 = dot16(a11, x1, f.val[1]);
        a12 = dot16(a12, x1, f.val[2]);
        a13 = dot16(a13, x1, f.val[3]);
        const int8x16_t x2 = vld1q_s8(r2 + k), x3 = vld1q_s8(r3 + k);
        a20 = dot16(a20, x2, f.val[0]);
        a21 = dot16(a21, x2, f.val[1]);
        a22 = dot16(a22, x2, f.val[2]);
        a23 = dot16(a23, x2, f.val[3]);
        a30 = dot16(a30, x3, f.val[0]);
        a31 = dot16(a31, x3, f.val[1]);
        a32 = dot16(a32, x3, f.val[2]);
        a33 = dot16(a33, x3, f.val[3]);
      }
      const int32x4_t bias = vld1q_s32(rq), m = vld1q_s32(rq + 4), l = vld1q_s32(rq + 8), r = vld1q_s32(rq + 12);
      // Horizontal sums: lane o of pixel i's vector = sum of a_io.
      const int32x4_t v0 = vaddq_s32(bias, vpaddq_s32(vpaddq_s32(a00, a01), vpaddq_s32(a02, a03)));
      const int32x4_t v1 = vaddq_s32(bias, vpaddq_s32(vpaddq_s32(a10, a11), vpaddq_s32(a12, a13)));
      const int32x4_t v2 = vaddq_s32(bias, vpaddq_s32(vpaddq_s32(a20, a21), vpaddq_s32(a22, a23)));
      const int32x4_t v3 = vaddq_s32(bias, vpaddq_s32(vpaddq_s32(a30, a31), vpaddq_s32(a32, a33)));
      using ep::neon::narrow;
      using ep::neon::requantize;
      const int8x8_t y01 = narrow(requantize(v0, m, l, r), requantize(v1, m, l, r), offset, lo, hi);
      const int8x8_t y23 = narrow(requantize(v2, m, l, r), requantize(v3, m, l, r), offset, lo, hi);
      const int32_t left = out_c - oc;
      int8_t *dst = out + oc;
      if (left >= 4) {
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

  void operator()(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n, int8_t *out) const {
    quad(rows[0], rows[1], rows[2], rows[3], n < 4 ? n : 4, out);
    if (n > 4) quad(rows[4], rows[5], rows[6], rows[7], n - 4, out + (size_t)4 * p->out_c);
  }
};

}  // namespace
#endif

extern "C" ep_status ep_conv2d_s8_neon(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch,
                                       int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON)
  return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile{p});
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
