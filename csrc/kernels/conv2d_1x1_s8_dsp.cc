// CONV_2D 1x1 (any stride, no padding, in_c % 4 == 0), int8, Armv7E-M DSP: each output pixel's input
// vector is widened to int16 (offset added) and fed to the 2-channel x 2-pixel SMLAD GEMM.
#include "edgeprune/kernels/conv_dsp.h"

extern "C" EP_DSP_HOT ep_status ep_conv2d_1x1_s8_dsp(const ep_conv2d_s8_dsp_params *p, const int8_t *input,
                                                     const int16_t *filter, void *scratch,
                                                     int8_t *output) {
  const int32_t in_c = p->in_c;
  if (p->filter_h != 1 || p->filter_w != 1 || p->pad_h != 0 || p->pad_w != 0 || p->stride_h <= 0 ||
      p->stride_w <= 0 || in_c <= 0 || in_c % 4 != 0 || p->k_padded != ((in_c + 7) & ~7))
    return EP_ERROR_ARGUMENT;
  const int32_t out_w = p->out_w, pixels = p->out_h * out_w;
  const int32_t sh = p->stride_h, sw = p->stride_w, in_w = p->in_w, k_padded = p->k_padded;
  const uint32_t off2 = ep::dsp::dup16(p->input_offset);
  const ep::dsp::ConvScratch s = ep::dsp::conv_scratch(scratch, p->out_c, p->k_padded);
  const ep::dsp::RequantRun rq(p->requant, p->all_right, p->output_offset, p->act_min, p->act_max);
  const size_t in_image = (size_t)p->in_h * in_w * in_c;
  const size_t out_image = (size_t)pixels * p->out_c;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    auto im2col = [&](int32_t px, uint32_t *col) {
      const int32_t oy = px / out_w, ox = px - oy * out_w;
      ep::dsp::widen_block(in_b + ((size_t)oy * sh * in_w + (size_t)ox * sw) * in_c, in_c, off2, col);
      ep::dsp::zero_block(k_padded - in_c, col + in_c);
    };
    ep::dsp::conv_gemm(p, filter, rq, s, output + (size_t)b * out_image, pixels, im2col);
  }
  return EP_OK;
}
