// ADD float32: TFLite's reference (x + y, then the fused activation clamp), with broadcasting.
#include "edgeprune/arith.h"
#include "edgeprune/kernels/elementwise.h"

extern "C" ep_status ep_add_f32(const ep_add_f32_params *p, const float *in1, const float *in2, float *out) {
  const float lo = p->act_min, hi = p->act_max;
  if (!p->broadcast) {
    const int32_t n = p->size;
    for (int32_t i = 0; i < n; ++i) {
      const float x = in1[i], y = in2[i];
      out[i] = ep::clamp_f32(x + y, lo, hi);
    }
    return EP_OK;
  }
  const int32_t *d = p->dims, *t1 = p->strides1, *t2 = p->strides2;
  const int32_t n5 = d[5], u5 = t1[5], v5 = t2[5];
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        for (int32_t i3 = 0; i3 < d[3]; ++i3) {
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const float *a = in1 + i0 * t1[0] + i1 * t1[1] + i2 * t1[2] + i3 * t1[3] + i4 * t1[4];
            const float *b = in2 + i0 * t2[0] + i1 * t2[1] + i2 * t2[2] + i3 * t2[3] + i4 * t2[4];
            for (int32_t i5 = 0; i5 < n5; ++i5) {
              const float x = a[i5 * u5], y = b[i5 * v5];
              out[i5] = ep::clamp_f32(x + y, lo, hi);
            }
            out += n5;
          }
        }
      }
    }
  }
  return EP_OK;
}
