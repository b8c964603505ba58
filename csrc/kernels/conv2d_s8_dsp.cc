// CONV_2D, int8, Armv7E-M DSP: im2col of two output pixels into int16 columns (input offset added,
// padding taps 0) and a 2-channel x 2-pixel SMLAD GEMM against pre-sign-extended int16 weights.
#include "edgeprune/kernels/conv_dsp.h"

extern "C" EP_DSP_HOT ep_status ep_conv2d_s8_dsp(const ep_conv2d_s8_dsp_params *p, const int8_t *input,
                                                 const int16_t *filter, void *scratch,
                                                 int8_t *output) {
  if (!ep::dsp::conv_args_ok(p)) return EP_ERROR_ARGUMENT;
  const int32_t pixels = p->out_h * p->out_w;
  const uint32_t off2 = ep::dsp::dup16(p->input_offset);
  const ep::dsp::ConvScratch s = ep::dsp::conv_scratch(scratch, p->out_c, p->k_padded);
  const ep::dsp::RequantRun rq(p->requant, p->all_right, p->output_offset, p->act_min, p->act_max);
  const size_t in_image = (size_t)p->in_h * p->in_w * p->in_c;
  const size_t out_image = (size_t)pixels * p->out_c;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    auto im2col = [&](int32_t px, uint32_t *col) { ep::dsp::im2col_column(p, in_b, s.gather, off2, px, col); };
    ep::dsp::conv_gemm(p, filter, rq, s, output + (size_t)b * out_image, pixels, im2col);
  }
  return EP_OK;
}
