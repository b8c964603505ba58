"""Lowering of data-movement ops: RESHAPE, SQUEEZE (a copy), TRANSPOSE, PAD / PADV2, CONCATENATION."""

from __future__ import annotations

import math

import numpy as np

from edgeprune.errors import UnsupportedOpError
from edgeprune.ir import Op, Tensor
from edgeprune.lower.program import KernelCall, register
from edgeprune.lower.quant import f32


@register("RESHAPE", "SQUEEZE")
def lower_copy(op: Op) -> KernelCall:
    src, dst = op.inputs[0], op.outputs[0]
    return KernelCall(op, "ep_copy", "ep_copy_params", params={"nbytes": dst.nbytes}, args=[src, dst])


# --- TRANSPOSE, PAD / PADV2, CONCATENATION ---------------------------------------------------------

SHAPE_DIMS = 6
_SUFFIX = {"int8": "s8", "float32": "f32"}


def _suffix(op: Op, *tensors: Tensor) -> str:
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) != 1 or tensors[0].dtype not in _SUFFIX:
        raise UnsupportedOpError(
            f"{op.kind} on {sorted(dtypes)} is not supported, only int8 or float32 (operator {op.index})")
    return _SUFFIX[tensors[0].dtype]


def _constant_ints(op: Op, t: Tensor | None, what: str) -> np.ndarray:
    if t is None or not t.is_constant:
        raise UnsupportedOpError(f"{op.kind}: {what} must be a constant tensor (operator {op.index})")
    if t.dtype not in ("int32", "int64"):
        raise UnsupportedOpError(f"{op.kind}: {what} of type {t.dtype} is not supported (operator {op.index})")
    return np.asarray(t.data, dtype=np.int64)


@register("TRANSPOSE")
def lower_transpose(op: Op) -> KernelCall:
    x, y = op.inputs[0], op.outputs[0]
    sfx = _suffix(op, x, y)
    perm = [int(v) for v in _constant_ints(op, op.inputs[1] if len(op.inputs) > 1 else None, "perm").reshape(-1)]
    rank = len(x.shape)
    perm = [p + rank if p < 0 else p for p in perm]
    if sorted(perm) != list(range(rank)):
        raise UnsupportedOpError(f"TRANSPOSE: {perm} is not a permutation of rank {rank} (operator {op.index})")
    out_shape = tuple(x.shape[p] for p in perm)
    if out_shape != tuple(y.shape):
        raise UnsupportedOpError(f"TRANSPOSE: output shape {y.shape} is not {out_shape} (operator {op.index})")
    in_strides = [1] * rank
    for i in range(rank - 2, -1, -1):
        in_strides[i] = in_strides[i + 1] * x.shape[i + 1]
    dims: list[list[int]] = []  # [extent, input stride], outermost first
    for k in range(rank - 1, -1, -1):
        d, s = out_shape[k], in_strides[perm[k]]
        if d == 1:
            continue
        if dims and s == dims[0][1] * dims[0][0]:
            dims[0][0] *= d
        else:
            dims.insert(0, [d, s])
    if len(dims) > SHAPE_DIMS:
        raise UnsupportedOpError(f"TRANSPOSE: more than {SHAPE_DIMS} dims (operator {op.index})")
    dims = [[1, 0]] * (SHAPE_DIMS - len(dims)) + dims
    func = f"ep_transpose_{sfx}"
    return KernelCall(op, func, f"{func}_params", params={"dims": [d[0] for d in dims],
                                                          "in_strides": [d[1] for d in dims]}, args=[x, y])


@register("PAD", "PADV2")
def lower_pad(op: Op) -> KernelCall:
    x, y = op.inputs[0], op.outputs[0]
    sfx = _suffix(op, x, y)
    rank = len(x.shape)
    pads = _constant_ints(op, op.inputs[1] if len(op.inputs) > 1 else None, "paddings")
    if rank > 5:  # TFLite's PAD stops at 5 dims (PadKernelMaxDimensionCount)
        raise UnsupportedOpError(f"PAD of a rank-{rank} tensor is not supported, at most 5 dims (operator {op.index})")
    if pads.shape != (rank, 2) or (pads < 0).any():
        raise UnsupportedOpError(
            f"PAD: paddings of shape {pads.shape} do not fit an input of rank {rank} (operator {op.index})")
    out_shape = tuple(int(d + p[0] + p[1]) for d, p in zip(x.shape, pads))
    if out_shape != tuple(y.shape):
        raise UnsupportedOpError(f"PAD: output shape {y.shape} is not {out_shape} (operator {op.index})")
    cv = op.inputs[2] if len(op.inputs) > 2 else None
    if cv is not None:
        if not cv.is_constant or cv.num_elements != 1 or cv.dtype != x.dtype:
            raise UnsupportedOpError(
                f"PADV2: constant_values must be a constant {x.dtype} scalar (operator {op.index})")
        value = np.asarray(cv.data).reshape(-1)[0]
    if sfx == "s8":
        if cv is not None:
            if x.quant is not None:
                if cv.quant is None or f32(cv.quant.scalar_scale) != f32(y.quant.scalar_scale) or \
                        cv.quant.scalar_zero_point != y.quant.scalar_zero_point:
                    raise UnsupportedOpError(
                        f"PADV2: constant_values must be quantized as the output (operator {op.index})")
            pad_value = int(value)
        else:
            pad_value = y.quant.scalar_zero_point if (x.quant is not None and y.quant is not None) else 0
            if not -128 <= pad_value <= 127:
                raise UnsupportedOpError(f"PAD: output zero point {pad_value} is outside int8 (operator {op.index})")
    else:
        pad_value = float(value) if cv is not None else 0.0
        if not math.isfinite(pad_value):
            raise UnsupportedOpError(f"PADV2: non-finite constant value {pad_value} (operator {op.index})")
    # Merge each dim without padding into its outer neighbour.
    groups: list[list[int]] = []  # [in extent, before, after], outermost first
    for d, (b, a) in reversed(list(zip(x.shape, pads.tolist()))):
        if groups and groups[0][1] == 0 and groups[0][2] == 0:
            inner = groups[0][0]
            groups[0] = [d * inner, b * inner, a * inner]
        else:
            groups.insert(0, [int(d), int(b), int(a)])
    if len(groups) > SHAPE_DIMS:
        raise UnsupportedOpError(f"PAD: more than {SHAPE_DIMS} dims (operator {op.index})")
    groups = [[1, 0, 0]] * (SHAPE_DIMS - len(groups)) + groups
    func = f"ep_pad_{sfx}"
    params = {"in_dims": [g[0] for g in groups], "pad_before": [g[1] for g in groups],
              "pad_after": [g[2] for g in groups], "pad_value": pad_value}
    return KernelCall(op, func, f"{func}_params", params=params, args=[x, y])


@register("CONCATENATION")
def lower_concat(op: Op) -> list[KernelCall]:
    y = op.outputs[0]
    inputs = [t for t in op.inputs if t is not None]
    if not inputs:
        raise UnsupportedOpError(f"CONCATENATION without inputs (operator {op.index})")
    sfx = _suffix(op, y, *inputs)
    if op.attrs.get("fused_activation", "NONE") not in (None, "NONE"):
        raise UnsupportedOpError(
            f"CONCATENATION: fused activation {op.attrs['fused_activation']} is not supported, TFLite only "
            f"implements NONE (operator {op.index})")
    rank = len(y.shape)
    axis = int(op.attrs.get("axis", 0))
    if axis < 0:
        axis += rank
    if not 0 <= axis < rank:
        raise UnsupportedOpError(f"CONCATENATION: axis {op.attrs.get('axis')} out of range (operator {op.index})")
    if sfx == "s8":
        # TFLite's int8 concatenation does not rescale: every input must be quantized as the output.
        for t in inputs:
            if t.quant is None or y.quant is None or f32(t.quant.scalar_scale) != f32(y.quant.scalar_scale) or \
                    t.quant.scalar_zero_point != y.quant.scalar_zero_point:
                raise UnsupportedOpError(
                    f"CONCATENATION: int8 input '{t.name}' is quantized differently from the output; TFLite "
                    f"requires equal scales and zero points (operator {op.index})")
    total = 0
    for t in inputs:
        if len(t.shape) != rank or any(t.shape[d] != y.shape[d] for d in range(rank) if d != axis):
            raise UnsupportedOpError(
                f"CONCATENATION: input shape {t.shape} does not fit {y.shape} (operator {op.index})")
        total += t.shape[axis]
    if total != y.shape[axis]:
        raise UnsupportedOpError(f"CONCATENATION: inputs do not add up to the output shape (operator {op.index})")
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = int(np.prod(y.shape[axis + 1:], dtype=np.int64))
    out_row = y.shape[axis] * inner
    func = f"ep_concat_{sfx}"
    calls, offset = [], 0
    for t in inputs:
        in_row = t.shape[axis] * inner
        if in_row > 0 or not calls:
            calls.append(KernelCall(op, func, f"{func}_params",
                                    params={"outer": outer, "in_row": in_row, "out_row": out_row, "offset": offset},
                                    args=[t, y]))
        offset += in_row
    return calls
