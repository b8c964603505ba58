// MAX_POOL_2D int8_t: TFLite's reference MaxPool (max over the in-bounds window, then the clamp).
#include "edgeprune/arith.h"
#include "edgeprune/detail/max_pool.h"

namespace {

struct ClampS8 {
  int32_t lo, hi;
  inline int8_t operator()(int8_t x) const { return (int8_t)ep::clamp_i32(x, lo, hi); }
};

}  // namespace

extern "C" ep_status ep_max_pool_s8(const ep_max_pool_s8_params *p, const int8_t *input, int8_t *output) {
  const ClampS8 clamp = {p->act_min, p->act_max};
  return ep::detail::max_pool(p, input, output, (int8_t)-128, clamp);
}
