"""Fine-grained structured sparsity: zero whole weight blocks of CONV_2D / FULLY_CONNECTED layers by
magnitude, in the block shape the sparse kernels skip (edgeprune/lower/isa/dsp_sparse.py).

Blocks are 2 output channels x `width` consecutive elements of the flattened filter (K = kh * kw * in_c,
in_c innermost), aligned to multiples of `width` from 0: "2x4" is the DSP kernels' own block; "2x8" and
"2x16" are coarser masks (unions of 2x4 blocks, cheaper indices in a future format, less accuracy);
"n:m" keeps the n largest of every m consecutive 2x4 blocks along K (a fixed density per channel pair);
"8x4" is 8 output channels x 4 (the AArch64 NEON sparse kernels' block, edgeprune/lower/isa/neon_sparse.py).
A block's magnitude is the mean square of its real-valued weights (int8 times the per-channel scale), so
channels with different scales compare fairly, and so do blocks that the channel count or K only partly
fill. Zeroing int8 weights keeps them exact zeros; float weights stay exact zeros through symmetric int8
weight quantization (0 maps to 0).

With calibration inputs, the kept weights (and the bias) of each masked layer are then refit by ridge least
squares, in graph order, so that on the calibration data the layer reproduces the dense layer's
pre-activation output from the inputs the sparse model gives it (the one-shot channel pruner's
reconstruction, edgeprune/prune/oneshot.py, restricted to the kept weights of each channel pair).
"""

from __future__ import annotations

import copy
import re

import numpy as np

from edgeprune.errors import EdgePruneError
from edgeprune.ir import Graph, Op

PATTERNS = ("2x4", "2x8", "2x16", "1:4", "1:8", "1:16", "2:8", "8x4")
# What the written .tflite holds (tests/backends/test_tflite_sparsity.py checks the reason).
TFLITE_NOTE = ("weights written dense with exact zeros: LiteRT's reference FULLY_CONNECTED refuses int8 weights "
               "with TFLite sparsity metadata ('Unsupported sparse fully-connected weight format'); the C build "
               "stores the non-zero blocks only")


def _real_rows(op: Op) -> np.ndarray:
    """The filter as float rows [out channels][K]."""
    w = op.inputs[1]
    rows = np.asarray(w.data, dtype=np.float64).reshape(w.shape[0], -1)
    if w.quant is not None and w.dtype == "int8":
        scale = np.asarray(w.quant.scale, dtype=np.float64).reshape(-1)
        rows = rows * (scale[:, None] if scale.size == rows.shape[0] else scale[0])
    return rows


def block_keep(rows: np.ndarray, sparsity: float, pattern: str) -> np.ndarray:
    """bool [rows][K]: the weights kept when `sparsity` of the blocks (or n:m) are zeroed by magnitude."""
    nm = re.fullmatch(r"(\d+):(\d+)", pattern)
    width = 4 if nm else int(pattern.split("x")[1])
    height = 2 if nm else int(pattern.split("x")[0])  # "8x4": 8 output channels (the NEON kernels' block)
    r, k = rows.shape
    r2, kb = -(-r // height) * height, -(-k // width) * width
    padded = np.zeros((r2, kb))
    padded[:r, :k] = rows
    # A block's mean square over its real weights: a last group with fewer channels (10 classes in 8-row blocks)
    # or the K tail would otherwise rank low for its padding alone, and lose every block first.
    real = np.zeros((r2, kb))
    real[:r, :k] = 1.0
    count = real.reshape(r2 // height, height, kb // width, width).sum(axis=(1, 3))
    energy = (padded.reshape(r2 // height, height, kb // width, width) ** 2).sum(axis=(1, 3)) / count
    if nm:
        n, m = int(nm.group(1)), int(nm.group(2))
        nb = energy.shape[1]
        seg = -(-nb // m) * m
        e = np.full((energy.shape[0], seg), -1.0)
        e[:, :nb] = energy
        e = e.reshape(energy.shape[0], seg // m, m)
        order = np.argsort(-e, axis=2, kind="stable")
        keep = np.zeros_like(e, dtype=bool)
        np.put_along_axis(keep, order[..., :n], True, axis=2)
        keep = keep.reshape(energy.shape[0], seg)[:, :nb]
    else:
        drop = int(round(sparsity * energy.size))
        keep = np.ones(energy.size, dtype=bool)
        keep[np.argsort(energy.reshape(-1), kind="stable")[:drop]] = False
        keep = keep.reshape(energy.shape)
    full = np.repeat(np.repeat(keep, height, axis=0), width, axis=1)
    return full[:r, :k]


def parse_pattern(pattern: str) -> str:
    if pattern not in PATTERNS:
        raise EdgePruneError(f"unknown sparsity pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
    return pattern


def sparsify_graph(graph: Graph, sparsity: float, pattern: str = "2x4", min_depth: int = 16,
                   calibration: list[list[np.ndarray]] | None = None, alpha: float = 1e-3) -> list[dict]:
    """Zeros blocks of every CONV_2D / FULLY_CONNECTED filter with K >= min_depth in place (refit on
    `calibration` when given); returns per-layer rows (op index, kind, K, density of non-zero weights before
    and after)."""
    parse_pattern(pattern)
    dense = copy.deepcopy(graph) if calibration else None
    if not 0.0 <= sparsity < 1.0:
        raise EdgePruneError(f"sparsity must be in [0, 1), got {sparsity}")
    rows, masks = [], {}
    for op in graph.ops:
        if op.kind not in ("CONV_2D", "FULLY_CONNECTED") or not op.inputs[1].is_constant:
            continue
        w = op.inputs[1]
        data = np.asarray(w.data)
        k = data.size // data.shape[0]
        if k < min_depth or (op.kind == "CONV_2D" and data.shape[-1] != (op.inputs[0].shape[-1])):
            continue  # shallow filters and grouped convs stay dense
        before = float(np.count_nonzero(data)) / data.size
        keep = block_keep(_real_rows(op), sparsity, pattern).reshape(data.shape)
        w.data = np.where(keep, data, 0).astype(data.dtype)
        rows.append({"op": op.index, "kind": op.kind, "depth": k, "density_before": before,
                     "density": float(np.count_nonzero(w.data)) / data.size})
        masks[op.index] = keep.reshape(data.shape[0], -1)
    if dense is not None and masks:
        _refit(dense, graph, masks, calibration, alpha)
    return rows


def _refit(dense: Graph, sparse: Graph, masks: dict[int, np.ndarray], calibration, alpha: float,
           max_rows: int = 6000) -> None:
    """Ridge refit of the kept weights and the bias of each masked op, in graph order (in place)."""
    from edgeprune.prune.oneshot import _op_inputs, _run, _store, _weights_2d

    rng = np.random.default_rng(0)
    for i in sorted(masks):
        dop, sop = dense.ops[i], sparse.ops[i]
        xd = _run(dense, calibration, [dop.inputs[0].index])[dop.inputs[0].index]
        xs = _run(sparse, calibration, [sop.inputs[0].index])[sop.inputs[0].index]
        ad, a_s = _op_inputs(dop, xd), _op_inputs(sop, xs)
        wd, bd = _weights_2d(dop)
        y = ad @ wd.T + bd
        if a_s.shape[0] > max_rows:
            pick = rng.choice(a_s.shape[0], max_rows, replace=False)
            a_s, y = a_s[pick], y[pick]
        w0, b0 = _weights_2d(sop)
        keep = masks[i]
        w_new, b_new = w0.copy(), b0.copy()
        for rows in {tuple(np.nonzero((keep == keep[r]).all(axis=1))[0]) for r in range(keep.shape[0])}:
            r = list(rows)
            cols = np.nonzero(keep[r[0]])[0]  # rows with the same kept columns are solved together
            a = np.concatenate([a_s[:, cols], np.ones((a_s.shape[0], 1))], axis=1)
            prior = np.concatenate([w0[r][:, cols], b0[r][:, None]], axis=1).T
            gram = a.T @ a
            lam = alpha * np.trace(gram) / gram.shape[0] + 1e-12
            sol = np.linalg.solve(gram + lam * np.eye(gram.shape[0]), a.T @ y[:, r] + lam * prior)
            w_new[np.ix_(r, cols)] = sol[:-1].T
            b_new[r] = sol[-1]
        _store(sop, w_new, b_new)
