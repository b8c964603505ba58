"""Lowering of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED to the ep_conv2d_* / ep_depthwise_conv2d_* /
ep_fully_connected_* kernels (int8, float32 and hybrid float32-activation / int8-weight variants).

All fixed-point parameters are computed here as TFLite's Prepare does.
"""

from __future__ import annotations

import numpy as np

from edgeprune.errors import UnsupportedOpError
from edgeprune.ir import Op, Tensor
from edgeprune.lower.program import KernelCall, Scratch, register
from edgeprune.lower.quant import (
    activation_range_float,
    activation_range_quantized,
    compute_padding,
    f32,
    per_channel_multipliers,
)

FLT_MAX = 3.4028234663852886e38
CLAMP_ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def _where(op: Op) -> str:
    return f"{op.kind} (operator {op.index})"


def _activation(op: Op) -> str:
    act = op.attrs.get("fused_activation", "NONE") or "NONE"
    if act not in CLAMP_ACTIVATIONS:
        raise UnsupportedOpError(f"{_where(op)}: fused activation {act} is not supported")
    return act


def _float_range(act: str) -> tuple[float, float]:
    lo, hi = activation_range_float(act)
    return max(lo, -FLT_MAX), min(hi, FLT_MAX)


def _hybrid_scratch(batches: int, per_batch: int) -> Scratch:
    # Must match EP_HYBRID_SCRATCH_BYTES in conv.h.
    return Scratch(batches * 8 + batches * per_batch, name="hybrid_input")


def _bias(op: Op, channels: int, dtype: str) -> Tensor:
    """The bias input, or a zero constant when the optional bias is omitted."""
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if bias is None:
        return Tensor(name=f"op{op.index}_zero_bias", shape=(channels,), dtype=dtype,
                      data=np.zeros(channels, dtype=dtype))
    if bias.dtype != dtype:
        raise UnsupportedOpError(f"{_where(op)}: bias of type {bias.dtype} is not supported (expected {dtype})")
    if bias.num_elements != channels:
        raise UnsupportedOpError(f"{_where(op)}: bias has {bias.num_elements} elements, expected {channels}")
    if not bias.is_constant:
        raise UnsupportedOpError(f"{_where(op)}: a non-constant bias is not supported")
    return bias


def _filter_scales(op: Op, w: Tensor, channels: int, axis: int) -> np.ndarray:
    """Per-output-channel filter scales (the per-tensor scale repeated); checks symmetric weights."""
    if w.quant is None:
        raise UnsupportedOpError(f"{_where(op)}: int8 weights '{w.name}' have no quantization parameters")
    scales = np.asarray(w.quant.scale, dtype=np.float32).reshape(-1)
    if scales.size == 1:
        return np.repeat(scales, channels)
    if scales.size != channels or w.quant.axis != axis:
        raise UnsupportedOpError(
            f"{_where(op)}: weights quantized with {scales.size} scales along axis {w.quant.axis}; "
            f"expected 1 or {channels} along axis {axis}")
    return scales


def _require_zero_points(op: Op, w: Tensor) -> None:
    if w.quant is not None and np.any(np.asarray(w.quant.zero_point) != 0):
        raise UnsupportedOpError(f"{_where(op)}: weights with non-zero zero points are not supported")


def _io_quant(op: Op, t: Tensor) -> tuple[float, int]:
    if t.quant is None:
        raise UnsupportedOpError(f"{_where(op)}: tensor '{t.name}' is {t.dtype} without quantization parameters")
    if t.quant.scale.size != 1:
        raise UnsupportedOpError(f"{_where(op)}: per-channel quantized activation '{t.name}' is not supported")
    return f32(t.quant.scalar_scale), t.quant.scalar_zero_point


def _geometry(op: Op, x: Tensor, w: Tensor, y: Tensor, depthwise: bool) -> dict:
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        raise UnsupportedOpError(f"{_where(op)}: input, filter and output must be 4-D")
    n, h, wd, c = x.shape
    fh, fw = w.shape[1], w.shape[2]
    out_c = w.shape[3] if depthwise else w.shape[0]
    a = op.attrs
    sh, sw = int(a.get("stride_h", 1)), int(a.get("stride_w", 1))
    dh, dw = int(a.get("dilation_h_factor", 1) or 1), int(a.get("dilation_w_factor", 1) or 1)
    if min(sh, sw, dh, dw) <= 0:
        raise UnsupportedOpError(f"{_where(op)}: strides and dilations must be positive")
    padding = a.get("padding", "SAME")
    out_h, pad_h = compute_padding(h, fh, sh, dh, padding)
    out_w, pad_w = compute_padding(wd, fw, sw, dw, padding)
    if (n, out_h, out_w, out_c) != tuple(y.shape):
        raise UnsupportedOpError(
            f"{_where(op)}: output shape {y.shape} does not match the computed {(n, out_h, out_w, out_c)}")
    return {
        "batches": n, "in_h": h, "in_w": wd, "in_c": c, "filter_h": fh, "filter_w": fw,
        "out_h": out_h, "out_w": out_w, "out_c": out_c, "stride_h": sh, "stride_w": sw,
        "dilation_h": dh, "dilation_w": dw, "pad_h": pad_h, "pad_w": pad_w,
    }


def _int8_conv_params(op: Op, x: Tensor, w: Tensor, y: Tensor, act: str, axis: int, channels: int):
    if y.dtype != "int8":
        raise UnsupportedOpError(f"{_where(op)}: int8 input with {y.dtype} output is not supported")
    _require_zero_points(op, w)
    in_scale, in_zp = _io_quant(op, x)
    out_scale, out_zp = _io_quant(op, y)
    scales = _filter_scales(op, w, channels, axis)
    mult, shift = per_channel_multipliers(in_scale, scales, out_scale, channels)
    act_min, act_max = activation_range_quantized(act, y)
    params = {"input_offset": -in_zp, "output_offset": out_zp, "act_min": act_min, "act_max": act_max}
    consts = {"out_multiplier": mult.astype(np.int32), "out_shift": shift.astype(np.int32)}
    return params, consts


def _hybrid_per_channel(w: Tensor) -> bool:
    """TFLite takes the per-channel hybrid path only when the filter scales actually differ."""
    s = np.asarray(w.quant.scale, dtype=np.float32).reshape(-1)
    return bool(s.size > 1 and np.any(s != s[0]))


@register("CONV_2D")
def lower_conv2d(op: Op) -> KernelCall:
    x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
    act = _activation(op)
    geo = _geometry(op, x, w, y, depthwise=False)
    if w.shape[3] != x.shape[3]:
        raise UnsupportedOpError(f"{_where(op)}: grouped convolution (input depth {x.shape[3]}, "
                                 f"filter depth {w.shape[3]}) is not supported")
    if not w.is_constant:
        raise UnsupportedOpError(f"{_where(op)}: non-constant filters are not supported")
    oc = geo["out_c"]
    if x.dtype == "int8" and w.dtype == "int8":
        params, consts = _int8_conv_params(op, x, w, y, act, 0, oc)
        return KernelCall(op, "ep_conv2d_s8", "ep_conv2d_s8_params", params={**geo, **params}, consts=consts,
                          args=[x, w, _bias(op, oc, "int32"), y])
    if x.dtype == "float32" and w.dtype == "float32" and y.dtype == "float32":
        lo, hi = _float_range(act)
        return KernelCall(op, "ep_conv2d_f32", "ep_conv2d_f32_params",
                          params={**geo, "act_min": lo, "act_max": hi},
                          args=[x, w, _bias(op, oc, "float32"), y])
    if x.dtype == "float32" and w.dtype == "int8" and y.dtype == "float32":
        _require_zero_points(op, w)
        scales = _filter_scales(op, w, oc, 0)
        per_channel = _hybrid_per_channel(w)
        if not per_channel:
            scales = np.repeat(scales[:1], oc)
        lo, hi = _float_range(act)
        per_batch = geo["in_h"] * geo["in_w"] * geo["in_c"]
        return KernelCall(op, "ep_conv2d_hybrid", "ep_conv2d_hybrid_params",
                          params={**geo, "per_channel": int(per_channel), "act_min": lo, "act_max": hi},
                          consts={"filter_scales": scales.astype(np.float32)},
                          args=[x, w, _bias(op, oc, "float32"), _hybrid_scratch(geo["batches"], per_batch), y])
    raise UnsupportedOpError(
        f"{_where(op)}: input {x.dtype}, filter {w.dtype}, output {y.dtype} is not supported")


@register("DEPTHWISE_CONV_2D")
def lower_depthwise_conv2d(op: Op) -> KernelCall:
    x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
    act = _activation(op)
    geo = _geometry(op, x, w, y, depthwise=True)
    if w.shape[0] != 1:
        raise UnsupportedOpError(f"{_where(op)}: depthwise filter must have shape [1, H, W, C], got {w.shape}")
    if not w.is_constant:
        raise UnsupportedOpError(f"{_where(op)}: non-constant filters are not supported")
    in_c, oc = geo["in_c"], geo["out_c"]
    if in_c <= 0 or oc % in_c:
        raise UnsupportedOpError(f"{_where(op)}: {oc} output channels are not a multiple of {in_c} input channels")
    dm = oc // in_c
    geo = {**geo, "depth_multiplier": dm}
    if x.dtype == "int8" and w.dtype == "int8":
        params, consts = _int8_conv_params(op, x, w, y, act, 3, oc)
        return KernelCall(op, "ep_depthwise_conv2d_s8", "ep_depthwise_conv2d_s8_params",
                          params={**geo, **params}, consts=consts, args=[x, w, _bias(op, oc, "int32"), y])
    if x.dtype == "float32" and w.dtype == "float32" and y.dtype == "float32":
        lo, hi = _float_range(act)
        return KernelCall(op, "ep_depthwise_conv2d_f32", "ep_depthwise_conv2d_f32_params",
                          params={**geo, "act_min": lo, "act_max": hi},
                          args=[x, w, _bias(op, oc, "float32"), y])
    if x.dtype == "float32" and w.dtype == "int8" and y.dtype == "float32":
        _require_zero_points(op, w)
        if w.quant is None or w.quant.scale.size != oc or (oc > 1 and w.quant.axis != 3):
            raise UnsupportedOpError(f"{_where(op)}: hybrid depthwise needs one weight scale per output channel "
                                     f"along axis 3")
        if int(op.attrs.get("depth_multiplier", dm) or dm) != dm:
            raise UnsupportedOpError(f"{_where(op)}: depth_multiplier attribute "
                                     f"{op.attrs.get('depth_multiplier')} disagrees with the shapes ({dm})")
        lo, hi = _float_range(act)
        per_batch = geo["in_h"] * geo["in_w"] * in_c
        return KernelCall(op, "ep_depthwise_conv2d_hybrid", "ep_depthwise_conv2d_hybrid_params",
                          params={**geo, "act_min": lo, "act_max": hi},
                          consts={"filter_scales": np.asarray(w.quant.scale, dtype=np.float32).reshape(-1)},
                          args=[x, w, _bias(op, oc, "float32"), _hybrid_scratch(geo["batches"], per_batch), y])
    raise UnsupportedOpError(
        f"{_where(op)}: input {x.dtype}, filter {w.dtype}, output {y.dtype} is not supported")


@register("FULLY_CONNECTED")
def lower_fully_connected(op: Op) -> KernelCall:
    x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
    act = _activation(op)
    if int(op.attrs.get("weights_format", 0) or 0) != 0:
        raise UnsupportedOpError(f"{_where(op)}: shuffled weights format is not supported")
    if len(w.shape) != 2:
        raise UnsupportedOpError(f"{_where(op)}: weights must be 2-D, got {w.shape}")
    if not w.is_constant:
        raise UnsupportedOpError(f"{_where(op)}: non-constant weights are not supported")
    units, depth = w.shape
    if depth <= 0 or x.num_elements % depth:
        raise UnsupportedOpError(f"{_where(op)}: input {x.shape} cannot be flattened by depth {depth}")
    batches = x.num_elements // depth
    if y.num_elements != batches * units:
        raise UnsupportedOpError(f"{_where(op)}: output {y.shape} does not hold {batches}x{units} values")
    dims = {"batches": batches, "depth": depth, "units": units}
    if x.dtype == "int8" and w.dtype == "int8":
        if y.dtype != "int8":
            raise UnsupportedOpError(f"{_where(op)}: int8 input with {y.dtype} output is not supported")
        in_scale, in_zp = _io_quant(op, x)
        out_scale, out_zp = _io_quant(op, y)
        scales = _filter_scales(op, w, units, 0)
        per_channel = w.quant.scale.size > 1
        # Per-channel weights are symmetric by spec (TFLite ignores their zero points).
        w_zp = 0 if per_channel else int(w.quant.scalar_zero_point)
        act_min, act_max = activation_range_quantized(act, y)
        params = {**dims, "input_offset": -in_zp, "weights_offset": -w_zp, "output_offset": out_zp,
                  "act_min": act_min, "act_max": act_max, "input_scale": in_scale, "output_scale": out_scale}
        return KernelCall(op, "ep_fully_connected_s8", "ep_fully_connected_s8_params", params=params,
                          consts={"filter_scales": scales.astype(np.float32)},
                          args=[x, w, _bias(op, units, "int32"), y])
    if x.dtype == "float32" and w.dtype == "float32" and y.dtype == "float32":
        lo, hi = _float_range(act)
        return KernelCall(op, "ep_fully_connected_f32", "ep_fully_connected_f32_params",
                          params={**dims, "act_min": lo, "act_max": hi},
                          args=[x, w, _bias(op, units, "float32"), y])
    if x.dtype == "float32" and w.dtype == "int8" and y.dtype == "float32":
        _require_zero_points(op, w)
        scales = _filter_scales(op, w, units, 0)
        lo, hi = _float_range(act)
        asym = int(bool(op.attrs.get("asymmetric_quantize_inputs", False)))
        return KernelCall(op, "ep_fully_connected_hybrid", "ep_fully_connected_hybrid_params",
                          params={**dims, "asymmetric": asym, "act_min": lo, "act_max": hi},
                          consts={"filter_scales": scales.astype(np.float32)},
                          args=[x, w, _bias(op, units, "float32"), _hybrid_scratch(batches, depth), y])
    raise UnsupportedOpError(
        f"{_where(op)}: input {x.dtype}, weights {w.dtype}, output {y.dtype} is not supported")
