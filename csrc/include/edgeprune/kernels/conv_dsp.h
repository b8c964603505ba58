/* edgeprune runtime: Armv7E-M DSP (SMLAD/SXTAB16) int8 conv kernels for Cortex-M4/M7 (and any core with
 * the DSP extension). Bit-exact with the portable ep_conv2d_s8 / ep_depthwise_conv2d_s8 /
 * ep_fully_connected_s8; the lowering (edgeprune/lower/isa/dsp.py) re-lays-out the weights at build time.
 *
 * Conv (ep_conv2d_s8_dsp, ep_conv2d_1x1_s8_dsp): a GEMM of pre-sign-extended int16 weights against
 * int16 im2col columns of two output pixels at a time, in which the input offset is already added
 * (padding taps are 0, exactly what the reference skips). K = filter_h * filter_w * in_c is padded
 * with zeros to k_padded (a multiple of 8); within each group of 4 the order is k0, k2, k1, k3 (the
 * order SXTAB16 / SXTAB16 ROR 8 produce). Weight layout (int16):
 *   [out_c_pairs][k_padded / 4][2 channels][4]   (out_c padded to even with zero channels)
 * The bias and the requantization constants are one build-time table `requant` (ep::dsp::Requant).
 * Scratch: int32 accumulators of two pixels, two int16 columns interleaved per group of 4, then
 * (in_c % 4 != 0) an int8 gather column: EP_CONV_DSP_SCRATCH_BYTES. Padding taps are gathered as the
 * input zero point, which the widening (x + input_offset) turns into exactly 0.
 * Requantization is exact by construction only under conditions the lowering checks at build time
 * (multipliers in [2^30, 2^31), shifts in [-31, 30], |bias| + 255 * sum|w| + 2^(e-1) + 2 < 2^31):
 * see ep::dsp::requantize.
 * ep_conv2d_1x1_s8_dsp: filter 1x1, no padding, in_c % 4 == 0: the column is the widened input pixel.
 *
 * Depthwise (ep_depthwise_conv2d_s8_dsp: any filter/stride/dilation/padding; ep_depthwise_conv2d_3x3_s8_dsp:
 * 3x3, dilation 1, any stride/padding; both depth_multiplier 1, in_c % 4 == 0): 4 channels per step,
 * SMLABB/SMLATT on SXTAB16-unpacked inputs (offset added) and pre-unpacked int16 weights:
 *   weights int16 [in_c / 4][filter_h][filter_w][4] in order c0, c2, c1, c3.
 * Scratch: EP_DEPTHWISE_DSP_SCRATCH_BYTES / EP_DEPTHWISE_3X3_DSP_SCRATCH_BYTES.
 *
 * FC (ep_fully_connected_s8_dsp): per-tensor and per-channel symmetric weights (weights_offset == 0),
 * GEMM on int16 weights [units_pairs][depth_padded / 4][2][4] as for conv, the input converted once;
 * requantized in double exactly like ep_fully_connected_s8. Scratch: EP_FC_DSP_SCRATCH_BYTES. */
#ifndef EDGEPRUNE_KERNELS_CONV_DSP_H
#define EDGEPRUNE_KERNELS_CONV_DSP_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t k_padded;      /* filter_h * filter_w * in_c rounded up to a multiple of 8 */
  int32_t input_offset;  /* -input zero point */
  int32_t output_offset; /* output zero point */
  int32_t act_min, act_max;
  int32_t all_right;       /* every channel's shift is < 0 */
  const int32_t *requant;  /* [out_c][4]: bias, 2 * multiplier, rounding half, -shift (ep::dsp::Requant) */
} ep_conv2d_s8_dsp_params;

#define EP_CONV_DSP_SCRATCH_BYTES(k_padded, out_c) ((size_t)(k_padded) * 5u + (size_t)(((out_c) + 1) / 2) * 16u)

ep_status ep_conv2d_s8_dsp(const ep_conv2d_s8_dsp_params *params, const int8_t *input, const int16_t *filter,
                           void *scratch, int8_t *output);
ep_status ep_conv2d_1x1_s8_dsp(const ep_conv2d_s8_dsp_params *params, const int8_t *input,
                               const int16_t *filter, void *scratch, int8_t *output);

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t depth_multiplier; /* 1 */
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  int32_t all_right;
  const int32_t *requant; /* [out_c][4], as for conv */
} ep_depthwise_conv2d_s8_dsp_params;

/* Generic: one pixel's int32 accumulators. 3x3: three input rows of one group of four channels widened to
 * int16, [(out_w - 1) * stride_w + 3 columns][3 rows][2 words]. */
#define EP_DEPTHWISE_DSP_SCRATCH_BYTES(out_c) ((size_t)(out_c) * 4u)
#define EP_DEPTHWISE_3X3_DSP_SCRATCH_BYTES(out_w, stride_w) ((size_t)24u * (size_t)(((out_w) - 1) * (stride_w) + 3))

ep_status ep_depthwise_conv2d_s8_dsp(const ep_depthwise_conv2d_s8_dsp_params *params, const int8_t *input,
                                     const int16_t *filter, void *scratch, int8_t *output);
ep_status ep_depthwise_conv2d_3x3_s8_dsp(const ep_depthwise_conv2d_s8_dsp_params *params, const int8_t *input,
                                         const int16_t *filter, void *scratch, int8_t *output);

typedef struct {
  int32_t batches, depth, units;
  int32_t depth_padded; /* depth rounded up to a multiple of 8 */
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  float input_scale, output_scale;
  const float *filter_scales; /* [units] */
} ep_fully_connected_s8_dsp_params;

#define EP_FC_DSP_SCRATCH_BYTES(depth_padded, units) ((size_t)(depth_padded) * 4u + (size_t)(((units) + 1) / 2) * 16u)

ep_status ep_fully_connected_s8_dsp(const ep_fully_connected_s8_dsp_params *params, const int8_t *input,
                                    const int16_t *weights, const int32_t *bias, void *scratch, int8_t *output);

EP_EXTERN_C_END

#ifdef __cplusplus
#include "edgeprune/dsp.h"

namespace ep {
namespace dsp {

/* Two output channels x two columns over k_padded / 4 groups; acc[ch][px]. The weight pointer walks
 * [groups][2 ch][2 words], the column pointer [groups][2 px][2 words]. One group: 16 MACs in 8 SMLAD. */
EP_DSP_INLINE void gemm_2x2_c(const uint32_t *EP_RESTRICT w, const uint32_t *EP_RESTRICT x, int32_t groups,
                              int32_t acc[2][2]) {
  int32_t a00 = acc[0][0], a01 = acc[0][1], a10 = acc[1][0], a11 = acc[1][1];
  for (int32_t g = 0; g < groups; ++g) {
    const uint32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
    const uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
    w += 4;
    x += 4;
    a00 = smlad(w0, x0, a00);
    a01 = smlad(w0, x2, a01);
    a10 = smlad(w2, x0, a10);
    a11 = smlad(w2, x2, a11);
    a00 = smlad(w1, x1, a00);
    a01 = smlad(w1, x3, a01);
    a10 = smlad(w3, x1, a10);
    a11 = smlad(w3, x3, a11);
  }
  acc[0][0] = a00;
  acc[0][1] = a01;
  acc[1][0] = a10;
  acc[1][1] = a11;
}

/* All channel pairs against the two columns: acc[pair][4] = ch0 px0, ch0 px1, ch1 px0, ch1 px1.
 * groups must be even (k_padded % 8 == 0). On the DSP cores the whole loop nest is one asm block: per two
 * groups 2 LDM (columns), 4 LDRD (weights), 16 SMLAD, CMP + BNE (24 instructions, 32 MACs); per channel
 * pair 4 MOV, 1 LDR, 2 STRD, LDR + CMP + BNE. */
EP_DSP_INLINE void gemm_pairs(const uint32_t *w, const uint32_t *cols, int32_t groups, int32_t pairs,
                              int32_t *acc) {
#if EP_HAVE_DSP && defined(__thumb2__)
  if (pairs <= 0 || groups <= 0) return;
  const uint32_t *x_end = cols + 4 * groups;
  const uint32_t *w_end = w + (size_t)4 * groups * pairs;
  const uint32_t *x;
  int32_t a00, a01, a10, a11;
  uint32_t t0, t1;
  __asm__ volatile(
      "2:\n\t"
      "mov %[a00], #0\n\t"
      "mov %[a01], #0\n\t"
      "mov %[a10], #0\n\t"
      "mov %[a11], #0\n\t"
      "ldr %[x], %[cols]\n\t"
      "1:\n\t"
      "ldm %[x]!, {r8, r9, r10, r11}\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a00], %[t0], r8, %[a00]\n\t"
      "smlad %[a01], %[t0], r10, %[a01]\n\t"
      "smlad %[a00], %[t1], r9, %[a00]\n\t"
      "smlad %[a01], %[t1], r11, %[a01]\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a10], %[t0], r8, %[a10]\n\t"
      "smlad %[a11], %[t0], r10, %[a11]\n\t"
      "smlad %[a10], %[t1], r9, %[a10]\n\t"
      "smlad %[a11], %[t1], r11, %[a11]\n\t"
      "ldm %[x]!, {r8, r9, r10, r11}\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a00], %[t0], r8, %[a00]\n\t"
      "smlad %[a01], %[t0], r10, %[a01]\n\t"
      "smlad %[a00], %[t1], r9, %[a00]\n\t"
      "smlad %[a01], %[t1], r11, %[a01]\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a10], %[t0], r8, %[a10]\n\t"
      "smlad %[a11], %[t0], r10, %[a11]\n\t"
      "smlad %[a10], %[t1], r9, %[a10]\n\t"
      "smlad %[a11], %[t1], r11, %[a11]\n\t"
      "cmp %[x], %[x_end]\n\t"
      "bne 1b\n\t"
      "strd %[a00], %[a01], [%[acc]], #8\n\t"
      "strd %[a10], %[a11], [%[acc]], #8\n\t"
      "ldr %[t0], %[w_end]\n\t"
      "cmp %[w], %[t0]\n\t"
      "bne 2b\n\t"
      : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [w] "+r"(w), [x] "=&r"(x),
        [acc] "+r"(acc), [t0] "=&r"(t0), [t1] "=&r"(t1)
      : [x_end] "r"(x_end), [cols] "m"(cols), [w_end] "m"(w_end)
      : "r8", "r9", "r10", "r11", "cc", "memory");
#else
  for (int32_t pr = 0; pr < pairs; ++pr, w += 4 * groups, acc += 4) {
    int32_t a[2][2] = {{0, 0}, {0, 0}};
    gemm_2x2_c(w, cols, groups, a);
    acc[0] = a[0][0];
    acc[1] = a[0][1];
    acc[2] = a[1][0];
    acc[3] = a[1][1];
  }
#endif
}

/* n bytes (n % 4 == 0) of int8 input -> int16 (x + offset) into column slot `slot` of the interleaved
 * two-column buffer, starting at group `g`. */
EP_DSP_INLINE void widen_block(const int8_t *EP_RESTRICT src, int32_t n, uint32_t off2, uint32_t *EP_RESTRICT col) {
  if (n & 4) {
    const uint32_t v = load32(src);
    col[0] = sxtab16(off2, v);
    col[1] = sxtab16_ror8(off2, v);
    col += 4;
    src += 4;
    n -= 4;
  }
  if (n <= 0) return;
#if EP_HAVE_DSP && defined(__thumb2__)
  // Eight inputs an iteration: 2 LDR (unaligned allowed), 4 SXTAB16, 2 STRD, CMP + BNE (10 instructions; the
  // compiled C loop took 16).
  const int8_t *const end = src + n;
  uint32_t v0, v1, a, b;
  __asm__ volatile(
      "1:\n\t"
      "ldr %[v0], [%[s]], #4\n\t"
      "ldr %[v1], [%[s]], #4\n\t"
      "sxtab16 %[a], %[off], %[v0]\n\t"
      "sxtab16 %[b], %[off], %[v0], ror #8\n\t"
      "strd %[a], %[b], [%[c]], #16\n\t"
      "sxtab16 %[a], %[off], %[v1]\n\t"
      "sxtab16 %[b], %[off], %[v1], ror #8\n\t"
      "strd %[a], %[b], [%[c]], #16\n\t"
      "cmp %[s], %[e]\n\t"
      "bne 1b\n\t"
      : [v0] "=&r"(v0), [v1] "=&r"(v1), [a] "=&r"(a), [b] "=&r"(b), [s] "+r"(src), [c] "+r"(col)
      : [off] "r"(off2), [e] "r"(end)
      : "cc", "memory");
#else
  for (int32_t i = 0; i < n; i += 4) {
    const uint32_t v = load32(src + i);
    col[0] = sxtab16(off2, v);
    col[1] = sxtab16_ror8(off2, v);
    col += 4;
  }
#endif
}

EP_DSP_INLINE void zero_block(int32_t n, uint32_t *EP_RESTRICT col) {
  for (int32_t i = 0; i < n; i += 4) {
    col[0] = 0;
    col[1] = 0;
    col += 4;
  }
}

/* Scratch of the GEMM conv kernels: int32 accumulators [out_c pairs][2 ch][2 px], the two interleaved
 * int16 columns, the int8 gather column. */
struct ConvScratch {
  int32_t *acc;
  uint32_t *cols;
  int8_t *gather;
};

EP_DSP_INLINE ConvScratch conv_scratch(void *scratch, int32_t out_c, int32_t k_padded) {
  ConvScratch s;
  s.acc = (int32_t *)scratch;
  s.cols = (uint32_t *)(void *)(s.acc + 2 * ((out_c + 1) & ~1));
  s.gather = (int8_t *)(void *)(s.cols + k_padded);
  return s;
}

/* Shared body of the GEMM conv kernels (dense and block-sparse): `im2col(px, slot_ptr)` fills one column,
 * `gemm(cols, acc)` writes the accumulators of two pixels x all channels to scratch, then one tight loop
 * requantizes each pixel's channels. */
template <typename Im2col, typename Gemm>
EP_DSP_INLINE void conv_gemm_with(const ep_conv2d_s8_dsp_params *p, const RequantRun &rq, const ConvScratch &s,
                                  int8_t *output, int32_t pixels, Im2col im2col, Gemm gemm) {
  const int32_t out_c = p->out_c;
  for (int32_t px = 0; px < pixels; px += 2) {
    const int32_t px1 = px + 1 < pixels ? px + 1 : px;
    im2col(px, s.cols);
    im2col(px1, s.cols + 2);
    gemm(s.cols, s.acc);
    rq.run_pair(s.acc, out_c, output + (size_t)px * out_c, output + (size_t)px1 * out_c);
  }
}

template <typename Im2col>
EP_DSP_INLINE void conv_gemm(const ep_conv2d_s8_dsp_params *p, const int16_t *filter, const RequantRun &rq,
                             const ConvScratch &s, int8_t *output, int32_t pixels, Im2col im2col) {
  const int32_t groups = p->k_padded / 4, pairs = (p->out_c + 1) / 2;
  const uint32_t *w = (const uint32_t *)(const void *)filter;
  conv_gemm_with(p, rq, s, output, pixels, im2col,
                 [&](const uint32_t *cols, int32_t *acc) { gemm_pairs(w, cols, groups, pairs, acc); });
}

/* The argument checks of the general GEMM conv kernels (dense and sparse). */
EP_DSP_INLINE bool conv_args_ok(const ep_conv2d_s8_dsp_params *p) {
  const int32_t k = p->filter_h * p->filter_w * p->in_c;
  return p->stride_h > 0 && p->stride_w > 0 && p->dilation_h > 0 && p->dilation_w > 0 && p->in_c > 0 &&
         p->k_padded >= k && p->k_padded % 8 == 0 && p->k_padded - k < 8;
}

/* The 1x1 kernels' checks: filter 1x1, no padding, in_c % 4 == 0, k_padded = in_c rounded up to 8. */
EP_DSP_INLINE bool conv_1x1_args_ok(const ep_conv2d_s8_dsp_params *p) {
  const int32_t in_c = p->in_c;
  return p->filter_h == 1 && p->filter_w == 1 && p->pad_h == 0 && p->pad_w == 0 && p->stride_h > 0 &&
         p->stride_w > 0 && in_c > 0 && in_c % 4 == 0 && p->k_padded == ((in_c + 7) & ~7);
}

/* The 1x1 column of output pixel px: the widened input pixel, zero-padded to k_padded. */
EP_DSP_INLINE void column_1x1(const ep_conv2d_s8_dsp_params *p, const int8_t *in_b, uint32_t off2, int32_t px,
                              uint32_t *col) {
  const int32_t out_w = p->out_w, in_c = p->in_c;
  const int32_t oy = px / out_w, ox = px - oy * out_w;
  widen_block(in_b + ((size_t)oy * p->stride_h * p->in_w + (size_t)ox * p->stride_w) * in_c, in_c, off2, col);
  zero_block(p->k_padded - in_c, col + in_c);
}

/* The im2col column of output pixel px for any filter (padding taps 0), in the interleaved two-column slot
 * `col`. in_c % 4 == 0 widens whole taps; otherwise the int8 column is gathered in natural K order, padding
 * taps (and the K tail) set to the input zero point so they become exactly 0 once widened with the offset. */
EP_DSP_INLINE void im2col_column(const ep_conv2d_s8_dsp_params *p, const int8_t *in_b, int8_t *gather,
                                 uint32_t off2, int32_t px, uint32_t *col) {
  const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, fh = p->filter_h, fw = p->filter_w;
  const int32_t dh = p->dilation_h, dw = p->dilation_w, k = fh * fw * in_c, k_padded = p->k_padded;
  const int32_t oy = px / p->out_w, ox = px - oy * p->out_w;
  const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  if (in_c % 4 == 0) {
    uint32_t *dst = col;
    for (int32_t fy = 0; fy < fh; ++fy) {
      const int32_t iy = iy0 + fy * dh;
      const bool row_ok = iy >= 0 && iy < in_h;
      const int8_t *row = in_b + (size_t)(row_ok ? iy : 0) * in_w * in_c;
      for (int32_t fx = 0; fx < fw; ++fx) {
        const int32_t ix = ix0 + fx * dw;
        if (row_ok && ix >= 0 && ix < in_w)
          widen_block(row + (size_t)ix * in_c, in_c, off2, dst);
        else
          zero_block(in_c, dst);
        dst += in_c;  // in_c / 4 groups of 4 words (two columns interleaved)
      }
    }
    zero_block(k_padded - k, dst);
    return;
  }
  const int8_t zp = (int8_t)(-p->input_offset);
  int8_t *g = gather;
  const int32_t run = fw * in_c;
  for (int32_t fy = 0; fy < fh; ++fy) {
    const int32_t iy = iy0 + fy * dh;
    if (iy < 0 || iy >= in_h) {
      for (int32_t i = 0; i < run; ++i) g[i] = zp;
      g += run;
      continue;
    }
    const int8_t *row = in_b + (size_t)iy * in_w * in_c;
    if (dw == 1 && ix0 >= 0 && ix0 + fw <= in_w) {
      const int8_t *src = row + (size_t)ix0 * in_c;
      for (int32_t i = 0; i < run; ++i) g[i] = src[i];
      g += run;
      continue;
    }
    for (int32_t fx = 0; fx < fw; ++fx) {
      const int32_t ix = ix0 + fx * dw;
      if (ix >= 0 && ix < in_w) {
        const int8_t *src = row + (size_t)ix * in_c;
        for (int32_t ic = 0; ic < in_c; ++ic) g[ic] = src[ic];
      } else {
        for (int32_t ic = 0; ic < in_c; ++ic) g[ic] = zp;
      }
      g += in_c;
    }
  }
  for (int32_t e = k; e < k_padded; ++e) gather[e] = zp;
  widen_block(gather, k_padded, off2, col);
}

/* One FC input row into column slot `col` (interleaved two-column layout), widened with the offset and
 * zero-padded to depth_padded. */
EP_DSP_INLINE void widen_row(const int8_t *x, int32_t depth, int32_t depth_padded, uint32_t off2, int32_t offset,
                             uint32_t *col) {
  const int32_t whole = depth & ~3;
  widen_block(x, whole, off2, col);
  int16_t *dst = (int16_t *)(void *)col;
  for (int32_t e = whole; e < depth_padded; ++e)
    dst[8 * (e >> 2) + (((e & 1) << 1) | ((e & 3) >> 1))] = (int16_t)(e < depth ? (int32_t)x[e] + offset : 0);
}

/* TFLite's reference FC rescale: round(acc * effective scale) in double, clamped, offset, activation. */
EP_DSP_INLINE int8_t fc_rescale(int32_t acc, double effective, int32_t output_offset, int32_t act_min,
                                int32_t act_max) {
  double scaled = __builtin_round((double)acc * effective);
  if (scaled > 2147483000.0) scaled = 2147483000.0;
  if (scaled < -2147483000.0) scaled = -2147483000.0;
  int32_t v = (int32_t)scaled + output_offset;
  v = v < act_min ? act_min : v;
  return (int8_t)(v > act_max ? act_max : v);
}

EP_DSP_INLINE bool fc_args_ok(const ep_fully_connected_s8_dsp_params *p) {
  return p->batches >= 0 && p->depth >= 0 && p->units >= 0 && p->output_scale > 0.0f &&
         p->depth_padded >= p->depth && p->depth_padded % 8 == 0 && p->depth_padded - p->depth < 8;
}

/* Shared body of the FC kernels (dense and block-sparse): two input rows widened at a time, `gemm(cols,
 * acc)` writes acc[unit pairs][2 units][2 rows], then the double rescale per unit. */
template <typename Gemm>
EP_DSP_INLINE void fc_gemm(const ep_fully_connected_s8_dsp_params *p, const int8_t *input, const int32_t *bias,
                           void *scratch, int8_t *output, Gemm gemm) {
  const int32_t batches = p->batches, depth = p->depth, units = p->units, dpad = p->depth_padded;
  const int32_t offset = p->input_offset, output_offset = p->output_offset;
  const int32_t act_min = p->act_min, act_max = p->act_max;
  const uint32_t off2 = dup16(offset);
  const double in_scale = (double)p->input_scale, out_scale = (double)p->output_scale;
  int32_t *acc = (int32_t *)scratch;
  uint32_t *cols = (uint32_t *)(void *)(acc + 2 * ((units + 1) & ~1));
  for (int32_t b = 0; b < batches; b += 2) {
    const int32_t b1 = b + 1 < batches ? b + 1 : b;
    widen_row(input + (size_t)b * depth, depth, dpad, off2, offset, cols);
    widen_row(input + (size_t)b1 * depth, depth, dpad, off2, offset, cols + 2);
    gemm(cols, acc);
    int8_t *out0 = output + (size_t)b * units, *out1 = output + (size_t)b1 * units;
    for (int32_t u = 0; u < units; ++u) {
      const double effective = in_scale * (double)p->filter_scales[u] / out_scale;
      const int32_t b0v = bias ? bias[u] : 0;
      out0[u] = fc_rescale((int32_t)((uint32_t)acc[2 * u] + (uint32_t)b0v), effective, output_offset, act_min,
                           act_max);
      if (b1 != b)  // an odd last row (batch 1) is the same row twice: rescale it once
        out1[u] = fc_rescale((int32_t)((uint32_t)acc[2 * u + 1] + (uint32_t)b0v), effective, output_offset,
                             act_min, act_max);
    }
  }
}

/* Valid filter taps [*begin, *end) for an input origin (same rule as ep::conv::valid_taps). */
EP_DSP_INLINE void taps(int32_t origin, int32_t dilation, int32_t n, int32_t size, int32_t *begin, int32_t *end) {
  int32_t b = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
  const int32_t room = size - origin;
  int32_t e = room <= 0 ? 0 : (room + dilation - 1) / dilation;
  if (e > n) e = n;
  if (b > e) b = e;
  *begin = b;
  *end = e;
}

/* One depthwise output pixel (depth_multiplier 1, in_c % 4 == 0), every channel, accumulators (without
 * bias) into acc[C]. Weights: int16 [C / 4][fh][fw][4] in order c0, c2, c1, c3, i.e. two words per tap
 * and group of 4 channels. */
EP_DSP_INLINE void depthwise_pixel(const ep_depthwise_conv2d_s8_dsp_params *p, const int8_t *in_b,
                                   const uint32_t *w, int32_t oy, int32_t ox, int32_t *acc) {
  const int32_t in_w = p->in_w, c_all = p->in_c, fw = p->filter_w, fh = p->filter_h;
  const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  const int32_t dh = p->dilation_h, dw = p->dilation_w;
  int32_t fy0 = 0, fy1 = fh, fx0 = 0, fx1 = fw;
  if (iy0 < 0 || iy0 + (fh - 1) * dh >= p->in_h) taps(iy0, dh, fh, p->in_h, &fy0, &fy1);
  if (ix0 < 0 || ix0 + (fw - 1) * dw >= in_w) taps(ix0, dw, fw, in_w, &fx0, &fx1);
  const uint32_t off2 = dup16(p->input_offset);
  const int32_t group_words = 2 * fh * fw;
  const ptrdiff_t base = ((ptrdiff_t)iy0 * in_w + ix0) * c_all;  // may be out of range; only valid taps are read
  for (int32_t c = 0; c < c_all; c += 4, w += group_words) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t fy = fy0; fy < fy1; ++fy) {
      const ptrdiff_t row = base + ((ptrdiff_t)fy * dh * in_w) * c_all + c;
      const uint32_t *wr = w + 2 * fy * fw;
      for (int32_t fx = fx0; fx < fx1; ++fx) {
        const uint32_t v = load32(in_b + row + (ptrdiff_t)fx * dw * c_all);
        const uint32_t lo = sxtab16(off2, v), hi = sxtab16_ror8(off2, v);
        const uint32_t w0 = wr[2 * fx], w1 = wr[2 * fx + 1];
        a0 = smlabb(lo, w0, a0);
        a2 = smlatt(lo, w0, a2);
        a1 = smlabb(hi, w1, a1);
        a3 = smlatt(hi, w1, a3);
      }
    }
    acc[c] = a0;
    acc[c + 1] = a1;
    acc[c + 2] = a2;
    acc[c + 3] = a3;
  }
}

}  // namespace dsp
}  // namespace ep
#endif

#endif
