// CONV_2D, int8, block-sparse weights, Armv7E-M DSP: the dense DSP kernel's im2col of two output pixels,
// then a GEMM over the stored 2x4 weight blocks only (edgeprune/kernels/sparse_dsp.h), int16 weights (fast
// format) or int8 (compact format).
#include "edgeprune/kernels/sparse_dsp.h"

namespace {
template <typename W>
EP_DSP_HOT ep_status conv_sparse(const ep_conv2d_s8_dsp_params *p, const int8_t *input, const W *w,
                                 const uint8_t *blocks, void *scratch, int8_t *output) {
  if (!ep::dsp::conv_args_ok(p) || p->k_padded > 1020) return EP_ERROR_ARGUMENT;
  const int32_t pixels = p->out_h * p->out_w, pairs = (p->out_c + 1) / 2;
  const uint32_t off2 = ep::dsp::dup16(p->input_offset);
  const ep::dsp::ConvScratch s = ep::dsp::conv_scratch(scratch, p->out_c, p->k_padded);
  const ep::dsp::RequantRun rq(p->requant, p->all_right, p->output_offset, p->act_min, p->act_max);
  const size_t in_image = (size_t)p->in_h * p->in_w * p->in_c;
  const size_t out_image = (size_t)pixels * p->out_c;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    ep::dsp::conv_gemm_with(
        p, rq, s, output + (size_t)b * out_image, pixels,
        [&](int32_t px, uint32_t *col) { ep::dsp::im2col_column(p, in_b, s.gather, off2, px, col); },
        [&](const uint32_t *cols, int32_t *acc) { ep::dsp::gemm_sparse_pairs(w, blocks, cols, pairs, acc); });
  }
  return EP_OK;
}
}  // namespace

extern "C" ep_status ep_conv2d_s8_sparse_dsp(const ep_conv2d_s8_dsp_params *p, const int8_t *input,
                                             const int16_t *filter, const uint8_t *blocks, void *scratch,
                                             int8_t *output) {
  return conv_sparse(p, input, filter, blocks, scratch, output);
}

extern "C" ep_status ep_conv2d_s8_sparse8_dsp(const ep_conv2d_s8_dsp_params *p, const int8_t *input,
                                              const int8_t *filter, const uint8_t *blocks, void *scratch,
                                              int8_t *output) {
  return conv_sparse(p, input, filter, blocks, scratch, output);
}
