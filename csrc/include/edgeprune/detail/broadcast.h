/* Internal (C++ only): the binary elementwise walk shared by ADD and MUL (see
 * edgeprune/kernels/elementwise.h): one flat loop when `broadcast == 0`, else the 6-dim output walk
 * with each input advancing by its own stride (0 where broadcast). `f(x, y)` makes one output. */
#ifndef EDGEPRUNE_DETAIL_BROADCAST_H
#define EDGEPRUNE_DETAIL_BROADCAST_H

#include "edgeprune/kernels/elementwise.h"

namespace ep {
namespace detail {

// P is any ep_{add,mul}_*_params (same shape fields).
template <typename T, typename P, typename F>
inline void binary_broadcast(const P *p, const T *in1, const T *in2, T *out, const F &f) {
  if (!p->broadcast) {
    const int32_t n = p->size;
    for (int32_t i = 0; i < n; ++i) out[i] = f(in1[i], in2[i]);
    return;
  }
  const int32_t *d = p->dims, *t1 = p->strides1, *t2 = p->strides2;
  const int32_t n5 = d[5], u5 = t1[5], v5 = t2[5];
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        for (int32_t i3 = 0; i3 < d[3]; ++i3) {
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const T *a = in1 + i0 * t1[0] + i1 * t1[1] + i2 * t1[2] + i3 * t1[3] + i4 * t1[4];
            const T *b = in2 + i0 * t2[0] + i1 * t2[1] + i2 * t2[2] + i3 * t2[3] + i4 * t2[4];
            for (int32_t i5 = 0; i5 < n5; ++i5) out[i5] = f(a[i5 * u5], b[i5 * v5]);
            out += n5;
          }
        }
      }
    }
  }
}

}  // namespace detail
}  // namespace ep

#endif  // EDGEPRUNE_DETAIL_BROADCAST_H
