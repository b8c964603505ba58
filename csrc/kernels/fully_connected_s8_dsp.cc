// FULLY_CONNECTED, int8 (symmetric weights), Armv7E-M DSP: the input rows are widened to int16 (offset
// added) and multiplied by pre-sign-extended int16 weights with the 2x2 SMLAD GEMM; the accumulator is
// rescaled in double exactly like ep_fully_connected_s8 (TFLite's reference).
#include "edgeprune/kernels/conv_dsp.h"

extern "C" EP_DSP_HOT ep_status ep_fully_connected_s8_dsp(const ep_fully_connected_s8_dsp_params *p,
                                                          const int8_t *input, const int16_t *weights,
                                                          const int32_t *bias, void *scratch, int8_t *output) {
  if (!ep::dsp::fc_args_ok(p)) return EP_ERROR_ARGUMENT;
  const uint32_t *w = (const uint32_t *)(const void *)weights;
  const int32_t groups = p->depth_padded / 4, pairs = (p->units + 1) / 2;
  ep::dsp::fc_gemm(p, input, bias, scratch, output,
                   [&](const uint32_t *cols, int32_t *acc) { ep::dsp::gemm_pairs(w, cols, groups, pairs, acc); });
  return EP_OK;
}
