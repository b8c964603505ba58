// CONV_2D with a 1x1 filter and no padding on Helium: a GEMM straight over the input pixels, two pixels by
// four output channels per step (VMLADAVA, 16 MACs per instruction). Bit-exact with ep_conv2d_s8.
#include "edgeprune/kernels/conv_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
namespace {

// Walks the output pixels in order and yields the input pixel each one reads.
struct PixelWalk {
  const int8_t *row;  // input row of the current output row
  int32_t ox, out_w, step, row_step;
  const int8_t *batch;
  int32_t oy, out_h, batch_step;

  const int8_t *get() const { return row + ox * step; }
  void next() {
    if (++ox < out_w) return;
    ox = 0;
    row += row_step;
    if (++oy < out_h) return;
    oy = 0;
    batch += batch_step;
    row = batch;
  }
};

}  // namespace
#endif

extern "C" ep_status ep_conv2d_1x1_s8_mve(const ep_conv2d_s8_mve_params *p, const int8_t *input,
                                          int8_t *output) {
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
  if (p->filter_h != 1 || p->filter_w != 1 || p->pad_h != 0 || p->pad_w != 0 || p->stride_h <= 0 ||
      p->stride_w <= 0 || p->in_c <= 0 || p->out_c <= 0)
    return EP_ERROR_ARGUMENT;
  const int32_t in_c = p->in_c, out_c = p->out_c;
  const int8_t *packed_filter = p->filter;
  const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
  const int32_t full = in_c >> 4, rem = in_c & 15, tail_at = in_c & ~15;
  uintptr_t list[EP_MVE_SEGMENT_WORDS(1)] = {0, 0, 0, 0};  // one segment per pixel, then the terminator
  int32_t pixels = p->batches * p->out_h * p->out_w;
  PixelWalk walk{input, 0, p->out_w, p->stride_w * in_c, p->stride_h * p->in_w * in_c,
                 input, 0, p->out_h, p->in_h * p->in_w * in_c};
  for (; pixels >= 2; pixels -= 2) {
    const int8_t *a0 = walk.get();
    walk.next();
    const int8_t *a1 = walk.get();
    walk.next();
    ep::mve::set_segment(list, 0, full, a0, a1);
    ep::mve::gemm_2rows(list, a0 + tail_at, a1 + tail_at, rem, packed_filter, out_c, p->rq, p->output_offset, lo,
                        hi, output, output + out_c);
    output += 2 * out_c;
  }
  if (pixels) {
    const int8_t *a0 = walk.get();
    ep::mve::set_segment(list, 0, full, a0, a0);
    ep::mve::gemm_2rows(list, a0 + tail_at, a0 + tail_at, rem, packed_filter, out_c, p->rq, p->output_offset, lo,
                        hi, output, nullptr);
  }
  return EP_OK;
#else
  (void)p;
  (void)input;
  (void)output;
  return EP_ERROR_ARGUMENT;
#endif
}
