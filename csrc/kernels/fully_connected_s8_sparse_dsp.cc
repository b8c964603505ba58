// FULLY_CONNECTED, int8 (symmetric weights), block-sparse weights, Armv7E-M DSP: the dense DSP kernel's
// widened input rows against the stored 2x4 weight blocks only (edgeprune/kernels/sparse_dsp.h), int16 weights
// (fast format) or int8 (compact format); rescaled in double exactly like ep_fully_connected_s8.
#include "edgeprune/kernels/sparse_dsp.h"

namespace {
template <typename W>
EP_DSP_HOT ep_status fc_sparse(const ep_fully_connected_s8_dsp_params *p, const int8_t *input, const W *w,
                               const uint8_t *blocks, const int32_t *bias, void *scratch, int8_t *output) {
  if (!ep::dsp::fc_args_ok(p) || p->depth_padded > 1020) return EP_ERROR_ARGUMENT;
  const int32_t pairs = (p->units + 1) / 2;
  ep::dsp::fc_gemm(p, input, bias, scratch, output, [&](const uint32_t *cols, int32_t *acc) {
    ep::dsp::gemm_sparse_pairs(w, blocks, cols, pairs, acc);
  });
  return EP_OK;
}
}  // namespace

extern "C" ep_status ep_fully_connected_s8_sparse_dsp(const ep_fully_connected_s8_dsp_params *p,
                                                      const int8_t *input, const int16_t *weights,
                                                      const uint8_t *blocks, const int32_t *bias, void *scratch,
                                                      int8_t *output) {
  return fc_sparse(p, input, weights, blocks, bias, scratch, output);
}

extern "C" ep_status ep_fully_connected_s8_sparse8_dsp(const ep_fully_connected_s8_dsp_params *p,
                                                       const int8_t *input, const int8_t *weights,
                                                       const uint8_t *blocks, const int32_t *bias, void *scratch,
                                                       int8_t *output) {
  return fc_sparse(p, input, weights, blocks, bias, scratch, output);
}
