// LOGISTIC float32 as LiteRT's reference: 1 above 16.619047, exp(x) below -9, else 1 / (1 + exp(-x)).
#include <math.h>

#include "edgeprune/kernels/activation.h"

extern "C" ep_status ep_logistic_f32(const ep_logistic_f32_params *params, const float *input, float *output) {
  const int32_t n = params->size;
  if (n < 0) return EP_ERROR_ARGUMENT;
  const float cutoff_upper = 16.619047164916992188f;
  const float cutoff_lower = -9.0f;
  for (int32_t i = 0; i < n; ++i) {
    const float x = input[i];
    float r;
    if (x > cutoff_upper) {
      r = 1.0f;
    } else if (x < cutoff_lower) {
      r = expf(x);
    } else {
      r = 1.0f / (1.0f + expf(-x));
    }
    output[i] = r;
  }
  return EP_OK;
}
