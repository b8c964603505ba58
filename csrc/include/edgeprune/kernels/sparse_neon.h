/* edgeprune runtime: block-sparse int8 GEMM kernels for AArch64 NEON (Raspberry Pi 4: SMULL/SMLAL + SADALP; Pi 5:
 * SDOT), for CONV_2D (1x1 read in place, or im2col) and FULLY_CONNECTED. Bit-exact with ep_conv2d_s8 /
 * ep_fully_connected_s8 on the same (zero-filled) weights.
 *
 * Format (built by edgeprune/lower/isa/neon_sparse.py): the filter rows [out_c][K] (K = filter_h * filter_w * in_c,
 * in_c innermost; FC: [units][depth]) are cut into blocks of 8 output channels x 4 consecutive k (a "group" g covers
 * k in [4g, 4g + 4)); only blocks with a non-zero weight are stored:
 *   filter  int8 [stored blocks][8 oc][4 k] (output channels past out_c are zero)
 *   blocks  int16, per 8-channel group of out_c: its block count n, then the n groups g in ascending order
 *           (k_padded / 4 <= 32767)
 *   rq      int32 [ceil(out_c/8)][4 fields][8]: bias' = bias + input_offset * sum(weights) (mod 2^32), multiplier,
 *           left shift, right shift (as the dense NEON kernels, conv_neon.h; FC uses bias' only)
 * The input offset is folded into bias' (the kernels multiply raw int8 inputs; padded taps read the input zero
 * point), so the arithmetic is an exact identity of the portable kernels'.
 *
 * The GEMM runs over tiles of output pixels (FC: batch rows). Per tile the GEMM rows (the input pixels in place
 * when direct, else im2col rows, as the dense NEON kernels) are first transposed into a table indexed by group:
 *   SDOT (ep_*_sparse_sdot, Armv8.2-A dotprod): 8 pixels, table [k_padded/4][8 px][4 k]; per stored block two
 *     table loads, two weight loads and 16 SDOT by element (256 MACs).
 *   SMLAL (ep_*_sparse_neon, any Armv8-A): 4 pixels, table [k_padded/4][4 px][4 k repeated 4 times]; per two
 *     stored blocks 48 SMULL/SMLAL/SADALP (256 MACs): two products summed in int16 need weights in [-127, 127].
 * FULLY_CONNECTED rescales in double as ep_fully_connected_s8 (input_scale * filter_scales[u] / output_scale).
 *
 * Scratch (bytes, see neon_sparse.py): the table (k_padded * 8 for SDOT, k_padded * 16 for SMLAL) then, as the
 * dense NEON GEMM, the zero-point-padded input when the filter reads outside it, the im2col rows unless the GEMM
 * reads the rows in place, and the int32 offsets of the 16-byte steps. No heap. Built for AArch64 only; elsewhere
 * the kernels return EP_ERROR_ARGUMENT. */
#ifndef EDGEPRUNE_KERNELS_SPARSE_NEON_H
#define EDGEPRUNE_KERNELS_SPARSE_NEON_H

#include <string.h>

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

#define EP_SPARSE_NEON_OC 8     /* output channels per block */
#define EP_SPARSE_NEON_PIXELS 8 /* GEMM rows gathered per step (the SMLAL kernel runs them 4 at a time) */

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t input_zero_point; /* fill value of padded taps (== -input_offset) */
  int32_t output_offset;
  int32_t act_min, act_max;
  int32_t k_padded; /* K rounded up to 16 */
  int32_t direct;   /* 1x1, no padding, in_c % 16 == 0: the rows are the input pixels */
  int32_t left_shifts, all_right;
  float input_scale, output_scale; /* FC only */
  const int32_t *rq;
  const int8_t *filter;
  const int16_t *blocks;
  const float *filter_scales; /* FC only: [units] */
} ep_sparse_neon_params;

/* CONV_2D: params geometry as the dense NEON kernels. FULLY_CONNECTED: batches 1, in_h = out_h = 1, in_w = out_w =
 * the FC batches, in_c = depth, out_c = units, 1x1 filter, strides and dilations 1, no padding. */
ep_status ep_conv2d_s8_sparse_neon(const ep_sparse_neon_params *params, const int8_t *input, void *scratch,
                                   int8_t *output);
ep_status ep_conv2d_s8_sparse_sdot(const ep_sparse_neon_params *params, const int8_t *input, void *scratch,
                                   int8_t *output);
ep_status ep_fully_connected_s8_sparse_neon(const ep_sparse_neon_params *params, const int8_t *input, void *scratch,
                                            int8_t *output);
ep_status ep_fully_connected_s8_sparse_sdot(const ep_sparse_neon_params *params, const int8_t *input, void *scratch,
                                            int8_t *output);

EP_EXTERN_C_END

#if defined(__cplusplus) && defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#include <math.h>

#include "edgeprune/arith.h"

namespace ep {
namespace sparse_neon {

enum { LEFT = 1, ALL_RIGHT = 2, FC = 4 };

/* dst[0, n) = src[0, n) without a libc call (short im2col rows). */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
  if (n >= 16) {
    for (int32_t i = 0; i + 16 < n; i += 16) vst1q_s8(dst + i, vld1q_s8(src + i));
    vst1q_s8(dst + n - 16, vld1q_s8(src + n - 16));
  } else if (n >= 8) {
    vst1_s8(dst, vld1_s8(src));
    vst1_s8(dst + n - 8, vld1_s8(src + n - 8));
  } else if (n >= 4) {
    memcpy(dst, src, 4);
    memcpy(dst + n - 4, src + n - 4, 4);
  } else {
    for (int32_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

static inline void fill_bytes(int8_t *dst, int8_t value, int32_t n) {
  const int8x16_t v = vdupq_n_s8(value);
  for (; n >= 16; n -= 16, dst += 16) vst1q_s8(dst, v);
  for (; n > 0; --n) *dst++ = value;
}

struct Source {
  int32_t padded_h, padded_w;
  bool copy;
};

static inline Source source_geometry(const ep_sparse_neon_params *p) {
  Source s;
  s.padded_h = (p->out_h - 1) * p->stride_h + (p->filter_h - 1) * p->dilation_h + 1;
  s.padded_w = (p->out_w - 1) * p->stride_w + (p->filter_w - 1) * p->dilation_w + 1;
  s.copy = p->pad_h > 0 || p->pad_w > 0 || s.padded_h > p->in_h || s.padded_w > p->in_w;
  if (!s.copy) s.padded_h = p->in_h, s.padded_w = p->in_w;
  return s;
}

static inline void pad_image(const ep_sparse_neon_params *p, const Source &s, const int8_t *in_b, int8_t *dst) {
  const int32_t C = p->in_c, row_bytes = s.padded_w * C;
  const int8_t zp = (int8_t)p->input_zero_point;
  const int32_t left = p->pad_w < s.padded_w ? p->pad_w : s.padded_w;
  int32_t inside = s.padded_w - left < p->in_w ? s.padded_w - left : p->in_w;
  if (inside < 0) inside = 0;
  for (int32_t y = 0; y < s.padded_h; ++y, dst += row_bytes) {
    const int32_t iy = y - p->pad_h;
    if (iy < 0 || iy >= p->in_h || inside == 0) {
      fill_bytes(dst, zp, row_bytes);
      continue;
    }
    fill_bytes(dst, zp, left * C);
    copy_bytes(dst + left * C, in_b + (size_t)iy * p->in_w * C, inside * C);
    fill_bytes(dst + (left + inside) * C, zp, row_bytes - (left + inside) * C);
  }
}

/* The 16-byte steps of a GEMM row: step s reads rows[i] + offsets[s]. */
struct Steps {
  const int32_t *offsets;
  int32_t count;
};

/* Bytes of the group table before the GEMM driver's part of the scratch. */
static inline size_t table_bytes(const ep_sparse_neon_params *p, bool sdot) {
  return (size_t)p->k_padded * (sdot ? 8u : 16u);
}

/* The dense NEON GEMM driver (edgeprune/detail/neon_gemm.h), on this header's params: walks the output pixels
 * EP_SPARSE_NEON_PIXELS at a time and hands the tile one GEMM row per pixel. */
template <class Tile>
static inline ep_status conv_gemm(const ep_sparse_neon_params *p, const int8_t *input, void *scratch, int8_t *output,
                                  const Tile &tile) {
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || p->in_c <= 0 ||
      p->out_c <= 0 || p->k_padded < p->filter_h * p->filter_w * p->in_c || p->k_padded % 16 != 0 ||
      p->k_padded / 4 > 32767 ||
      (p->direct && (p->in_c % 16 != 0 || p->filter_h != 1 || p->filter_w != 1 || p->pad_h || p->pad_w)))
    return EP_ERROR_ARGUMENT;
  const Source src = p->direct ? Source{p->in_h, p->in_w, false} : source_geometry(p);
  const bool segments = p->direct || (p->dilation_w == 1 && (p->filter_w * p->in_c) % 16 == 0);
  const size_t in_image = (size_t)p->in_h * p->in_w * p->in_c;
  const size_t src_row = (size_t)src.padded_w * p->in_c;
  int8_t *padded = (int8_t *)scratch;
  int8_t *cols = padded + (src.copy ? ((src_row * src.padded_h + 15u) & ~(size_t)15u) : 0);
  const int32_t row_bytes = p->filter_w * p->in_c, k = p->filter_h * row_bytes;
  int32_t *offsets = (int32_t *)(void *)(segments ? cols
                                                  : cols + (size_t)EP_SPARSE_NEON_PIXELS * (size_t)p->k_padded + 16);
  int32_t n_steps = 0;
  if (segments && !p->direct) {
    const int32_t stride = (int32_t)(src_row * p->dilation_h);
    for (int32_t fy = 0; fy < p->filter_h; ++fy)
      for (int32_t b = 0; b < row_bytes; b += 16) offsets[n_steps++] = fy * stride + b;
  } else {
    for (int32_t b = 0; b < p->k_padded; b += 16) offsets[n_steps++] = b;
  }
  const Steps steps{offsets, n_steps};
  if (!segments && p->k_padded > k) {
    for (int32_t i = 0; i < EP_SPARSE_NEON_PIXELS; ++i)
      memset(cols + (size_t)i * p->k_padded + k, 0, (size_t)(p->k_padded - k));
  }
  const int32_t pixels = p->out_h * p->out_w;
  const int32_t filter_h = p->filter_h, filter_w = p->filter_w, in_c = p->in_c, dilation_w = p->dilation_w;
  const int32_t k_padded = p->k_padded, out_w = p->out_w;
  const size_t tap_row = src_row * (size_t)p->dilation_h, y_step = src_row * (size_t)p->stride_h;
  const size_t x_step = (size_t)p->stride_w * (size_t)in_c;
  const bool short_rows = src.copy && dilation_w == 1 && row_bytes < 16;
  int8_t *out = output;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *image = input + (size_t)b * in_image;
    if (src.copy) {
      pad_image(p, src, image, padded);
      image = padded;
    }
    int32_t ox = 0;
    const int8_t *row_start = image, *window = image;
    for (int32_t q = 0; q < pixels; q += EP_SPARSE_NEON_PIXELS) {
      const int32_t n = pixels - q < EP_SPARSE_NEON_PIXELS ? pixels - q : EP_SPARSE_NEON_PIXELS;
      const int8_t *rows[EP_SPARSE_NEON_PIXELS];
      for (int32_t i = 0; i < n; ++i) {
        if (segments) {
          rows[i] = window;
        } else {
          int8_t *dst = cols + (size_t)i * k_padded;
          if (dilation_w == 1 && row_bytes == 4) {
            for (int32_t fy = 0; fy < filter_h; ++fy) memcpy(dst + 4 * fy, window + (size_t)fy * tap_row, 4);
          } else if (short_rows) {
            // 16 bytes per short row, in order: each overrun is overwritten by the next row, the K tail (zero
            // weights), the next pixel's row or the 16 spare bytes; the reads stay inside the padded copy.
            for (int32_t fy = 0; fy < filter_h; ++fy)
              vst1q_s8(dst + fy * row_bytes, vld1q_s8(window + (size_t)fy * tap_row));
          } else {
            for (int32_t fy = 0; fy < filter_h; ++fy) {
              const int8_t *r = window + (size_t)fy * tap_row;
              if (dilation_w == 1) {
                copy_bytes(dst + fy * row_bytes, r, row_bytes);
              } else {
                for (int32_t fx = 0; fx < filter_w; ++fx)
                  copy_bytes(dst + fy * row_bytes + fx * in_c, r + (size_t)fx * dilation_w * in_c, in_c);
              }
            }
          }
          rows[i] = dst;
        }
        window += x_step;
        if (++ox == out_w) ox = 0, row_start += y_step, window = row_start;
      }
      for (int32_t i = n; i < EP_SPARSE_NEON_PIXELS; ++i) rows[i] = rows[n - 1];
      tile(rows, n, steps, out + (size_t)q * p->out_c);
    }
    out += (size_t)pixels * p->out_c;
  }
  return EP_OK;
}

/* RoundingDivideByPOT by -rsh (rsh <= 0), as the dense NEON kernels (conv_neon.h round_shift). */
template <bool ALL>
static inline int32x4_t round_shift(int32x4_t v, int32x4_t rsh) {
  if (ALL) return vrshlq_s32(vsraq_n_s32(v, v, 31), rsh);
  return vrshlq_s32(vsraq_n_s32(v, vandq_s32(v, rsh), 31), rsh);
}

/* Output offset and activation clamp, set once per tile (the int8 output stores may alias *p: the compiler would
 * reload them per channel group). */
struct Clamp {
  int16x8_t offset;
  int8x16_t lo, hi;
  explicit inline Clamp(const ep_sparse_neon_params *p)
      : offset(vdupq_n_s16((int16_t)p->output_offset)), lo(vdupq_n_s8((int8_t)p->act_min)),
        hi(vdupq_n_s8((int8_t)p->act_max)) {}
};

/* Requantization of one 8-channel group (fields loaded once per group), two pixels at a time. */
template <int F>
struct Requant {
  int32x4_t m0, m1, l0, l1, s0, s1;
  Clamp c;

  inline Requant(const int32_t *rq, const Clamp &clamp) : c(clamp) {
    m0 = vld1q_s32(rq + 8), m1 = vld1q_s32(rq + 12);
    if (F & LEFT) l0 = vld1q_s32(rq + 16), l1 = vld1q_s32(rq + 20);
    else l0 = l1 = vdupq_n_s32(0);
    s0 = vld1q_s32(rq + 24), s1 = vld1q_s32(rq + 28);
  }

  inline int16x8_t half(int32x4_t a, int32x4_t b) const {
    if (F & LEFT) a = vshlq_s32(a, l0), b = vshlq_s32(b, l1);
    a = round_shift<(F & ALL_RIGHT) != 0>(vqrdmulhq_s32(a, m0), s0);
    b = round_shift<(F & ALL_RIGHT) != 0>(vqrdmulhq_s32(b, m1), s1);
    return vqaddq_s16(vqmovn_high_s32(vqmovn_s32(a), b), c.offset);
  }

  /* Two pixels' 8 channels (a0 | a1, b0 | b1, bias' included) as 16 clamped int8. */
  inline int8x16_t pair(int32x4_t a0, int32x4_t a1, int32x4_t b0, int32x4_t b1) const {
    return vminq_s8(vmaxq_s8(vqmovn_high_s16(vqmovn_s16(half(a0, a1)), half(b0, b1)), c.lo), c.hi);
  }

  /* Both pixels and all 8 channels present: pixel i at dst, pixel i + 1 at dst + stride. */
  inline void store_pair(int32x4_t a0, int32x4_t a1, int32x4_t b0, int32x4_t b1, int8_t *dst, size_t stride) const {
    const int8x16_t v = pair(a0, a1, b0, b1);
    vst1_s8(dst, vget_low_s8(v));
    vst1q_lane_s64((int64_t *)(void *)(dst + stride), vreinterpretq_s64_s8(v), 1);
  }
};

/* A tile's edge (fewer than 8 channels in the group or a partial pixel tile), and FULLY_CONNECTED: the n pixels'
 * sums[px][2] (bias' included) of channels [oc, oc + count). Out of line: its byte loops and the FC's round() are
 * calls, and the vector registers of the main path would be saved around them. */
template <int F>
__attribute__((noinline)) void store_edge(const ep_sparse_neon_params *p, const int32_t *rq, const int32x4_t (*sums)[2],
                                          int32_t n, int32_t oc, int8_t *dst) {
  const int32_t left = p->out_c - oc, count = left < 8 ? left : 8;
  const size_t stride = (size_t)p->out_c;
  if (F & FC) {
    const double in_scale = (double)p->input_scale, out_scale = (double)p->output_scale;
    for (int32_t i = 0; i < n; ++i) {
      int32_t acc[8];
      vst1q_s32(acc, sums[i][0]);
      vst1q_s32(acc + 4, sums[i][1]);
      for (int32_t o = 0; o < count; ++o) {
        const double effective = in_scale * (double)p->filter_scales[oc + o] / out_scale;
        double scaled = round((double)acc[o] * effective);
        if (scaled > 2147483000.0) scaled = 2147483000.0;
        if (scaled < -2147483000.0) scaled = -2147483000.0;
        dst[(size_t)i * stride + o] =
            (int8_t)ep::clamp_i32((int32_t)scaled + p->output_offset, p->act_min, p->act_max);
      }
    }
    return;
  }
  const Requant<F> r(rq, Clamp(p));
  for (int32_t i = 0; i < n; i += 2) {
    int8_t tmp[16];
    vst1q_s8(tmp, r.pair(sums[i][0], sums[i][1], sums[i + 1][0], sums[i + 1][1]));
    for (int32_t o = 0; o < count; ++o) dst[(size_t)i * stride + o] = tmp[o];
    if (i + 1 < n)
      for (int32_t o = 0; o < count; ++o) dst[(size_t)(i + 1) * stride + o] = tmp[8 + o];
  }
}

/* Dispatch on the requantization flags (FC: the double rescale only). */
template <template <int> class Tile>
static inline ep_status run(const ep_sparse_neon_params *p, const int8_t *input, void *scratch, int8_t *output,
                            bool fc, bool sdot) {
  if (!p->rq || !p->filter || !p->blocks || (fc && !p->filter_scales)) return EP_ERROR_ARGUMENT;
  int8_t *table = (int8_t *)scratch;
  void *rest = table + table_bytes(p, sdot);
  if (fc) return conv_gemm(p, input, rest, output, Tile<FC>{p, table});
  switch ((p->left_shifts ? LEFT : 0) | (p->all_right ? ALL_RIGHT : 0)) {
    case LEFT:
      return conv_gemm(p, input, rest, output, Tile<LEFT>{p, table});
    case ALL_RIGHT:
      return conv_gemm(p, input, rest, output, Tile<ALL_RIGHT>{p, table});
    case LEFT | ALL_RIGHT:
      return conv_gemm(p, input, rest, output, Tile<LEFT | ALL_RIGHT>{p, table});
    default:
      return conv_gemm(p, input, rest, output, Tile<0>{p, table});
  }
}

}  // namespace sparse_neon
}  // namespace ep
#endif

#endif
