// QUANTIZE float32 -> int8 per channel (LiteRT PerChannelQuantize): as the per-tensor kernel with the
// scale and zero point of each element's channel.
#include <math.h>

#include "edgeprune/kernels/activation.h"
#include "edgeprune/kernels/quantize_common.h"

extern "C" ep_status ep_quantize_pc_f32_s8(const ep_quantize_pc_f32_s8_params *params, const float *input,
                                           int8_t *output) {
  const int32_t outer = params->outer_size;
  const int32_t channels = params->channels;
  const int32_t inner = params->inner_size;
  const float *scales = params->scales;
  const int32_t *zps = params->zero_points;
  if (outer < 0 || channels < 0 || inner < 0 || scales == nullptr || zps == nullptr) return EP_ERROR_ARGUMENT;

  for (int32_t o = 0; o < outer; ++o) {
    for (int32_t c = 0; c < channels; ++c) {
      const float scale = scales[c];
      const int32_t zp = zps[c];
      const size_t base = ((size_t)o * (size_t)channels + (size_t)c) * (size_t)inner;
      const float *in = input + base;
      int8_t *out = output + base;
      for (int32_t i = 0; i < inner; ++i) out[i] = ep_quantize_rounded(roundf(in[i] / scale), zp);
    }
  }
  return EP_OK;
}
