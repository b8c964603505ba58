// MUL int8: TFLite's quantized multiplication (reference_integer_ops::Mul / BroadcastMul), with broadcasting.
#include "edgeprune/arith.h"
#include "edgeprune/detail/broadcast.h"

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
  ep::detail::binary_broadcast(p, in1, in2, out, f);
  return EP_OK;
}
