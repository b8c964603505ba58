// ADD int8 (same shapes, no broadcasting) on Helium: TFLite's quantized addition on 4 int32 lanes.
// Bit-exact with ep_add_s8: VQRDMULH is SaturatingRoundingDoublingHighMul and the rounding right shift is
// corrected to RoundingDivideByPOT exactly as in conv_mve.h (negative values step down by one first).
#include "edgeprune/kernels/conv_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
namespace {

// MultiplyByQuantizedMultiplier for shift <= 0; nz = (shift != 0).
inline int32x4_t mbqm_right(int32x4_t x, int32_t multiplier, int32_t shift, int32_t nz) {
  x = vqrdmulhq_n_s32(x, multiplier);
  x = vqaddq_s32(x, vmulq_n_s32(vshrq_n_s32(x, 31), nz));
  return vrshlq_n_s32(x, shift);
}

}  // namespace
#endif

extern "C" ep_status ep_add_s8_mve(const ep_add_s8_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
  if (p->broadcast || p->left_shift < 0 || p->left_shift > 20 || p->input1_shift > 0 || p->input2_shift > 0 ||
      p->output_shift > 0 || p->size < 0)
    return EP_ERROR_ARGUMENT;
  const int32_t off1 = p->input1_offset, off2 = p->input2_offset, out_off = p->output_offset;
  const int32_t ls = p->left_shift;
  const int32_t m1 = p->input1_multiplier, s1 = p->input1_shift, nz1 = s1 != 0;
  const int32_t m2 = p->input2_multiplier, s2 = p->input2_shift, nz2 = s2 != 0;
  const int32_t mo = p->output_multiplier, so = p->output_shift, nzo = so != 0;
  const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
  for (int32_t n = p->size; n > 0; n -= 4, in1 += 4, in2 += 4, out += 4) {
    const mve_pred16_t pred = vctp32q((uint32_t)n);
    // (x + offset) is in [-255, 255]: the left shift by <= 20 cannot overflow.
    int32x4_t a = vshlq_r_s32(vaddq_n_s32(vldrbq_z_s32(in1, pred), off1), ls);
    int32x4_t b = vshlq_r_s32(vaddq_n_s32(vldrbq_z_s32(in2, pred), off2), ls);
    a = mbqm_right(a, m1, s1, nz1);
    b = mbqm_right(b, m2, s2, nz2);
    int32x4_t r = vaddq_n_s32(mbqm_right(vaddq_s32(a, b), mo, so, nzo), out_off);
    r = vminq_s32(vmaxq_s32(r, lo), hi);
    vstrbq_p_s32(out, r, pred);
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
