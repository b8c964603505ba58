// MEAN int8: TFLite's reference_ops::QuantizedMeanOrSum. int32 sums per output (in scratch), the
// zero point removed as zp * count, then one rescale by the multiplier that already includes
// 1/count, plus the output zero point, saturated to int8.
#include "edgeprune/arith.h"
#include "edgeprune/kernels/pooling.h"

extern "C" ep_status ep_mean_s8(const ep_mean_s8_params *p, const int8_t *input, int8_t *output, void *scratch) {
  if (p->num_outputs < 0 || p->num_reduced <= 0 || p->shift > 30 || p->shift < -31) return EP_ERROR_ARGUMENT;
  int32_t *acc = (int32_t *)scratch;
  const int32_t n_out = p->num_outputs;
  for (int32_t i = 0; i < n_out; ++i) acc[i] = 0;
  const int32_t *d = p->dims, *s = p->out_strides;
  const int32_t n5 = d[5], s5 = s[5];
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        for (int32_t i3 = 0; i3 < d[3]; ++i3) {
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            int32_t *o = acc + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
            if (s5 == 0) {
              int32_t sum = *o;
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
  const int64_t zp_total = (int64_t)p->input_zero_point * (int64_t)p->num_reduced;
  for (int32_t i = 0; i < n_out; ++i) {
    const int32_t centered = (int32_t)(uint32_t)(uint64_t)((int64_t)acc[i] - zp_total);
    const int32_t r = ep::multiply_by_quantized_multiplier(centered, p->multiplier, p->shift) + p->output_zero_point;
    output[i] = (int8_t)ep::clamp_i32(r, -128, 127);
  }
  return EP_OK;
}
