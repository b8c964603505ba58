// FULLY_CONNECTED, int8 (TFLite reference FullyConnected / FullyConnectedPerChannel). The reference
// rescales the int32 accumulator in double: round(acc * in_scale * filter_scale / out_scale).
#include <math.h>
#if defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv.h"

extern "C" ep_status ep_fully_connected_s8(const ep_fully_connected_s8_params *p, const int8_t *input,
                                           const int8_t *weights, const int32_t *bias, int8_t *output) {
  if (p->batches < 0 || p->depth < 0 || p->units < 0 || !(p->output_scale > 0.0f)) return EP_ERROR_ARGUMENT;
  const int32_t depth = p->depth, units = p->units;
  const int32_t input_offset = p->input_offset, weights_offset = p->weights_offset;
  const int32_t output_offset = p->output_offset;
  const int32_t act_min = p->act_min, act_max = p->act_max;
  const double in_scale = (double)p->input_scale, out_scale = (double)p->output_scale;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *x = input + (size_t)b * depth;
    for (int32_t u = 0; u < units; ++u) {
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
      if (bias) acc += bias[u];
      const double effective = in_scale * (double)p->filter_scales[u] / out_scale;
      double scaled = round((double)acc * effective);
      // Keep the conversion defined; anything this large saturates at the clamp below anyway.
      if (scaled > 2147483000.0) scaled = 2147483000.0;
      if (scaled < -2147483000.0) scaled = -2147483000.0;
      const int32_t v = (int32_t)scaled + output_offset;
      *output++ = (int8_t)ep::clamp_i32(v, act_min, act_max);
    }
  }
  return EP_OK;
}
