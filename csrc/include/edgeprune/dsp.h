/* Armv7E-M DSP (SIMD32) intrinsic wrappers with a plain-C emulation for hosts without the extension,
 * plus an exact fast requantization sequence. Header-only, C++.
 *
 * Packed int16 pairs are held in a uint32_t: bits 0-15 are the "bottom" half, 16-31 the "top" half.
 * On Cortex-M4/M7/M55 (__ARM_FEATURE_DSP) each wrapper is one instruction; elsewhere it is emulated
 * bit for bit, so host tests exercise the same data layout and arithmetic as the firmware. */
#ifndef EDGEPRUNE_DSP_H
#define EDGEPRUNE_DSP_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define EP_HAVE_DSP 1
#else
#define EP_HAVE_DSP 0
#endif

#if defined(__GNUC__)
#define EP_DSP_INLINE static inline __attribute__((always_inline))
#define EP_DSP_HOT __attribute__((optimize("O3")))
#else
#define EP_DSP_INLINE static inline
#define EP_DSP_HOT
#endif

namespace ep {
namespace dsp {

/* Unaligned-safe 32-bit load/store (a single LDR/STR on Cortex-M, which allows unaligned word access). */
EP_DSP_INLINE uint32_t load32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
EP_DSP_INLINE void store32(void *p, uint32_t v) { memcpy(p, &v, 4); }

#if EP_HAVE_DSP

/* acc + lo(a)*lo(b) + hi(a)*hi(b), int16 halves, wrapping int32 sum. */
EP_DSP_INLINE int32_t smlad(uint32_t a, uint32_t b, int32_t acc) {
  return __smlad((int16x2_t)a, (int16x2_t)b, acc);
}
/* (lo16(a) + sext(byte0(x)), hi16(a) + sext(byte2(x))) */
EP_DSP_INLINE uint32_t sxtab16(uint32_t a, uint32_t x) { return (uint32_t)__sxtab16((int16x2_t)a, (int8x4_t)x); }
/* (lo16(a) + sext(byte1(x)), hi16(a) + sext(byte3(x))): SXTAB16 with the operand rotated by 8. */
EP_DSP_INLINE uint32_t sxtab16_ror8(uint32_t a, uint32_t x) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
  return r;
}
EP_DSP_INLINE uint32_t sxtb16(uint32_t x) { return (uint32_t)__sxtb16((int8x4_t)x); }
EP_DSP_INLINE uint32_t sxtb16_ror8(uint32_t x) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
/* acc + lo(a)*lo(b) / hi(a)*hi(b) (16x16 -> 32, wrapping). */
EP_DSP_INLINE int32_t smlabb(uint32_t a, uint32_t b, int32_t acc) { return __smlabb((int32_t)a, (int32_t)b, acc); }
EP_DSP_INLINE int32_t smlatt(uint32_t a, uint32_t b, int32_t acc) { return __smlatt((int32_t)a, (int32_t)b, acc); }

#else /* host emulation */

EP_DSP_INLINE int32_t lo16(uint32_t v) { return (int32_t)(int16_t)(uint16_t)(v & 0xFFFFu); }
EP_DSP_INLINE int32_t hi16(uint32_t v) { return (int32_t)(int16_t)(uint16_t)(v >> 16); }
EP_DSP_INLINE int32_t sbyte(uint32_t v, int i) { return (int32_t)(int8_t)(uint8_t)((v >> (8 * i)) & 0xFFu); }
EP_DSP_INLINE uint32_t pack16(int32_t lo, int32_t hi) {
  return ((uint32_t)lo & 0xFFFFu) | (((uint32_t)hi & 0xFFFFu) << 16);
}
EP_DSP_INLINE int32_t smlad(uint32_t a, uint32_t b, int32_t acc) {
  const uint32_t s = (uint32_t)(lo16(a) * lo16(b)) + (uint32_t)(hi16(a) * hi16(b));
  return (int32_t)((uint32_t)acc + s);
}
EP_DSP_INLINE uint32_t sxtab16(uint32_t a, uint32_t x) { return pack16(lo16(a) + sbyte(x, 0), hi16(a) + sbyte(x, 2)); }
EP_DSP_INLINE uint32_t sxtab16_ror8(uint32_t a, uint32_t x) {
  return pack16(lo16(a) + sbyte(x, 1), hi16(a) + sbyte(x, 3));
}
EP_DSP_INLINE uint32_t sxtb16(uint32_t x) { return pack16(sbyte(x, 0), sbyte(x, 2)); }
EP_DSP_INLINE uint32_t sxtb16_ror8(uint32_t x) { return pack16(sbyte(x, 1), sbyte(x, 3)); }
EP_DSP_INLINE int32_t smlabb(uint32_t a, uint32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(lo16(a) * lo16(b)));
}
EP_DSP_INLINE int32_t smlatt(uint32_t a, uint32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(hi16(a) * hi16(b)));
}

#endif

/* Both int16 halves set to v (e.g. the input offset for SXTAB16). */
EP_DSP_INLINE uint32_t dup16(int32_t v) { return ((uint32_t)v & 0xFFFFu) * 0x00010001u; }

/* Per-channel requantization constants, derived from TFLite's (multiplier, shift) once per kernel call. */
struct Requant {
  int32_t m2;     /* 2 * multiplier as int32 (= 2m - 2^32, since m >= 2^30) */
  int32_t left;   /* shift > 0: left shift of the accumulator */
  int32_t right;  /* shift < 0: the rounding right shift e */
  int32_t hb;     /* e >= 1: 2^(e-1), else 0 */
  int32_t emask;  /* e >= 1: -1, else 0 */
};

EP_DSP_INLINE Requant requant_params(int32_t multiplier, int32_t shift) {
  Requant r;
  r.m2 = (int32_t)((uint32_t)multiplier << 1);
  r.left = shift > 0 ? shift : 0;
  r.right = shift > 0 ? 0 : -shift;
  r.hb = r.right > 0 ? (int32_t)(1u << (r.right - 1)) : 0;
  r.emask = r.right > 0 ? -1 : 0;
  return r;
}

EP_DSP_INLINE void requant_table(const int32_t *multiplier, const int32_t *shift, int32_t n, Requant *table) {
  for (int32_t i = 0; i < n; ++i) table[i] = requant_params(multiplier[i], shift[i]);
}

/* Exactly ep::multiply_by_quantized_multiplier(x, m, shift) (TFLite's double rounding) when
 * 2^30 <= m < 2^31, -31 <= shift <= 30 and, for shift < 0 (e = -shift), |x| + 2^(e-1) + 2 < 2^31.
 * The specializers prove these at build time (the bound from |bias| + 255 * sum |w| per channel).
 *
 * With x' = x << max(shift, 0) and P = x' * m, SaturatingRoundingDoublingHighMul is h = floor((P + 2^30) / 2^31)
 * for both signs (no saturation since m != INT32_MIN), and RoundingDivideByPOT(h, e) = floor((h + 2^(e-1)
 * - [h < 0]) / 2^e). Nested floors merge: the result is floor((P + 2^30 + (2^(e-1) - s) 2^31) / 2^(31+e)), where
 * s = [x' < 0] may replace [h < 0] (they differ only when h == 0, and then both give 0). One SMLAL computes
 * the high word of 2P + K with K = 2^31 + (2^(e-1) - s) 2^32 using the int32 2m - 2^32; adding x' back
 * corrects for the -2^32. Then an arithmetic shift by e. */
EP_DSP_INLINE int32_t requantize(int32_t x, const Requant &q) {
  const int32_t xs = (int32_t)((uint32_t)x << q.left);
  const int32_t khi = q.hb + ((xs >> 31) & q.emask);
#if EP_HAVE_DSP
  uint32_t lo = 0x80000000u;
  int32_t hi = khi;
  __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(xs), "r"(q.m2));
#else
  const uint64_t k = ((uint64_t)(uint32_t)khi << 32) | 0x80000000u;
  const uint64_t prod = (uint64_t)((int64_t)xs * (int64_t)q.m2);
  const int32_t hi = (int32_t)(uint32_t)((k + prod) >> 32);
#endif
  return (int32_t)((uint32_t)hi + (uint32_t)xs) >> q.right;
}

}  // namespace dsp
}  // namespace ep

#endif
