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
    // LD4R: a pixel's 4 groups, each repeated across a vector, stored at t + 64 g + 16 px.
    int8_t *t = table;
    const int8_t *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
    for (int32_t s = 0; s < steps.count; ++s, t += 256) {
      const intptr_t k = steps.offsets[s];
#define EP_REP(src, px)                                                      \
  {                                                                          \
    const int32x4x4_t v = vld4q_dup_s32((const int32_t *)(const void *)(src + k)); \
    vst1q_s32((int32_t *)(void *)(t + (px)), v.val[0]);                      \
    vst1q_s32((int32_t *)(void *)(t + 64 + (px)), v.val[1]);                 \
    vst1q_s32((int32_t *)(void *)(t + 128 + (px)), v.val[2]);                \
    vst1q_s32((int32_t *)(void *)(t + 192 + (px)), v.val[3]);                \
  }
      EP_REP(r0, 0)
      EP_REP(r1, 16)
      EP_REP(r2, 32)
      EP_REP(r3, 48)
#undef EP_REP
    }
    const size_t out_c = (size_t)p->out_c;
    const int32_t out_c_i = p->out_c;
    const Clamp clamp(p);
    const int8_t *w = p->filter;
    const int16_t *ix = p->blocks;
    const int32_t *rq = p->rq;
    const int8_t *const tab = table;
    for (int32_t oc = 0; oc < out_c_i; oc += 8, rq += 8 * 4) {
      // Accumulators v16-v31: pixel px, output channels 2j, 2j + 1 in v(16 + 4 px + j), each as two partial sums
      // (k 0-1, k 2-3). Per two blocks: 2 LDRSH + 2 ADD (table rows), one LD1 of the 64 weight bytes, per pixel
      // two table loads and 12 SMULL/SMLAL/SADALP, SUBS + B.GE: 63 instructions per 256 MACs. Inline asm: with
      // intrinsics GCC hoists the products, runs out of vector registers and spills accumulators in the loop.
      int32x4_t s0, s1, s2, s3, s4, s5, s6, s7;
      {
        intptr_t left = (intptr_t)*ix++ - 2, ta, tb;
#define EP_PX(px, a0, a1, a2, a3)                                                                         \
  "ldr q4, [%[ta], #" #px "]\n\t"                                                                         \
  "ldr q5, [%[tb], #" #px "]\n\t"                                                                         \
  "smull v6.8h, v4.8b, v0.8b\n\t" "smull2 v7.8h, v4.16b, v0.16b\n\t"                                     \
  "smlal v6.8h, v5.8b, v2.8b\n\t" "smlal2 v7.8h, v5.16b, v2.16b\n\t"                                     \
  "sadalp " a0 ".4s, v6.8h\n\t" "sadalp " a1 ".4s, v7.8h\n\t"                                            \
  "smull v6.8h, v4.8b, v1.8b\n\t" "smull2 v7.8h, v4.16b, v1.16b\n\t"                                     \
  "smlal v6.8h, v5.8b, v3.8b\n\t" "smlal2 v7.8h, v5.16b, v3.16b\n\t"                                     \
  "sadalp " a2 ".4s, v6.8h\n\t" "sadalp " a3 ".4s, v7.8h\n\t"
#define EP_PX1(px, a0, a1, a2, a3)                                                                        \
  "ldr q4, [%[ta], #" #px "]\n\t"                                                                         \
  "smull v6.8h, v4.8b, v0.8b\n\t" "smull2 v7.8h, v4.16b, v0.16b\n\t"                                     \
  "sadalp " a0 ".4s, v6.8h\n\t" "sadalp " a1 ".4s, v7.8h\n\t"                                            \
  "smull v6.8h, v4.8b, v1.8b\n\t" "smull2 v7.8h, v4.16b, v1.16b\n\t"                                     \
  "sadalp " a2 ".4s, v6.8h\n\t" "sadalp " a3 ".4s, v7.8h\n\t"
        __asm__ volatile(
            "movi v16.4s, #0\n\t" "movi v17.4s, #0\n\t" "movi v18.4s, #0\n\t" "movi v19.4s, #0\n\t"
            "movi v20.4s, #0\n\t" "movi v21.4s, #0\n\t" "movi v22.4s, #0\n\t" "movi v23.4s, #0\n\t"
            "movi v24.4s, #0\n\t" "movi v25.4s, #0\n\t" "movi v26.4s, #0\n\t" "movi v27.4s, #0\n\t"
            "movi v28.4s, #0\n\t" "movi v29.4s, #0\n\t" "movi v30.4s, #0\n\t" "movi v31.4s, #0\n\t"
            "tbnz %[left], #63, 2f\n\t"
            "1:\n\t"
            "ldrsh %[ta], [%[ix]], #2\n\t"
            "ldrsh %[tb], [%[ix]], #2\n\t"
            "add %[ta], %[tab], %[ta], lsl #6\n\t"
            "add %[tb], %[tab], %[tb], lsl #6\n\t"
            "ld1 {v0.16b-v3.16b}, [%[w]], #64\n\t"
            EP_PX(0, "v16", "v17", "v18", "v19")
            EP_PX(16, "v20", "v21", "v22", "v23")
            EP_PX(32, "v24", "v25", "v26", "v27")
            EP_PX(48, "v28", "v29", "v30", "v31")
            "subs %[left], %[left], #2\n\t"
            "b.ge 1b\n\t"
            "2:\n\t"
            "cmn %[left], #1\n\t"  // left == -1: one block left
            "b.ne 3f\n\t"
            "ldrsh %[ta], [%[ix]], #2\n\t"
            "add %[ta], %[tab], %[ta], lsl #6\n\t"
            "ld1 {v0.16b-v1.16b}, [%[w]], #32\n\t"
            EP_PX1(0, "v16", "v17", "v18", "v19")
            EP_PX1(16, "v20", "v21", "v22", "v23")
            EP_PX1(32, "v24", "v25", "v26", "v27")
            EP_PX1(48, "v28", "v29", "v30", "v31")
            "3:\n\t"
            "addp %[s0].4s, v16.4s, v17.4s\n\t" "addp %[s1].4s, v18.4s, v19.4s\n\t"
            "addp %[s2].4s, v20.4s, v21.4s\n\t" "addp %[s3].4s, v22.4s, v23.4s\n\t"
            "addp %[s4].4s, v24.4s, v25.4s\n\t" "addp %[s5].4s, v26.4s, v27.4s\n\t"
            "addp %[s6].4s, v28.4s, v29.4s\n\t" "addp %[s7].4s, v30.4s, v31.4s\n\t"
            : [w] "+r"(w), [ix] "+r"(ix), [left] "+r"(left), [ta] "=&r"(ta), [tb] "=&r"(tb), [s0] "=w"(s0),
              [s1] "=w"(s1), [s2] "=w"(s2), [s3] "=w"(s3), [s4] "=w"(s4), [s5] "=w"(s5), [s6] "=w"(s6),
              [s7] "=w"(s7)
            : [tab] "r"(tab)
            : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v20",
              "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31");
#undef EP_PX
#undef EP_PX1
      }
      const int32x4_t b0 = vld1q_s32(rq), b1 = vld1q_s32(rq + 4);
      int8_t *dst = out + oc;
      if (!(F & FC) && n == 4 && oc + 8 <= out_c_i) {
        const Requant<F> r(rq, clamp);
        r.store_pair(vaddq_s32(b0, s0), vaddq_s32(b1, s1), vaddq_s32(b0, s2), vaddq_s32(b1, s3), dst, out_c);
        r.store_pair(vaddq_s32(b0, s4), vaddq_s32(b1, s5), vaddq_s32(b0, s6), vaddq_s32(b1, s7), dst + 2 * out_c,
                     out_c);
      } else {
        const int32x4_t sums[4][2] = {{vaddq_s32(b0, s0), vaddq_s32(b1, s1)},
                                      {vaddq_s32(b0, s2), vaddq_s32(b1, s3)},
                                      {vaddq_s32(b0, s4), vaddq_s32(b1, s5)},
                                      {vaddq_s32(b0, s6), vaddq_s32(b1, s7)}};
        store_edge<F>(p, rq, sums, n, oc, dst);
      }
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
