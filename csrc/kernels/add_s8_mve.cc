// ADD int8 (same shapes, no broadcasting) on Helium: TFLite's quantized addition on 4 int32 lanes.
// Bit-exact with ep_add_s8: VQRDMULH is SaturatingRoundingDoublingHighMul and the rounding right shift is
// corrected to RoundingDivideByPOT exactly as in conv_mve.h (negative values step down by one first).
#include "edgeprune/kernels/conv_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
namespace {

// MultiplyByQuantizedMultiplier for shift <= 0; fix_mask = all ones when shift != 0 (see conv_mve.h).
inline int32x4_t mbqm_right(int32x4_t x, int32_t multiplier, int32_t shift, int32x4_t fix_mask) {
  x = vqrdmulhq_n_s32(x, multiplier);
  x = vqaddq_s32(x, vandq_s32(vshrq_n_s32(x, 31), fix_mask));
  return vrshlq_n_s32(x, shift);
}

struct Add {
  int32_t off1, off2, out_off, ls, m1, s1, m2, s2, mo, so;
  int32x4_t fix1, fix2, fixo, lo, hi;

  inline int32x4_t operator()(int32x4_t x, int32x4_t y) const {
    // (x + offset) is in [-255, 255]: the left shift by <= 20 cannot overflow.
    const int32x4_t a = mbqm_right(vshlq_r_s32(vaddq_n_s32(x, off1), ls), m1, s1, fix1);
    const int32x4_t b = mbqm_right(vshlq_r_s32(vaddq_n_s32(y, off2), ls), m2, s2, fix2);
    const int32x4_t r = vaddq_n_s32(mbqm_right(vaddq_s32(a, b), mo, so, fixo), out_off);
    return vminq_s32(vmaxq_s32(r, lo), hi);
  }
};

}  // namespace
#endif

extern "C" ep_status ep_add_s8_mve(const ep_add_s8_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
  if (p->broadcast || p->left_shift < 0 || p->left_shift > 20 || p->input1_shift > 0 || p->input2_shift > 0 ||
      p->output_shift > 0 || p->size < 0)
    return EP_ERROR_ARGUMENT;
  const Add f = {p->input1_offset, p->input2_offset, p->output_offset, p->left_shift,
                 p->input1_multiplier, p->input1_shift, p->input2_multiplier, p->input2_shift,
                 p->output_multiplier, p->output_shift,
                 vdupq_n_s32(p->input1_shift ? -1 : 0), vdupq_n_s32(p->input2_shift ? -1 : 0),
                 vdupq_n_s32(p->output_shift ? -1 : 0), vdupq_n_s32(p->act_min), vdupq_n_s32(p->act_max)};
  int32_t n = p->size;
  for (; n >= 4; n -= 4, in1 += 4, in2 += 4, out += 4) vstrbq_s32(out, f(vldrbq_s32(in1), vldrbq_s32(in2)));
  if (n > 0) {
    const mve_pred16_t pred = vctp32q((uint32_t)n);
    vstrbq_p_s32(out, f(vldrbq_z_s32(in1, pred), vldrbq_z_s32(in2, pred)), pred);
  }
  return EP_OK;
#else
  (void)p;
  (void)in1;
  (void)in2;
  (void)out;
  return EP_ERROR_ARGUMENT;
#endif
}
