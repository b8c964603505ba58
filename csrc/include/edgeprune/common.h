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

#if defined(__GNUC__) || defined(__clang__)
#define EP_ALIGNED(n) __attribute__((aligned(n)))
#else
#define EP_ALIGNED(n)
#endif

typedef enum {
  EP_FLOAT32 = 0,
  EP_INT8 = 1,
  EP_UINT8 = 2,
  EP_INT16 = 3,
  EP_INT32 = 4,
} ep_dtype;

/* Describes a model input or output: where it is, its shape and how to (de)quantize it. */
typedef struct {
  const char *name;
  ep_dtype dtype;
  int32_t rank;
  int32_t dims[6];
  size_t bytes;
  float scale;        /* 0 when the tensor is not quantized */
  int32_t zero_point;
} ep_tensor_info;

#endif
