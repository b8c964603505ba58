// HARD_SWISH int8: TFLite's reference 16-bit fixed-point algorithm.
//
// x (minus zero point) is put on a "hires" scale (x * 2^7); one 16-bit multiplier brings it to the
// (pre-shift) output scale, another maps [-3, 3] to a "reluish" factor in [0, 1]; their product,
// shifted to the output scale, is the result. Every int16 truncation below is deliberate: the
// reference computes in int16_t and the results must match it bit for bit.
#include "edgeprune/kernels/activation.h"

namespace {

// gemmlowp SaturatingRoundingDoublingHighMul on int16.
inline int16_t srdhm16(int16_t a, int16_t b) {
  if (a == b && a == INT16_MIN) return INT16_MAX;
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return (int16_t)((ab + nudge) / (1 << 15));
}

// Doubling high multiply rounding toward zero (like ARM SQDMULH), saturating -1 * -1.
inline int16_t sdhm16(int16_t a, int16_t b) {
  if (a == b && a == INT16_MIN) return INT16_MAX;
  const int32_t ab = (int32_t)a * (int32_t)b;
  return (int16_t)(ab / (1 << 15));
}

// value * 2^amount saturated to int16 (amount in [0, 31]).
inline int16_t saturating_left_shift16(int16_t value, int amount) {
  int64_t r = (int64_t)value * ((int64_t)1 << amount);
  r = r > INT16_MAX ? INT16_MAX : r;
  r = r < INT16_MIN ? INT16_MIN : r;
  return (int16_t)r;
}

// gemmlowp RoundingDivideByPOT on int16, including its behaviour for exponents >= 16 (the mask
// (2^e - 1) truncated to int16 becomes -1 there).
inline int16_t rounding_divide_by_pot16(int16_t x, int exponent) {
  const int16_t mask = (int16_t)((1LL << exponent) - 1);
  const int16_t remainder = (int16_t)(x & mask);
  const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
  return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

}  // namespace

extern "C" ep_status ep_hard_swish_s8(const ep_hard_swish_s8_params *params, const int8_t *input, int8_t *output) {
  const int32_t n = params->size;
  const int32_t in_zp = params->input_zero_point;
  const int32_t out_zp = params->output_zero_point;
  const int16_t reluish_mult = (int16_t)params->reluish_multiplier_fixedpoint_int16;
  const int reluish_exp = params->reluish_multiplier_exponent;
  const int16_t out_mult = (int16_t)params->output_multiplier_fixedpoint_int16;
  const int out_exp = params->output_multiplier_exponent;
  if (n < 0 || out_exp > 0 || out_exp < -31 || reluish_exp > 31 || reluish_exp < -31) return EP_ERROR_ARGUMENT;

  for (int32_t i = 0; i < n; ++i) {
    const int16_t x = (int16_t)((int32_t)input[i] - in_zp);
    const int16_t x_hires = (int16_t)(x * (1 << 7));
    const int16_t x_preshift_out = srdhm16(x_hires, out_mult);

    int16_t reluish = x_hires;
    if (reluish_exp > 0) reluish = saturating_left_shift16(reluish, reluish_exp - 1);
    reluish = srdhm16(reluish, reluish_mult);
    if (reluish_exp > 0) reluish = saturating_left_shift16(reluish, 1);
    if (reluish_exp < 0) reluish = rounding_divide_by_pot16(reluish, -reluish_exp);
    // [-1, 1] -> [0, 1]
    reluish = (int16_t)(((int32_t)reluish + (1 << 15)) >> 1);

    const int16_t preshift = sdhm16(reluish, x_preshift_out);
    int16_t out = rounding_divide_by_pot16(preshift, -out_exp);
    out = (int16_t)(out + out_zp);
    out = out > 127 ? (int16_t)127 : out;
    out = out < -128 ? (int16_t)-128 : out;
    output[i] = (int8_t)out;
  }
  return EP_OK;
}
