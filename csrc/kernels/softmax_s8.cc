// SOFTMAX int8 -> int8 over the last axis: TFLite's fixed-point reference (gemmlowp exp / reciprocal).
//
// For each row: d = x - max(row); if d >= diff_min, e = exp(d * beta * input_scale) in Q0 via a
// Q5.26 argument; the sum of e (as Q12) gives a reciprocal; out = e / sum on the 1/256 scale - 128.
#include "edgeprune/arith.h"
#include "edgeprune/fixedpoint.h"
#include "edgeprune/kernels/activation.h"

namespace {

constexpr int kScaledDiffIntegerBits = 5;    // Q5.26 argument of exp
constexpr int kAccumulationIntegerBits = 12;  // Q12.19 sum of exponentials

// exp((x - max) * beta * input_scale) in Q0 for a difference that passed the diff_min test.
inline int32_t exp_of_diff(int32_t diff, int32_t multiplier, int left_shift) {
  // MultiplyByQuantizedMultiplierGreaterThanOne; diff >= diff_min keeps diff * 2^left_shift in range.
  const int32_t scaled = ep::saturating_rounding_doubling_high_mul((int32_t)((uint32_t)diff << left_shift), multiplier);
  return ep::fp::exp_on_negative_values(scaled, kScaledDiffIntegerBits);
}

}  // namespace

extern "C" ep_status ep_softmax_s8(const ep_softmax_s8_params *params, const int8_t *input, int8_t *output) {
  const int32_t outer = params->outer_size;
  const int32_t depth = params->depth;
  const int32_t multiplier = params->input_multiplier;
  const int left_shift = params->input_left_shift;
  const int32_t diff_min = params->diff_min;
  if (outer < 0 || depth <= 0 || left_shift < 0 || left_shift > 31) return EP_ERROR_ARGUMENT;

  for (int32_t i = 0; i < outer; ++i) {
    const int8_t *in = input + (size_t)i * (size_t)depth;
    int8_t *out = output + (size_t)i * (size_t)depth;

    int32_t max_in_row = -128;
    for (int32_t c = 0; c < depth; ++c) max_in_row = in[c] > max_in_row ? in[c] : max_in_row;

    int32_t sum_of_exps = 0;  // Q12
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= diff_min) {
        const int32_t e = exp_of_diff(diff, multiplier, left_shift);
        sum_of_exps = ep::fp::add(sum_of_exps, ep::fp::rescale(e, 0, kAccumulationIntegerBits));
      }
    }

    int num_bits_over_unit;
    const int32_t shifted_scale = ep::fp::reciprocal(sum_of_exps, kAccumulationIntegerBits, &num_bits_over_unit);
    const int exponent = num_bits_over_unit + 31 - 8;
    if (exponent > 31) {
      // The sum of exponentials is >= 512: every probability is <= 1/512, i.e. below half a step of
      // the 1/256 output scale. TFLite's reference aborts here (TFLITE_CHECK); we output the
      // correctly rounded value, 0 (-128), instead.
      for (int32_t c = 0; c < depth; ++c) out[c] = -128;
      continue;
    }

    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= diff_min) {
        const int32_t e = exp_of_diff(diff, multiplier, left_shift);
        const int32_t unsat = ep::rounding_divide_by_pot(ep::fp::mul(shifted_scale, e), exponent);
        out[c] = (int8_t)ep::clamp_i32(unsat - 128, -128, 127);
      } else {
        out[c] = -128;
      }
    }
  }
  return EP_OK;
}
