"""Multi-threaded inference (`edgeprune build --threads N`, Linux targets): splits heavy kernel calls into slices
that the runtime's thread pool (csrc/include/edgeprune/runtime/parallel.h) runs at once, one per thread.

No kernel changes: each slice is the same kernel called on a copy of the params with other geometry and pointers.

* Row split (CONV_2D in every variant a Linux target uses, DEPTHWISE_CONV_2D, AVERAGE/MAX_POOL_2D; batch 1): output
  rows [o0, o1) of the layer. The slice's first output row starts its window at input row origin = o0 * stride_h -
  pad_h; the slice gets the input from row i0 = max(0, origin) to the image's last row (in_h' = in_h - i0) and
  pad_h' = i0 - origin. Every output row then sees exactly the input rows, padding rows and bottom edge that it sees
  in the whole layer (the kernels derive the bottom padding from in_h, which still ends at the image's end), so each
  slice computes the same bytes. Each slice gets its own scratch region: for the NEON kernels the largest need of a
  slice by the lowering's formulas (their padded copy holds only the slice's rows), else the layer's size.
* Element split (ADD/MUL int8 without broadcasting): element ranges, multiples of 16 elements (the NEON step).

Split calls give up in-place placement: a slice could overwrite input bytes that another thread has yet to read.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeprune.ir import Tensor
from edgeprune.lower.program import KernelCall, Scratch

MAX_THREADS = 64  # EP_MAX_THREADS in csrc/include/edgeprune/runtime/parallel.h

ROW_SPLIT = frozenset({
    "ep_conv2d_s8", "ep_conv2d_s8_neon", "ep_conv2d_s8_sdot", "ep_conv2d_s8_neon32", "ep_conv2d_s8_sparse_neon",
    "ep_conv2d_s8_sparse_sdot", "ep_depthwise_conv2d_s8", "ep_depthwise_conv2d_s8_neon", "ep_avg_pool_s8",
    "ep_avg_pool_s8_neon", "ep_max_pool_s8",
})
ELEMENT_SPLIT = frozenset({"ep_add_s8", "ep_add_s8_neon", "ep_mul_s8"})
ELEMENT_STEP = 16
SCRATCH_ALIGN = 16


@dataclass
class Slice:
    """One slice of a split call: its full params and, per arg index, bytes added to the arg's address."""

    params: dict
    deltas: dict[int, int]


def _align(n: int, a: int) -> int:
    return -(-n // a) * a


def _activation(a) -> bool:
    return isinstance(a, Tensor) and not a.is_constant


def row_ranges(rows: int, parts: int) -> list[tuple[int, int]]:
    """[o0, o1) of min(parts, rows) near-equal contiguous slices (the first ones one row longer)."""
    k = max(1, min(parts, rows))
    base, extra = divmod(rows, k)
    out, start = [], 0
    for i in range(k):
        n = base + (1 if i < extra else 0)
        out.append((start, start + n))
        start += n
    return out


def _row_slices(call: KernelCall, threads: int) -> list[Slice] | None:
    p = call.params
    need = ("batches", "in_h", "out_h", "pad_h", "stride_h", "filter_h")
    if any(k not in p for k in need) or int(p["batches"]) != 1:
        return None
    outs = [j for j, a in enumerate(call.args) if call.op.outputs and a is call.op.outputs[0]]
    inputs = [j for j, a in enumerate(call.args) if _activation(a) and j not in outs]
    if len(inputs) != 1 or len(outs) != 1:
        return None
    x, y = call.args[inputs[0]], call.args[outs[0]]
    if not (_activation(y) and len(x.shape) == 4 and len(y.shape) == 4 and x.shape[0] == 1 and y.shape[0] == 1
            and x.shape[1] == int(p["in_h"]) and y.shape[1] == int(p["out_h"])):
        return None
    in_h, out_h, pad, stride = (int(p[k]) for k in ("in_h", "out_h", "pad_h", "stride_h"))
    in_row, out_row = x.nbytes // in_h, y.nbytes // out_h
    ranges = row_ranges(out_h, threads)
    if len(ranges) < 2:
        return None
    slices = []
    for o0, o1 in ranges:
        origin = o0 * stride - pad
        i0 = max(0, origin)
        if i0 >= in_h:
            return None
        params = dict(p, in_h=in_h - i0, out_h=o1 - o0, pad_h=i0 - origin)
        slices.append(Slice(params, {inputs[0]: i0 * in_row, outs[0]: o0 * out_row}))
    scratch = [j for j, a in enumerate(call.args) if isinstance(a, Scratch)]
    if scratch:
        need = _slice_scratch_bytes(call.func)
        per = [need(s.params) if need else call.args[j].nbytes for s in slices for j in scratch]
        stride = _align(max(per), SCRATCH_ALIGN)
        for t, s in enumerate(slices):
            s.deltas.update({j: t * stride for j in scratch})
    return slices


def _slice_scratch_bytes(func: str):
    """The lowering's scratch formula of a row-split NEON kernel (a function of its params), or None: the others'
    scratch does not depend on the rows (pools: one int32 per channel; portable conv: none)."""
    from edgeprune.lower.isa import neon, neon_sparse

    return {
        "ep_conv2d_s8_neon": neon.gemm_scratch_bytes, "ep_conv2d_s8_sdot": neon.gemm_scratch_bytes,
        "ep_conv2d_s8_neon32": neon.gemm_scratch_bytes,
        "ep_depthwise_conv2d_s8_neon": neon.depthwise_scratch_bytes,
        "ep_conv2d_s8_sparse_neon": lambda q: neon_sparse.scratch_bytes(q, sdot=False),
        "ep_conv2d_s8_sparse_sdot": lambda q: neon_sparse.scratch_bytes(q, sdot=True),
    }.get(func)


def _element_slices(call: KernelCall, threads: int) -> list[Slice] | None:
    p = call.params
    if int(p.get("broadcast", 1)) != 0 or len(call.args) != 3:
        return None
    size = int(p["size"])
    if any(not isinstance(a, Tensor) or a.num_elements != size for a in call.args):
        return None
    steps = -(-size // ELEMENT_STEP)
    ranges = [(s0 * ELEMENT_STEP, min(size, s1 * ELEMENT_STEP)) for s0, s1 in row_ranges(steps, threads)]
    if len(ranges) < 2:
        return None
    return [Slice(dict(p, size=e1 - e0), {j: e0 * (a.nbytes // size) for j, a in enumerate(call.args)})
            for e0, e1 in ranges]


def split_call(call: KernelCall, threads: int) -> list[Slice] | None:
    """The slices of one call for `threads` threads, or None when it stays on the calling thread."""
    if threads < 2:
        return None
    if call.func in ROW_SPLIT:
        return _row_slices(call, threads)
    if call.func in ELEMENT_SPLIT:
        return _element_slices(call, threads)
    return None


def parallelize(calls: list[KernelCall], threads: int) -> list[KernelCall]:
    """Marks the calls that run split (KernelCall.slices) and sizes their scratch for one region per slice; before
    the memory plan, which then reserves it (and includes it in the arena's peak)."""
    for call in calls:
        slices = split_call(call, threads)
        if slices is None:
            continue
        call.slices = slices
        for j, a in enumerate(call.args):
            if isinstance(a, Scratch):  # slice t's region starts t * stride bytes in (slices[1]: one stride)
                call.args[j] = Scratch(len(slices) * slices[1].deltas[j], name=f"{a.name}_x{len(slices)}")
        call.inplace_lag_bytes = None
    return calls
