"""Cost model on the IR: MACs, FLOPs, parameters, weight and activation bytes per layer and in total, and
the weight density of block-sparse layers (non-zero MACs; the latency estimate counts what sparse kernels skip).

`inspect`, the pruner and the build report all read these numbers, so they agree by construction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from edgeprune.ir import Graph, Op

# Inputs that are compile-time shape information rather than model parameters.
_SHAPE_OPERANDS = {"RESHAPE", "PAD", "TRANSPOSE", "MEAN", "SQUEEZE"}


@dataclass
class LayerCost:
    index: int
    op: str
    output_shape: tuple[int, ...]
    macs: int
    flops: int
    params: int
    weight_bytes: int
    activation_bytes: int  # bytes of the op's outputs
    density: float = 1.0  # share of non-zero weights of a CONV_2D / FULLY_CONNECTED filter (block sparsity)
    # share of non-empty blocks of (rows) output channels x 4 filter inputs, by rows (2: Armv7E-M DSP, 8: NEON)
    block_density: dict[int, float] = field(default_factory=dict)

    @property
    def nonzero_macs(self) -> int:
        return round(self.macs * self.density)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["output_shape"] = list(self.output_shape)
        return d


def _elements(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def op_macs(op: Op) -> int:
    out = op.outputs[0]
    if op.kind == "CONV_2D":
        f = op.inputs[1]
        _, kh, kw, cin_per_group = f.shape
        return _elements(out.shape) * kh * kw * cin_per_group
    if op.kind == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = op.inputs[1].shape
        return _elements(out.shape) * kh * kw
    if op.kind == "FULLY_CONNECTED":
        return _elements(out.shape) * op.inputs[1].shape[-1]
    return 0


def op_flops(op: Op) -> int:
    macs = op_macs(op)
    out_elems = _elements(op.outputs[0].shape)
    if macs:
        bias = out_elems if len(op.inputs) > 2 and op.inputs[2] is not None else 0
        return 2 * macs + bias
    if op.kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return out_elems * op.attrs.get("filter_height", 1) * op.attrs.get("filter_width", 1)
    if op.kind == "MEAN":
        return _elements(op.inputs[0].shape)
    if op.kind in ("ADD", "MUL", "RELU", "RELU6", "LOGISTIC", "HARD_SWISH", "QUANTIZE", "DEQUANTIZE"):
        return out_elems
    if op.kind == "SOFTMAX":
        return 3 * out_elems
    return 0


def weight_density(op: Op) -> float:
    """Share of non-zero weights in a CONV_2D / FULLY_CONNECTED filter (1.0 for other ops): what block-sparse
    kernels skip (edgeprune/prune/sparsity.py)."""
    if op.kind not in ("CONV_2D", "FULLY_CONNECTED") or len(op.inputs) < 2 or op.inputs[1] is None:
        return 1.0
    w = op.inputs[1]
    if not w.is_constant or w.data is None or w.num_elements == 0:
        return 1.0
    return float(np.count_nonzero(w.data)) / w.num_elements


BLOCK_ROWS = (2, 8)  # the block heights of the sparse kernels (edgeprune/lower/isa/dsp_sparse.py, neon_sparse.py)


def block_densities(op: Op, density: float) -> dict[int, float]:
    """Share of (rows x 4) blocks of a CONV_2D / FULLY_CONNECTED filter ([out][kh][kw][in] as rows x K) holding a
    non-zero weight, per block height in BLOCK_ROWS; {} for other ops and dense filters (`density`: the op's
    weight_density)."""
    if density >= 1.0:
        return {}
    data = np.asarray(op.inputs[1].data)
    rows = data.reshape(data.shape[0], -1) != 0
    out = {}
    for r in BLOCK_ROWS:
        padded = np.zeros((-(-rows.shape[0] // r) * r, -(-rows.shape[1] // 4) * 4), dtype=bool)
        padded[:rows.shape[0], :rows.shape[1]] = rows
        blocks = padded.reshape(padded.shape[0] // r, r, -1, 4).any(axis=(1, 3))
        out[r] = float(blocks.mean())
    return out


def op_param_tensors(op: Op):
    if op.kind in _SHAPE_OPERANDS:
        return [t for t in op.inputs[:1] if t is not None and t.is_constant]
    return [t for t in op.inputs if t is not None and t.is_constant]


def layer_costs(graph: Graph) -> list[LayerCost]:
    layers = []
    for op in graph.ops:
        params = op_param_tensors(op)
        density = weight_density(op)
        layers.append(
            LayerCost(
                index=op.index,
                op=op.kind,
                output_shape=tuple(op.outputs[0].shape),
                macs=op_macs(op),
                flops=op_flops(op),
                params=sum(t.num_elements for t in params),
                weight_bytes=sum(t.nbytes for t in params),
                activation_bytes=sum(t.nbytes for t in op.outputs),
                density=density,
                block_density=block_densities(op, density),
            )
        )
    return layers


def totals(layers: list[LayerCost]) -> dict:
    return {
        "macs": sum(x.macs for x in layers),
        "nonzero_macs": sum(x.nonzero_macs for x in layers),
        "flops": sum(x.flops for x in layers),
        "params": sum(x.params for x in layers),
        "weight_bytes": sum(x.weight_bytes for x in layers),
    }


_CYCLE_KEYS = {
    "CONV_2D": ("conv_cycles_per_mac", "macs"),
    "DEPTHWISE_CONV_2D": ("depthwise_cycles_per_mac", "macs"),
    "FULLY_CONNECTED": ("fc_cycles_per_mac", "macs"),
    "AVERAGE_POOL_2D": ("pool_cycles_per_element", "flops"),
    "MAX_POOL_2D": ("pool_cycles_per_element", "flops"),
    "MEAN": ("pool_cycles_per_element", "flops"),
}


def sparse_share(layer: LayerCost, cost: dict) -> float:
    """The share of a GEMM layer's dense cycles its block-sparse kernel takes: sparse_fixed_share +
    sparse_mac_share x the density of the target's blocks (sparse_block_rows x 4; profile coefficients fitted to
    bench/sparse.py), never above 1 (the lowering keeps the dense kernel where it is cheaper); 1 on targets
    without sparse kernels."""
    if layer.op not in ("CONV_2D", "FULLY_CONNECTED") or "sparse_mac_share" not in cost or layer.density >= 1.0:
        return 1.0
    rows = int(cost.get("sparse_block_rows", 2))
    density = layer.block_density.get(rows, layer.density)
    return min(1.0, float(cost.get("sparse_fixed_share", 0.0)) + float(cost["sparse_mac_share"]) * density)


def layer_cycles(layer: LayerCost, cost: dict) -> float:
    """Estimated cycles of one layer from the profile's per-kernel coefficients (a model, not a measurement)."""
    key, measure = _CYCLE_KEYS.get(layer.op, ("elementwise_cycles_per_element", "activation_bytes"))
    per_unit = float(cost.get(key, 1.0))
    amount = getattr(layer, measure)
    return per_unit * amount * sparse_share(layer, cost) + float(cost.get("layer_overhead_cycles", 0.0))


def latency_ms(layers: list[LayerCost], profile) -> float:
    cycles = sum(layer_cycles(x, dict(profile.cost)) for x in layers)
    return cycles / float(profile.clock_hz) * 1e3
