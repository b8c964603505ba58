/* Internal (C++ only): the TRANSPOSE walk shared by ep_transpose_f32 and ep_transpose_s8. The output
 * is written in order; each output dim walks the input with its stride. Elements move as raw bits of
 * type T (uint32_t for float, uint8_t for int8_t). */
#ifndef EDGEPRUNE_DETAIL_TRANSPOSE_H
#define EDGEPRUNE_DETAIL_TRANSPOSE_H

#include "edgeprune/kernels/shape.h"

namespace ep {
namespace detail {

// d: the 6 output dims; s: the input element stride along each output dim.
template <typename T>
inline void transpose(const int32_t *d, const int32_t *s, const T *in, T *out) {
  const int32_t n5 = d[5], s5 = s[5];
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        for (int32_t i3 = 0; i3 < d[3]; ++i3) {
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const T *src = in + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
            for (int32_t i5 = 0; i5 < n5; ++i5) out[i5] = src[i5 * s5];
            out += n5;
          }
        }
      }
    }
  }
}

}  // namespace detail
}  // namespace ep

#endif  // EDGEPRUNE_DETAIL_TRANSPOSE_H
