// FULLY_CONNECTED, float32 (TFLite reference: dot product in depth order from 0.0f, then + bias).
#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv.h"

extern "C" ep_status ep_fully_connected_f32(const ep_fully_connected_f32_params *p, const float *input,
                                            const float *weights, const float *bias, float *output) {
  if (p->batches < 0 || p->depth < 0 || p->units < 0) return EP_ERROR_ARGUMENT;
  const int32_t depth = p->depth, units = p->units;
  const float act_min = p->act_min, act_max = p->act_max;
  for (int32_t b = 0; b < p->batches; ++b) {
    const float *x = input + (size_t)b * depth;
    for (int32_t u = 0; u < units; ++u) {
      const float *w = weights + (size_t)u * depth;
      float total = 0.0f;
      for (int32_t d = 0; d < depth; ++d) total += x[d] * w[d];
      const float bias_value = bias ? bias[u] : 0.0f;
      *output++ = ep::clamp_f32(total + bias_value, act_min, act_max);
    }
  }
  return EP_OK;
}
