// QUANTIZE float32 -> int8 per tensor, as LiteRT's reference AffineQuantize:
//   q = clamp((int32)roundf(x / scale) + zero_point, -128, 127)
// with the float quotient rounded half away from zero. The float -> int32 conversion of a value
// outside the int32 range (or NaN, +-inf) yields INT32_MIN, as the x86-64 conversion instruction
// that the reference relies on does; the zero point is then added with wraparound. So +inf gives
// -128 for zero points >= 0 and 127 for negative ones, exactly as the reference.
#include <math.h>

#include "edgeprune/kernels/activation.h"
#include "edgeprune/kernels/quantize_common.h"

extern "C" ep_status ep_quantize_f32_s8(const ep_quantize_f32_s8_params *params, const float *input, int8_t *output) {
  const int32_t n = params->size;
  const float scale = params->scale;
  const int32_t zp = params->zero_point;
  if (n < 0) return EP_ERROR_ARGUMENT;
  for (int32_t i = 0; i < n; ++i) output[i] = ep_quantize_rounded(roundf(input[i] / scale), zp);
  return EP_OK;
}
