/* edgeprune runtime: elementwise kernels. */
#ifndef EDGEPRUNE_KERNELS_ELEMENTWISE_H
#define EDGEPRUNE_KERNELS_ELEMENTWISE_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

EP_EXTERN_C_END

#endif
