/* edgeprune runtime: block-sparse int8 GEMM kernels for Armv7E-M DSP (Cortex-M4/M7), bit-exact with the
 * dense DSP kernels (conv_dsp.h) on the same weights, and so with the portable kernels.
 *
 * Format (built by edgeprune/lower/isa/dsp_sparse.py): the weight rows are taken in pairs of output
 * channels, as in the dense layout, and K (padded to k_padded, a multiple of 8) in groups of 4. A pair's
 * group is a block of 2 x 4 weights; only blocks with a non-zero weight are stored:
 *   filter  int16 [stored blocks][2 channels][4]  (k0, k2, k1, k3 per channel, as in the dense layout)
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

EP_EXTERN_C_END

#ifdef __cplusplus
namespace ep {
namespace dsp {

/* Every channel pair's stored blocks against the two interleaved columns ([groups][2 px][2 words]);
 * acc[pair][4] = ch0 px0, ch0 px1, ch1 px0, ch1 px1. `index` is the block stream: per pair its block count,
 * then that many group indices. On the DSP cores the whole loop nest is one asm block: per four blocks 4 LDRB,
 * 4 ADD, 4 LDM (columns), 8 LDRD (weights), 32 SMLAD, CMP + BNE (54 instructions, 64 MACs; a count that is
 * not a multiple of 4 enters the loop body part-way); per pair about 18 (count, zeroing, entry, two STRD, the
 * pair loop). */
EP_DSP_INLINE void gemm_sparse_pairs(const uint32_t *w, const uint8_t *index, const uint32_t *cols, int32_t pairs,
                                     int32_t *acc) {
  if (pairs <= 0) return;
#if EP_HAVE_DSP && defined(__thumb2__)
  int32_t *acc_ptr = acc;
  int32_t *const acc_end = acc + 4 * pairs;
  int32_t a00, a01, a10, a11;
  uint32_t t0, t1;
  const uint8_t *end;
  __asm__ volatile(
      "3:\n\t"
      "ldrb %[t0], [%[ix]], #1\n\t"
      "mov %[a00], #0\n\t"
      "mov %[a01], #0\n\t"
      "mov %[a10], #0\n\t"
      "mov %[a11], #0\n\t"
      "add %[end], %[ix], %[t0]\n\t"
      // Enter the 4-block loop body at block 4 - n % 4 + 1: LSLS #31 puts bit 1 of n in C and bit 0 in N.
      "lsls %[t1], %[t0], #31\n\t"
      "bcc 5f\n\t"
      "bmi 12f\n\t"
      "b 13f\n\t"
      "5:\n\t"
      "bmi 14f\n\t"
      "cmp %[t0], #0\n\t"
      "beq 4f\n\t"
      "1:\n\t"
      "ldrb r11, [%[ix]], #1\n\t"
      "add r11, %[cols], r11, lsl #4\n\t"
      "ldm r11, {r8, r9, r10, r11}\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a00], %[t0], r8, %[a00]\n\t"
      "smlad %[a01], %[t0], r10, %[a01]\n\t"
      "smlad %[a00], %[t1], r9, %[a00]\n\t"
      "smlad %[a01], %[t1], r11, %[a01]\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a10], %[t0], r8, %[a10]\n\t"
      "smlad %[a11], %[t0], r10, %[a11]\n\t"
      "smlad %[a10], %[t1], r9, %[a10]\n\t"
      "smlad %[a11], %[t1], r11, %[a11]\n\t"
      "12:\n\t"
      "ldrb r11, [%[ix]], #1\n\t"
      "add r11, %[cols], r11, lsl #4\n\t"
      "ldm r11, {r8, r9, r10, r11}\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a00], %[t0], r8, %[a00]\n\t"
      "smlad %[a01], %[t0], r10, %[a01]\n\t"
      "smlad %[a00], %[t1], r9, %[a00]\n\t"
      "smlad %[a01], %[t1], r11, %[a01]\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a10], %[t0], r8, %[a10]\n\t"
      "smlad %[a11], %[t0], r10, %[a11]\n\t"
      "smlad %[a10], %[t1], r9, %[a10]\n\t"
      "smlad %[a11], %[t1], r11, %[a11]\n\t"
      "13:\n\t"
      "ldrb r11, [%[ix]], #1\n\t"
      "add r11, %[cols], r11, lsl #4\n\t"
      "ldm r11, {r8, r9, r10, r11}\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a00], %[t0], r8, %[a00]\n\t"
      "smlad %[a01], %[t0], r10, %[a01]\n\t"
      "smlad %[a00], %[t1], r9, %[a00]\n\t"
      "smlad %[a01], %[t1], r11, %[a01]\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a10], %[t0], r8, %[a10]\n\t"
      "smlad %[a11], %[t0], r10, %[a11]\n\t"
      "smlad %[a10], %[t1], r9, %[a10]\n\t"
      "smlad %[a11], %[t1], r11, %[a11]\n\t"
      "14:\n\t"
      "ldrb r11, [%[ix]], #1\n\t"
      "add r11, %[cols], r11, lsl #4\n\t"
      "ldm r11, {r8, r9, r10, r11}\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a00], %[t0], r8, %[a00]\n\t"
      "smlad %[a01], %[t0], r10, %[a01]\n\t"
      "smlad %[a00], %[t1], r9, %[a00]\n\t"
      "smlad %[a01], %[t1], r11, %[a01]\n\t"
      "ldrd %[t0], %[t1], [%[w]], #8\n\t"
      "smlad %[a10], %[t0], r8, %[a10]\n\t"
      "smlad %[a11], %[t0], r10, %[a11]\n\t"
      "smlad %[a10], %[t1], r9, %[a10]\n\t"
      "smlad %[a11], %[t1], r11, %[a11]\n\t"
      "cmp %[ix], %[end]\n\t"
      "bne 1b\n\t"
      "4:\n\t"
      "ldr %[end], %[accp]\n\t"
      "strd %[a00], %[a01], [%[end]], #8\n\t"
      "strd %[a10], %[a11], [%[end]], #8\n\t"
      "str %[end], %[accp]\n\t"
      "ldr %[t0], %[acc_end]\n\t"
      "cmp %[end], %[t0]\n\t"
      "bne 3b\n\t"
      : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [w] "+r"(w), [ix] "+r"(index),
        [t0] "=&r"(t0), [t1] "=&r"(t1), [end] "=&r"(end), [accp] "+m"(acc_ptr)
      : [cols] "r"(cols), [acc_end] "m"(acc_end)
      : "r8", "r9", "r10", "r11", "cc", "memory");
#else
  for (int32_t pr = 0; pr < pairs; ++pr, acc += 4) {
    const int32_t n = *index++;
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
    for (int32_t i = 0; i < n; ++i, w += 4) {
      const uint32_t *x = cols + 4 * index[i];
      a00 = smlad(w[0], x[0], smlad(w[1], x[1], a00));
      a01 = smlad(w[0], x[2], smlad(w[1], x[3], a01));
      a10 = smlad(w[2], x[0], smlad(w[3], x[1], a10));
      a11 = smlad(w[2], x[2], smlad(w[3], x[3], a11));
    }
    index += n;
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
  }
#endif
}

}  // namespace dsp
}  // namespace ep
#endif

#endif
