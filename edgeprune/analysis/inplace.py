"""In-place legality of the portable kernels: how far before its input an output may start (KernelCall docs).

Window kernels (convolution, depthwise convolution, pooling, fully connected as a 1x1 window over batches)
write output pixels in row-major order (batch, y, x), all channels of a pixel together (in any order), and
read only their input window. The contract per pixel group: every byte written for the pixels of group k lies
below every input byte read for groups k, k+1, ... With the output starting d bytes after the input
(d < 0: before), group k writes [d + start_k * out_px, d + end_k * out_px) and the groups from k on read no
byte below min_read(k), so the legal d are d <= D = min_k(min_read(k) - end_k * out_px) and the minimal lag
is -D. min_read(k) is the suffix minimum of the first byte each pixel reads (its first valid window row and
column, exactly as the kernels clip the window at the borders).
"""

from __future__ import annotations

import numpy as np

from edgeprune.ir import DTYPE_BYTES, Tensor


def _first_tap(out_size: int, in_size: int, taps: int, stride: int, dilation: int, pad: int) -> np.ndarray:
    """First input coordinate each output coordinate reads (-1 where the window holds no valid tap)."""
    o = np.arange(out_size, dtype=np.int64)
    origin = o * stride - pad
    begin = np.where(origin >= 0, 0, (-origin + dilation - 1) // dilation)
    room = in_size - origin
    end = np.where(room <= 0, 0, np.minimum((room + dilation - 1) // dilation, taps))
    return np.where(begin < end, origin + dilation * begin, -1)


def window_lag(batches: int, in_h: int, in_w: int, in_pixel_bytes: int, out_h: int, out_w: int,
               out_pixel_bytes: int, filter_h: int, filter_w: int, stride_h: int = 1, stride_w: int = 1,
               dilation_h: int = 1, dilation_w: int = 1, pad_h: int = 0, pad_w: int = 0,
               pixel_group: int = 1) -> int:
    """The minimal lag (bytes, >= 0) for a row-major window kernel under the per-pixel-group contract.

    pixel_group: how many consecutive output pixels the kernel computes together (it may write any of them
    before it has read all their windows); the portable kernels use 1.
    """
    rows = _first_tap(out_h, in_h, filter_h, stride_h, dilation_h, pad_h)
    cols = _first_tap(out_w, in_w, filter_w, stride_w, dilation_w, pad_w)
    per_pixel = (rows[:, None] * in_w + cols[None, :]) * in_pixel_bytes  # within one batch
    valid = (rows[:, None] >= 0) & (cols[None, :] >= 0)
    big = np.iinfo(np.int64).max // 4
    per_pixel = np.where(valid, per_pixel, big).reshape(-1)
    batch_bytes = in_h * in_w * in_pixel_bytes
    reads = np.concatenate([per_pixel + b * batch_bytes for b in range(batches)]) if batches > 0 else per_pixel[:0]
    n = reads.size
    if n == 0:
        return 0
    suffix = np.minimum.accumulate(reads[::-1])[::-1]
    g = max(1, int(pixel_group))
    starts = np.arange(0, n, g)
    ends = np.minimum(starts + g, n)
    first_read = suffix[starts]
    ok = first_read < big // 2
    if not ok.any():
        return 0
    d = int((first_read[ok] - ends[ok] * out_pixel_bytes).min())
    return max(0, -d)


_ELEMENTWISE = {
    "ep_relu_s8", "ep_relu_f32", "ep_logistic_s8", "ep_logistic_f32", "ep_hard_swish_s8", "ep_hard_swish_f32",
    "ep_quantize_s8_s8",
}
_BINARY = {"ep_add_s8", "ep_add_f32", "ep_mul_s8", "ep_mul_f32", "ep_add_s8_mve"}  # element i from elements i
_CONV = {"ep_conv2d_s8", "ep_conv2d_f32", "ep_depthwise_conv2d_s8", "ep_depthwise_conv2d_f32"}
_POOL = {"ep_avg_pool_s8", "ep_avg_pool_f32", "ep_max_pool_s8", "ep_max_pool_f32"}
_FC = {"ep_fully_connected_s8", "ep_fully_connected_f32"}
_ALIAS = {"ep_copy"}


def _arena(t) -> bool:
    return isinstance(t, Tensor) and not t.is_constant


def window_call_lag(call, pixel_group: int = 1) -> int | None:
    """The minimal lag of a convolution, depthwise convolution, pooling or fully-connected call (input args[0],
    output the arg that is the op's output) from its params with the portable kernels' field names, under the
    per-pixel-group contract; None when the call lacks that geometry.

    For optimized kernels: set `inplace_lag_bytes = window_call_lag(call, pixel_group=g)` on the call a
    specializer returns only if the kernel writes output pixels in row-major order, all channels of a pixel
    before any later group's, reads nothing outside the windows of the current and later groups, and computes
    at most g consecutive pixels together (e.g. g = 2 for two-pixel im2col kernels). Leave None otherwise.
    """
    p, a = call.params, call.args
    if not a or not _arena(a[0]):
        return None
    produced = {id(t) for t in call.op.outputs}
    outs = [t for t in a if _arena(t) and id(t) in produced]
    if len(outs) != 1:
        return None
    x, y = a[0], outs[0]
    esz_in, esz_out = DTYPE_BYTES[x.dtype], DTYPE_BYTES[y.dtype]
    try:
        if "units" in p and "depth" in p:  # fully connected: 1x1 windows over the batch rows
            return window_lag(1, p["batches"], 1, p["depth"] * esz_in, p["batches"], 1, p["units"] * esz_out,
                              1, 1, pixel_group=pixel_group)
        in_c = p["in_c"] if "in_c" in p else p["channels"]
        out_c = p["out_c"] if "out_c" in p else p["channels"]
        return window_lag(p["batches"], p["in_h"], p["in_w"], in_c * esz_in, p["out_h"], p["out_w"],
                          out_c * esz_out, p["filter_h"], p["filter_w"], p["stride_h"], p["stride_w"],
                          p.get("dilation_h", 1), p.get("dilation_w", 1), p["pad_h"], p["pad_w"],
                          pixel_group=pixel_group)
    except KeyError:
        return None


def portable_contract(call) -> tuple[int, tuple[int, ...]] | None:
    """(lag, input arg indices) for a call to a portable kernel whose in-place behaviour we know, else None."""
    f, p, a = call.func, call.params, call.args
    if f in _ELEMENTWISE:
        x, y = a[0], a[1]
        if _arena(x) and _arena(y) and x.nbytes == y.nbytes and DTYPE_BYTES[x.dtype] == DTYPE_BYTES[y.dtype]:
            return 0, (0,)
        return None
    if f in _BINARY:
        if p.get("broadcast", 1) != 0:
            return None
        out = a[2]
        ins = tuple(j for j in (0, 1) if _arena(a[j]) and a[j].nbytes == out.nbytes)
        return (0, ins) if ins else None
    if f in _CONV or f in _POOL or f in _FC:
        lag = window_call_lag(call)
        return None if lag is None else (lag, (0,))
    return None


def annotate_portable(calls) -> None:
    """Declares the in-place contract on calls to portable kernels that do not declare one (and aliases)."""
    for call in calls:
        if call.func in _ALIAS and call.alias_of is None and len(call.args) == 2 and _arena(call.args[0]) \
                and _arena(call.args[1]) and call.args[0].nbytes == call.args[1].nbytes \
                and call.params.get("nbytes") == call.args[1].nbytes and call.op.kind in ("RESHAPE", "SQUEEZE"):
            call.alias_of = 0
        if call.inplace_lag_bytes is not None or call.slices is not None:  # split calls: no in-place (parallel.py)
            continue
        contract = portable_contract(call)
        if contract is not None:
            call.inplace_lag_bytes, call.inplace_inputs = contract
