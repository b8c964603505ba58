/* edgeprune runtime: every kernel's C API. Generated model code includes only this header. */
#ifndef EDGEPRUNE_RUNTIME_H
#define EDGEPRUNE_RUNTIME_H

#include "edgeprune/common.h"
#include "edgeprune/kernels/conv.h"
#include "edgeprune/kernels/conv_dsp.h"
#include "edgeprune/kernels/conv_mve.h"
#include "edgeprune/kernels/conv_neon.h"
#include "edgeprune/kernels/sparse_dsp.h"
#include "edgeprune/kernels/sparse_mve.h"
#include "edgeprune/kernels/sparse_neon.h"
#include "edgeprune/kernels/elementwise.h"
#include "edgeprune/kernels/pooling.h"
#include "edgeprune/kernels/shape.h"
#include "edgeprune/kernels/activation.h"
#include "edgeprune/runtime/parallel.h"

#endif
