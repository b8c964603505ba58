/* The GEMM driver shared by the NEON CONV_2D kernels: walks the output pixels EP_NEON_GEMM_PIXELS at a time and
 * hands the micro-kernel one GEMM row per pixel, either the input pixel itself (direct 1x1) or an im2col row
 * (padded taps = input zero point, the K tail = 0) in the scratch. */
#ifndef EDGEPRUNE_DETAIL_NEON_GEMM_H
#define EDGEPRUNE_DETAIL_NEON_GEMM_H

#include <string.h>

#include "edgeprune/kernels/conv_neon.h"

/* AArch64 and (conv2d_s8_neon32.cc) AArch32 NEON: the driver only uses intrinsics both have, apart from the 64-byte
 * copies (AArch64 only). */
#if defined(__ARM_NEON)
#include <arm_neon.h>

// Requantization variants of the GEMM tiles (template flags).
#define EP_LEFT 1       /* some channel shifts left first */
#define EP_ALL_RIGHT 2  /* every channel shifts right (unmasked rounding fixup) */

namespace ep {
namespace neon {

/* dst[0, n) = src[0, n) without a libc call for the short rows im2col copies. */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
  if (n >= 16) {  // 64- then 16-byte steps, the last one overlapping the previous
    int32_t i = 0;
#if defined(__aarch64__)
    for (; i + 64 <= n; i += 64) vst1q_s8_x4(dst + i, vld1q_s8_x4(src + i));
#endif
    for (; i + 16 < n; i += 16) vst1q_s8(dst + i, vld1q_s8(src + i));
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
  if (n >= 16) {  // 64- then 16-byte steps, the last one overlapping the previous
    int32_t i = 0;
#if defined(__aarch64__)
    int8x16x4_t v4;
    v4.val[0] = v4.val[1] = v4.val[2] = v4.val[3] = v;
    for (; i + 64 <= n; i += 64) vst1q_s8_x4(dst + i, v4);
#endif
    for (; i + 16 < n; i += 16) vst1q_s8(dst + i, v);
    vst1q_s8(dst + n - 16, v);
    return;
  }
  for (; n > 0; --n) *dst++ = value;
}

/* The rows the convolution reads, [0, padded_h) x [0, padded_w) starting at (-pad_h, -pad_w): taps outside the input
 * read the input zero point. */
struct Source {
  int32_t padded_h, padded_w;
  bool copy;  // padding needed: the kernel builds the padded image in the scratch
};

/* Bytes per filter row of a GEMM row read in place (segments): filter_w * in_c rounded up to 16. */
static inline int32_t segment_bytes(const ep_conv2d_s8_neon_params *p) { return (p->filter_w * p->in_c + 15) & ~15; }

static inline Source source_geometry(const ep_conv2d_s8_neon_params *p) {
  Source s;
  s.padded_h = (p->out_h - 1) * p->stride_h + (p->filter_h - 1) * p->dilation_h + 1;
  s.padded_w = (p->out_w - 1) * p->stride_w + (p->filter_w - 1) * p->dilation_w + 1;
  if (p->segments == 3 && !p->direct) {  // planes: always a copy, of the padded size
    s.copy = true;
    return s;
  }
  s.copy = p->pad_h > 0 || p->pad_w > 0 || s.padded_h > p->in_h || s.padded_w > p->in_w;
  if (p->segments == 2 && !p->direct) s.copy = true;  // columns: built from the padded copy (see build_columns)
  if (!s.copy && p->segments) {  // the last window's last segment would read past the input: copy it
    const int64_t row = (int64_t)p->in_w * p->in_c;
    const int64_t last = ((int64_t)(p->out_h - 1) * p->stride_h + (int64_t)(p->filter_h - 1) * p->dilation_h) * row +
                         (int64_t)(p->out_w - 1) * p->stride_w * p->in_c + segment_bytes(p);
    s.copy = last > row * p->in_h;
  }
  if (!s.copy) s.padded_h = p->in_h, s.padded_w = p->in_w;
  return s;
}

static inline void pad_image(const ep_conv2d_s8_neon_params *p, const Source &s, const int8_t *in_b, int8_t *dst) {
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

/* Planes (segments == 3, in_c % 16 == 0, dilation_w 1): the padded image split into stride_w * in_c / 16 planes,
 * plane (x % stride_w, c / 16) holding padded_h rows of ceil(padded_w / stride_w) 16-byte columns. Output pixel ox's
 * tap (fy, fx) of channel group g is column ox + fx / stride_w of plane (fx % stride_w, g): the same 16-byte step of
 * consecutive output pixels is contiguous (the tiles' packed loads), for any stride and in_c. */
struct Planes {
  int32_t width;  // columns per plane row
  size_t row;     // bytes per plane row (16 * width)
  size_t bytes;   // bytes per plane
};

static inline Planes planes_geometry(const ep_conv2d_s8_neon_params *p, const Source &s) {
  Planes g;
  g.width = (s.padded_w + p->stride_w - 1) / p->stride_w;
  g.row = (size_t)g.width * 16u;
  g.bytes = g.row * (size_t)s.padded_h;
  return g;
}

/* n plane columns of one input row whose every tap reads the input (pad_planes' [ja, jb)): the source runs
 * contiguously, 16 bytes after 16 bytes, round-robin over the K = stride_w * in_c / 16 planes (plane k at
 * dst + k * plane). */
template <int K>
static inline void planes_inner(const int8_t *src, int8_t *dst, size_t plane, int32_t n) {
  size_t o[K];
  for (int32_t k = 0; k < K; ++k) o[k] = (size_t)k * plane;
  for (; n > 0; --n, dst += 16) {
#if defined(__aarch64__)  // multi-register loads (AArch32's arm_neon.h has no vld1q_s8_x2 / _x4)
    if (K % 4 == 0) {
#pragma GCC unroll 4
      for (int32_t k = 0; k < K; k += 4, src += 64) {
        const int8x16x4_t v = vld1q_s8_x4(src);
        vst1q_s8(dst + o[k], v.val[0]), vst1q_s8(dst + o[k + 1], v.val[1]);
        vst1q_s8(dst + o[k + 2], v.val[2]), vst1q_s8(dst + o[k + 3], v.val[3]);
      }
      continue;
    }
    if (K == 2) {
      const int8x16x2_t v = vld1q_s8_x2(src);
      vst1q_s8(dst, v.val[0]), vst1q_s8(dst + o[1], v.val[1]);
      src += 32;
      continue;
    }
#endif
#pragma GCC unroll 8
    for (int32_t k = 0; k < K; ++k) vst1q_s8(dst + o[k], vld1q_s8(src + 16 * k));
    src += 16 * K;
  }
}

#define EP_NEON_PLANES_BORDER 256 /* border taps per row in pad_planes' table (more: tap by tap) */

static inline void pad_planes(const ep_conv2d_s8_neon_params *p, const Source &s, const Planes &g,
                              const int8_t *in_b, int8_t *dst) {
  // Locals: the int8_t stores may alias *p and g, so the compiler would reload every field per store.
  const int8x16_t zp = vdupq_n_s8((int8_t)p->input_zero_point);
  const int32_t C = p->in_c, groups = C / 16, sw = p->stride_w, K = sw * groups;
  const int32_t in_h = p->in_h, in_w = p->in_w, pad_h = p->pad_h, pad_w = p->pad_w, width = g.width;
  const int32_t padded_h = s.padded_h;
  const size_t plane = g.bytes, prow = g.row, in_row = (size_t)in_w * (size_t)C;
  // Plane columns j whose sw padded columns j * sw + px all read the input: [ja, jb), contiguous in the source.
  int32_t ja = (pad_w + sw - 1) / sw, jb = (pad_w + in_w) / sw;
  if (ja > width) ja = width;
  if (jb > width) jb = width;
  if (jb < ja) jb = ja;
  // The other columns' taps, the same in every row: destination offset in the row, source offset (-1: zero point).
  int32_t border_dst[EP_NEON_PLANES_BORDER], border_src[EP_NEON_PLANES_BORDER], borders = 0;
  const bool table = (int64_t)(width - (jb - ja)) * K <= EP_NEON_PLANES_BORDER;
  auto border_column = [&](int32_t j) {
    for (int32_t px = 0; px < sw; ++px) {
      const int32_t ix = j * sw + px - pad_w;
      for (int32_t grp = 0; grp < groups; ++grp, ++borders) {
        border_dst[borders] = (int32_t)((size_t)(px * groups + grp) * plane + 16u * (size_t)j);
        border_src[borders] = ix >= 0 && ix < in_w ? ix * C + 16 * grp : -1;
      }
    }
  };
  for (int32_t j = 0; table && j < ja; ++j) border_column(j);
  for (int32_t j = jb; table && j < width; ++j) border_column(j);
  for (int32_t y = 0; y < padded_h; ++y) {
    int8_t *d = dst + (size_t)y * prow;
    const int32_t iy = y - pad_h;
    if (iy < 0 || iy >= in_h) {
      for (int32_t k = 0; k < K; ++k)
        for (int32_t j = 0; j < width; ++j) vst1q_s8(d + (size_t)k * plane + 16 * j, zp);
      continue;
    }
    const int8_t *row = in_b + (size_t)iy * in_row;
    if (jb > ja) {
      const int8_t *src = row + (size_t)(ja * sw - pad_w) * C;
      int8_t *dj = d + 16 * (size_t)ja;
      switch (K) {
        case 2: planes_inner<2>(src, dj, plane, jb - ja); break;
        case 3: planes_inner<3>(src, dj, plane, jb - ja); break;
        case 4: planes_inner<4>(src, dj, plane, jb - ja); break;
        case 6: planes_inner<6>(src, dj, plane, jb - ja); break;
        case 8: planes_inner<8>(src, dj, plane, jb - ja); break;
        default:
          for (int32_t j = ja; j < jb; ++j, src += 16 * K)
            for (int32_t k = 0; k < K; ++k) vst1q_s8(d + (size_t)k * plane + 16 * j, vld1q_s8(src + 16 * k));
      }
    }
    if (table) {
      for (int32_t b = 0; b < borders; ++b)
        vst1q_s8(d + border_dst[b], border_src[b] >= 0 ? vld1q_s8(row + border_src[b]) : zp);
      continue;
    }
    for (int32_t j = 0; j < width; ++j) {  // a very wide border: tap by tap
      if (j >= ja && j < jb) continue;
      int8_t *dk = d + 16 * (size_t)j;
      for (int32_t px = 0; px < sw; ++px) {
        const int32_t ix = j * sw + px - pad_w;
        for (int32_t grp = 0; grp < groups; ++grp, dk += plane)
          vst1q_s8(dk, ix >= 0 && ix < in_w ? vld1q_s8(row + (size_t)ix * C + 16 * grp) : zp);
      }
    }
  }
}

/* Columns (segments == 2): for a small filter_h * in_c, each output row y gets one "column" per padded input column
 * x: the filter_h taps (y * stride_h + fy * dilation_h, x) one after the other, filter_h * in_c bytes. A window's
 * filter_w columns are then contiguous: its GEMM row (K in (fx, fy, c) order, the packed filter permuted to match)
 * is read in place, filter_w * filter_h * in_c bytes (k_padded: the tail multiplies zero weights), and the windows
 * of a row are stride_w columns apart. Bytes per output row of columns: */
static inline int32_t column_row_bytes(const ep_conv2d_s8_neon_params *p, const Source &s) {
  return s.padded_w * p->filter_h * p->in_c;
}
/* The columns' scratch: out_h rows, then slack for the last chunk's overrun and the K tail's over-read. */
#define EP_NEON_COLUMNS_SLACK 128
static inline size_t columns_bytes(const ep_conv2d_s8_neon_params *p, const Source &s) {
  return (((size_t)p->out_h * (size_t)column_row_bytes(p, s) + 15u) & ~(size_t)15u) + EP_NEON_COLUMNS_SLACK;
}

/* Builds the columns of every output row from the padded image. AArch64 with 2 <= filter_h <= 4 and
 * filter_h * in_c <= 16: per chunk of m = 16 / in_c columns, one 16-byte load per filter row and TBLs over those
 * filter_h registers give the m columns' m * filter_h * in_c bytes (16-byte stores; each chunk's overrun is
 * overwritten by the next chunk or the next row, the last one lands in the slack). The loads read up to 16 bytes
 * past a padded row: the next row, or the columns that follow the padded image in the scratch (garbage that only
 * reaches the overrun). Else byte copies. */
static inline void build_columns(const ep_conv2d_s8_neon_params *p, const Source &s, const int8_t *image,
                                 int8_t *columns) {
  const int32_t C = p->in_c, FH = p->filter_h, col = FH * C, width = s.padded_w;
  const size_t src_row = (size_t)width * C, tap_row = src_row * p->dilation_h, y_step = src_row * p->stride_h;
  const int32_t row_bytes = column_row_bytes(p, s);
#if defined(__aarch64__)
  if (FH >= 2 && FH <= 4 && col <= 16) {
    const int32_t m = 16 / C, chunk = m * col, vectors = (chunk + 15) / 16;
    uint8_t index[64];
    for (int32_t j = 0; j < 64; ++j) {  // output byte j of a chunk: column j / col, tap (j % col) / C, channel
      const int32_t x = j / col, fy = (j % col) / C, c = j % C;
      index[j] = j < chunk ? (uint8_t)(16 * fy + x * C + c) : 0;
    }
    const uint8x16_t i0 = vld1q_u8(index), i1 = vld1q_u8(index + 16), i2 = vld1q_u8(index + 32);
    const uint8x16_t i3 = vld1q_u8(index + 48);
    for (int32_t y = 0; y < p->out_h; ++y) {
      const int8_t *r = image + (size_t)y * y_step;
      int8_t *dst = columns + (size_t)y * row_bytes;
      for (int32_t x = 0; x < width; x += m, r += m * C, dst += chunk) {
        int8x16x4_t t;
        t.val[0] = vld1q_s8(r);
        t.val[1] = vld1q_s8(r + tap_row);
        t.val[2] = FH > 2 ? vld1q_s8(r + 2 * tap_row) : t.val[1];
        t.val[3] = FH > 3 ? vld1q_s8(r + 3 * tap_row) : t.val[2];
        if (FH == 2) {
          const int8x16x2_t u = {{t.val[0], t.val[1]}};
          vst1q_s8(dst, vqtbl2q_s8(u, i0));
          if (vectors > 1) vst1q_s8(dst + 16, vqtbl2q_s8(u, i1));
        } else if (FH == 3) {
          const int8x16x3_t u = {{t.val[0], t.val[1], t.val[2]}};
          vst1q_s8(dst, vqtbl3q_s8(u, i0));
          if (vectors > 1) vst1q_s8(dst + 16, vqtbl3q_s8(u, i1));
          if (vectors > 2) vst1q_s8(dst + 32, vqtbl3q_s8(u, i2));
        } else {
          vst1q_s8(dst, vqtbl4q_s8(t, i0));
          if (vectors > 1) vst1q_s8(dst + 16, vqtbl4q_s8(t, i1));
          if (vectors > 2) vst1q_s8(dst + 32, vqtbl4q_s8(t, i2));
          if (vectors > 3) vst1q_s8(dst + 48, vqtbl4q_s8(t, i3));
        }
      }
    }
    return;
  }
#endif
  for (int32_t y = 0; y < p->out_h; ++y) {
    const int8_t *r = image + (size_t)y * y_step;
    int8_t *dst = columns + (size_t)y * row_bytes;
    for (int32_t x = 0; x < width; ++x, dst += col)
      for (int32_t fy = 0; fy < FH; ++fy)
        for (int32_t c = 0; c < C; ++c) dst[fy * C + c] = r[(size_t)fy * tap_row + (size_t)x * C + c];
  }
}

/* The 16-byte steps of a GEMM row: step s reads rows[i] + offsets[s] (offsets[0] == 0). In place (segments), a
 * window's filter_h rows are segments of segment_bytes() bytes, one image row apart (the bytes past filter_w * in_c
 * multiply zero weights; after the image's last row they read the scratch that follows the padded copy, the step
 * offsets); im2col rows are contiguous. */
struct Steps {
  const int32_t *offsets;
  int32_t count;
  /* The same steps as pair_rows runs of `pairs` pairs of adjacent steps (32 contiguous bytes each), the next run
   * pair_jump bytes after the end of one (segments: one run per filter row; else one run); pairs = 0 when some run
   * has an odd number of steps. */
  int32_t pairs, pair_rows, pair_jump;
  /* Segments: the filter rows' steps per row (segment_bytes / 16) and the bytes from one filter row to the next;
   * else 0. */
  int32_t row_steps, row_stride;
  /* count / 3 when the steps come in triples 16 bytes apart read by packed blocks (a filter row of 3 taps at stride
   * 1: tap fx + 1 of pixel p is tap fx of pixel p + 1; planes or 16-channel segments), else 0. */
  int32_t triples;
};

/* Tiles that also take a run of whole blocks: bool run(const int8_t *window, size_t x_step, int32_t blocks,
 * const Steps &, int8_t *out) computes `blocks` >= 1 blocks of EP_NEON_GEMM_PIXELS pixels, pixel j's window at
 * window + x_step j (packed: x_step == 16) and its outputs at out + j out_c, in one call (false: not taken, the
 * driver goes block by block). */
template <class T, class = void>
struct TileRuns {
  static constexpr bool value = false;
};
template <class T>
struct TileRuns<T, decltype(void(&T::run))> {
  static constexpr bool value = true;
};

/* Tile: void operator()(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n, const Steps &steps, int8_t *out,
 * bool packed) computes all output channels of n <= EP_NEON_GEMM_PIXELS consecutive pixels (rows past n repeat row
 * n - 1); packed: n == EP_NEON_GEMM_PIXELS and rows[i] == rows[0] + 16 * i. */
template <class Tile>
static inline ep_status conv_gemm(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch,
                                  int8_t *output, const Tile &tile) {
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || p->in_c <= 0 ||
      p->k_padded < p->filter_h * p->filter_w * p->in_c || p->k_padded % 16 != 0 ||
      (p->direct && (p->in_c % 16 != 0 || p->filter_h != 1 || p->filter_w != 1 || p->pad_h || p->pad_w)) ||
      (p->segments == 1 && !p->direct && (p->dilation_w != 1 || p->k_padded != p->filter_h * segment_bytes(p))) ||
      (p->segments == 2 && !p->direct &&
       (p->dilation_w != 1 || p->k_padded != ((p->filter_h * p->filter_w * p->in_c + 15) & ~15))) ||
      (p->segments == 3 && !p->direct &&
       (p->dilation_w != 1 || p->in_c % 16 != 0 || p->k_padded != p->filter_h * p->filter_w * p->in_c)) ||
      p->segments < 0 || p->segments > 3)
    return EP_ERROR_ARGUMENT;
  const Source src = p->direct ? Source{p->in_h, p->in_w, false} : source_geometry(p);
  const bool segments = p->direct || p->segments;  // rows read in place (from the columns for segments == 2)
  const bool columns = !p->direct && p->segments == 2;
  const bool planar = !p->direct && p->segments == 3;
  const Planes planes = planes_geometry(p, src);
  const size_t in_image = (size_t)p->in_h * p->in_w * p->in_c;
  const size_t src_row = (size_t)src.padded_w * p->in_c;
  int8_t *padded = (int8_t *)scratch;
  int8_t *cols = padded + (planar     ? planes.bytes * (size_t)(p->stride_w * (p->in_c / 16))
                           : src.copy ? ((src_row * src.padded_h + 15u) & ~(size_t)15u)
                                      : 0);
  const int32_t row_bytes = p->filter_w * p->in_c, k = p->filter_h * row_bytes, seg = segment_bytes(p);
  // The step offsets follow the padded image and the im2col rows (or the columns) in the scratch.
  int32_t *offsets = (int32_t *)(void *)(columns    ? cols + columns_bytes(p, src)
                                         : segments ? cols
                                                    : cols + EP_NEON_GEMM_SCRATCH_BYTES(p->k_padded) + 16);
  int32_t n_steps = 0, pairs = 0, pair_rows = 0, pair_jump = 0, row_steps = 0, row_stride = 0;
  int32_t triples = 0;
  if (planar) {  // (fy, channel group, fx): plane (fx % stride_w, group), column fx / stride_w, row fy * dilation_h
    const int32_t groups = p->in_c / 16;
    for (int32_t fy = 0; fy < p->filter_h; ++fy)
      for (int32_t g = 0; g < groups; ++g)
        for (int32_t fx = 0; fx < p->filter_w; ++fx)
          offsets[n_steps++] = (int32_t)((size_t)((fx % p->stride_w) * groups + g) * planes.bytes +
                                         (size_t)fy * p->dilation_h * planes.row + (size_t)(fx / p->stride_w) * 16u);
    if (p->filter_w == 3 && p->stride_w == 1) triples = n_steps / 3;
  } else if (segments && !p->direct && !columns) {
    const int32_t stride = (int32_t)(src_row * p->dilation_h);
    row_steps = seg / 16, row_stride = stride;
    for (int32_t fy = 0; fy < p->filter_h; ++fy)
      for (int32_t b = 0; b < seg; b += 16) offsets[n_steps++] = fy * stride + b;
    if (seg % 32 == 0) pairs = seg / 32, pair_rows = p->filter_h, pair_jump = stride - seg;
    if (p->in_c == 16 && p->filter_w == 3 && p->stride_w == 1) triples = n_steps / 3;  // seg 48: one row, 3 steps
  } else {
    for (int32_t b = 0; b < p->k_padded; b += 16) offsets[n_steps++] = b;
    if (n_steps % 2 == 0) pairs = n_steps / 2, pair_rows = 1;
  }
  const Steps steps{offsets, n_steps, pairs, pair_rows, pair_jump, row_steps, row_stride, triples};
  if (!segments && p->k_padded > k) {  // the K tail of the im2col rows multiplies zero weights: make it finite
    for (int32_t i = 0; i < EP_NEON_GEMM_PIXELS; ++i) memset(cols + (size_t)i * p->k_padded + k, 0, (size_t)(p->k_padded - k));
  }
  const int32_t pixels = p->out_h * p->out_w;
  // Locals: the im2col stores (int8_t) may alias *p, so the compiler would reload every field per row.
  const int32_t filter_h = p->filter_h, filter_w = p->filter_w, in_c = p->in_c, dilation_w = p->dilation_w;
  const int32_t k_padded = p->k_padded, out_w = p->out_w;
  const size_t tap_row = src_row * (size_t)p->dilation_h;
  const size_t y_step = planar    ? planes.row * (size_t)p->stride_h
                        : columns ? (size_t)column_row_bytes(p, src)
                                  : src_row * (size_t)p->stride_h;
  const size_t x_step = planar ? 16u : (size_t)p->stride_w * (size_t)in_c * (columns ? (size_t)filter_h : 1u);
  const bool short_rows = src.copy && dilation_w == 1 && row_bytes < 16;
  int8_t *out = output;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *image = input + (size_t)b * in_image;
    if (planar) {
      pad_planes(p, src, planes, image, padded);
      image = padded;
    } else if (src.copy) {
      pad_image(p, src, image, padded);
      image = padded;
    }
    if (columns) {
      build_columns(p, src, image, cols);
      image = cols;
    }
    int32_t ox = 0;  // the next pixel to gather: column ox, window at `window`
    const int8_t *row_start = image, *window = image;
    for (int32_t q = 0; q < pixels; q += EP_NEON_GEMM_PIXELS) {
      const int32_t n = pixels - q < EP_NEON_GEMM_PIXELS ? pixels - q : EP_NEON_GEMM_PIXELS;
      // All 8 windows in one output row, 16 bytes apart: the tile may load them as one 128-byte block.
      const bool in_row = n == EP_NEON_GEMM_PIXELS && ox + EP_NEON_GEMM_PIXELS <= out_w;
      const bool packed = segments && x_step == 16 && in_row;
      const int8_t *rows[EP_NEON_GEMM_PIXELS];
      if (segments && in_row) {  // windows x_step apart, no row change inside the block
        if constexpr (TileRuns<Tile>::value) {  // the rest of this output row's whole blocks at once
          const int32_t blocks = (out_w - ox) / EP_NEON_GEMM_PIXELS;
          if (tile.run(window, x_step, blocks, steps, out + (size_t)q * p->out_c)) {
            const int32_t run = blocks * EP_NEON_GEMM_PIXELS;
            q += run - EP_NEON_GEMM_PIXELS;  // the loop adds the last block's
            window += (size_t)run * x_step;
            if ((ox += run) == out_w) ox = 0, row_start += y_step, window = row_start;
            continue;
          }
        }
        rows[0] = window, rows[1] = rows[0] + x_step, rows[2] = rows[1] + x_step, rows[3] = rows[2] + x_step;
        rows[4] = rows[3] + x_step, rows[5] = rows[4] + x_step, rows[6] = rows[5] + x_step, rows[7] = rows[6] + x_step;
        window += EP_NEON_GEMM_PIXELS * x_step;
        if ((ox += EP_NEON_GEMM_PIXELS) == out_w) ox = 0, row_start += y_step, window = row_start;
        tile(rows, n, steps, out + (size_t)q * p->out_c, packed);
        continue;
      }
      for (int32_t i = 0; i < n; ++i) {
        if (segments) {
          rows[i] = window;
        } else {
          // im2col from the padded image: every tap is inside it.
          int8_t *dst = cols + (size_t)i * k_padded;
          if (dilation_w == 1 && row_bytes == 4) {  // e.g. in_c 1 with a 4-wide filter: one word per row
            for (int32_t fy = 0; fy < filter_h; ++fy) memcpy(dst + 4 * fy, window + (size_t)fy * tap_row, 4);
          } else if (short_rows) {
            // Rows shorter than 16 bytes read from the padded copy: copy 16 bytes each, in order, so each row's
            // overrun is overwritten by the next row; the last one lands in the K tail (zero weights), the next
            // pixel's row (written later) or the scratch's 16 spare bytes. The reads stay inside the scratch.
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
      for (int32_t i = n; i < EP_NEON_GEMM_PIXELS; ++i) rows[i] = rows[n - 1];
      tile(rows, n, steps, out + (size_t)q * p->out_c, packed);
    }
    out += (size_t)pixels * p->out_c;
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
