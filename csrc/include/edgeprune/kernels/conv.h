/* edgeprune runtime: conv kernels. */
#ifndef EDGEPRUNE_KERNELS_CONV_H
#define EDGEPRUNE_KERNELS_CONV_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

EP_EXTERN_C_END

#endif
