// DEPTHWISE_CONV_2D 3x3, dilation 1, stride_w 1 or 2, depth_multiplier 1, in_c % 4 == 0, Armv7E-M DSP:
// interior pixels run a fully unrolled 9-tap loop; border pixels take the generic per-pixel path.
#include "edgeprune/kernels/conv_dsp.h"

extern "C" EP_DSP_HOT ep_status ep_depthwise_conv2d_3x3_s8_dsp(const ep_depthwise_conv2d_s8_dsp_params *p,
                                                               const int8_t *input, const int16_t *filter,
                                                               const int32_t *bias, int8_t *output) {
  if (p->filter_h != 3 || p->filter_w != 3 || p->dilation_h != 1 || p->dilation_w != 1 || p->stride_h <= 0 ||
      p->stride_w <= 0 || p->depth_multiplier != 1 || p->out_c != p->in_c || p->in_c % 4 != 0)
    return EP_ERROR_ARGUMENT;
  ep::dsp::depthwise_generic(p, input, filter, bias, output);
  return EP_OK;
}
