// CONV_2D, float32 (TFLite reference Conv: taps summed in (fy, fx, ic) order from 0.0f, then + bias).
#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv.h"

extern "C" ep_status ep_conv2d_f32(const ep_conv2d_f32_params *p, const float *input, const float *filter,
                                   const float *bias, float *output) {
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || p->in_c <= 0)
    return EP_ERROR_ARGUMENT;
  const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
  const int32_t fh = p->filter_h, fw = p->filter_w, out_c = p->out_c;
  const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
  const float act_min = p->act_min, act_max = p->act_max;
  const int32_t filter_row = fw * in_c;
  const int32_t filter_size = fh * filter_row;
  const int32_t in_row = in_w * in_c;
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
        for (int32_t oc = 0; oc < out_c; ++oc) {
          const float *f_oc = filter + (size_t)oc * filter_size;
          float total = 0.0f;
          for (int32_t fy = fy_begin; fy < fy_end; ++fy) {
            const float *in_rowp = in_b + (size_t)(iy0 + dil_h * fy) * in_row;
            const float *f_row = f_oc + fy * filter_row;
            for (int32_t fx = fx_begin; fx < fx_end; ++fx) {
              const float *x = in_rowp + (ix0 + dil_w * fx) * in_c;
              const float *f = f_row + fx * in_c;
              for (int32_t ic = 0; ic < in_c; ++ic) total += x[ic] * f[ic];
            }
          }
          const float bias_value = bias ? bias[oc] : 0.0f;
          *output++ = ep::clamp_f32(total + bias_value, act_min, act_max);
        }
      }
    }
  }
  return EP_OK;
}
