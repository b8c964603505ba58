"""Block-sparse Helium (Cortex-M55) specialization of CONV_2D 1x1: the DSP kernels' 2 x 4 blocks, gathered four
at a time per channel pair (csrc/include/edgeprune/kernels/sparse_mve.h), chosen per layer where the stored
blocks make it cheaper than the dense Helium GEMM."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeprune.ir import Tensor
from edgeprune.lower.isa.mve import GEOMETRY, gemm_rq
from edgeprune.lower.program import KernelCall
from edgeprune.lower.specialize import specializer

PRIORITY = 15  # above the dense Helium specializers (10)
MODE = "auto"  # "auto", or "dense" / "sparse" to force one (bench, tests)


@dataclass(frozen=True)
class MveCost:
    """Instructions per two output pixels and channel pair (GEMM, requantization and loop overheads included),
    fitted to QEMU counts on Cortex-M55 (bench/sparse.py --target cortex-m55: 1x1 convs with 64 to 256 input
    channels): a chunk of 4 stored blocks against the dense GEMM's 16-deep chunk of the same pair."""

    sparse_per_chunk: float = 15.0
    sparse_per_pair: float = 50.0
    dense_per_chunk16: float = 8.0
    dense_per_pair: float = 45.0


COST = MveCost()


def pack_chunks(w2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[oc, in_c] int8 (in_c % 4 == 0) -> (int8 weights [chunks][2][4 blocks][4], uint8 stream: per pair its
    chunk count, then 4 byte offsets per chunk), the stored blocks padded with zero blocks to chunks of 4."""
    oc, k = w2.shape
    rows = np.zeros(((oc + 1) // 2 * 2, k), dtype=np.int8)
    rows[:oc] = w2
    weights, stream = [], []
    for p in range(rows.shape[0] // 2):
        pair = rows[2 * p:2 * p + 2].reshape(2, k // 4, 4)
        kept = np.nonzero(np.any(pair != 0, axis=(0, 2)))[0].tolist()
        kept += [0] * (-len(kept) % 4)
        pad = len(kept) - int(np.count_nonzero(np.any(pair != 0, axis=(0, 2))))
        stream.append(len(kept) // 4)
        for c in range(0, len(kept), 4):
            groups = kept[c:c + 4]
            stream += [4 * g for g in groups]
            block = pair[:, groups, :].copy()
            if pad and c + 4 == len(kept):
                block[:, 4 - pad:, :] = 0  # padding blocks repeat group 0 with zero weights
            weights.append(block.reshape(-1))
    flat = np.concatenate(weights) if weights else np.zeros(0, dtype=np.int8)
    return flat.astype(np.int8), np.asarray(stream, dtype=np.uint8)


def sparse_cheaper(w2: np.ndarray, cost: MveCost = COST) -> bool:
    oc, k = w2.shape
    rows = np.zeros(((oc + 1) // 2 * 2, k), dtype=np.int8)
    rows[:oc] = w2
    blocks = np.any(rows.reshape(-1, 2, k // 4, 4) != 0, axis=(1, 3)).sum(axis=1)
    pairs = rows.shape[0] // 2
    sparse = cost.sparse_per_chunk * float(np.sum(-(-blocks // 4))) + cost.sparse_per_pair * pairs
    dense = (cost.dense_per_chunk16 * -(-k // 16) + cost.dense_per_pair) * pairs
    return sparse < dense


@specializer("ep_conv2d_s8", requires={"mve"}, priority=PRIORITY)
def conv2d_1x1_sparse_mve(call: KernelCall) -> KernelCall | None:
    p = call.params
    w, bias = call.args[1], call.args[2]
    if MODE == "dense" or not (isinstance(w, Tensor) and w.is_constant and isinstance(bias, Tensor)
                               and bias.is_constant):
        return None
    oc, c = int(p["out_c"]), int(p["in_c"])
    if not (p["filter_h"] == 1 and p["filter_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0
            and c % 4 == 0 and c <= 256 and np.asarray(w.data).shape == (oc, 1, 1, c)):
        return None
    w2 = np.asarray(w.data, dtype=np.int8).reshape(oc, c)
    if MODE == "auto" and not sparse_cheaper(w2):
        return None
    off = int(p["input_offset"])
    folded = np.asarray(bias.data, dtype=np.int64).reshape(-1) + off * w2.astype(np.int64).sum(axis=1)
    weights, stream = pack_chunks(w2)
    params = {key: int(p[key]) for key in GEOMETRY}
    params.update(input_zero_point=-off, output_offset=int(p["output_offset"]), act_min=int(p["act_min"]),
                  act_max=int(p["act_max"]))
    consts = {"rq": gemm_rq(folded, call.consts["out_multiplier"], call.consts["out_shift"]), "filter": weights}
    blocks = Tensor(name=f"{w.name}_mve_blocks", shape=(int(stream.size),), dtype="uint8", data=stream)
    # Two pixels per step, each read before either is written: the dense 1x1 kernel's in-place contract is
    # not claimed (None: no overlap).
    return KernelCall(call.op, "ep_conv2d_1x1_s8_sparse_mve", "ep_conv2d_s8_mve_params", params=params,
                      consts=consts, args=[call.args[0], blocks, call.args[3]])
