/* edgeprune runtime: AArch64 NEON int8 kernels for CONV_2D, DEPTHWISE_CONV_2D, ADD and AVERAGE_POOL_2D (Raspberry
 * Pi 4 / 5). Bit-exact with the portable ep_conv2d_s8 / ep_depthwise_conv2d_s8 / ep_add_s8 / ep_avg_pool_s8.
 *
 * Build-time rewrites (edgeprune/lower/isa/neon.py):
 *  - input offset folded into the bias: bias'[oc] = bias[oc] + input_offset * sum(filter[oc]) (mod 2^32, as the
 *    int32 accumulator wraps). The kernels multiply raw int8 inputs; taps outside the input read the input zero
 *    point (x + input_offset == 0 there), so the fold is exact at the borders too.
 *  - requantization per output-channel tile ("rq"): int32 [ceil(out_c/T)][4 fields][T] (SDOT: 5 fields, the bias
 *    twice), fields = bias',
 *    multiplier, left shift (max(shift, 0)), right shift (min(shift, 0), an SRSHL amount); T = the tile's
 *    output channels (4 for SMLAL, 8 for SDOT, 16 per channel block for depthwise); GEMM tiles as below.
 *  - GEMM filters re-laid-out in the micro-kernel's panel order, zero-padded (zero weights add exactly 0), K
 *    (= filter_h * filter_w * in_c) padded to a multiple of 16:
 *      ep_conv2d_s8_neon (SMULL/SMLAL2 + SADALP, any Armv8-A): [ceil(oc/4)][K/16][4 oc][16 k]. int16 holds the
 *        sum of two products only if no weight is -128 (|x * w| <= 128 * 127): the specializer checks it.
 *      ep_conv2d_s8_sdot (SDOT by element, Armv8.2-A dotprod): per tile, 8 wide [K/16][4 k-groups][2][4 oc][4 k]
 *        or 4 wide [K/16][4 k-groups][4 oc][4 k]. Tiles (neon.py sdot_tiles): 8 channels from 0, then a remainder of
 *        1-4 channels as a 4-wide tile [out_c - 4, out_c), of 5-7 as an 8-wide tile [out_c - 8, out_c); fewer than
 *        8 channels: one zero-padded tile (4 wide up to 4 channels). rq per 4-wide tile: bias' 4 times, then the
 *        multiplier and shifts (7 x 4 int32).
 *  - depthwise filters and rq packed per 16-channel block (see ep_depthwise_conv2d_s8_neon_params).
 *
 * Built for AArch64 NEON (SDOT: __ARM_FEATURE_DOTPROD too; ep_conv2d_s8_neon: AArch64 only). On AArch32 NEON
 * (rpi4-armv7) ep_conv2d_s8_neon32 takes the GEMM, and the depthwise, ADD and average-pool kernels build from the
 * same source through detail/neon32_compat.h. Elsewhere every kernel returns EP_ERROR_ARGUMENT. */
#ifndef EDGEPRUNE_KERNELS_CONV_NEON_H
#define EDGEPRUNE_KERNELS_CONV_NEON_H

#include "edgeprune/common.h"
#include "edgeprune/kernels/elementwise.h"
#include "edgeprune/kernels/pooling.h"

EP_EXTERN_C_BEGIN

#define EP_NEON_RQ_FIELDS 4     /* bias', multiplier, left shift, right shift */
#define EP_NEON_SDOT_RQ_FIELDS 5 /* SDOT tiles: bias' twice (one LD1 starts 4 accumulators), then the same 3 */
#define EP_NEON_GEMM_PIXELS 8   /* output pixels per GEMM step (im2col rows in the scratch) */

/* CONV_2D as a GEMM over output pixels. direct = 1: 1x1 filter, no padding, in_c % 16 == 0: the GEMM reads the
 * input pixels in place. Otherwise the scratch holds the input padded with its zero point (when the filter reads
 * outside it, or when an in-place segment would read past its end), and with segments = 1 (dilation_w 1) the GEMM
 * reads each window's filter_h rows in place from it, filter_w * in_c bytes rounded up to 16 per row (K is packed
 * the same way: the extra bytes meet zero weights), else EP_NEON_GEMM_PIXELS im2col rows of k_padded bytes (and 16
 * spare bytes) that follow it in the scratch. Output channels go in tiles of 4 (SMLAL; when out_c % 4 != 0 the last
 * tile is [out_c - 4, out_c), overlapping the one before it, so every tile stores whole) or 8 / 4 (SDOT, above). */
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
  int32_t k_padded; /* filter_h * filter_w * in_c rounded up to 16; segments: filter_h * (filter_w * in_c rounded up) */
  int32_t direct;
  int32_t segments;    /* 1: each window's filter rows read in place, K = filter_h * segment bytes (see above);
                        * 2: columns (small filter_h * in_c); 3: planes (SDOT, in_c % 16 == 0; see neon_gemm.h) */
  int32_t left_shifts; /* 1 when some output channel's shift is positive (else the left-shift step is skipped) */
  int32_t all_right;   /* 1 when every output channel's shift is negative (the rounding fixup then needs no mask) */
  const int32_t *rq;    /* [ceil(out_c/T)][EP_NEON_RQ_FIELDS][T] */
  const int8_t *filter; /* packed, see above */
} ep_conv2d_s8_neon_params;

#define EP_NEON_GEMM_SCRATCH_BYTES(k_padded) ((size_t)EP_NEON_GEMM_PIXELS * (size_t)(k_padded)) /* im2col rows */

ep_status ep_conv2d_s8_neon(const ep_conv2d_s8_neon_params *params, const int8_t *input, void *scratch,
                            int8_t *output);
ep_status ep_conv2d_s8_sdot(const ep_conv2d_s8_neon_params *params, const int8_t *input, void *scratch,
                            int8_t *output);
/* AArch32 NEON (armv7-a, 32-bit Raspberry Pi OS; csrc/kernels/conv2d_s8_neon32.cc): the same params, filter
 * layout (ep_conv2d_s8_neon's 4-channel panels, weights in [-127, 127]), rq and scratch as ep_conv2d_s8_neon; a
 * GEMM tile of 2 pixels x 4 channels (VMULL + VMLAL + VPADAL). Elsewhere it returns EP_ERROR_ARGUMENT. */
ep_status ep_conv2d_s8_neon32(const ep_conv2d_s8_neon_params *params, const int8_t *input, void *scratch,
                              int8_t *output);

/* DEPTHWISE_CONV_2D with depth_multiplier 1, 16 channels per step, two taps summed in int16 (SMULL + SMLAL, then
 * SADDW into int32; weights in [-127, 127]). Channel blocks: [16 i, 16 i + 16) for i < ceil(C/16) - 1, the last one
 * [C - 16, C) (C >= 16; [0, 16) zero-padded when C < 16). Per block, the packed filter holds [taps][16] int8 and
 * rq [4 fields][16] int32 (bias', multiplier, left shift, right shift). The filter argument is TFLite's
 * [1, H, W, C] (used when C < 16). Scratch: the tap offsets (int32 [filter_h * filter_w], rounded up to 16
 * bytes), then, when the filter reads outside the input, the input padded with its zero point. */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t input_zero_point;
  int32_t output_offset;
  int32_t act_min, act_max;
  const int32_t *rq;     /* [blocks][EP_NEON_RQ_FIELDS][16] */
  const int8_t *filter;  /* [blocks][filter_h * filter_w][16] */
} ep_depthwise_conv2d_s8_neon_params;

ep_status ep_depthwise_conv2d_s8_neon(const ep_depthwise_conv2d_s8_neon_params *params, const int8_t *input,
                                      const int8_t *filter, void *scratch, int8_t *output);

/* ADD without broadcasting (the portable ep_add_s8 params; broadcast must be 0), 16 elements per step. */
ep_status ep_add_s8_neon(const ep_add_s8_params *params, const int8_t *input1, const int8_t *input2,
                         int8_t *output);

/* AVERAGE_POOL_2D (the portable params and scratch: channels * 4 bytes), window sums 16 channels at a time. */
ep_status ep_avg_pool_s8_neon(const ep_avg_pool_s8_params *params, const int8_t *input, int8_t *output,
                              void *scratch);

EP_EXTERN_C_END

#if defined(__cplusplus) && defined(__ARM_NEON)  /* AArch64, and AArch32 for the *_neon32.cc kernels */
#include <arm_neon.h>

namespace ep {
namespace neon {

/* TFLite MultiplyByQuantizedMultiplier on 4 lanes, bit-exact (what TFLite's optimized kernels do):
 *  - SSHL by a non-negative amount is a non-saturating left shift: wraps like the scalar (uint32_t)x << left;
 *  - SQRDMULH is SaturatingRoundingDoublingHighMul (same rounding for both signs, same saturation);
 *  - RoundingDivideByPOT rounds half away from zero, SRSHL by a negative amount rounds half up: subtracting 1
 *    from negative values first (only when the shift is non-zero) makes them agree. The subtraction (SSRA of
 *    the sign of x & rsh) cannot wrap: with a multiplier in [0, 2^31) SQRDMULH never returns INT32_MIN. */
static inline int32x4_t requantize(int32x4_t acc, int32x4_t mult, int32x4_t lsh, int32x4_t rsh) {
  acc = vshlq_s32(acc, lsh);
  acc = vqrdmulhq_s32(acc, mult);
  return vrshlq_s32(vsraq_n_s32(acc, vandq_s32(acc, rsh), 31), rsh);
}

/* RoundingDivideByPOT by -rsh (rsh <= 0) as in requantize(). ALL_RIGHT: every lane's rsh is negative, so the
 * subtract-one-from-negatives fixup needs no mask: SSRA by 31 of the value itself. */
template <bool ALL_RIGHT>
static inline int32x4_t round_shift(int32x4_t v, int32x4_t rsh) {
  if (ALL_RIGHT) return vrshlq_s32(vsraq_n_s32(v, v, 31), rsh);
  return vrshlq_s32(vsraq_n_s32(v, vandq_s32(v, rsh), 31), rsh);
}

/* The output stage a kernel may take, from the output zero point (output_offset) and the activation range, each an
 * exact rewrite of requantize() + narrow():
 *  - EPI_CLAMP: as narrow();
 *  - EPI_FULL: act_min == -128 and act_max == 127: the int8 saturation is the clamp (no SMAX / SMIN);
 *  - EPI_RELU: act_min >= the zero point (fused ReLU / ReLU6): no rounding fixup for negative values. It only
 *    changes values x < 0, where both roundings give a result <= 0, so the output (<= the zero point) clamps to
 *    act_min either way;
 *  - EPI_RELU_U8: EPI_RELU with zero point == act_min == -128 and act_max == 127: the output is
 *    clamp(r, 0, 255) - 128, i.e. SQXTUN to uint16, UQXTN to uint8 and EOR 0x80 (no offset, no clamp). */
enum { EPI_CLAMP, EPI_FULL, EPI_RELU, EPI_RELU_U8 };

static inline int epilogue(int32_t output_offset, int32_t act_min, int32_t act_max) {
  if (act_min >= output_offset && act_min <= act_max) {
    return output_offset == -128 && act_min == -128 && act_max == 127 ? EPI_RELU_U8 : EPI_RELU;
  }
  return act_min <= -128 && act_max >= 127 ? EPI_FULL : EPI_CLAMP;
}

/* f(Epi<E>{}) for the output stage E of (output_offset, act_min, act_max): the kernels' dispatch on it. */
template <int E>
struct Epi {
  static constexpr int value = E;
};
template <class F>
static inline ep_status with_epilogue(int32_t output_offset, int32_t act_min, int32_t act_max, F &&f) {
  switch (epilogue(output_offset, act_min, act_max)) {
    case EPI_FULL:
      return f(Epi<EPI_FULL>{});
    case EPI_RELU:
      return f(Epi<EPI_RELU>{});
    case EPI_RELU_U8:
      return f(Epi<EPI_RELU_U8>{});
    default:
      return f(Epi<EPI_CLAMP>{});
  }
}

/* Two int32x4 of requantized values -> 8 int8 with the output offset and the activation clamp. Saturating
 * to int16 before the offset and to int8 after it gives the same bytes as the reference's int32 clamp
 * (the clamp bounds lie inside int8). */
static inline int8x8_t narrow(int32x4_t a, int32x4_t b, int16x8_t offset, int8x8_t lo, int8x8_t hi) {
#if defined(__aarch64__)
  const int16x8_t v = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(a), b), offset);
#else
  const int16x8_t v = vqaddq_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)), offset);
#endif
  return vmin_s8(vmax_s8(vqmovn_s16(v), lo), hi);
}

}  // namespace neon
}  // namespace ep
#endif

#endif
