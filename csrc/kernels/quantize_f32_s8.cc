// QUANTIZE float32 -> int8 per tensor (TFLite AffineQuantize): round(x / scale) + zero_point with
// roundf (halves away from zero) on the float quotient, clamped to int8.
#include <math.h>

#include "edgeprune/kernels/activation.h"

namespace {

// clamp(r + zp) for an integral float r, decided in float: lo_f/hi_f are int8 min/max minus zp, exact
// in float. NaN (r != r) goes to 0 + ... as a conversion of NaN to int does on the host: 0.
inline int8_t clamp_rounded(float r, float lo_f, float hi_f, int32_t zp) {
  if (r >= hi_f) return 127;
  if (r <= lo_f) return -128;
  if (r != r) return 0;
  return (int8_t)((int32_t)r + zp);
}

}  // namespace

extern "C" ep_status ep_quantize_f32_s8(const ep_quantize_f32_s8_params *params, const float *input, int8_t *output) {
  const int32_t n = params->size;
  const float scale = params->scale;
  const int32_t zp = params->zero_point;
  if (n < 0 || zp < -128 || zp > 127) return EP_ERROR_ARGUMENT;
  const float lo_f = (float)(-128 - zp);
  const float hi_f = (float)(127 - zp);
  for (int32_t i = 0; i < n; ++i) output[i] = clamp_rounded(roundf(input[i] / scale), lo_f, hi_f, zp);
  return EP_OK;
}
