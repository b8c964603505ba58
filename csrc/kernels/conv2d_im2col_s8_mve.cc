// CONV_2D on Helium, any geometry: two im2col rows at a time (padded taps filled with the input zero point,
// so with the input offset folded into the bias they contribute exactly 0), then the two-pixel GEMM.
// Bit-exact with ep_conv2d_s8.
#include "edgeprune/kernels/conv.h"
#include "edgeprune/kernels/conv_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
namespace {

// One im2col row: the filter window of output pixel (oy, ox) of batch in_b, in filter order (fy, fx, ic).
void im2col_row(const ep_conv2d_s8_mve_params *p, const int8_t *in_b, int32_t oy, int32_t ox, int8x16_t zp,
                int8_t *dst) {
  const int32_t in_c = p->in_c, fh = p->filter_h, fw = p->filter_w;
  const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
  const int32_t in_row = p->in_w * in_c, f_row = fw * in_c;
  const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
  int32_t fy_begin, fy_end, fx_begin, fx_end;
  ep::conv::valid_taps(iy0, dil_h, fh, p->in_h, &fy_begin, &fy_end);
  ep::conv::valid_taps(ix0, dil_w, fw, p->in_w, &fx_begin, &fx_end);
  if (fy_begin > 0) ep::mve::fill_bytes(dst, zp, fy_begin * f_row);
  dst += fy_begin * f_row;
  for (int32_t fy = fy_begin; fy < fy_end; ++fy) {
    const int8_t *src = in_b + (iy0 + dil_h * fy) * in_row + ix0 * in_c;
    if (fx_begin > 0) ep::mve::fill_bytes(dst, zp, fx_begin * in_c);
    if (dil_w == 1) {
      ep::mve::copy_bytes(dst + fx_begin * in_c, src + fx_begin * in_c, (fx_end - fx_begin) * in_c);
    } else {
      for (int32_t fx = fx_begin; fx < fx_end; ++fx)
        ep::mve::copy_bytes(dst + fx * in_c, src + fx * dil_w * in_c, in_c);
    }
    if (fx_end < fw) ep::mve::fill_bytes(dst + fx_end * in_c, zp, (fw - fx_end) * in_c);
    dst += f_row;
  }
  if (fy_end < fh) ep::mve::fill_bytes(dst, zp, (fh - fy_end) * f_row);
}

}  // namespace
#endif

extern "C" ep_status ep_conv2d_im2col_s8_mve(const ep_conv2d_s8_mve_params *p, const int8_t *input,
                                             void *scratch, int8_t *output) {
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || p->in_c <= 0 ||
      p->out_c <= 0 || p->filter_h <= 0 || p->filter_w <= 0)
    return EP_ERROR_ARGUMENT;
  const int32_t K = p->filter_h * p->filter_w * p->in_c;
  const int32_t row = (K + 15) & ~15;
  const int32_t out_c = p->out_c, out_w = p->out_w;
  int8_t *buf0 = (int8_t *)scratch;
  int8_t *buf1 = buf0 + row;
  const int8x16_t zp = vdupq_n_s8((int8_t)p->input_zero_point);
  const int8_t *packed_filter = p->filter;
  const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
  const int32_t per_batch = p->in_h * p->in_w * p->in_c;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + b * per_batch;
    int32_t pending = 0;  // buf0 holds a row not yet computed
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      for (int32_t ox = 0; ox < out_w; ++ox) {
        if (!pending) {
          im2col_row(p, in_b, oy, ox, zp, buf0);
          pending = 1;
          continue;
        }
        im2col_row(p, in_b, oy, ox, zp, buf1);
        ep::mve::gemm_2rows(buf0, buf1, packed_filter, K, out_c, p->rq, p->output_offset, lo, hi, output,
                            output + out_c);
        output += 2 * out_c;
        pending = 0;
      }
    }
    if (pending) {
      ep::mve::gemm_2rows(buf0, buf0, packed_filter, K, out_c, p->rq, p->output_offset, lo, hi, output, nullptr);
      output += out_c;
    }
  }
  return EP_OK;
#else
  (void)p;
  (void)input;
  (void)scratch;
  (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
