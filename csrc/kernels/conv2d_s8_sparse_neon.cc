// CONV_2D and FULLY_CONNECTED, int8, block-sparse weights (8 output channels x 4 k), any Armv8-A NEON core
// (Cortex-A72, Raspberry Pi 4; no SDOT): 4 GEMM rows at a time in a [group][4 px][4 k x 4] table (each pixel's 4
// bytes repeated across the vector), then per two stored blocks SMULL + SMLAL (two products in int16: weights in
// [-127, 127]) and SADALP into int32 (edgeprune/kernels/sparse_neon.h). Bit-exact with ep_conv2d_s8 /
// ep_fully_connected_s8.
#include "edgeprune/kernels/sparse_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
namespace {

using namespace ep::sparse_neon;

template <int F>
struct SmlalSparse {
  const ep_sparse_neon_params *p;
  int8_t *table;  // [k_padded / 4][4 px][16]

  // Output channels of the GEMM rows r[0..3] (n of them valid).
  void quad(const int8_t *const r[4], int32_t n, const Steps &steps, int8_t *out) const {
    int8_t *t = table;
    for (int32_t s = 0; s < steps.count; ++s, t += 256) {
      const intptr_t k = steps.offsets[s];
      const int32x4_t x0 = vreinterpretq_s32_s8(vld1q_s8(r[0] + k)), x1 = vreinterpretq_s32_s8(vld1q_s8(r[1] + k));
      const int32x4_t x2 = vreinterpretq_s32_s8(vld1q_s8(r[2] + k)), x3 = vreinterpretq_s32_s8(vld1q_s8(r[3] + k));
#define EP_REP(g)                                                                     \
  {                                                                                   \
    int32x4x4_t v;                                                                    \
    v.val[0] = vdupq_laneq_s32(x0, g);                                                \
    v.val[1] = vdupq_laneq_s32(x1, g);                                                \
    v.val[2] = vdupq_laneq_s32(x2, g);                                                \
    v.val[3] = vdupq_laneq_s32(x3, g);                                                \
    vst1q_s32_x4((int32_t *)(void *)(t + 64 * g), v);                                 \
  }
      EP_REP(0)
      EP_REP(1)
      EP_REP(2)
      EP_REP(3)
#undef EP_REP
    }
    const Output<F> output{p};
    const int8_t *w = p->filter;
    const int16_t *ix = p->blocks;
    const int32_t *rq = p->rq;
    const int8_t *const tab = table;
    for (int32_t oc = 0; oc < p->out_c; oc += 8, rq += 8 * 4) {
      // acc[px][j]: output channels 2j, 2j + 1, each as two partial sums (k 0-1, k 2-3).
      int32x4_t acc[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = vdupq_n_s32(0);
      const int32_t count = *ix++;
      const int16_t *end = ix + count;
      for (; end - ix >= 2; ix += 2, w += 64) {
        const int8x16x4_t xa = vld1q_s8_x4(tab + 64 * (intptr_t)ix[0]);
        const int8x16x4_t xb = vld1q_s8_x4(tab + 64 * (intptr_t)ix[1]);
        const int8x16x4_t wv = vld1q_s8_x4(w);  // block a: oc 0-3, 4-7; block b: oc 0-3, 4-7
        for (int i = 0; i < 4; ++i) {
          acc[i][0] = vpadalq_s16(acc[i][0], vmlal_s8(vmull_s8(vget_low_s8(xa.val[i]), vget_low_s8(wv.val[0])),
                                                      vget_low_s8(xb.val[i]), vget_low_s8(wv.val[2])));
          acc[i][1] = vpadalq_s16(acc[i][1], vmlal_high_s8(vmull_high_s8(xa.val[i], wv.val[0]), xb.val[i], wv.val[2]));
          acc[i][2] = vpadalq_s16(acc[i][2], vmlal_s8(vmull_s8(vget_low_s8(xa.val[i]), vget_low_s8(wv.val[1])),
                                                      vget_low_s8(xb.val[i]), vget_low_s8(wv.val[3])));
          acc[i][3] = vpadalq_s16(acc[i][3], vmlal_high_s8(vmull_high_s8(xa.val[i], wv.val[1]), xb.val[i], wv.val[3]));
        }
      }
      if (ix != end) {  // an odd count: the last block alone
        const int8x16x4_t xa = vld1q_s8_x4(tab + 64 * (intptr_t)ix[0]);
        const int8x16x2_t wv = vld1q_s8_x2(w);
        for (int i = 0; i < 4; ++i) {
          acc[i][0] = vpadalq_s16(acc[i][0], vmull_s8(vget_low_s8(xa.val[i]), vget_low_s8(wv.val[0])));
          acc[i][1] = vpadalq_s16(acc[i][1], vmull_high_s8(xa.val[i], wv.val[0]));
          acc[i][2] = vpadalq_s16(acc[i][2], vmull_s8(vget_low_s8(xa.val[i]), vget_low_s8(wv.val[1])));
          acc[i][3] = vpadalq_s16(acc[i][3], vmull_high_s8(xa.val[i], wv.val[1]));
        }
        ++ix, w += 32;
      }
      const int32x4_t b0 = vld1q_s32(rq), b1 = vld1q_s32(rq + 4);
      int32x4_t sums[4][2];
      for (int i = 0; i < 4; ++i) {
        sums[i][0] = vaddq_s32(b0, vpaddq_s32(acc[i][0], acc[i][1]));
        sums[i][1] = vaddq_s32(b1, vpaddq_s32(acc[i][2], acc[i][3]));
      }
      output.store(sums, n, oc, rq, out);
    }
  }

  void operator()(const int8_t *const rows[EP_SPARSE_NEON_PIXELS], int32_t n, const Steps &steps,
                  int8_t *out) const {
    quad(rows, n < 4 ? n : 4, steps, out);
    if (n > 4) quad(rows + 4, n - 4, steps, out + (size_t)4 * p->out_c);
  }
};

}  // namespace
#endif

extern "C" ep_status ep_conv2d_s8_sparse_neon(const ep_sparse_neon_params *p, const int8_t *input, void *scratch,
                                              int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON)
  return ep::sparse_neon::run<SmlalSparse>(p, input, scratch, output, false, false);
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}

extern "C" ep_status ep_fully_connected_s8_sparse_neon(const ep_sparse_neon_params *p, const int8_t *input,
                                                       void *scratch, int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON)
  return ep::sparse_neon::run<SmlalSparse>(p, input, scratch, output, true, false);
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
