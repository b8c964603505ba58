// DEPTHWISE_CONV_2D 3x3, dilation 1, depth_multiplier 1, in_c % 4 == 0, any stride and padding, Armv7E-M DSP.
// For each output row the three input rows it reads are widened once into scratch as int16 (input offset
// added, SXTAB16 order c0, c2, c1, c3; padding 0, exactly the taps the reference skips), laid out
// [channel group][column][row][2 words] so that one output pixel's nine taps of a group of four channels
// are 18 consecutive words: per tap one LDRD of inputs, one LDRD of weights and four SMLAxy.
#include "edgeprune/kernels/conv_dsp.h"

namespace {

using namespace ep::dsp;

// Nine taps of one group of four channels: x = 18 words [fx][fy][lo, hi], w = 18 words [fy][fx][lo, hi].
EP_DSP_INLINE void group9(const uint32_t *EP_RESTRICT x, const uint32_t *EP_RESTRICT w, int32_t *EP_RESTRICT acc) {
  int32_t a0 = smulbb(x[0], w[0]);
  int32_t a2 = smultt(x[0], w[0]);
  int32_t a1 = smulbb(x[1], w[1]);
  int32_t a3 = smultt(x[1], w[1]);
#define EP_DW_TAP(fy, fx)                                   \
  {                                                         \
    const uint32_t xl = x[2 * ((fx) * 3 + (fy))];           \
    const uint32_t xh = x[2 * ((fx) * 3 + (fy)) + 1];       \
    const uint32_t wl = w[2 * ((fy) * 3 + (fx))];           \
    const uint32_t wh = w[2 * ((fy) * 3 + (fx)) + 1];       \
    a0 = smlabb(xl, wl, a0);                                \
    a2 = smlatt(xl, wl, a2);                                \
    a1 = smlabb(xh, wh, a1);                                \
    a3 = smlatt(xh, wh, a3);                                \
  }
  EP_DW_TAP(1, 0)
  EP_DW_TAP(2, 0)
  EP_DW_TAP(0, 1)
  EP_DW_TAP(1, 1)
  EP_DW_TAP(2, 1)
  EP_DW_TAP(0, 2)
  EP_DW_TAP(1, 2)
  EP_DW_TAP(2, 2)
#undef EP_DW_TAP
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

}  // namespace

extern "C" EP_DSP_HOT ep_status ep_depthwise_conv2d_3x3_s8_dsp(const ep_depthwise_conv2d_s8_dsp_params *p,
                                                               const int8_t *input, const int16_t *filter,
                                                               void *scratch, int8_t *output) {
  if (p->filter_h != 3 || p->filter_w != 3 || p->dilation_h != 1 || p->dilation_w != 1 || p->stride_h <= 0 ||
      p->stride_w <= 0 || p->depth_multiplier != 1 || p->out_c != p->in_c || p->in_c % 4 != 0)
    return EP_ERROR_ARGUMENT;
  const int32_t in_h = p->in_h, in_w = p->in_w, c_all = p->in_c, out_h = p->out_h, out_w = p->out_w;
  const int32_t sh = p->stride_h, sw = p->stride_w, pad_h = p->pad_h, pad_w = p->pad_w;
  const int32_t groups = c_all / 4, cols = (out_w - 1) * sw + 3;
  uint32_t *rows = (uint32_t *)scratch;  // [cols][3][2] words: one group of four channels
  const ep::dsp::RequantRun rq(p->requant, p->all_right, p->output_offset, p->act_min, p->act_max);
  const uint32_t *wbase = (const uint32_t *)(const void *)filter;
  const uint32_t off2 = ep::dsp::dup16(p->input_offset);
  const size_t in_row = (size_t)in_w * c_all, in_image = (size_t)in_h * in_row, out_row = (size_t)out_w * c_all;
  // Columns of the row buffer that lie inside the input: [x_begin, x_end).
  const int32_t x_begin = pad_w < cols ? pad_w : cols;
  const int32_t x_end = in_w + pad_w < cols ? in_w + pad_w : cols;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    for (int32_t oy = 0; oy < out_h; ++oy) {
      const int32_t iy0 = oy * sh - pad_h;
      int8_t *out_r = output + ((size_t)b * out_h + oy) * out_row;
      for (int32_t g = 0; g < groups; ++g) {
        for (int32_t fy = 0; fy < 3; ++fy) {
          const int32_t iy = iy0 + fy;
          uint32_t *dst = rows + fy * 2;
          if (iy < 0 || iy >= in_h) {
            for (int32_t x = 0; x < cols; ++x, dst += 6) dst[0] = dst[1] = 0;
            continue;
          }
          int32_t x = 0;
          for (; x < x_begin; ++x, dst += 6) dst[0] = dst[1] = 0;
          const int8_t *src = in_b + (size_t)iy * in_row + (size_t)(x - pad_w) * c_all + 4 * g;
          for (; x < x_end; ++x, dst += 6, src += c_all) {
            const uint32_t v = ep::dsp::load32(src);
            dst[0] = ep::dsp::sxtab16(off2, v);
            dst[1] = ep::dsp::sxtab16_ror8(off2, v);
          }
          for (; x < cols; ++x, dst += 6) dst[0] = dst[1] = 0;
        }
        const uint32_t *w = wbase + 18 * g;
        const uint32_t *x = rows;
        int8_t *out = out_r + 4 * g;
        for (int32_t ox = 0; ox < out_w; ++ox, x += 6 * sw, out += c_all) {
          int32_t acc[4];
          group9(x, w, acc);
          rq(acc, 4 * g, 4, out);
        }
      }
    }
  }
  return EP_OK;
}
