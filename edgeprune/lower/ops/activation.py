"""Lowering of activations and type conversions: SOFTMAX, LOGISTIC, RELU, RELU6, HARD_SWISH, QUANTIZE,
DEQUANTIZE.

Every fixed-point parameter is computed here as TFLite's Prepare computes it for the BUILTIN_REF kernels
(tflite/kernels/activations.cc, quantize.cc, dequantize.cc), including which steps TFLite does in float32
and which in double.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from functools import lru_cache

import numpy as np

from edgeprune.errors import UnsupportedOpError
from edgeprune.ir import Op, Tensor
from edgeprune.lower.program import KernelCall, register
from edgeprune.lower.quant import INT8_MAX, INT8_MIN, f32, quantize_multiplier, tflite_round

FLOAT_MAX = 3.4028235e38  # stands for +inf in float params (they must be finite)


# ---------------------------------------------------------------------------------------------- helpers


def _where(op: Op) -> str:
    return f"(operator {op.index})"


def _size(t: Tensor) -> int:
    return int(t.num_elements)


def _per_tensor(op: Op, t: Tensor, what: str) -> tuple[float, int]:
    """(scale as the float32 TFLite stores, widened to double; zero point) of a per-tensor quantized tensor."""
    if t.quant is None:
        raise UnsupportedOpError(f"{op.kind}: {what} tensor '{t.name}' is {t.dtype} without quantization "
                                 f"parameters {_where(op)}")
    if t.quant.per_channel:
        raise UnsupportedOpError(f"{op.kind}: per-channel quantization of the {what} tensor '{t.name}' is not "
                                 f"supported {_where(op)}")
    scale, zp = f32(t.quant.scalar_scale), t.quant.scalar_zero_point
    if not (scale > 0.0 and math.isfinite(scale)):
        raise UnsupportedOpError(f"{op.kind}: {what} scale {scale} is not a positive finite number {_where(op)}")
    if t.dtype == "int8" and not INT8_MIN <= zp <= INT8_MAX:
        raise UnsupportedOpError(f"{op.kind}: {what} zero point {zp} is outside int8 {_where(op)}")
    return scale, zp


def _dtypes(op: Op) -> tuple[str, str]:
    if len(op.outputs) != 1 or not op.inputs or op.inputs[0] is None:
        raise UnsupportedOpError(f"{op.kind} with {len(op.inputs)} inputs / {len(op.outputs)} outputs is not "
                                 f"supported {_where(op)}")
    src, dst = op.inputs[0], op.outputs[0]
    if src.num_elements != dst.num_elements:
        raise UnsupportedOpError(f"{op.kind}: input shape {src.shape} and output shape {dst.shape} differ "
                                 f"{_where(op)}")
    return src.dtype, dst.dtype


def _unsupported_types(op: Op, src: str, dst: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"{op.kind} from {src} to {dst} is not supported {_where(op)}")


@lru_cache(maxsize=1)
def _libm_expf():
    """The C library's expf: TFLite's LUTs are built with std::exp(float), i.e. this function."""
    name = ctypes.util.find_library("m") or "libm.so.6"
    try:
        fn = ctypes.CDLL(name).expf
    except (OSError, AttributeError):  # pragma: no cover - no C math library: numpy's float32 exp
        return None
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float]
    return fn


def _expf(x: np.float32) -> np.float32:
    fn = _libm_expf()
    if fn is None:  # pragma: no cover
        with np.errstate(over="ignore", under="ignore"):
            return np.float32(np.exp(np.float32(x)))
    return np.float32(fn(float(x)))


# ---------------------------------------------------------------------------------------------- SOFTMAX

SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5


def softmax_s8_params(input_scale: float, beta: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min): PreprocessSoftmaxScaling + CalculateInputRadius.

    Raises ValueError where TFLite's Prepare would abort (beta * input_scale too small)."""
    real = min(beta * input_scale * float(1 << (31 - SOFTMAX_SCALED_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
    if not real > 1.0:
        raise ValueError("beta * input_scale is too small (TFLite requires beta * scale * 2^26 > 1)")
    mult, shift = quantize_multiplier(real)
    if shift < 0 or shift > 31:
        raise ValueError(f"softmax input shift {shift} out of range")
    radius = math.floor(1.0 * ((1 << SOFTMAX_SCALED_DIFF_INTEGER_BITS) - 1)
                        * float(1 << (31 - SOFTMAX_SCALED_DIFF_INTEGER_BITS)) / float(1 << shift))
    return mult, shift, -int(radius)


@register("SOFTMAX")
def lower_softmax(op: Op) -> KernelCall:
    src_t, dst_t = _dtypes(op)
    x, y = op.inputs[0], op.outputs[0]
    if len(x.shape) < 1:
        raise UnsupportedOpError(f"SOFTMAX of a scalar is not supported {_where(op)}")
    depth = int(x.shape[-1])
    if depth <= 0:
        raise UnsupportedOpError(f"SOFTMAX over an empty axis is not supported {_where(op)}")
    outer = _size(x) // depth
    beta = f32(op.attrs.get("beta", 1.0))
    if not math.isfinite(beta):
        raise UnsupportedOpError(f"SOFTMAX beta {beta} is not finite {_where(op)}")

    if src_t == "float32" and dst_t == "float32":
        return KernelCall(op, "ep_softmax_f32", "ep_softmax_f32_params",
                          params={"outer_size": outer, "depth": depth, "beta": beta}, args=[x, y])
    if src_t == "int8" and dst_t == "int8":
        in_scale, _ = _per_tensor(op, x, "input")
        out_scale, out_zp = _per_tensor(op, y, "output")
        # TF_LITE_ENSURE_EQ(zero_point, -128); TF_LITE_ENSURE_NEAR(scale, 1/256, 0.001/256), in float.
        delta = abs(np.float32(out_scale) - np.float32(1.0 / 256))
        eps = np.float32(np.float32(0.001) * np.float32(1.0)) / np.float32(256)
        if out_zp != -128 or delta > eps:
            raise UnsupportedOpError(f"SOFTMAX int8 output must have scale 1/256 and zero point -128, got scale "
                                     f"{out_scale} and zero point {out_zp} {_where(op)}")
        if beta <= 0.0:
            raise UnsupportedOpError(f"SOFTMAX int8 with beta {beta} <= 0 is not supported {_where(op)}")
        try:
            mult, shift, diff_min = softmax_s8_params(in_scale, beta)
        except ValueError as e:
            raise UnsupportedOpError(f"SOFTMAX int8: {e} (beta {beta}, input scale {in_scale}) {_where(op)}") from None
        return KernelCall(op, "ep_softmax_s8", "ep_softmax_s8_params",
                          params={"outer_size": outer, "depth": depth, "input_multiplier": mult,
                                  "input_left_shift": shift, "diff_min": diff_min},
                          args=[x, y])
    raise _unsupported_types(op, src_t, dst_t)


# ---------------------------------------------------------------------------------------------- LOGISTIC


def logistic_lut_s8(input_scale: float, input_zp: int, output_scale: float, output_zp: int) -> np.ndarray:
    """TFLite LUTPopulate<int8_t> with 1 / (1 + exp(-x)), every step in float32; indexed by (uint8)x."""
    s_in = np.float32(input_scale)
    inv_out = np.float32(1.0) / np.float32(output_scale)
    one = np.float32(1.0)
    lut = np.zeros(256, dtype=np.int8)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for val in range(INT8_MIN, INT8_MAX + 1):
            deq = np.float32(s_in * np.float32(val - input_zp))
            transformed = np.float32(one / np.float32(one + _expf(np.float32(-deq))))
            rescaled = float(tflite_round(float(np.float32(transformed * inv_out))))
            quantized = int(np.float32(np.float32(rescaled) + np.float32(output_zp)))
            lut[val & 0xFF] = max(INT8_MIN, min(INT8_MAX, quantized))
    return lut


@register("LOGISTIC")
def lower_logistic(op: Op) -> KernelCall:
    src_t, dst_t = _dtypes(op)
    x, y = op.inputs[0], op.outputs[0]
    if src_t == "float32" and dst_t == "float32":
        return KernelCall(op, "ep_logistic_f32", "ep_logistic_f32_params", params={"size": _size(x)}, args=[x, y])
    if src_t == "int8" and dst_t == "int8":
        in_scale, in_zp = _per_tensor(op, x, "input")
        out_scale, out_zp = _per_tensor(op, y, "output")
        if out_scale != 1.0 / 256:  # TF_LITE_ENSURE(output->params.scale == 1. / 256)
            raise UnsupportedOpError(f"LOGISTIC int8 output scale must be exactly 1/256, got {out_scale} "
                                     f"{_where(op)}")
        lut = logistic_lut_s8(in_scale, in_zp, out_scale, out_zp)
        return KernelCall(op, "ep_logistic_s8", "ep_logistic_s8_params", params={"size": _size(x)},
                          consts={"lut": lut}, args=[x, y])
    raise _unsupported_types(op, src_t, dst_t)


# ---------------------------------------------------------------------------------------------- RELU, RELU6


def relu_s8_params(in_scale: float, in_zp: int, out_scale: float, out_zp: int, act_max: float | None) -> dict:
    """ReluPrepare + QuantizedReluX. Raises ValueError for ranges TFLite cannot represent either."""
    # ReluPrepare divides the two float scales in float, then widens the quotient to double.
    real = float(np.float32(in_scale) / np.float32(out_scale))
    mult, shift = quantize_multiplier(real)
    if shift > 30:
        raise ValueError(f"input/output scale ratio {real} is too large")
    qmin = max(INT8_MIN, out_zp + 0)  # roundf(0.0f / scale) == 0
    if act_max is None:
        qmax = INT8_MAX
    else:
        r = float(np.float32(act_max) / np.float32(out_scale))
        rounded = tflite_round(r)
        if not -(2**31) <= rounded < 2**31:
            raise ValueError(f"output scale {out_scale} is too small for the activation bound {act_max}")
        qmax = min(INT8_MAX, out_zp + rounded)
    return {"input_offset": in_zp, "output_offset": out_zp, "output_multiplier": mult, "output_shift": shift,
            "act_min": qmin, "act_max": qmax}


@register("RELU", "RELU6")
def lower_relu(op: Op) -> KernelCall:
    src_t, dst_t = _dtypes(op)
    x, y = op.inputs[0], op.outputs[0]
    upper = 6.0 if op.kind == "RELU6" else None
    if src_t == "float32" and dst_t == "float32":
        return KernelCall(op, "ep_relu_f32", "ep_relu_f32_params",
                          params={"size": _size(x), "act_min": 0.0,
                                  "act_max": FLOAT_MAX if upper is None else upper},
                          args=[x, y])
    if src_t == "int8" and dst_t == "int8":
        in_scale, in_zp = _per_tensor(op, x, "input")
        out_scale, out_zp = _per_tensor(op, y, "output")
        try:
            params = relu_s8_params(in_scale, in_zp, out_scale, out_zp, upper)
        except ValueError as e:
            raise UnsupportedOpError(f"{op.kind} int8: {e} {_where(op)}") from None
        return KernelCall(op, "ep_relu_s8", "ep_relu_s8_params", params={"size": _size(x), **params}, args=[x, y])
    raise _unsupported_types(op, src_t, dst_t)


# ---------------------------------------------------------------------------------------------- HARD_SWISH


def _downscale_int32_to_int16_multiplier(m: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    if m >= (2**31 - 1) - (1 << 15):
        return 2**15 - 1
    return (m + (1 << 15)) >> 16


def hard_swish_s8_params(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> dict:
    """HardSwishPrepare: all in float32, then QuantizeMultiplier on the widened float."""
    hires_input_scale = np.float32(np.float32(1.0 / 128.0) * np.float32(in_scale))
    reluish_scale = np.float32(3.0) / np.float32(32768.0)
    output_multiplier = np.float32(hires_input_scale / np.float32(out_scale))
    reluish_multiplier = np.float32(hires_input_scale / reluish_scale)
    out_m, out_e = quantize_multiplier(float(output_multiplier))
    rel_m, rel_e = quantize_multiplier(float(reluish_multiplier))
    if out_e > 0:  # TF_LITE_ENSURE(output_multiplier_exponent <= 0)
        raise ValueError(f"input scale / output scale = {in_scale / out_scale:g} must be below 128")
    if rel_e > 31:
        raise ValueError(f"input scale {in_scale} is too large")
    return {"input_zero_point": in_zp, "output_zero_point": out_zp,
            "reluish_multiplier_fixedpoint_int16": _downscale_int32_to_int16_multiplier(rel_m),
            "reluish_multiplier_exponent": rel_e,
            "output_multiplier_fixedpoint_int16": _downscale_int32_to_int16_multiplier(out_m),
            "output_multiplier_exponent": out_e}


@register("HARD_SWISH")
def lower_hard_swish(op: Op) -> KernelCall:
    src_t, dst_t = _dtypes(op)
    x, y = op.inputs[0], op.outputs[0]
    if src_t == "float32" and dst_t == "float32":
        return KernelCall(op, "ep_hard_swish_f32", "ep_hard_swish_f32_params", params={"size": _size(x)},
                          args=[x, y])
    if src_t == "int8" and dst_t == "int8":
        in_scale, in_zp = _per_tensor(op, x, "input")
        out_scale, out_zp = _per_tensor(op, y, "output")
        try:
            params = hard_swish_s8_params(in_scale, in_zp, out_scale, out_zp)
        except ValueError as e:
            raise UnsupportedOpError(f"HARD_SWISH int8: {e} {_where(op)}") from None
        return KernelCall(op, "ep_hard_swish_s8", "ep_hard_swish_s8_params", params={"size": _size(x), **params},
                          args=[x, y])
    raise _unsupported_types(op, src_t, dst_t)


# ---------------------------------------------------------------------------------------------- QUANTIZE


def _per_channel_layout(op: Op, t: Tensor) -> tuple[dict, dict]:
    """(params, consts) of a per-channel kernel: [outer, channels, inner] around the quantized axis."""
    q = t.quant
    axis = int(q.axis)
    if not 0 <= axis < len(t.shape):
        raise UnsupportedOpError(f"{op.kind}: quantized dimension {axis} is outside the shape {t.shape} "
                                 f"{_where(op)}")
    channels = int(t.shape[axis])
    scales = np.asarray(q.scale, dtype=np.float32).reshape(-1)
    zps = np.asarray(q.zero_point, dtype=np.int64).reshape(-1)
    if scales.size != channels:
        raise UnsupportedOpError(f"{op.kind}: {scales.size} scales for {channels} channels {_where(op)}")
    if zps.size != scales.size:
        zps = np.repeat(zps[:1] if zps.size else np.zeros(1, np.int64), scales.size)
    if not (np.all(scales > 0) and np.all(np.isfinite(scales))):
        raise UnsupportedOpError(f"{op.kind}: per-channel scales must be positive and finite {_where(op)}")
    if np.any(zps < INT8_MIN) or np.any(zps > INT8_MAX):
        raise UnsupportedOpError(f"{op.kind}: per-channel zero points must be in int8 {_where(op)}")
    outer = int(np.prod(t.shape[:axis], dtype=np.int64))
    inner = int(np.prod(t.shape[axis + 1:], dtype=np.int64))
    return ({"outer_size": outer, "channels": channels, "inner_size": inner},
            {"scales": scales, "zero_points": zps.astype(np.int32)})


@register("QUANTIZE")
def lower_quantize(op: Op) -> KernelCall:
    src_t, dst_t = _dtypes(op)
    x, y = op.inputs[0], op.outputs[0]
    if src_t == "float32" and dst_t == "int8":
        if y.quant is None:
            raise UnsupportedOpError(f"QUANTIZE output '{y.name}' has no quantization parameters {_where(op)}")
        if y.quant.per_channel:
            params, consts = _per_channel_layout(op, y)
            return KernelCall(op, "ep_quantize_pc_f32_s8", "ep_quantize_pc_f32_s8_params", params=params,
                              consts=consts, args=[x, y])
        scale, zp = _per_tensor(op, y, "output")
        return KernelCall(op, "ep_quantize_f32_s8", "ep_quantize_f32_s8_params",
                          params={"size": _size(x), "scale": scale, "zero_point": zp}, args=[x, y])
    if src_t == "int8" and dst_t == "int8":
        in_scale, in_zp = _per_tensor(op, x, "input")
        out_scale, out_zp = _per_tensor(op, y, "output")
        mult, shift = quantize_multiplier(in_scale / out_scale)  # both widened to double
        if shift > 30:
            raise UnsupportedOpError(f"QUANTIZE int8: input/output scale ratio {in_scale / out_scale:g} is too "
                                     f"large {_where(op)}")
        return KernelCall(op, "ep_quantize_s8_s8", "ep_quantize_s8_s8_params",
                          params={"size": _size(x), "input_zero_point": in_zp, "output_zero_point": out_zp,
                                  "output_multiplier": mult, "output_shift": shift},
                          args=[x, y])
    raise _unsupported_types(op, src_t, dst_t)


# ---------------------------------------------------------------------------------------------- DEQUANTIZE


@register("DEQUANTIZE")
def lower_dequantize(op: Op) -> KernelCall:
    src_t, dst_t = _dtypes(op)
    x, y = op.inputs[0], op.outputs[0]
    if src_t == "int8" and dst_t == "float32":
        if x.quant is None:
            raise UnsupportedOpError(f"DEQUANTIZE input '{x.name}' has no quantization parameters {_where(op)}")
        if x.quant.per_channel:
            params, consts = _per_channel_layout(op, x)
            return KernelCall(op, "ep_dequantize_pc_s8_f32", "ep_dequantize_pc_s8_f32_params", params=params,
                              consts=consts, args=[x, y])
        scale, zp = _per_tensor(op, x, "input")
        return KernelCall(op, "ep_dequantize_s8_f32", "ep_dequantize_s8_f32_params",
                          params={"size": _size(x), "scale": scale, "zero_point": zp}, args=[x, y])
    raise _unsupported_types(op, src_t, dst_t)
