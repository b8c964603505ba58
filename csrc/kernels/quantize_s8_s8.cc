// QUANTIZE int8 -> int8 (TFLite Requantize): MBQM(x - input_zp) + output_zp, clamped.
#include "edgeprune/arith.h"
#include "edgeprune/kernels/activation.h"

extern "C" ep_status ep_quantize_s8_s8(const ep_quantize_s8_s8_params *params, const int8_t *input, int8_t *output) {
  const int32_t n = params->size;
  const int32_t in_zp = params->input_zero_point;
  const int32_t out_zp = params->output_zero_point;
  const int32_t mult = params->output_multiplier;
  const int shift = params->output_shift;
  if (n < 0 || shift > 31 || shift < -31) return EP_ERROR_ARGUMENT;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t scaled = ep::multiply_by_quantized_multiplier((int32_t)input[i] - in_zp, mult, shift);
    const int32_t v = (int32_t)((uint32_t)scaled + (uint32_t)out_zp);  // wraps like the reference
    output[i] = (int8_t)ep::clamp_i32(v, -128, 127);
  }
  return EP_OK;
}
