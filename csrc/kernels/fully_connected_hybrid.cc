// FULLY_CONNECTED with float32 input and int8 weights (TFLite EvalHybridDense): each batch row is
// quantized (symmetric, or asymmetric with asymmetric_quantize_inputs), the int32 dot product is
// corrected by row_sum * offset, and out = bias + (float)dot * (batch_scale * filter_scale[u]).
#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv.h"

extern "C" ep_status ep_fully_connected_hybrid(const ep_fully_connected_hybrid_params *p, const float *input,
                                               const int8_t *weights, const float *bias, void *scratch,
                                               float *output) {
  if (p->batches <= 0 || p->depth <= 0 || p->units < 0) return EP_ERROR_ARGUMENT;
  const int32_t depth = p->depth, units = p->units;
  const float act_min = p->act_min, act_max = p->act_max;
  float *scaling;
  int32_t *offsets;
  int8_t *qin;
  ep::hybrid::split_scratch(scratch, p->batches, &scaling, &offsets, &qin);
  for (int32_t b = 0; b < p->batches; ++b) {
    const float *x = input + (size_t)b * depth;
    int8_t *q = qin + (size_t)b * depth;
    if (p->asymmetric) {
      ep::hybrid::asymmetric_quantize(x, depth, q, &scaling[b], &offsets[b]);
    } else {
      ep::hybrid::symmetric_quantize(x, depth, q, &scaling[b]);
      offsets[b] = 0;
    }
  }
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *q = qin + (size_t)b * depth;
    const float batch_scale = scaling[b];
    const int32_t zp = offsets[b];
    for (int32_t u = 0; u < units; ++u) {
      const int8_t *w = weights + (size_t)u * depth;
      int32_t dot = 0, row_sum = 0;
      for (int32_t d = 0; d < depth; ++d) {
        dot += (int32_t)w[d] * (int32_t)q[d];
        row_sum += w[d];
      }
      dot -= row_sum * zp;
      const float scale = batch_scale * p->filter_scales[u];
      const float start = bias ? bias[u] : 0.0f;
      *output++ = ep::clamp_f32(start + (float)dot * scale, act_min, act_max);
    }
  }
  return EP_OK;
}
