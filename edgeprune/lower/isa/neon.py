"""AArch64 NEON specializations (Raspberry Pi 4 / 5): int8 CONV_2D as a register-blocked GEMM (SMULL/SMLAL2 +
SADALP on any Armv8-A, SDOT with the "dotprod" feature), DEPTHWISE_CONV_2D, ADD and AVERAGE_POOL_2D:
csrc/kernels/*_neon.cc and *_sdot.cc.

Each rewrite is an exact integer identity of the portable kernel (see csrc/include/edgeprune/kernels/conv_neon.h):
the input offset is folded into the bias (padded taps read the input zero point, where x + offset == 0), the
per-channel requantization fields are re-laid-out per output-channel tile, and GEMM filters are packed at build
time into the micro-kernel's panel order, zero-padded. The int16 pair sums of the SMLAL GEMM and of the depthwise
kernel need weights in [-127, 127] (TFLite's int8 weight range); a layer with a -128 weight stays portable on
cores without SDOT (GEMM) or on all cores (depthwise).
"""

from __future__ import annotations

import numpy as np

from edgeprune.analysis.inplace import window_call_lag
from edgeprune.lower.isa.common import const_arg, wrap_i32
from edgeprune.lower.program import KernelCall, Scratch
from edgeprune.lower.specialize import specializer

PRIORITY = 20  # above any Cortex-M specializer (a profile never has both, but be explicit)
GEMM_PIXELS = 8  # EP_NEON_GEMM_PIXELS
GEOMETRY = ("batches", "in_h", "in_w", "in_c", "filter_h", "filter_w", "out_h", "out_w", "out_c",
            "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w")
# The specializers below can be switched off (e.g. to measure the portable kernels on an rpi target).
ENABLED = {"conv": True, "sdot": True, "depthwise": True, "add": True, "avg_pool": True}




def gemm_bias(call: KernelCall, n: int) -> np.ndarray | None:
    """The int64 bias of a conv / FC call (zeros when it has none); None when it is not a constant of n values."""
    if call.args[2] is None:
        return np.zeros(n, dtype=np.int64)
    b = const_arg(call, 2)
    return None if b is None or b.size != n else b.reshape(-1).astype(np.int64)


def rq_fields(bias: np.ndarray, mult: np.ndarray, shift: np.ndarray, tile: int) -> np.ndarray:
    """int32 [ceil(n/tile)][bias', multiplier, left shift, right shift][tile], zero-padded."""
    n = bias.size
    groups = -(-n // tile)
    shift = np.asarray(shift, dtype=np.int64).reshape(-1)
    fields = np.zeros((4, groups * tile), dtype=np.int64)
    for f, v in enumerate((bias, np.asarray(mult).reshape(-1), np.maximum(shift, 0), np.minimum(shift, 0))):
        fields[f, :n] = v
    return wrap_i32(fields.reshape(4, groups, tile).transpose(1, 0, 2).reshape(-1))


def oc_tiles(oc: int, tile: int) -> list[int]:
    """First output channel of each GEMM tile: 0, tile, ..., and oc - tile last (the last tile overlaps the one
    before it when oc % tile != 0, so every tile stores whole; oc < tile: one zero-padded tile)."""
    n = -(-oc // tile)
    return [tile * i if i + 1 < n else max(oc - tile, 0) for i in range(n)]


def _tile_rows(w: np.ndarray, tile: int) -> np.ndarray:
    """[oc, K] -> [ceil(oc/tile) * tile, ceil(K/16) * 16]: the rows of each tile (see oc_tiles), zero-padded."""
    oc, k = w.shape
    k16 = -(-k // 16) * 16
    starts = oc_tiles(oc, tile)
    padded = np.zeros((len(starts) * tile, k16), dtype=np.int8)
    for t, s in enumerate(starts):
        rows = w[s:s + tile]
        padded[t * tile:t * tile + rows.shape[0], :k] = rows
    return padded


def pack_smlal(w: np.ndarray) -> np.ndarray:
    """[oc, K] int8 -> [ceil(oc/4)][ceil(K/16)][4 oc][16 k], tiles as oc_tiles(oc, 4), zero-padded."""
    padded = _tile_rows(w, 4)
    oc4, k16 = padded.shape
    return np.ascontiguousarray(padded.reshape(oc4 // 4, 4, k16 // 16, 16).transpose(0, 2, 1, 3).reshape(-1))


def sdot_tiles(oc: int) -> list[tuple[int, int]]:
    """(first channel, width) of each ep_conv2d_s8_sdot tile: 8-channel tiles from 0, then for a remainder of 1-4
    channels a 4-channel tile [oc - 4, oc), for 5-7 an 8-channel tile [oc - 8, oc) (overlapping the one before);
    fewer than 8 channels: one zero-padded tile (4 wide for oc <= 4)."""
    if oc <= 4:
        return [(0, 4)]
    if oc < 8:
        return [(0, 8)]
    tiles = [(8 * i, 8) for i in range(oc // 8)]
    r = oc % 8
    if r:
        tiles.append((oc - 4, 4) if r <= 4 else (oc - 8, 8))
    return tiles


def pack_sdot(w: np.ndarray) -> np.ndarray:
    """[oc, K] int8 -> per tile of sdot_tiles(oc), zero-padded: 8 wide: [ceil(K/16)][4 k-groups][2 halves][4 oc]
    [4 k] (per 16 k, the eight SDOT operands in the order the micro-kernel loads them); 4 wide: [ceil(K/16)]
    [4 k-groups][4 oc][4 k]."""
    oc, k = w.shape
    k16 = -(-k // 16) * 16
    out = []
    for start, width in sdot_tiles(oc):
        rows = np.zeros((width, k16), dtype=np.int8)
        part = w[start:start + width]
        rows[:part.shape[0], :k] = part
        if width == 8:  # [half, j, step, group, kk] -> [step, group, half, j, kk]
            out.append(rows.reshape(2, 4, k16 // 16, 4, 4).transpose(2, 3, 0, 1, 4).reshape(-1))
        else:  # [j, step, group, kk] -> [step, group, j, kk]
            out.append(rows.reshape(4, k16 // 16, 4, 4).transpose(1, 2, 0, 3).reshape(-1))
    return np.ascontiguousarray(np.concatenate(out))


def sdot_rq(bias: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """int32 rq per tile of sdot_tiles: 8 wide: [bias' twice, multiplier, left shift, right shift][8] (one LD1
    starts two pixels' accumulators); 4 wide: [bias' 4 times][4], then the other three fields [3][4]."""
    n = bias.size
    fields = rq_fields(bias, mult, shift, max(n, 8)).reshape(4, -1)
    out = []
    for start, width in sdot_tiles(n):
        f = fields[:, start:start + width]
        out.append(np.concatenate([f[:1]] * (2 if width == 8 else 4) + [f[1:]]).reshape(-1))
    return np.ascontiguousarray(np.concatenate(out))


def gemm_rq(bias: np.ndarray, mult: np.ndarray, shift: np.ndarray, tile: int) -> np.ndarray:
    """rq_fields per GEMM tile (oc_tiles(n, tile): the last tile overlaps the one before it)."""
    n = bias.size
    if n <= tile or n % tile == 0:
        return rq_fields(bias, mult, shift, tile)
    fields = rq_fields(bias, mult, shift, n).reshape(4, n)
    return np.ascontiguousarray(np.stack([fields[:, s:s + tile] for s in oc_tiles(n, tile)])).reshape(-1)


def segment_bytes(p: dict) -> int:
    """Bytes per filter row of a GEMM row read in place: filter_w * in_c rounded up to 16 (the tail multiplies zero
    weights; it reads the next bytes of the image, or of the scratch after it)."""
    return -(-(p["filter_w"] * p["in_c"]) // 16) * 16


def use_segments(p: dict, sdot: bool) -> bool:
    """Whether the GEMM reads each window's filter rows in place (zero-padded to segment_bytes in K) rather than
    gathering im2col rows: dilation_w 1 and the padding adds little to K: at most a quarter or one 16-byte step
    for SDOT (a step of an 8 x 8 tile costs about as much as gathering the 8 rows), an eighth for the SMLAL tile."""
    if p["dilation_w"] != 1:
        return False
    k = p["filter_h"] * p["filter_w"] * p["in_c"]
    k16 = -(-k // 16) * 16
    return p["filter_h"] * segment_bytes(p) <= (max(k16 + 16, k16 * 5 // 4) if sdot else k16 * 9 // 8)


COLUMNS_SLACK = 128  # EP_NEON_COLUMNS_SLACK


def use_columns(p: dict, sdot: bool) -> bool:
    """Whether the GEMM reads its rows from "columns" (segments = 2, csrc neon_gemm.h build_columns): each output row's
    padded input columns with their filter_h taps one after the other (filter_h * in_c bytes, 2 <= filter_h <= 4,
    at most 16 bytes: one TBL chunk), so a window's GEMM row is contiguous, in (fx, fy, c) order, with K only
    rounded up to 16 once. For small in_c (an RGB stem): fewer steps than segments, and no per-pixel gather as with
    im2col rows. Taken when it needs fewer 16-byte steps than segments, or segments are not taken."""
    if p["dilation_w"] != 1 or not 2 <= p["filter_h"] <= 4 or p["filter_h"] * p["in_c"] > 16:
        return False
    if p["filter_h"] == 1 and p["filter_w"] == 1:
        return False
    k16 = -(-(p["filter_h"] * p["filter_w"] * p["in_c"]) // 16) * 16
    return not use_segments(p, sdot) or k16 < p["filter_h"] * segment_bytes(p)


def use_planes(p: dict, sdot: bool) -> bool:
    """Whether the SDOT GEMM reads its windows from "planes" (segments = 3, csrc neon_gemm.h pad_planes): the padded
    input split by input column modulo stride_w and by 16-channel group, so the same 16-byte step of 8 consecutive
    output pixels is 128 contiguous bytes (two LD1 instead of eight loads) for any in_c % 16 == 0 and stride. Taken
    where the in-place rows are not already contiguous (in_c > 16 or stride_w > 1). K runs (fy, 16-channel group,
    fx, c): at stride 1 a filter row's taps of one group are consecutive 16-byte steps, 16 bytes apart."""
    return (sdot and p["dilation_w"] == 1 and p["in_c"] % 16 == 0 and (p["in_c"] > 16 or p["stride_w"] > 1)
            and not (p["filter_h"] == 1 and p["filter_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0))


def planes_bytes(p: dict) -> int:
    """The planes' bytes: padded_h rows of ceil(padded_w / stride_w) 16-byte columns, stride_w * in_c / 16 planes."""
    padded_h, padded_w, _ = _padded(p)
    return padded_h * -(-padded_w // p["stride_w"]) * p["stride_w"] * p["in_c"]


def gemm_scratch_bytes(p: dict) -> int:
    """Scratch of ep_conv2d_s8_neon / _sdot (csrc/include/edgeprune/detail/neon_gemm.h): the input padded with its
    zero point when the convolution reads outside it (or segments read past its end; planes: always, as planes),
    then, unless the GEMM reads each window's rows in place (segments), EP_NEON_GEMM_PIXELS im2col rows and 16 spare
    bytes; last, the int32 offsets of the GEMM row's 16-byte steps (at least 16 bytes: a segment's over-read past
    the image lands there)."""
    steps = -(-(4 * (p["k_padded"] // 16)) // 16) * 16  # the int32 offsets of the 16-byte steps, last
    if p["direct"]:
        return steps
    if p["segments"] == 3:
        return planes_bytes(p) + steps
    padded_h, padded_w, copy = _padded(p, segments=bool(p["segments"]))
    copy = copy or p["segments"] == 2  # columns: always built from the padded copy
    nbytes = -(-(padded_h * padded_w * p["in_c"]) // 16) * 16 if copy else 0
    if p["segments"] == 2:  # the columns of every output row, then the slack
        nbytes += -(-(p["out_h"] * padded_w * p["filter_h"] * p["in_c"]) // 16) * 16 + COLUMNS_SLACK
    elif not p["segments"]:
        nbytes += GEMM_PIXELS * p["k_padded"] + 16  # im2col rows, then the short rows' overrun
    return nbytes + steps


@specializer("ep_conv2d_s8", requires={"neon"}, priority=PRIORITY)
def conv2d_neon(call: KernelCall) -> KernelCall | None:
    return _conv2d(call, sdot=False)


@specializer("ep_conv2d_s8", requires={"neon", "dotprod"}, priority=PRIORITY + 1)
def conv2d_sdot(call: KernelCall) -> KernelCall | None:
    return _conv2d(call, sdot=True) if ENABLED["sdot"] else None


def _conv2d(call: KernelCall, sdot: bool) -> KernelCall | None:
    p = call.params
    if not ENABLED["conv"]:
        return None
    w = const_arg(call, 1)
    oc = int(p["out_c"])
    bias = gemm_bias(call, oc)
    if w is None or bias is None or w.ndim != 4 or w.shape != (oc, p["filter_h"], p["filter_w"], p["in_c"]):
        return None
    k = int(p["filter_h"]) * int(p["filter_w"]) * int(p["in_c"])
    w2 = w.reshape(oc, k).astype(np.int8)
    if not sdot and w2.size and int(w2.min()) < -127:
        return None  # the int16 pair sum could overflow: stay portable
    off = int(p["input_offset"])
    folded = bias + off * w2.astype(np.int64).sum(axis=1)
    mult, shift = call.consts["out_multiplier"], call.consts["out_shift"]
    rq = sdot_rq(folded, mult, shift) if sdot else gemm_rq(folded, mult, shift, 4)
    params = {key: int(p[key]) for key in GEOMETRY}
    direct = int(p["filter_h"] == 1 and p["filter_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0
                 and int(p["in_c"]) % 16 == 0)
    segments = int(bool(direct) or use_segments(params, sdot))
    if not direct and use_planes(params, sdot):  # K in (fy, 16-channel group, fx, c) order (neon_gemm.h planes)
        segments = 3
        fh, fw, groups = int(p["filter_h"]), int(p["filter_w"]), int(p["in_c"]) // 16
        w2 = w.reshape(oc, fh, fw, groups, 16).transpose(0, 1, 3, 2, 4).reshape(oc, k).astype(np.int8)
    elif not direct and use_columns(params, sdot):  # K in (fx, fy, c) order: a window's columns, one after the other
        segments = 2
        w2 = w.transpose(0, 2, 1, 3).reshape(oc, k).astype(np.int8)
    elif segments and not direct:  # K runs over the filter rows, each zero-padded to segment_bytes
        seg, row = segment_bytes(params), int(p["filter_w"]) * int(p["in_c"])
        w2 = np.pad(w2.reshape(oc, int(p["filter_h"]), row), ((0, 0), (0, 0), (0, seg - row))).reshape(oc, -1)
    k_padded = -(-w2.shape[1] // 16) * 16
    params.update(input_zero_point=-off, output_offset=int(p["output_offset"]), act_min=int(p["act_min"]),
                  act_max=int(p["act_max"]), k_padded=k_padded, direct=direct, segments=segments,
                  left_shifts=int(bool(np.any(np.asarray(call.consts["out_shift"]) > 0))),
                  all_right=int(bool(np.all(np.asarray(call.consts["out_shift"]) < 0))))
    consts = {"rq": rq, "filter": pack_sdot(w2) if sdot else pack_smlal(w2)}
    scratch = Scratch(gemm_scratch_bytes(params), name="im2col")
    func = "ep_conv2d_s8_sdot" if sdot else "ep_conv2d_s8_neon"
    return KernelCall(call.op, func, "ep_conv2d_s8_neon_params", params=params, consts=consts,
                      args=[call.args[0], scratch, call.args[3]])


def depthwise_blocks(c: int) -> list[int]:
    """First channel of each 16-channel block of ep_depthwise_conv2d_s8_neon: 0, 16, ..., and C - 16 last."""
    n = -(-c // 16)
    return [16 * i if i + 1 < n else max(c - 16, 0) for i in range(n)]


def _padded(p: dict, segments: bool = False) -> tuple[int, int, bool]:
    """Rows the convolution reads (csrc source_geometry): the padded size, and whether the kernel copies the input
    into the scratch, padded with its zero point: padding, or segments that would read past the input's end."""
    padded_h = (p["out_h"] - 1) * p["stride_h"] + (p["filter_h"] - 1) * p["dilation_h"] + 1
    padded_w = (p["out_w"] - 1) * p["stride_w"] + (p["filter_w"] - 1) * p["dilation_w"] + 1
    copy = p["pad_h"] > 0 or p["pad_w"] > 0 or padded_h > p["in_h"] or padded_w > p["in_w"]
    if segments and not copy:
        last = (((p["out_h"] - 1) * p["stride_h"] + (p["filter_h"] - 1) * p["dilation_h"]) * p["in_w"] * p["in_c"]
                + (p["out_w"] - 1) * p["stride_w"] * p["in_c"] + segment_bytes(p))
        copy = last > p["in_h"] * p["in_w"] * p["in_c"]
    return padded_h, padded_w, copy


def depthwise_scratch_bytes(p: dict) -> int:
    """Scratch of ep_depthwise_conv2d_s8_neon: the tap offsets (int32), the zero-point-padded image (rounded up to
    16 bytes), then the SDOT path's interleaved columns, or the few-channel path's per-phase tables."""
    padded_h, padded_w, copy = _padded(p)
    image = -(-(padded_h * padded_w * p["in_c"]) // 16) * 16 if copy else 0
    taps = p["filter_h"] * p["filter_w"]
    if p["in_c"] < 16 and p["stride_w"] == 1 and p["out_w"] * p["in_c"] >= 16:
        # flat_rows: for each of the C phases, 4 x 16 int32 requantization fields and taps x 16 weights.
        columns = p["in_c"] * (4 * 16 * 4 + 16 * taps)
    elif p["filter_h"] == 3 and p["filter_w"] == 3 and p["in_c"] >= 16:
        # The SDOT path's interleaved window rows: 64 bytes per column of the image it reads, the input itself (all
        # in_w columns, not only those the windows span) when it does not copy.
        columns = 64 * (padded_w if copy else p["in_w"])
    else:
        columns = 0
    return -(-(4 * taps) // 16) * 16 + image + columns


@specializer("ep_depthwise_conv2d_s8", requires={"neon"}, priority=PRIORITY)
def depthwise_conv2d_neon(call: KernelCall) -> KernelCall | None:
    p = call.params
    if not ENABLED["depthwise"] or int(p["depth_multiplier"]) != 1 or p["out_c"] != p["in_c"]:
        return None
    w = const_arg(call, 1)
    c = int(p["in_c"])
    bias = gemm_bias(call, c)
    if w is None or bias is None or w.shape != (1, p["filter_h"], p["filter_w"], c):
        return None
    if w.size and int(w.min()) < -127:
        return None
    off = int(p["input_offset"])
    folded = bias + off * w.reshape(-1, c).astype(np.int64).sum(axis=0)
    starts = depthwise_blocks(c)
    fields = rq_fields(folded, call.consts["out_multiplier"], call.consts["out_shift"], max(c, 16))
    fields = fields.reshape(4, -1)
    rq = np.ascontiguousarray(np.stack([fields[:, s:s + 16] for s in starts])).reshape(-1)
    taps = w.reshape(-1, c).astype(np.int8)
    if c < 16:
        taps = np.concatenate([taps, np.zeros((taps.shape[0], 16 - c), dtype=np.int8)], axis=1)
    packed = np.ascontiguousarray(np.stack([taps[:, s:s + 16] for s in starts])).reshape(-1)
    params = {key: int(p[key]) for key in GEOMETRY}
    params.update(input_zero_point=-off, output_offset=int(p["output_offset"]), act_min=int(p["act_min"]),
                  act_max=int(p["act_max"]))
    scratch = Scratch(depthwise_scratch_bytes(params), name="dw_padded")
    return KernelCall(call.op, "ep_depthwise_conv2d_s8_neon", "ep_depthwise_conv2d_s8_neon_params", params=params,
                      consts={"rq": rq, "filter": packed}, args=[call.args[0], call.args[1], scratch, call.args[3]])


@specializer("ep_add_s8", requires={"neon"}, priority=PRIORITY)
def add_neon(call: KernelCall) -> KernelCall | None:
    if not ENABLED["add"] or int(call.params["broadcast"]):
        return None
    out = KernelCall(call.op, "ep_add_s8_neon", call.params_type, params=dict(call.params), consts=dict(call.consts),
                     args=list(call.args), outputs=call.outputs)
    out.inplace_lag_bytes = 0  # element i is read (16 at a time) before element i is written
    return out


@specializer("ep_avg_pool_s8", requires={"neon"}, priority=PRIORITY)
def avg_pool_neon(call: KernelCall) -> KernelCall | None:
    if not ENABLED["avg_pool"]:
        return None
    out = KernelCall(call.op, "ep_avg_pool_s8_neon", call.params_type, params=dict(call.params),
                     consts=dict(call.consts), args=list(call.args), outputs=call.outputs)
    # As the portable kernel: all of a pixel's window sums go to the scratch before the pixel is written.
    out.inplace_lag_bytes = window_call_lag(out, pixel_group=1)
    return out
