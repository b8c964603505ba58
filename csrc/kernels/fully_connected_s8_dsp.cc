// FULLY_CONNECTED, int8 (symmetric weights), Armv7E-M DSP: the input rows are widened to int16 (offset
// added) and multiplied by pre-sign-extended int16 weights with the 2x2 SMLAD GEMM; the accumulator is
// rescaled in double exactly like ep_fully_connected_s8 (TFLite's reference).
#include <math.h>

#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv_dsp.h"

namespace {

inline int32_t slot_in_group(int32_t j) { return ((j & 1) << 1) | (j >> 1); }

// One input row into column slot `col` (interleaved two-column layout), zero-padded to depth_padded.
void widen_row(const int8_t *x, int32_t depth, int32_t depth_padded, uint32_t off2, int32_t offset,
               uint32_t *col) {
  const int32_t whole = depth & ~3;
  ep::dsp::widen_block(x, whole, off2, col);
  int16_t *dst = (int16_t *)(void *)col;
  for (int32_t e = whole; e < depth_padded; ++e)
    dst[8 * (e >> 2) + slot_in_group(e & 3)] = (int16_t)(e < depth ? (int32_t)x[e] + offset : 0);
}

inline int8_t rescale(int32_t acc, double effective, int32_t output_offset, int32_t act_min, int32_t act_max) {
  double scaled = round((double)acc * effective);
  if (scaled > 2147483000.0) scaled = 2147483000.0;
  if (scaled < -2147483000.0) scaled = -2147483000.0;
  return (int8_t)ep::clamp_i32((int32_t)scaled + output_offset, act_min, act_max);
}

}  // namespace

extern "C" EP_DSP_HOT ep_status ep_fully_connected_s8_dsp(const ep_fully_connected_s8_dsp_params *p,
                                                          const int8_t *input, const int16_t *weights,
                                                          const int32_t *bias, void *scratch, int8_t *output) {
  const int32_t batches = p->batches, depth = p->depth, units = p->units, dpad = p->depth_padded;
  if (batches < 0 || depth < 0 || units < 0 || !(p->output_scale > 0.0f) || dpad < depth || dpad % 8 != 0 ||
      dpad - depth >= 8)
    return EP_ERROR_ARGUMENT;
  const int32_t offset = p->input_offset, output_offset = p->output_offset;
  const int32_t act_min = p->act_min, act_max = p->act_max;
  const uint32_t off2 = ep::dsp::dup16(offset);
  const double in_scale = (double)p->input_scale, out_scale = (double)p->output_scale;
  int32_t *acc = (int32_t *)scratch;  // [unit pairs][2 units][2 rows]
  uint32_t *cols = (uint32_t *)(void *)(acc + 2 * ((units + 1) & ~1));
  const uint32_t *w = (const uint32_t *)(const void *)weights;
  const int32_t groups = dpad / 4, pairs = (units + 1) / 2;
  for (int32_t b = 0; b < batches; b += 2) {
    const int32_t b1 = b + 1 < batches ? b + 1 : b;
    widen_row(input + (size_t)b * depth, depth, dpad, off2, offset, cols);
    widen_row(input + (size_t)b1 * depth, depth, dpad, off2, offset, cols + 2);
    ep::dsp::gemm_pairs(w, cols, groups, pairs, acc);
    int8_t *out0 = output + (size_t)b * units, *out1 = output + (size_t)b1 * units;
    for (int32_t u = 0; u < units; ++u) {
      const double effective = in_scale * (double)p->filter_scales[u] / out_scale;
      const int32_t b0v = bias ? bias[u] : 0;
      out0[u] = rescale((int32_t)((uint32_t)acc[2 * u] + (uint32_t)b0v), effective, output_offset, act_min, act_max);
      out1[u] = rescale((int32_t)((uint32_t)acc[2 * u + 1] + (uint32_t)b0v), effective, output_offset, act_min,
                        act_max);
    }
  }
  return EP_OK;
}
