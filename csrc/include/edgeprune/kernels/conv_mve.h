/* edgeprune runtime: Helium (MVE) int8 kernels for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED
 * (Cortex-M55). Bit-exact with the portable ep_conv2d_s8 / ep_depthwise_conv2d_s8 / ep_fully_connected_s8.
 *
 * The build-time rewrites (edgeprune/lower/isa/mve.py) and the layouts they produce:
 *  - input offset folded into the bias: bias'[oc] = bias[oc] + input_offset * sum(filter[oc]). Padded taps
 *    are exact because im2col fills them with the input zero point (x + input_offset == 0 there); the
 *    depthwise kernel uses the folded bias only where every tap is inside the input.
 *  - per-channel requantization in blocks of 4 channels ("rq"): int32 [ceil(out_c/4)][4 fields][4 lanes],
 *    fields = bias', multiplier, left shift (max(shift, 0)), right shift (min(shift, 0), a VRSHL amount).
 *    The depthwise kernel has a fifth field, the raw bias (used at the borders), and blocks of 8 channels.
 *  - GEMM filters ("packed"): int8 [ceil(out_c/4)][ceil(K/16)][4 channels][16], K = filter_h*filter_w*in_c,
 *    zero-padded (padding contributes exactly 0).
 *
 * Built for an MVE target (__ARM_FEATURE_MVE & 1) only; elsewhere every kernel returns EP_ERROR_ARGUMENT. */
#ifndef EDGEPRUNE_KERNELS_CONV_MVE_H
#define EDGEPRUNE_KERNELS_CONV_MVE_H

#include "edgeprune/common.h"
#include "edgeprune/kernels/elementwise.h"

EP_EXTERN_C_BEGIN

#define EP_MVE_RQ_FIELDS 4    /* GEMM kernels: bias', multiplier, left shift, right shift */
#define EP_MVE_DW_RQ_FIELDS 5 /* depthwise: bias', multiplier, left shift, right shift, raw bias */

/* CONV_2D as a GEMM: ep_conv2d_1x1_s8_mve (1x1 filter, no padding: reads the input directly) and
 * ep_conv2d_im2col_s8_mve (any geometry; see EP_MVE_IM2COL_SCRATCH_BYTES). */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t input_zero_point; /* im2col fill value for padded taps (== -input_offset) */
  int32_t output_offset;
  int32_t act_min, act_max;
  const int32_t *rq;     /* [ceil(out_c/4)][EP_MVE_RQ_FIELDS][4] */
  const int8_t *filter;  /* packed: [ceil(out_c/4)][ceil(K/16)][4][16] */
} ep_conv2d_s8_mve_params;

/* Scratch of ep_conv2d_im2col_s8_mve: two im2col rows, then the segment list of the GEMM (uintptr_t words). */
#define EP_MVE_IM2COL_SCRATCH_BYTES(filter_h, filter_w, in_c)                                          \
  (2u * (((size_t)(filter_h) * (size_t)(filter_w) * (size_t)(in_c) + 15u) & ~(size_t)15u) +          \
   4u * (3u * (size_t)(filter_h) + 1u))

ep_status ep_conv2d_1x1_s8_mve(const ep_conv2d_s8_mve_params *params, const int8_t *input, int8_t *output);
ep_status ep_conv2d_im2col_s8_mve(const ep_conv2d_s8_mve_params *params, const int8_t *input, void *scratch,
                                  int8_t *output);

/* DEPTHWISE_CONV_2D with depth_multiplier 1 (TFLite filter layout [1, H, W, C]), 16 channels per step as
 * int16 lanes: VMULLB/VMULLT multiply the even / odd channels into int32 accumulators. Its rq array is
 * [ceil(C/8)][EP_MVE_DW_RQ_FIELDS][8]: in each field the 4 even channels of the block, then the 4 odd ones. */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  const int32_t *rq; /* [ceil(out_c/8)][EP_MVE_DW_RQ_FIELDS][8] */
} ep_depthwise_conv2d_s8_mve_params;

ep_status ep_depthwise_conv2d_s8_mve(const ep_depthwise_conv2d_s8_mve_params *params, const int8_t *input,
                                     const int8_t *filter, int8_t *output);

/* FULLY_CONNECTED with symmetric weights (weights_offset == 0): VMLADAVA dot products; the rescale is the
 * reference's double-precision one. bias'[u] = bias[u] + input_offset * sum(weights[u]). */
typedef struct {
  int32_t batches, depth, units;
  int32_t output_offset;
  int32_t act_min, act_max;
  float input_scale, output_scale;
  const float *filter_scales; /* [units] */
  const int32_t *bias;        /* [units], folded */
} ep_fully_connected_s8_mve_params;

ep_status ep_fully_connected_s8_mve(const ep_fully_connected_s8_mve_params *params, const int8_t *input,
                                    const int8_t *weights, int8_t *output);

/* ADD without broadcasting (the portable ep_add_s8 params; broadcast must be 0), 4 lanes per step. */
ep_status ep_add_s8_mve(const ep_add_s8_params *params, const int8_t *input1, const int8_t *input2,
                        int8_t *output);

EP_EXTERN_C_END

#if defined(__cplusplus) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>

namespace ep {
namespace mve {

/* TFLite MultiplyByQuantizedMultiplier on 4 lanes, bit-exact:
 *  - VSHL (register) is a non-saturating left shift: wraps exactly like the scalar (uint32_t)x << left;
 *  - VQRDMULH is SaturatingRoundingDoublingHighMul (same rounding for both signs, same saturation);
 *  - RoundingDivideByPOT rounds half away from zero, VRSHL rounds half up: subtracting 1 from negative
 *    values first (only when the shift is non-zero; saturating, INT32_MIN stays put) makes them agree. */
static inline int32x4_t requantize(int32x4_t acc, int32x4_t mult, int32x4_t lsh, int32x4_t rsh,
                                   int32_t output_offset, int32x4_t lo, int32x4_t hi) {
  acc = vshlq_s32(acc, lsh);
  acc = vqrdmulhq_s32(acc, mult);
  const int32x4_t fix = vshrq_n_s32(vandq_s32(acc, rsh), 31);
  acc = vqaddq_s32(acc, fix);
  acc = vrshlq_s32(acc, rsh);
  acc = vaddq_n_s32(acc, output_offset);
  acc = vmaxq_s32(acc, lo);
  return vminq_s32(acc, hi);
}

/* The same with the fields of one 4-channel block of a GEMM rq array (bias' is already in the accumulator). */
static inline int32x4_t requantize_rq(int32x4_t acc, const int32_t *rq, int32_t output_offset, int32x4_t lo,
                                      int32x4_t hi) {
  return requantize(acc, vldrwq_s32(rq + 4), vldrwq_s32(rq + 8), vldrwq_s32(rq + 12), output_offset, lo, hi);
}

/* dst[0, n) = src[0, n) */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
  while (n >= 16) {
    vstrbq_s8(dst, vldrbq_s8(src));
    dst += 16;
    src += 16;
    n -= 16;
  }
  if (n > 0) {
    const mve_pred16_t p = vctp8q((uint32_t)n);
    vstrbq_p_s8(dst, vldrbq_z_s8(src, p), p);
  }
}

/* dst[0, n) = value */
static inline void fill_bytes(int8_t *dst, int8x16_t value, int32_t n) {
  while (n >= 16) {
    vstrbq_s8(dst, value);
    dst += 16;
    n -= 16;
  }
  if (n > 0) vstrbq_p_s8(dst, value, vctp8q((uint32_t)n));
}

/* {a, b, c, d} from core registers: two VMOVs (the compiler emits a VDUP and three lane moves). */
static inline int32x4_t make_vector(int32_t a, int32_t b, int32_t c, int32_t d) {
  int32x4_t v;
  __asm__("vmov %q[v][2], %q[v][0], %[a], %[c]\n\t"
          "vmov %q[v][3], %q[v][1], %[b], %[d]"
          : [v] "=&w"(v)
          : [a] "r"(a), [b] "r"(b), [c] "r"(c), [d] "r"(d));
  return v;
}

/* A GEMM row pair as the asm loop reads it: for each segment {16-byte chunks, pixel 0 address, pixel 1
 * address}, then a 0 terminator. */
#define EP_MVE_SEGMENT_WORDS(segs) (3u * (size_t)(segs) + 1u)

static inline void set_segment(uintptr_t *list, int32_t i, int32_t chunks, const int8_t *x0, const int8_t *x1) {
  list[3 * i] = (uintptr_t)chunks;
  list[3 * i + 1] = (uintptr_t)x0;
  list[3 * i + 2] = (uintptr_t)x1;
}

/* Output channels [0, out_c) of two pixels against the packed filter. The pixels' GEMM rows are the segments
 * of `list` (16-byte chunks only) followed, when rem > 0, by a last chunk of rem bytes at t0 / t1, loaded
 * predicated (the bytes past the row are never read). out1 may be NULL (pixel 1 is then only read). */
static inline void gemm_2rows(const uintptr_t *list, const int8_t *t0, const int8_t *t1, int32_t rem,
                              const int8_t *packed, int32_t out_c, const int32_t *rq, int32_t output_offset,
                              int32x4_t lo, int32x4_t hi, int8_t *out0, int8_t *out1) {
  const mve_pred16_t tail = vctp8q((uint32_t)rem);
  const int8_t *w = packed;
  for (int32_t oc = 0; oc < out_c; oc += 4, rq += 4 * EP_MVE_RQ_FIELDS) {
    // Accumulators start from the (folded) bias.
    int32_t s00 = rq[0], s01 = rq[1], s02 = rq[2], s03 = rq[3];
    int32_t s10 = s00, s11 = s01, s12 = s02, s13 = s03;
    {
      // 16 instructions per 128 MACs, 5 more per segment. Hand-scheduled because VMLADAVA accumulates into
      // even core registers only: eight accumulators take all of them (r14 included), which leaves no
      // register for LE's counter, and the compiler would spill around a loop over segments.
      const int8_t *x0, *x1;
      const uintptr_t *lp = list;
      uintptr_t n;
      int8x16_t v0, v1, f;
      __asm__ volatile(
          "ldr %[n], [%[lp]], #4\n\t"
          "cmp %[n], #0\n\t"
          "beq 3f\n\t"
          "0:\n\t"
          "ldr %[x0], [%[lp]], #4\n\t"
          "ldr %[x1], [%[lp]], #4\n\t"
          "1:\n\t"
          "vldrb.8 %q[v0], [%[x0]], #16\n\t"
          "vldrb.8 %q[v1], [%[x1]], #16\n\t"
          "vldrb.8 %q[f], [%[w]], #16\n\t"
          "vmlava.s8 %[s00], %q[v0], %q[f]\n\t"
          "vmlava.s8 %[s10], %q[v1], %q[f]\n\t"
          "vldrb.8 %q[f], [%[w]], #16\n\t"
          "vmlava.s8 %[s01], %q[v0], %q[f]\n\t"
          "vmlava.s8 %[s11], %q[v1], %q[f]\n\t"
          "vldrb.8 %q[f], [%[w]], #16\n\t"
          "vmlava.s8 %[s02], %q[v0], %q[f]\n\t"
          "vmlava.s8 %[s12], %q[v1], %q[f]\n\t"
          "vldrb.8 %q[f], [%[w]], #16\n\t"
          "vmlava.s8 %[s03], %q[v0], %q[f]\n\t"
          "vmlava.s8 %[s13], %q[v1], %q[f]\n\t"
          "subs %[n], %[n], #1\n\t"
          "bne 1b\n\t"
          "ldr %[n], [%[lp]], #4\n\t"
          "cmp %[n], #0\n\t"
          "bne 0b\n\t"
          "3:\n\t"
          : [s00] "+Te"(s00), [s01] "+Te"(s01), [s02] "+Te"(s02), [s03] "+Te"(s03), [s10] "+Te"(s10),
            [s11] "+Te"(s11), [s12] "+Te"(s12), [s13] "+Te"(s13), [x0] "=&r"(x0), [x1] "=&r"(x1), [w] "+r"(w),
            [n] "=&r"(n), [lp] "+r"(lp), [v0] "=&w"(v0), [v1] "=&w"(v1), [f] "=&w"(f)
          :
          : "cc", "memory");
    }
    if (rem) {
      const int8x16_t v0 = vldrbq_z_s8(t0, tail);
      const int8x16_t v1 = vldrbq_z_s8(t1, tail);
      int8x16_t f = vldrbq_s8(w);
      s00 = vmladavaq_s8(s00, v0, f);
      s10 = vmladavaq_s8(s10, v1, f);
      f = vldrbq_s8(w + 16);
      s01 = vmladavaq_s8(s01, v0, f);
      s11 = vmladavaq_s8(s11, v1, f);
      f = vldrbq_s8(w + 32);
      s02 = vmladavaq_s8(s02, v0, f);
      s12 = vmladavaq_s8(s12, v1, f);
      f = vldrbq_s8(w + 48);
      s03 = vmladavaq_s8(s03, v0, f);
      s13 = vmladavaq_s8(s13, v1, f);
      w += 64;
    }
    const int32x4_t acc0 = requantize_rq(make_vector(s00, s01, s02, s03), rq, output_offset, lo, hi);
    const int32_t left = out_c - oc;
    if (left >= 4) {
      vstrbq_s32(out0 + oc, acc0);
    } else {
      vstrbq_p_s32(out0 + oc, acc0, vctp32q((uint32_t)left));
    }
    if (out1) {
      const int32x4_t acc1 = requantize_rq(make_vector(s10, s11, s12, s13), rq, output_offset, lo, hi);
      if (left >= 4) {
        vstrbq_s32(out1 + oc, acc1);
      } else {
        vstrbq_p_s32(out1 + oc, acc1, vctp32q((uint32_t)left));
      }
    }
  }
}

}  // namespace mve
}  // namespace ep
#endif

#endif
