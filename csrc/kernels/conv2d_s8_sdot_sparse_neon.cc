// CONV_2D and FULLY_CONNECTED, int8, block-sparse weights (8 output channels x 4 k), Armv8.2-A dotprod (Cortex-A76,
// Raspberry Pi 5): 8 GEMM rows transposed into a [group][8 px][4 k] table, then per stored block 16 SDOT by element
// (edgeprune/kernels/sparse_neon.h). Bit-exact with ep_conv2d_s8 / ep_fully_connected_s8.
#include "edgeprune/kernels/sparse_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
namespace {

using namespace ep::sparse_neon;

// [a0 | a1 | a2 | a3] (4 groups each) -> b[g] = [a0 g, a1 g, a2 g, a3 g].
static inline void transpose4(int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3, int32x4_t b[4]) {
  const int32x4_t t0 = vtrn1q_s32(a0, a1), t1 = vtrn2q_s32(a0, a1);
  const int32x4_t t2 = vtrn1q_s32(a2, a3), t3 = vtrn2q_s32(a2, a3);
  b[0] = vreinterpretq_s32_s64(vtrn1q_s64(vreinterpretq_s64_s32(t0), vreinterpretq_s64_s32(t2)));
  b[1] = vreinterpretq_s32_s64(vtrn1q_s64(vreinterpretq_s64_s32(t1), vreinterpretq_s64_s32(t3)));
  b[2] = vreinterpretq_s32_s64(vtrn2q_s64(vreinterpretq_s64_s32(t0), vreinterpretq_s64_s32(t2)));
  b[3] = vreinterpretq_s32_s64(vtrn2q_s64(vreinterpretq_s64_s32(t1), vreinterpretq_s64_s32(t3)));
}

static inline int32x4_t row(const int8_t *r, intptr_t k) { return vreinterpretq_s32_s8(vld1q_s8(r + k)); }

template <int F>
struct SdotSparse {
  const ep_sparse_neon_params *p;
  int8_t *table;  // [k_padded / 4][8 px][4 k]

  void operator()(const int8_t *const rows[EP_SPARSE_NEON_PIXELS], int32_t n, const Steps &steps,
                  int8_t *out) const {
    int8_t *t = table;
    for (int32_t s = 0; s < steps.count; ++s, t += 128) {
      const intptr_t k = steps.offsets[s];
      int32x4_t lo[4], hi[4];
      transpose4(row(rows[0], k), row(rows[1], k), row(rows[2], k), row(rows[3], k), lo);
      transpose4(row(rows[4], k), row(rows[5], k), row(rows[6], k), row(rows[7], k), hi);
      for (int g = 0; g < 4; ++g) {
        vst1q_s32((int32_t *)(void *)(t + 32 * g), lo[g]);
        vst1q_s32((int32_t *)(void *)(t + 32 * g + 16), hi[g]);
      }
    }
    const Output<F> output{p};
    const int8_t *w = p->filter;
    const int16_t *ix = p->blocks;
    const int32_t *rq = p->rq;
    const int8_t *const tab = table;
    for (int32_t oc = 0; oc < p->out_c; oc += 8, rq += 8 * 4) {
      const int32x4_t b0 = vld1q_s32(rq), b1 = vld1q_s32(rq + 4);
      int32x4_t a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      int32x4_t a40 = b0, a41 = b1, a50 = b0, a51 = b1, a60 = b0, a61 = b1, a70 = b0, a71 = b1;
      const int32_t count = *ix++;
      for (const int16_t *end = ix + count; ix != end; ++ix, w += 32) {
        const int8_t *x = tab + 32 * (intptr_t)*ix;
        const int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
        const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16);
        a00 = vdotq_laneq_s32(a00, w0, x0, 0);
        a01 = vdotq_laneq_s32(a01, w1, x0, 0);
        a10 = vdotq_laneq_s32(a10, w0, x0, 1);
        a11 = vdotq_laneq_s32(a11, w1, x0, 1);
        a20 = vdotq_laneq_s32(a20, w0, x0, 2);
        a21 = vdotq_laneq_s32(a21, w1, x0, 2);
        a30 = vdotq_laneq_s32(a30, w0, x0, 3);
        a31 = vdotq_laneq_s32(a31, w1, x0, 3);
        a40 = vdotq_laneq_s32(a40, w0, x1, 0);
        a41 = vdotq_laneq_s32(a41, w1, x1, 0);
        a50 = vdotq_laneq_s32(a50, w0, x1, 1);
        a51 = vdotq_laneq_s32(a51, w1, x1, 1);
        a60 = vdotq_laneq_s32(a60, w0, x1, 2);
        a61 = vdotq_laneq_s32(a61, w1, x1, 2);
        a70 = vdotq_laneq_s32(a70, w0, x1, 3);
        a71 = vdotq_laneq_s32(a71, w1, x1, 3);
      }
      const int32x4_t sums[8][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31},
                                    {a40, a41}, {a50, a51}, {a60, a61}, {a70, a71}};
      output.store(sums, n, oc, rq, out);
    }
  }
};

}  // namespace
#endif

extern "C" ep_status ep_conv2d_s8_sparse_sdot(const ep_sparse_neon_params *p, const int8_t *input, void *scratch,
                                              int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
  return ep::sparse_neon::run<SdotSparse>(p, input, scratch, output, false, true);
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}

extern "C" ep_status ep_fully_connected_s8_sparse_sdot(const ep_sparse_neon_params *p, const int8_t *input,
                                                       void *scratch, int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
  return ep::sparse_neon::run<SdotSparse>(p, input, scratch, output, true, true);
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
