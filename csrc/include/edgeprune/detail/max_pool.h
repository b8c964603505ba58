/* Internal (C++ only): TFLite's reference MaxPool walk shared by ep_max_pool_f32 and ep_max_pool_s8:
 * the running maximum over the in-bounds window (started at `lowest`), then `clamp` per channel. */
#ifndef EDGEPRUNE_DETAIL_MAX_POOL_H
#define EDGEPRUNE_DETAIL_MAX_POOL_H

#include "edgeprune/kernels/pooling.h"

namespace ep {
namespace detail {

// P is ep_max_pool_f32_params or ep_max_pool_s8_params (same geometry fields); clamp(T) -> T.
template <typename T, typename P, typename Clamp>
inline ep_status max_pool(const P *p, const T *input, T *output, T lowest, const Clamp &clamp) {
  const int32_t C = p->channels, H = p->in_h, W = p->in_w;
  if (C <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->filter_h <= 0 || p->filter_w <= 0) return EP_ERROR_ARGUMENT;
  for (int32_t b = 0; b < p->batches; ++b) {
    const T *in_b = input + (int32_t)b * H * W * C;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t fy0 = y0 < 0 ? -y0 : 0;
      const int32_t fy1 = (H - y0) < p->filter_h ? (H - y0) : p->filter_h;
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t fx0 = x0 < 0 ? -x0 : 0;
        const int32_t fx1 = (W - x0) < p->filter_w ? (W - x0) : p->filter_w;
        T *out = output;  // running maximum per channel
        for (int32_t c = 0; c < C; ++c) out[c] = lowest;
        for (int32_t fy = fy0; fy < fy1; ++fy) {
          const T *row = in_b + ((y0 + fy) * W + x0) * C;
          for (int32_t fx = fx0; fx < fx1; ++fx) {
            const T *px = row + fx * C;
            for (int32_t c = 0; c < C; ++c) out[c] = px[c] > out[c] ? px[c] : out[c];
          }
        }
        for (int32_t c = 0; c < C; ++c) out[c] = clamp(out[c]);
        output += C;
      }
    }
  }
  return EP_OK;
}

}  // namespace detail
}  // namespace ep

#endif  // EDGEPRUNE_DETAIL_MAX_POOL_H
