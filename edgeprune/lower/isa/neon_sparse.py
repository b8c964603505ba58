"""Block-sparse AArch64 NEON specializations of the int8 GEMM layers (CONV_2D 1x1 and im2col, FULLY_CONNECTED) for
the Raspberry Pi 4 (SMULL/SMLAL + SADALP, no SDOT) and 5 (SDOT), chosen per layer where the stored weight blocks make
them cheaper than the dense kernels (csrc/include/edgeprune/kernels/sparse_neon.h).

Format: blocks of 8 output channels x 4 consecutive k of the flattened filter [out_c][K]; only blocks with a non-zero
weight are stored (int8 [blocks][8][4]) with an int16 stream (per 8-channel group its block count, then its groups).
The "8x4" pruning pattern (edgeprune/prune/sparsity.py) zeroes whole blocks of this shape; finer patterns (2x4, n:m)
leave few all-zero 8x4 blocks and stay dense under the cost model. The input offset is folded into the bias as in the
dense NEON kernels (edgeprune/lower/isa/neon.py), so every kernel is an exact identity of the portable one.

Cost model: instructions per 8 output pixels (or FC rows), read off the kernels' loops and fitted to QEMU counts by
bench/sparse.py --target rpi4 / rpi5 (GemmCost below); dense where dense is cheaper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeprune.lower.isa.common import const_arg
from edgeprune.lower.isa.neon import _padded, gemm_bias, rq_fields
from edgeprune.lower.program import KernelCall, Scratch
from edgeprune.lower.specialize import specializer

# SDOT: above the dense SDOT GEMM (21). SMLAL: above the dense SMLAL GEMM (20) but below the dense SDOT one, so that
# on the Pi 5 a layer the SDOT cost model leaves dense goes to the dense SDOT kernel, not to the sparse SMLAL one.
PRIORITY_SDOT = 26
PRIORITY_SMLAL = 20.5
MODE = "auto"  # "auto": the cheaper kernel per layer; "dense" / "sparse" force one (bench/sparse.py, tests)
OC = 8  # output channels per block (EP_SPARSE_NEON_OC)
PIXELS = 8  # GEMM rows per step (EP_SPARSE_NEON_PIXELS)
MAX_GROUPS = 32767  # int16 group indices
GEOMETRY = ("batches", "in_h", "in_w", "in_c", "filter_h", "filter_w", "out_h", "out_w", "out_c",
            "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w")


@dataclass(frozen=True)
class GemmCost:
    """Instructions of the sparse and dense kernels per GEMM unit: 4 rows (pixels) for the SMLAL kernels (a tile of 8
    runs as two quads, a tail of at most 4 as one), 8 rows for SDOT. Least-squares fits to whole-layer QEMU counts
    (bench/sparse.py --target aarch64: conv 1x1 / 3x3 layers at 8x4 densities 0.125-0.75, within 2.5%); the per-block
    terms are the asm loops' (A72: 63 instructions per two blocks per quad; SDOT: 42 per two blocks).
    sparse: per 16-byte step of K (the group table), per stored block, per 8-channel group (accumulators,
    requantization, stores), per unit (the driver); FC adds the double rescale per output. dense: the dense NEON GEMM
    per output-channel tile (4 channels on the A72, 8 with SDOT) and step, per tile, per unit. The dense terms were
    refit after the dense GEMM tiles moved into asm (within 0.3% on the four bench conv layers). FC dense is
    ep_fully_connected_s8, whose AArch64 build runs four units per 16-element step (SMULL + SADALP on the A72, SDOT
    on the A76): per MAC of the 16-element steps, per element of the depth tail (scalar), per output (the double
    rescale), per batch (the input sum), fit to six FC layers (depth 100-640, 8-640 units; within 3%)."""

    sparse_per_step: float
    sparse_per_block: float
    sparse_per_group: float
    sparse_per_unit: float
    fc_per_output: float
    dense_tile_oc: int
    dense_per_tile_step: float
    dense_per_tile: float
    dense_per_unit: float
    unit_rows: int
    fc_dense_per_mac: float
    fc_dense_per_tail: float
    fc_dense_per_output: float
    fc_dense_per_batch: float
    # Packed dense SDOT convs (in_c % 16 == 0, not direct: neon_gemm.h planes or 16-channel rows in place, a whole
    # output row per call): per tile and step (3-tap filter rows at stride 1, whose taps share loads; others), per
    # tile, per unit, per byte of the padded input (the planes' copy). Fit to 11 3x3 / 5x5 layers, strides 1 and 2,
    # 16-64 channels (bench/sparse.py's dense SDOT counts; within 5%). None: no packed dense kernel.
    packed: tuple[float, float, float, float, float] | None = None

    def units(self, rows: int) -> int:
        """GEMM units for `rows` rows, walked 8 at a time."""
        full, tail = divmod(rows, 8)
        per_tile = 8 // self.unit_rows
        return full * per_tile + (0 if tail == 0 else -(-tail // self.unit_rows))

    def sparse(self, rows: int, steps: int, blocks: int, groups: int, fc: bool = False) -> float:
        per_unit = (self.sparse_per_step * steps + self.sparse_per_block * blocks + self.sparse_per_group * groups
                    + self.sparse_per_unit)
        return self.units(rows) * per_unit + (self.fc_per_output * rows * groups * 8 if fc else 0.0)

    def dense(self, rows: int, steps: int, out_c: int, geometry: dict | None = None) -> float:
        tiles = -(-out_c // self.dense_tile_oc)
        if self.packed is not None and geometry is not None and packed_dense(geometry):
            per_step_triples, per_step, per_tile, per_unit, per_byte = self.packed
            g = geometry
            triples = g["filter_w"] == 3 and g["stride_w"] == 1
            padded_h, padded_w, _ = _padded(g)
            return (self.units(rows) * (tiles * ((per_step_triples if triples else per_step) * steps + per_tile)
                                        + per_unit) + per_byte * g["batches"] * padded_h * padded_w * g["in_c"])
        return self.units(rows) * (tiles * (self.dense_per_tile_step * steps + self.dense_per_tile)
                                   + self.dense_per_unit)

    def fc_dense(self, rows: int, depth: int, units: int) -> float:
        tail = depth % 16
        return rows * (units * (self.fc_dense_per_mac * (depth - tail) + self.fc_dense_per_tail * tail
                                + self.fc_dense_per_output) + self.fc_dense_per_batch)


COST = {
    "smlal": GemmCost(sparse_per_step=33.0, sparse_per_block=31.5, sparse_per_group=111.3, sparse_per_unit=205.1,
                      fc_per_output=36.7, dense_tile_oc=4, dense_per_tile_step=54.2, dense_per_tile=55.7,
                      dense_per_unit=272.3, unit_rows=4, fc_dense_per_mac=0.535, fc_dense_per_tail=9.28,
                      fc_dense_per_output=47.1, fc_dense_per_batch=163.3),
    "sdot": GemmCost(sparse_per_step=36.9, sparse_per_block=20.9, sparse_per_group=136.1, sparse_per_unit=438.5,
                     fc_per_output=27.9, dense_tile_oc=8, dense_per_tile_step=72.9, dense_per_tile=112.5,
                     dense_per_unit=506.8, unit_rows=8, fc_dense_per_mac=0.254, fc_dense_per_tail=9.36,
                     fc_dense_per_output=46.5, fc_dense_per_batch=171.3,
                     packed=(70.29, 72.48, 20.35, 295.5, 0.428)),
}


def packed_dense(p: dict) -> bool:
    """Whether the dense SDOT GEMM reads this conv's blocks packed (neon.py use_planes, or 16 channels at stride 1
    in place): in_c % 16 == 0, dilation_w 1, not a direct 1x1."""
    return p["in_c"] % 16 == 0 and p["dilation_w"] == 1 and not p["direct"]


def block_mask(w2: np.ndarray) -> np.ndarray:
    """bool [ceil(oc/8)][ceil(K/4)]: which 8 x 4 blocks hold a non-zero weight."""
    oc, k = w2.shape
    padded = np.zeros((-(-oc // OC) * OC, -(-k // 4) * 4), dtype=np.int8)
    padded[:oc, :k] = w2
    return np.any(padded.reshape(-1, OC, padded.shape[1] // 4, 4) != 0, axis=(1, 3))


def pack_blocks(w2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[oc, K] int8 -> (int8 [stored blocks][8 oc][4 k], int16 stream: per 8-channel group its count, then its
    groups in ascending order)."""
    oc, k = w2.shape
    padded = np.zeros((-(-oc // OC) * OC, -(-k // 4) * 4), dtype=np.int8)
    padded[:oc, :k] = w2
    blocks = padded.reshape(-1, OC, padded.shape[1] // 4, 4).transpose(0, 2, 1, 3)  # [group][g][8][4]
    mask = block_mask(w2)
    weights = np.ascontiguousarray(blocks[mask]).reshape(-1).astype(np.int8)
    stream: list[int] = []
    for row in mask:
        kept = np.nonzero(row)[0]
        stream += [len(kept), *kept.tolist()]
    return weights, np.asarray(stream, dtype=np.int16)



def scratch_bytes(p: dict, sdot: bool) -> int:
    """The group table, then the dense NEON GEMM driver's scratch (padded input, im2col rows + 16, step offsets)."""
    table = p["k_padded"] * (8 if sdot else 16)
    steps = -(-(4 * (p["k_padded"] // 16)) // 16) * 16
    if p["direct"]:
        return table + steps
    padded_h, padded_w, copy = _padded(p)
    nbytes = -(-(padded_h * padded_w * p["in_c"]) // 16) * 16 if copy else 0
    if not (p["dilation_w"] == 1 and (p["filter_w"] * p["in_c"]) % 16 == 0):
        nbytes += PIXELS * p["k_padded"] + 16
    return table + nbytes + steps


def estimate(w2: np.ndarray, rows: int, sdot: bool, fc: bool = False,
             geometry: dict | None = None) -> tuple[float, float]:
    """(sparse, dense) instructions of the layer's GEMM over `rows` rows (pixels x batches, or FC batches);
    geometry: the conv's params (the dense SDOT GEMM's packed layers cost less)."""
    cost = COST["sdot" if sdot else "smlal"]
    oc, k = w2.shape
    mask = block_mask(w2)
    steps = -(-k // 16)
    sparse = cost.sparse(rows, steps, int(mask.sum()), mask.shape[0], fc)
    dense = cost.fc_dense(rows, k, oc) if fc else cost.dense(rows, steps, oc, geometry)
    return sparse, dense


def sparse_cheaper(w2: np.ndarray, rows: int, sdot: bool, fc: bool = False, geometry: dict | None = None) -> bool:
    """Whether the sparse kernel executes fewer instructions than the dense one on these weights. A layer without an
    all-zero 8x4 block stays dense: the sparse kernel's only gain there would be skipping the dense GEMM's K padding
    (e.g. K = 40 runs 48), and unpruned layers keep the dense kernels they are tuned and tested with."""
    if -(-w2.shape[1] // 4) > MAX_GROUPS or bool(block_mask(w2).all()):
        return False
    sparse, dense = estimate(w2, rows, sdot, fc, geometry)
    return sparse < dense


def _call(call: KernelCall, w2: np.ndarray, bias: np.ndarray, params: dict, consts: dict, sdot: bool,
          fc: bool) -> KernelCall | None:
    if MODE == "dense" or (not sdot and w2.size and int(w2.min()) < -127):
        return None  # the int16 pair sums of the SMLAL kernel need weights in [-127, 127]
    if -(-w2.shape[1] // 4) > MAX_GROUPS:
        return None
    rows = params["batches"] * params["out_h"] * params["out_w"]
    if MODE == "auto" and not sparse_cheaper(w2, rows, sdot, fc, None if fc else params):
        # Dense is cheaper. FC has no dense NEON kernel: on the Pi 5 keep the portable call here (declining would
        # hand it to the sparse SMLAL specializer, priced against its own, slower GEMM).
        return call if fc and sdot else None
    weights, stream = pack_blocks(w2)
    folded = bias + int(params["input_zero_point"]) * -1 * w2.astype(np.int64).sum(axis=1)
    mult = consts.pop("out_multiplier", np.zeros(w2.shape[0], dtype=np.int64))
    shift = consts.pop("out_shift", np.zeros(w2.shape[0], dtype=np.int64))
    consts.update(rq=rq_fields(folded, mult, shift, OC), filter=weights, blocks=stream)
    kind = "fully_connected" if fc else "conv2d"
    func = f"ep_{kind}_s8_sparse_{'sdot' if sdot else 'neon'}"
    scratch = Scratch(scratch_bytes(params, sdot), name="sparse_table")
    return KernelCall(call.op, func, "ep_sparse_neon_params", params=params, consts=consts,
                      args=[call.args[0], scratch, call.args[3]])


def _common(p: dict, off: int, left_shifts: int, all_right: int, k: int) -> dict:
    return {"input_zero_point": -off, "output_offset": int(p["output_offset"]), "act_min": int(p["act_min"]),
            "act_max": int(p["act_max"]), "k_padded": -(-k // 16) * 16, "left_shifts": left_shifts,
            "all_right": all_right}


def _conv2d(call: KernelCall, sdot: bool) -> KernelCall | None:
    p = call.params
    if MODE == "dense":
        return None
    w = const_arg(call, 1)
    oc = int(p["out_c"])
    bias = gemm_bias(call, oc)
    if w is None or bias is None or w.ndim != 4 or w.shape != (oc, p["filter_h"], p["filter_w"], p["in_c"]):
        return None
    k = int(p["filter_h"]) * int(p["filter_w"]) * int(p["in_c"])
    shift = np.asarray(call.consts["out_shift"])
    params = {key: int(p[key]) for key in GEOMETRY}
    params.update(_common(p, int(p["input_offset"]), int(bool(np.any(shift > 0))), int(bool(np.all(shift < 0))), k))
    params["direct"] = int(p["filter_h"] == 1 and p["filter_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0
                           and int(p["in_c"]) % 16 == 0)
    params.update(input_scale=0.0, output_scale=0.0)
    consts = {"out_multiplier": call.consts["out_multiplier"], "out_shift": call.consts["out_shift"]}
    return _call(call, w.reshape(oc, k).astype(np.int8), bias, params, consts, sdot, fc=False)


def _fully_connected(call: KernelCall, sdot: bool) -> KernelCall | None:
    p = call.params
    if MODE == "dense" or int(p["weights_offset"]) != 0:
        return None
    w = const_arg(call, 1)
    units, depth, batches = int(p["units"]), int(p["depth"]), int(p["batches"])
    bias = gemm_bias(call, units)
    if w is None or bias is None or w.shape != (units, depth) or batches <= 0:
        return None
    geo = {"batches": 1, "in_h": 1, "in_w": batches, "in_c": depth, "filter_h": 1, "filter_w": 1, "out_h": 1,
           "out_w": batches, "out_c": units, "stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1,
           "pad_h": 0, "pad_w": 0}
    params = dict(geo)
    params.update(_common(p, int(p["input_offset"]), 0, 0, depth))
    params["direct"] = int(depth % 16 == 0)
    params.update(input_scale=float(p["input_scale"]), output_scale=float(p["output_scale"]))
    consts = {"filter_scales": np.asarray(call.consts["filter_scales"], dtype=np.float32)}
    return _call(call, w.astype(np.int8), bias, params, consts, sdot, fc=True)


@specializer("ep_conv2d_s8", requires={"neon"}, priority=PRIORITY_SMLAL)
def conv2d_sparse_neon(call: KernelCall) -> KernelCall | None:
    return _conv2d(call, sdot=False)


@specializer("ep_conv2d_s8", requires={"neon", "dotprod"}, priority=PRIORITY_SDOT)
def conv2d_sparse_sdot(call: KernelCall) -> KernelCall | None:
    return _conv2d(call, sdot=True)


@specializer("ep_fully_connected_s8", requires={"neon"}, priority=PRIORITY_SMLAL)
def fully_connected_sparse_neon(call: KernelCall) -> KernelCall | None:
    return _fully_connected(call, sdot=False)


@specializer("ep_fully_connected_s8", requires={"neon", "dotprod"}, priority=PRIORITY_SDOT)
def fully_connected_sparse_sdot(call: KernelCall) -> KernelCall | None:
    return _fully_connected(call, sdot=True)
