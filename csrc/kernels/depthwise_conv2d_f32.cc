// DEPTHWISE_CONV_2D, float32 (TFLite reference: taps summed in (fy, fx) order from 0.0f, then + bias).
#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv.h"

extern "C" ep_status ep_depthwise_conv2d_f32(const ep_depthwise_conv2d_f32_params *p, const float *input,
                                             const float *filter, const float *bias, float *output) {
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 ||
      p->depth_multiplier <= 0 || p->out_c != p->in_c * p->depth_multiplier)
    return EP_ERROR_ARGUMENT;
  const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
  const int32_t fh = p->filter_h, fw = p->filter_w, out_c = p->out_c, dm = p->depth_multiplier;
  const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
  const float act_min = p->act_min, act_max = p->act_max;
  const int32_t in_row = in_w * in_c;
  const int32_t f_row = fw * out_c;
  for (int32_t b = 0; b < p->batches; ++b) {
    const float *in_b = input + (size_t)b * in_h * in_row;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      int32_t fy_begin, fy_end;
      ep::conv::valid_taps(iy0, dil_h, fh, in_h, &fy_begin, &fy_end);
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        int32_t fx_begin, fx_end;
        ep::conv::valid_taps(ix0, dil_w, fw, in_w, &fx_begin, &fx_end);
        for (int32_t ic = 0; ic < in_c; ++ic) {
          for (int32_t m = 0; m < dm; ++m) {
            const int32_t oc = ic * dm + m;
            float total = 0.0f;
            for (int32_t fy = fy_begin; fy < fy_end; ++fy) {
              const float *x = in_b + (size_t)(iy0 + dil_h * fy) * in_row + ic;
              const float *f = filter + fy * f_row + oc;
              for (int32_t fx = fx_begin; fx < fx_end; ++fx) total += x[(ix0 + dil_w * fx) * in_c] * f[fx * out_c];
            }
            const float bias_value = bias ? bias[oc] : 0.0f;
            *output++ = ep::clamp_f32(total + bias_value, act_min, act_max);
          }
        }
      }
    }
  }
  return EP_OK;
}
