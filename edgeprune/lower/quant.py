"""TFLite quantization arithmetic done at compile time: multipliers, shifts and activation ranges.

Every function reproduces the TFLite C++ (quantization_util.cc, kernel_util.cc) exactly, in double precision.
"""

from __future__ import annotations

import math

import numpy as np

from edgeprune.errors import UnsupportedOpError
from edgeprune.ir import Tensor

INT8_MIN, INT8_MAX = -128, 127


def tflite_round(x: float) -> int:
    """std::round: halves away from zero."""
    r = math.floor(abs(x))
    if abs(x) - r >= 0.5:
        r += 1
    return int(math.copysign(r, x)) if x != 0 else 0


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier (default double-rounding build): real = multiplier * 2^(shift - 31),
    multiplier in [2^30, 2^31)."""
    if real_multiplier == 0.0:
        return 0, 0
    q, shift = math.frexp(real_multiplier)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    # Only single-rounding builds of TFLite saturate shifts above 30; the default build does not.
    return int(q_fixed), int(shift)


def f32(x) -> float:
    """The value as the float32 TFLite stores, widened to double as its C++ does."""
    return float(np.float32(x))


def per_channel_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                            channels: int) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: one (multiplier, shift) per output channel."""
    scales = np.asarray(filter_scales, dtype=np.float32).reshape(-1)
    if scales.size == 1:
        scales = np.repeat(scales, channels)
    mult = np.zeros(channels, dtype=np.int32)
    shift = np.zeros(channels, dtype=np.int32)
    for c in range(channels):
        effective = f32(input_scale) * float(scales[c]) / f32(output_scale)
        mult[c], shift[c] = quantize_multiplier(effective)
    return mult, shift


def activation_range_quantized(activation: str, out: Tensor) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs."""
    if out.quant is None:
        raise UnsupportedOpError(f"tensor '{out.name}' is {out.dtype} without quantization parameters")
    scale, zp = f32(out.quant.scalar_scale), out.quant.scalar_zero_point
    qmin, qmax = (INT8_MIN, INT8_MAX) if out.dtype == "int8" else (-32768, 32767)

    def q(v: float) -> int:
        # TFLite divides in float32 (f / scale with both float), then std::round.
        return zp + tflite_round(float(np.float32(v) / np.float32(scale)))

    if activation in (None, "NONE"):
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, q(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise UnsupportedOpError(f"fused activation {activation} is not supported on quantized tensors")


def activation_range_float(activation: str) -> tuple[float, float]:
    if activation in (None, "NONE"):
        return -math.inf, math.inf
    if activation == "RELU":
        return 0.0, math.inf
    if activation == "RELU6":
        return 0.0, 6.0
    if activation == "RELU_N1_TO_1":
        return -1.0, 1.0
    raise UnsupportedOpError(f"fused activation {activation} is not supported")


def compute_padding(in_size: int, filter_size: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    """(output size, leading padding) as TFLite's ComputePaddingHeightWidth."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        out = (in_size + stride - 1) // stride
    elif padding == "VALID":
        out = (in_size - effective + stride) // stride
    else:
        raise UnsupportedOpError(f"padding {padding} is not supported")
    total = max(0, (out - 1) * stride + effective - in_size)
    return out, total // 2
