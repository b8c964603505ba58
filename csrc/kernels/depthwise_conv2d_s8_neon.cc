// DEPTHWISE_CONV_2D (depth_multiplier 1) on AArch64 NEON: 16 channels of one output pixel per step; each pair of
// taps is summed in int16 lanes (SMULL + SMLAL: weights in [-127, 127], so |sum| <= 2 * 128 * 127 < 2^15), then
// widened into four int32x4 accumulators (SADDW). The input is first copied into the scratch padded with its zero
// point when the filter reads outside it, so every tap is a plain load and the bias with the folded input offset is
// exact everywhere. With SDOT (__ARM_FEATURE_DOTPROD), 3x3 filters with C >= 16 take depthwise9_sdot instead: each
// filter column is 4 SDOTs per 16 channels over window rows interleaved by ST4 into a per-row column buffer that
// follows the padded image in the scratch. Bit-exact with ep_depthwise_conv2d_s8.
#include <string.h>

#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv_neon.h"
#include "edgeprune/detail/neon32_compat.h"

#if defined(__ARM_NEON)  // AArch64, and AArch32 (rpi4-armv7) via neon32_compat.h
namespace {


// 16 requantized channels -> int8 with the output offset and the clamp, narrowed as one 16-lane vector.
static inline void store16(int8_t *dst, int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3, int16x8_t offset,
                           int8x8_t lo, int8x8_t hi) {
  const int16x8_t l = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(a0), a1), offset);
  const int16x8_t h = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(a2), a3), offset);
  const int8x16_t y = vqmovn_high_s16(vqmovn_s16(l), h);
  vst1q_s8(dst, vminq_s8(vmaxq_s8(y, vcombine_s8(lo, lo)), vcombine_s8(hi, hi)));
}

struct Geometry {
  int32_t padded_h, padded_w;
  bool copy;
};

static inline Geometry geometry(const ep_depthwise_conv2d_s8_neon_params *p) {
  Geometry g;
  g.padded_h = (p->out_h - 1) * p->stride_h + (p->filter_h - 1) * p->dilation_h + 1;
  g.padded_w = (p->out_w - 1) * p->stride_w + (p->filter_w - 1) * p->dilation_w + 1;
  g.copy = p->pad_h > 0 || p->pad_w > 0 || g.padded_h > p->in_h || g.padded_w > p->in_w;
  if (!g.copy) g.padded_h = p->in_h, g.padded_w = p->in_w;
  return g;
}

static inline void pad_image(const ep_depthwise_conv2d_s8_neon_params *p, const Geometry &g, const int8_t *in,
                             int8_t *dst) {
  const int32_t C = p->in_c;
  const size_t row_bytes = (size_t)g.padded_w * C;
  const int32_t left = p->pad_w < g.padded_w ? p->pad_w : g.padded_w;
  int32_t inside = g.padded_w - left < p->in_w ? g.padded_w - left : p->in_w;
  if (inside < 0) inside = 0;
  for (int32_t y = 0; y < g.padded_h; ++y, dst += row_bytes) {
    const int32_t iy = y - p->pad_h;
    memset(dst, p->input_zero_point, row_bytes);
    if (iy >= 0 && iy < p->in_h && inside > 0)
      memcpy(dst + (size_t)left * C, in + (size_t)iy * p->in_w * C, (size_t)inside * C);
  }
}

// One 16-channel block of one output pixel: x points at the block's channels of the window's first tap, w at the
// block's packed weights [taps][16], rq at its requantization fields [4][16].
template <int TAPS, bool LEFT, bool RIGHT>
static inline void block16(const int8_t *x, const int32_t *taps, int32_t n_taps, const int8_t *w, const int32_t *rq,
                           int16x8_t offset, int8x8_t lo, int8x8_t hi, int8_t *dst) {
  const int32_t n = TAPS > 0 ? TAPS : n_taps;
  const int32x4x4_t bias = vld1q_s32_x4(rq);
  int32x4_t a0 = bias.val[0], a1 = bias.val[1], a2 = bias.val[2], a3 = bias.val[3];
  int32_t t = 0;
  for (; t + 1 < n; t += 2, w += 32) {
    const int8x16_t x0 = vld1q_s8(x + taps[t]), x1 = vld1q_s8(x + taps[t + 1]);
    const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16);
    int16x8_t l = vmull_s8(vget_low_s8(x0), vget_low_s8(w0));
    int16x8_t h = vmull_high_s8(x0, w0);
    l = vmlal_s8(l, vget_low_s8(x1), vget_low_s8(w1));
    h = vmlal_high_s8(h, x1, w1);
    a0 = vaddw_s16(a0, vget_low_s16(l));
    a1 = vaddw_high_s16(a1, l);
    a2 = vaddw_s16(a2, vget_low_s16(h));
    a3 = vaddw_high_s16(a3, h);
  }
  if (t < n) {
    const int8x16_t x0 = vld1q_s8(x + taps[t]), w0 = vld1q_s8(w);
    const int16x8_t l = vmull_s8(vget_low_s8(x0), vget_low_s8(w0)), h = vmull_high_s8(x0, w0);
    a0 = vaddw_s16(a0, vget_low_s16(l));
    a1 = vaddw_high_s16(a1, l);
    a2 = vaddw_s16(a2, vget_low_s16(h));
    a3 = vaddw_high_s16(a3, h);
  }
  if (LEFT) {
    const int32x4x4_t ls = vld1q_s32_x4(rq + 32);
    a0 = vshlq_s32(a0, ls.val[0]);
    a1 = vshlq_s32(a1, ls.val[1]);
    a2 = vshlq_s32(a2, ls.val[2]);
    a3 = vshlq_s32(a3, ls.val[3]);
  }
  const int32x4x4_t m = vld1q_s32_x4(rq + 16), rs = vld1q_s32_x4(rq + 48);
  a0 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a0, m.val[0]), rs.val[0]);
  a1 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a1, m.val[1]), rs.val[1]);
  a2 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a2, m.val[2]), rs.val[2]);
  a3 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a3, m.val[3]), rs.val[3]);
  store16(dst, a0, a1, a2, a3, offset, lo, hi);
}

// The 3x3 case of block16 with the tap offsets in registers and the weights loaded four taps per LD1.
template <bool LEFT, bool RIGHT>
static inline void block16_9(const int8_t *x, const int32_t *o, const int8_t *w, const int32_t *rq, int16x8_t offset,
                             int8x8_t lo, int8x8_t hi, int8_t *dst) {
  const int32x4x4_t bias = vld1q_s32_x4(rq);
  int32x4_t a0 = bias.val[0], a1 = bias.val[1], a2 = bias.val[2], a3 = bias.val[3];
  const int8x16x4_t wa = vld1q_s8_x4(w), wb = vld1q_s8_x4(w + 64);
  const int8x16_t w8 = vld1q_s8(w + 128);
#define EP_DW_PAIR(xa, xb, wa_, wb_)                                  \
  {                                                                   \
    const int8x16_t x0 = vld1q_s8(x + (xa)), x1 = vld1q_s8(x + (xb)); \
    int16x8_t l = vmull_s8(vget_low_s8(x0), vget_low_s8(wa_));        \
    int16x8_t h = vmull_high_s8(x0, wa_);                             \
    l = vmlal_s8(l, vget_low_s8(x1), vget_low_s8(wb_));               \
    h = vmlal_high_s8(h, x1, wb_);                                    \
    a0 = vaddw_s16(a0, vget_low_s16(l));                              \
    a1 = vaddw_high_s16(a1, l);                                       \
    a2 = vaddw_s16(a2, vget_low_s16(h));                              \
    a3 = vaddw_high_s16(a3, h);                                       \
  }
  EP_DW_PAIR(0, o[1], wa.val[0], wa.val[1])
  EP_DW_PAIR(o[2], o[3], wa.val[2], wa.val[3])
  EP_DW_PAIR(o[4], o[5], wb.val[0], wb.val[1])
  EP_DW_PAIR(o[6], o[7], wb.val[2], wb.val[3])
#undef EP_DW_PAIR
  {
    const int8x16_t x0 = vld1q_s8(x + o[8]);
    const int16x8_t l = vmull_s8(vget_low_s8(x0), vget_low_s8(w8)), h = vmull_high_s8(x0, w8);
    a0 = vaddw_s16(a0, vget_low_s16(l));
    a1 = vaddw_high_s16(a1, l);
    a2 = vaddw_s16(a2, vget_low_s16(h));
    a3 = vaddw_high_s16(a3, h);
  }
  if (LEFT) {
    const int32x4x4_t ls = vld1q_s32_x4(rq + 32);
    a0 = vshlq_s32(a0, ls.val[0]);
    a1 = vshlq_s32(a1, ls.val[1]);
    a2 = vshlq_s32(a2, ls.val[2]);
    a3 = vshlq_s32(a3, ls.val[3]);
  }
  const int32x4x4_t m = vld1q_s32_x4(rq + 16), rs = vld1q_s32_x4(rq + 48);
  a0 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a0, m.val[0]), rs.val[0]);
  a1 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a1, m.val[1]), rs.val[1]);
  a2 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a2, m.val[2]), rs.val[2]);
  a3 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a3, m.val[3]), rs.val[3]);
  store16(dst, a0, a1, a2, a3, offset, lo, hi);
}

// block16_9 for two output pixels (windows x and y, outputs dst and dst + ds): the weights and the requantization
// fields are loaded once for both.
template <bool LEFT, bool RIGHT>
static inline void block16_9x2(const int8_t *x, const int8_t *y, const int32_t *o, const int8_t *w, const int32_t *rq,
                               int16x8_t offset, int8x8_t lo, int8x8_t hi, int8_t *dst, size_t ds) {
  const int32x4x4_t bias = vld1q_s32_x4(rq);
  int32x4_t a0 = bias.val[0], a1 = bias.val[1], a2 = bias.val[2], a3 = bias.val[3];
  int32x4_t b0 = bias.val[0], b1 = bias.val[1], b2 = bias.val[2], b3 = bias.val[3];
  const int8x16x4_t wa = vld1q_s8_x4(w), wb = vld1q_s8_x4(w + 64);
  const int8x16_t w8 = vld1q_s8(w + 128);
#define EP_DW_PAIR2(xa, xb, wa_, wb_)                                    \
  {                                                                      \
    const int8x16_t x0 = vld1q_s8(x + (xa)), x1 = vld1q_s8(x + (xb));    \
    const int8x16_t y0 = vld1q_s8(y + (xa)), y1 = vld1q_s8(y + (xb));    \
    int16x8_t l = vmull_s8(vget_low_s8(x0), vget_low_s8(wa_));           \
    int16x8_t h = vmull_high_s8(x0, wa_);                                \
    int16x8_t m = vmull_s8(vget_low_s8(y0), vget_low_s8(wa_));           \
    int16x8_t g = vmull_high_s8(y0, wa_);                                \
    l = vmlal_s8(l, vget_low_s8(x1), vget_low_s8(wb_));                  \
    h = vmlal_high_s8(h, x1, wb_);                                       \
    m = vmlal_s8(m, vget_low_s8(y1), vget_low_s8(wb_));                  \
    g = vmlal_high_s8(g, y1, wb_);                                       \
    a0 = vaddw_s16(a0, vget_low_s16(l));                                 \
    a1 = vaddw_high_s16(a1, l);                                          \
    a2 = vaddw_s16(a2, vget_low_s16(h));                                 \
    a3 = vaddw_high_s16(a3, h);                                          \
    b0 = vaddw_s16(b0, vget_low_s16(m));                                 \
    b1 = vaddw_high_s16(b1, m);                                          \
    b2 = vaddw_s16(b2, vget_low_s16(g));                                 \
    b3 = vaddw_high_s16(b3, g);                                          \
  }
  EP_DW_PAIR2(0, o[1], wa.val[0], wa.val[1])
  EP_DW_PAIR2(o[2], o[3], wa.val[2], wa.val[3])
  EP_DW_PAIR2(o[4], o[5], wb.val[0], wb.val[1])
  EP_DW_PAIR2(o[6], o[7], wb.val[2], wb.val[3])
#undef EP_DW_PAIR2
  {
    const int8x16_t x0 = vld1q_s8(x + o[8]), y0 = vld1q_s8(y + o[8]);
    const int16x8_t l = vmull_s8(vget_low_s8(x0), vget_low_s8(w8)), h = vmull_high_s8(x0, w8);
    const int16x8_t m = vmull_s8(vget_low_s8(y0), vget_low_s8(w8)), g = vmull_high_s8(y0, w8);
    a0 = vaddw_s16(a0, vget_low_s16(l));
    a1 = vaddw_high_s16(a1, l);
    a2 = vaddw_s16(a2, vget_low_s16(h));
    a3 = vaddw_high_s16(a3, h);
    b0 = vaddw_s16(b0, vget_low_s16(m));
    b1 = vaddw_high_s16(b1, m);
    b2 = vaddw_s16(b2, vget_low_s16(g));
    b3 = vaddw_high_s16(b3, g);
  }
  if (LEFT) {
    const int32x4x4_t ls = vld1q_s32_x4(rq + 32);
    a0 = vshlq_s32(a0, ls.val[0]);
    a1 = vshlq_s32(a1, ls.val[1]);
    a2 = vshlq_s32(a2, ls.val[2]);
    a3 = vshlq_s32(a3, ls.val[3]);
    b0 = vshlq_s32(b0, ls.val[0]);
    b1 = vshlq_s32(b1, ls.val[1]);
    b2 = vshlq_s32(b2, ls.val[2]);
    b3 = vshlq_s32(b3, ls.val[3]);
  }
  const int32x4x4_t mq = vld1q_s32_x4(rq + 16), rs = vld1q_s32_x4(rq + 48);
  a0 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a0, mq.val[0]), rs.val[0]);
  a1 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a1, mq.val[1]), rs.val[1]);
  a2 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a2, mq.val[2]), rs.val[2]);
  a3 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(a3, mq.val[3]), rs.val[3]);
  b0 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(b0, mq.val[0]), rs.val[0]);
  b1 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(b1, mq.val[1]), rs.val[1]);
  b2 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(b2, mq.val[2]), rs.val[2]);
  b3 = ep::neon::round_shift<RIGHT>(vqrdmulhq_s32(b3, mq.val[3]), rs.val[3]);
  store16(dst, a0, a1, a2, a3, offset, lo, hi);
  store16(dst + ds, b0, b1, b2, b3, offset, lo, hi);
}

#if defined(__ARM_FEATURE_DOTPROD)
// The 3x3 case with SDOT: per output row and 16-channel block, each padded input column's three window rows are
// interleaved into 4 vectors of [channel][row 0, row 1, row 2, 0] (one ST4) in colbuf, the weights the same way
// per filter column, so each filter column is 4 SDOTs (4 channels x 3 taps each) for 16 channels. The sums are
// the same int32 values as the SMLAL path.
template <bool LEFT, bool RIGHT>
// Not inlined: inlined into depthwise<> it ran 35,467 instructions a KWS layer on rpi5 (worse register use), now 34,572.
__attribute__((noinline)) static void depthwise9_sdot(const ep_depthwise_conv2d_s8_neon_params *p,
                                                      const int8_t *image, const Geometry &g, int8_t *colbuf,
                                                      int8_t *dst) {
  const int32_t C = p->in_c, blocks = (C + 15) / 16;
  const int32_t off = p->output_offset, act_lo = p->act_min, act_hi = p->act_max;
  const int8x16_t zero = vdupq_n_s8(0);
  const size_t row_bytes = (size_t)g.padded_w * C, dy = (size_t)p->dilation_h * row_bytes;
  const size_t xs = (size_t)p->stride_w * 64, dx = (size_t)p->dilation_w * 64;
  const int32_t out_h = p->out_h, out_w = p->out_w, padded_w = g.padded_w;
  const size_t ys = (size_t)p->stride_h * row_bytes;
  if (out_w <= 0) return;
#pragma GCC unroll 1
  for (int32_t i = 0; i < blocks; ++i) {
    const int32_t c = i + 1 < blocks ? 16 * i : C - 16;
    const int8_t *w = p->filter + (size_t)i * 9 * 16;
    const int32_t *rq = p->rq + (size_t)i * 16 * EP_NEON_RQ_FIELDS;
    int8_t wbuf[3 * 64] __attribute__((aligned(16)));
    for (int32_t fx = 0; fx < 3; ++fx) {
      int8x16x4_t v;
      v.val[0] = vld1q_s8(w + fx * 16);
      v.val[1] = vld1q_s8(w + (3 + fx) * 16);
      v.val[2] = vld1q_s8(w + (6 + fx) * 16);
      v.val[3] = zero;
      vst4q_s8(wbuf + fx * 64, v);
    }
    int8_t *orow = dst + c;
#pragma GCC unroll 1
    for (int32_t oy = 0; oy < out_h; ++oy, orow += (size_t)out_w * C) {
      {
        const int8_t *s = image + (size_t)oy * ys + c;
        int8_t *d = colbuf;
#pragma GCC unroll 1
        for (int32_t x = 0; x < padded_w; ++x, s += C, d += 64) {
          int8x16x4_t v;
          v.val[0] = vld1q_s8(s);
          v.val[1] = vld1q_s8(s + dy);
          v.val[2] = vld1q_s8(s + 2 * dy);
          v.val[3] = zero;
          vst4q_s8(d, v);
        }
      }
      const int8_t *wb = wbuf, *c0 = colbuf, *c1 = colbuf + dx, *c2 = colbuf + 2 * dx;
      int8_t *out = orow;
      int32_t n = out_w;
      // Per pixel: bias into the accumulators, the three interleaved columns (v4-v7, v16-v19, v20-v23) against the
      // weights (v8-v15, v24-v27), then the requantization (multiplier v4-v7, right shift v16-v19, left shift
      // v20-v23) and the narrowing of store16. Written out so that every vector stays in a register.
#define EP_DW_SDOT_HEAD                                                                                           \
  "ld1 {v8.16b-v11.16b}, [%[wb]], #64\n\tld1 {v12.16b-v15.16b}, [%[wb]], #64\n\tld1 {v24.16b-v27.16b}, [%[wb]]\n\t" \
  "dup v28.8h, %w[off]\n\tdup v29.16b, %w[lo]\n\tdup v30.16b, %w[hi]\n"                                           \
  "1:\n\t"                                                                                                        \
  "ld1 {v0.4s-v3.4s}, [%[rb]]\n\t"                                                                                \
  "ld1 {v4.16b-v7.16b}, [%[c0]], %[xs]\n\tld1 {v16.16b-v19.16b}, [%[c1]], %[xs]\n\t"                              \
  "ld1 {v20.16b-v23.16b}, [%[c2]], %[xs]\n\t"                                                                     \
  "sdot v0.4s, v4.16b, v8.16b\n\tsdot v1.4s, v5.16b, v9.16b\n\t"                                                  \
  "sdot v2.4s, v6.16b, v10.16b\n\tsdot v3.4s, v7.16b, v11.16b\n\t"                                                \
  "sdot v0.4s, v16.16b, v12.16b\n\tsdot v1.4s, v17.16b, v13.16b\n\t"                                              \
  "sdot v2.4s, v18.16b, v14.16b\n\tsdot v3.4s, v19.16b, v15.16b\n\t"                                              \
  "sdot v0.4s, v20.16b, v24.16b\n\tsdot v1.4s, v21.16b, v25.16b\n\t"                                              \
  "sdot v2.4s, v22.16b, v26.16b\n\tsdot v3.4s, v23.16b, v27.16b\n\t"
#define EP_DW_SDOT_LEFT                                                                                           \
  "ld1 {v20.4s-v23.4s}, [%[rl]]\n\t"                                                                              \
  "sshl v0.4s, v0.4s, v20.4s\n\tsshl v1.4s, v1.4s, v21.4s\n\tsshl v2.4s, v2.4s, v22.4s\n\tsshl v3.4s, v3.4s, v23.4s\n\t"
#define EP_DW_SDOT_MUL                                                                                            \
  "ld1 {v4.4s-v7.4s}, [%[rm]]\n\tld1 {v16.4s-v19.4s}, [%[rr]]\n\t"                                                \
  "sqrdmulh v0.4s, v0.4s, v4.4s\n\tsqrdmulh v1.4s, v1.4s, v5.4s\n\t"                                              \
  "sqrdmulh v2.4s, v2.4s, v6.4s\n\tsqrdmulh v3.4s, v3.4s, v7.4s\n\t"
#define EP_DW_SDOT_ALL_RIGHT                                                                                      \
  "ssra v0.4s, v0.4s, #31\n\tssra v1.4s, v1.4s, #31\n\tssra v2.4s, v2.4s, #31\n\tssra v3.4s, v3.4s, #31\n\t"
#define EP_DW_SDOT_SOME_RIGHT                                                                                     \
  "and v31.16b, v0.16b, v16.16b\n\tssra v0.4s, v31.4s, #31\n\tand v31.16b, v1.16b, v17.16b\n\t"                   \
  "ssra v1.4s, v31.4s, #31\n\tand v31.16b, v2.16b, v18.16b\n\tssra v2.4s, v31.4s, #31\n\t"                        \
  "and v31.16b, v3.16b, v19.16b\n\tssra v3.4s, v31.4s, #31\n\t"
#define EP_DW_SDOT_TAIL                                                                                           \
  "srshl v0.4s, v0.4s, v16.4s\n\tsrshl v1.4s, v1.4s, v17.4s\n\t"                                                  \
  "srshl v2.4s, v2.4s, v18.4s\n\tsrshl v3.4s, v3.4s, v19.4s\n\t"                                                  \
  "sqxtn v0.4h, v0.4s\n\tsqxtn2 v0.8h, v1.4s\n\tsqxtn v2.4h, v2.4s\n\tsqxtn2 v2.8h, v3.4s\n\t"                   \
  "sqadd v0.8h, v0.8h, v28.8h\n\tsqadd v2.8h, v2.8h, v28.8h\n\t"                                                  \
  "sqxtn v0.8b, v0.8h\n\tsqxtn2 v0.16b, v2.8h\n\t"                                                                \
  "smax v0.16b, v0.16b, v29.16b\n\tsmin v0.16b, v0.16b, v30.16b\n\t"                                              \
  "st1 {v0.16b}, [%[out]], %[cs]\n\t"                                                                             \
  "subs %w[n], %w[n], #1\n\tb.ne 1b\n"
#define EP_DW_SDOT_ASM(BODY)                                                                                      \
  __asm__ volatile(BODY                                                                                           \
                   : [wb] "+r"(wb), [c0] "+r"(c0), [c1] "+r"(c1), [c2] "+r"(c2), [out] "+r"(out), [n] "+r"(n)     \
                   : [xs] "r"(xs), [cs] "r"((size_t)C), [rb] "r"(rq), [rm] "r"(rq + 16), [rr] "r"(rq + 48),        \
                     [rl] "r"(rq + 32), [off] "r"(off), [lo] "r"(act_lo), [hi] "r"(act_hi)                        \
                   : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11",     \
                     "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24",    \
                     "v25", "v26", "v27", "v28", "v29", "v30", "v31")
      if (LEFT && RIGHT) EP_DW_SDOT_ASM(EP_DW_SDOT_HEAD EP_DW_SDOT_LEFT EP_DW_SDOT_MUL EP_DW_SDOT_ALL_RIGHT EP_DW_SDOT_TAIL);
      else if (LEFT) EP_DW_SDOT_ASM(EP_DW_SDOT_HEAD EP_DW_SDOT_LEFT EP_DW_SDOT_MUL EP_DW_SDOT_SOME_RIGHT EP_DW_SDOT_TAIL);
      else if (RIGHT) EP_DW_SDOT_ASM(EP_DW_SDOT_HEAD EP_DW_SDOT_MUL EP_DW_SDOT_ALL_RIGHT EP_DW_SDOT_TAIL);
      else EP_DW_SDOT_ASM(EP_DW_SDOT_HEAD EP_DW_SDOT_MUL EP_DW_SDOT_SOME_RIGHT EP_DW_SDOT_TAIL);
#undef EP_DW_SDOT_ASM
#undef EP_DW_SDOT_TAIL
#undef EP_DW_SDOT_SOME_RIGHT
#undef EP_DW_SDOT_ALL_RIGHT
#undef EP_DW_SDOT_MUL
#undef EP_DW_SDOT_LEFT
#undef EP_DW_SDOT_HEAD
    }
  }
}
#endif

#if !defined(__aarch64__)
// AArch32: one 16-channel block of a 3x3 window in one asm block (AArch32 loads have no immediate offsets, so the
// intrinsic version spends an address add on most loads). x: the block's channels at the first tap; the taps are
// walked row by row, dx (dilation_w * C) apart, then ynext to the next window row. Weights [9][16], rq [4][16] (as
// block16_9), consts: output offset (8 x int16), act_min (16 x int8), act_max (16 x int8). Same sums (the pair sums
// in int16, SADDW into int32) and requantization as block16_9.
// Tap loads: INC steps to the next tap of the row, ROW to the next window row's first tap.
#define EP32_DW_INC(d) "vld1.8 {" d "}, [%[x]], %[dx]\n\t"
#define EP32_DW_ROW(d) "vld1.8 {" d "}, [%[x]]\n\t" "add %[x], %[x], %[ynext]\n\t"
#define EP32_DW_PAIR(L0, L1)                                                      \
  L0("d16-d17") L1("d22-d23")                                                     \
  "vld1.8 {d18-d21}, [%[w]]!\n\t"                                                \
  "vmull.s8 q12, d16, d18\n\t" "vmull.s8 q13, d17, d19\n\t"                     \
  "vmlal.s8 q12, d22, d20\n\t" "vmlal.s8 q13, d23, d21\n\t"                     \
  "vaddw.s16 q0, q0, d24\n\t" "vaddw.s16 q1, q1, d25\n\t"                       \
  "vaddw.s16 q2, q2, d26\n\t" "vaddw.s16 q3, q3, d27\n\t"
// Taps 0-8 in rows of 3: (0 1) (2 | 3) (4 5 |) (6 7) (8); "|" = the step to the next window row.
#define EP32_DW_LEFT_ON                                                           \
  "vld1.32 {d24-d27}, [%[rq]]!\n\t" "vld1.32 {d28-d31}, [%[rq]]!\n\t"             \
  "vshl.s32 q0, q0, q12\n\t" "vshl.s32 q1, q1, q13\n\t"                         \
  "vshl.s32 q2, q2, q14\n\t" "vshl.s32 q3, q3, q15\n\t"
#define EP32_DW_LEFT_OFF "add %[rq], %[rq], #64\n\t"
#define EP32_DW_FIX_ALL                                                           \
  "vsra.s32 q0, q0, #31\n\t" "vsra.s32 q1, q1, #31\n\t"                         \
  "vsra.s32 q2, q2, #31\n\t" "vsra.s32 q3, q3, #31\n\t"
#define EP32_DW_FIX_MASK                                                          \
  "vand q12, q0, q8\n\t" "vand q13, q1, q9\n\t"                                 \
  "vand q14, q2, q10\n\t" "vand q15, q3, q11\n\t"                               \
  "vsra.s32 q0, q12, #31\n\t" "vsra.s32 q1, q13, #31\n\t"                       \
  "vsra.s32 q2, q14, #31\n\t" "vsra.s32 q3, q15, #31\n\t"
#define EP32_DW_ASM(LEFT, FIX)                                                    \
  __asm__ volatile(                                                               \
      "vld1.32 {d0-d3}, [%[rq]]!\n\t"                                             \
      "vld1.32 {d4-d7}, [%[rq]]!\n\t"                                             \
      EP32_DW_PAIR(EP32_DW_INC, EP32_DW_INC) EP32_DW_PAIR(EP32_DW_ROW, EP32_DW_INC) \
      EP32_DW_PAIR(EP32_DW_INC, EP32_DW_ROW) EP32_DW_PAIR(EP32_DW_INC, EP32_DW_INC) \
      "vld1.8 {d16-d17}, [%[x]]\n\t"                                              \
      "vld1.8 {d18-d19}, [%[w]]\n\t"                                              \
      "vmull.s8 q12, d16, d18\n\t" "vmull.s8 q13, d17, d19\n\t"                  \
      "vaddw.s16 q0, q0, d24\n\t" "vaddw.s16 q1, q1, d25\n\t"                    \
      "vaddw.s16 q2, q2, d26\n\t" "vaddw.s16 q3, q3, d27\n\t"                    \
      "vld1.32 {d16-d19}, [%[rq]]!\n\t"                                           \
      "vld1.32 {d20-d23}, [%[rq]]!\n\t"                                           \
      LEFT                                                                        \
      "vqrdmulh.s32 q0, q0, q8\n\t" "vqrdmulh.s32 q1, q1, q9\n\t"                \
      "vqrdmulh.s32 q2, q2, q10\n\t" "vqrdmulh.s32 q3, q3, q11\n\t"              \
      "vld1.32 {d16-d19}, [%[rq]]!\n\t"                                           \
      "vld1.32 {d20-d23}, [%[rq]]\n\t"                                            \
      FIX                                                                         \
      "vrshl.s32 q0, q0, q8\n\t" "vrshl.s32 q1, q1, q9\n\t"                      \
      "vrshl.s32 q2, q2, q10\n\t" "vrshl.s32 q3, q3, q11\n\t"                    \
      "vqmovn.s32 d0, q0\n\t" "vqmovn.s32 d1, q1\n\t"                            \
      "vqmovn.s32 d2, q2\n\t" "vqmovn.s32 d3, q3\n\t"                            \
      "vld1.8 {d26-d27}, [%[consts]]!\n\t"                                        \
      "vld1.8 {d28-d31}, [%[consts]]\n\t"                                         \
      "vqadd.s16 q0, q0, q13\n\t" "vqadd.s16 q1, q1, q13\n\t"                    \
      "vqmovn.s16 d0, q0\n\t" "vqmovn.s16 d1, q1\n\t"                            \
      "vmax.s8 q0, q0, q14\n\t" "vmin.s8 q0, q0, q15\n\t"                        \
      "vst1.8 {d0-d1}, [%[dst]]\n\t"                                              \
      : [x] "+r"(x), [w] "+r"(w), [rq] "+r"(rq), [consts] "+r"(consts)            \
      : [dx] "r"(dx), [ynext] "r"(ynext), [dst] "r"(dst)                          \
      : "memory", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d16", "d17", "d18", "d19", "d20", "d21",  \
        "d22", "d23", "d24", "d25", "d26", "d27", "d28", "d29", "d30", "d31")

// Always inlined: with two call sites (the per-pixel and the few-channel loops) GCC would call it, 7% slower.
template <bool LEFT, bool RIGHT>
__attribute__((always_inline)) static inline void block16_9_a32(const int8_t *x, intptr_t dx, intptr_t ynext,
                                                                const int8_t *w, const int32_t *rq,
                                                                const int8_t *consts, int8_t *dst) {
  if (LEFT && RIGHT) EP32_DW_ASM(EP32_DW_LEFT_ON, EP32_DW_FIX_ALL);
  else if (LEFT) EP32_DW_ASM(EP32_DW_LEFT_ON, EP32_DW_FIX_MASK);
  else if (RIGHT) EP32_DW_ASM(EP32_DW_LEFT_OFF, EP32_DW_FIX_ALL);
  else EP32_DW_ASM(EP32_DW_LEFT_OFF, EP32_DW_FIX_MASK);
}
#endif

// AArch32 has 16 q registers, not 32: two pixels' accumulators and the 9 weight vectors would spill.
#if defined(__aarch64__)
constexpr bool kPixelPairs = true;
#else
constexpr bool kPixelPairs = false;
#endif

// Fewer than 16 channels with stride_w 1: an output row's bytes (pixel, channel) are contiguous, and so are the input
// bytes a tap reads for them, so any 16 consecutive ones form a block whose lane j is channel (f + j) mod C for the
// row offset f. Each phase f mod C gets its own weights [taps][16] and requantization fields [4][16], laid out once
// per call in the scratch (where the SDOT path keeps its columns): first the fields of all C phases, then the weights.
static inline bool flat_rows(const ep_depthwise_conv2d_s8_neon_params *p) {
  return p->in_c < 16 && p->stride_w == 1 && p->out_w * p->in_c >= 16;
}

static void build_phases(const ep_depthwise_conv2d_s8_neon_params *p, int32_t n_taps, int8_t *scratch) {
  const int32_t C = p->in_c;
  int32_t *rq = (int32_t *)(void *)scratch;
  int8_t *w = scratch + (size_t)C * EP_NEON_RQ_FIELDS * 16 * sizeof(int32_t);
  // Blocks start at multiples of 16 (and the last at row_out - 16, a multiple of C minus 16): only the phases that
  // are multiples of gcd(16, C) occur (one for C = 8).
  int32_t step = 16, r = C;
  while (r != 0) {
    const int32_t t = step % r;
    step = r, r = t;
  }
  for (int32_t ph = 0; ph < C; ph += step) {
    for (int32_t j = 0, c = ph; j < 16; ++j, c = c + 1 == C ? 0 : c + 1) {
      for (int32_t f = 0; f < EP_NEON_RQ_FIELDS; ++f) rq[(ph * EP_NEON_RQ_FIELDS + f) * 16 + j] = p->rq[f * 16 + c];
      for (int32_t t = 0; t < n_taps; ++t) w[((size_t)ph * n_taps + t) * 16 + j] = p->filter[(size_t)t * 16 + c];
    }
  }
}

template <int TAPS, bool LEFT, bool RIGHT>
static void depthwise(const ep_depthwise_conv2d_s8_neon_params *p, const int8_t *image, const Geometry &g,
                      const int32_t *taps_in, const int8_t *filter, int8_t *colbuf, int8_t *dst) {
#if defined(__ARM_FEATURE_DOTPROD)
  if (TAPS == 9 && p->filter_h == 3 && p->in_c >= 16) {
    depthwise9_sdot<LEFT, RIGHT>(p, image, g, colbuf, dst);
    return;
  }
#endif
  const int32_t C = p->in_c, n_taps = p->filter_h * p->filter_w, blocks = (C + 15) / 16;
  const int16x8_t offset = vdupq_n_s16((int16_t)p->output_offset);
  const int8x8_t lo = vdup_n_s8((int8_t)p->act_min), hi = vdup_n_s8((int8_t)p->act_max);
#if !defined(__aarch64__)
  int8_t consts[48];  // block16_9_a32: output offset (8 x int16), act_min (16 x int8), act_max (16 x int8)
  vst1q_s16((int16_t *)(void *)consts, offset);
  vst1q_s8(consts + 16, vcombine_s8(lo, lo));
  vst1q_s8(consts + 32, vcombine_s8(hi, hi));
#endif
  // The tap offsets in registers when the filter size is known.
  int32_t taps[TAPS > 0 ? TAPS : 1];
  for (int32_t t = 0; t < (TAPS > 0 ? TAPS : 1); ++t) taps[t] = taps_in[t];
  const int32_t *tp = TAPS > 0 ? taps : taps_in;
  const size_t block_weights = (size_t)n_taps * 16u;
  if (flat_rows(p)) {
    const int32_t *rq_phases = (const int32_t *)(const void *)colbuf;
    const int8_t *w_phases = colbuf + (size_t)C * EP_NEON_RQ_FIELDS * 16 * sizeof(int32_t);
    const int32_t row_out = p->out_w * C;
    const size_t row_in = (size_t)p->stride_h * g.padded_w * C;
    for (int32_t oy = 0; oy < p->out_h; ++oy, dst += row_out) {
      const int8_t *row = image + (size_t)oy * row_in;
#pragma GCC unroll 1
      for (int32_t f0 = 0; f0 < row_out; f0 += 16) {
        const int32_t f = f0 + 16 <= row_out ? f0 : row_out - 16, ph = f % C;  // the last block overlaps
        const int8_t *w = w_phases + (size_t)ph * block_weights;
        const int32_t *rq = rq_phases + (size_t)ph * 16 * EP_NEON_RQ_FIELDS;
#if !defined(__aarch64__)
        if (TAPS == 9 && p->filter_h == 3) {
          block16_9_a32<LEFT, RIGHT>(row + f, tp[1], tp[3] - 2 * tp[1], w, rq, consts, dst + f);
          continue;
        }
#endif
        if (TAPS == 9) block16_9<LEFT, RIGHT>(row + f, tp, w, rq, offset, lo, hi, dst + f);
        else block16<TAPS, LEFT, RIGHT>(row + f, tp, n_taps, w, rq, offset, lo, hi, dst + f);
      }
    }
    return;
  }
  if (TAPS == 9 && C >= 16 && kPixelPairs) {
    // Two pixels at a time (the second may start the next row), sharing the weight and requantization loads.
    const size_t xs = (size_t)p->stride_w * C, ys = (size_t)p->stride_h * g.padded_w * C;
    const int32_t pixels = p->out_h * p->out_w;
    const int8_t *row = image, *window = image;
    int32_t ox = 0;
    for (int32_t q = 0; q < pixels; q += 2, dst += 2 * C) {
      const int8_t *x = window;
      if (++ox == p->out_w) ox = 0, row += ys, window = row;
      else window += xs;
      const int8_t *y = window;
      if (q + 1 < pixels) {
        if (++ox == p->out_w) ox = 0, row += ys, window = row;
        else window += xs;
      } else {
        y = x;  // an odd count: the last pixel twice, stored once (dst + 0)
      }
      const size_t ds = q + 1 < pixels ? (size_t)C : 0;
#pragma GCC unroll 1
      for (int32_t i = 0; i < blocks; ++i) {
        const int32_t c = i + 1 < blocks ? 16 * i : C - 16;
        block16_9x2<LEFT, RIGHT>(x + c, y + c, tp, p->filter + (size_t)i * block_weights,
                                 p->rq + (size_t)i * 16 * EP_NEON_RQ_FIELDS, offset, lo, hi, dst + c, ds);
      }
    }
    return;
  }
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    const int8_t *row = image + (size_t)oy * p->stride_h * g.padded_w * C;
    for (int32_t ox = 0; ox < p->out_w; ++ox, dst += C) {
      const int8_t *window = row + (size_t)ox * p->stride_w * C;
      if (C >= 16) {
        // Block i covers channels [16 i, 16 i + 16), the last one [C - 16, C) (it re-computes a few channels; the
        // output never aliases the input). The packed weights and rq follow the same blocks.
#pragma GCC unroll 1
        for (int32_t i = 0; i < blocks; ++i) {
          const int32_t c = i + 1 < blocks ? 16 * i : C - 16;
#if !defined(__aarch64__)
          if (TAPS == 9 && p->filter_h == 3) {
            block16_9_a32<LEFT, RIGHT>(window + c, tp[1], tp[3] - 2 * tp[1], p->filter + (size_t)i * block_weights,
                                       p->rq + (size_t)i * 16 * EP_NEON_RQ_FIELDS, consts, dst + c);
            continue;
          }
#endif
          if (TAPS == 9) {
            block16_9<LEFT, RIGHT>(window + c, tp, p->filter + (size_t)i * block_weights,
                                   p->rq + (size_t)i * 16 * EP_NEON_RQ_FIELDS, offset, lo, hi, dst + c);
          } else {
            block16<TAPS, LEFT, RIGHT>(window + c, tp, n_taps, p->filter + (size_t)i * block_weights,
                                       p->rq + (size_t)i * 16 * EP_NEON_RQ_FIELDS, offset, lo, hi, dst + c);
          }
        }
        continue;
      }
      for (int32_t c = 0; c < C; ++c) {
        int32_t acc = p->rq[c];
        for (int32_t k = 0; k < n_taps; ++k) acc += (int32_t)window[taps_in[k] + c] * (int32_t)filter[(size_t)k * C + c];
        acc = ep::multiply_by_quantized_multiplier(acc, p->rq[16 + c], p->rq[32 + c] + p->rq[48 + c]);
        dst[c] = (int8_t)ep::clamp_i32(acc + p->output_offset, p->act_min, p->act_max);
      }
    }
  }
}

}  // namespace
#endif

extern "C" ep_status ep_depthwise_conv2d_s8_neon(const ep_depthwise_conv2d_s8_neon_params *p, const int8_t *input,
                                                 const int8_t *filter, void *scratch, int8_t *output) {
#if defined(__ARM_NEON)  // AArch64, and AArch32 (rpi4-armv7) via neon32_compat.h
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || p->in_c <= 0 ||
      p->out_c != p->in_c || p->filter_h <= 0 || p->filter_w <= 0)
    return EP_ERROR_ARGUMENT;
  const int32_t C = p->in_c, n_taps = p->filter_h * p->filter_w;
  const Geometry g = geometry(p);
  // Scratch: the tap offsets (int32, rounded up to 16 bytes), then the padded image (when needed).
  int32_t *taps = (int32_t *)scratch;
  int8_t *padded = (int8_t *)scratch + (((size_t)n_taps * 4u + 15u) & ~(size_t)15u);
  // Then (3x3, C >= 16) 64 bytes per padded column for the SDOT path's interleaved window rows, or (flat_rows) the
  // phases' requantization fields and weights.
  int8_t *colbuf = padded + (g.copy ? (((size_t)g.padded_h * g.padded_w * C + 15u) & ~(size_t)15u) : 0);
  for (int32_t fy = 0, t = 0; fy < p->filter_h; ++fy)
    for (int32_t fx = 0; fx < p->filter_w; ++fx, ++t)
      taps[t] = (fy * p->dilation_h * g.padded_w + fx * p->dilation_w) * C;
  const size_t in_image = (size_t)p->in_h * p->in_w * C, out_image = (size_t)p->out_h * p->out_w * C;
  bool left = false, all_right = true;
  for (int32_t i = 0; i < (C + 15) / 16; ++i) {
    for (int32_t c = 0; c < 16; ++c) {
      left = left || p->rq[i * 16 * EP_NEON_RQ_FIELDS + 32 + c] != 0;
      all_right = all_right && p->rq[i * 16 * EP_NEON_RQ_FIELDS + 48 + c] < 0;
    }
  }
  if (flat_rows(p)) build_phases(p, n_taps, colbuf);
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *image = input + (size_t)b * in_image;
    if (g.copy) {
      pad_image(p, g, image, padded);
      image = padded;
    }
    int8_t *dst = output + (size_t)b * out_image;
    const int variant = (n_taps == 9 ? 4 : 0) | (left ? 2 : 0) | (all_right ? 1 : 0);
    switch (variant) {
      case 7: depthwise<9, true, true>(p, image, g, taps, filter, colbuf, dst); break;
      case 6: depthwise<9, true, false>(p, image, g, taps, filter, colbuf, dst); break;
      case 5: depthwise<9, false, true>(p, image, g, taps, filter, colbuf, dst); break;
      case 4: depthwise<9, false, false>(p, image, g, taps, filter, colbuf, dst); break;
      case 3: depthwise<0, true, true>(p, image, g, taps, filter, colbuf, dst); break;
      case 2: depthwise<0, true, false>(p, image, g, taps, filter, colbuf, dst); break;
      case 1: depthwise<0, false, true>(p, image, g, taps, filter, colbuf, dst); break;
      default: depthwise<0, false, false>(p, image, g, taps, filter, colbuf, dst); break;
    }
  }
  return EP_OK;
#else
  (void)p, (void)input, (void)filter, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
