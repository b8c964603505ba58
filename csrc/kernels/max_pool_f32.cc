// MAX_POOL_2D float: TFLite's reference MaxPool (max over the in-bounds window, then the clamp).
#include "edgeprune/arith.h"
#include "edgeprune/detail/max_pool.h"

namespace {

struct ClampF32 {
  float lo, hi;
  inline float operator()(float x) const { return ep::clamp_f32(x, lo, hi); }
};

}  // namespace

extern "C" ep_status ep_max_pool_f32(const ep_max_pool_f32_params *p, const float *input, float *output) {
  const ClampF32 clamp = {p->act_min, p->act_max};
  return ep::detail::max_pool(p, input, output, -3.4028235e38f, clamp);
}
