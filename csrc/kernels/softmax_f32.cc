// SOFTMAX float32 over the last axis, in the order of TFLite's reference: exp((x - max) * beta),
// summed in float, then each exponential divided by the sum.
#include <float.h>
#include <math.h>

#include "edgeprune/kernels/activation.h"

extern "C" ep_status ep_softmax_f32(const ep_softmax_f32_params *params, const float *input, float *output) {
  const int32_t outer = params->outer_size;
  const int32_t depth = params->depth;
  const float beta = params->beta;
  if (outer < 0 || depth <= 0) return EP_ERROR_ARGUMENT;

  for (int32_t i = 0; i < outer; ++i) {
    const float *in = input + (size_t)i * (size_t)depth;
    float *out = output + (size_t)i * (size_t)depth;

    float max = -FLT_MAX;
    for (int32_t c = 0; c < depth; ++c) max = max < in[c] ? in[c] : max;

    float sum = 0.f;
    for (int32_t c = 0; c < depth; ++c) {
      const float e = expf((in[c] - max) * beta);
      out[c] = e;
      sum += e;
    }
    // A true division (not a multiplication by 1/sum) so the host results match TFLite bit for bit.
    for (int32_t c = 0; c < depth; ++c) out[c] = out[c] / sum;
  }
  return EP_OK;
}
