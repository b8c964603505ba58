/* Internal (C++ only): the TRANSPOSE walk shared by ep_transpose_f32 and ep_transpose_s8. The output
 * is written in order; each output dim walks the input with its stride. Elements move as raw bits of
 * type T (uint32_t for float, uint8_t for int8_t); a short innermost dim that the input strides walks the
 * input's contiguous dim innermost instead. */
#ifndef EDGEPRUNE_DETAIL_TRANSPOSE_H
#define EDGEPRUNE_DETAIL_TRANSPOSE_H

#include <stddef.h>

#include "edgeprune/kernels/shape.h"

#if defined(__ARM_NEON)
#include <arm_neon.h>
#endif

namespace ep {
namespace detail {

/* dst[i * n + j] = planes[j * plane + i] for j < n planes, i < count: n planes of `count` contiguous elements
 * interleaved (NCHW -> NHWC with few channels). On NEON, 2 to 4 byte planes go 16 elements at a time through
 * LD1 + ST2/ST3/ST4. */
template <typename T>
inline void interleave(const T *planes, int32_t plane, int32_t n, int32_t count, T *dst) {
  for (int32_t j = 0; j < n; ++j) {
    const T *a = planes + (size_t)j * plane;
    for (int32_t i = 0; i < count; ++i) dst[(size_t)i * n + j] = a[i];
  }
}

#if defined(__ARM_NEON)
template <>
inline void interleave<uint8_t>(const uint8_t *planes, int32_t plane, int32_t n, int32_t count, uint8_t *dst) {
  const uint8_t *a = planes, *b = planes + plane;  // the third and fourth planes only where n has them
  int32_t i = 0;
  if (n == 2) {
    uint8x16x2_t v;
    for (; i + 16 <= count; i += 16) {
      v.val[0] = vld1q_u8(a + i), v.val[1] = vld1q_u8(b + i);
      vst2q_u8(dst + 2 * i, v);
    }
  } else if (n == 3) {
    const uint8_t *c = planes + 2 * (size_t)plane;
    uint8x16x3_t v;
    for (; i + 16 <= count; i += 16) {
      v.val[0] = vld1q_u8(a + i), v.val[1] = vld1q_u8(b + i), v.val[2] = vld1q_u8(c + i);
      vst3q_u8(dst + 3 * i, v);
    }
  } else if (n == 4) {
    const uint8_t *c = planes + 2 * (size_t)plane, *d = planes + 3 * (size_t)plane;
    uint8x16x4_t v;
    for (; i + 16 <= count; i += 16) {
      v.val[0] = vld1q_u8(a + i), v.val[1] = vld1q_u8(b + i), v.val[2] = vld1q_u8(c + i), v.val[3] = vld1q_u8(d + i);
      vst4q_u8(dst + 4 * i, v);
    }
  }
  for (int32_t j = 0; j < n; ++j) {
    const uint8_t *p = planes + (size_t)j * plane;
    for (int32_t k = i; k < count; ++k) dst[(size_t)k * n + j] = p[k];
  }
}
#endif

// d: the 6 output dims; s: the input element stride along each output dim.
template <typename T>
inline void transpose(const int32_t *d, const int32_t *s, const T *in, T *out) {
  // When the output's innermost dim is short and strided in the input while another dim k is contiguous there
  // (NCHW -> NHWC: 3 channels, 9216 elements apart), loop over k innermost: a plane interleave per outer index.
  int32_t k = -1;
  if (s[5] != 1)
    for (int32_t j = 0; j < 5; ++j)
      if (s[j] == 1 && d[j] > d[5] && (k < 0 || d[j] > d[k])) k = j;
  if (k >= 0) {
    int32_t os[6], e[6];
    os[5] = 1;
    for (int32_t j = 4; j >= 0; --j) os[j] = os[j + 1] * d[j + 1];
    for (int32_t j = 0; j < 6; ++j) e[j] = j == k || j == 5 ? 1 : d[j];
    const bool packed = os[k] == d[5];  // k is the output's next dim out: one interleave writes n5 * d[k] in a row
    for (int32_t i0 = 0; i0 < e[0]; ++i0)
      for (int32_t i1 = 0; i1 < e[1]; ++i1)
        for (int32_t i2 = 0; i2 < e[2]; ++i2)
          for (int32_t i3 = 0; i3 < e[3]; ++i3)
            for (int32_t i4 = 0; i4 < e[4]; ++i4) {
              const T *src = in + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
              T *dst = out + i0 * os[0] + i1 * os[1] + i2 * os[2] + i3 * os[3] + i4 * os[4];
              if (packed) {
                interleave(src, s[5], d[5], d[k], dst);
                continue;
              }
              for (int32_t i5 = 0; i5 < d[5]; ++i5)
                for (int32_t ik = 0; ik < d[k]; ++ik) dst[ik * os[k] + i5] = src[i5 * s[5] + ik];
            }
    return;
  }
  const int32_t n5 = d[5], s5 = s[5];
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        for (int32_t i3 = 0; i3 < d[3]; ++i3) {
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const T *src = in + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
            for (int32_t i5 = 0; i5 < n5; ++i5) out[i5] = src[i5 * s5];
            out += n5;
          }
        }
      }
    }
  }
}

}  // namespace detail
}  // namespace ep

#endif  // EDGEPRUNE_DETAIL_TRANSPOSE_H
