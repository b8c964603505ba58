// MEAN float32: TFLite's reference_ops::Mean. Each output sums its inputs in input order (into the
// output buffer itself), then divides by the element count.
#include "edgeprune/kernels/pooling.h"

extern "C" ep_status ep_mean_f32(const ep_mean_f32_params *p, const float *input, float *output) {
  if (p->num_outputs < 0 || p->num_reduced <= 0) return EP_ERROR_ARGUMENT;
  const int32_t n_out = p->num_outputs;
  for (int32_t i = 0; i < n_out; ++i) output[i] = 0.0f;
  const int32_t *d = p->dims, *s = p->out_strides;
  const int32_t n5 = d[5], s5 = s[5];
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        for (int32_t i3 = 0; i3 < d[3]; ++i3) {
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            float *o = output + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
            if (s5 == 0) {
              float sum = *o;
              for (int32_t i5 = 0; i5 < n5; ++i5) sum += input[i5];
              *o = sum;
            } else {
              for (int32_t i5 = 0; i5 < n5; ++i5) o[i5 * s5] += input[i5];
            }
            input += n5;
          }
        }
      }
    }
  }
  const float count = (float)p->num_reduced;
  for (int32_t i = 0; i < n_out; ++i) output[i] = output[i] / count;
  return EP_OK;
}
