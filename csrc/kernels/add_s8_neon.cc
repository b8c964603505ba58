// ADD int8 without broadcasting on AArch64 NEON, 16 elements per step: TFLite's quantized addition with the
// vector MultiplyByQuantizedMultiplier of conv_neon.h. Bit-exact with ep_add_s8.
#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
namespace {

struct Rescale {
  int32x4_t mult, zero, rsh;
  int32x4_t operator()(int32x4_t v) const { return ep::neon::requantize(v, mult, zero, rsh); }
};

static inline int32_t scalar_add(const ep_add_s8_params *p, int8_t x, int8_t y) {
  const int32_t a = (int32_t)((uint32_t)(p->input1_offset + x) << p->left_shift);
  const int32_t b = (int32_t)((uint32_t)(p->input2_offset + y) << p->left_shift);
  const int32_t sa = ep::multiply_by_quantized_multiplier(a, p->input1_multiplier, p->input1_shift);
  const int32_t sb = ep::multiply_by_quantized_multiplier(b, p->input2_multiplier, p->input2_shift);
  const int32_t r = ep::multiply_by_quantized_multiplier(sa + sb, p->output_multiplier, p->output_shift);
  return ep::clamp_i32(r + p->output_offset, p->act_min, p->act_max);
}

}  // namespace
#endif

extern "C" ep_status ep_add_s8_neon(const ep_add_s8_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
#if defined(__aarch64__) && defined(__ARM_NEON)
  if (p->broadcast || p->left_shift < 0 || p->left_shift > 20 || p->input1_shift > 0 || p->input2_shift > 0 ||
      p->output_shift > 0)
    return EP_ERROR_ARGUMENT;
  const int32x4_t zero = vdupq_n_s32(0), left = vdupq_n_s32(p->left_shift);
  const Rescale r1{vdupq_n_s32(p->input1_multiplier), zero, vdupq_n_s32(p->input1_shift)};
  const Rescale r2{vdupq_n_s32(p->input2_multiplier), zero, vdupq_n_s32(p->input2_shift)};
  const Rescale ro{vdupq_n_s32(p->output_multiplier), zero, vdupq_n_s32(p->output_shift)};
  const int16x8_t off1 = vdupq_n_s16((int16_t)p->input1_offset), off2 = vdupq_n_s16((int16_t)p->input2_offset);
  const int16x8_t offset = vdupq_n_s16((int16_t)p->output_offset);
  const int8x8_t lo = vdup_n_s8((int8_t)p->act_min), hi = vdup_n_s8((int8_t)p->act_max);
  const int32_t n = p->size;
  int32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const int8x16_t x = vld1q_s8(in1 + i), y = vld1q_s8(in2 + i);
    // (x + offset) is in [-255, 255]: exact in int16, and the shift by <= 20 stays inside int32.
    const int16x8_t xl = vaddw_s8(off1, vget_low_s8(x)), xh = vaddw_high_s8(off1, x);
    const int16x8_t yl = vaddw_s8(off2, vget_low_s8(y)), yh = vaddw_high_s8(off2, y);
    int32x4_t s[4];
    s[0] = vaddq_s32(r1(vshlq_s32(vmovl_s16(vget_low_s16(xl)), left)),
                     r2(vshlq_s32(vmovl_s16(vget_low_s16(yl)), left)));
    s[1] = vaddq_s32(r1(vshlq_s32(vmovl_high_s16(xl), left)), r2(vshlq_s32(vmovl_high_s16(yl), left)));
    s[2] = vaddq_s32(r1(vshlq_s32(vmovl_s16(vget_low_s16(xh)), left)),
                     r2(vshlq_s32(vmovl_s16(vget_low_s16(yh)), left)));
    s[3] = vaddq_s32(r1(vshlq_s32(vmovl_high_s16(xh), left)), r2(vshlq_s32(vmovl_high_s16(yh), left)));
    const int8x8_t a = ep::neon::narrow(ro(s[0]), ro(s[1]), offset, lo, hi);
    const int8x8_t b = ep::neon::narrow(ro(s[2]), ro(s[3]), offset, lo, hi);
    vst1q_s8(out + i, vcombine_s8(a, b));
  }
  for (; i < n; ++i) out[i] = (int8_t)scalar_add(p, in1[i], in2[i]);
  return EP_OK;
#else
  (void)p, (void)in1, (void)in2, (void)out;
  return EP_ERROR_ARGUMENT;
#endif
}
