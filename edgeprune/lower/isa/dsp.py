"""Armv7E-M DSP (SMLAD / SXTAB16) specializations of the int8 conv kernels (Cortex-M4, M7, and any core with
the DSP extension).

Weights are re-laid-out at build time into the exact order the kernels' inner loops read them, pre-sign-
extended to int16 so the loops spend no instructions unpacking weights (2x the weight flash of those layers;
see csrc/include/edgeprune/kernels/conv_dsp.h for the layouts). The input offset is added while the input
is widened to int16 (padding taps become 0, exactly the taps the reference skips), so the arithmetic is the
portable kernel's: same int32 accumulator, same per-channel requantization.
"""

from __future__ import annotations

import numpy as np

from edgeprune.analysis.inplace import window_call_lag
from edgeprune.ir import Tensor
from edgeprune.lower.program import KernelCall, Scratch
from edgeprune.lower.specialize import specializer

# The specializers below can be switched off (e.g. to measure the portable kernels on a DSP target).
ENABLED = {"conv": True, "conv_1x1": True, "depthwise": True, "depthwise_3x3": True, "fc": True}


def _requant_ok(call: KernelCall, w_rows: np.ndarray, bias: Tensor | None) -> bool:
    """Whether ep::dsp::requantize (csrc/include/edgeprune/dsp.h) is provably exact for this layer.

    It needs multipliers in [2^30, 2^31) (what QuantizeMultiplier produces for any non-zero scale), shifts in
    [-31, 30], and for a right shift e: |acc| + 2^(e-1) + 2 < 2^31, where the accumulator bound per output
    channel is |bias| + 255 * sum |w| (|x - input_zero_point| <= 255).
    """
    mult = np.asarray(call.consts["out_multiplier"], dtype=np.int64).reshape(-1)
    shift = np.asarray(call.consts["out_shift"], dtype=np.int64).reshape(-1)
    if not (np.all(mult >= 2**30) and np.all(mult < 2**31) and np.all(shift >= -31) and np.all(shift <= 30)):
        return False
    bound = 255 * np.abs(w_rows.astype(np.int64)).sum(axis=1)
    if bias is not None and bias.data is not None:
        bound = bound + np.abs(np.asarray(bias.data, dtype=np.int64).reshape(-1))
    e = np.maximum(-shift, 0)
    half = np.where(e > 0, 2 ** np.maximum(e - 1, 0), 0)
    return bool(np.all(bound + half + 2 < 2**31))


def requant_table(call: KernelCall, bias: Tensor | None) -> tuple[np.ndarray, int]:
    """int32 [out_c][4] (bias, 2m as int32, 2^(e-1) or 0, e = -shift) for ep::dsp::Requant, and all_right."""
    mult = np.asarray(call.consts["out_multiplier"], dtype=np.int64).reshape(-1)
    e = -np.asarray(call.consts["out_shift"], dtype=np.int64).reshape(-1)
    b = np.zeros(mult.size, dtype=np.int64)
    if bias is not None and bias.data is not None:
        b = np.asarray(bias.data, dtype=np.int64).reshape(-1)
    m2 = (2 * mult + 2**31) % 2**32 - 2**31
    hb = np.where(e > 0, np.left_shift(1, np.maximum(e - 1, 0)), 0)
    table = np.stack([b, m2, hb, e], axis=1).astype(np.int32).reshape(-1)
    return table, int(np.all(e > 0))


def _round_up(n: int, m: int) -> int:
    return (n + m - 1) // m * m


# Within each group of 4 along K, the order SXTAB16 and SXTAB16 ROR 8 unpack bytes: k0, k2, k1, k3.
_GROUP_ORDER = np.array([0, 2, 1, 3])


def gemm_weights(w2d: np.ndarray) -> tuple[np.ndarray, int]:
    """[rows, K] int8 -> int16 [rows_pairs][K_pad / 4][2][4] (K to a multiple of 8 and rows to even,
    zero-padded), and K_pad."""
    rows, k = w2d.shape
    k_pad = _round_up(max(k, 1), 8)
    r_pad = _round_up(rows, 2)
    w = np.zeros((r_pad, k_pad), dtype=np.int16)
    w[:rows, :k] = w2d.astype(np.int16)
    w = w.reshape(r_pad // 2, 2, k_pad // 4, 4)[..., _GROUP_ORDER]
    return np.ascontiguousarray(w.transpose(0, 2, 1, 3)).reshape(-1), k_pad


def _const(name: str, data: np.ndarray) -> Tensor:
    return Tensor(name=name, shape=(int(data.size),), dtype=str(data.dtype), data=data)


@specializer("ep_conv2d_s8", requires={"dsp"}, priority=0)
def conv2d_dsp(call: KernelCall) -> KernelCall | None:
    p = call.params
    x, w, bias, y = call.args
    if not isinstance(w, Tensor) or not w.is_constant:
        return None
    oc = p["out_c"]
    w_rows = np.asarray(w.data, dtype=np.int8).reshape(oc, -1)
    if not _requant_ok(call, w_rows, bias):
        return None
    one_by_one = p["filter_h"] == 1 and p["filter_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0 \
        and p["in_c"] % 4 == 0
    if not ENABLED["conv_1x1" if one_by_one else "conv"]:
        return None
    wt, k_pad = gemm_weights(w_rows)
    func = "ep_conv2d_1x1_s8_dsp" if one_by_one else "ep_conv2d_s8_dsp"
    table, all_right = requant_table(call, bias)
    out = KernelCall(call.op, func, "ep_conv2d_s8_dsp_params",
                     params={**p, "k_padded": k_pad, "all_right": all_right}, consts={"requant": table},
                     args=[x, _const(f"{w.name}_dsp", wt), Scratch(5 * k_pad + 16 * ((oc + 1) // 2), name="im2col"), y])
    # conv_gemm gathers two consecutive output pixels' windows, then writes both pixels' channels: in place
    # with the two-pixel lag.
    out.inplace_lag_bytes = window_call_lag(out, pixel_group=2)
    return out


def depthwise_weights(w: np.ndarray) -> np.ndarray:
    """[1, fh, fw, C] int8 (C % 4 == 0) -> int16 [C / 4][fh][fw][4] in order c0, c2, c1, c3."""
    _, fh, fw, c = w.shape
    out = w.astype(np.int16).reshape(fh, fw, c // 4, 4)[..., _GROUP_ORDER].transpose(2, 0, 1, 3)
    return np.ascontiguousarray(out).reshape(-1)


@specializer("ep_depthwise_conv2d_s8", requires={"dsp"}, priority=0)
def depthwise_conv2d_dsp(call: KernelCall) -> KernelCall | None:
    p = call.params
    x, w, bias, y = call.args
    if not isinstance(w, Tensor) or not w.is_constant or p["depth_multiplier"] != 1 or p["in_c"] % 4 != 0:
        return None
    oc = p["out_c"]
    if not _requant_ok(call, np.asarray(w.data, dtype=np.int8).reshape(-1, oc).T, bias):
        return None
    fast = p["filter_h"] == 3 and p["filter_w"] == 3 and p["dilation_h"] == 1 and p["dilation_w"] == 1
    if not ENABLED["depthwise_3x3" if fast else "depthwise"]:
        return None
    # The 3x3 kernel's scratch: three widened input rows of one group of four channels.
    scratch = 24 * ((p["out_w"] - 1) * p["stride_w"] + 3) if fast else 4 * oc
    func = "ep_depthwise_conv2d_3x3_s8_dsp" if fast else "ep_depthwise_conv2d_s8_dsp"
    wt = depthwise_weights(np.asarray(w.data, dtype=np.int8))
    table, all_right = requant_table(call, bias)
    out = KernelCall(call.op, func, "ep_depthwise_conv2d_s8_dsp_params", params={**p, "all_right": all_right},
                     consts={"requant": table},
                     args=[x, _const(f"{w.name}_dsp", wt), Scratch(scratch, name="dw_rows"), y])
    if not fast:  # one pixel, every channel, at a time; the 3x3 kernel sweeps channel groups over the image
        out.inplace_lag_bytes = window_call_lag(out, pixel_group=1)
    return out


@specializer("ep_fully_connected_s8", requires={"dsp"}, priority=0)
def fully_connected_dsp(call: KernelCall) -> KernelCall | None:
    p = call.params
    x, w, bias, y = call.args
    if not ENABLED["fc"] or not isinstance(w, Tensor) or not w.is_constant or p["weights_offset"] != 0:
        return None
    wt, d_pad = gemm_weights(np.asarray(w.data, dtype=np.int8).reshape(p["units"], p["depth"]))
    params = {k: v for k, v in p.items() if k != "weights_offset"}
    out = KernelCall(call.op, "ep_fully_connected_s8_dsp", "ep_fully_connected_s8_dsp_params",
                     params={**params, "depth_padded": d_pad}, consts=dict(call.consts),
                     args=[x, _const(f"{w.name}_dsp", wt), bias,
                           Scratch(4 * d_pad + 16 * ((p["units"] + 1) // 2), name="fc_input"), y])
    out.inplace_lag_bytes = window_call_lag(out, pixel_group=1)  # each batch row is widened first
    return out
