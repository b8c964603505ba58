/* Shared inline step of the float -> int8 QUANTIZE kernels (C++ only, not part of the C API). */
#ifndef EDGEPRUNE_KERNELS_QUANTIZE_COMMON_H
#define EDGEPRUNE_KERNELS_QUANTIZE_COMMON_H

#include <stdint.h>

/* clamp((int32)r + zp, -128, 127) for r = roundf(x / scale), with LiteRT-on-x86 semantics for values
 * that do not fit int32: the conversion gives INT32_MIN (also for NaN and +-inf), and the zero point
 * is added with two's-complement wraparound. */
static inline int8_t ep_quantize_rounded(float r, int32_t zp) {
  int32_t v;
  if (r >= -2147483648.0f && r < 2147483648.0f) {
    v = (int32_t)r;
  } else {
    v = INT32_MIN;
  }
  v = (int32_t)((uint32_t)v + (uint32_t)zp);
  v = v < -128 ? -128 : v;
  v = v > 127 ? 127 : v;
  return (int8_t)v;
}

#endif
