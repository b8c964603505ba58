"""AArch32 NEON specializations (armv7-a + NEON, 32-bit Raspberry Pi OS: target rpi4-armv7): int8 CONV_2D as the
register-blocked GEMM of the AArch64 kernel (csrc/kernels/conv2d_s8_neon32.cc: same driver, weight panels, rq and
scratch as ep_conv2d_s8_neon, a 2-pixel x 4-channel VMULL/VMLAL/VPADAL tile for AArch32's 16 q registers), and
DEPTHWISE_CONV_2D, ADD and AVERAGE_POOL_2D on the AArch64 intrinsic kernels built for AArch32 (their AArch64-only
intrinsics map onto AArch32 ones in csrc/include/edgeprune/detail/neon32_compat.h): the same kernel names, params
and build-time layouts as on AArch64. FULLY_CONNECTED needs no specializer: ep_fully_connected_s8 has a NEON dot
loop for AArch32 too.

Every rewrite is the exact integer identity of the AArch64 one (edgeprune/lower/isa/neon.py): the input offset folded
into the bias, per-channel requantization fields per 4-channel tile, filters packed into the micro-kernel's panels,
zero-padded. The int16 pair sums need weights in [-127, 127]: a layer with a -128 weight stays portable.
"""

from __future__ import annotations

import numpy as np

from edgeprune.lower.isa import neon
from edgeprune.lower.program import KernelCall, Scratch
from edgeprune.lower.specialize import specializer

PRIORITY = 20
# Switch the specializers off to measure the portable kernels on rpi4-armv7 (bench/pi.py).
ENABLED = {"conv": True, "depthwise": True, "add": True, "avg_pool": True}


@specializer("ep_conv2d_s8", requires={"armv7-neon"}, priority=PRIORITY)
def conv2d_neon32(call: KernelCall) -> KernelCall | None:
    if not ENABLED["conv"]:
        return None
    p = call.params
    w = neon.const_arg(call, 1)
    oc = int(p["out_c"])
    bias = neon.gemm_bias(call, oc)
    if w is None or bias is None or w.ndim != 4 or w.shape != (oc, p["filter_h"], p["filter_w"], p["in_c"]):
        return None
    k = int(p["filter_h"]) * int(p["filter_w"]) * int(p["in_c"])
    w2 = w.reshape(oc, k).astype(np.int8)
    if w2.size and int(w2.min()) < -127:
        return None  # the int16 pair sum could overflow: stay portable
    off = int(p["input_offset"])
    folded = bias + off * w2.astype(np.int64).sum(axis=1)
    shift = np.asarray(call.consts["out_shift"])
    rq = neon.gemm_rq(folded, call.consts["out_multiplier"], shift, 4)
    params = {key: int(p[key]) for key in neon.GEOMETRY}
    direct = int(p["filter_h"] == 1 and p["filter_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0
                 and int(p["in_c"]) % 16 == 0)
    segments = int(bool(direct) or neon.use_segments(params, sdot=False))
    if segments and not direct:  # K runs over the filter rows, each zero-padded to segment_bytes
        seg, row = neon.segment_bytes(params), int(p["filter_w"]) * int(p["in_c"])
        w2 = np.pad(w2.reshape(oc, int(p["filter_h"]), row), ((0, 0), (0, 0), (0, seg - row))).reshape(oc, -1)
    k_padded = -(-w2.shape[1] // 16) * 16
    params.update(input_zero_point=-off, output_offset=int(p["output_offset"]), act_min=int(p["act_min"]),
                  act_max=int(p["act_max"]), k_padded=k_padded, direct=direct, segments=segments,
                  left_shifts=int(bool(np.any(shift > 0))), all_right=int(bool(np.all(shift < 0))))
    consts = {"rq": rq, "filter": neon.pack_smlal(w2)}
    scratch = Scratch(neon.gemm_scratch_bytes(params), name="im2col")
    return KernelCall(call.op, "ep_conv2d_s8_neon32", "ep_conv2d_s8_neon_params", params=params, consts=consts,
                      args=[call.args[0], scratch, call.args[3]])


def _aarch64_kernel(kind: str, fn):
    """The AArch64 specializer `fn` for armv7-neon (same kernel and layouts), switched by ENABLED[kind]."""

    def specialize(call: KernelCall) -> KernelCall | None:
        return fn(call) if ENABLED[kind] else None

    specialize.__name__ = f"{fn.__name__}32"
    return specialize


depthwise_conv2d_neon32 = specializer("ep_depthwise_conv2d_s8", requires={"armv7-neon"}, priority=PRIORITY)(
    _aarch64_kernel("depthwise", neon.depthwise_conv2d_neon))
add_neon32 = specializer("ep_add_s8", requires={"armv7-neon"}, priority=PRIORITY)(
    _aarch64_kernel("add", neon.add_neon))
avg_pool_neon32 = specializer("ep_avg_pool_s8", requires={"armv7-neon"}, priority=PRIORITY)(
    _aarch64_kernel("avg_pool", neon.avg_pool_neon))
