// DEPTHWISE_CONV_2D (depth multiplier 1) on Helium: 16 channels per step, widened to int16 lanes, even and
// odd channels multiplied into int32 accumulators by VMULLB / VMULLT. Pixels whose taps are all inside the
// input start from the folded bias (bias + input_offset * sum(filter)) and skip the offset; border pixels
// add the offset to the valid taps and start from the raw bias. Bit-exact with ep_depthwise_conv2d_s8.
#include "edgeprune/kernels/conv.h"
#include "edgeprune/kernels/conv_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
namespace {

struct Taps {
  int32_t rows, cols;          // valid taps
  int32_t x_row, x_col;        // input steps between taps (bytes)
  int32_t w_row, w_col;        // filter steps between taps (bytes)
};

inline mve_pred16_t lanes16(int32_t n) { return vctp16q((uint32_t)(n < 0 ? 0 : n)); }

// Channels [c0, c0 + n) (n <= 16; n == 16 unless kTail) of one output pixel.
template <bool kBorder, bool kTail>
void dw_block(const Taps &t, const int8_t *x_base, const int8_t *w_base, int32_t n, int16_t offset,
              const int32_t *rq, int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out) {
  mve_pred16_t p0 = 0xffff, p1 = 0xffff;
  if (kTail) {
    p0 = lanes16(n);
    p1 = lanes16(n - 8);
  }
  const int32_t *rq1 = rq + 8 * EP_MVE_DW_RQ_FIELDS;  // channels c0 + 8 .. c0 + 15
  const int32_t bias_field = kBorder ? 32 : 0;
  int32x4_t ae0 = vldrwq_s32(rq + bias_field), ao0 = vldrwq_s32(rq + bias_field + 4);
  int32x4_t ae1 = vldrwq_s32(rq1 + bias_field), ao1 = vldrwq_s32(rq1 + bias_field + 4);
  // Locals, not the struct: the asm blocks' memory clobber would force reloads every tap.
  const int32_t rows = t.rows, cols = t.cols, x_row = t.x_row, x_col = t.x_col, w_row = t.w_row, w_col = t.w_col;
  const int8_t *xr = x_base, *wr = w_base;
  for (int32_t fy = 0; fy < rows; ++fy, xr += x_row, wr += w_row) {
    const int8_t *xp = xr, *wp = wr;
    for (int32_t fx = 0; fx < cols; ++fx, xp += x_col, wp += w_col) {
      if (!kTail) {
        // Scheduled by hand: the compiler hoists all four loads and spills an accumulator; in this order
        // 7 vector registers are live (4 accumulators, input, filter, product).
        int16x8_t x, f;
        int32x4_t prod;
        if (kBorder) {
          __asm__("vldrb.s16 %q[x], [%[xp]]\n\t"
                  "vldrb.s16 %q[f], [%[wp]]\n\t"
                  "vadd.i16 %q[x], %q[x], %[off]\n\t"
                  "vmullb.s16 %q[t], %q[x], %q[f]\n\t"
                  "vadd.i32 %q[ae0], %q[ae0], %q[t]\n\t"
                  "vmullt.s16 %q[t], %q[x], %q[f]\n\t"
                  "vadd.i32 %q[ao0], %q[ao0], %q[t]\n\t"
                  "vldrb.s16 %q[x], [%[xp], #8]\n\t"
                  "vldrb.s16 %q[f], [%[wp], #8]\n\t"
                  "vadd.i16 %q[x], %q[x], %[off]\n\t"
                  "vmullb.s16 %q[t], %q[x], %q[f]\n\t"
                  "vadd.i32 %q[ae1], %q[ae1], %q[t]\n\t"
                  "vmullt.s16 %q[t], %q[x], %q[f]\n\t"
                  "vadd.i32 %q[ao1], %q[ao1], %q[t]"
                  : [ae0] "+w"(ae0), [ao0] "+w"(ao0), [ae1] "+w"(ae1), [ao1] "+w"(ao1), [x] "=&w"(x),
                    [f] "=&w"(f), [t] "=&w"(prod)
                  : [xp] "l"(xp), [wp] "l"(wp), [off] "r"((int32_t)offset)
                  : "memory");
        } else {
          __asm__("vldrb.s16 %q[x], [%[xp]]\n\t"
                  "vldrb.s16 %q[f], [%[wp]]\n\t"
                  "vmullb.s16 %q[t], %q[x], %q[f]\n\t"
                  "vadd.i32 %q[ae0], %q[ae0], %q[t]\n\t"
                  "vmullt.s16 %q[t], %q[x], %q[f]\n\t"
                  "vadd.i32 %q[ao0], %q[ao0], %q[t]\n\t"
                  "vldrb.s16 %q[x], [%[xp], #8]\n\t"
                  "vldrb.s16 %q[f], [%[wp], #8]\n\t"
                  "vmullb.s16 %q[t], %q[x], %q[f]\n\t"
                  "vadd.i32 %q[ae1], %q[ae1], %q[t]\n\t"
                  "vmullt.s16 %q[t], %q[x], %q[f]\n\t"
                  "vadd.i32 %q[ao1], %q[ao1], %q[t]"
                  : [ae0] "+w"(ae0), [ao0] "+w"(ao0), [ae1] "+w"(ae1), [ao1] "+w"(ao1), [x] "=&w"(x),
                    [f] "=&w"(f), [t] "=&w"(prod)
                  : [xp] "l"(xp), [wp] "l"(wp)
                  : "memory");
        }
        continue;
      }
      int16x8_t x = vldrbq_z_s16(xp, p0);
      int16x8_t f = vldrbq_z_s16(wp, p0);
      if (kBorder) x = vaddq_n_s16(x, offset);
      ae0 = vaddq_s32(ae0, vmullbq_int_s16(x, f));
      ao0 = vaddq_s32(ao0, vmulltq_int_s16(x, f));
      x = vldrbq_z_s16(xp + 8, p1);
      f = vldrbq_z_s16(wp + 8, p1);
      if (kBorder) x = vaddq_n_s16(x, offset);
      ae1 = vaddq_s32(ae1, vmullbq_int_s16(x, f));
      ao1 = vaddq_s32(ao1, vmulltq_int_s16(x, f));
    }
  }
  // The clamp bounds are materialized only now: the tap loop needs every vector register.
  const int32x4_t lo = vdupq_n_s32(act_min), hi = vdupq_n_s32(act_max);
  ae0 = ep::mve::requantize(ae0, vldrwq_s32(rq + 8), vldrwq_s32(rq + 16), vldrwq_s32(rq + 24), output_offset,
                            lo, hi);
  ao0 = ep::mve::requantize(ao0, vldrwq_s32(rq + 12), vldrwq_s32(rq + 20), vldrwq_s32(rq + 28), output_offset,
                            lo, hi);
  int16x8_t r0 = vmovntq_s32(vmovnbq_s32(vdupq_n_s16(0), ae0), ao0);
  if (kTail) {
    vstrbq_p_s16(out, r0, p0);
  } else {
    vstrbq_s16(out, r0);
  }
  if (kTail && n <= 8) return;
  ae1 = ep::mve::requantize(ae1, vldrwq_s32(rq1 + 8), vldrwq_s32(rq1 + 16), vldrwq_s32(rq1 + 24), output_offset,
                            lo, hi);
  ao1 = ep::mve::requantize(ao1, vldrwq_s32(rq1 + 12), vldrwq_s32(rq1 + 20), vldrwq_s32(rq1 + 28),
                            output_offset, lo, hi);
  int16x8_t r1 = vmovntq_s32(vmovnbq_s32(vdupq_n_s16(0), ae1), ao1);
  if (kTail) {
    vstrbq_p_s16(out + 8, r1, p1);
  } else {
    vstrbq_s16(out + 8, r1);
  }
}

template <bool kBorder>
void dw_pixel(const Taps &t, const int8_t *x_base, const int8_t *w_base, int32_t channels, int16_t offset,
              const int32_t *rq, int32_t output_offset, int32_t act_min, int32_t act_max, int8_t *out) {
  int32_t c = 0;
  for (; c + 16 <= channels; c += 16, rq += 16 * EP_MVE_DW_RQ_FIELDS)
    dw_block<kBorder, false>(t, x_base + c, w_base + c, 16, offset, rq, output_offset, act_min, act_max, out + c);
  if (c < channels)
    dw_block<kBorder, true>(t, x_base + c, w_base + c, channels - c, offset, rq, output_offset, act_min, act_max, out + c);
}

}  // namespace
#endif

extern "C" ep_status ep_depthwise_conv2d_s8_mve(const ep_depthwise_conv2d_s8_mve_params *p, const int8_t *input,
                                                const int8_t *filter, int8_t *output) {
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || p->in_c <= 0 ||
      p->out_c != p->in_c)
    return EP_ERROR_ARGUMENT;
  const int32_t in_h = p->in_h, in_w = p->in_w, C = p->in_c;
  const int32_t fh = p->filter_h, fw = p->filter_w;
  const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
  const int32_t in_row = in_w * C;
  const int16_t offset = (int16_t)p->input_offset;
  const int32_t lo = p->act_min, hi = p->act_max;
  Taps t;
  t.x_row = dil_h * in_row;
  t.x_col = dil_w * C;
  t.w_row = fw * C;
  t.w_col = C;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + b * in_h * in_row;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      int32_t fy_begin, fy_end;
      ep::conv::valid_taps(iy0, dil_h, fh, in_h, &fy_begin, &fy_end);
      t.rows = fy_end - fy_begin;
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        int32_t fx_begin, fx_end;
        ep::conv::valid_taps(ix0, dil_w, fw, in_w, &fx_begin, &fx_end);
        t.cols = fx_end - fx_begin;
        if (t.rows > 0 && t.cols > 0) {
          const int8_t *x_base = in_b + (iy0 + dil_h * fy_begin) * in_row + (ix0 + dil_w * fx_begin) * C;
          const int8_t *w_base = filter + fy_begin * t.w_row + fx_begin * C;
          if (t.rows == fh && t.cols == fw)
            dw_pixel<false>(t, x_base, w_base, C, offset, p->rq, p->output_offset, lo, hi, output);
          else
            dw_pixel<true>(t, x_base, w_base, C, offset, p->rq, p->output_offset, lo, hi, output);
        } else {
          dw_pixel<true>(t, in_b, filter, C, offset, p->rq, p->output_offset, lo, hi, output);
        }
        output += C;
      }
    }
  }
  return EP_OK;
#else
  (void)p;
  (void)input;
  (void)filter;
  (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
