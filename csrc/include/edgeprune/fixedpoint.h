/* Q-format fixed-point helpers (int32 raw values) used by the quantized softmax.
 *
 * Numerically these are the functions of gemmlowp's fixedpoint library that TFLite's reference
 * kernels call (exp of negative values, 1/(1+x), rescaling between Q formats); they are written
 * here on plain int32 values with explicit integer-bit counts, and without signed-overflow UB:
 * wrapping additions go through uint32, left shifts of negative values through multiplication.
 *
 * Notation: a "Qm" value has m integer bits and 31-m fractional bits, real = raw / 2^(31-m).
 * Header-only, C++. */
#ifndef EDGEPRUNE_FIXEDPOINT_H
#define EDGEPRUNE_FIXEDPOINT_H

#include <stdint.h>

#include "edgeprune/arith.h"

namespace ep {
namespace fp {

/* Two's-complement wrapping add/sub (gemmlowp's int32 Add/Sub are plain, non-saturating). */
static inline int32_t add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline int32_t sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* Fixed-point product: Qa * Qb -> Q(a+b), rounding to nearest, saturating only -1 * -1. */
static inline int32_t mul(int32_t a, int32_t b) { return saturating_rounding_doubling_high_mul(a, b); }

/* x * 2^e for a compile-time-like e > 0, saturating to the int32 range. */
static inline int32_t saturating_shift_left(int32_t x, int e) {
  const int32_t limit = (int32_t)((1u << (31 - e)) - 1u);
  if (x > limit) return INT32_MAX;
  if (x < -limit) return INT32_MIN;
  return (int32_t)((uint32_t)x << e);
}

/* Changes the number of integer bits from src to dst: a saturating left shift when dst < src,
 * a rounding right shift when dst > src. */
static inline int32_t rescale(int32_t x, int src_integer_bits, int dst_integer_bits) {
  const int e = src_integer_bits - dst_integer_bits;
  if (e > 0) return saturating_shift_left(x, e);
  if (e < 0) return rounding_divide_by_pot(x, -e);
  return x;
}

/* (a + b) / 2 rounded to nearest, halves away from zero. */
static inline int32_t rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = (int64_t)a + (int64_t)b;
  return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* Q0 constants (raw = round(value * 2^31)). */
enum : int32_t {
  kQ0ExpMinusOneEighth = 1895147668, /* exp(-1/8) */
  kQ0OneThird = 715827883,           /* 1/3 */
  kQ0One = INT32_MAX,                /* 1 (saturated) */
};

/* exp(a) for a Q0 value a in [-1/4, 0): a 4th-order Taylor expansion around -1/8. */
static inline int32_t exp_on_interval_neg_quarter_to_0(int32_t a) {
  const int32_t x = add(a, 1 << 28); /* a + 1/8 */
  const int32_t x2 = mul(x, x);
  const int32_t x3 = mul(x2, x);
  const int32_t x4 = mul(x2, x2);
  const int32_t x4_over_4 = rounding_divide_by_pot(x4, 2);
  /* (x^4/4 + x^3) / 3 + x^2, halved: x^4/24 + x^3/6 + x^2/2 */
  const int32_t poly = rounding_divide_by_pot(add(mul(add(x4_over_4, x3), kQ0OneThird), x2), 1);
  return add(kQ0ExpMinusOneEighth, mul(kQ0ExpMinusOneEighth, add(x, poly)));
}

/* exp(a) as a Q0 value, for a value a <= 0 with `integer_bits` integer bits (1..30). The argument is
 * split into a multiple of 1/4 and a remainder in [-1/4, 0); the multiple's bits select precomputed
 * factors exp(-2^k). */
static inline int32_t exp_on_negative_values(int32_t a, int integer_bits) {
  const int frac_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
  const int32_t a_mod_quarter_minus_quarter = sub(a & (one_quarter - 1), one_quarter);
  int32_t result = exp_on_interval_neg_quarter_to_0(rescale(a_mod_quarter_minus_quarter, integer_bits, 0));
  const int32_t remainder = sub(a_mod_quarter_minus_quarter, a);

  /* exp(-2^k) in Q0 for k = -2 .. 4. */
  static const int32_t kFactors[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  for (int k = -2; k <= 4; ++k) {
    if (integer_bits > k) {
      const int bit = frac_bits + k;
      if (remainder & (int32_t)(1u << bit)) result = mul(result, kFactors[k + 2]);
    }
  }
  if (integer_bits > 5) {
    /* Below -32 the result is 0. */
    const int32_t clamp = -(int32_t)(1u << (36 - integer_bits));
    if (a < clamp) result = 0;
  }
  if (a == 0) result = kQ0One;
  return result;
}

/* 1 / (1 + a) for a Q0 value a in [0, 1), as a Q0 value: Newton-Raphson division with three steps. */
static inline int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t half_denominator = rounding_half_sum(a, kQ0One); /* Q0 */
  const int32_t k48_over_17 = 1515870810;                          /* Q2 */
  const int32_t kneg32_over_17 = -1010580540;                      /* Q2 */
  const int32_t q2_one = (int32_t)1 << 29;                         /* Q2 */
  int32_t x = add(k48_over_17, mul(half_denominator, kneg32_over_17)); /* Q2 */
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = mul(half_denominator, x);              /* Q2 */
    const int32_t one_minus = sub(q2_one, half_denominator_times_x);               /* Q2 */
    x = add(x, rescale(mul(x, one_minus), 4, 2));                                   /* Q2 */
  }
  /* x / 2 reinterpreted as Q1, then to Q0. */
  return rescale(x, 1, 0);
}

/* Reciprocal of a positive Qn value x: returns 1/x scaled into Q0 as 1 / (x / 2^num_bits_over_unit),
 * i.e. the caller shifts the result right by num_bits_over_unit more bits. */
static inline int32_t reciprocal(int32_t x, int x_integer_bits, int *num_bits_over_unit) {
  const int headroom_plus_one = __builtin_clz((uint32_t)x);
  *num_bits_over_unit = x_integer_bits - headroom_plus_one;
  const int32_t shifted_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - (1u << 31));
  return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one);
}

}  // namespace fp
}  // namespace ep

#endif
