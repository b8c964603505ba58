/* edgeprune runtime: data-movement kernels (reshape/squeeze copy, transpose, pad, concatenation). */
#ifndef EDGEPRUNE_KERNELS_SHAPE_H
#define EDGEPRUNE_KERNELS_SHAPE_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

/* RESHAPE and SQUEEZE: the bytes do not change, only their interpretation. */
typedef struct {
  int32_t nbytes;
} ep_copy_params;

ep_status ep_copy(const ep_copy_params *params, const void *input, void *output);

/* TRANSPOSE: up to 6 dims after merging. dims are the output dims (leading 1s); in_strides the
 * input element stride that each output dim walks. */
#define EP_TRANSPOSE_DIMS 6

typedef struct {
  int32_t dims[EP_TRANSPOSE_DIMS];
  int32_t in_strides[EP_TRANSPOSE_DIMS];
} ep_transpose_s8_params;

ep_status ep_transpose_s8(const ep_transpose_s8_params *params, const int8_t *input, int8_t *output);

typedef struct {
  int32_t dims[EP_TRANSPOSE_DIMS];
  int32_t in_strides[EP_TRANSPOSE_DIMS];
} ep_transpose_f32_params;

ep_status ep_transpose_f32(const ep_transpose_f32_params *params, const float *input, float *output);

/* PAD / PADV2: up to 6 dims (leading 1s, dims without padding merged into their outer dim).
 * Output dim i is pad_before[i] + in_dims[i] + pad_after[i]. */
#define EP_PAD_DIMS 6

typedef struct {
  int32_t in_dims[EP_PAD_DIMS];
  int32_t pad_before[EP_PAD_DIMS];
  int32_t pad_after[EP_PAD_DIMS];
  int32_t pad_value;
} ep_pad_s8_params;

ep_status ep_pad_s8(const ep_pad_s8_params *params, const int8_t *input, int8_t *output);

typedef struct {
  int32_t in_dims[EP_PAD_DIMS];
  int32_t pad_before[EP_PAD_DIMS];
  int32_t pad_after[EP_PAD_DIMS];
  float pad_value;
} ep_pad_f32_params;

ep_status ep_pad_f32(const ep_pad_f32_params *params, const float *input, float *output);

/* CONCATENATION: one call per input; copies `outer` rows of `in_row` elements from the input to
 * output + offset, output rows being `out_row` elements apart. */
typedef struct {
  int32_t outer;
  int32_t in_row;
  int32_t out_row;
  int32_t offset;
} ep_concat_s8_params;

ep_status ep_concat_s8(const ep_concat_s8_params *params, const int8_t *input, int8_t *output);

typedef struct {
  int32_t outer;
  int32_t in_row;
  int32_t out_row;
  int32_t offset;
} ep_concat_f32_params;

ep_status ep_concat_f32(const ep_concat_f32_params *params, const float *input, float *output);

EP_EXTERN_C_END

#endif
