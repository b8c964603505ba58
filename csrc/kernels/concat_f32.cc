// CONCATENATION float: one call per input copies its rows into their place in the output.
#include <string.h>

#include "edgeprune/kernels/shape.h"

extern "C" ep_status ep_concat_f32(const ep_concat_f32_params *p, const float *input, float *output) {
  if (p->outer < 0 || p->in_row < 0 || p->offset < 0 || p->offset + p->in_row > p->out_row) return EP_ERROR_ARGUMENT;
  const size_t row_bytes = (size_t)p->in_row * sizeof(float);
  float *dst = output + p->offset;
  for (int32_t o = 0; o < p->outer; ++o) {
    memcpy(dst, input, row_bytes);
    input += p->in_row;
    dst += p->out_row;
  }
  return EP_OK;
}
