/* AArch32 NEON (armv7-a) equivalents of the AArch64-only intrinsics the NEON kernels use (the *_high forms and the
 * four-register loads), so the intrinsic kernels (depthwise, ADD, AVERAGE_POOL_2D) build unchanged for the
 * rpi4-armv7 target. Each is the same lane-wise operation on the high half (or four single loads): the results are
 * identical. Include after <arm_neon.h>, on AArch32 only (the names are macros onto ep_neon32_* functions, so a
 * compiler that has some of them natively still takes these). */
#ifndef EDGEPRUNE_DETAIL_NEON32_COMPAT_H
#define EDGEPRUNE_DETAIL_NEON32_COMPAT_H

#if defined(__ARM_NEON) && !defined(__aarch64__)
#include <arm_neon.h>

static inline int16x8_t ep_neon32_vmull_high_s8(int8x16_t a, int8x16_t b) {
  return vmull_s8(vget_high_s8(a), vget_high_s8(b));
}
static inline int16x8_t ep_neon32_vmlal_high_s8(int16x8_t acc, int8x16_t a, int8x16_t b) {
  return vmlal_s8(acc, vget_high_s8(a), vget_high_s8(b));
}
static inline int32x4_t ep_neon32_vaddw_high_s16(int32x4_t a, int16x8_t b) { return vaddw_s16(a, vget_high_s16(b)); }
static inline int16x8_t ep_neon32_vaddw_high_s8(int16x8_t a, int8x16_t b) { return vaddw_s8(a, vget_high_s8(b)); }
static inline int32x4_t ep_neon32_vmovl_high_s16(int16x8_t a) { return vmovl_s16(vget_high_s16(a)); }
static inline int16x8_t ep_neon32_vqmovn_high_s32(int16x4_t lo, int32x4_t b) { return vcombine_s16(lo, vqmovn_s32(b)); }
static inline int8x16_t ep_neon32_vqmovn_high_s16(int8x8_t lo, int16x8_t b) { return vcombine_s8(lo, vqmovn_s16(b)); }
static inline int32x4x4_t ep_neon32_vld1q_s32_x4(const int32_t *p) {
  int32x4x4_t v;
  v.val[0] = vld1q_s32(p), v.val[1] = vld1q_s32(p + 4), v.val[2] = vld1q_s32(p + 8), v.val[3] = vld1q_s32(p + 12);
  return v;
}
static inline int8x16x4_t ep_neon32_vld1q_s8_x4(const int8_t *p) {
  int8x16x4_t v;
  v.val[0] = vld1q_s8(p), v.val[1] = vld1q_s8(p + 16), v.val[2] = vld1q_s8(p + 32), v.val[3] = vld1q_s8(p + 48);
  return v;
}

#define vmull_high_s8 ep_neon32_vmull_high_s8
#define vmlal_high_s8 ep_neon32_vmlal_high_s8
#define vaddw_high_s16 ep_neon32_vaddw_high_s16
#define vaddw_high_s8 ep_neon32_vaddw_high_s8
#define vmovl_high_s16 ep_neon32_vmovl_high_s16
#define vqmovn_high_s32 ep_neon32_vqmovn_high_s32
#define vqmovn_high_s16 ep_neon32_vqmovn_high_s16
#define vld1q_s32_x4 ep_neon32_vld1q_s32_x4
#define vld1q_s8_x4 ep_neon32_vld1q_s8_x4
#define vshll_high_n_s16(a, n) vshll_n_s16(vget_high_s16(a), (n))
#endif

#endif
