/* edgeprune runtime: pooling kernels (AVERAGE_POOL_2D, MAX_POOL_2D) and MEAN, NHWC layout. */
#ifndef EDGEPRUNE_KERNELS_POOLING_H
#define EDGEPRUNE_KERNELS_POOLING_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

/* Pool window geometry; pad_h/pad_w are the leading (top/left) paddings. */
typedef struct {
  int32_t batches;
  int32_t in_h;
  int32_t in_w;
  int32_t channels;
  int32_t out_h;
  int32_t out_w;
  int32_t filter_h;
  int32_t filter_w;
  int32_t stride_h;
  int32_t stride_w;
  int32_t pad_h;
  int32_t pad_w;
  int32_t act_min;
  int32_t act_max;
} ep_pool_s8_params;

typedef struct {
  int32_t batches;
  int32_t in_h;
  int32_t in_w;
  int32_t channels;
  int32_t out_h;
  int32_t out_w;
  int32_t filter_h;
  int32_t filter_w;
  int32_t stride_h;
  int32_t stride_w;
  int32_t pad_h;
  int32_t pad_w;
  float act_min;
  float act_max;
} ep_pool_f32_params;

typedef ep_pool_s8_params ep_avg_pool_s8_params;
typedef ep_pool_f32_params ep_avg_pool_f32_params;
typedef ep_pool_s8_params ep_max_pool_s8_params;
typedef ep_pool_f32_params ep_max_pool_f32_params;

/* scratch: channels * 4 bytes (int32 accumulators). */
ep_status ep_avg_pool_s8(const ep_avg_pool_s8_params *params, const int8_t *input, int8_t *output,
                         void *scratch);
ep_status ep_avg_pool_f32(const ep_avg_pool_f32_params *params, const float *input, float *output);
ep_status ep_max_pool_s8(const ep_max_pool_s8_params *params, const int8_t *input, int8_t *output);
ep_status ep_max_pool_f32(const ep_max_pool_f32_params *params, const float *input, float *output);

/* MEAN over any set of axes. The input is described as up to 6 dims (leading 1s, adjacent dims of
 * the same kind merged); out_strides gives the output element stride of each input dim, 0 for the
 * reduced ones. Outputs are summed in input order, as TFLite's reference does. */
#define EP_MEAN_DIMS 6

typedef struct {
  int32_t dims[EP_MEAN_DIMS];
  int32_t out_strides[EP_MEAN_DIMS];
  int32_t num_outputs;
  int32_t num_reduced; /* elements summed into each output */
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t multiplier; /* input_scale / output_scale / num_reduced, as TFLite folds it */
  int32_t shift;
} ep_mean_s8_params;

/* scratch: num_outputs * 4 bytes (int32 sums). */
ep_status ep_mean_s8(const ep_mean_s8_params *params, const int8_t *input, int8_t *output, void *scratch);

typedef struct {
  int32_t dims[EP_MEAN_DIMS];
  int32_t out_strides[EP_MEAN_DIMS];
  int32_t num_outputs;
  int32_t num_reduced;
} ep_mean_f32_params;

ep_status ep_mean_f32(const ep_mean_f32_params *params, const float *input, float *output);

EP_EXTERN_C_END

#endif
