// CONV_2D, int8, Armv7E-M DSP: im2col of two output pixels into int16 columns (input offset added,
// padding taps 0) and a 2-channel x 2-pixel SMLAD GEMM against pre-sign-extended int16 weights.
#include "edgeprune/kernels/conv_dsp.h"

namespace {

// Position of element j (0..3) of a group of 4 in the SXTAB16 order k0, k2, k1, k3.
inline int32_t slot_in_group(int32_t j) { return ((j & 1) << 1) | (j >> 1); }

}  // namespace

extern "C" EP_DSP_HOT ep_status ep_conv2d_s8_dsp(const ep_conv2d_s8_dsp_params *p, const int8_t *input,
                                                 const int16_t *filter, const int32_t *bias, void *scratch,
                                                 int8_t *output) {
  const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
  const int32_t fh = p->filter_h, fw = p->filter_w;
  const int32_t k = fh * fw * in_c;
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || in_c <= 0 ||
      p->k_padded < k || p->k_padded % 4 != 0 || p->k_padded - k >= 4)
    return EP_ERROR_ARGUMENT;
  const int32_t out_w = p->out_w, pixels = p->out_h * out_w;
  const int32_t sh = p->stride_h, sw = p->stride_w, dh = p->dilation_h, dw = p->dilation_w;
  const int32_t pad_h = p->pad_h, pad_w = p->pad_w, k_padded = p->k_padded;
  const int32_t offset = p->input_offset;
  const uint32_t off2 = ep::dsp::dup16(offset);
  const bool fast = in_c % 4 == 0;
  uint32_t *cols = (uint32_t *)scratch;
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
        return;
      }
      int16_t *dst = (int16_t *)(void *)col;  // element e of group g lives at dst[8 * g + slot_in_group(e)]
      int32_t e = 0;
      for (int32_t fy = 0; fy < fh; ++fy) {
        const int32_t iy = iy0 + fy * dh;
        const bool row_ok = iy >= 0 && iy < in_h;
        const int8_t *row = in_b + (size_t)(row_ok ? iy : 0) * in_w * in_c;
        for (int32_t fx = 0; fx < fw; ++fx) {
          const int32_t ix = ix0 + fx * dw;
          const bool ok = row_ok && ix >= 0 && ix < in_w;
          const int8_t *src = row + (size_t)(ok ? ix : 0) * in_c;
          for (int32_t ic = 0; ic < in_c; ++ic, ++e)
            dst[8 * (e >> 2) + slot_in_group(e & 3)] = (int16_t)(ok ? (int32_t)src[ic] + offset : 0);
        }
      }
      for (; e < k_padded; ++e) dst[8 * (e >> 2) + slot_in_group(e & 3)] = 0;
    };
    ep::dsp::conv_gemm(p, filter, bias, cols, output + (size_t)b * out_image, pixels, im2col);
  }
  return EP_OK;
}
