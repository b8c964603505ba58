"""Lowering of AVERAGE_POOL_2D, MAX_POOL_2D and MEAN (int8 and float32)."""

from __future__ import annotations

import numpy as np

from edgeprune.errors import UnsupportedOpError
from edgeprune.ir import Op, Tensor
from edgeprune.lower.program import KernelCall, Scratch, register
from edgeprune.lower.quant import activation_range_quantized, compute_padding, f32, quantize_multiplier

FLT_MAX = 3.4028235e38
MEAN_DIMS = 6


def _float_range(op: Op) -> tuple[float, float]:
    act = op.attrs.get("fused_activation", "NONE")
    ranges = {"NONE": (-FLT_MAX, FLT_MAX), "RELU": (0.0, FLT_MAX), "RELU6": (0.0, 6.0),
              "RELU_N1_TO_1": (-1.0, 1.0)}
    if act not in ranges:
        raise UnsupportedOpError(f"{op.kind}: fused activation {act} is not supported (operator {op.index})")
    return ranges[act]


def _check_dtype(op: Op, x: Tensor, y: Tensor) -> str:
    if x.dtype != y.dtype or x.dtype not in ("int8", "float32"):
        raise UnsupportedOpError(
            f"{op.kind} on {x.dtype} -> {y.dtype} is not supported, only int8 or float32 (operator {op.index})")
    if x.dtype == "int8":
        for t in (x, y):
            if t.quant is None:
                raise UnsupportedOpError(f"{op.kind}: int8 tensor '{t.name}' has no quantization (operator {op.index})")
            if t.quant.per_channel:
                raise UnsupportedOpError(
                    f"{op.kind}: per-channel quantized tensor '{t.name}' is not supported (operator {op.index})")
    return x.dtype


def _lower_pool(op: Op, name: str) -> KernelCall:
    x, y = op.inputs[0], op.outputs[0]
    dtype = _check_dtype(op, x, y)
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise UnsupportedOpError(f"{op.kind}: input must be 4-D NHWC, got {x.shape} (operator {op.index})")
    n, h, w, c = x.shape
    a = op.attrs
    fh, fw = int(a.get("filter_height", 0)), int(a.get("filter_width", 0))
    sh, sw = int(a.get("stride_h", 0)), int(a.get("stride_w", 0))
    if min(fh, fw, sh, sw) <= 0:
        raise UnsupportedOpError(f"{op.kind}: filter and stride must be positive (operator {op.index})")
    padding = a.get("padding", "VALID")
    out_h, pad_h = compute_padding(h, fh, sh, 1, padding)
    out_w, pad_w = compute_padding(w, fw, sw, 1, padding)
    if (out_h, out_w) != (y.shape[1], y.shape[2]) or y.shape[0] != n or y.shape[3] != c:
        raise UnsupportedOpError(
            f"{op.kind}: output shape {y.shape} does not match the computed {(n, out_h, out_w, c)} "
            f"(operator {op.index})")
    if out_h <= 0 or out_w <= 0:
        raise UnsupportedOpError(f"{op.kind}: empty output (operator {op.index})")
    params = dict(batches=n, in_h=h, in_w=w, channels=c, out_h=out_h, out_w=out_w, filter_h=fh, filter_w=fw,
                  stride_h=sh, stride_w=sw, pad_h=pad_h, pad_w=pad_w)
    if dtype == "float32":
        lo, hi = _float_range(op)
        params.update(act_min=lo, act_max=hi)
        func = f"ep_{name}_f32"
        return KernelCall(op, func, f"{func}_params", params=params, args=[x, y])
    # TFLite computes int8 pools on raw values: they are only meaningful with equal quantization.
    if abs(f32(x.quant.scalar_scale) - f32(y.quant.scalar_scale)) > 1e-6 or \
            x.quant.scalar_zero_point != y.quant.scalar_zero_point:
        raise UnsupportedOpError(
            f"{op.kind}: int8 input and output quantization differ ({x.quant.scalar_scale}, "
            f"{x.quant.scalar_zero_point}) vs ({y.quant.scalar_scale}, {y.quant.scalar_zero_point}) "
            f"(operator {op.index})")
    lo, hi = activation_range_quantized(a.get("fused_activation", "NONE"), y)
    params.update(act_min=lo, act_max=hi)
    func = f"ep_{name}_s8"
    args: list = [x, y]
    if name == "avg_pool":
        args.append(Scratch(4 * c, name=f"op{op.index}_acc"))
    return KernelCall(op, func, f"{func}_params", params=params, args=args)


@register("AVERAGE_POOL_2D")
def lower_avg_pool(op: Op) -> KernelCall:
    return _lower_pool(op, "avg_pool")


@register("MAX_POOL_2D")
def lower_max_pool(op: Op) -> KernelCall:
    return _lower_pool(op, "max_pool")


def _constant_ints(op: Op, t: Tensor | None, what: str) -> list[int]:
    if t is None or not t.is_constant:
        raise UnsupportedOpError(f"{op.kind}: {what} must be a constant tensor (operator {op.index})")
    if t.dtype != "int32":  # TFLite's reduce kernels only take int32 axes
        raise UnsupportedOpError(f"{op.kind}: {what} of type {t.dtype} is not supported (operator {op.index})")
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def mean_geometry(op: Op, shape: tuple[int, ...], axes: list[int]) -> tuple[dict, int, int]:
    """(params with dims/out_strides/num_outputs/num_reduced, outputs, reduced count)."""
    rank = len(shape)
    resolved: list[int] = []
    for ax in axes:
        r = ax + rank if ax < 0 else ax
        if not 0 <= r < rank:
            raise UnsupportedOpError(f"{op.kind}: axis {ax} is out of range for rank {rank} (operator {op.index})")
        if r not in resolved:
            resolved.append(r)
    reduced = [i in resolved for i in range(rank)]
    num_reduced = int(np.prod([shape[i] for i in resolved], dtype=np.int64)) if resolved else 1
    num_outputs = int(np.prod([shape[i] for i in range(rank) if not reduced[i]], dtype=np.int64)) if rank else 1
    # Merge adjacent dims of the same kind; size-1 dims do not matter.
    groups: list[list] = []  # [extent, is_reduced], outermost first
    for d, red in zip(shape, reduced):
        if d == 1:
            continue
        if groups and groups[-1][1] == red:
            groups[-1][0] *= d
        else:
            groups.append([d, red])
    if len(groups) > MEAN_DIMS:
        raise UnsupportedOpError(f"{op.kind}: more than {MEAN_DIMS} dims (operator {op.index})")
    strides, acc = [], 1
    for d, red in reversed(groups):
        strides.append(0 if red else acc)
        if not red:
            acc *= d
    strides.reverse()
    pad = MEAN_DIMS - len(groups)
    params = {"dims": [1] * pad + [g[0] for g in groups], "out_strides": [0] * pad + strides,
              "num_outputs": num_outputs, "num_reduced": num_reduced}
    return params, num_outputs, num_reduced


@register("MEAN")
def lower_mean(op: Op) -> KernelCall:
    if len(op.inputs) < 2:
        raise UnsupportedOpError(f"MEAN needs an axis input (operator {op.index})")
    x, y = op.inputs[0], op.outputs[0]
    dtype = _check_dtype(op, x, y)
    axes = _constant_ints(op, op.inputs[1], "the axis")
    if x.num_elements == 0:
        raise UnsupportedOpError(f"MEAN of an empty tensor is not supported (operator {op.index})")
    params, num_outputs, num_reduced = mean_geometry(op, x.shape, axes)
    if num_outputs != y.num_elements:
        raise UnsupportedOpError(f"MEAN: output shape {y.shape} does not match the reduction (operator {op.index})")
    if dtype == "float32":
        return KernelCall(op, "ep_mean_f32", "ep_mean_f32_params", params=params, args=[x, y])
    if num_reduced >= 1 << 24:
        raise UnsupportedOpError(f"MEAN over {num_reduced} elements may overflow int32 sums (operator {op.index})")
    # PrepareMeanOrSum, then QuantizedMeanOrSum folds 1/count into the multiplier.
    mult, shift = quantize_multiplier(f32(x.quant.scalar_scale) / f32(y.quant.scalar_scale))
    s = min(num_reduced.bit_length() - 1, 32, 31 + shift)
    mult = (mult << s) // num_reduced if s >= 0 else mult >> -s
    shift -= s
    params.update(input_zero_point=x.quant.scalar_zero_point, output_zero_point=y.quant.scalar_zero_point,
                  multiplier=int(mult), shift=int(shift))
    return KernelCall(op, "ep_mean_s8", "ep_mean_s8_params", params=params,
                      args=[x, y, Scratch(4 * num_outputs, name=f"op{op.index}_sums")])
