// CONV_2D with float32 activations and int8 weights (TFLite hybrid conv).
//   per_channel == 0 (HybridConv): each batch is quantized symmetrically, its scale multiplied by the
//     filter scale; out = (float)dot * scale + bias. Padding taps are zero (im2col with zero point 0).
//   per_channel == 1 (reference HybridConvPerChannel): asymmetric per-batch quantization;
//     out = (float)acc * filter_scale[oc] * scale + bias, acc over in-image taps of w * (q - offset).
#include "edgeprune/arith.h"
#include "edgeprune/kernels/conv.h"

extern "C" ep_status ep_conv2d_hybrid(const ep_conv2d_hybrid_params *p, const float *input, const int8_t *filter,
                                      const float *bias, void *scratch, float *output) {
  if (p->stride_h <= 0 || p->stride_w <= 0 || p->dilation_h <= 0 || p->dilation_w <= 0 || p->in_c <= 0 ||
      p->batches <= 0)
    return EP_ERROR_ARGUMENT;
  const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
  const int32_t fh = p->filter_h, fw = p->filter_w, out_c = p->out_c;
  const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
  const float act_min = p->act_min, act_max = p->act_max;
  const int32_t filter_row = fw * in_c;
  const int32_t filter_size = fh * filter_row;
  const int32_t in_row = in_w * in_c;
  const int32_t per_batch = in_h * in_row;
  const bool per_channel = p->per_channel != 0;

  float *scaling;
  int32_t *offsets;
  int8_t *qin;
  ep::hybrid::split_scratch(scratch, p->batches, &scaling, &offsets, &qin);
  for (int32_t b = 0; b < p->batches; ++b) {
    const float *x = input + (size_t)b * per_batch;
    int8_t *q = qin + (size_t)b * per_batch;
    if (per_channel) {
      ep::hybrid::asymmetric_quantize(x, per_batch, q, &scaling[b], &offsets[b]);
    } else {
      ep::hybrid::symmetric_quantize(x, per_batch, q, &scaling[b]);
      scaling[b] *= p->filter_scales[0];
      offsets[b] = 0;
    }
  }

  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *in_b = qin + (size_t)b * per_batch;
    const float batch_scale = scaling[b];
    const int32_t zp = offsets[b];
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      int32_t fy_begin, fy_end;
      ep::conv::valid_taps(iy0, dil_h, fh, in_h, &fy_begin, &fy_end);
      for (int32_t ox = 0; ox < p->out_w; ++ox) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        int32_t fx_begin, fx_end;
        ep::conv::valid_taps(ix0, dil_w, fw, in_w, &fx_begin, &fx_end);
        for (int32_t oc = 0; oc < out_c; ++oc) {
          const int8_t *f_oc = filter + (size_t)oc * filter_size;
          int32_t acc = 0;
          for (int32_t fy = fy_begin; fy < fy_end; ++fy) {
            const int8_t *in_rowp = in_b + (size_t)(iy0 + dil_h * fy) * in_row;
            const int8_t *f_row = f_oc + fy * filter_row;
            for (int32_t fx = fx_begin; fx < fx_end; ++fx) {
              const int8_t *xq = in_rowp + (ix0 + dil_w * fx) * in_c;
              const int8_t *f = f_row + fx * in_c;
              for (int32_t ic = 0; ic < in_c; ++ic) acc += (int32_t)f[ic] * ((int32_t)xq[ic] - zp);
            }
          }
          float value;
          if (per_channel) {
            value = (float)acc * p->filter_scales[oc] * batch_scale;
          } else {
            value = (float)acc * batch_scale;
          }
          if (bias) value += bias[oc];
          *output++ = ep::clamp_f32(value, act_min, act_max);
        }
      }
    }
  }
  return EP_OK;
}
