// DEPTHWISE_CONV_2D 3x3, dilation 1, depth_multiplier 1, in_c % 4 == 0, Armv7E-M DSP: pixels whose nine
// taps are all inside the input run a fully unrolled loop (one LDR + two SXTAB16 + one LDRD + four
// SMLABB/SMLATT per tap and four channels); border pixels take the generic per-pixel path.
#include "edgeprune/kernels/conv_dsp.h"

namespace {

EP_DSP_INLINE void tap(const int8_t *x, const uint32_t *w, uint32_t off2, int32_t &a0, int32_t &a1, int32_t &a2,
                       int32_t &a3) {
  const uint32_t v = ep::dsp::load32(x);
  const uint32_t lo = ep::dsp::sxtab16(off2, v), hi = ep::dsp::sxtab16_ror8(off2, v);
  const uint32_t w0 = w[0], w1 = w[1];
  a0 = ep::dsp::smlabb(lo, w0, a0);
  a2 = ep::dsp::smlatt(lo, w0, a2);
  a1 = ep::dsp::smlabb(hi, w1, a1);
  a3 = ep::dsp::smlatt(hi, w1, a3);
}

}  // namespace

extern "C" EP_DSP_HOT ep_status ep_depthwise_conv2d_3x3_s8_dsp(const ep_depthwise_conv2d_s8_dsp_params *p,
                                                               const int8_t *input, const int16_t *filter,
                                                               const int32_t *bias, void *scratch,
                                                               int8_t *output) {
  if (p->filter_h != 3 || p->filter_w != 3 || p->dilation_h != 1 || p->dilation_w != 1 || p->stride_h <= 0 ||
      p->stride_w <= 0 || p->depth_multiplier != 1 || p->out_c != p->in_c || p->in_c % 4 != 0)
    return EP_ERROR_ARGUMENT;
  ep::dsp::Requant *rq = (ep::dsp::Requant *)scratch;
  ep::dsp::requant_table(p->out_multiplier, p->out_shift, p->out_c, rq);
  const uint32_t *wbase = (const uint32_t *)(const void *)filter;
  const int32_t in_h = p->in_h, in_w = p->in_w, c_all = p->in_c, out_h = p->out_h, out_w = p->out_w;
  const int32_t sh = p->stride_h, sw = p->stride_w, pad_h = p->pad_h, pad_w = p->pad_w;
  const uint32_t off2 = ep::dsp::dup16(p->input_offset);
  const int32_t off = p->output_offset, act_min = p->act_min, act_max = p->act_max;
  const size_t in_row = (size_t)in_w * c_all, in_image = (size_t)in_h * in_row;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    for (int32_t oy = 0; oy < out_h; ++oy) {
      const int32_t iy0 = oy * sh - pad_h;
      const bool rows_in = iy0 >= 0 && iy0 + 2 < in_h;
      for (int32_t ox = 0; ox < out_w; ++ox, output += c_all) {
        const int32_t ix0 = ox * sw - pad_w;
        if (!rows_in || ix0 < 0 || ix0 + 2 >= in_w) {
          ep::dsp::depthwise_pixel(p, in_b, wbase, bias, rq, oy, ox, output);
          continue;
        }
        const int8_t *r0 = in_b + (size_t)iy0 * in_row + (size_t)ix0 * c_all;
        const int8_t *r1 = r0 + in_row, *r2 = r1 + in_row;
        const uint32_t *w = wbase;
        for (int32_t c = 0; c < c_all; c += 4, w += 18) {
          int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
          if (bias) {
            a0 = bias[c];
            a1 = bias[c + 1];
            a2 = bias[c + 2];
            a3 = bias[c + 3];
          }
          tap(r0 + c, w + 0, off2, a0, a1, a2, a3);
          tap(r0 + c_all + c, w + 2, off2, a0, a1, a2, a3);
          tap(r0 + 2 * c_all + c, w + 4, off2, a0, a1, a2, a3);
          tap(r1 + c, w + 6, off2, a0, a1, a2, a3);
          tap(r1 + c_all + c, w + 8, off2, a0, a1, a2, a3);
          tap(r1 + 2 * c_all + c, w + 10, off2, a0, a1, a2, a3);
          tap(r2 + c, w + 12, off2, a0, a1, a2, a3);
          tap(r2 + c_all + c, w + 14, off2, a0, a1, a2, a3);
          tap(r2 + 2 * c_all + c, w + 16, off2, a0, a1, a2, a3);
          output[c] = ep::dsp::finish(a0, rq[c], off, act_min, act_max);
          output[c + 1] = ep::dsp::finish(a1, rq[c + 1], off, act_min, act_max);
          output[c + 2] = ep::dsp::finish(a2, rq[c + 2], off, act_min, act_max);
          output[c + 3] = ep::dsp::finish(a3, rq[c + 3], off, act_min, act_max);
        }
      }
    }
  }
  return EP_OK;
}
