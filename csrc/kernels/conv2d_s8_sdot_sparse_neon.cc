// CONV_2D and FULLY_CONNECTED, int8, block-sparse weights (8 output channels x 4 k), Armv8.2-A dotprod (Cortex-A76,
// Raspberry Pi 5): 8 GEMM rows transposed into a [group][8 px][4 k] table, then per stored block 16 SDOT by element
// (edgeprune/kernels/sparse_neon.h). Bit-exact with ep_conv2d_s8 / ep_fully_connected_s8.
#include "edgeprune/kernels/sparse_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
namespace {

using namespace ep::sparse_neon;

// [a0 | a1 | a2 | a3] (4 groups each) -> t + 32 g = [a0 g, a1 g, a2 g, a3 g], g = 0..3.
static inline void transpose4(int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3, int8_t *t) {
  const int64x2_t t0 = vreinterpretq_s64_s32(vtrn1q_s32(a0, a1)), t1 = vreinterpretq_s64_s32(vtrn2q_s32(a0, a1));
  const int64x2_t t2 = vreinterpretq_s64_s32(vtrn1q_s32(a2, a3)), t3 = vreinterpretq_s64_s32(vtrn2q_s32(a2, a3));
  vst1q_s64((int64_t *)(void *)t, vtrn1q_s64(t0, t2));
  vst1q_s64((int64_t *)(void *)(t + 32), vtrn1q_s64(t1, t3));
  vst1q_s64((int64_t *)(void *)(t + 64), vtrn2q_s64(t0, t2));
  vst1q_s64((int64_t *)(void *)(t + 96), vtrn2q_s64(t1, t3));
}

static inline int32x4_t row(const int8_t *r, intptr_t k) { return vreinterpretq_s32_s8(vld1q_s8(r + k)); }

template <int F>
struct SdotSparse {
  const ep_sparse_neon_params *p;
  int8_t *table;  // [k_padded / 4][8 px][4 k]

  void operator()(const int8_t *const rows[EP_SPARSE_NEON_PIXELS], int32_t n, const Steps &steps,
                  int8_t *out) const {
    int8_t *t = table;
    const int8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    const int8_t *r4 = rows[4], *r5 = rows[5], *r6 = rows[6], *r7 = rows[7];
    for (int32_t s = 0; s < steps.count; ++s, t += 128) {
      const intptr_t k = steps.offsets[s];
      transpose4(row(r0, k), row(r1, k), row(r2, k), row(r3, k), t);
      transpose4(row(r4, k), row(r5, k), row(r6, k), row(r7, k), t + 16);
    }
    const size_t out_c = (size_t)p->out_c;
    const int32_t out_c_i = p->out_c;
    const Clamp clamp(p);
    const int8_t *w = p->filter;
    const int16_t *ix = p->blocks;
    const int32_t *rq = p->rq;
    const int8_t *const tab = table;
    for (int32_t oc = 0; oc < out_c_i; oc += 8, rq += 8 * 4) {
      const int32x4_t b0 = vld1q_s32(rq), b1 = vld1q_s32(rq + 4);
      int32x4_t a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71;
      // Per two blocks: 2 LDRSH + 2 ADD (table rows), 2 LDP (table), 2 LDP (weights), 32 SDOT, SUBS + B.GE: 42
      // instructions per 512 MACs (the compiled intrinsics took 25 per block).
      {
        intptr_t left = (intptr_t)*ix++ - 2, ta, tb;
#define EP_SDOT16(w0, w1, x0, x1)                                                                     \
  "sdot %[a00].4s, " w0 ".16b, " x0 ".4b[0]\n\t" "sdot %[a01].4s, " w1 ".16b, " x0 ".4b[0]\n\t"       \
  "sdot %[a10].4s, " w0 ".16b, " x0 ".4b[1]\n\t" "sdot %[a11].4s, " w1 ".16b, " x0 ".4b[1]\n\t"       \
  "sdot %[a20].4s, " w0 ".16b, " x0 ".4b[2]\n\t" "sdot %[a21].4s, " w1 ".16b, " x0 ".4b[2]\n\t"       \
  "sdot %[a30].4s, " w0 ".16b, " x0 ".4b[3]\n\t" "sdot %[a31].4s, " w1 ".16b, " x0 ".4b[3]\n\t"       \
  "sdot %[a40].4s, " w0 ".16b, " x1 ".4b[0]\n\t" "sdot %[a41].4s, " w1 ".16b, " x1 ".4b[0]\n\t"       \
  "sdot %[a50].4s, " w0 ".16b, " x1 ".4b[1]\n\t" "sdot %[a51].4s, " w1 ".16b, " x1 ".4b[1]\n\t"       \
  "sdot %[a60].4s, " w0 ".16b, " x1 ".4b[2]\n\t" "sdot %[a61].4s, " w1 ".16b, " x1 ".4b[2]\n\t"       \
  "sdot %[a70].4s, " w0 ".16b, " x1 ".4b[3]\n\t" "sdot %[a71].4s, " w1 ".16b, " x1 ".4b[3]\n\t"
        __asm__ volatile(
            // accumulators start at bias'
            "mov %[a00].16b, %[b0].16b\n\t" "mov %[a01].16b, %[b1].16b\n\t"
            "mov %[a10].16b, %[b0].16b\n\t" "mov %[a11].16b, %[b1].16b\n\t"
            "mov %[a20].16b, %[b0].16b\n\t" "mov %[a21].16b, %[b1].16b\n\t"
            "mov %[a30].16b, %[b0].16b\n\t" "mov %[a31].16b, %[b1].16b\n\t"
            "mov %[a40].16b, %[b0].16b\n\t" "mov %[a41].16b, %[b1].16b\n\t"
            "mov %[a50].16b, %[b0].16b\n\t" "mov %[a51].16b, %[b1].16b\n\t"
            "mov %[a60].16b, %[b0].16b\n\t" "mov %[a61].16b, %[b1].16b\n\t"
            "mov %[a70].16b, %[b0].16b\n\t" "mov %[a71].16b, %[b1].16b\n\t"
            "tbnz %[left], #63, 2f\n\t"
            "1:\n\t"
            "ldrsh %[ta], [%[ix]], #2\n\t"
            "ldrsh %[tb], [%[ix]], #2\n\t"
            "add %[ta], %[tab], %[ta], lsl #5\n\t"
            "add %[tb], %[tab], %[tb], lsl #5\n\t"
            "ldp q4, q5, [%[ta]]\n\t"
            "ldp q0, q1, [%[w]], #32\n\t"
            "ldp q6, q7, [%[tb]]\n\t"
            "ldp q2, q3, [%[w]], #32\n\t"
            EP_SDOT16("v0", "v1", "v4", "v5")
            EP_SDOT16("v2", "v3", "v6", "v7")
            "subs %[left], %[left], #2\n\t"
            "b.ge 1b\n\t"
            "2:\n\t"
            "cmn %[left], #1\n\t"  // left == -1: one block left
            "b.ne 3f\n\t"
            "ldrsh %[ta], [%[ix]], #2\n\t"
            "add %[ta], %[tab], %[ta], lsl #5\n\t"
            "ldp q4, q5, [%[ta]]\n\t"
            "ldp q0, q1, [%[w]], #32\n\t"
            EP_SDOT16("v0", "v1", "v4", "v5")
            "3:\n\t"
            : [w] "+r"(w), [ix] "+r"(ix), [left] "+r"(left), [ta] "=&r"(ta), [tb] "=&r"(tb), [a00] "=&w"(a00),
              [a01] "=&w"(a01), [a10] "=&w"(a10), [a11] "=&w"(a11), [a20] "=&w"(a20), [a21] "=&w"(a21),
              [a30] "=&w"(a30), [a31] "=&w"(a31), [a40] "=&w"(a40), [a41] "=&w"(a41), [a50] "=&w"(a50),
              [a51] "=&w"(a51), [a60] "=&w"(a60), [a61] "=&w"(a61), [a70] "=&w"(a70), [a71] "=&w"(a71)
            : [tab] "r"(tab), [b0] "w"(b0), [b1] "w"(b1)
            : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7");
#undef EP_SDOT16
      }
      int8_t *dst = out + oc;
      if (!(F & FC) && n == EP_SPARSE_NEON_PIXELS && oc + 8 <= out_c_i) {
        const Requant<F> r(rq, clamp);
        r.store_pair(a00, a01, a10, a11, dst, out_c);
        r.store_pair(a20, a21, a30, a31, dst + 2 * out_c, out_c);
        r.store_pair(a40, a41, a50, a51, dst + 4 * out_c, out_c);
        r.store_pair(a60, a61, a70, a71, dst + 6 * out_c, out_c);
      } else {
        const int32x4_t sums[8][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31},
                                      {a40, a41}, {a50, a51}, {a60, a61}, {a70, a71}};
        store_edge<F>(p, rq, sums, n, oc, dst);
      }
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
