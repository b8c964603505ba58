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
                                                               const int32_t *bias, void *scratch,
                                                               int8_t *output) {
  if (p->filter_h != 3 || p->filter_w != 3 || p->dilation_h != 1 || p->dilation_w != 1 || p->stride_h <= 0 ||
      p->stride_w <= 0 || p->depth_multiplier != 1 || p->out_c != p->in_c || p->in_c % 4 != 0)
    return EP_ERROR_ARGUMENT;
  const int32_t in_h = p->in_h, in_w = p->in_w, c_all = p->in_c, out_h = p->out_h, out_w = p->out_w;
  const int32_t sh = p->stride_h, sw = p->stride_w, pad_h = p->pad_h, pad_w = p->pad_w;
  const int32_t groups = c_all / 4, cols = (out_w - 1) * sw + 3;
  ep::dsp::Requant *table = (ep::dsp::Requant *)scratch;
  int32_t *acc = (int32_t *)(void *)(table + c_all);
  uint32_t *rows = (uint32_t *)(void *)(acc + c_all);  // [groups][cols][3][2]
  const bool all_right = ep::dsp::requant_table(bias, p->out_multiplier, p->out_shift, c_all, table);
  const ep::dsp::RequantRun rq{table, p->output_offset, p->act_min, p->act_max, all_right};
  const uint32_t *wbase = (const uint32_t *)(const void *)filter;
  const uint32_t off2 = ep::dsp::dup16(p->input_offset);
  const size_t in_row = (size_t)in_w * c_all, in_image = (size_t)in_h * in_row;
  const int32_t group_stride = cols * 6;  // words
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    for (int32_t oy = 0; oy < out_h; ++oy) {
      const int32_t iy0 = oy * sh - pad_h;
      for (int32_t fy = 0; fy < 3; ++fy) {
        const int32_t iy = iy0 + fy;
        const bool row_ok = iy >= 0 && iy < in_h;
        for (int32_t x = 0; x < cols; ++x) {
          const int32_t ix = x - pad_w;
          uint32_t *dst = rows + (size_t)x * 6 + fy * 2;
          if (row_ok && ix >= 0 && ix < in_w) {
            const int8_t *src = in_b + (size_t)iy * in_row + (size_t)ix * c_all;
            for (int32_t g = 0; g < groups; ++g, dst += group_stride) {
              const uint32_t v = ep::dsp::load32(src + 4 * g);
              dst[0] = ep::dsp::sxtab16(off2, v);
              dst[1] = ep::dsp::sxtab16_ror8(off2, v);
            }
          } else {
            for (int32_t g = 0; g < groups; ++g, dst += group_stride) {
              dst[0] = 0;
              dst[1] = 0;
            }
          }
        }
      }
      for (int32_t ox = 0; ox < out_w; ++ox, output += c_all) {
        const uint32_t *x = rows + (size_t)ox * sw * 6;
        const uint32_t *w = wbase;
        for (int32_t g = 0; g < groups; ++g, x += group_stride, w += 18) group9(x, w, acc + 4 * g);
        rq(acc, 0, c_all, output);
      }
    }
  }
  return EP_OK;
}
