/* The GEMM driver shared by the NEON CONV_2D kernels: walks the output pixels EP_NEON_GEMM_PIXELS at a time and
 * hands the micro-kernel one GEMM row per pixel, either the input pixel itself (direct 1x1) or an im2col row
 * (padded taps = input zero point, the K tail = 0) in the scratch. */
#ifndef EDGEPRUNE_DETAIL_NEON_GEMM_H
#define EDGEPRUNE_DETAIL_NEON_GEMM_H

#include <string.h>

#include "edgeprune/kernels/conv_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
namespace ep {
namespace neon {

/* dst[0, n) = src[0, n) without a libc call for the short rows im2col copies. */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
  for (; n >= 16; n -= 16, dst += 16, src += 16) vst1q_s8(dst, vld1q_s8(src));
  if (n >= 8) {
    vst1_s8(dst, vld1_s8(src));
    n -= 8, dst += 8, src += 8;
  }
  for (; n >= 4; n -= 4, dst += 4, src += 4) memcpy(dst, src, 4);
  for (; n > 0; --n) *dst++ = *src++;
}

static inline void fill_bytes(int8_t *dst, int8_t value, int32_t n) {
  const int8x16_t v = vdupq_n_s8(value);
  for (; n >= 16; n -= 16, dst += 16) vst1q_s8(dst, v);
  for (; n > 0; --n) *dst++ = value;
}

static inline void im2col_pixel(const ep_conv2d_s8_neon_params *p, const int8_t *in_b, int32_t oy, int32_t ox,
                                int8_t *dst) {
  const int32_t in_c = p->in_c, fw = p->filter_w, row_bytes = fw * in_c;
  const int8_t zp = (int8_t)p->input_zero_point;
  const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  const bool x_inside = p->dilation_w == 1 && ix0 >= 0 && ix0 + fw <= p->in_w;
  for (int32_t fy = 0; fy < p->filter_h; ++fy, dst += row_bytes) {
    const int32_t iy = iy0 + fy * p->dilation_h;
    if (iy < 0 || iy >= p->in_h) {
      fill_bytes(dst, zp, row_bytes);
      continue;
    }
    const int8_t *row = in_b + (size_t)iy * p->in_w * in_c;
    if (x_inside) {
      copy_bytes(dst, row + ix0 * in_c, row_bytes);
      continue;
    }
    for (int32_t fx = 0; fx < fw; ++fx) {
      const int32_t ix = ix0 + fx * p->dilation_w;
      if (ix < 0 || ix >= p->in_w) {
        fill_bytes(dst + fx * in_c, zp, in_c);
      } else {
        copy_bytes(dst + fx * in_c, row + ix * in_c, in_c);
      }
    }
  }
  const int32_t k = p->filter_h * row_bytes;
  if (p->k_padded > k) memset(dst, 0, (size_t)(p->k_padded - k));
}

/* Tile: void operator()(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n, int8_t *out) computes all
 * output channels of n <= EP_NEON_GEMM_PIXELS consecutive pixels (rows past n repeat row n - 1). */
template <class Tile>
static inline ep_status conv_gemm(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch,
                                  int8_t *output, const Tile &tile) {
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || p->in_c <= 0 ||
      p->k_padded < p->filter_h * p->filter_w * p->in_c || p->k_padded % 16 != 0 ||
      (p->direct && (p->in_c % 16 != 0 || p->filter_h != 1 || p->filter_w != 1 || p->pad_h || p->pad_w)))
    return EP_ERROR_ARGUMENT;
  const int32_t total = p->batches * p->out_h * p->out_w;
  const size_t in_image = (size_t)p->in_h * p->in_w * p->in_c;
  int8_t *cols = (int8_t *)scratch;
  int32_t b = 0, oy = 0, ox = 0;  // the next pixel to gather
  for (int32_t q = 0; q < total; q += EP_NEON_GEMM_PIXELS) {
    const int32_t n = total - q < EP_NEON_GEMM_PIXELS ? total - q : EP_NEON_GEMM_PIXELS;
    const int8_t *rows[EP_NEON_GEMM_PIXELS];
    for (int32_t i = 0; i < n; ++i) {
      const int8_t *in_b = input + (size_t)b * in_image;
      if (p->direct) {
        rows[i] = in_b + ((size_t)oy * p->stride_h * p->in_w + (size_t)ox * p->stride_w) * p->in_c;
      } else {
        int8_t *dst = cols + (size_t)i * p->k_padded;
        im2col_pixel(p, in_b, oy, ox, dst);
        rows[i] = dst;
      }
      if (++ox == p->out_w) {
        ox = 0;
        if (++oy == p->out_h) oy = 0, ++b;
      }
    }
    for (int32_t i = n; i < EP_NEON_GEMM_PIXELS; ++i) rows[i] = rows[n - 1];
    tile(rows, n, output + (size_t)q * p->out_c);
  }
  return EP_OK;
}

/* Stores the first `count` of 8 bytes. */
static inline void store_partial(int8_t *dst, int8x8_t v, int32_t count) {
  int8_t tmp[8];
  vst1_s8(tmp, v);
  for (int32_t i = 0; i < count; ++i) dst[i] = tmp[i];
}

}  // namespace neon
}  // namespace ep
#endif

#endif
