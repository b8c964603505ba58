// CONV_2D 1x1 (no padding, in_c % 4 == 0, in_c <= 256), int8, block-sparse weights, Helium: per channel pair
// VLDRW gathers of the stored blocks' input words and VMLADAVA against their weights, two pixels per step
// (edgeprune/kernels/sparse_mve.h).
#include "edgeprune/kernels/sparse_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
namespace {

const int8_t *pixel_input(const ep_conv2d_s8_mve_params *p, const int8_t *input, int32_t px) {
  const int32_t hw = p->out_h * p->out_w;
  const int32_t b = px / hw, r = px - b * hw, oy = r / p->out_w, ox = r - oy * p->out_w;
  return input + (((size_t)b * p->in_h + (size_t)oy * p->stride_h) * p->in_w + (size_t)ox * p->stride_w) * p->in_c;
}

// Accumulates one pair's chunks for two pixels into s[pixel][channel of the pair].
inline void pair_dot(const uint8_t *&ix, const int8_t *&w, const int8_t *a0, const int8_t *a1, int32_t s[2][2]) {
  const int32_t chunks = *ix++;
  const int32_t *b0 = (const int32_t *)(const void *)a0, *b1 = (const int32_t *)(const void *)a1;
  for (int32_t c = 0; c < chunks; ++c, ix += 4, w += 32) {
    const uint32x4_t off = vldrbq_u32(ix);
    const int8x16_t x0 = vreinterpretq_s8_s32(vldrwq_gather_offset_s32(b0, off));
    const int8x16_t x1 = vreinterpretq_s8_s32(vldrwq_gather_offset_s32(b1, off));
    const int8x16_t f0 = vldrbq_s8(w), f1 = vldrbq_s8(w + 16);
    s[0][0] = vmladavaq_s8(s[0][0], x0, f0);
    s[1][0] = vmladavaq_s8(s[1][0], x1, f0);
    s[0][1] = vmladavaq_s8(s[0][1], x0, f1);
    s[1][1] = vmladavaq_s8(s[1][1], x1, f1);
  }
}

}  // namespace
#endif

extern "C" ep_status ep_conv2d_1x1_s8_sparse_mve(const ep_conv2d_s8_mve_params *p, const int8_t *input,
                                                 const uint8_t *blocks, int8_t *output) {
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
  if (p->filter_h != 1 || p->filter_w != 1 || p->pad_h != 0 || p->pad_w != 0 || p->stride_h <= 0 ||
      p->stride_w <= 0 || p->in_c <= 0 || p->in_c % 4 != 0 || p->in_c > 256 || p->out_c <= 0 ||
      ((uintptr_t)input & 3u) != 0)
    return EP_ERROR_ARGUMENT;
  const int32_t out_c = p->out_c, pairs = (out_c + 1) / 2;
  const int32_t pixels = p->batches * p->out_h * p->out_w;
  const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
  for (int32_t px = 0; px < pixels; px += 2) {
    const bool two = px + 1 < pixels;
    const int8_t *a0 = pixel_input(p, input, px), *a1 = two ? pixel_input(p, input, px + 1) : a0;
    int8_t *out0 = output + (size_t)px * out_c, *out1 = out0 + out_c;
    const uint8_t *ix = blocks;
    const int8_t *w = p->filter;
    const int32_t *rq = p->rq;
    for (int32_t pr = 0; pr < pairs; pr += 2, rq += 4 * EP_MVE_RQ_FIELDS) {
      int32_t s0[2][2] = {{rq[0], rq[1]}, {rq[0], rq[1]}}, s1[2][2] = {{rq[2], rq[3]}, {rq[2], rq[3]}};
      pair_dot(ix, w, a0, a1, s0);
      if (pr + 1 < pairs) pair_dot(ix, w, a0, a1, s1);
      const int32_t oc = 2 * pr, left = out_c - oc;
      const mve_pred16_t keep = vctp32q((uint32_t)(left < 4 ? left : 4));
      const int32x4_t y0 = ep::mve::requantize_rq(ep::mve::make_vector(s0[0][0], s0[0][1], s1[0][0], s1[0][1]), rq,
                                                  p->output_offset, lo, hi);
      vstrbq_p_s32(out0 + oc, y0, keep);
      if (two) {
        const int32x4_t y1 = ep::mve::requantize_rq(ep::mve::make_vector(s0[1][0], s0[1][1], s1[1][0], s1[1][1]),
                                                    rq, p->output_offset, lo, hi);
        vstrbq_p_s32(out1 + oc, y1, keep);
      }
    }
  }
  return EP_OK;
#else
  (void)p;
  (void)input;
  (void)blocks;
  (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
