// CONV_2D on any Armv8-A NEON core (Cortex-A72, Raspberry Pi 4): a GEMM tile of 4 output pixels by 4 output
// channels; per 16 k, SMULL + SMLAL2 sum two int8 products in int16 lanes (no weight is -128, so
// |sum| <= 2 * 128 * 127 < 2^15) and SADALP folds them into int32. Bit-exact with ep_conv2d_s8.
#include "edgeprune/detail/neon_gemm.h"

#include <stdint.h>

#if defined(__aarch64__) && defined(__ARM_NEON)
namespace {

// One (pixel, channel) pair of a step: the 16 products of x (v24 + pixel) and w (v16 + channel) summed pairwise in
// the int16 lanes of t, then added pairwise into the int32 accumulator (v0 + 4 * pixel + channel).
#define EP_DOT16(acc, x, w, t)              \
  "smull " t ".8h, " x ".8b, " w ".8b\n\t"   \
  "smlal2 " t ".8h, " x ".16b, " w ".16b\n\t" \
  "sadalp " acc ".4s, " t ".8h\n\t"
#define EP_DOT16_PIXEL(a0, a1, a2, a3, x) \
  EP_DOT16(a0, x, "v16", "v20")            \
  EP_DOT16(a1, x, "v17", "v21")            \
  EP_DOT16(a2, x, "v18", "v22")            \
  EP_DOT16(a3, x, "v19", "v23")
// The first step of a tile: SADDLP starts the accumulators (no zeroing needed).
#define EP_DOT16_FIRST(acc, x, w, t)         \
  "smull " t ".8h, " x ".8b, " w ".8b\n\t"   \
  "smlal2 " t ".8h, " x ".16b, " w ".16b\n\t" \
  "saddlp " acc ".4s, " t ".8h\n\t"
#define EP_DOT16_PIXEL_FIRST(a0, a1, a2, a3, x) \
  EP_DOT16_FIRST(a0, x, "v16", "v20")            \
  EP_DOT16_FIRST(a1, x, "v17", "v21")            \
  EP_DOT16_FIRST(a2, x, "v18", "v22")            \
  EP_DOT16_FIRST(a3, x, "v19", "v23")

// The 4 pixels' bytes of a step: at r_i + k, or (packed windows) 64 contiguous bytes at r0 + k.
#define EP_SMLAL_LOAD_ROWS(k)      \
  "ldr q24, [%[r0]" k "]\n\t"     \
  "ldr q25, [%[r1]" k "]\n\t"     \
  "ldr q26, [%[r2]" k "]\n\t"     \
  "ldr q27, [%[r3]" k "]\n\t"
#define EP_SMLAL_ROWS_FIRST EP_SMLAL_LOAD_ROWS("")
#define EP_SMLAL_ROWS_STEP EP_SMLAL_LOAD_ROWS(", %[k]")
#define EP_SMLAL_PACKED_FIRST "ld1 {v24.16b-v27.16b}, [%[r0]]\n\t"
#define EP_SMLAL_PACKED_STEP "add %[k], %[r0], %[k]\n\t" "ld1 {v24.16b-v27.16b}, [%[k]]\n\t"
#define EP_SMLAL_LEFT_ON(a) "sshl " a ".4s, " a ".4s, v18.4s\n\t"
#define EP_SMLAL_LEFT_OFF(a) ""
#define EP_SMLAL_FIX_ALL(a) "ssra " a ".4s, " a ".4s, #31\n\t"
#define EP_SMLAL_FIX_MASK(a) "and v20.16b, " a ".16b, v19.16b\n\t" "ssra " a ".4s, v20.4s, #31\n\t"
// act_min >= the output zero point (fused ReLU / ReLU6): no rounding fixup. It only changes negative values, and for
// x < 0 both roundings give a result <= 0, whose output (<= the zero point) clamps to act_min either way.
#define EP_SMLAL_FIX_NONE(a) ""
// bias (v16), then requantization (multiplier v17, left shift v18, right shift v19) as in conv_neon.h.
#define EP_SMLAL_RQ(a, LEFT, FIX) \
  "add " a ".4s, " a ".4s, v16.4s\n\t" LEFT(a) "sqrdmulh " a ".4s, " a ".4s, v17.4s\n\t" FIX(a) \
  "srshl " a ".4s, " a ".4s, v19.4s\n\t"

// One further 16-byte step: weights, the 4 pixels' bytes (STEP), 48 multiply-accumulates.
#define EP_SMLAL_STEP(STEP)                              \
  "ldrsw %[k], [%[offsets]], #4\n\t"                     \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"               \
  STEP                                                   \
  EP_DOT16_PIXEL("v0", "v1", "v2", "v3", "v24")          \
  EP_DOT16_PIXEL("v4", "v5", "v6", "v7", "v25")          \
  EP_DOT16_PIXEL("v8", "v9", "v10", "v11", "v26")        \
  EP_DOT16_PIXEL("v12", "v13", "v14", "v15", "v27")

// The 4 pixels' requantized vectors (v0, v4, v8, v12) -> v23 (pixel p: bytes 4p..4p+3). CLAMP: saturate to int16,
// add the output offset, saturate to int8, clamp (consts: offset v24, act_min v25, act_max v26; 11 instructions);
// FULL (act_min -128, act_max 127: the int8 saturation is the clamp): no SMAX / SMIN (9); U8 (output zero point
// = act_min = -128, act_max 127: the output is clamp(r, 0, 255) - 128): SQXTUN to uint16, UQXTN to uint8, EOR
// 0x80 (8, no consts).
#define EP_SMLAL_NARROW_OFFSET                                                                                 \
  "ld1 {v24.16b-v26.16b}, [%[consts]]\n\t"                                                                     \
  "sqxtn v21.4h, v0.4s\n\t"                                                                                    \
  "sqxtn2 v21.8h, v4.4s\n\t"                                                                                   \
  "sqxtn v22.4h, v8.4s\n\t"                                                                                    \
  "sqxtn2 v22.8h, v12.4s\n\t"                                                                                  \
  "sqadd v21.8h, v21.8h, v24.8h\n\t"                                                                           \
  "sqadd v22.8h, v22.8h, v24.8h\n\t"                                                                           \
  "sqxtn v23.8b, v21.8h\n\t"                                                                                   \
  "sqxtn2 v23.16b, v22.8h\n\t"
#define EP_SMLAL_NARROW_CLAMP EP_SMLAL_NARROW_OFFSET "smax v23.16b, v23.16b, v25.16b\n\t" "smin v23.16b, v23.16b, v26.16b\n\t"
#define EP_SMLAL_NARROW_FULL EP_SMLAL_NARROW_OFFSET
#define EP_SMLAL_NARROW_U8                                                                                     \
  "movi v24.16b, #0x80\n\t"                                                                                    \
  "sqxtun v21.4h, v0.4s\n\t"                                                                                   \
  "sqxtun2 v21.8h, v4.4s\n\t"                                                                                  \
  "sqxtun v22.4h, v8.4s\n\t"                                                                                   \
  "sqxtun2 v22.8h, v12.4s\n\t"                                                                                 \
  "uqxtn v23.8b, v21.8h\n\t"                                                                                   \
  "uqxtn2 v23.16b, v22.8h\n\t"                                                                                 \
  "eor v23.16b, v23.16b, v24.16b\n\t"

// After the last step: ADDP to one vector per pixel (lane = channel), the bias and requantization (rq: bias,
// multiplier, left shift, right shift: v16-v19), narrowing (NARROW, into v23) and four 4-byte stores, dst advancing by
// ostride per pixel. 12 ADDP + LD1 + 16-20 requantization + 8-11 narrowing + 4 stores.
#define EP_SMLAL_EPILOGUE(LEFT, FIX, NARROW)                                                                   \
      "addp v0.4s, v0.4s, v1.4s\n\t" "addp v2.4s, v2.4s, v3.4s\n\t" "addp v0.4s, v0.4s, v2.4s\n\t"             \
      "addp v4.4s, v4.4s, v5.4s\n\t" "addp v6.4s, v6.4s, v7.4s\n\t" "addp v4.4s, v4.4s, v6.4s\n\t"             \
      "addp v8.4s, v8.4s, v9.4s\n\t" "addp v10.4s, v10.4s, v11.4s\n\t" "addp v8.4s, v8.4s, v10.4s\n\t"         \
      "addp v12.4s, v12.4s, v13.4s\n\t" "addp v14.4s, v14.4s, v15.4s\n\t" "addp v12.4s, v12.4s, v14.4s\n\t"     \
      "ld1 {v16.4s-v19.4s}, [%[rq]]\n\t"                                                                       \
      EP_SMLAL_RQ("v0", LEFT, FIX) EP_SMLAL_RQ("v4", LEFT, FIX) EP_SMLAL_RQ("v8", LEFT, FIX)                   \
      EP_SMLAL_RQ("v12", LEFT, FIX)                                                                            \
      NARROW                                                                                                   \
      "st1 {v23.s}[0], [%[dst]], %[ostride]\n\t"                                                               \
      "st1 {v23.s}[1], [%[dst]], %[ostride]\n\t"                                                               \
      "st1 {v23.s}[2], [%[dst]], %[ostride]\n\t"                                                               \
      "st1 {v23.s}[3], [%[dst]], %[ostride]\n\t"

// One 4 x 4 tile in one asm block: 56 instructions per 256 MACs per step (with intrinsics the compiler hoists the
// products ahead of their accumulations, runs out of vector registers and spills accumulators inside the loop).
// Accumulators v0-v15 (pixel p, channel c: v4p+c, 4 partial sums each), weights v16-v19, pixels v24-v27, products
// v20-v23. Then ADDP to one vector per pixel (lane = channel), the bias and requantization (rq: bias, multiplier,
// left shift, right shift: v16-v19), narrowing with the output offset and clamp (consts: v24-v26) and four 4-byte
// stores, dst advancing by ostride per pixel.
#define EP_SMLAL_TILE_ASM(FIRST, STEP, LEFT, FIX, NARROW)                                                            \
  __asm__ volatile(                                                                                            \
      "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                 \
      FIRST                                                                                                    \
      EP_DOT16_PIXEL_FIRST("v0", "v1", "v2", "v3", "v24")                                                      \
      EP_DOT16_PIXEL_FIRST("v4", "v5", "v6", "v7", "v25")                                                      \
      EP_DOT16_PIXEL_FIRST("v8", "v9", "v10", "v11", "v26")                                                    \
      EP_DOT16_PIXEL_FIRST("v12", "v13", "v14", "v15", "v27")                                                  \
      "cbz %[count], 3f\n\t"                                                                                   \
      "tbz %[count], #0, 2f\n\t" /* an odd count of further steps: one first, then pairs */                    \
      EP_SMLAL_STEP(STEP)                                                                                      \
      "subs %[count], %[count], #1\n\t"                                                                        \
      "b.eq 3f\n\t"                                                                                            \
      "2:\n\t"                                                                                                 \
      EP_SMLAL_STEP(STEP)                                                                                      \
      EP_SMLAL_STEP(STEP)                                                                                      \
      "subs %[count], %[count], #2\n\t"                                                                        \
      "b.ne 2b\n\t"                                                                                            \
      "3:\n\t"                                                                                                 \
      EP_SMLAL_EPILOGUE(LEFT, FIX, NARROW)                                                                     \
      : [w] "+r"(w), [count] "+r"(count), [k] "=&r"(k), [offsets] "+r"(offsets), [dst] "+r"(dst)             \
      : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [r3] "r"(r3), [rq] "r"(rq), [consts] "r"(consts),           \
        [ostride] "r"(ostride)                                                                                 \
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13",   \
        "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27")

// PAIRS: the steps as runs of pairs of adjacent steps (Steps::pairs), each pixel's 32 bytes by one LDP that
// post-increments its row pointer (r0-r3 are copies): per pair 4 LDP + 2 weight LD1 + 96 multiply-accumulates + 2
// loop instructions, against 2 x (LDRSW + LD1 + 4 LDR) for two separate steps; each further run adds 4 ADDs
// (pair_jump) and 4 loop instructions. Pixels v24-v27 (first step) and v28-v31 (second).
#define EP_SMLAL_PAIR_LOADS                                                                                   \
  "ldp q24, q28, [%[r0]], #32\n\t"                                                                            \
  "ldp q25, q29, [%[r1]], #32\n\t"                                                                            \
  "ldp q26, q30, [%[r2]], #32\n\t"                                                                            \
  "ldp q27, q31, [%[r3]], #32\n\t"
#define EP_SMLAL_PAIR_SECOND                                                                                  \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                    \
  EP_DOT16_PIXEL("v0", "v1", "v2", "v3", "v28")                                                               \
  EP_DOT16_PIXEL("v4", "v5", "v6", "v7", "v29")                                                               \
  EP_DOT16_PIXEL("v8", "v9", "v10", "v11", "v30")                                                             \
  EP_DOT16_PIXEL("v12", "v13", "v14", "v15", "v31")
#define EP_SMLAL_PAIRS_ASM(LEFT, FIX, NARROW)                                                                 \
  __asm__ volatile(                                                                                            \
      "mov %[c], %[pairs]\n\t"                                                                                 \
      "mov %[runs], %[nruns]\n\t"                                                                              \
      EP_SMLAL_PAIR_LOADS                                                                                      \
      "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                 \
      EP_DOT16_PIXEL_FIRST("v0", "v1", "v2", "v3", "v24")                                                      \
      EP_DOT16_PIXEL_FIRST("v4", "v5", "v6", "v7", "v25")                                                      \
      EP_DOT16_PIXEL_FIRST("v8", "v9", "v10", "v11", "v26")                                                    \
      EP_DOT16_PIXEL_FIRST("v12", "v13", "v14", "v15", "v27")                                                  \
      EP_SMLAL_PAIR_SECOND                                                                                     \
      "b 2f\n\t"                                                                                               \
      "1:\n\t"                                                                                                 \
      EP_SMLAL_PAIR_LOADS                                                                                      \
      "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                 \
      EP_DOT16_PIXEL("v0", "v1", "v2", "v3", "v24")                                                            \
      EP_DOT16_PIXEL("v4", "v5", "v6", "v7", "v25")                                                            \
      EP_DOT16_PIXEL("v8", "v9", "v10", "v11", "v26")                                                          \
      EP_DOT16_PIXEL("v12", "v13", "v14", "v15", "v27")                                                        \
      EP_SMLAL_PAIR_SECOND                                                                                     \
      "2:\n\t"                                                                                                 \
      "subs %[c], %[c], #1\n\t"                                                                                \
      "b.ne 1b\n\t"                                                                                            \
      "subs %[runs], %[runs], #1\n\t"                                                                          \
      "b.eq 3f\n\t"                                                                                            \
      "add %[r0], %[r0], %[jump]\n\t"                                                                          \
      "add %[r1], %[r1], %[jump]\n\t"                                                                          \
      "add %[r2], %[r2], %[jump]\n\t"                                                                          \
      "add %[r3], %[r3], %[jump]\n\t"                                                                          \
      "mov %[c], %[pairs]\n\t"                                                                                 \
      "b 1b\n\t"                                                                                               \
      "3:\n\t"                                                                                                 \
      EP_SMLAL_EPILOGUE(LEFT, FIX, NARROW)                                                                     \
      : [w] "+r"(w), [c] "=&r"(c), [runs] "=&r"(runs), [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2),           \
        [r3] "+r"(r3), [dst] "+r"(dst)                                                                         \
      : [pairs] "r"(pairs), [nruns] "r"(nruns), [jump] "r"(jump), [rq] "r"(rq), [consts] "r"(consts),         \
        [ostride] "r"(ostride)                                                                                 \
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13",   \
        "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", \
        "v29", "v30", "v31")

// SLIDE3: packed windows (pixel i at r0 + 16 i) whose filter rows are 3 steps (segments of 48 bytes, e.g. 3x3 over 16
// channels): step s of a filter row reads the 64 bytes at r0 + 16 s, so the row's 3 steps need only the 96 bytes
// at r0: one LD1 of 4 vectors and one LDP (v24-v29), and step s multiplies v24+s .. v27+s. Per filter row: 2 loads
// + 3 weight LD1 + 144 multiply-accumulates + 3 (ADD of the row jump, loop), against 3 x (LDRSW + ADD + 2 LD1) + the
// loop with PACKED. r0 is a copy; jump = the filter row stride - 64.
#define EP_SMLAL_SLIDE_ROW(DOT)                                                                               \
  "ld1 {v24.16b-v27.16b}, [%[r0]], #64\n\t"                                                                   \
  "ldp q28, q29, [%[r0]]\n\t"                                                                                 \
  "add %[r0], %[r0], %[jump]\n\t"                                                                             \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                    \
  DOT("v0", "v1", "v2", "v3", "v24") DOT("v4", "v5", "v6", "v7", "v25")                                       \
  DOT("v8", "v9", "v10", "v11", "v26") DOT("v12", "v13", "v14", "v15", "v27")                                 \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                    \
  EP_DOT16_PIXEL("v0", "v1", "v2", "v3", "v25") EP_DOT16_PIXEL("v4", "v5", "v6", "v7", "v26")                 \
  EP_DOT16_PIXEL("v8", "v9", "v10", "v11", "v27") EP_DOT16_PIXEL("v12", "v13", "v14", "v15", "v28")           \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                    \
  EP_DOT16_PIXEL("v0", "v1", "v2", "v3", "v26") EP_DOT16_PIXEL("v4", "v5", "v6", "v7", "v27")                 \
  EP_DOT16_PIXEL("v8", "v9", "v10", "v11", "v28") EP_DOT16_PIXEL("v12", "v13", "v14", "v15", "v29")
// SLIDE3_S2: as SLIDE3 with windows 32 bytes apart (stride 2 over 16 channels): the 144 bytes at r0 are the vectors
// x0-x8 (x_j at r0 + 16 j) and step s of pixel i reads x_{2i+s}. Two LD1 of 4 vectors (x0-x7: v24-v31) serve steps
// 0 (v24, v26, v28, v30) and 1 (v25, v27, v29, v31), an LDR puts x8 in v24 (free after step 0) for step 2 (v26, v28,
// v30, v24). Per filter row: 3 loads + 3 weight LD1 + 144 multiply-accumulates + 3, against 3 x (LDRSW + LD1 + 4 LDR)
// + the loop with ROWS. jump = the filter row stride - 128.
#define EP_SMLAL_SLIDE2_ROW(DOT)                                                                              \
  "ld1 {v24.16b-v27.16b}, [%[r0]], #64\n\t"                                                                   \
  "ld1 {v28.16b-v31.16b}, [%[r0]], #64\n\t"                                                                   \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                    \
  DOT("v0", "v1", "v2", "v3", "v24") DOT("v4", "v5", "v6", "v7", "v26")                                       \
  DOT("v8", "v9", "v10", "v11", "v28") DOT("v12", "v13", "v14", "v15", "v30")                                 \
  "ldr q24, [%[r0]]\n\t"                                                                                      \
  "add %[r0], %[r0], %[jump]\n\t"                                                                             \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                    \
  EP_DOT16_PIXEL("v0", "v1", "v2", "v3", "v25") EP_DOT16_PIXEL("v4", "v5", "v6", "v7", "v27")                 \
  EP_DOT16_PIXEL("v8", "v9", "v10", "v11", "v29") EP_DOT16_PIXEL("v12", "v13", "v14", "v15", "v31")           \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                                    \
  EP_DOT16_PIXEL("v0", "v1", "v2", "v3", "v26") EP_DOT16_PIXEL("v4", "v5", "v6", "v7", "v28")                 \
  EP_DOT16_PIXEL("v8", "v9", "v10", "v11", "v30") EP_DOT16_PIXEL("v12", "v13", "v14", "v15", "v24")
// The SLIDE3 / SLIDE3_S2 asm: ROW (EP_SMLAL_SLIDE_ROW / EP_SMLAL_SLIDE2_ROW) per filter row, then the epilogue.
#define EP_SMLAL_SLIDE_ASM(ROW, LEFT, FIX, NARROW)                                                                \
  __asm__ volatile(                                                                                            \
      "mov %[runs], %[nruns]\n\t"                                                                              \
      ROW(EP_DOT16_PIXEL_FIRST)                                                                \
      "subs %[runs], %[runs], #1\n\t"                                                                          \
      "b.eq 3f\n\t"                                                                                            \
      "1:\n\t"                                                                                                 \
      ROW(EP_DOT16_PIXEL)                                                                      \
      "subs %[runs], %[runs], #1\n\t"                                                                          \
      "b.ne 1b\n\t"                                                                                            \
      "3:\n\t"                                                                                                 \
      EP_SMLAL_EPILOGUE(LEFT, FIX, NARROW)                                                                     \
      : [w] "+r"(w), [runs] "=&r"(runs), [r0] "+r"(r0), [dst] "+r"(dst)                                        \
      : [nruns] "r"(nruns), [jump] "r"(jump), [rq] "r"(rq), [consts] "r"(consts), [ostride] "r"(ostride)      \
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13",   \
        "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", \
        "v29", "v30", "v31")

// How a tile reads the pixels' steps: ROWS (one LDR per pixel per step, at rows[i] + offset), PACKED (the 4 pixels'
// 64 bytes at r0 + offset, one LD1), PAIRS, SLIDE3 or SLIDE3_S2 (above).
enum { ROWS, PACKED, PAIRS, SLIDE3, SLIDE3_S2 };

// The loop constants of PAIRS and SLIDE3, read once per quad (the asm's memory clobber would reload them per tile).
struct Runs {
  intptr_t pairs, nruns, jump;
};

template <int F, int E, int MODE>
__attribute__((always_inline)) static inline void smlal_tile(const int8_t *r0, const int8_t *r1, const int8_t *r2,
                                                             const int8_t *r3, const int8_t *&w,
                                                             const Runs &runs_, intptr_t count,
                                                             const int32_t *offsets, const int32_t *rq,
                                                             const int8_t *consts, int8_t *dst, intptr_t ostride) {
  intptr_t k, c, runs;
  const intptr_t pairs = runs_.pairs, nruns = runs_.nruns, jump = runs_.jump;
  (void)k, (void)c, (void)runs, (void)pairs, (void)nruns, (void)jump, (void)count, (void)offsets;
#define EP_SMLAL_ANY_ASM(FIRST, STEP, LEFT, FIX, NARROW)                                                        \
  if (MODE == PAIRS) EP_SMLAL_PAIRS_ASM(LEFT, FIX, NARROW);                                                      \
  else if (MODE == SLIDE3) EP_SMLAL_SLIDE_ASM(EP_SMLAL_SLIDE_ROW, LEFT, FIX, NARROW);                            \
  else if (MODE == SLIDE3_S2) EP_SMLAL_SLIDE_ASM(EP_SMLAL_SLIDE2_ROW, LEFT, FIX, NARROW);                        \
  else EP_SMLAL_TILE_ASM(FIRST, STEP, LEFT, FIX, NARROW);
#define EP_SMLAL_TILE_FIX(FIRST, STEP, LEFT, NARROW)                                                             \
  if (E == ep::neon::EPI_RELU || E == ep::neon::EPI_RELU_U8) { EP_SMLAL_ANY_ASM(FIRST, STEP, LEFT, EP_SMLAL_FIX_NONE, NARROW) } \
  else if ((F & EP_ALL_RIGHT) && !(F & EP_LEFT)) { EP_SMLAL_ANY_ASM(FIRST, STEP, LEFT, EP_SMLAL_FIX_ALL, NARROW) }  \
  else { EP_SMLAL_ANY_ASM(FIRST, STEP, LEFT, EP_SMLAL_FIX_MASK, NARROW) }
#define EP_SMLAL_TILE_NARROW(FIRST, STEP, LEFT)                                                                 \
  if (E == ep::neon::EPI_RELU_U8) { EP_SMLAL_TILE_FIX(FIRST, STEP, LEFT, EP_SMLAL_NARROW_U8) }                    \
  else if (E == ep::neon::EPI_FULL) { EP_SMLAL_TILE_FIX(FIRST, STEP, LEFT, EP_SMLAL_NARROW_FULL) }                \
  else { EP_SMLAL_TILE_FIX(FIRST, STEP, LEFT, EP_SMLAL_NARROW_CLAMP) }
#define EP_SMLAL_TILE_LEFT(FIRST, STEP)                                                                         \
  if (F & EP_LEFT) { EP_SMLAL_TILE_NARROW(FIRST, STEP, EP_SMLAL_LEFT_ON) }                                        \
  else { EP_SMLAL_TILE_NARROW(FIRST, STEP, EP_SMLAL_LEFT_OFF) }
  if (MODE == PACKED) {
    EP_SMLAL_TILE_LEFT(EP_SMLAL_PACKED_FIRST, EP_SMLAL_PACKED_STEP)
  } else {
    EP_SMLAL_TILE_LEFT(EP_SMLAL_ROWS_FIRST, EP_SMLAL_ROWS_STEP)
  }
#undef EP_SMLAL_TILE_LEFT
#undef EP_SMLAL_TILE_NARROW
#undef EP_SMLAL_TILE_FIX
#undef EP_SMLAL_ANY_ASM
}

template <int F, int E>
struct SmlalTile {
  const ep_conv2d_s8_neon_params *p;
  int8_t consts[48];  // output offset (8 x int16), act_min (16 x int8), act_max (16 x int8)

  explicit SmlalTile(const ep_conv2d_s8_neon_params *params) : p(params) {
    vst1q_s16((int16_t *)(void *)consts, vdupq_n_s16((int16_t)p->output_offset));
    vst1q_s8(consts + 16, vdupq_n_s8((int8_t)p->act_min));
    vst1q_s8(consts + 32, vdupq_n_s8((int8_t)p->act_max));
  }

  // Output channels [0, out_c) of 4 pixels (FULL: n == 4 and out_c >= 4: every tile stores 4 whole channels;
  // OVERLAP: out_c % 4 != 0, the last tile is [out_c - 4, out_c)). MODE PACKED: r_i == r0 + 16 * i.
  template <bool FULL, bool OVERLAP, int MODE>
  __attribute__((always_inline)) void quad(const int8_t *r0, const int8_t *r1, const int8_t *r2, const int8_t *r3, int32_t n,
            const ep::neon::Steps &steps, int8_t *out) const {
    const int32_t out_c = p->out_c;
    const int8_t *w = p->filter;
    const int32_t *rq = p->rq;
    // The step count and offsets past the first step, hoisted: the asm's memory clobber would reload them per tile.
    const intptr_t count = steps.count - 1;
    const int32_t *const offsets = steps.offsets + 1;
    const Runs runs = MODE == SLIDE3      ? Runs{0, steps.count / 3, steps.row_stride - 64}
                      : MODE == SLIDE3_S2 ? Runs{0, steps.count / 3, steps.row_stride - 128}
                                          : Runs{steps.pairs, steps.pair_rows, steps.pair_jump};
    int8_t tmp[16];
    for (int32_t oc = 0; oc < out_c; oc += 4, rq += 4 * EP_NEON_RQ_FIELDS) {
      if (OVERLAP && oc > out_c - 4 && out_c >= 4) oc = out_c - 4;  // the last tile overlaps the one before
      if (FULL) {
        smlal_tile<F, E, MODE>(r0, r1, r2, r3, w, runs, count, offsets, rq, consts, out + oc, out_c);
        continue;
      }
      smlal_tile<F, E, MODE>(r0, r1, r2, r3, w, runs, count, offsets, rq, consts, tmp, 4);
      const int32_t left = out_c - oc < 4 ? out_c - oc : 4;
      for (int32_t i = 0; i < n; ++i)
        for (int32_t o = 0; o < left; ++o) out[(size_t)i * out_c + oc + o] = tmp[4 * i + o];
    }
  }

  void operator()(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n, const ep::neon::Steps &steps,
                  int8_t *out, bool packed) const {
    if (packed && p->out_c % 4 == 0)
      return steps.row_steps == 3 ? run<SLIDE3>(rows, n, steps, out) : run<PACKED>(rows, n, steps, out);
    if (steps.row_steps == 3 && n == EP_NEON_GEMM_PIXELS && p->out_c % 4 == 0 && rows[1] == rows[0] + 32 &&
        rows[2] == rows[0] + 64 && rows[3] == rows[0] + 96 && rows[5] == rows[4] + 32 && rows[6] == rows[4] + 64 &&
        rows[7] == rows[4] + 96)  // each quad's windows 32 bytes apart
      return run<SLIDE3_S2>(rows, n, steps, out);
    if (steps.pairs) return run<PAIRS>(rows, n, steps, out);
    run<ROWS>(rows, n, steps, out);
  }

  template <int MODE>
  __attribute__((always_inline)) void run(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n, const ep::neon::Steps &steps,
           int8_t *out) const {
    int8_t *out4 = out + (size_t)4 * p->out_c;
    if (n == EP_NEON_GEMM_PIXELS && p->out_c % 4 == 0) {
      quad<true, false, MODE>(rows[0], rows[1], rows[2], rows[3], 4, steps, out);
      quad<true, false, MODE>(rows[4], rows[5], rows[6], rows[7], 4, steps, out4);
    } else if (n == EP_NEON_GEMM_PIXELS && p->out_c > 4) {
      quad<true, true, MODE>(rows[0], rows[1], rows[2], rows[3], 4, steps, out);
      quad<true, true, MODE>(rows[4], rows[5], rows[6], rows[7], 4, steps, out4);
    } else {
      quad<false, true, MODE>(rows[0], rows[1], rows[2], rows[3], n < 4 ? n : 4, steps, out);
      if (n > 4) quad<false, true, MODE>(rows[4], rows[5], rows[6], rows[7], n - 4, steps, out4);
    }
  }
};

// The requantization variant: with no rounding fixup (RELU kinds) only the left shift matters.
template <int E>
static ep_status dispatch(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch, int8_t *output) {
  const bool relu = E == ep::neon::EPI_RELU || E == ep::neon::EPI_RELU_U8;
  if (p->left_shifts) return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<EP_LEFT, E>(p));
  if (p->all_right && !relu) return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<EP_ALL_RIGHT, E>(p));
  return ep::neon::conv_gemm(p, input, scratch, output, SmlalTile<0, E>(p));
}

}  // namespace
#endif

extern "C" ep_status ep_conv2d_s8_neon(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch,
                                       int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON)
  return ep::neon::with_epilogue(p->output_offset, p->act_min, p->act_max,
                                 [&](auto e) { return dispatch<decltype(e)::value>(p, input, scratch, output); });
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
