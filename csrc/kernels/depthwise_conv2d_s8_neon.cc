// DEPTHWISE_CONV_2D (depth_multiplier 1) on AArch64 NEON: 16 channels of one output pixel per step; each pair of
// taps is summed in int16 lanes (SMULL + SMLAL: weights in [-127, 127], so |sum| <= 2 * 128 * 127 < 2^15), then
// widened into four int32x4 accumulators (SADDW). Taps outside the input read a row of the input zero point, so
// the bias with the folded input offset is exact everywhere. Bit-exact with ep_depthwise_conv2d_s8.
#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
namespace {

using ep::neon::narrow;
using ep::neon::requantize;

// Channels [c, c + 16) of one output pixel.
static inline void block16(const ep_depthwise_conv2d_s8_neon_params *p, const int8_t *const *taps, int32_t n_taps,
                           const int8_t *filter, int32_t c, int16x8_t offset, int8x8_t lo, int8x8_t hi,
                           int8_t *dst) {
  const int32_t C = p->in_c;
  const int32_t *rq = p->rq + c;
  int32x4_t a0 = vld1q_s32(rq), a1 = vld1q_s32(rq + 4), a2 = vld1q_s32(rq + 8), a3 = vld1q_s32(rq + 12);
  const int8_t *w = filter + c;
  int32_t t = 0;
  for (; t + 1 < n_taps; t += 2, w += 2 * C) {
    const int8x16_t x0 = vld1q_s8(taps[t] + c), x1 = vld1q_s8(taps[t + 1] + c);
    const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + C);
    int16x8_t l = vmull_s8(vget_low_s8(x0), vget_low_s8(w0));
    int16x8_t h = vmull_high_s8(x0, w0);
    l = vmlal_s8(l, vget_low_s8(x1), vget_low_s8(w1));
    h = vmlal_high_s8(h, x1, w1);
    a0 = vaddw_s16(a0, vget_low_s16(l));
    a1 = vaddw_high_s16(a1, l);
    a2 = vaddw_s16(a2, vget_low_s16(h));
    a3 = vaddw_high_s16(a3, h);
  }
  if (t < n_taps) {
    const int8x16_t x0 = vld1q_s8(taps[t] + c), w0 = vld1q_s8(w);
    const int16x8_t l = vmull_s8(vget_low_s8(x0), vget_low_s8(w0)), h = vmull_high_s8(x0, w0);
    a0 = vaddw_s16(a0, vget_low_s16(l));
    a1 = vaddw_high_s16(a1, l);
    a2 = vaddw_s16(a2, vget_low_s16(h));
    a3 = vaddw_high_s16(a3, h);
  }
  const int32_t *m = rq + C, *ls = rq + 2 * C, *rs = rq + 3 * C;
  a0 = requantize(a0, vld1q_s32(m), vld1q_s32(ls), vld1q_s32(rs));
  a1 = requantize(a1, vld1q_s32(m + 4), vld1q_s32(ls + 4), vld1q_s32(rs + 4));
  a2 = requantize(a2, vld1q_s32(m + 8), vld1q_s32(ls + 8), vld1q_s32(rs + 8));
  a3 = requantize(a3, vld1q_s32(m + 12), vld1q_s32(ls + 12), vld1q_s32(rs + 12));
  vst1q_s8(dst + c, vcombine_s8(narrow(a0, a1, offset, lo, hi), narrow(a2, a3, offset, lo, hi)));
}

}  // namespace
#endif

extern "C" ep_status ep_depthwise_conv2d_s8_neon(const ep_depthwise_conv2d_s8_neon_params *p, const int8_t *input,
                                                 const int8_t *filter, void *scratch, int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON)
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || p->in_c <= 0 ||
      p->out_c != p->in_c)
    return EP_ERROR_ARGUMENT;
  const int32_t C = p->in_c, fh = p->filter_h, fw = p->filter_w, n_taps = fh * fw;
  const int8_t **taps = (const int8_t **)scratch;
  int8_t *zero_row = (int8_t *)scratch + 8 * ((size_t)n_taps + 1);
  for (int32_t c = 0; c < ((C + 15) & ~15); ++c) zero_row[c] = (int8_t)p->input_zero_point;
  const int16x8_t offset = vdupq_n_s16((int16_t)p->output_offset);
  const int8x8_t lo = vdup_n_s8((int8_t)p->act_min), hi = vdup_n_s8((int8_t)p->act_max);
  const size_t in_image = (size_t)p->in_h * p->in_w * C;
  int8_t *dst = output;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      for (int32_t ox = 0; ox < p->out_w; ++ox, dst += C) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        const int8_t **t = taps;
        for (int32_t fy = 0; fy < fh; ++fy) {
          const int32_t iy = iy0 + fy * p->dilation_h;
          const bool row_in = iy >= 0 && iy < p->in_h;
          const int8_t *row = in_b + (size_t)(row_in ? iy : 0) * p->in_w * C;
          for (int32_t fx = 0; fx < fw; ++fx) {
            const int32_t ix = ix0 + fx * p->dilation_w;
            *t++ = row_in && ix >= 0 && ix < p->in_w ? row + (size_t)ix * C : zero_row;
          }
        }
        if (C >= 16) {
          // A channel tail re-computes the last 16 channels (the output never aliases the input).
          for (int32_t c = 0;; c += 16) {
            if (c + 16 > C) c = C - 16;
            block16(p, taps, n_taps, filter, c, offset, lo, hi, dst);
            if (c + 16 >= C) break;
          }
          continue;
        }
        for (int32_t c = 0; c < C; ++c) {
          int32_t acc = p->rq[c];
          for (int32_t k = 0; k < n_taps; ++k) acc += (int32_t)taps[k][c] * (int32_t)filter[(size_t)k * C + c];
          acc = ep::multiply_by_quantized_multiplier(acc, p->rq[C + c], p->rq[2 * C + c] + p->rq[3 * C + c]);
          dst[c] = (int8_t)ep::clamp_i32(acc + p->output_offset, p->act_min, p->act_max);
        }
      }
    }
  }
  return EP_OK;
#else
  (void)p, (void)input, (void)filter, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
