// CONV_2D on Helium, any geometry: two pixels at a time through the GEMM, their filter windows read in place
// when inside the input (and whole vectors per filter row), else copied by im2col (padded taps filled with the
// input zero point, so with the input offset folded into the bias they contribute exactly 0).
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
  const int32_t in_c = p->in_c, fh = p->filter_h, fw = p->filter_w, dil_h = p->dilation_h;
  const int32_t K = fh * fw * in_c;
  const int32_t row = (K + 15) & ~15;
  const int32_t out_c = p->out_c, out_w = p->out_w;
  const int32_t in_row = p->in_w * in_c;
  // With whole 16-byte vectors per filter row (dilation_w 1), windows that lie inside the input are read in
  // place, one segment per filter row; only the border pixels go through im2col.
  const int32_t f_row = fw * in_c;
  const bool in_place = p->dilation_w == 1 && (f_row & 15) == 0;
  const int32_t segs = in_place ? fh : 1, buf_stride = in_place ? f_row : 0;
  const int32_t chunks = in_place ? f_row >> 4 : K >> 4, rem = in_place ? 0 : K & 15, tail_at = K & ~15;
  const int32_t span_h = (fh - 1) * dil_h + 1;
  const int8_t *packed_filter = p->filter;
  int8_t *buf0 = (int8_t *)scratch;
  int8_t *buf1 = buf0 + row;
  uintptr_t *list = (uintptr_t *)(void *)(buf1 + row);  // EP_MVE_SEGMENT_WORDS(segs)
  list[3 * segs] = 0;
  const int8x16_t zp = vdupq_n_s8((int8_t)p->input_zero_point);
  const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
  const int32_t per_batch = p->in_h * in_row;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + b * per_batch;
    // The GEMM row of output pixel (oy, ox): in place in the input, or im2col into buf.
    auto gemm_row = [&](int32_t oy, int32_t ox, int8_t *buf, int32_t *stride) -> const int8_t * {
      const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
      if (in_place && iy0 >= 0 && iy0 + span_h <= p->in_h && ix0 >= 0 && ix0 + fw <= p->in_w) {
        *stride = dil_h * in_row;
        return in_b + iy0 * in_row + ix0 * in_c;
      }
      im2col_row(p, in_b, oy, ox, zp, buf);
      *stride = buf_stride;
      return buf;
    };
    const int8_t *a0 = nullptr;
    int32_t s0 = 0;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      for (int32_t ox = 0; ox < out_w; ++ox) {
        if (!a0) {
          a0 = gemm_row(oy, ox, buf0, &s0);
          continue;
        }
        int32_t s1;
        const int8_t *a1 = gemm_row(oy, ox, buf1, &s1);
        for (int32_t i = 0; i < segs; ++i) ep::mve::set_segment(list, i, chunks, a0 + i * s0, a1 + i * s1);
        ep::mve::gemm_2rows(list, a0 + tail_at, a1 + tail_at, rem, packed_filter, out_c, p->rq, p->output_offset,
                            lo, hi, output, output + out_c);
        output += 2 * out_c;
        a0 = nullptr;
      }
    }
    if (a0) {
      for (int32_t i = 0; i < segs; ++i) ep::mve::set_segment(list, i, chunks, a0 + i * s0, a0 + i * s0);
      ep::mve::gemm_2rows(list, a0 + tail_at, a0 + tail_at, rem, packed_filter, out_c, p->rq, p->output_offset, lo,
                          hi, output, nullptr);
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
