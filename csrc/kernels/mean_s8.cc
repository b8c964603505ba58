// MEAN int8: TFLite's reference_ops::QuantizedMeanOrSum. int32 sums per output (in scratch, summed by
// edgeprune/detail/mean.h), the zero point removed as zp * count, then one rescale by the multiplier
// that already includes 1/count, plus the output zero point, saturated to int8.
#include "edgeprune/arith.h"
#include "edgeprune/detail/mean.h"

extern "C" ep_status ep_mean_s8(const ep_mean_s8_params *p, const int8_t *input, int8_t *output, void *scratch) {
  if (p->num_outputs < 0 || p->num_reduced <= 0 || p->shift > 30 || p->shift < -31) return EP_ERROR_ARGUMENT;
  int32_t *acc = (int32_t *)scratch;
  const int32_t n_out = p->num_outputs;
  ep::detail::mean_sum(p->dims, p->out_strides, n_out, input, acc);
  const int64_t zp_total = (int64_t)p->input_zero_point * (int64_t)p->num_reduced;
  for (int32_t i = 0; i < n_out; ++i) {
    const int32_t centered = (int32_t)(uint32_t)(uint64_t)((int64_t)acc[i] - zp_total);
    const int32_t r = ep::multiply_by_quantized_multiplier(centered, p->multiplier, p->shift) + p->output_zero_point;
    output[i] = (int8_t)ep::clamp_i32(r, -128, 127);
  }
  return EP_OK;
}
