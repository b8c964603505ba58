// ADD int8 without broadcasting on AArch64 NEON, 16 elements per step: TFLite's quantized addition with the
// vector MultiplyByQuantizedMultiplier of conv_neon.h. Bit-exact with ep_add_s8.
#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv_neon.h"
#include "edgeprune/detail/neon32_compat.h"

#if defined(__ARM_NEON)  // AArch64, and AArch32 (rpi4-armv7) via neon32_compat.h
namespace {

// MultiplyByQuantizedMultiplier with a shift <= 0 (ADD's rescales): no left shift. KIND: ANY_SHIFT (masked rounding
// fixup), NEGATIVE (the shift is < 0: the fixup of conv_neon.h needs no mask) or ZERO (RoundingDivideByPOT by 0 is
// the identity) or HALF (shift 0 and multiplier 2^30, TFLite's larger-scale input: SaturatingRoundingDoublingHighMul
// of (x + offset) << left_shift by 2^30 is exactly (x + offset) << (left_shift - 1), which add_vectors adds by SMLAL).
// NO_FIX (the output rescale of a fused ReLU, conv_neon.h EPI_RELU): the shift is < 0 and the rounding fixup for
// negative values is skipped (the output clamps to act_min either way).
enum { ANY_SHIFT, NEGATIVE, ZERO, HALF, NO_FIX };
template <int KIND>
struct Rescale {
  int32x4_t mult, rsh;
  int32x4_t operator()(int32x4_t v) const {
    if (KIND == HALF) return v;
    v = vqrdmulhq_s32(v, mult);
    if (KIND == ZERO) return v;
    if (KIND == NO_FIX) return vrshlq_s32(v, rsh);
    return ep::neon::round_shift<KIND == NEGATIVE>(v, rsh);
  }
};

// (x + offset) << left_shift as int32, from the int16 sums: for TFLite's left shift of 20 (any shift >= 16), the
// shift by left_shift - 16 stays inside int16 (|x + offset| <= 255, 255 << 4 < 2^15) and SHLL adds the other 16.
template <bool WIDE>
static inline void widen(int16x8_t v, int16x8_t pre, int32x4_t left, int32x4_t *lo, int32x4_t *hi) {
  if (WIDE) {
    v = vshlq_s16(v, pre);
    *lo = vshll_n_s16(vget_low_s16(v), 16);
    *hi = vshll_high_n_s16(v, 16);
  } else {
    *lo = vshlq_s32(vmovl_s16(vget_low_s16(v)), left);
    *hi = vshlq_s32(vmovl_high_s16(v), left);
  }
}

// Four int32x4 of requantized values -> 16 int8 by the output stage E of conv_neon.h (EPI_*).
template <int E>
static inline int8x16_t narrow16(int32x4_t s0, int32x4_t s1, int32x4_t s2, int32x4_t s3, int16x8_t offset,
                                 int8x16_t lo, int8x16_t hi) {
#if defined(__aarch64__)
  if (E == ep::neon::EPI_RELU_U8) {  // clamp(r, 0, 255) - 128
    const uint16x8_t a = vqmovun_high_s32(vqmovun_s32(s0), s1), b = vqmovun_high_s32(vqmovun_s32(s2), s3);
    return veorq_s8(vreinterpretq_s8_u8(vqmovn_high_u16(vqmovn_u16(a), b)), vdupq_n_s8(-128));
  }
  const int16x8_t a = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(s0), s1), offset);
  const int16x8_t b = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(s2), s3), offset);
  const int8x16_t v = vqmovn_high_s16(vqmovn_s16(a), b);
  if (E == ep::neon::EPI_FULL) return v;
  return vminq_s8(vmaxq_s8(v, lo), hi);
#else
  return vcombine_s8(ep::neon::narrow(s0, s1, offset, vget_low_s8(lo), vget_low_s8(hi)),
                     ep::neon::narrow(s2, s3, offset, vget_low_s8(lo), vget_low_s8(hi)));
#endif
}

template <bool WIDE, int K1, int K2, int KO, int E>
static inline int32_t add_vectors(const ep_add_s8_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  const int32x4_t left = vdupq_n_s32(p->left_shift);
  const int16x8_t pre1 = vdupq_n_s16((int16_t)(p->left_shift - 16)), pre2 = pre1;
  const Rescale<K1> r1{vdupq_n_s32(p->input1_multiplier), vdupq_n_s32(p->input1_shift)};
  const Rescale<K2> r2{vdupq_n_s32(p->input2_multiplier), vdupq_n_s32(p->input2_shift)};
  const Rescale<KO> ro{vdupq_n_s32(p->output_multiplier), vdupq_n_s32(p->output_shift)};
  const int16x8_t off1 = vdupq_n_s16((int16_t)p->input1_offset), off2 = vdupq_n_s16((int16_t)p->input2_offset);
  const int16x8_t offset = vdupq_n_s16((int16_t)p->output_offset);
  const int8x16_t lo = vdupq_n_s8((int8_t)p->act_min), hi = vdupq_n_s8((int8_t)p->act_max);
  const int32_t n = p->size;
  int32_t i = 0;
  const int16x8_t half_pre = vdupq_n_s16((int16_t)(p->left_shift - 15));
  for (; i + 16 <= n; i += 16) {
    const int8x16_t x = vld1q_s8(in1 + i), y = vld1q_s8(in2 + i);
    int32x4_t sum[4];
    if constexpr (WIDE && (K1 == HALF || K2 == HALF)) {
      // The HALF input's (v + offset) << (left_shift - 1) is ((v + offset) << (left_shift - 15)) * 2^14, inside
      // int16 (|v + offset| <= 255, left_shift <= 20): one SMLAL by 2^14 adds it to the other input's rescaled
      // value (exact, as the int32 addition), instead of widening it to int32 and adding.
      const int8x16_t hv = K1 == HALF ? x : y, ov = K1 == HALF ? y : x;
      const int16x8_t hoff = K1 == HALF ? off1 : off2, ooff = K1 == HALF ? off2 : off1;
      const int16x8_t h0 = vshlq_s16(vaddw_s8(hoff, vget_low_s8(hv)), half_pre);
      const int16x8_t h1 = vshlq_s16(vaddw_high_s8(hoff, hv), half_pre);
      int32x4_t b[4];
      widen<WIDE>(vaddw_s8(ooff, vget_low_s8(ov)), K1 == HALF ? pre2 : pre1, left, &b[0], &b[1]);
      widen<WIDE>(vaddw_high_s8(ooff, ov), K1 == HALF ? pre2 : pre1, left, &b[2], &b[3]);
      if constexpr (K1 == HALF) {
        b[0] = r2(b[0]), b[1] = r2(b[1]), b[2] = r2(b[2]), b[3] = r2(b[3]);
      } else {
        b[0] = r1(b[0]), b[1] = r1(b[1]), b[2] = r1(b[2]), b[3] = r1(b[3]);
      }
      sum[0] = vmlal_n_s16(b[0], vget_low_s16(h0), 1 << 14), sum[1] = vmlal_n_s16(b[1], vget_high_s16(h0), 1 << 14);
      sum[2] = vmlal_n_s16(b[2], vget_low_s16(h1), 1 << 14), sum[3] = vmlal_n_s16(b[3], vget_high_s16(h1), 1 << 14);
    } else {
      int32x4_t a[4], b[4];
      widen<WIDE>(vaddw_s8(off1, vget_low_s8(x)), pre1, left, &a[0], &a[1]);
      widen<WIDE>(vaddw_high_s8(off1, x), pre1, left, &a[2], &a[3]);
      widen<WIDE>(vaddw_s8(off2, vget_low_s8(y)), pre2, left, &b[0], &b[1]);
      widen<WIDE>(vaddw_high_s8(off2, y), pre2, left, &b[2], &b[3]);
      sum[0] = vaddq_s32(r1(a[0]), r2(b[0])), sum[1] = vaddq_s32(r1(a[1]), r2(b[1]));
      sum[2] = vaddq_s32(r1(a[2]), r2(b[2])), sum[3] = vaddq_s32(r1(a[3]), r2(b[3]));
    }
    vst1q_s8(out + i, narrow16<E>(ro(sum[0]), ro(sum[1]), ro(sum[2]), ro(sum[3]), offset, lo, hi));
  }
  return i;
}

// The output stage: with a fused ReLU (EPI_RELU*) a negative output shift needs no rounding fixup.
template <bool WIDE, int K1, int K2>
static inline int32_t add_output(const ep_add_s8_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  switch (ep::neon::epilogue(p->output_offset, p->act_min, p->act_max)) {
    case ep::neon::EPI_RELU_U8:
      return add_vectors<WIDE, K1, K2, NO_FIX, ep::neon::EPI_RELU_U8>(p, in1, in2, out);
    case ep::neon::EPI_RELU:
      return add_vectors<WIDE, K1, K2, NO_FIX, ep::neon::EPI_RELU>(p, in1, in2, out);
    case ep::neon::EPI_FULL:
      return add_vectors<WIDE, K1, K2, NEGATIVE, ep::neon::EPI_FULL>(p, in1, in2, out);
    default:
      return add_vectors<WIDE, K1, K2, NEGATIVE, ep::neon::EPI_CLAMP>(p, in1, in2, out);
  }
}

// TFLite's usual ADD: one input's shift 0, the other's and the output's negative; anything else: masked fixups.
template <bool WIDE>
static inline int32_t add_dispatch(const ep_add_s8_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  const int32_t half = 1 << 30;
  if (WIDE && p->output_shift < 0) {  // HALF: (v + offset) << (left_shift - 15) in int16 (WIDE: left_shift >= 16)
    if (p->input1_shift == 0 && p->input1_multiplier == half && p->input2_shift < 0)
      return add_output<WIDE, HALF, NEGATIVE>(p, in1, in2, out);
    if (p->input1_shift < 0 && p->input2_shift == 0 && p->input2_multiplier == half)
      return add_output<WIDE, NEGATIVE, HALF>(p, in1, in2, out);
  }
  if (p->output_shift < 0) {
    if (p->input1_shift == 0 && p->input2_shift < 0) return add_output<WIDE, ZERO, NEGATIVE>(p, in1, in2, out);
    if (p->input1_shift < 0 && p->input2_shift == 0) return add_output<WIDE, NEGATIVE, ZERO>(p, in1, in2, out);
    if (p->input1_shift < 0 && p->input2_shift < 0) return add_output<WIDE, NEGATIVE, NEGATIVE>(p, in1, in2, out);
  }
  return add_vectors<WIDE, ANY_SHIFT, ANY_SHIFT, ANY_SHIFT, ep::neon::EPI_CLAMP>(p, in1, in2, out);
}

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
#if defined(__ARM_NEON)  // AArch64, and AArch32 (rpi4-armv7) via neon32_compat.h
  if (p->broadcast || p->left_shift < 0 || p->left_shift > 20 || p->input1_shift > 0 || p->input2_shift > 0 ||
      p->output_shift > 0)
    return EP_ERROR_ARGUMENT;
  const int32_t n = p->size;
  int32_t i = p->left_shift >= 16 ? add_dispatch<true>(p, in1, in2, out) : add_dispatch<false>(p, in1, in2, out);
  for (; i < n; ++i) out[i] = (int8_t)scalar_add(p, in1[i], in2[i]);
  return EP_OK;
#else
  (void)p, (void)in1, (void)in2, (void)out;
  return EP_ERROR_ARGUMENT;
#endif
}
