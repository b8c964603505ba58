// DEPTHWISE_CONV_2D, int8, depth_multiplier 1, in_c % 4 == 0, Armv7E-M DSP: four channels per step; each
// input word is unpacked with SXTAB16 (offset added) and multiplied with SMLABB/SMLATT by pre-unpacked
// int16 weights. Any stride, dilation and padding (out-of-range taps are skipped, as in the reference).
#include "edgeprune/kernels/conv_dsp.h"

extern "C" EP_DSP_HOT ep_status ep_depthwise_conv2d_s8_dsp(const ep_depthwise_conv2d_s8_dsp_params *p,
                                                           const int8_t *input, const int16_t *filter,
                                                           const int32_t *bias, int8_t *output) {
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 ||
      p->depth_multiplier != 1 || p->out_c != p->in_c || p->in_c % 4 != 0)
    return EP_ERROR_ARGUMENT;
  ep::dsp::depthwise_generic(p, input, filter, bias, output);
  return EP_OK;
}
