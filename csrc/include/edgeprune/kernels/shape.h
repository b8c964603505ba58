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

EP_EXTERN_C_END

#endif
