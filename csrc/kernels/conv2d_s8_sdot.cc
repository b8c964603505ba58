// CONV_2D on Armv8.2-A with the dot-product extension (Cortex-A76, Raspberry Pi 5): a GEMM tile of 8 output
// pixels by 8 output channels, SDOT by element (16 MACs per instruction). Bit-exact with ep_conv2d_s8.
#include "edgeprune/detail/neon_gemm.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
namespace {

struct SdotTile {
  const ep_conv2d_s8_neon_params *p;

  void operator()(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n, const ep::neon::Segments &seg,
                  int8_t *out) const {
    const int32_t out_c = p->out_c;
    const int16x8_t offset = vdupq_n_s16((int16_t)p->output_offset);
    const int8x8_t lo = vdup_n_s8((int8_t)p->act_min), hi = vdup_n_s8((int8_t)p->act_max);
    const int8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    const int8_t *r4 = rows[4], *r5 = rows[5], *r6 = rows[6], *r7 = rows[7];
    const int8_t *w = p->filter;
    const int32_t *rq = p->rq;
    for (int32_t oc = 0; oc < out_c; oc += 8, rq += 8 * EP_NEON_RQ_FIELDS) {
      const int32x4_t b0 = vld1q_s32(rq), b1 = vld1q_s32(rq + 4);
      int32x4_t a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      int32x4_t a40 = b0, a41 = b1, a50 = b0, a51 = b1, a60 = b0, a61 = b1, a70 = b0, a71 = b1;
      for (int32_t si = 0, base = 0; si < seg.count; ++si, base += seg.stride)
      for (int32_t k = base, end = base + seg.bytes; k < end; k += 16, w += 128) {
        // w0..w7: k-group g = i / 2 of output channels 4 * (i % 2) + [0, 4)
        const int8x16x4_t wa = vld1q_s8_x4(w), wb = vld1q_s8_x4(w + 64);
#define EP_SDOT_PIXEL(r, a0, a1)                         \
  {                                                      \
    const int8x16_t x = vld1q_s8(r + k);                 \
    a0 = vdotq_laneq_s32(a0, wa.val[0], x, 0);           \
    a1 = vdotq_laneq_s32(a1, wa.val[1], x, 0);           \
    a0 = vdotq_laneq_s32(a0, wa.val[2], x, 1);           \
    a1 = vdotq_laneq_s32(a1, wa.val[3], x, 1);           \
    a0 = vdotq_laneq_s32(a0, wb.val[0], x, 2);           \
    a1 = vdotq_laneq_s32(a1, wb.val[1], x, 2);           \
    a0 = vdotq_laneq_s32(a0, wb.val[2], x, 3);           \
    a1 = vdotq_laneq_s32(a1, wb.val[3], x, 3);           \
  }
        EP_SDOT_PIXEL(r0, a00, a01)
        EP_SDOT_PIXEL(r1, a10, a11)
        EP_SDOT_PIXEL(r2, a20, a21)
        EP_SDOT_PIXEL(r3, a30, a31)
        EP_SDOT_PIXEL(r4, a40, a41)
        EP_SDOT_PIXEL(r5, a50, a51)
        EP_SDOT_PIXEL(r6, a60, a61)
        EP_SDOT_PIXEL(r7, a70, a71)
#undef EP_SDOT_PIXEL
      }
      const int32x4_t m0 = vld1q_s32(rq + 8), m1 = vld1q_s32(rq + 12);
      const int32x4_t l0 = vld1q_s32(rq + 16), l1 = vld1q_s32(rq + 20);
      const int32x4_t s0 = vld1q_s32(rq + 24), s1 = vld1q_s32(rq + 28);
      const int32_t left = out_c - oc;
      const int32x4_t acc[EP_NEON_GEMM_PIXELS][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31},
                                                     {a40, a41}, {a50, a51}, {a60, a61}, {a70, a71}};
      for (int32_t i = 0; i < n; ++i) {
        const int8x8_t v = ep::neon::narrow(ep::neon::requantize(acc[i][0], m0, l0, s0),
                                            ep::neon::requantize(acc[i][1], m1, l1, s1), offset, lo, hi);
        int8_t *dst = out + (size_t)i * out_c + oc;
        if (left >= 8) {
          vst1_s8(dst, v);
        } else {
          ep::neon::store_partial(dst, v, left);
        }
      }
    }
  }
};

}  // namespace
#endif

extern "C" ep_status ep_conv2d_s8_sdot(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch,
                                       int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
  return ep::neon::conv_gemm(p, input, scratch, output, SdotTile{p});
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
