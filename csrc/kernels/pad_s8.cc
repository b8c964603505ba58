// PAD / PADV2 int8_t: the shared walk (edgeprune/detail/pad.h) on raw bits (uint8_t).
#include "edgeprune/detail/pad.h"

extern "C" ep_status ep_pad_s8(const ep_pad_s8_params *p, const int8_t *input, int8_t *output) {
  return ep::detail::pad<uint8_t>(p, (uint8_t)(int8_t)p->pad_value, input, output);
}
