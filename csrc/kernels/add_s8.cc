// ADD int8: TFLite's quantized addition (reference_integer_ops::Add / BroadcastAdd), with broadcasting.
#include "edgeprune/arith.h"
#include "edgeprune/detail/broadcast.h"

namespace {

struct AddS8 {
  int32_t off1, off2, out_off, left_shift, m1, s1, m2, s2, mo, so, lo, hi;

  explicit AddS8(const ep_add_s8_params *p)
      : off1(p->input1_offset), off2(p->input2_offset), out_off(p->output_offset), left_shift(p->left_shift),
        m1(p->input1_multiplier), s1(p->input1_shift), m2(p->input2_multiplier), s2(p->input2_shift),
        mo(p->output_multiplier), so(p->output_shift), lo(p->act_min), hi(p->act_max) {}

  inline int8_t operator()(int8_t x, int8_t y) const {
    // (x + offset) is in [-255, 255], so the shift by 20 stays inside int32.
    const int32_t a = (int32_t)((uint32_t)(off1 + x) << left_shift);
    const int32_t b = (int32_t)((uint32_t)(off2 + y) << left_shift);
    const int32_t sa = ep::multiply_by_quantized_multiplier(a, m1, s1);
    const int32_t sb = ep::multiply_by_quantized_multiplier(b, m2, s2);
    const int32_t r = ep::multiply_by_quantized_multiplier(sa + sb, mo, so) + out_off;
    return (int8_t)ep::clamp_i32(r, lo, hi);
  }
};

}  // namespace

extern "C" ep_status ep_add_s8(const ep_add_s8_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  if (p->left_shift < 0 || p->left_shift > 20 || p->input1_shift > 0 || p->input2_shift > 0 || p->output_shift > 0)
    return EP_ERROR_ARGUMENT;
  const AddS8 f(p);
  ep::detail::binary_broadcast(p, in1, in2, out, f);
  return EP_OK;
}
