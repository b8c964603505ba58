// TRANSPOSE int8_t: the shared walk (edgeprune/detail/transpose.h) on raw bits (uint8_t).
#include "edgeprune/detail/transpose.h"

extern "C" ep_status ep_transpose_s8(const ep_transpose_s8_params *p, const int8_t *input, int8_t *output) {
  ep::detail::transpose(p->dims, p->in_strides, (const uint8_t *)(const void *)input, (uint8_t *)(void *)output);
  return EP_OK;
}
