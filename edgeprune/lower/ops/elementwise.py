"""Lowering of elementwise ops: ADD, MUL (int8 and float32), with TFLite broadcasting."""

from __future__ import annotations

import math

import numpy as np

from edgeprune.errors import UnsupportedOpError
from edgeprune.ir import Op, Tensor
from edgeprune.lower.program import KernelCall, register
from edgeprune.lower.quant import activation_range_quantized, f32, quantize_multiplier

BCAST_DIMS = 6
FLT_MAX = 3.4028235e38


def _contiguous_strides(shape: tuple[int, ...]) -> list[int]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= int(d)
    return strides[::-1]


def broadcast_geometry(op: Op, a: Tensor, b: Tensor, out: Tensor) -> dict:
    """The shape fields of the elementwise params: a flat loop, or merged 6-D dims with per-input strides."""
    n = out.num_elements
    if a.num_elements == n and b.num_elements == n:
        return {"size": n, "broadcast": 0, "dims": [1] * BCAST_DIMS, "strides1": [0] * BCAST_DIMS,
                "strides2": [0] * BCAST_DIMS}
    rank = max(len(a.shape), len(b.shape))
    sa = (1,) * (rank - len(a.shape)) + tuple(a.shape)
    sb = (1,) * (rank - len(b.shape)) + tuple(b.shape)
    try:
        shape = tuple(int(d) for d in np.broadcast_shapes(sa, sb))
    except ValueError:
        raise UnsupportedOpError(
            f"{op.kind}: shapes {a.shape} and {b.shape} do not broadcast (operator {op.index})") from None
    if shape != (1,) * (len(shape) - len(out.shape)) + tuple(out.shape) and shape != tuple(out.shape):
        raise UnsupportedOpError(
            f"{op.kind}: output shape {out.shape} is not the broadcast shape {shape} (operator {op.index})")
    ta = [s if d != 1 else 0 for s, d in zip(_contiguous_strides(sa), sa)]
    tb = [s if d != 1 else 0 for s, d in zip(_contiguous_strides(sb), sb)]
    # Merge adjacent dims (innermost first) whenever both inputs walk them contiguously.
    dims: list[list[int]] = []  # [extent, stride_a, stride_b], outermost first
    for d, x, y in reversed(list(zip(shape, ta, tb))):
        if d == 1:
            continue
        if dims:
            inner = dims[0]
            if x == inner[1] * inner[0] and y == inner[2] * inner[0]:
                inner[0] *= d  # the inner strides stay
                continue
        dims.insert(0, [d, x, y])
    if len(dims) > BCAST_DIMS:
        raise UnsupportedOpError(f"{op.kind}: broadcast over more than {BCAST_DIMS} dims (operator {op.index})")
    dims = [[1, 0, 0]] * (BCAST_DIMS - len(dims)) + dims
    return {"size": n, "broadcast": 1, "dims": [d[0] for d in dims], "strides1": [d[1] for d in dims],
            "strides2": [d[2] for d in dims]}


def _float_range(op: Op) -> tuple[float, float]:
    act = op.attrs.get("fused_activation", "NONE")
    ranges = {"NONE": (-FLT_MAX, FLT_MAX), "RELU": (0.0, FLT_MAX), "RELU6": (0.0, 6.0),
              "RELU_N1_TO_1": (-1.0, 1.0)}
    if act not in ranges:
        raise UnsupportedOpError(f"{op.kind}: fused activation {act} is not supported (operator {op.index})")
    return ranges[act]


def _operands(op: Op) -> tuple[Tensor, Tensor, Tensor, str]:
    if len(op.inputs) != 2 or any(t is None for t in op.inputs) or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{op.kind} needs two inputs and one output (operator {op.index})")
    a, b = op.inputs
    out = op.outputs[0]
    dtypes = {a.dtype, b.dtype, out.dtype}
    if len(dtypes) != 1 or out.dtype not in ("int8", "float32"):
        raise UnsupportedOpError(
            f"{op.kind} on {a.dtype} x {b.dtype} -> {out.dtype} is not supported, only int8 or float32 "
            f"(operator {op.index})")
    if out.dtype == "int8":
        for t in (a, b, out):
            if t.quant is None:
                raise UnsupportedOpError(f"{op.kind}: int8 tensor '{t.name}' has no quantization (operator {op.index})")
            if t.quant.per_channel:
                raise UnsupportedOpError(
                    f"{op.kind}: per-channel quantized operand '{t.name}' is not supported (operator {op.index})")
    return a, b, out, out.dtype


def _smaller_than_one(op: Op, real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: TFLite aborts unless 0 < real < 1 and the shift is <= 0."""
    if not (0.0 < real < 1.0):
        raise UnsupportedOpError(f"{op.kind}: {what} multiplier {real} is outside (0, 1) (operator {op.index})")
    mult, shift = quantize_multiplier(real)
    if shift > 0:
        raise UnsupportedOpError(f"{op.kind}: {what} multiplier {real} rounds to 1 (operator {op.index})")
    return mult, shift


@register("ADD")
def lower_add(op: Op) -> KernelCall:
    a, b, out, dtype = _operands(op)
    params = broadcast_geometry(op, a, b, out)
    if dtype == "float32":
        lo, hi = _float_range(op)
        params.update(act_min=lo, act_max=hi)
        return KernelCall(op, "ep_add_f32", "ep_add_f32_params", params=params, args=[a, b, out])
    s1, s2, so = f32(a.quant.scalar_scale), f32(b.quant.scalar_scale), f32(out.quant.scalar_scale)
    left_shift = 20
    twice_max = f32(2.0 * max(s1, s2))
    m1, sh1 = _smaller_than_one(op, s1 / twice_max, "input1")
    m2, sh2 = _smaller_than_one(op, s2 / twice_max, "input2")
    mo, sho = _smaller_than_one(op, twice_max / f32((1 << left_shift) * so), "output")
    lo, hi = activation_range_quantized(op.attrs.get("fused_activation", "NONE"), out)
    params.update(
        input1_offset=-a.quant.scalar_zero_point, input2_offset=-b.quant.scalar_zero_point,
        output_offset=out.quant.scalar_zero_point, left_shift=left_shift,
        input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2, input2_shift=sh2,
        output_multiplier=mo, output_shift=sho, act_min=lo, act_max=hi,
    )
    return KernelCall(op, "ep_add_s8", "ep_add_s8_params", params=params, args=[a, b, out])


@register("MUL")
def lower_mul(op: Op) -> KernelCall:
    a, b, out, dtype = _operands(op)
    params = broadcast_geometry(op, a, b, out)
    if dtype == "float32":
        lo, hi = _float_range(op)
        params.update(act_min=lo, act_max=hi)
        return KernelCall(op, "ep_mul_f32", "ep_mul_f32_params", params=params, args=[a, b, out])
    real = f32(a.quant.scalar_scale) * f32(b.quant.scalar_scale) / f32(out.quant.scalar_scale)
    if not math.isfinite(real):
        raise UnsupportedOpError(f"{op.kind}: output multiplier {real} is not finite (operator {op.index})")
    mult, shift = quantize_multiplier(real)
    lo, hi = activation_range_quantized(op.attrs.get("fused_activation", "NONE"), out)
    params.update(
        input1_offset=-a.quant.scalar_zero_point, input2_offset=-b.quant.scalar_zero_point,
        output_offset=out.quant.scalar_zero_point, output_multiplier=mult, output_shift=shift,
        act_min=lo, act_max=hi,
    )
    return KernelCall(op, "ep_mul_s8", "ep_mul_s8_params", params=params, args=[a, b, out])
