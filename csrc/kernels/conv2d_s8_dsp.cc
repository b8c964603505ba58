// CONV_2D, int8, Armv7E-M DSP: im2col of two output pixels into int16 columns (input offset added,
// padding taps 0) and a 2-channel x 2-pixel SMLAD GEMM against pre-sign-extended int16 weights.
#include "edgeprune/kernels/conv_dsp.h"

extern "C" EP_DSP_HOT ep_status ep_conv2d_s8_dsp(const ep_conv2d_s8_dsp_params *p, const int8_t *input,
                                                 const int16_t *filter, void *scratch,
                                                 int8_t *output) {
  const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
  const int32_t fh = p->filter_h, fw = p->filter_w;
  const int32_t k = fh * fw * in_c;
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || in_c <= 0 ||
      p->k_padded < k || p->k_padded % 8 != 0 || p->k_padded - k >= 8)
    return EP_ERROR_ARGUMENT;
  const int32_t out_w = p->out_w, pixels = p->out_h * out_w;
  const int32_t sh = p->stride_h, sw = p->stride_w, dh = p->dilation_h, dw = p->dilation_w;
  const int32_t pad_h = p->pad_h, pad_w = p->pad_w, k_padded = p->k_padded;
  const int32_t offset = p->input_offset;
  const uint32_t off2 = ep::dsp::dup16(offset);
  const bool fast = in_c % 4 == 0;
  const ep::dsp::ConvScratch s = ep::dsp::conv_scratch(scratch, p->out_c, p->k_padded);
  const ep::dsp::RequantRun rq(p->requant, p->all_right, p->output_offset, p->act_min, p->act_max);
  const size_t in_image = (size_t)in_h * in_w * in_c;
  const size_t out_image = (size_t)pixels * p->out_c;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    auto im2col = [&](int32_t px, uint32_t *col) {
      const int32_t oy = px / out_w, ox = px - oy * out_w;
      const int32_t iy0 = oy * sh - pad_h, ix0 = ox * sw - pad_w;
      if (fast) {
        uint32_t *dst = col;
        const int32_t tap_words = in_c;  // in_c / 4 groups of 4 words (two columns interleaved)
        for (int32_t fy = 0; fy < fh; ++fy) {
          const int32_t iy = iy0 + fy * dh;
          const bool row_ok = iy >= 0 && iy < in_h;
          const int8_t *row = in_b + (size_t)(row_ok ? iy : 0) * in_w * in_c;
          for (int32_t fx = 0; fx < fw; ++fx) {
            const int32_t ix = ix0 + fx * dw;
            if (row_ok && ix >= 0 && ix < in_w)
              ep::dsp::widen_block(row + (size_t)ix * in_c, in_c, off2, dst);
            else
              ep::dsp::zero_block(in_c, dst);
            dst += tap_words;
          }
        }
        ep::dsp::zero_block(k_padded - k, dst);
        return;
      }
      // in_c % 4 != 0: gather the int8 column in natural K order, padding taps (and the K tail) set to
      // the input zero point so they become exactly 0 once widened with the offset, then widen it.
      int8_t *gather = s.gather;
      const int8_t zp = (int8_t)(-offset);
      int8_t *g = gather;
      const int32_t run = fw * in_c;
      for (int32_t fy = 0; fy < fh; ++fy) {
        const int32_t iy = iy0 + fy * dh;
        if (iy < 0 || iy >= in_h) {
          for (int32_t i = 0; i < run; ++i) g[i] = zp;
          g += run;
          continue;
        }
        const int8_t *row = in_b + (size_t)iy * in_w * in_c;
        if (dw == 1 && ix0 >= 0 && ix0 + fw <= in_w) {
          const int8_t *src = row + (size_t)ix0 * in_c;
          for (int32_t i = 0; i < run; ++i) g[i] = src[i];
          g += run;
          continue;
        }
        for (int32_t fx = 0; fx < fw; ++fx) {
          const int32_t ix = ix0 + fx * dw;
          if (ix >= 0 && ix < in_w) {
            const int8_t *src = row + (size_t)ix * in_c;
            for (int32_t ic = 0; ic < in_c; ++ic) g[ic] = src[ic];
          } else {
            for (int32_t ic = 0; ic < in_c; ++ic) g[ic] = zp;
          }
          g += in_c;
        }
      }
      for (int32_t e = k; e < k_padded; ++e) gather[e] = zp;
      ep::dsp::widen_block(gather, k_padded, off2, col);
    };
    ep::dsp::conv_gemm(p, filter, rq, s, output + (size_t)b * out_image, pixels, im2col);
  }
  return EP_OK;
}
