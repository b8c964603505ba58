/* edgeprune runtime: conv kernels (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED).
 *
 * Layouts are TFLite's: activations NHWC, conv filters OHWI, depthwise filters 1HW(C*M),
 * fully-connected weights [units, depth]. A missing bias may be passed as NULL.
 * Conv geometry: batches, in_h/w/c (input), filter_h/w, out_h/w/c (output), stride, dilation and the
 * leading padding pad_h/pad_w (TFLite ComputePaddingHeightWidth).
 *
 * Variants:
 *   _s8      int8 activations and weights, int32 bias, per-channel requantization (TFLite reference).
 *   _f32     float32 everything.
 *   _hybrid  float32 activations, int8 symmetric weights, float32 bias: the input is quantized
 *            on the fly per batch into the scratch buffer (see EP_HYBRID_SCRATCH_BYTES). */
#ifndef EDGEPRUNE_KERNELS_CONV_H
#define EDGEPRUNE_KERNELS_CONV_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

/* ---- CONV_2D ---- */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t input_offset;  /* -input zero point */
  int32_t output_offset; /* output zero point */
  int32_t act_min, act_max;
  const int32_t *out_multiplier; /* [out_c] */
  const int32_t *out_shift;      /* [out_c], TFLite convention: >0 is a left shift */
} ep_conv2d_s8_params;

ep_status ep_conv2d_s8(const ep_conv2d_s8_params *params, const int8_t *input, const int8_t *filter,
                       const int32_t *bias, int8_t *output);

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  float act_min, act_max;
} ep_conv2d_f32_params;

ep_status ep_conv2d_f32(const ep_conv2d_f32_params *params, const float *input, const float *filter,
                        const float *bias, float *output);

/* Hybrid CONV_2D. per_channel = 0: TFLite's HybridConv (symmetric per-batch input quantization,
 * filter_scales[0] for every channel). per_channel = 1: HybridConvPerChannel (asymmetric per-batch
 * input quantization, one filter scale per output channel). */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t per_channel;
  float act_min, act_max;
  const float *filter_scales; /* [out_c] */
} ep_conv2d_hybrid_params;

ep_status ep_conv2d_hybrid(const ep_conv2d_hybrid_params *params, const float *input, const int8_t *filter,
                           const float *bias, void *scratch, float *output);

/* ---- DEPTHWISE_CONV_2D (out_c == in_c * depth_multiplier) ---- */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t depth_multiplier;
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  const int32_t *out_multiplier; /* [out_c] */
  const int32_t *out_shift;      /* [out_c] */
} ep_depthwise_conv2d_s8_params;

ep_status ep_depthwise_conv2d_s8(const ep_depthwise_conv2d_s8_params *params, const int8_t *input,
                                 const int8_t *filter, const int32_t *bias, int8_t *output);

typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t depth_multiplier;
  float act_min, act_max;
} ep_depthwise_conv2d_f32_params;

ep_status ep_depthwise_conv2d_f32(const ep_depthwise_conv2d_f32_params *params, const float *input,
                                  const float *filter, const float *bias, float *output);

/* Hybrid depthwise: always asymmetric per-batch input quantization, per-channel filter scales. */
typedef struct {
  int32_t batches;
  int32_t in_h, in_w, in_c;
  int32_t filter_h, filter_w;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;
  int32_t depth_multiplier;
  float act_min, act_max;
  const float *filter_scales; /* [out_c] */
} ep_depthwise_conv2d_hybrid_params;

ep_status ep_depthwise_conv2d_hybrid(const ep_depthwise_conv2d_hybrid_params *params, const float *input,
                                     const int8_t *filter, const float *bias, void *scratch, float *output);

/* ---- FULLY_CONNECTED: output[b][u] = sum_d input[b][d] * weights[u][d] (+ bias[u]) ---- */

/* TFLite's reference int8 FULLY_CONNECTED rescales in double:
 * round(acc * (double)input_scale * (double)filter_scales[u] / (double)output_scale). */
typedef struct {
  int32_t batches, depth, units;
  int32_t input_offset;   /* -input zero point */
  int32_t weights_offset; /* -weights zero point (per-tensor only; 0 when per-channel) */
  int32_t output_offset;
  int32_t act_min, act_max;
  float input_scale, output_scale;
  const float *filter_scales; /* [units] */
} ep_fully_connected_s8_params;

ep_status ep_fully_connected_s8(const ep_fully_connected_s8_params *params, const int8_t *input,
                                const int8_t *weights, const int32_t *bias, int8_t *output);

typedef struct {
  int32_t batches, depth, units;
  float act_min, act_max;
} ep_fully_connected_f32_params;

ep_status ep_fully_connected_f32(const ep_fully_connected_f32_params *params, const float *input,
                                 const float *weights, const float *bias, float *output);

/* Hybrid FC: per-batch input quantization, symmetric or asymmetric (asymmetric_quantize_inputs). */
typedef struct {
  int32_t batches, depth, units;
  int32_t asymmetric;
  float act_min, act_max;
  const float *filter_scales; /* [units] (the per-tensor scale repeated) */
} ep_fully_connected_hybrid_params;

ep_status ep_fully_connected_hybrid(const ep_fully_connected_hybrid_params *params, const float *input,
                                    const int8_t *weights, const float *bias, void *scratch, float *output);

/* Scratch layout of the hybrid kernels: float scaling_factors[batches], int32 offsets[batches],
 * then int8 quantized input[batches * per_batch]. */
#define EP_HYBRID_SCRATCH_BYTES(batches, per_batch) \
  ((size_t)(batches) * 8u + (size_t)(batches) * (size_t)(per_batch))

EP_EXTERN_C_END

#ifdef __cplusplus
#include <math.h>
#include <string.h>

namespace ep {
namespace conv {

/* Filter taps [*begin, *end) whose input coordinate origin + dilation * k lies inside [0, in_size). */
static inline void valid_taps(int32_t origin, int32_t dilation, int32_t taps, int32_t in_size, int32_t *begin,
                              int32_t *end) {
  int32_t b = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
  const int32_t room = in_size - origin;
  int32_t e = room <= 0 ? 0 : (room + dilation - 1) / dilation;
  if (e > taps) e = taps;
  if (b > e) b = e;
  *begin = b;
  *end = e;
}

}  // namespace conv

namespace hybrid {

/* TFLite PortableSymmetricQuantizeFloats: scale = max|x| / 127, q = clamp(round(x * 127 / max|x|)). */
static inline void symmetric_quantize(const float *values, int32_t size, int8_t *q, float *scaling_factor) {
  float mn = values[0], mx = values[0];
  for (int32_t i = 1; i < size; ++i) {
    const float v = values[i];
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  const float amn = fabsf(mn), amx = fabsf(mx);
  const float range = amn < amx ? amx : amn;
  if (range == 0.0f) {
    memset(q, 0, (size_t)size);
    *scaling_factor = 1.0f;
    return;
  }
  *scaling_factor = range / 127.0f;
  const float inv = 127.0f / range;
  for (int32_t i = 0; i < size; ++i) {
    int32_t v = (int32_t)roundf(values[i] * inv);
    v = v < -127 ? -127 : (v > 127 ? 127 : v);
    q[i] = (int8_t)v;
  }
}

/* TFLite PortableAsymmetricQuantizeFloats: range [min(0,min x), max(0,max x)] onto [-128, 127]. */
static inline void asymmetric_quantize(const float *values, int32_t size, int8_t *q, float *scaling_factor,
                                       int32_t *offset) {
  float mn = values[0], mx = values[0];
  for (int32_t i = 1; i < size; ++i) {
    const float v = values[i];
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  const double rmin = (double)(mn < 0.0f ? mn : 0.0f);
  const double rmax = (double)(mx > 0.0f ? mx : 0.0f);
  if (rmin == rmax) {
    memset(q, 0, (size_t)size);
    *scaling_factor = 1.0f;
    *offset = 0;
    return;
  }
  const double qmin = -128.0, qmax = 127.0;
  const double scale = (rmax - rmin) / (qmax - qmin);
  const double zp_from_min = qmin - rmin / scale;
  const double zp_from_max = qmax - rmax / scale;
  const double err_min = fabs(qmin) + fabs(rmin / scale);
  const double err_max = fabs(qmax) + fabs(rmax / scale);
  const double zp = err_min < err_max ? zp_from_min : zp_from_max;
  int32_t nudged;
  if (zp <= qmin) {
    nudged = -128;
  } else if (zp >= qmax) {
    nudged = 127;
  } else {
    nudged = (int32_t)(int8_t)round(zp);
  }
  *scaling_factor = (float)scale;
  *offset = nudged;
  const float inv = 1.0f / *scaling_factor;
  const float off = (float)nudged;
  for (int32_t i = 0; i < size; ++i) {
    int32_t v = (int32_t)roundf(off + values[i] * inv);
    v = v < -128 ? -128 : (v > 127 ? 127 : v);
    q[i] = (int8_t)v;
  }
}

/* Splits the scratch buffer of a hybrid kernel. */
static inline void split_scratch(void *scratch, int32_t batches, float **scaling, int32_t **offsets, int8_t **q) {
  char *p = (char *)scratch;
  *scaling = (float *)(void *)p;
  *offsets = (int32_t *)(void *)(p + (size_t)batches * 4u);
  *q = (int8_t *)(void *)(p + (size_t)batches * 8u);
}

}  // namespace hybrid
}  // namespace ep
#endif

#endif
