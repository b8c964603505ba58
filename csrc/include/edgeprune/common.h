/* edgeprune runtime: types shared by every kernel and by generated model code.
 * C99-compatible; the kernels themselves are freestanding C++ with C linkage. */
#ifndef EDGEPRUNE_COMMON_H
#define EDGEPRUNE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define EP_EXTERN_C_BEGIN extern "C" {
#define EP_EXTERN_C_END }
#define EP_RESTRICT __restrict__
#else
#define EP_EXTERN_C_BEGIN
#define EP_EXTERN_C_END
#define EP_RESTRICT restrict
#endif

typedef enum {
  EP_OK = 0,
  EP_ERROR_ARGUMENT = 1,  /* a parameter the kernel does not support */
} ep_status;

/* Fused activations are lowered to a clamp range: [act_min, act_max] in the output's own type. */

#endif
