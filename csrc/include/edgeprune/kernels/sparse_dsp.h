/* edgeprune runtime: block-sparse int8 GEMM kernels for Armv7E-M DSP (Cortex-M4/M7), bit-exact with the
 * dense DSP kernels (conv_dsp.h) on the same weights, and so with the portable kernels.
 *
 * Format (built by edgeprune/lower/isa/dsp_sparse.py): the weight rows are taken in pairs of output
 * channels, as in the dense layout, and K (padded to k_padded, a multiple of 8) in groups of 4. A pair's
 * group is a block of 2 x 4 weights; only blocks with a non-zero weight are stored:
 *   filter  fast format (*_sparse_dsp): int16 [stored blocks][2 channels][4] (k0, k2, k1, k3 per channel, as
 *           in the dense layout); compact format (*_sparse8_dsp): int8 [stored blocks][2 channels][4] in
 *           natural K order, unpacked in the loop with SXTB16 (as CMSIS-NN does for its dense weights)
 *   blocks  uint8, per pair: its block count n, then the n groups of its stored blocks in ascending order
 *           (k_padded / 4 <= 255: group and count fit a byte)
 * The kernels reuse the dense kernels' params structs, im2col, scratch and requantization; only the GEMM
 * differs: one pair's blocks at a time, each block one LDRB + ADD for its column address, one LDM for the
 * two pixels' column words and 2 LDRD + 8 SMLAD for 16 MACs (the dense kernel: 12 instructions a block).
 *
 * Scratch: as for the dense kernels (EP_CONV_DSP_SCRATCH_BYTES, EP_FC_DSP_SCRATCH_BYTES). */
#ifndef EDGEPRUNE_KERNELS_SPARSE_DSP_H
#define EDGEPRUNE_KERNELS_SPARSE_DSP_H

#include "edgeprune/kernels/conv_dsp.h"

EP_EXTERN_C_BEGIN

ep_status ep_conv2d_s8_sparse_dsp(const ep_conv2d_s8_dsp_params *params, const int8_t *input,
                                  const int16_t *filter, const uint8_t *blocks, void *scratch, int8_t *output);
ep_status ep_conv2d_1x1_s8_sparse_dsp(const ep_conv2d_s8_dsp_params *params, const int8_t *input,
                                      const int16_t *filter, const uint8_t *blocks, void *scratch,
                                      int8_t *output);
ep_status ep_fully_connected_s8_sparse_dsp(const ep_fully_connected_s8_dsp_params *params, const int8_t *input,
                                           const int16_t *weights, const uint8_t *blocks, const int32_t *bias,
                                           void *scratch, int8_t *output);
/* The compact format: the same blocks and stream, int8 weights (half the flash, about 30% more GEMM
 * instructions per block). */
ep_status ep_conv2d_s8_sparse8_dsp(const ep_conv2d_s8_dsp_params *params, const int8_t *input,
                                   const int8_t *filter, const uint8_t *blocks, void *scratch, int8_t *output);
ep_status ep_conv2d_1x1_s8_sparse8_dsp(const ep_conv2d_s8_dsp_params *params, const int8_t *input,
                                       const int8_t *filter, const uint8_t *blocks, void *scratch,
                                       int8_t *output);
ep_status ep_fully_connected_s8_sparse8_dsp(const ep_fully_connected_s8_dsp_params *params, const int8_t *input,
                                            const int8_t *weights, const uint8_t *blocks, const int32_t *bias,
                                            void *scratch, int8_t *output);

EP_EXTERN_C_END

#ifdef __cplusplus
namespace ep {
namespace dsp {

/* One stored block against the two pixels' column words: the group's column address from the block stream
 * (LDRB + ADD), its four column words (LDM r8-r11), then the pair's 8 weights. int16 weights (the fast
 * format): 2 LDRD + 8 SMLAD. int8 weights (the compact format, 4 bytes a channel in natural K order): per
 * channel LDR + 2 SXTB16, which give the (k0, k2) and (k1, k3) halves the widened columns hold, + 4 SMLAD. */
#define EP_SPARSE_COLUMNS                   \
  "ldrb r11, [%[ix]], #1\n\t"               \
  "add r11, %[cols], r11, lsl #4\n\t"       \
  "ldm r11, {r8, r9, r10, r11}\n\t"
#define EP_SPARSE_MAC(A0, A1)                  \
  "smlad %[" A0 "], %[t0], r8, %[" A0 "]\n\t"  \
  "smlad %[" A1 "], %[t0], r10, %[" A1 "]\n\t" \
  "smlad %[" A0 "], %[t1], r9, %[" A0 "]\n\t"  \
  "smlad %[" A1 "], %[t1], r11, %[" A1 "]\n\t"
#define EP_SPARSE_BLOCK_I16                   \
  EP_SPARSE_COLUMNS                           \
  "ldrd %[t0], %[t1], [%[w]], #8\n\t"         \
  EP_SPARSE_MAC("a00", "a01")                 \
  "ldrd %[t0], %[t1], [%[w]], #8\n\t"         \
  EP_SPARSE_MAC("a10", "a11")
#define EP_SPARSE_BLOCK_I8                    \
  EP_SPARSE_COLUMNS                           \
  "ldr %[t0], [%[w]], #4\n\t"                 \
  "sxtb16 %[t1], %[t0], ror #8\n\t"           \
  "sxtb16 %[t0], %[t0]\n\t"                   \
  EP_SPARSE_MAC("a00", "a01")                 \
  "ldr %[t0], [%[w]], #4\n\t"                 \
  "sxtb16 %[t1], %[t0], ror #8\n\t"           \
  "sxtb16 %[t0], %[t0]\n\t"                   \
  EP_SPARSE_MAC("a10", "a11")
/* The pair loop around four copies of BLOCK: per pair its count n, the accumulators zeroed, entry into the
 * 4-block body at block 4 - n % 4 + 1 (LSLS #31 puts bit 1 of n in C and bit 0 in N), then two STRD. */
#define EP_SPARSE_PAIRS_ASM(BLOCK)                                                                    \
  "3:\n\t"                                                                                            \
  "ldrb %[t0], [%[ix]], #1\n\t"                                                                       \
  "mov %[a00], #0\n\t"                                                                                \
  "mov %[a01], #0\n\t"                                                                                \
  "mov %[a10], #0\n\t"                                                                                \
  "mov %[a11], #0\n\t"                                                                                \
  "add %[end], %[ix], %[t0]\n\t"                                                                      \
  "lsls %[t1], %[t0], #31\n\t"                                                                        \
  "bcc 5f\n\t"                                                                                        \
  "bmi 12f\n\t"                                                                                       \
  "b 13f\n\t"                                                                                         \
  "5:\n\t"                                                                                            \
  "bmi 14f\n\t"                                                                                       \
  "cmp %[t0], #0\n\t"                                                                                 \
  "beq 4f\n\t"                                                                                        \
  "1:\n\t" BLOCK "12:\n\t" BLOCK "13:\n\t" BLOCK "14:\n\t" BLOCK                                      \
  "cmp %[ix], %[end]\n\t"                                                                             \
  "bne 1b\n\t"                                                                                        \
  "4:\n\t"                                                                                            \
  "ldr %[end], %[accp]\n\t"                                                                           \
  "strd %[a00], %[a01], [%[end]], #8\n\t"                                                             \
  "strd %[a10], %[a11], [%[end]], #8\n\t"                                                             \
  "str %[end], %[accp]\n\t"                                                                           \
  "ldr %[t0], %[acc_end]\n\t"                                                                         \
  "cmp %[end], %[t0]\n\t"                                                                             \
  "bne 3b\n\t"                                                                                        \
  : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [w] "+r"(w), [ix] "+r"(index), \
    [t0] "=&r"(t0), [t1] "=&r"(t1), [end] "=&r"(end), [accp] "+m"(acc_ptr)                            \
  : [cols] "r"(cols), [acc_end] "m"(acc_end)                                                          \
  : "r8", "r9", "r10", "r11", "cc", "memory"

/* A stored block's weights as the four words the int16 layout holds: ch0 (k0, k2), ch0 (k1, k3), ch1 ... */
EP_DSP_INLINE void block_words(const int16_t *w, uint32_t out[4]) {
  const uint32_t *v = (const uint32_t *)(const void *)w;
  out[0] = v[0];
  out[1] = v[1];
  out[2] = v[2];
  out[3] = v[3];
}
EP_DSP_INLINE void block_words(const int8_t *w, uint32_t out[4]) {
  const uint32_t c0 = load32(w), c1 = load32(w + 4);
  out[0] = sxtb16(c0);
  out[1] = sxtb16_ror8(c0);
  out[2] = sxtb16(c1);
  out[3] = sxtb16_ror8(c1);
}

/* Every channel pair's stored blocks against the two interleaved columns ([groups][2 px][2 words]);
 * acc[pair][4] = ch0 px0, ch0 px1, ch1 px0, ch1 px1. `index` is the block stream: per pair its block count,
 * then that many group indices. W is int16_t (fast format) or int8_t (compact format). On the DSP cores the
 * whole loop nest is one asm block: per block 13 instructions with int16 weights (16 MACs), 17 with int8;
 * per four blocks CMP + BNE; per pair about 18 (count, zeroing, entry, two STRD, the pair loop). */
template <typename W>
EP_DSP_INLINE void gemm_sparse_pairs(const W *w, const uint8_t *index, const uint32_t *cols, int32_t pairs,
                                     int32_t *acc) {
  static_assert(sizeof(W) == 1 || sizeof(W) == 2, "int8 or int16 weights");
  if (pairs <= 0) return;
#if EP_HAVE_DSP && defined(__thumb2__)
  int32_t *acc_ptr = acc;
  int32_t *const acc_end = acc + 4 * pairs;
  int32_t a00, a01, a10, a11;
  uint32_t t0, t1;
  const uint8_t *end;
  if (sizeof(W) == 2)
    __asm__ volatile(EP_SPARSE_PAIRS_ASM(EP_SPARSE_BLOCK_I16));
  else
    __asm__ volatile(EP_SPARSE_PAIRS_ASM(EP_SPARSE_BLOCK_I8));
#else
  for (int32_t pr = 0; pr < pairs; ++pr, acc += 4) {
    const int32_t n = *index++;
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
    for (int32_t i = 0; i < n; ++i, w += 8) {
      const uint32_t *x = cols + 4 * index[i];
      uint32_t k[4];
      block_words(w, k);
      a00 = smlad(k[0], x[0], smlad(k[1], x[1], a00));
      a01 = smlad(k[0], x[2], smlad(k[1], x[3], a01));
      a10 = smlad(k[2], x[0], smlad(k[3], x[1], a10));
      a11 = smlad(k[2], x[2], smlad(k[3], x[3], a11));
    }
    index += n;
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
  }
#endif
}
/* The sparse conv kernels' body (im2col and 1x1, fast and compact formats): the dense kernels' column
 * building and requantization around gemm_sparse_pairs. */
template <bool k1x1, typename W>
EP_DSP_INLINE ep_status conv_sparse(const ep_conv2d_s8_dsp_params *p, const int8_t *input, const W *w,
                                    const uint8_t *blocks, void *scratch, int8_t *output) {
  if (!(k1x1 ? conv_1x1_args_ok(p) : conv_args_ok(p)) || p->k_padded > 1020) return EP_ERROR_ARGUMENT;
  const int32_t pixels = p->out_h * p->out_w, pairs = (p->out_c + 1) / 2;
  const uint32_t off2 = dup16(p->input_offset);
  const ConvScratch s = conv_scratch(scratch, p->out_c, p->k_padded);
  const RequantRun rq(p->requant, p->all_right, p->output_offset, p->act_min, p->act_max);
  const size_t in_image = (size_t)p->in_h * p->in_w * p->in_c;
  const size_t out_image = (size_t)pixels * p->out_c;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    conv_gemm_with(
        p, rq, s, output + (size_t)b * out_image, pixels,
        [&](int32_t px, uint32_t *col) {
          if (k1x1)
            column_1x1(p, in_b, off2, px, col);
          else
            im2col_column(p, in_b, s.gather, off2, px, col);
        },
        [&](const uint32_t *cols, int32_t *acc) { gemm_sparse_pairs(w, blocks, cols, pairs, acc); });
  }
  return EP_OK;
}

#undef EP_SPARSE_COLUMNS
#undef EP_SPARSE_MAC
#undef EP_SPARSE_BLOCK_I16
#undef EP_SPARSE_BLOCK_I8
#undef EP_SPARSE_PAIRS_ASM

}  // namespace dsp
}  // namespace ep
#endif

#endif
