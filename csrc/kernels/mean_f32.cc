// MEAN float32: TFLite's reference_ops::Mean. Each output sums its inputs in input order (into the
// output buffer itself, edgeprune/detail/mean.h), then divides by the element count.
#include "edgeprune/detail/mean.h"

extern "C" ep_status ep_mean_f32(const ep_mean_f32_params *p, const float *input, float *output) {
  if (p->num_outputs < 0 || p->num_reduced <= 0) return EP_ERROR_ARGUMENT;
  const int32_t n_out = p->num_outputs;
  ep::detail::mean_sum(p->dims, p->out_strides, n_out, input, output);
  const float count = (float)p->num_reduced;
  for (int32_t i = 0; i < n_out; ++i) output[i] = output[i] / count;
  return EP_OK;
}
