/* edgeprune runtime: pooling kernels. */
#ifndef EDGEPRUNE_KERNELS_POOLING_H
#define EDGEPRUNE_KERNELS_POOLING_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

EP_EXTERN_C_END

#endif
