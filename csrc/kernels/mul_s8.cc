// MUL int8: TFLite's quantized multiplication (reference_integer_ops::Mul / BroadcastMul), with broadcasting.
#include "edgeprune/arith.h"
#include "edgeprune/kernels/elementwise.h"

namespace {

struct MulS8 {
  int32_t off1, off2, out_off, mo, so, lo, hi;

  explicit MulS8(const ep_mul_s8_params *p)
      : off1(p->input1_offset), off2(p->input2_offset), out_off(p->output_offset), mo(p->output_multiplier),
        so(p->output_shift), lo(p->act_min), hi(p->act_max) {}

  inline int8_t operator()(int8_t x, int8_t y) const {
    // |(x + off1) * (y + off2)| <= 255 * 255: no overflow.
    const int32_t prod = (off1 + x) * (off2 + y);
    const int32_t r = ep::multiply_by_quantized_multiplier(prod, mo, so) + out_off;
    return (int8_t)ep::clamp_i32(r, lo, hi);
  }
};

}  // namespace

extern "C" ep_status ep_mul_s8(const ep_mul_s8_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  if (p->output_shift > 30 || p->output_shift < -31) return EP_ERROR_ARGUMENT;
  const MulS8 f(p);
  if (!p->broadcast) {
    const int32_t n = p->size;
    for (int32_t i = 0; i < n; ++i) out[i] = f(in1[i], in2[i]);
    return EP_OK;
  }
  const int32_t *d = p->dims, *t1 = p->strides1, *t2 = p->strides2;
  const int32_t n5 = d[5], u5 = t1[5], v5 = t2[5];
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        for (int32_t i3 = 0; i3 < d[3]; ++i3) {
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const int8_t *a = in1 + i0 * t1[0] + i1 * t1[1] + i2 * t1[2] + i3 * t1[3] + i4 * t1[4];
            const int8_t *b = in2 + i0 * t2[0] + i1 * t2[1] + i2 * t2[2] + i3 * t2[3] + i4 * t2[4];
            for (int32_t i5 = 0; i5 < n5; ++i5) out[i5] = f(a[i5 * u5], b[i5 * v5]);
            out += n5;
          }
        }
      }
    }
  }
  return EP_OK;
}
