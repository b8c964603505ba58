// RELU / RELU6 int8: requantize from the input to the output scale, then clamp to the quantized
// activation range (TFLite ReluX).
#include "edgeprune/arith.h"
#include "edgeprune/kernels/activation.h"

extern "C" ep_status ep_relu_s8(const ep_relu_s8_params *params, const int8_t *input, int8_t *output) {
  const int32_t n = params->size;
  const int32_t in_off = params->input_offset;
  const int32_t out_off = params->output_offset;
  const int32_t mult = params->output_multiplier;
  const int shift = params->output_shift;
  const int32_t lo = params->act_min;
  const int32_t hi = params->act_max;
  if (n < 0 || shift > 31 || shift < -31) return EP_ERROR_ARGUMENT;
  for (int32_t i = 0; i < n; ++i) {
    // Added with wraparound like the reference (its int32 sum can overflow for extreme multipliers).
    const int32_t scaled = ep::multiply_by_quantized_multiplier((int32_t)input[i] - in_off, mult, shift);
    int32_t v = (int32_t)((uint32_t)out_off + (uint32_t)scaled);
    v = v < lo ? lo : v;  // std::max(act_min, v)
    v = v > hi ? hi : v;  // std::min(act_max, v)
    output[i] = (int8_t)v;
  }
  return EP_OK;
}
