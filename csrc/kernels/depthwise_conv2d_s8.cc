// DEPTHWISE_CONV_2D, int8 (TFLite reference DepthwiseConvPerChannel).
#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv.h"

extern "C" ep_status ep_depthwise_conv2d_s8(const ep_depthwise_conv2d_s8_params *p, const int8_t *input,
                                            const int8_t *filter, const int32_t *bias, int8_t *output) {
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 ||
      p->depth_multiplier <= 0 || p->out_c != p->in_c * p->depth_multiplier)
    return EP_ERROR_ARGUMENT;
  const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
  const int32_t fh = p->filter_h, fw = p->filter_w, out_c = p->out_c, dm = p->depth_multiplier;
  const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
  const int32_t input_offset = p->input_offset, output_offset = p->output_offset;
  const int32_t act_min = p->act_min, act_max = p->act_max;
  const int32_t in_row = in_w * in_c;
  const int32_t f_row = fw * out_c;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_h * in_row;
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
            int32_t acc = 0;
            for (int32_t fy = fy_begin; fy < fy_end; ++fy) {
              const int8_t *x = in_b + (size_t)(iy0 + dil_h * fy) * in_row + ic;
              const int8_t *f = filter + fy * f_row + oc;
              for (int32_t fx = fx_begin; fx < fx_end; ++fx)
                acc += (int32_t)f[fx * out_c] * ((int32_t)x[(ix0 + dil_w * fx) * in_c] + input_offset);
            }
            if (bias) acc += bias[oc];
            acc = ep::multiply_by_quantized_multiplier(acc, p->out_multiplier[oc], p->out_shift[oc]);
            acc += output_offset;
            *output++ = (int8_t)ep::clamp_i32(acc, act_min, act_max);
          }
        }
      }
    }
  }
  return EP_OK;
}
