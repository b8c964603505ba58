// CONV_2D on Armv8.2-A with the dot-product extension (Cortex-A76, Raspberry Pi 5): a GEMM tile of 8 output
// pixels by 8 output channels, SDOT by element (16 MACs per instruction). Bit-exact with ep_conv2d_s8. Packed
// blocks (the 8 pixels' bytes of a step contiguous: in place at 16 channels and stride 1, else the planes of
// neon_gemm.h) go a whole output row at a time through one asm loop (SdotTile::run).
#include "edgeprune/detail/neon_gemm.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
namespace {

// One tile in one asm block, every vector in a fixed register: the accumulators v0-v15 (pixel p: v2p for output
// channels 0-3, v2p+1 for 4-7) start from the bias (LD1 of the tile's bias, stored twice: 4 registers per LD1); per
// 16-byte step, the 8 weight vectors v16-v23 (k-group g, half h: v16 + 2g + h) and the 8 pixels' 16 bytes v24-v31,
// 64 SDOTs. Then the requantization of conv_neon.h on all 16 accumulators (multiplier v16-v17, left shift v18-v19,
// right shift v20-v21, output offset v22, clamp v23-v24) and 8-byte stores, dst advancing by ostride per pixel.
#define EP_SDOT_X(p, g) "v" #p ".4b[" #g "]"
#define EP_SDOT_PIXEL(a0, a1, x)                                                          \
  "sdot v" #a0 ".4s, v16.16b, " EP_SDOT_X(x, 0) "\n\t"                                   \
  "sdot v" #a1 ".4s, v17.16b, " EP_SDOT_X(x, 0) "\n\t"                                   \
  "sdot v" #a0 ".4s, v18.16b, " EP_SDOT_X(x, 1) "\n\t"                                   \
  "sdot v" #a1 ".4s, v19.16b, " EP_SDOT_X(x, 1) "\n\t"                                   \
  "sdot v" #a0 ".4s, v20.16b, " EP_SDOT_X(x, 2) "\n\t"                                   \
  "sdot v" #a1 ".4s, v21.16b, " EP_SDOT_X(x, 2) "\n\t"                                   \
  "sdot v" #a0 ".4s, v22.16b, " EP_SDOT_X(x, 3) "\n\t"                                   \
  "sdot v" #a1 ".4s, v23.16b, " EP_SDOT_X(x, 3) "\n\t"
// The 8 pixels' bytes of a step: at rows[i] + k, or (packed windows) 128 contiguous bytes at rows[0] + k.
#define EP_SDOT_LOAD_ROWS                 \
  "ldr q24, [%[r0], %[k]]\n\t"            \
  "ldr q25, [%[r1], %[k]]\n\t"            \
  "ldr q26, [%[r2], %[k]]\n\t"            \
  "ldr q27, [%[r3], %[k]]\n\t"            \
  "ldr q28, [%[r4], %[k]]\n\t"            \
  "ldr q29, [%[r5], %[k]]\n\t"            \
  "ldr q30, [%[r6], %[k]]\n\t"            \
  "ldr q31, [%[r7], %[k]]\n\t"
#define EP_SDOT_LOAD_PACKED                         \
  "add %[k], %[r0], %[k]\n\t"                       \
  "ld1 {v24.16b-v27.16b}, [%[k]], #64\n\t"          \
  "ld1 {v28.16b-v31.16b}, [%[k]]\n\t"
#define EP_RQ_LEFT_ON(a, l) "sshl v" #a ".4s, v" #a ".4s, " l ".4s\n\t"
#define EP_RQ_LEFT_OFF(a, l) ""
#define EP_RQ_FIX_ALL(a, s) "ssra v" #a ".4s, v" #a ".4s, #31\n\t"
#define EP_RQ_FIX_MASK(a, s) "and v25.16b, v" #a ".16b, " s ".16b\n\t" "ssra v" #a ".4s, v25.4s, #31\n\t"
#define EP_RQ_ACC0(a, LEFT, FIX) \
  LEFT(a, "v18") "sqrdmulh v" #a ".4s, v" #a ".4s, v16.4s\n\t" FIX(a, "v20") "srshl v" #a ".4s, v" #a ".4s, v20.4s\n\t"
#define EP_RQ_ACC1(a, LEFT, FIX) \
  LEFT(a, "v19") "sqrdmulh v" #a ".4s, v" #a ".4s, v17.4s\n\t" FIX(a, "v21") "srshl v" #a ".4s, v" #a ".4s, v21.4s\n\t"
// act_min >= the output zero point (conv_neon.h EPI_RELU*): no rounding fixup.
#define EP_RQ_FIX_NONE(a, s) ""
// Four requantized vectors (a0-a3) -> the 16 bytes of v28, by the output stage (conv_neon.h EPI_*). CONSTS: the
// output offset v22 and the clamp v23-v24 (CLAMP: 10 instructions; FULL: no SMAX / SMIN, 8); U8: v22 = 0x80 bytes,
// SQXTUN, UQXTN and EOR (7).
#define EP_NARROW_CONSTS "ld1 {v22.16b-v24.16b}, [%[consts]]\n\t"
#define EP_NARROW_OFFSET(a0, a1, a2, a3)                                                         \
  "sqxtn v26.4h, v" #a0 ".4s\n\t"                                                                \
  "sqxtn2 v26.8h, v" #a1 ".4s\n\t"                                                               \
  "sqxtn v27.4h, v" #a2 ".4s\n\t"                                                                \
  "sqxtn2 v27.8h, v" #a3 ".4s\n\t"                                                               \
  "sqadd v26.8h, v26.8h, v22.8h\n\t"                                                             \
  "sqadd v27.8h, v27.8h, v22.8h\n\t"                                                             \
  "sqxtn v28.8b, v26.8h\n\t"                                                                     \
  "sqxtn2 v28.16b, v27.8h\n\t"
#define EP_NARROW_CLAMP(a0, a1, a2, a3) \
  EP_NARROW_OFFSET(a0, a1, a2, a3) "smax v28.16b, v28.16b, v23.16b\n\t" "smin v28.16b, v28.16b, v24.16b\n\t"
#define EP_NARROW_FULL(a0, a1, a2, a3) EP_NARROW_OFFSET(a0, a1, a2, a3)
#define EP_NARROW_U8_CONSTS "movi v22.16b, #0x80\n\t"
#define EP_NARROW_U8(a0, a1, a2, a3)                                                             \
  "sqxtun v26.4h, v" #a0 ".4s\n\t"                                                               \
  "sqxtun2 v26.8h, v" #a1 ".4s\n\t"                                                              \
  "sqxtun v27.4h, v" #a2 ".4s\n\t"                                                               \
  "sqxtun2 v27.8h, v" #a3 ".4s\n\t"                                                              \
  "uqxtn v28.8b, v26.8h\n\t"                                                                     \
  "uqxtn2 v28.16b, v27.8h\n\t"                                                                   \
  "eor v28.16b, v28.16b, v22.16b\n\t"
// Pixels p and p + 1 (accumulators a0-a3): requantize, narrow (NARROW), two 8-byte stores.
#define EP_RQ_PAIR(a0, a1, a2, a3, LEFT, FIX, NARROW)                                              \
  EP_RQ_ACC0(a0, LEFT, FIX) EP_RQ_ACC1(a1, LEFT, FIX) EP_RQ_ACC0(a2, LEFT, FIX) EP_RQ_ACC1(a3, LEFT, FIX) \
  NARROW(a0, a1, a2, a3)                                                                         \
  "st1 {v28.d}[0], [%[dst]], %[ostride]\n\t"                                                     \
  "st1 {v28.d}[1], [%[dst]], %[ostride]\n\t"

// One 16-byte step: 8 weight vectors, the 8 pixels' bytes, 64 SDOTs.
#define EP_SDOT_STEP(LOAD)                                                                              \
  "ldrsw %[k], [%[o]], #4\n\t"                                                                          \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                              \
  "ld1 {v20.16b-v23.16b}, [%[w]], #64\n\t"                                                              \
  LOAD                                                                                                  \
  EP_SDOT_PIXEL(0, 1, 24) EP_SDOT_PIXEL(2, 3, 25) EP_SDOT_PIXEL(4, 5, 26) EP_SDOT_PIXEL(6, 7, 27)         \
  EP_SDOT_PIXEL(8, 9, 28) EP_SDOT_PIXEL(10, 11, 29) EP_SDOT_PIXEL(12, 13, 30) EP_SDOT_PIXEL(14, 15, 31)

// rq per tile (EP_NEON_SDOT_RQ_FIELDS x 8 int32): bias, bias again, multiplier, left shift, right shift. consts:
// the output offset (8 x int16), act_min and act_max (16 x int8 each). `tiles` consecutive 8-channel tiles, the
// outer loop in the asm too (the 8 row pointers stay in registers): tile t stores at base + 8 t.
// The K loop over `count` steps: an odd step first, then pairs.
#define EP_SDOT_KLOOP_STEPS(LOAD)                                                                            \
      "tbz %[c], #0, 2f\n\t"                                                                                 \
      EP_SDOT_STEP(LOAD)                                                                                     \
      "subs %[c], %[c], #1\n\t"                                                                              \
      "b.eq 3f\n\t"                                                                                          \
      "2:\n\t"                                                                                               \
      EP_SDOT_STEP(LOAD)                                                                                     \
      EP_SDOT_STEP(LOAD)                                                                                     \
      "subs %[c], %[c], #2\n\t"                                                                              \
      "b.ne 2b\n\t"                                                                                          \
      "3:\n\t"
// Packed triples (Steps::triples; `count` triples): a filter row of 3 taps at stride 1, the taps 16 bytes apart,
// so tap fx + 1 of pixel p is tap fx of pixel p + 1. The first step loads the 8 pixels' 128 bytes; each of the
// other two loads one vector (the next pixel's) into the register the step before no longer needs, and the pixels
// rotate through v24-v31.
#define EP_SDOT_WEIGHTS "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t" "ld1 {v20.16b-v23.16b}, [%[w]], #64\n\t"
#define EP_SDOT_PIXELS(x0, x1, x2, x3, x4, x5, x6, x7)                                                    \
  EP_SDOT_PIXEL(0, 1, x0) EP_SDOT_PIXEL(2, 3, x1) EP_SDOT_PIXEL(4, 5, x2) EP_SDOT_PIXEL(6, 7, x3)         \
  EP_SDOT_PIXEL(8, 9, x4) EP_SDOT_PIXEL(10, 11, x5) EP_SDOT_PIXEL(12, 13, x6) EP_SDOT_PIXEL(14, 15, x7)
#define EP_SDOT_KLOOP_TRIPLES                                                                                \
      "2:\n\t"                                                                                               \
      "ldrsw %[k], [%[o]], #12\n\t"                                                                          \
      EP_SDOT_WEIGHTS                                                                                        \
      "add %[k], %[r0], %[k]\n\t"                                                                            \
      "ld1 {v24.16b-v27.16b}, [%[k]], #64\n\t"                                                               \
      "ld1 {v28.16b-v31.16b}, [%[k]]\n\t"                                                                    \
      EP_SDOT_PIXELS(24, 25, 26, 27, 28, 29, 30, 31)                                                         \
      EP_SDOT_WEIGHTS "ldr q24, [%[k], #64]\n\t"                                                             \
      EP_SDOT_PIXELS(25, 26, 27, 28, 29, 30, 31, 24)                                                         \
      EP_SDOT_WEIGHTS "ldr q25, [%[k], #80]\n\t"                                                             \
      EP_SDOT_PIXELS(26, 27, 28, 29, 30, 31, 24, 25)                                                         \
      "subs %[c], %[c], #1\n\t"                                                                              \
      "b.ne 2b\n\t"
#define EP_SDOT_TILE_BODY(KLOOP, LEFT, FIX, CONSTS, NARROW)                                                 \
      "0:\n\t"                                                                                               \
      "mov %[o], %[offsets]\n\t"                                                                             \
      "mov %[c], %[count]\n\t"                                                                               \
      "mov %[dst], %[base]\n\t"                                                                              \
      "ld1 {v0.4s-v3.4s}, [%[rq]]\n\t"                                                                       \
      "ld1 {v4.4s-v7.4s}, [%[rq]]\n\t"                                                                       \
      "ld1 {v8.4s-v11.4s}, [%[rq]]\n\t"                                                                      \
      "ld1 {v12.4s-v15.4s}, [%[rq]], #64\n\t"                                                                \
      KLOOP                                                                                                  \
      "ld1 {v16.4s-v19.4s}, [%[rq]], #64\n\t"                                                                \
      "ld1 {v20.4s-v21.4s}, [%[rq]], #32\n\t"                                                                \
      CONSTS                                                                                                 \
      EP_RQ_PAIR(0, 1, 2, 3, LEFT, FIX, NARROW) EP_RQ_PAIR(4, 5, 6, 7, LEFT, FIX, NARROW)                     \
      EP_RQ_PAIR(8, 9, 10, 11, LEFT, FIX, NARROW) EP_RQ_PAIR(12, 13, 14, 15, LEFT, FIX, NARROW)               \
      "add %[base], %[base], #8\n\t"                                                                         \
      "subs %[tiles], %[tiles], #1\n\t"                                                                      \
      "b.ne 0b\n\t"
#define EP_SDOT_TILE_ASM(LOAD, LEFT, FIX, CONSTS, NARROW)                                                    \
  __asm__ volatile(                                                                                          \
      EP_SDOT_TILE_BODY(EP_SDOT_KLOOP_STEPS(LOAD), LEFT, FIX, CONSTS, NARROW)                                \
      : [w] "+r"(w), [rq] "+r"(rq), [base] "+r"(base), [tiles] "+r"(tiles), [o] "=&r"(o), [c] "=&r"(c),     \
        [k] "=&r"(k), [dst] "=&r"(dst)                                                                       \
      : [r0] "r"(r[0]), [r1] "r"(r[1]), [r2] "r"(r[2]), [r3] "r"(r[3]), [r4] "r"(r[4]), [r5] "r"(r[5]),       \
        [r6] "r"(r[6]), [r7] "r"(r[7]), [offsets] "r"(steps.offsets), [count] "r"(count),                    \
        [consts] "r"(consts), [ostride] "r"(ostride)                                                         \
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", \
        "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", \
        "v29", "v30", "v31")

// A run of whole packed blocks (SdotTile::run): per block, the tile loop of EP_SDOT_TILE_BODY from the first
// weights and rq; then the windows move on by 8 pixels (128 bytes, r0) and the outputs by 8 rows (bstride).
#define EP_SDOT_RUN_ASM(KLOOP, LEFT, FIX, CONSTS, NARROW)                                                    \
  __asm__ volatile(                                                                                          \
      "1:\n\t"                                                                                               \
      "mov %[w], %[w0]\n\t"                                                                                  \
      "mov %[rq], %[rq0]\n\t"                                                                                \
      "mov %[base], %[out]\n\t"                                                                              \
      "mov %[tiles], %[ntiles]\n\t"                                                                          \
      EP_SDOT_TILE_BODY(KLOOP, LEFT, FIX, CONSTS, NARROW)                                                    \
      "add %[r0], %[r0], #128\n\t"                                                                           \
      "add %[out], %[out], %[bstride]\n\t"                                                                   \
      "subs %[blocks], %[blocks], #1\n\t"                                                                    \
      "b.ne 1b\n\t"                                                                                          \
      : [w] "=&r"(w), [rq] "=&r"(rq), [base] "=&r"(base), [tiles] "=&r"(tiles), [o] "=&r"(o), [c] "=&r"(c),  \
        [k] "=&r"(k), [dst] "=&r"(dst), [r0] "+r"(r0), [out] "+r"(out), [blocks] "+r"(blocks)                \
      : [w0] "r"(w0), [rq0] "r"(rq0), [ntiles] "r"(ntiles), [offsets] "r"(steps.offsets), [count] "r"(count), \
        [consts] "r"(consts), [ostride] "r"(ostride), [bstride] "r"(bstride)                                 \
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", \
        "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", \
        "v29", "v30", "v31")

#define EP_SDOT_BY_NARROW(ASM, LOAD, LEFT, FIX)                                                                 \
  if (E == ep::neon::EPI_RELU_U8) { ASM(LOAD, LEFT, FIX, EP_NARROW_U8_CONSTS, EP_NARROW_U8); }                    \
  else if (E == ep::neon::EPI_FULL) { ASM(LOAD, LEFT, FIX, EP_NARROW_CONSTS, EP_NARROW_FULL); }                   \
  else { ASM(LOAD, LEFT, FIX, EP_NARROW_CONSTS, EP_NARROW_CLAMP); }
// The requantization variant (F, E) and the loads (PACKED) of a tile asm: with a ReLU stage (E = EPI_RELU*) no
// rounding fixup.
#define EP_SDOT_DISPATCH_LOAD(ASM, LOAD)                                                                          \
  if (E == ep::neon::EPI_RELU || E == ep::neon::EPI_RELU_U8) {                                                    \
    if (F & EP_LEFT) { EP_SDOT_BY_NARROW(ASM, LOAD, EP_RQ_LEFT_ON, EP_RQ_FIX_NONE) }                              \
    else { EP_SDOT_BY_NARROW(ASM, LOAD, EP_RQ_LEFT_OFF, EP_RQ_FIX_NONE) }                                         \
  } else if ((F & EP_LEFT) && (F & EP_ALL_RIGHT)) { EP_SDOT_BY_NARROW(ASM, LOAD, EP_RQ_LEFT_ON, EP_RQ_FIX_ALL) }  \
  else if (F & EP_LEFT) { EP_SDOT_BY_NARROW(ASM, LOAD, EP_RQ_LEFT_ON, EP_RQ_FIX_MASK) }                           \
  else if (F & EP_ALL_RIGHT) { EP_SDOT_BY_NARROW(ASM, LOAD, EP_RQ_LEFT_OFF, EP_RQ_FIX_ALL) }                      \
  else { EP_SDOT_BY_NARROW(ASM, LOAD, EP_RQ_LEFT_OFF, EP_RQ_FIX_MASK) }
#define EP_SDOT_DISPATCH(ASM)                                                                                     \
  if (PACKED) { EP_SDOT_DISPATCH_LOAD(ASM, EP_SDOT_LOAD_PACKED) }                                                 \
  else { EP_SDOT_DISPATCH_LOAD(ASM, EP_SDOT_LOAD_ROWS) }

// `tiles` >= 1 tiles of 8 x 8: w and rq advance past them; tile t stores 8 rows of 8 bytes at base + 8 t, ostride
// bytes apart.
template <int F, int E, bool PACKED>
static inline void sdot_tiles(const int8_t *const r[EP_NEON_GEMM_PIXELS], const int8_t *&w, const int32_t *&rq,
                              const ep::neon::Steps &steps, const int8_t *consts, int8_t *base, intptr_t ostride,
                              intptr_t tiles) {
  const intptr_t count = steps.count;
  const int32_t *o;
  intptr_t c, k;
  int8_t *dst;
  EP_SDOT_DISPATCH(EP_SDOT_TILE_ASM)
}

// `blocks` >= 1 packed blocks of 8 pixels (block b's windows at r0 + 128 b + 16 i) x all out_c channels (out_c % 8
// == 0: `ntiles` 8-channel tiles), block b's 8 output rows at out + b * bstride, ostride bytes apart.
template <int F, int E>
static inline void sdot_run(const int8_t *r0, intptr_t blocks, const int8_t *w0, const int32_t *rq0,
                            const ep::neon::Steps &steps, const int8_t *consts, int8_t *out, intptr_t ostride,
                            intptr_t ntiles) {
  const intptr_t bstride = ostride * EP_NEON_GEMM_PIXELS;
  const int8_t *w;
  const int32_t *rq, *o;
  intptr_t c, k, tiles;
  int8_t *dst, *base;
  if (steps.triples) {
    const intptr_t count = steps.triples;
    EP_SDOT_DISPATCH_LOAD(EP_SDOT_RUN_ASM, EP_SDOT_KLOOP_TRIPLES)
  } else {
    const intptr_t count = steps.count;
    EP_SDOT_DISPATCH_LOAD(EP_SDOT_RUN_ASM, EP_SDOT_KLOOP_STEPS(EP_SDOT_LOAD_PACKED))
  }
}

// `blocks` >= 1 blocks of 8 pixels whose windows are x_step bytes apart (not packed: in place with wider rows, or
// columns): block b's windows at window + x_step (8 b + i), its 8 output rows at out + b * 8 ostride; every tile a
// whole 8-channel one. One call for the run, the tile asm per block (the d8-d15 saves once).
template <int F, int E>
__attribute__((noinline)) static void sdot_rows_run(const int8_t *window, intptr_t x_step, intptr_t blocks,
                                                    const int8_t *w0, const int32_t *rq0, const ep::neon::Steps &steps,
                                                    const int8_t *consts, int8_t *out, intptr_t ostride,
                                                    intptr_t ntiles) {
  const intptr_t count = steps.count;
  for (; blocks > 0; --blocks, window += EP_NEON_GEMM_PIXELS * x_step, out += EP_NEON_GEMM_PIXELS * ostride) {
    const int8_t *const r[EP_NEON_GEMM_PIXELS] = {window,              window + x_step,     window + 2 * x_step,
                                                  window + 3 * x_step, window + 4 * x_step, window + 5 * x_step,
                                                  window + 6 * x_step, window + 7 * x_step};
    const int8_t *w = w0;
    const int32_t *rq = rq0, *o;
    intptr_t c, k, tiles = ntiles;
    int8_t *dst, *base = out;
    EP_SDOT_DISPATCH_LOAD(EP_SDOT_TILE_ASM, EP_SDOT_LOAD_ROWS)
  }
}

// The 4-channel tile (a remainder of 1-4 channels): accumulators v0-v7 (pixel p: v_p), per step one LD1 of the 4
// weight vectors v16-v19 (k-group g: v16 + g) and 32 SDOTs; rq: bias' 4 times (two LD1 start the 8 accumulators),
// then multiplier, left shift, right shift (v16-v18); 4-byte stores.
#define EP_SDOT4_PIXEL(a, x)                                   \
  "sdot v" #a ".4s, v16.16b, " EP_SDOT_X(x, 0) "\n\t"         \
  "sdot v" #a ".4s, v17.16b, " EP_SDOT_X(x, 1) "\n\t"         \
  "sdot v" #a ".4s, v18.16b, " EP_SDOT_X(x, 2) "\n\t"         \
  "sdot v" #a ".4s, v19.16b, " EP_SDOT_X(x, 3) "\n\t"
#define EP_SDOT4_STEP(LOAD)                                                                              \
  "ldrsw %[k], [%[o]], #4\n\t"                                                                           \
  "ld1 {v16.16b-v19.16b}, [%[w]], #64\n\t"                                                               \
  LOAD                                                                                                   \
  EP_SDOT4_PIXEL(0, 24) EP_SDOT4_PIXEL(1, 25) EP_SDOT4_PIXEL(2, 26) EP_SDOT4_PIXEL(3, 27)                \
  EP_SDOT4_PIXEL(4, 28) EP_SDOT4_PIXEL(5, 29) EP_SDOT4_PIXEL(6, 30) EP_SDOT4_PIXEL(7, 31)
#define EP_RQ4_ACC(a, LEFT, FIX) \
  LEFT(a, "v17") "sqrdmulh v" #a ".4s, v" #a ".4s, v16.4s\n\t" FIX(a, "v18") "srshl v" #a ".4s, v" #a ".4s, v18.4s\n\t"
#define EP_RQ4_QUAD(a0, a1, a2, a3, LEFT, FIX, NARROW)                                            \
  EP_RQ4_ACC(a0, LEFT, FIX) EP_RQ4_ACC(a1, LEFT, FIX) EP_RQ4_ACC(a2, LEFT, FIX) EP_RQ4_ACC(a3, LEFT, FIX) \
  NARROW(a0, a1, a2, a3)                                                                         \
  "st1 {v28.s}[0], [%[dst]], %[ostride]\n\t"                                                    \
  "st1 {v28.s}[1], [%[dst]], %[ostride]\n\t"                                                    \
  "st1 {v28.s}[2], [%[dst]], %[ostride]\n\t"                                                    \
  "st1 {v28.s}[3], [%[dst]], %[ostride]\n\t"
#define EP_SDOT4_TILE_ASM(LOAD, LEFT, FIX, CONSTS, NARROW)                                                                 \
  __asm__ volatile(                                                                                          \
      "ld1 {v0.4s-v3.4s}, [%[rq]]\n\t"                                                                       \
      "ld1 {v4.4s-v7.4s}, [%[rq]], #64\n\t"                                                                  \
      "tbz %[c], #0, 2f\n\t"                                                                                 \
      EP_SDOT4_STEP(LOAD)                                                                                    \
      "subs %[c], %[c], #1\n\t"                                                                              \
      "b.eq 3f\n\t"                                                                                          \
      "2:\n\t"                                                                                               \
      EP_SDOT4_STEP(LOAD)                                                                                    \
      EP_SDOT4_STEP(LOAD)                                                                                    \
      "subs %[c], %[c], #2\n\t"                                                                              \
      "b.ne 2b\n\t"                                                                                          \
      "3:\n\t"                                                                                               \
      "ld1 {v16.4s-v18.4s}, [%[rq]], #48\n\t"                                                                \
      CONSTS                                                                                                 \
      EP_RQ4_QUAD(0, 1, 2, 3, LEFT, FIX, NARROW) EP_RQ4_QUAD(4, 5, 6, 7, LEFT, FIX, NARROW)                   \
      : [w] "+r"(w), [rq] "+r"(rq), [o] "+r"(o), [c] "+r"(c), [k] "=&r"(k), [dst] "+r"(dst)                  \
      : [r0] "r"(r[0]), [r1] "r"(r[1]), [r2] "r"(r[2]), [r3] "r"(r[3]), [r4] "r"(r[4]), [r5] "r"(r[5]),       \
        [r6] "r"(r[6]), [r7] "r"(r[7]), [consts] "r"(consts), [ostride] "r"(ostride)                         \
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v22",     \
        "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31")

// One 8-pixel x 4-channel tile: w and rq advance past it; 8 rows of 4 bytes at dst, ostride bytes apart.
template <int F, int E, bool PACKED>
static inline void sdot_tile4(const int8_t *const r[EP_NEON_GEMM_PIXELS], const int8_t *&w, const int32_t *&rq,
                              const ep::neon::Steps &steps, const int8_t *consts, int8_t *dst, intptr_t ostride) {
  const int32_t *o = steps.offsets;
  intptr_t c = steps.count, k;
  EP_SDOT_DISPATCH(EP_SDOT4_TILE_ASM)
}

template <int F, int E>
struct SdotTile {
  const ep_conv2d_s8_neon_params *p;
  int8_t consts[48];  // output offset (8 x int16), act_min (16 x int8), act_max (16 x int8)

  explicit SdotTile(const ep_conv2d_s8_neon_params *params) : p(params) {
    vst1q_s16((int16_t *)(void *)consts, vdupq_n_s16((int16_t)p->output_offset));
    vst1q_s8(consts + 16, vdupq_n_s8((int8_t)p->act_min));
    vst1q_s8(consts + 32, vdupq_n_s8((int8_t)p->act_max));
  }

  // The tiles of neon.py's sdot_tiles(out_c): 8-channel tiles from 0, then a remainder of 1-4 channels as a
  // 4-channel tile [out_c - 4, out_c), of 5-7 as an 8-channel tile [out_c - 8, out_c); fewer than 8 channels: one
  // zero-padded tile (4 wide up to 4 channels). Tiles past out_c, or blocks of fewer than 8 pixels, go through tmp.
  template <bool PACKED>
  __attribute__((always_inline)) void block(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n,
                                           const ep::neon::Steps &steps, int8_t *out) const {
    const int32_t out_c = p->out_c;
    if (n == EP_NEON_GEMM_PIXELS && out_c >= 8) {  // every tile whole
      const int8_t *w = p->filter;
      const int32_t *rq = p->rq;
      sdot_tiles<F, E, PACKED>(rows, w, rq, steps, consts, out, out_c, out_c / 8);
      const int32_t r = out_c % 8;
      if (r > 4)
        sdot_tiles<F, E, PACKED>(rows, w, rq, steps, consts, out + out_c - 8, out_c, 1);
      else if (r > 0)
        sdot_tile4<F, E, PACKED>(rows, w, rq, steps, consts, out + out_c - 4, out_c);
      return;
    }
    partial_block<PACKED>(rows, n, steps, out);
  }

  // ep::neon::TileRuns: a run of whole blocks when every tile is a whole 8-channel one; packed (x_step 16): all in
  // one asm loop.
  bool run(const int8_t *window, size_t x_step, int32_t blocks, const ep::neon::Steps &steps, int8_t *out) const {
    if (p->out_c % 8 != 0 || blocks <= 0) return false;
    if (x_step == 16)
      sdot_run<F, E>(window, blocks, p->filter, p->rq, steps, consts, out, p->out_c, p->out_c / 8);
    else
      sdot_rows_run<F, E>(window, (intptr_t)x_step, blocks, p->filter, p->rq, steps, consts, out, p->out_c,
                          p->out_c / 8);
    return true;
  }

  template <bool PACKED>
  __attribute__((noinline)) void partial_block(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n,
                                               const ep::neon::Steps &steps, int8_t *out) const {
    const int32_t out_c = p->out_c;
    const int8_t *w = p->filter;
    const int32_t *rq = p->rq;
    const bool rows8 = n == EP_NEON_GEMM_PIXELS;
    int8_t tmp[EP_NEON_GEMM_PIXELS * 8];
    int32_t oc = 0;
    if (out_c >= 8) {
      if (rows8) {
        sdot_tiles<F, E, PACKED>(rows, w, rq, steps, consts, out, out_c, out_c / 8);
        oc = out_c / 8 * 8;
      } else {
        for (; oc + 8 <= out_c; oc += 8) {
          sdot_tiles<F, E, PACKED>(rows, w, rq, steps, consts, tmp, 8, 1);
          copy_out(tmp, 8, n, out + oc, 8);
        }
      }
    }
    const int32_t r = out_c - oc;
    if (r == 0) return;
    const int32_t width = r > 4 ? 8 : 4;
    const int32_t start = out_c >= width ? out_c - width : 0;
    const bool whole = rows8 && start + width <= out_c;
    int8_t *dst = whole ? out + start : tmp;
    const intptr_t ostride = whole ? out_c : width;
    if (width == 8)
      sdot_tiles<F, E, PACKED>(rows, w, rq, steps, consts, dst, ostride, 1);
    else
      sdot_tile4<F, E, PACKED>(rows, w, rq, steps, consts, dst, ostride);
    if (!whole) copy_out(tmp, width, n, out + start, out_c - start < width ? out_c - start : width);
  }

  // n rows of `count` channels from tmp (rows `width` bytes apart) to the output.
  void copy_out(const int8_t *tmp, int32_t width, int32_t n, int8_t *dst, int32_t count) const {
    for (int32_t i = 0; i < n; ++i)
      for (int32_t o = 0; o < count; ++o) dst[(size_t)i * p->out_c + o] = tmp[width * i + o];
  }

  __attribute__((always_inline)) void operator()(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n,
                                                const ep::neon::Steps &steps, int8_t *out, bool packed) const {
    if (packed)
      block<true>(rows, n, steps, out);
    else
      block<false>(rows, n, steps, out);
  }
};

// The requantization variant: with no rounding fixup (EPI_RELU*) only the left shift matters.
template <int E>
static ep_status dispatch(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch, int8_t *output) {
  const bool relu = E == ep::neon::EPI_RELU || E == ep::neon::EPI_RELU_U8;
  const int F = (p->left_shifts ? EP_LEFT : 0) | (p->all_right ? EP_ALL_RIGHT : 0);
  if (relu) {
    if (F & EP_LEFT) return ep::neon::conv_gemm(p, input, scratch, output, SdotTile<EP_LEFT, E>(p));
    return ep::neon::conv_gemm(p, input, scratch, output, SdotTile<0, E>(p));
  }
  switch (F) {
    case EP_LEFT:
      return ep::neon::conv_gemm(p, input, scratch, output, SdotTile<EP_LEFT, E>(p));
    case EP_ALL_RIGHT:
      return ep::neon::conv_gemm(p, input, scratch, output, SdotTile<EP_ALL_RIGHT, E>(p));
    case EP_LEFT | EP_ALL_RIGHT:
      return ep::neon::conv_gemm(p, input, scratch, output, SdotTile<EP_LEFT | EP_ALL_RIGHT, E>(p));
    default:
      return ep::neon::conv_gemm(p, input, scratch, output, SdotTile<0, E>(p));
  }
}

}  // namespace
#endif

extern "C" ep_status ep_conv2d_s8_sdot(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch,
                                       int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
  return ep::neon::with_epilogue(p->output_offset, p->act_min, p->act_max,
                                 [&](auto e) { return dispatch<decltype(e)::value>(p, input, scratch, output); });
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
