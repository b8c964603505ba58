// DEPTHWISE_CONV_2D, int8, depth_multiplier 1, in_c % 4 == 0, Armv7E-M DSP: four channels per step; each
// input word is unpacked with SXTAB16 (offset added) and multiplied with SMLABB/SMLATT by pre-unpacked
// int16 weights. Any filter size, stride, dilation and padding (out-of-range taps are skipped, as in the
// reference).
#include "edgeprune/kernels/conv_dsp.h"

extern "C" EP_DSP_HOT ep_status ep_depthwise_conv2d_s8_dsp(const ep_depthwise_conv2d_s8_dsp_params *p,
                                                           const int8_t *input, const int16_t *filter,
                                                           void *scratch, int8_t *output) {
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 ||
      p->depth_multiplier != 1 || p->out_c != p->in_c || p->in_c % 4 != 0)
    return EP_ERROR_ARGUMENT;
  const int32_t c_all = p->in_c;
  int32_t *acc = (int32_t *)scratch;
  const ep::dsp::RequantRun rq(p->requant, p->all_right, p->output_offset, p->act_min, p->act_max);
  const uint32_t *w = (const uint32_t *)(const void *)filter;
  const size_t in_image = (size_t)p->in_h * p->in_w * c_all;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    for (int32_t oy = 0; oy < p->out_h; ++oy)
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        ep::dsp::depthwise_pixel(p, in_b, w, oy, ox, acc);
        rq(acc, 0, c_all, output);
        output += c_all;
      }
  }
  return EP_OK;
}
