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

/* Unaligned-safe 32-bit load/store (a single LDR/STR on Cortex-M, which allows unaligned word access).
 * __builtin_memcpy: firmware is built with -ffreestanding, where a plain memcpy stays a library call. */
#if defined(__GNUC__)
#define EP_DSP_MEMCPY __builtin_memcpy
#else
#define EP_DSP_MEMCPY memcpy
#endif
EP_DSP_INLINE uint32_t load32(const void *p) {
  uint32_t v;
  EP_DSP_MEMCPY(&v, p, 4);
  return v;
}
EP_DSP_INLINE void store32(void *p, uint32_t v) { EP_DSP_MEMCPY(p, &v, 4); }

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
EP_DSP_INLINE int32_t smulbb(uint32_t a, uint32_t b) {
  int32_t r;
  __asm__("smulbb %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
EP_DSP_INLINE int32_t smultt(uint32_t a, uint32_t b) {
  int32_t r;
  __asm__("smultt %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
}

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
EP_DSP_INLINE int32_t smulbb(uint32_t a, uint32_t b) { return lo16(a) * lo16(b); }
EP_DSP_INLINE int32_t smultt(uint32_t a, uint32_t b) { return hi16(a) * hi16(b); }

#endif

/* Both int16 halves set to v (e.g. the input offset for SXTAB16). */
EP_DSP_INLINE uint32_t dup16(int32_t v) { return ((uint32_t)v & 0xFFFFu) * 0x00010001u; }

/* Per-channel requantization entry, computed at build time from TFLite's (bias, multiplier, shift) by
 * edgeprune/lower/isa/dsp.py (requant_table) and stored in flash as int32 [out_c][4]. */
struct Requant {
  int32_t bias;
  int32_t m2;  /* 2 * multiplier as int32 (= 2m - 2^32, since m >= 2^30) */
  int32_t hb;  /* e >= 1: 2^(e-1), else 0 */
  int32_t e;   /* -shift: > 0 a rounding right shift by e, < 0 a left shift by -e */
};

/* hi32(2^31 + khi * 2^32 + a * b) for int32 a, b, computed modulo 2^64: exactly SMMLAR (most significant
 * word multiply-accumulate with rounding), one instruction. */
EP_DSP_INLINE int32_t smlal_hi(int32_t khi, int32_t a, int32_t b) {
#if EP_HAVE_DSP
  int32_t r;
  __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(khi));
  return r;
#else
  const uint64_t k = ((uint64_t)(uint32_t)khi << 32) | 0x80000000u;
  const uint64_t prod = (uint64_t)((int64_t)a * (int64_t)b);
  return (int32_t)(uint32_t)((k + prod) >> 32);
#endif
}

/* Exactly ep::multiply_by_quantized_multiplier(x, m, shift) (TFLite's double rounding) when
 * 2^30 <= m < 2^31, -31 <= shift <= 30 and, for shift < 0 (e = -shift), |x| + 2^(e-1) + 2 < 2^31.
 * The specializers prove these at build time (the bound from |bias| + 255 * sum |w| per channel).
 *
 * With x' = x << max(shift, 0) and P = x' * m, SaturatingRoundingDoublingHighMul is h = floor((P + 2^30) / 2^31)
 * for both signs (no saturation since m != INT32_MIN), and RoundingDivideByPOT(h, e) = floor((h + 2^(e-1)
 * - [h < 0]) / 2^e). Nested floors merge: the result is floor((P + 2^30 + (2^(e-1) - s) 2^31) / 2^(31+e)), where
 * s = [x' < 0] may replace [h < 0] (they differ only when h == 0, and then both give 0). One SMMLAR computes
 * the high word of 2P + K with K = 2^31 + (2^(e-1) - s) 2^32 using the int32 2m - 2^32; adding x' back
 * corrects for the -2^32. Then an arithmetic shift by e. (x here already includes the bias.)
 * The same derivation, in Python, is checked against TFLite's formula in tests/kernels/test_conv_dsp.py. */
EP_DSP_INLINE int32_t requantize(int32_t x, const Requant &q) {
  const int32_t left = q.e < 0 ? -q.e : 0, right = q.e > 0 ? q.e : 0, emask = q.e > 0 ? -1 : 0;
  const int32_t xs = (int32_t)((uint32_t)x << left);
  const int32_t hi = smlal_hi(q.hb + ((xs >> 31) & emask), xs, q.m2);
  return (int32_t)((uint32_t)hi + (uint32_t)xs) >> right;
}
/* The same when q.e >= 1 (every channel of the layer shifts right: the common case). */
EP_DSP_INLINE int32_t requantize_right(int32_t x, const Requant &q) {
  const int32_t hi = smlal_hi(q.hb + (x >> 31), x, q.m2);
  return (int32_t)((uint32_t)hi + (uint32_t)x) >> q.e;
}

EP_DSP_INLINE int32_t ssat8(int32_t v) {
#if EP_HAVE_DSP
  return __ssat(v, 8);
#else
  return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

/* out[i] = clamp(requantize(acc[i * kAccStride] + bias_i) + out_offset) for a run of channels (kRight:
 * every channel shifts right). */
template <bool kRight, int kAccStride>
EP_DSP_INLINE void requant_run_t(const int32_t *EP_RESTRICT acc, const Requant *EP_RESTRICT rq, int32_t n,
                                 int8_t *EP_RESTRICT out, int32_t out_offset, int32_t act_min, int32_t act_max) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t x = (int32_t)((uint32_t)acc[i * kAccStride] + (uint32_t)rq[i].bias);  // the reference's sum
    int32_t v = (kRight ? requantize_right(x, rq[i]) : requantize(x, rq[i])) + out_offset;
    v = v < act_min ? act_min : v;
    v = v > act_max ? act_max : v;
    out[i] = (int8_t)v;
  }
}

/* The common case as one tight loop: every channel shifts right and the clamp is the full int8 range.
 * out[i] = ssat8(requantize_right(acc[i * kAccStride] + bias_i) + out_offset), table entries consecutive.
 * On the DSP cores: 12 instructions an output (LDR, LDM of the table entry, 8 ALU, STRB, CMP+BNE). */
template <int kAccStride>
EP_DSP_INLINE void requant_ssat_run(const int32_t *acc, const Requant *tbl, int32_t n, int8_t *out,
                                    int32_t out_offset) {
  if (n <= 0) return;
#if EP_HAVE_DSP && defined(__thumb2__)
  const int8_t *const end = out + n;
  int32_t x;
  __asm__ volatile(
      "1:\n\t"
      "ldr %[x], [%[acc]], %[st]\n\t"
      "ldm %[tbl]!, {r8, r9, r10, r11}\n\t"
      "add %[x], %[x], r8\n\t"
      "add r10, r10, %[x], asr #31\n\t"
      "smmlar r10, %[x], r9, r10\n\t"
      "add r10, r10, %[x]\n\t"
      "asr r10, r10, r11\n\t"
      "add r10, r10, %[off]\n\t"
      "ssat r10, #8, r10\n\t"
      "strb r10, [%[out]], #1\n\t"
      "cmp %[out], %[end]\n\t"
      "bne 1b\n\t"
      : [x] "=&r"(x), [acc] "+r"(acc), [tbl] "+r"(tbl), [out] "+r"(out)
      : [end] "r"(end), [off] "r"(out_offset), [st] "I"(kAccStride * 4)
      : "r8", "r9", "r10", "r11", "cc", "memory");
#else
  for (int32_t i = 0; i < n; ++i) {
    const int32_t v = (int32_t)((uint32_t)acc[i * kAccStride] + (uint32_t)tbl[i].bias);
    out[i] = (int8_t)ssat8(requantize_right(v, tbl[i]) + out_offset);
  }
#endif
}

/* The same for two pixels at once: acc[2 i] and acc[2 i + 1] (the GEMM kernels' [channel][2 pixels]) into
 * out0[i] and out1[i], one table entry per channel. On the DSP cores: 10 instructions an output (LDRD of
 * both accumulators, LDM of the table entry, 2 ADD, 2 x 6 ALU, 2 STRB, CMP+BNE). out1 may equal out0. */
EP_DSP_INLINE void requant_ssat_pair(const int32_t *acc, const Requant *tbl, int32_t n, int8_t *out0, int8_t *out1,
                                     int32_t out_offset) {
  if (n <= 0) return;
#if EP_HAVE_DSP && defined(__thumb2__)
  const int8_t *const end = out0 + n;
  const int32_t d = (int32_t)(out1 - out0);
  int32_t x0, x1, t;
  __asm__ volatile(
      "1:\n\t"
      "ldrd %[x0], %[x1], [%[acc]], #8\n\t"
      "ldm %[tbl]!, {r8, r9, r10, r11}\n\t"
      "add %[x0], %[x0], r8\n\t"
      "add %[x1], %[x1], r8\n\t"
      "add %[t], r10, %[x0], asr #31\n\t"
      "smmlar %[t], %[x0], r9, %[t]\n\t"
      "add %[t], %[t], %[x0]\n\t"
      "asr %[t], %[t], r11\n\t"
      "add %[t], %[t], %[off]\n\t"
      "ssat %[t], #8, %[t]\n\t"
      "add r10, r10, %[x1], asr #31\n\t"
      "smmlar r10, %[x1], r9, r10\n\t"
      "add r10, r10, %[x1]\n\t"
      "asr r10, r10, r11\n\t"
      "add r10, r10, %[off]\n\t"
      "ssat r10, #8, r10\n\t"
      "strb r10, [%[out], %[d]]\n\t"
      "strb %[t], [%[out]], #1\n\t"
      "cmp %[out], %[end]\n\t"
      "bne 1b\n\t"
      : [x0] "=&r"(x0), [x1] "=&r"(x1), [t] "=&r"(t), [acc] "+r"(acc), [tbl] "+r"(tbl), [out] "+r"(out0)
      : [end] "r"(end), [off] "r"(out_offset), [d] "r"(d)
      : "r8", "r9", "r10", "r11", "cc", "memory");
#else
  for (int32_t i = 0; i < n; ++i) {
    const int32_t v0 = (int32_t)((uint32_t)acc[2 * i] + (uint32_t)tbl[i].bias);
    const int32_t v1 = (int32_t)((uint32_t)acc[2 * i + 1] + (uint32_t)tbl[i].bias);
    out1[i] = (int8_t)ssat8(requantize_right(v1, tbl[i]) + out_offset);
    out0[i] = (int8_t)ssat8(requantize_right(v0, tbl[i]) + out_offset);
  }
#endif
}

struct RequantRun {
  const Requant *table;
  int32_t out_offset, act_min, act_max;
  bool all_right, fast;
  RequantRun(const int32_t *requant, int32_t all_right_, int32_t out_offset_, int32_t act_min_, int32_t act_max_)
      : table((const Requant *)(const void *)requant),
        out_offset(out_offset_),
        act_min(act_min_),
        act_max(act_max_),
        all_right(all_right_ != 0),
        fast(all_right_ != 0 && act_min_ == -128 && act_max_ == 127) {}
  /* out[i] for channels first .. first + n - 1 from acc[i * kAccStride]. */
  template <int kAccStride = 1>
  void run(const int32_t *acc, int32_t first, int32_t n, int8_t *out) const {
    const Requant *q = table + first;
    if (fast) {
      requant_ssat_run<kAccStride>(acc, q, n, out, out_offset);
    } else if (all_right) {
      requant_run_t<true, kAccStride>(acc, q, n, out, out_offset, act_min, act_max);
    } else {
      requant_run_t<false, kAccStride>(acc, q, n, out, out_offset, act_min, act_max);
    }
  }
  void operator()(const int32_t *acc, int32_t first, int32_t n, int8_t *out) const { run<1>(acc, first, n, out); }
  /* Channels 0 .. n - 1 of two pixels from acc[channel][2 pixels]; out1 == out0 requantizes pixel 0 only. */
  void run_pair(const int32_t *acc, int32_t n, int8_t *out0, int8_t *out1) const {
    if (fast) {
      requant_ssat_pair(acc, table, n, out0, out1, out_offset);
      return;
    }
    run<2>(acc, 0, n, out0);
    if (out1 != out0) run<2>(acc + 1, 0, n, out1);
  }
};

}  // namespace dsp
}  // namespace ep

#endif
