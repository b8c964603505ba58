/* edgeprune runtime: elementwise kernels (ADD, MUL) with TFLite broadcasting.
 *
 * Shapes: `broadcast == 0` means both inputs have the output's shape and the kernel runs one flat
 * loop over `size` elements. Otherwise the output is described as 6 dims (leading 1s, adjacent
 * dims merged at compile time) and each input by its element stride along every output dim
 * (0 where that input is broadcast). */
#ifndef EDGEPRUNE_KERNELS_ELEMENTWISE_H
#define EDGEPRUNE_KERNELS_ELEMENTWISE_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

#define EP_BCAST_DIMS 6

/* int8 ADD as TFLite: inputs shifted left by `left_shift`, each rescaled by its multiplier
 * (shift <= 0), summed, rescaled by the output multiplier (shift <= 0). */
typedef struct {
  int32_t size;
  int32_t broadcast;
  int32_t dims[EP_BCAST_DIMS];
  int32_t strides1[EP_BCAST_DIMS];
  int32_t strides2[EP_BCAST_DIMS];
  int32_t input1_offset; /* -zero_point of input 1 */
  int32_t input2_offset;
  int32_t output_offset; /* zero_point of the output */
  int32_t left_shift;
  int32_t input1_multiplier;
  int32_t input1_shift;
  int32_t input2_multiplier;
  int32_t input2_shift;
  int32_t output_multiplier;
  int32_t output_shift;
  int32_t act_min;
  int32_t act_max;
} ep_add_s8_params;

ep_status ep_add_s8(const ep_add_s8_params *params, const int8_t *input1, const int8_t *input2,
                    int8_t *output);

typedef struct {
  int32_t size;
  int32_t broadcast;
  int32_t dims[EP_BCAST_DIMS];
  int32_t strides1[EP_BCAST_DIMS];
  int32_t strides2[EP_BCAST_DIMS];
  float act_min;
  float act_max;
} ep_add_f32_params;

ep_status ep_add_f32(const ep_add_f32_params *params, const float *input1, const float *input2,
                     float *output);

/* int8 MUL as TFLite: (x1 + off1) * (x2 + off2) rescaled by one output multiplier. */
typedef struct {
  int32_t size;
  int32_t broadcast;
  int32_t dims[EP_BCAST_DIMS];
  int32_t strides1[EP_BCAST_DIMS];
  int32_t strides2[EP_BCAST_DIMS];
  int32_t input1_offset;
  int32_t input2_offset;
  int32_t output_offset;
  int32_t output_multiplier;
  int32_t output_shift;
  int32_t act_min;
  int32_t act_max;
} ep_mul_s8_params;

ep_status ep_mul_s8(const ep_mul_s8_params *params, const int8_t *input1, const int8_t *input2,
                    int8_t *output);

typedef struct {
  int32_t size;
  int32_t broadcast;
  int32_t dims[EP_BCAST_DIMS];
  int32_t strides1[EP_BCAST_DIMS];
  int32_t strides2[EP_BCAST_DIMS];
  float act_min;
  float act_max;
} ep_mul_f32_params;

ep_status ep_mul_f32(const ep_mul_f32_params *params, const float *input1, const float *input2,
                     float *output);

EP_EXTERN_C_END

#endif
