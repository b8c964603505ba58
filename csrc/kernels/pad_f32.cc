// PAD / PADV2 float: the shared walk (edgeprune/detail/pad.h) on raw bits (uint32_t).
#include <string.h>

#include "edgeprune/detail/pad.h"

extern "C" ep_status ep_pad_f32(const ep_pad_f32_params *p, const float *input, float *output) {
  uint32_t value;
  memcpy(&value, &p->pad_value, sizeof value);
  return ep::detail::pad<uint32_t>(p, value, input, output);
}
