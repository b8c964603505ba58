// TRANSPOSE float: the shared walk (edgeprune/detail/transpose.h) on raw bits (uint32_t).
#include "edgeprune/detail/transpose.h"

extern "C" ep_status ep_transpose_f32(const ep_transpose_f32_params *p, const float *input, float *output) {
  ep::detail::transpose(p->dims, p->in_strides, (const uint32_t *)(const void *)input, (uint32_t *)(void *)output);
  return EP_OK;
}
