// AVERAGE_POOL_2D int8 on AArch64 NEON: the window sums of 16 channels at a time, in int16 lanes for up to 256
// pixels (|sum| <= 256 * 128 fits) and then in int32; the rounding division stays the portable one (half away from
// zero). Bit-exact with ep_avg_pool_s8.
#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv_neon.h"
#include "edgeprune/detail/neon32_compat.h"

extern "C" ep_status ep_avg_pool_s8_neon(const ep_avg_pool_s8_params *p, const int8_t *input, int8_t *output,
                                         void *scratch) {
#if defined(__ARM_NEON)  // AArch64, and AArch32 (rpi4-armv7) via neon32_compat.h
  const int32_t C = p->channels, H = p->in_h, W = p->in_w;
  if (C <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->filter_h <= 0 || p->filter_w <= 0) return EP_ERROR_ARGUMENT;
  int32_t *acc = (int32_t *)scratch;
  const int32_t blocks = C / 16;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * H * W * C;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t fy0 = y0 < 0 ? -y0 : 0;
      const int32_t fy1 = (H - y0) < p->filter_h ? (H - y0) : p->filter_h;
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t fx0 = x0 < 0 ? -x0 : 0;
        const int32_t fx1 = (W - x0) < p->filter_w ? (W - x0) : p->filter_w;
        if (fy1 <= fy0 || fx1 <= fx0) return EP_ERROR_ARGUMENT;  // TFLite fails on an empty window too
        const int32_t count = (fy1 - fy0) * (fx1 - fx0);
        for (int32_t i = 0; i < blocks; ++i) {
          int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
          int16x8_t lo = vdupq_n_s16(0), hi = lo;
          int32_t pending = 0;
          if (count <= 256) {  // the whole window fits the int16 lanes: no flush checks
            for (int32_t fy = fy0; fy < fy1; ++fy) {
              const int8_t *px = in_b + ((size_t)(y0 + fy) * W + x0 + fx0) * C + 16 * i;
              int32_t fx = fx0;
              for (; fx + 1 < fx1; fx += 2, px += 2 * C) {
                const int8x16_t v = vld1q_s8(px), u = vld1q_s8(px + C);
                lo = vaddw_s8(lo, vget_low_s8(v));
                hi = vaddw_high_s8(hi, v);
                lo = vaddw_s8(lo, vget_low_s8(u));
                hi = vaddw_high_s8(hi, u);
              }
              if (fx < fx1) {
                const int8x16_t v = vld1q_s8(px);
                lo = vaddw_s8(lo, vget_low_s8(v));
                hi = vaddw_high_s8(hi, v);
              }
            }
          } else for (int32_t fy = fy0; fy < fy1; ++fy) {
            const int8_t *px = in_b + ((size_t)(y0 + fy) * W + x0 + fx0) * C + 16 * i;
            for (int32_t fx = fx0; fx < fx1; ++fx, px += C) {
              const int8x16_t v = vld1q_s8(px);
              lo = vaddw_s8(lo, vget_low_s8(v));
              hi = vaddw_high_s8(hi, v);
              if (++pending == 256) {
                s0 = vaddw_s16(s0, vget_low_s16(lo));
                s1 = vaddw_high_s16(s1, lo);
                s2 = vaddw_s16(s2, vget_low_s16(hi));
                s3 = vaddw_high_s16(s3, hi);
                lo = hi = vdupq_n_s16(0);
                pending = 0;
              }
            }
          }
          vst1q_s32(acc + 16 * i, vaddw_s16(s0, vget_low_s16(lo)));
          vst1q_s32(acc + 16 * i + 4, vaddw_high_s16(s1, lo));
          vst1q_s32(acc + 16 * i + 8, vaddw_s16(s2, vget_low_s16(hi)));
          vst1q_s32(acc + 16 * i + 12, vaddw_high_s16(s3, hi));
        }
        for (int32_t c = 16 * blocks; c < C; ++c) {
          int32_t s = 0;
          for (int32_t fy = fy0; fy < fy1; ++fy) {
            const int8_t *px = in_b + ((size_t)(y0 + fy) * W + x0 + fx0) * C + c;
            for (int32_t fx = fx0; fx < fx1; ++fx, px += C) s += *px;
          }
          acc[c] = s;
        }
        const int32_t half = count / 2;
        for (int32_t c = 0; c < C; ++c) {
          const int32_t s = acc[c];
          const int32_t avg = s > 0 ? (s + half) / count : (s - half) / count;
          *output++ = (int8_t)ep::clamp_i32(avg, p->act_min, p->act_max);
        }
      }
    }
  }
  return EP_OK;
#else
  (void)p, (void)input, (void)output, (void)scratch;
  return EP_ERROR_ARGUMENT;
#endif
}
