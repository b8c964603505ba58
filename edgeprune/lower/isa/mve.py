"""Helium (MVE) specializations of the int8 conv kernels and ADD (Cortex-M55): csrc/kernels/*_s8_mve.cc.

Each rewrite is an exact integer identity of the portable kernel (see csrc/include/edgeprune/kernels/conv_mve.h):
  * input offset folded into the bias: sum(w * (x + off)) + b == sum(w * x) + (b + off * sum(w)) (mod 2**32, as
    the int32 accumulator wraps); padded taps read the input zero point from im2col, where x + off == 0;
  * per-channel requantization fields re-laid-out in blocks of 4 (GEMM) or 8 even/odd (depthwise) lanes;
  * GEMM filters packed (a consts array of the params struct) [ceil(oc/4)][ceil(K/16)][4][16] and zero-padded
    (zero weights add exactly 0).
"""

from __future__ import annotations

import numpy as np

from edgeprune.analysis.inplace import window_call_lag
from edgeprune.lower.isa.common import const_arg, wrap_i32
from edgeprune.lower.program import KernelCall, Scratch
from edgeprune.lower.specialize import specializer

PRIORITY = 10  # above the Armv7E-M DSP specializers: the Cortex-M55 has both "dsp" and "mve"

GEOMETRY = ("batches", "in_h", "in_w", "in_c", "filter_h", "filter_w", "out_h", "out_w", "out_c",
            "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w")




def _split_shift(shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    shift = np.asarray(shift, dtype=np.int64)
    return np.maximum(shift, 0), np.minimum(shift, 0)


def gemm_rq(bias: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """[ceil(n/4)][bias', multiplier, left shift, right shift][4] int32, zero-padded."""
    n = bias.size
    groups = -(-n // 4)
    fields = np.zeros((4, groups * 4), dtype=np.int64)
    lsh, rsh = _split_shift(shift)
    for f, v in enumerate((bias, mult, lsh, rsh)):
        fields[f, :n] = v
    return wrap_i32(fields.reshape(4, groups, 4).transpose(1, 0, 2).reshape(-1))


def pack_gemm_filter(w: np.ndarray) -> np.ndarray:
    """[oc, K] int8 -> [ceil(oc/4)][ceil(K/16)][4][16], zero-padded."""
    oc, k = w.shape
    oc4, k16 = -(-oc // 4) * 4, -(-k // 16) * 16
    padded = np.zeros((oc4, k16), dtype=np.int8)
    padded[:oc, :k] = w
    return np.ascontiguousarray(padded.reshape(oc4 // 4, 4, k16 // 16, 16).transpose(0, 2, 1, 3).reshape(-1))


def depthwise_rq(folded: np.ndarray, bias: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """[ceil(C/16)*2][bias', multiplier, left shift, right shift, raw bias][even 4, odd 4] int32."""
    n = bias.size
    c16 = -(-n // 16) * 16
    lsh, rsh = _split_shift(shift)
    fields = np.zeros((5, c16), dtype=np.int64)
    for f, v in enumerate((folded, mult, lsh, rsh, bias)):
        fields[f, :n] = v
    # channel c = 8 * g + lane: even lanes first, then odd lanes
    blocks = fields.reshape(5, c16 // 8, 8)
    blocks = np.concatenate([blocks[:, :, 0::2], blocks[:, :, 1::2]], axis=2)  # [5, groups, 8]
    return wrap_i32(blocks.transpose(1, 0, 2).reshape(-1))


@specializer("ep_conv2d_s8", requires={"mve"}, priority=PRIORITY)
def conv2d_mve(call: KernelCall) -> KernelCall | None:
    p = call.params
    w, bias = const_arg(call, 1), const_arg(call, 2)
    if w is None or bias is None or w.ndim != 4:
        return None
    oc = int(p["out_c"])
    k = int(p["filter_h"]) * int(p["filter_w"]) * int(p["in_c"])
    if w.shape != (oc, p["filter_h"], p["filter_w"], p["in_c"]) or bias.size != oc or k <= 0:
        return None
    w2 = w.reshape(oc, k).astype(np.int8)
    off = int(p["input_offset"])
    folded = bias.astype(np.int64) + off * w2.astype(np.int64).sum(axis=1)
    rq = gemm_rq(folded, call.consts["out_multiplier"], call.consts["out_shift"])
    params = {key: int(p[key]) for key in GEOMETRY}
    params.update(input_zero_point=-off, output_offset=int(p["output_offset"]), act_min=int(p["act_min"]),
                  act_max=int(p["act_max"]))
    consts = {"rq": rq, "filter": pack_gemm_filter(w2)}
    x, y = call.args[0], call.args[3]
    if p["filter_h"] == 1 and p["filter_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0:
        out = KernelCall(call.op, "ep_conv2d_1x1_s8_mve", "ep_conv2d_s8_mve_params", params=params,
                         consts=consts, args=[x, y])
    else:
        # EP_MVE_IM2COL_SCRATCH_BYTES: two im2col rows, then the GEMM's segment list (uintptr_t words)
        scratch = Scratch(2 * (-(-k // 16) * 16) + 4 * (3 * int(p["filter_h"]) + 1), name="im2col")
        out = KernelCall(call.op, "ep_conv2d_im2col_s8_mve", "ep_conv2d_s8_mve_params", params=params,
                         consts=consts, args=[x, scratch, y])
    # gemm_2rows reads two consecutive output pixels' windows and writes only those two pixels' channels.
    out.inplace_lag_bytes = window_call_lag(out, pixel_group=2)
    return out


@specializer("ep_depthwise_conv2d_s8", requires={"mve"}, priority=PRIORITY)
def depthwise_conv2d_mve(call: KernelCall) -> KernelCall | None:
    p = call.params
    if int(p["depth_multiplier"]) != 1 or p["out_c"] != p["in_c"]:
        return None
    w, bias = const_arg(call, 1), const_arg(call, 2)
    c = int(p["in_c"])
    if w is None or bias is None or w.shape != (1, p["filter_h"], p["filter_w"], c) or bias.size != c:
        return None
    off = int(p["input_offset"])
    folded = bias.astype(np.int64) + off * w.reshape(-1, c).astype(np.int64).sum(axis=0)
    rq = depthwise_rq(folded, bias.astype(np.int64), call.consts["out_multiplier"], call.consts["out_shift"])
    params = {key: int(p[key]) for key in GEOMETRY}
    params.update(input_offset=off, output_offset=int(p["output_offset"]), act_min=int(p["act_min"]),
                  act_max=int(p["act_max"]))
    return KernelCall(call.op, "ep_depthwise_conv2d_s8_mve", "ep_depthwise_conv2d_s8_mve_params", params=params,
                      consts={"rq": rq}, args=[call.args[0], call.args[1], call.args[3]])


@specializer("ep_fully_connected_s8", requires={"mve"}, priority=PRIORITY)
def fully_connected_mve(call: KernelCall) -> KernelCall | None:
    p = call.params
    if int(p["weights_offset"]) != 0:
        return None  # asymmetric per-tensor weights: the portable (or DSP) kernel handles them
    w, bias = const_arg(call, 1), const_arg(call, 2)
    units, depth = int(p["units"]), int(p["depth"])
    if w is None or bias is None or w.shape != (units, depth) or bias.size != units:
        return None
    folded = wrap_i32(bias.astype(np.int64) + int(p["input_offset"]) * w.astype(np.int64).sum(axis=1))
    params = {key: p[key] for key in ("batches", "depth", "units", "output_offset", "act_min", "act_max",
                                       "input_scale", "output_scale")}
    return KernelCall(call.op, "ep_fully_connected_s8_mve", "ep_fully_connected_s8_mve_params", params=params,
                      consts={"filter_scales": call.consts["filter_scales"], "bias": folded},
                      args=[call.args[0], call.args[1], call.args[3]])


@specializer("ep_add_s8", requires={"mve"}, priority=PRIORITY)
def add_mve(call: KernelCall) -> KernelCall | None:
    if int(call.params["broadcast"]):
        return None
    # Element i of the output depends on element i of the inputs only: the planner treats it as the portable ADD.
    return KernelCall(call.op, "ep_add_s8_mve", call.params_type, params=dict(call.params), consts=dict(call.consts),
                      args=list(call.args), outputs=call.outputs)
