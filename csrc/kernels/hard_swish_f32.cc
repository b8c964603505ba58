// HARD_SWISH float32: x * min(6, max(0, x + 3)) / 6, in TFLite's reference order.
#include "edgeprune/kernels/activation.h"

extern "C" ep_status ep_hard_swish_f32(const ep_hard_swish_f32_params *params, const float *input,
                                       float *output) {
  const int32_t n = params->size;
  if (n < 0) return EP_ERROR_ARGUMENT;
  for (int32_t i = 0; i < n; ++i) {
    const float x = input[i];
    float r = x + 3.0f;
    r = 0.0f < r ? r : 0.0f;  // std::max(0, x + 3)
    r = r < 6.0f ? r : 6.0f;  // std::min(6, .)
    output[i] = x * r / 6.0f;
  }
  return EP_OK;
}
