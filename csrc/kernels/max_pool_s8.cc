// MAX_POOL_2D int8_t: TFLite's reference MaxPool (max over the in-bounds window, then the clamp).
#include "edgeprune/arith.h"
#include "edgeprune/kernels/pooling.h"

extern "C" ep_status ep_max_pool_s8(const ep_max_pool_s8_params *p, const int8_t *input, int8_t *output) {
  const int32_t C = p->channels, H = p->in_h, W = p->in_w;
  if (C <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->filter_h <= 0 || p->filter_w <= 0) return EP_ERROR_ARGUMENT;
  const int32_t lo = p->act_min, hi = p->act_max;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (int32_t)b * H * W * C;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t fy0 = y0 < 0 ? -y0 : 0;
      const int32_t fy1 = (H - y0) < p->filter_h ? (H - y0) : p->filter_h;
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t fx0 = x0 < 0 ? -x0 : 0;
        const int32_t fx1 = (W - x0) < p->filter_w ? (W - x0) : p->filter_w;
        int8_t *out = output;  // running maximum per channel
        for (int32_t c = 0; c < C; ++c) out[c] = (int8_t)-128;
        for (int32_t fy = fy0; fy < fy1; ++fy) {
          const int8_t *row = in_b + ((y0 + fy) * W + x0) * C;
          for (int32_t fx = fx0; fx < fx1; ++fx) {
            const int8_t *px = row + fx * C;
            for (int32_t c = 0; c < C; ++c) out[c] = px[c] > out[c] ? px[c] : out[c];
          }
        }
        for (int32_t c = 0; c < C; ++c) out[c] = (int8_t)ep::clamp_i32(out[c], lo, hi);
        output += C;
      }
    }
  }
  return EP_OK;
}
