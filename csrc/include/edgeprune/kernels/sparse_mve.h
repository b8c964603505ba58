/* edgeprune runtime: block-sparse int8 CONV_2D 1x1 for Helium (Cortex-M55), bit-exact with ep_conv2d_s8 on
 * the same (zero-filled) weights. The same 2 x 4 blocks as the DSP kernels (sparse_dsp.h), so one pruned model
 * runs sparse on the M4, M7 and M55.
 *
 * Built by edgeprune/lower/isa/mve_sparse.py. Per channel pair its stored blocks (4 input channels each) go in
 * chunks of 4, padded with zero blocks: one VLDRW gather brings the 4 blocks' 16 input bytes of a pixel, and
 * VMLADAVA multiplies them with the 16 weights of each channel of the pair.
 *   blocks       uint8, per pair: its chunk count c, then 4 c byte offsets (4 x group) of the blocks in the pixel
 *                (in_c <= 256, in_c % 4 == 0)
 *   params.filter int8 [chunks][2 channels][4 blocks][4]
 *   params.rq     as for the dense GEMM kernels: bias' = bias + input_offset * sum(weights) per channel.
 * Two pixels per step share the offsets and the weights. No scratch. */
#ifndef EDGEPRUNE_KERNELS_SPARSE_MVE_H
#define EDGEPRUNE_KERNELS_SPARSE_MVE_H

#include "edgeprune/kernels/conv_mve.h"

EP_EXTERN_C_BEGIN

ep_status ep_conv2d_1x1_s8_sparse_mve(const ep_conv2d_s8_mve_params *params, const int8_t *input,
                                      const uint8_t *blocks, int8_t *output);

EP_EXTERN_C_END

#endif
