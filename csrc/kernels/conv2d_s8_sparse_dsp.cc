// CONV_2D, int8, block-sparse weights, Armv7E-M DSP: the dense kernel's im2col of two output pixels,
// then a GEMM over the stored 2x4 weight blocks only (edgeprune/kernels/sparse_dsp.h), int16 weights (fast
// format) or int8 (compact format).
#include "edgeprune/kernels/sparse_dsp.h"

extern "C" EP_DSP_HOT ep_status ep_conv2d_s8_sparse_dsp(const ep_conv2d_s8_dsp_params *p,
                                                        const int8_t *input, const int16_t *filter,
                                                        const uint8_t *blocks, void *scratch, int8_t *output) {
  return ep::dsp::conv_sparse<false>(p, input, filter, blocks, scratch, output);
}

extern "C" EP_DSP_HOT ep_status ep_conv2d_s8_sparse8_dsp(const ep_conv2d_s8_dsp_params *p,
                                                         const int8_t *input, const int8_t *filter,
                                                         const uint8_t *blocks, void *scratch, int8_t *output) {
  return ep::dsp::conv_sparse<false>(p, input, filter, blocks, scratch, output);
}
