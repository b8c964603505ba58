// RELU / RELU6 float32: min(max(act_min, x), act_max) with std::max/std::min argument order.
// act_max == FLT_MAX means "no upper bound" (RELU), so +inf inputs stay +inf as in TFLite.
#include <float.h>

#include "edgeprune/kernels/activation.h"

extern "C" ep_status ep_relu_f32(const ep_relu_f32_params *params, const float *input, float *output) {
  const int32_t n = params->size;
  const float lo = params->act_min;
  const float hi = params->act_max;
  if (n < 0) return EP_ERROR_ARGUMENT;
  if (hi >= FLT_MAX) {
    for (int32_t i = 0; i < n; ++i) {
      const float v = input[i];
      output[i] = lo < v ? v : lo;  // std::max(lo, v): NaN -> lo
    }
    return EP_OK;
  }
  for (int32_t i = 0; i < n; ++i) {
    float v = input[i];
    v = lo < v ? v : lo;  // std::max(lo, v): NaN -> lo
    v = hi < v ? hi : v;  // std::min(v, hi)
    output[i] = v;
  }
  return EP_OK;
}
