/* Internal (C++ only): the MEAN summing walk shared by ep_mean_f32 and ep_mean_s8 (TFLite's
 * reference_ops::Mean / QuantizedMeanOrSum): every output's accumulator starts at 0 and sums its
 * inputs in input order. */
#ifndef EDGEPRUNE_DETAIL_MEAN_H
#define EDGEPRUNE_DETAIL_MEAN_H

#include "edgeprune/kernels/pooling.h"

namespace ep {
namespace detail {

// d: the 6 input dims; s: the accumulator stride along each input dim (0 where reduced).
template <typename In, typename Acc>
inline void mean_sum(const int32_t *d, const int32_t *s, int32_t n_out, const In *input, Acc *acc) {
  for (int32_t i = 0; i < n_out; ++i) acc[i] = (Acc)0;
  const int32_t n5 = d[5], s5 = s[5];
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        for (int32_t i3 = 0; i3 < d[3]; ++i3) {
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            Acc *o = acc + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
            if (s5 == 0) {
              Acc sum = *o;
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
}

}  // namespace detail
}  // namespace ep

#endif  // EDGEPRUNE_DETAIL_MEAN_H
