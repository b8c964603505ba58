// MUL float32: TFLite's reference (x * y, then the fused activation clamp), with broadcasting
// (edgeprune/detail/broadcast.h).
#include "edgeprune/arith.h"
#include "edgeprune/detail/broadcast.h"

namespace {

struct MulF32 {
  float lo, hi;
  inline float operator()(float x, float y) const { return ep::clamp_f32(x * y, lo, hi); }
};

}  // namespace

extern "C" ep_status ep_mul_f32(const ep_mul_f32_params *p, const float *in1, const float *in2, float *out) {
  const MulF32 f = {p->act_min, p->act_max};
  ep::detail::binary_broadcast(p, in1, in2, out, f);
  return EP_OK;
}
