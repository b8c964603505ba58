// MAX_POOL_2D float: TFLite's reference MaxPool (max over the in-bounds window, then the clamp).
#include "edgeprune/arith.h"
#include "edgeprune/kernels/pooling.h"

extern "C" ep_status ep_max_pool_f32(const ep_max_pool_f32_params *p, const float *input, float *output) {
  const int32_t C = p->channels, H = p->in_h, W = p->in_w;
  if (C <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->filter_h <= 0 || p->filter_w <= 0) return EP_ERROR_ARGUMENT;
  const float lo = p->act_min, hi = p->act_max;
  for (int32_t b = 0; b < p->batches; ++b) {
    const float *in_b = input + (int32_t)b * H * W * C;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t fy0 = y0 < 0 ? -y0 : 0;
      const int32_t fy1 = (H - y0) < p->filter_h ? (H - y0) : p->filter_h;
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t fx0 = x0 < 0 ? -x0 : 0;
        const int32_t fx1 = (W - x0) < p->filter_w ? (W - x0) : p->filter_w;
        float *out = output;  // running maximum per channel
        for (int32_t c = 0; c < C; ++c) out[c] = -3.4028235e38f;
        for (int32_t fy = fy0; fy < fy1; ++fy) {
          const float *row = in_b + ((y0 + fy) * W + x0) * C;
          for (int32_t fx = fx0; fx < fx1; ++fx) {
            const float *px = row + fx * C;
            for (int32_t c = 0; c < C; ++c) out[c] = px[c] > out[c] ? px[c] : out[c];
          }
        }
        for (int32_t c = 0; c < C; ++c) out[c] = ep::clamp_f32(out[c], lo, hi);
        output += C;
      }
    }
  }
  return EP_OK;
}
