// TRANSPOSE float: the output is written in order; each output dim walks the input with its stride.
// Elements move as raw bits (uint32_t).
#include "edgeprune/kernels/shape.h"

extern "C" ep_status ep_transpose_f32(const ep_transpose_f32_params *p, const float *input, float *output) {
  const uint32_t *in = (const uint32_t *)(const void *)input;
  uint32_t *out = (uint32_t *)(void *)output;
  const int32_t *d = p->dims, *s = p->in_strides;
  const int32_t n5 = d[5], s5 = s[5];
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        for (int32_t i3 = 0; i3 < d[3]; ++i3) {
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const uint32_t *src = in + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
            for (int32_t i5 = 0; i5 < n5; ++i5) out[i5] = src[i5 * s5];
            out += n5;
          }
        }
      }
    }
  }
  return EP_OK;
}
