// FULLY_CONNECTED, int8 (TFLite reference FullyConnected / FullyConnectedPerChannel). The reference
// rescales the int32 accumulator in double: round(acc * in_scale * filter_scale / out_scale).
#include <math.h>
#if defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv.h"

namespace {

// The reference's output stage: bias, then round(acc * in_scale * filter_scale / out_scale) in double.
inline int8_t rescale(const ep_fully_connected_s8_params *p, int32_t acc, const int32_t *bias, int32_t u,
                      double in_scale, double out_scale) {
  if (bias) acc = (int32_t)((uint32_t)acc + (uint32_t)bias[u]);
  const double effective = in_scale * (double)p->filter_scales[u] / out_scale;
  double scaled = round((double)acc * effective);
  // Keep the conversion defined; anything this large saturates at the clamp below anyway.
  if (scaled > 2147483000.0) scaled = 2147483000.0;
  if (scaled < -2147483000.0) scaled = -2147483000.0;
  return (int8_t)ep::clamp_i32((int32_t)scaled + p->output_offset, p->act_min, p->act_max);
}

}  // namespace

extern "C" ep_status ep_fully_connected_s8(const ep_fully_connected_s8_params *p, const int8_t *input,
                                           const int8_t *weights, const int32_t *bias, int8_t *output) {
  if (p->batches < 0 || p->depth < 0 || p->units < 0 || !(p->output_scale > 0.0f)) return EP_ERROR_ARGUMENT;
  const int32_t depth = p->depth, units = p->units;
  const int32_t input_offset = p->input_offset, weights_offset = p->weights_offset;
  const double in_scale = (double)p->input_scale, out_scale = (double)p->output_scale;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *x = input + (size_t)b * depth;
    int32_t u = 0;
#if defined(__aarch64__) && defined(__ARM_NEON)
    // Four units at a time over 16-element steps: sum(w + wo)(x + io) = sum w x + io sum w + wo sum x + n io wo
    // (int32, wrapping as the reference's accumulator), with sum w x by SDOT (rpi5) or SMULL + SADALP (no int16
    // pair sums: any weight, -128 included), sum w alongside and sum x once; the tail elements directly.
    const int32_t depth16 = depth & ~15;
    uint32_t sum_x = 0;  // only asymmetric weights (wo != 0) need it
    if (weights_offset != 0 && units >= 4)
      for (int32_t d = 0; d < depth16; ++d) sum_x += (uint32_t)(int32_t)x[d];
    const uint32_t fixed = (uint32_t)weights_offset * (sum_x + (uint32_t)depth16 * (uint32_t)input_offset);
    if (depth16 > 0) {
      for (; u + 4 <= units; u += 4) {
        const int8_t *w0 = weights + (size_t)u * depth, *w1 = w0 + depth, *w2 = w1 + depth, *w3 = w2 + depth;
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, s0 = a0, s1 = a0, s2 = a0, s3 = a0;
#if defined(__ARM_FEATURE_DOTPROD)
        const int8x16_t ones = vdupq_n_s8(1);
#define EP_FC_STEP(a, s, wr)                  \
  {                                           \
    const int8x16_t wv = vld1q_s8(wr + d);    \
    a = vdotq_s32(a, wv, xv);                 \
    s = vdotq_s32(s, wv, ones);               \
  }
#else
#define EP_FC_STEP(a, s, wr)                                        \
  {                                                                 \
    const int8x16_t wv = vld1q_s8(wr + d);                          \
    a = vpadalq_s16(a, vmull_s8(vget_low_s8(wv), vget_low_s8(xv))); \
    a = vpadalq_s16(a, vmull_high_s8(wv, xv));                      \
    s = vpadalq_s16(s, vpaddlq_s8(wv));                             \
  }
#endif
        for (int32_t d = 0; d < depth16; d += 16) {
          const int8x16_t xv = vld1q_s8(x + d);
          EP_FC_STEP(a0, s0, w0)
          EP_FC_STEP(a1, s1, w1)
          EP_FC_STEP(a2, s2, w2)
          EP_FC_STEP(a3, s3, w3)
        }
#undef EP_FC_STEP
        const int32x4_t dots = vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
        const int32x4_t sums = vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
        int32_t dot[4], sw[4];
        vst1q_s32(dot, dots);
        vst1q_s32(sw, sums);
        const int8_t *rows[4] = {w0, w1, w2, w3};
        for (int32_t r = 0; r < 4; ++r) {
          uint32_t acc = (uint32_t)dot[r] + (uint32_t)input_offset * (uint32_t)sw[r] + fixed;
          for (int32_t d = depth16; d < depth; ++d)
            acc += (uint32_t)(((int32_t)rows[r][d] + weights_offset) * ((int32_t)x[d] + input_offset));
          *output++ = rescale(p, (int32_t)acc, bias, u + r, in_scale, out_scale);
        }
      }
    }
#endif
    for (; u < units; ++u) {
      const int8_t *w = weights + (size_t)u * depth;
      int32_t acc = 0, d = 0;
#if defined(__aarch64__) && defined(__ARM_NEON)
      {  // 8 products per step in int32 lanes: the offset operands fit int16 ([-255, 255] for int8 offsets)
        const int16x8_t io = vdupq_n_s16((int16_t)input_offset), wo = vdupq_n_s16((int16_t)weights_offset);
        int32x4_t a0 = vdupq_n_s32(0), a1 = vdupq_n_s32(0);
        for (; d + 8 <= depth; d += 8) {
          const int16x8_t xv = vaddw_s8(io, vld1_s8(x + d)), wv = vaddw_s8(wo, vld1_s8(w + d));
          a0 = vmlal_s16(a0, vget_low_s16(xv), vget_low_s16(wv));
          a1 = vmlal_high_s16(a1, xv, wv);
        }
        acc = vaddvq_s32(vaddq_s32(a0, a1));
      }
#elif defined(__ARM_NEON)
      {  // AArch32 (rpi4-armv7): the same 8 products per step, int32 lanes summed at the end (wrapping as above)
        const int16x8_t io = vdupq_n_s16((int16_t)input_offset), wo = vdupq_n_s16((int16_t)weights_offset);
        int32x4_t a0 = vdupq_n_s32(0), a1 = vdupq_n_s32(0);
        for (; d + 8 <= depth; d += 8) {
          const int16x8_t xv = vaddw_s8(io, vld1_s8(x + d)), wv = vaddw_s8(wo, vld1_s8(w + d));
          a0 = vmlal_s16(a0, vget_low_s16(xv), vget_low_s16(wv));
          a1 = vmlal_s16(a1, vget_high_s16(xv), vget_high_s16(wv));
        }
        const int32x4_t s4 = vaddq_s32(a0, a1);
        const int32x2_t s2 = vpadd_s32(vget_low_s32(s4), vget_high_s32(s4));
        acc = vget_lane_s32(vpadd_s32(s2, s2), 0);
      }
#endif
      for (; d < depth; ++d) acc += ((int32_t)w[d] + weights_offset) * ((int32_t)x[d] + input_offset);
      *output++ = rescale(p, acc, bias, u, in_scale, out_scale);
    }
  }
  return EP_OK;
}
