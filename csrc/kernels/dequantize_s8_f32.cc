// DEQUANTIZE int8 -> float32 per tensor: scale * (q - zero_point).
// TFLite multiplies in double and rounds to float once; the exact product of a float scale and a
// 9-bit integer fits a double, so one float multiplication (also rounded once) gives the same value.
#include "edgeprune/kernels/activation.h"

extern "C" ep_status ep_dequantize_s8_f32(const ep_dequantize_s8_f32_params *params, const int8_t *input,
                                          float *output) {
  const int32_t n = params->size;
  const float scale = params->scale;
  const int32_t zp = params->zero_point;
  if (n < 0 || zp < -32768 || zp > 32767) return EP_ERROR_ARGUMENT;
  for (int32_t i = 0; i < n; ++i) output[i] = scale * (float)((int32_t)input[i] - zp);
  return EP_OK;
}
