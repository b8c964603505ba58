// CONV_2D on Armv8.2-A with the dot-product extension (Cortex-A76, Raspberry Pi 5): a GEMM tile of 8 output
// pixels by 8 output channels, SDOT by element (16 MACs per instruction). Bit-exact with ep_conv2d_s8.
#include "edgeprune/detail/neon_gemm.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
namespace {

// Requantization of an 8-channel tile, two pixels at a time (16 int8 lanes for the offset, the narrowing and the
// clamp).
struct Requant {
  int32x4_t m0, m1, l0, l1, s0, s1;
  int16x8_t offset;
  int8x8_t lo, hi;

  template <int F>
  inline int16x8_t half(int32x4_t a, int32x4_t b) const {
    if (F & EP_LEFT) a = vshlq_s32(a, l0), b = vshlq_s32(b, l1);
    a = ep::neon::round_shift<(F & EP_ALL_RIGHT) != 0>(vqrdmulhq_s32(a, m0), s0);
    b = ep::neon::round_shift<(F & EP_ALL_RIGHT) != 0>(vqrdmulhq_s32(b, m1), s1);
    return vqaddq_s16(vqmovn_high_s32(vqmovn_s32(a), b), offset);
  }

  template <int F>
  inline void store_pair(int32x4_t a0, int32x4_t a1, int32x4_t b0, int32x4_t b1, int8_t *da, int8_t *db) const {
    const int8x16_t y = vqmovn_high_s16(vqmovn_s16(half<F>(a0, a1)), half<F>(b0, b1));
    const int8x16_t c = vminq_s8(vmaxq_s8(y, vcombine_s8(lo, lo)), vcombine_s8(hi, hi));
    vst1_s8(da, vget_low_s8(c));
    vst1q_lane_s64((int64_t *)(void *)db, vreinterpretq_s64_s8(c), 1);
  }
};

template <int F>
struct SdotTile {
  const ep_conv2d_s8_neon_params *p;

  void operator()(const int8_t *const rows[EP_NEON_GEMM_PIXELS], int32_t n, const ep::neon::Steps &steps,
                  int8_t *out) const {
    const int32_t out_c = p->out_c;
    const int16x8_t offset = vdupq_n_s16((int16_t)p->output_offset);
    const int8x8_t lo = vdup_n_s8((int8_t)p->act_min), hi = vdup_n_s8((int8_t)p->act_max);
    const int8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    const int8_t *r4 = rows[4], *r5 = rows[5], *r6 = rows[6], *r7 = rows[7];
    const int8_t *w = p->filter;
    const int32_t *rq = p->rq;
    const bool whole = n == EP_NEON_GEMM_PIXELS && out_c >= 8;
    for (int32_t t = 0; t < out_c; t += 8, rq += 8 * EP_NEON_RQ_FIELDS) {
      const int32_t oc = t + 8 <= out_c || out_c < 8 ? t : out_c - 8;  // the last tile overlaps the one before
      const int32x4_t b0 = vld1q_s32(rq), b1 = vld1q_s32(rq + 4);
      int32x4_t a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      int32x4_t a40 = b0, a41 = b1, a50 = b0, a51 = b1, a60 = b0, a61 = b1, a70 = b0, a71 = b1;
      for (int32_t s = 0; s < steps.count; ++s, w += 128) {
        const intptr_t k = steps.offsets[s];
        // w0..w7: k-group g = i / 2 of output channels 4 * (i % 2) + [0, 4)
        const int8x16x4_t wa = vld1q_s8_x4(w), wb = vld1q_s8_x4(w + 64);
#define EP_SDOT_PIXEL(r, a0, a1)                         \
  {                                                      \
    const int8x16_t x = vld1q_s8(r + k);                 \
    a0 = vdotq_laneq_s32(a0, wa.val[0], x, 0);           \
    a1 = vdotq_laneq_s32(a1, wa.val[1], x, 0);           \
    a0 = vdotq_laneq_s32(a0, wa.val[2], x, 1);           \
    a1 = vdotq_laneq_s32(a1, wa.val[3], x, 1);           \
    a0 = vdotq_laneq_s32(a0, wb.val[0], x, 2);           \
    a1 = vdotq_laneq_s32(a1, wb.val[1], x, 2);           \
    a0 = vdotq_laneq_s32(a0, wb.val[2], x, 3);           \
    a1 = vdotq_laneq_s32(a1, wb.val[3], x, 3);           \
  }
        EP_SDOT_PIXEL(r0, a00, a01)
        EP_SDOT_PIXEL(r1, a10, a11)
        EP_SDOT_PIXEL(r2, a20, a21)
        EP_SDOT_PIXEL(r3, a30, a31)
        EP_SDOT_PIXEL(r4, a40, a41)
        EP_SDOT_PIXEL(r5, a50, a51)
        EP_SDOT_PIXEL(r6, a60, a61)
        EP_SDOT_PIXEL(r7, a70, a71)
#undef EP_SDOT_PIXEL
      }
      const Requant r{vld1q_s32(rq + 8),  vld1q_s32(rq + 12), vld1q_s32(rq + 16), vld1q_s32(rq + 20),
                      vld1q_s32(rq + 24), vld1q_s32(rq + 28), offset, lo, hi};
      int8_t *dst = out + oc;
      const int32_t left = out_c - oc;
      if (whole) {
        r.store_pair<F>(a00, a01, a10, a11, dst, dst + out_c);
        r.store_pair<F>(a20, a21, a30, a31, dst + 2 * out_c, dst + 3 * out_c);
        r.store_pair<F>(a40, a41, a50, a51, dst + 4 * out_c, dst + 5 * out_c);
        r.store_pair<F>(a60, a61, a70, a71, dst + 6 * out_c, dst + 7 * out_c);
        continue;
      }
      int8_t tmp[EP_NEON_GEMM_PIXELS][8];
      r.store_pair<F>(a00, a01, a10, a11, tmp[0], tmp[1]);
      r.store_pair<F>(a20, a21, a30, a31, tmp[2], tmp[3]);
      r.store_pair<F>(a40, a41, a50, a51, tmp[4], tmp[5]);
      r.store_pair<F>(a60, a61, a70, a71, tmp[6], tmp[7]);
      const int32_t count = left < 8 ? left : 8;
      for (int32_t i = 0; i < n; ++i)
        for (int32_t o = 0; o < count; ++o) dst[(size_t)i * out_c + o] = tmp[i][o];
    }
  }
};

}  // namespace
#endif

extern "C" ep_status ep_conv2d_s8_sdot(const ep_conv2d_s8_neon_params *p, const int8_t *input, void *scratch,
                                       int8_t *output) {
#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
  switch ((p->left_shifts ? EP_LEFT : 0) | (p->all_right ? EP_ALL_RIGHT : 0)) {
    case EP_LEFT:
      return ep::neon::conv_gemm(p, input, scratch, output, SdotTile<EP_LEFT>{p});
    case EP_ALL_RIGHT:
      return ep::neon::conv_gemm(p, input, scratch, output, SdotTile<EP_ALL_RIGHT>{p});
    case EP_LEFT | EP_ALL_RIGHT:
      return ep::neon::conv_gemm(p, input, scratch, output, SdotTile<EP_LEFT | EP_ALL_RIGHT>{p});
    default:
      return ep::neon::conv_gemm(p, input, scratch, output, SdotTile<0>{p});
  }
#else
  (void)p, (void)input, (void)scratch, (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
