// FULLY_CONNECTED, int8, symmetric weights, on Helium: VMLADAVA dot products (16 MACs per instruction), the
// input offset folded into the bias at build time, the reference's double-precision rescale per unit.
// Bit-exact with ep_fully_connected_s8 (weights_offset == 0).
#include <math.h>

#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv_mve.h"

extern "C" ep_status ep_fully_connected_s8_mve(const ep_fully_connected_s8_mve_params *p, const int8_t *input,
                                               const int8_t *weights, int8_t *output) {
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
  if (p->batches < 0 || p->depth < 0 || p->units < 0 || !(p->output_scale > 0.0f)) return EP_ERROR_ARGUMENT;
  const int32_t depth = p->depth, units = p->units;
  const int32_t full = depth >> 4, rem = depth & 15;
  const mve_pred16_t tail = vctp8q((uint32_t)rem);
  const int32_t output_offset = p->output_offset;
  const int32_t act_min = p->act_min, act_max = p->act_max;
  const double in_scale = (double)p->input_scale, out_scale = (double)p->output_scale;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *x = input + b * depth;
    const int8_t *w = weights;
    for (int32_t u = 0; u < units; ++u) {
      int32_t acc = p->bias[u];
      const int8_t *xp = x;
      for (int32_t k = 0; k < full; ++k, xp += 16, w += 16) acc = vmladavaq_s8(acc, vldrbq_s8(xp), vldrbq_s8(w));
      if (rem) {
        acc = vmladavaq_s8(acc, vldrbq_z_s8(xp, tail), vldrbq_z_s8(w, tail));
        w += rem;
      }
      const double effective = in_scale * (double)p->filter_scales[u] / out_scale;
      double scaled = round((double)acc * effective);
      if (scaled > 2147483000.0) scaled = 2147483000.0;
      if (scaled < -2147483000.0) scaled = -2147483000.0;
      const int32_t v = (int32_t)scaled + output_offset;
      *output++ = (int8_t)ep::clamp_i32(v, act_min, act_max);
    }
  }
  return EP_OK;
#else
  (void)p;
  (void)input;
  (void)weights;
  (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
