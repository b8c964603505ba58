// PAD / PADV2 float: each output block is either all padding (filled) or, per innermost row, leading
// padding, the input row, trailing padding. Elements move as raw bits (uint32_t).
#include <string.h>

#include "edgeprune/kernels/shape.h"

namespace {

typedef uint32_t elem_t;

struct PadCtx {
  int32_t in_dims[EP_PAD_DIMS], before[EP_PAD_DIMS], after[EP_PAD_DIMS], out_dims[EP_PAD_DIMS];
  int32_t out_block[EP_PAD_DIMS + 1];  // elements of one output index at dim i (product of later dims)
  int32_t in_block[EP_PAD_DIMS + 1];
  elem_t value;
};

inline void fill(elem_t *dst, int32_t n, elem_t v) {
  for (int32_t i = 0; i < n; ++i) dst[i] = v;
}

inline uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

// Writes the output block of dim `dim` whose input counterpart starts at `src`.
void pad_block(const PadCtx &c, int dim, const elem_t *src, elem_t *dst) {
  const int32_t ob = c.out_block[dim + 1], ib = c.in_block[dim + 1];
  const int32_t nb = c.before[dim], ni = c.in_dims[dim], na = c.after[dim];
  fill(dst, nb * ob, c.value);
  dst += nb * ob;
  if (dim == EP_PAD_DIMS - 1) {
    memcpy(dst, src, (size_t)ni * sizeof(elem_t));
    dst += ni;
  } else {
    for (int32_t i = 0; i < ni; ++i) {
      pad_block(c, dim + 1, src, dst);
      src += ib;
      dst += ob;
    }
  }
  fill(dst, na * ob, c.value);
}

}  // namespace

extern "C" ep_status ep_pad_f32(const ep_pad_f32_params *p, const float *input, float *output) {
  PadCtx c;
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
  c.value = bits_of(p->pad_value);
  pad_block(c, 0, (const elem_t *)(const void *)input, (elem_t *)(void *)output);
  return EP_OK;
}
