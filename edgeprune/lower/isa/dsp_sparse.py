"""Block-sparse Armv7E-M DSP specializations of the int8 GEMM kernels (conv im2col, conv 1x1, fully
connected), chosen per layer where the stored weight blocks make them cheaper than the dense DSP kernels.

Format (csrc/include/edgeprune/kernels/sparse_dsp.h): the dense DSP layout's 2 x 4 weight blocks (a pair of
output channels x a group of 4 along K) are kept only where a weight is non-zero: int16 weights of the
stored blocks and one uint8 stream with, per channel pair, its block count and its blocks' group indices.
A layer pruned in 2 x 4 blocks (edgeprune/prune/sparsity.py; 2 x 8 and 2 x 16 patterns are unions of them) runs only its
non-zero blocks; the arithmetic is the dense kernel's, so it is bit-exact with it on the same weights.

Two weight formats: the fast one keeps the dense layout's int16 weights (*_sparse_dsp: 13 instructions a
block); the compact one stores them as int8 and unpacks them with SXTB16 in the loop (*_sparse8_dsp: 17 a
block, half the weight flash). The compact format is chosen for every GEMM layer when the target's ISA set
carries COMPACT, which the pipeline adds when the fast layouts overflow the flash budget
(edgeprune.pipeline.analyze_for): even a dense layer then takes 1.13 bytes a weight instead of the dense DSP
layout's 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeprune.ir import Tensor
from edgeprune.lower.isa.dsp import conv2d_dsp, fully_connected_dsp
from edgeprune.lower.program import KernelCall
from edgeprune.lower.specialize import specializer

PRIORITY = 5  # above the dense DSP specializers (0), below Helium (10) on the Cortex-M55
COMPACT = "compact-weights"  # pseudo ISA feature: lower GEMM layers to the compact (int8-weight) sparse format
# "auto": the cheaper kernel per layer; "dense" / "sparse" force one (bench/sparse.py measures both).
MODE = "auto"
MAX_GROUPS = 255  # uint8 group indices and counts: k_padded <= 1020


@dataclass(frozen=True)
class GemmCost:
    """Instructions of the DSP GEMM inner loops per two output pixels (or FC rows), read off their asm
    (csrc/include/edgeprune/kernels/conv_dsp.h gemm_pairs, sparse_dsp.h gemm_sparse_pairs) and checked
    against QEMU instruction counts by bench/sparse.py."""

    dense_per_group: float = 12.0  # 24 instructions per two groups of a channel pair
    dense_per_pair: float = 10.0
    sparse_per_block: float = 13.5  # 54 per four blocks
    sparse_per_pair: float = 18.0

    def dense(self, pairs: int, groups: int) -> float:
        return pairs * (self.dense_per_group * groups + self.dense_per_pair)

    def sparse(self, pairs: int, blocks: int) -> float:
        return self.sparse_per_block * blocks + self.sparse_per_pair * pairs


COST = GemmCost()


def block_mask(dense_weights: np.ndarray, k_padded: int) -> np.ndarray:
    """bool [pairs][groups]: which 2 x 4 blocks of the dense DSP layout hold a non-zero weight."""
    groups = k_padded // 4
    return np.any(dense_weights.reshape(-1, groups, 8) != 0, axis=2)


def pack_blocks(dense_weights: np.ndarray, k_padded: int) -> tuple[np.ndarray, np.ndarray]:
    """The dense DSP layout (int16 [pairs][groups][2][4]) -> (int16 weights of the stored blocks, the uint8
    block stream: per pair its count, then its groups)."""
    groups = k_padded // 4
    blocks = dense_weights.reshape(-1, groups, 8)
    mask = block_mask(dense_weights, k_padded)
    weights = np.ascontiguousarray(blocks[mask]).reshape(-1).astype(np.int16)
    stream = []
    for row in mask:
        kept = np.nonzero(row)[0]
        stream += [len(kept), *kept.tolist()]
    return weights, np.asarray(stream, dtype=np.uint8)


def pack_blocks8(dense_weights: np.ndarray, k_padded: int) -> tuple[np.ndarray, np.ndarray]:
    """The compact format: the stored blocks' weights as int8 in natural K order per channel (the dense DSP
    layout holds k0, k2, k1, k3), and the same block stream."""
    weights, stream = pack_blocks(dense_weights, k_padded)
    natural = weights.reshape(-1, 4)[:, [0, 2, 1, 3]]
    return np.ascontiguousarray(natural.reshape(-1)).astype(np.int8), stream


def sparse_cheaper(dense_weights: np.ndarray, k_padded: int, cost: GemmCost = COST) -> bool:
    """Whether the sparse GEMM executes fewer instructions than the dense one on these weights."""
    mask = block_mask(dense_weights, k_padded)
    pairs, groups = mask.shape
    return groups <= MAX_GROUPS and cost.sparse(pairs, int(mask.sum())) < cost.dense(pairs, groups)


def _const(name: str, data: np.ndarray) -> Tensor:
    return Tensor(name=name, shape=(int(data.size),), dtype=str(data.dtype), data=data)


def _sparse(dense: KernelCall | None, weight_arg: int, k_key: str, compact: bool = False) -> KernelCall | None:
    """The sparse form of a dense DSP call: its weight argument replaced by the two sparse arrays (compact: int8
    weights, taken whatever the density; otherwise int16 where the cost model finds it cheaper)."""
    if dense is None or (MODE == "dense" and not compact):
        return None
    w = dense.args[weight_arg]
    k_padded = int(dense.params[k_key])
    dense_weights = np.asarray(w.data, dtype=np.int16)
    if k_padded // 4 > MAX_GROUPS:
        return None
    if not compact and MODE == "auto" and not sparse_cheaper(dense_weights, k_padded):
        return None
    weights, stream = (pack_blocks8 if compact else pack_blocks)(dense_weights, k_padded)
    name = w.name.removesuffix("_dsp")
    args = list(dense.args)
    args[weight_arg:weight_arg + 1] = [_const(f"{name}_sparse", weights), _const(f"{name}_blocks", stream)]
    func = dense.func.replace("_s8_dsp", "_s8_sparse8_dsp" if compact else "_s8_sparse_dsp")
    out = KernelCall(dense.op, func, dense.params_type, params=dict(dense.params), consts=dict(dense.consts),
                     args=args)
    out.inplace_lag_bytes = dense.inplace_lag_bytes  # the same im2col / row order as the dense kernel
    return out


@specializer("ep_conv2d_s8", requires={"dsp"}, priority=PRIORITY)
def conv2d_sparse_dsp(call: KernelCall) -> KernelCall | None:
    return _sparse(conv2d_dsp(call), 1, "k_padded")


@specializer("ep_fully_connected_s8", requires={"dsp"}, priority=PRIORITY)
def fully_connected_sparse_dsp(call: KernelCall) -> KernelCall | None:
    return _sparse(fully_connected_dsp(call), 1, "depth_padded")


@specializer("ep_conv2d_s8", requires={"dsp", COMPACT}, priority=PRIORITY + 1)
def conv2d_compact_dsp(call: KernelCall) -> KernelCall | None:
    return _sparse(conv2d_dsp(call), 1, "k_padded", compact=True)


@specializer("ep_fully_connected_s8", requires={"dsp", COMPACT}, priority=PRIORITY + 1)
def fully_connected_compact_dsp(call: KernelCall) -> KernelCall | None:
    return _sparse(fully_connected_dsp(call), 1, "depth_padded", compact=True)
