// DEPTHWISE_CONV_2D 3x3, dilation 1, depth_multiplier 1, in_c % 4 == 0, any stride and padding, Armv7E-M DSP.
// One group of four channels at a time: each input row is widened once into a ring of three rows in
// scratch as int16 (input offset added, SXTAB16 order c0, c2, c1, c3; padding 0, exactly the taps the
// reference skips), laid out [column][ring slot][2 words] so that every tap of a pixel is at a constant
// offset (one of three variants by ring rotation): per tap one LDRD of inputs, one LDRD of weights and
// four SMLAxy.
#include "edgeprune/kernels/conv_dsp.h"

namespace {

using namespace ep::dsp;

// Nine taps of one group of four channels. x: the row buffer at the pixel's first column, 6 words a column
// ([column][ring slot][lo, hi]); the taps of filter row fy live in ring slot (R + fy) % 3. w: 18 words
// [fy][fx][lo, hi].
template <int R>
EP_DSP_INLINE void group9(const uint32_t *EP_RESTRICT x, const uint32_t *EP_RESTRICT w, int32_t *EP_RESTRICT acc) {
#if EP_HAVE_DSP && defined(__thumb2__)
  int32_t a0, a1, a2, a3;
  uint32_t x0, x1, w0, w1;
#define EP_XO(fy, fx) (8 * (3 * (fx) + ((R + (fy)) % 3)))
#define EP_WO(fy, fx) (8 * (3 * (fy) + (fx)))
#define EP_DW_TAP(n)                                \
  "ldrd %[x0], %[x1], [%[x], %[xo" #n "]]\n\t"     \
  "ldrd %[w0], %[w1], [%[w], %[wo" #n "]]\n\t"     \
  "smlabb %[a0], %[x0], %[w0], %[a0]\n\t"         \
  "smlatt %[a2], %[x0], %[w0], %[a2]\n\t"         \
  "smlabb %[a1], %[x1], %[w1], %[a1]\n\t"         \
  "smlatt %[a3], %[x1], %[w1], %[a3]\n\t"
  __asm__("ldrd %[x0], %[x1], [%[x], %[xo0]]\n\t"
          "ldrd %[w0], %[w1], [%[w]]\n\t"
          "smulbb %[a0], %[x0], %[w0]\n\t"
          "smultt %[a2], %[x0], %[w0]\n\t"
          "smulbb %[a1], %[x1], %[w1]\n\t"
          "smultt %[a3], %[x1], %[w1]\n\t"
          EP_DW_TAP(1) EP_DW_TAP(2) EP_DW_TAP(3) EP_DW_TAP(4) EP_DW_TAP(5) EP_DW_TAP(6) EP_DW_TAP(7) EP_DW_TAP(8)
          : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x0] "=&r"(x0), [x1] "=&r"(x1),
            [w0] "=&r"(w0), [w1] "=&r"(w1)
          : [x] "r"(x), [w] "r"(w), [xo0] "I"(EP_XO(0, 0)), [xo1] "I"(EP_XO(0, 1)), [wo1] "I"(EP_WO(0, 1)),
            [xo2] "I"(EP_XO(0, 2)), [wo2] "I"(EP_WO(0, 2)), [xo3] "I"(EP_XO(1, 0)), [wo3] "I"(EP_WO(1, 0)),
            [xo4] "I"(EP_XO(1, 1)), [wo4] "I"(EP_WO(1, 1)), [xo5] "I"(EP_XO(1, 2)), [wo5] "I"(EP_WO(1, 2)),
            [xo6] "I"(EP_XO(2, 0)), [wo6] "I"(EP_WO(2, 0)), [xo7] "I"(EP_XO(2, 1)), [wo7] "I"(EP_WO(2, 1)),
            [xo8] "I"(EP_XO(2, 2)), [wo8] "I"(EP_WO(2, 2))
          : "memory");
#undef EP_DW_TAP
#undef EP_XO
#undef EP_WO
#else
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (int32_t fy = 0; fy < 3; ++fy)
    for (int32_t fx = 0; fx < 3; ++fx) {
      const uint32_t *xp = x + 2 * (3 * fx + (R + fy) % 3), *wp = w + 2 * (3 * fy + fx);
      a0 = smlabb(xp[0], wp[0], a0);
      a2 = smlatt(xp[0], wp[0], a2);
      a1 = smlabb(xp[1], wp[1], a1);
      a3 = smlatt(xp[1], wp[1], a3);
    }
#endif
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

template <int R>
EP_DSP_INLINE void row_of_pixels(const uint32_t *x, const uint32_t *w, int32_t out_w, int32_t x_step,
                                 int32_t out_step, const ep::dsp::RequantRun &rq, int32_t first, int8_t *out) {
  int32_t acc[4];
  for (int32_t ox = 0; ox < out_w; ++ox, x += x_step, out += out_step) {
    group9<R>(x, w, acc);
    rq(acc, first, 4, out);
  }
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
  uint32_t *rows = (uint32_t *)scratch;  // ring of three widened input rows: [cols][3 slots][lo, hi]
  const ep::dsp::RequantRun rq(p->requant, p->all_right, p->output_offset, p->act_min, p->act_max);
  const uint32_t *wbase = (const uint32_t *)(const void *)filter;
  const uint32_t off2 = ep::dsp::dup16(p->input_offset);
  const size_t in_row = (size_t)in_w * c_all, in_image = (size_t)in_h * in_row, out_row = (size_t)out_w * c_all;
  // Columns of the row buffer that lie inside the input: [x_begin, x_end).
  const int32_t x_begin = pad_w < cols ? pad_w : cols;
  const int32_t x_end = in_w + pad_w < cols ? in_w + pad_w : cols;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = input + (size_t)b * in_image;
    int8_t *out_b = output + (size_t)b * out_h * out_row;
    for (int32_t g = 0; g < groups; ++g) {
      const uint32_t *w = wbase + 18 * g;
      int32_t filled = -pad_h - 1;  // the last input row widened into the ring (rows only grow)
      for (int32_t oy = 0; oy < out_h; ++oy) {
        const int32_t iy0 = oy * sh - pad_h;
        for (int32_t iy = filled + 1 > iy0 ? filled + 1 : iy0; iy < iy0 + 3; ++iy) {
          uint32_t *dst = rows + 2 * (((iy % 3) + 3) % 3);
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
        filled = iy0 + 2;
        int8_t *out = out_b + (size_t)oy * out_row + 4 * g;
        switch (((iy0 % 3) + 3) % 3) {
          case 0:
            row_of_pixels<0>(rows, w, out_w, 6 * sw, c_all, rq, 4 * g, out);
            break;
          case 1:
            row_of_pixels<1>(rows, w, out_w, 6 * sw, c_all, rq, 4 * g, out);
            break;
          default:
            row_of_pixels<2>(rows, w, out_w, 6 * sw, c_all, rq, 4 * g, out);
            break;
        }
      }
    }
  }
  return EP_OK;
}
