/* edgeprune runtime: activation kernels (SOFTMAX, LOGISTIC, RELU/RELU6, HARD_SWISH) and the
 * quantize / dequantize conversions.
 *
 * Every int8 kernel reproduces LiteRT's BUILTIN_REF kernels bit for bit; the fixed-point parameters
 * are computed at compile time by edgeprune/lower/ops/activation.py exactly as TFLite's Prepare does. */
#ifndef EDGEPRUNE_KERNELS_ACTIVATION_H
#define EDGEPRUNE_KERNELS_ACTIVATION_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

/* ---- SOFTMAX (over the last axis: outer_size rows of depth elements) ---- */

/* int8 -> int8 (output scale 1/256, zero point -128): TFLite's gemmlowp fixed-point reference.
 * input_multiplier/input_left_shift rescale (input - row max) to Q5.26 (PreprocessSoftmaxScaling);
 * differences below diff_min contribute nothing and produce -128. Rows whose sum of exponentials
 * reaches 512 (possible only when depth >= 512) make TFLite's reference abort; here they give -128. */
typedef struct {
  int32_t outer_size;
  int32_t depth;
  int32_t input_multiplier;
  int32_t input_left_shift;
  int32_t diff_min;
} ep_softmax_s8_params;

ep_status ep_softmax_s8(const ep_softmax_s8_params *params, const int8_t *input, int8_t *output);

typedef struct {
  int32_t outer_size;
  int32_t depth;
  float beta;
} ep_softmax_f32_params;

ep_status ep_softmax_f32(const ep_softmax_f32_params *params, const float *input, float *output);

/* ---- LOGISTIC ---- */

/* int8: a 256-entry table built at compile time exactly as TFLite's LUTPopulate<int8_t>;
 * entry lut[(uint8_t)x] is the output for input x (so the table starts at x = 0, not -128). */
typedef struct {
  int32_t size;
  const int8_t *lut;
} ep_logistic_s8_params;

ep_status ep_logistic_s8(const ep_logistic_s8_params *params, const int8_t *input, int8_t *output);

typedef struct {
  int32_t size;
} ep_logistic_f32_params;

ep_status ep_logistic_f32(const ep_logistic_f32_params *params, const float *input, float *output);

/* ---- RELU / RELU6 (one kernel each type; the op only changes act_min/act_max) ---- */

/* int8: TFLite ReluX: out = clamp(output_offset + MBQM(in - input_offset, mult, shift), act_min, act_max). */
typedef struct {
  int32_t size;
  int32_t input_offset;  /* input zero point */
  int32_t output_offset; /* output zero point */
  int32_t output_multiplier;
  int32_t output_shift;
  int32_t act_min;
  int32_t act_max;
} ep_relu_s8_params;

ep_status ep_relu_s8(const ep_relu_s8_params *params, const int8_t *input, int8_t *output);

/* float: out = min(max(act_min, in), act_max) with std::max/std::min semantics (NaN -> act_min). */
typedef struct {
  int32_t size;
  float act_min;
  float act_max;
} ep_relu_f32_params;

ep_status ep_relu_f32(const ep_relu_f32_params *params, const float *input, float *output);

/* ---- HARD_SWISH ---- */

/* int8: TFLite reference_ops::HardSwish with its 16-bit fixed-point steps. */
typedef struct {
  int32_t size;
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t reluish_multiplier_fixedpoint_int16;
  int32_t reluish_multiplier_exponent;
  int32_t output_multiplier_fixedpoint_int16;
  int32_t output_multiplier_exponent; /* <= 0 */
} ep_hard_swish_s8_params;

ep_status ep_hard_swish_s8(const ep_hard_swish_s8_params *params, const int8_t *input, int8_t *output);

typedef struct {
  int32_t size;
} ep_hard_swish_f32_params;

ep_status ep_hard_swish_f32(const ep_hard_swish_f32_params *params, const float *input, float *output);

/* ---- QUANTIZE ---- */

/* float32 -> int8, per tensor: clamp(round_half_away(x / scale) + zero_point). */
typedef struct {
  int32_t size;
  float scale;
  int32_t zero_point;
} ep_quantize_f32_s8_params;

ep_status ep_quantize_f32_s8(const ep_quantize_f32_s8_params *params, const float *input, int8_t *output);

/* float32 -> int8, per channel: the tensor viewed as [outer_size, channels, inner_size] with the
 * quantized dimension in the middle; scales[c] and zero_points[c] per channel. */
typedef struct {
  int32_t outer_size;
  int32_t channels;
  int32_t inner_size;
  const float *scales;
  const int32_t *zero_points;
} ep_quantize_pc_f32_s8_params;

ep_status ep_quantize_pc_f32_s8(const ep_quantize_pc_f32_s8_params *params, const float *input,
                                int8_t *output);

/* int8 -> int8 requantize: clamp(MBQM(x - input_zero_point, mult, shift) + output_zero_point). */
typedef struct {
  int32_t size;
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t output_multiplier;
  int32_t output_shift;
} ep_quantize_s8_s8_params;

ep_status ep_quantize_s8_s8(const ep_quantize_s8_s8_params *params, const int8_t *input, int8_t *output);

/* ---- DEQUANTIZE ---- */

/* int8 -> float32, per tensor: scale * (q - zero_point). */
typedef struct {
  int32_t size;
  float scale;
  int32_t zero_point;
} ep_dequantize_s8_f32_params;

ep_status ep_dequantize_s8_f32(const ep_dequantize_s8_f32_params *params, const int8_t *input, float *output);

/* int8 -> float32, per channel (layout as ep_quantize_pc_f32_s8). */
typedef struct {
  int32_t outer_size;
  int32_t channels;
  int32_t inner_size;
  const float *scales;
  const int32_t *zero_points;
} ep_dequantize_pc_s8_f32_params;

ep_status ep_dequantize_pc_s8_f32(const ep_dequantize_pc_s8_f32_params *params, const int8_t *input,
                                  float *output);

EP_EXTERN_C_END

#endif
