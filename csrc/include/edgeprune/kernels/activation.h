/* edgeprune runtime: activation kernels. */
#ifndef EDGEPRUNE_KERNELS_ACTIVATION_H
#define EDGEPRUNE_KERNELS_ACTIVATION_H

#include "edgeprune/common.h"

EP_EXTERN_C_BEGIN

EP_EXTERN_C_END

#endif
