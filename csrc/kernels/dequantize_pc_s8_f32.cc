// DEQUANTIZE int8 -> float32 per channel: scales[c] * (q - zero_points[c]).
#include "edgeprune/kernels/activation.h"

extern "C" ep_status ep_dequantize_pc_s8_f32(const ep_dequantize_pc_s8_f32_params *params, const int8_t *input,
                                             float *output) {
  const int32_t outer = params->outer_size;
  const int32_t channels = params->channels;
  const int32_t inner = params->inner_size;
  const float *scales = params->scales;
  const int32_t *zps = params->zero_points;
  if (outer < 0 || channels < 0 || inner < 0 || scales == nullptr || zps == nullptr) return EP_ERROR_ARGUMENT;
  for (int32_t c = 0; c < channels; ++c)
    if (zps[c] < -32768 || zps[c] > 32767) return EP_ERROR_ARGUMENT;

  for (int32_t o = 0; o < outer; ++o) {
    for (int32_t c = 0; c < channels; ++c) {
      const float scale = scales[c];
      const int32_t zp = zps[c];
      const size_t base = ((size_t)o * (size_t)channels + (size_t)c) * (size_t)inner;
      const int8_t *in = input + base;
      float *out = output + base;
      for (int32_t i = 0; i < inner; ++i) out[i] = scale * (float)((int32_t)in[i] - zp);
    }
  }
  return EP_OK;
}
