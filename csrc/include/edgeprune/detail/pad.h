/* Internal (C++ only): the PAD / PADV2 walk shared by ep_pad_f32 and ep_pad_s8. Elements move as
 * raw bits of type T (uint32_t for float, uint8_t for int8_t). Each output block is either all
 * padding (filled) or, per innermost row, leading padding, the input row, trailing padding. */
#ifndef EDGEPRUNE_DETAIL_PAD_H
#define EDGEPRUNE_DETAIL_PAD_H

#include <string.h>

#include "edgeprune/kernels/shape.h"

namespace ep {
namespace detail {

template <typename T>
struct PadCtx {
  int32_t in_dims[EP_PAD_DIMS], before[EP_PAD_DIMS], after[EP_PAD_DIMS], out_dims[EP_PAD_DIMS];
  int32_t out_block[EP_PAD_DIMS + 1];  // elements of one output index at dim i (product of later dims)
  int32_t in_block[EP_PAD_DIMS + 1];
  T value;
};

template <typename T>
inline void pad_fill(T *dst, int32_t n, T v) {
  for (int32_t i = 0; i < n; ++i) dst[i] = v;
}

// Writes the output block of dim `dim` whose input counterpart starts at `src`.
template <typename T>
void pad_block(const PadCtx<T> &c, int dim, const T *src, T *dst) {
  const int32_t ob = c.out_block[dim + 1], ib = c.in_block[dim + 1];
  const int32_t nb = c.before[dim], ni = c.in_dims[dim], na = c.after[dim];
  pad_fill(dst, nb * ob, c.value);
  dst += nb * ob;
  if (dim == EP_PAD_DIMS - 1) {
    memcpy(dst, src, (size_t)ni * sizeof(T));
    dst += ni;
  } else {
    for (int32_t i = 0; i < ni; ++i) {
      pad_block(c, dim + 1, src, dst);
      src += ib;
      dst += ob;
    }
  }
  pad_fill(dst, na * ob, c.value);
}

// P is ep_pad_f32_params or ep_pad_s8_params (same dim fields); `value` is the pad value's raw bits.
template <typename T, typename P>
inline ep_status pad(const P *p, T value, const void *input, void *output) {
  PadCtx<T> c;
  for (int i = 0; i < EP_PAD_DIMS; ++i) {
    if (p->in_dims[i] < 0 || p->pad_before[i] < 0 || p->pad_after[i] < 0) return EP_ERROR_ARGUMENT;
    c.in_dims[i] = p->in_dims[i];
    c.before[i] = p->pad_before[i];
    c.after[i] = p->pad_after[i];
    c.out_dims[i] = p->pad_before[i] + p->in_dims[i] + p->pad_after[i];
  }
  c.out_block[EP_PAD_DIMS] = 1;
  c.in_block[EP_PAD_DIMS] = 1;
  for (int i = EP_PAD_DIMS - 1; i >= 0; --i) {
    c.out_block[i] = c.out_block[i + 1] * c.out_dims[i];
    c.in_block[i] = c.in_block[i + 1] * c.in_dims[i];
  }
  c.value = value;
  pad_block(c, 0, (const T *)input, (T *)output);
  return EP_OK;
}

}  // namespace detail
}  // namespace ep

#endif  // EDGEPRUNE_DETAIL_PAD_H
