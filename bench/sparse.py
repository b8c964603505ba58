"""Benchmark: block-sparse int8 kernels against the dense kernels under QEMU, per layer and per model.

Per layer: instructions against density for each pruning pattern (edgeprune/prune/sparsity.py) on conv 1x1,
im2col conv and FC layers, the sparse kernel forced (where the target has one: DSP on the M4/M7 for all three,
Helium on the M55 for conv 1x1), the dense kernel on the same weights, and the kernel the cost model picks;
flash of the packed sparse DSP weights and indices against the dense int8 and int16 bytes.
Whole model: kws_ref_model.tflite dense, pruned to 50% of its MACs (one-shot), then given 50% block sparsity,
against TFLite Micro + CMSIS-NN (../shared/baselines/tflm_cmsisnn.json). Every run is checked bit-exact.
Accuracy (--accuracy): the Fashion-MNIST bench model, one-shot and fine-tuned block sparsity (bench_accuracy),
in the target's block: 2x4 on the Cortex-M, 8x4 with --target aarch64.
Writes bench/results/sparse.{json,md,png} (sparse_<target>.* for other targets).
--target aarch64: the NEON sparse kernels (8x4 blocks, edgeprune/lower/isa/neon_sparse.py) on rpi4 (-cpu cortex-a72,
SMLAL) and rpi5 (-cpu cortex-a76, SDOT) against our dense NEON kernels (FC: the portable kernel, there is no dense
NEON FC), per layer and for kws_ref_model pruned to 50% MACs then 50% 8x4 sparsity, against LiteRT
(../shared/baselines/litert_aarch64.json) -> bench/results/sparse_aarch64.{json,md,png}.
Usage: python bench/sparse.py [--target cortex-m7|cortex-m55|aarch64] [--quick] [--no-model]
                              [--accuracy | --keep-accuracy]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RESULTS = REPO / "bench" / "results"

# (label, kind, cfg): KWS-like pointwise layers, wider ones, an im2col conv and FC layers.
SHAPES = [
    ("conv1x1 64->64 25x5", "CONV_2D", {"h": 25, "w": 5, "c": 64, "oc": 64, "kh": 1, "kw": 1}),
    ("conv1x1 128->128 8x8", "CONV_2D", {"h": 8, "w": 8, "c": 128, "oc": 128, "kh": 1, "kw": 1}),
    ("conv1x1 256->64 8x8", "CONV_2D", {"h": 8, "w": 8, "c": 256, "oc": 64, "kh": 1, "kw": 1}),
    ("conv3x3 32->32 8x8", "CONV_2D", {"h": 8, "w": 8, "c": 32, "oc": 32, "kh": 3, "kw": 3}),
    ("fc 256->64", "FULLY_CONNECTED", {"depth": 256, "units": 64}),
    ("fc 1000->32", "FULLY_CONNECTED", {"depth": 1000, "units": 32}),
]
BLOCK_PATTERNS = ("2x4", "2x8", "2x16")
NM_PATTERNS = ("1:4", "2:8", "1:8", "1:16")
SPARSITIES = (0.25, 0.5, 0.75, 0.875)


def _layer(rng, label, kind, shape, tag):
    from edgeprune.testing.gemm_layers import random_layer

    common = {"per_channel": True, "bias": True, "act": "NONE"}
    if kind == "FULLY_CONNECTED":
        cfg = {"batches": 1, **shape, **common}
    else:
        cfg = {"n": 1, "sh": 1, "sw": 1, "dh": 1, "dw": 1, "pad": "SAME", **shape, **common}
    return random_layer(rng, kind, cfg, tag=tag)


def _measure(layers, target, mode, work: Path) -> list[dict]:
    """Per-layer profile (instructions, kernel) of one firmware holding all layers, in the order of `layers`,
    with the sparse specializer in `mode`."""
    from edgeprune.backends.tflite_writer import graph_to_bytes
    from edgeprune.lower.isa import dsp_sparse, mve_sparse, neon_sparse
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.testing.gemm_layers import layers_graph
    from edgeprune.verify import verify

    graph = layers_graph(layers, name="sparse_bench")
    work.mkdir(parents=True, exist_ok=True)
    model = work / f"{mode}.tflite"
    model.write_bytes(graph_to_bytes(graph))
    old = dsp_sparse.MODE, mve_sparse.MODE, neon_sparse.MODE
    dsp_sparse.MODE = mve_sparse.MODE = neon_sparse.MODE = "auto" if mode == "compact" else mode
    try:  # compact: a flash budget the fast layout overflows makes the build take the compact (int8) format
        build(model, load_profile(target), work / mode, flash_budget=1 if mode == "compact" else None)
        r = verify(work / mode, inputs=1, qemu=True)
    finally:
        dsp_sparse.MODE, mve_sparse.MODE, neon_sparse.MODE = old
    if not r["bit_exact"]:
        raise SystemExit(f"bench: {mode} build of the layer model is not bit-exact")
    by_name = {x["name"]: x for x in r["layers"]}
    return [by_name[y.name] for _, _, y, _ in layers]


def _flash(op) -> dict:
    """Bytes of the dense int8 filter, the dense DSP int16 layout, and the packed sparse blocks + indices."""
    from edgeprune.lower.isa.dsp import gemm_weights
    from edgeprune.lower.isa.dsp_sparse import pack_blocks, pack_blocks8
    from edgeprune.lower.isa.mve_sparse import pack_chunks

    w = np.asarray(op.inputs[1].data, dtype=np.int8)
    rows = w.reshape(w.shape[0], -1)
    dense16, k_pad = gemm_weights(rows)
    weights, stream = pack_blocks(dense16, k_pad)
    out = {"dense_int8_bytes": int(rows.size), "dense_dsp_bytes": int(dense16.nbytes),
           "sparse_bytes": int(weights.nbytes + stream.nbytes), "sparse_index_bytes": int(stream.nbytes),
           "sparse_compact_bytes": int(sum(a.nbytes for a in pack_blocks8(dense16, k_pad)))}
    if rows.shape[1] % 4 == 0 and rows.shape[1] <= 256:  # the Helium format (int8 weights, conv 1x1 shapes)
        mve_weights, mve_stream = pack_chunks(rows)
        out["sparse_mve_bytes"] = int(mve_weights.nbytes + mve_stream.nbytes)
    return out


def bench_layers(target: str, patterns, sparsities, work: Path, log=print) -> list[dict]:
    from edgeprune.prune.sparsity import sparsify_graph
    from edgeprune.targets import load_profile
    from edgeprune.testing.gemm_layers import layers_graph

    rng = np.random.default_rng(0)
    base = [_layer(rng, label, kind, shape, f"_{i}") for i, (label, kind, shape) in enumerate(SHAPES)]
    dense = _measure(base, target, "dense", work / "dense")
    log(f"dense: {[x['instructions'] for x in dense]}")
    rows = []
    for pattern in patterns:
        levels = [0.0] if ":" in pattern else list(sparsities)
        layers, meta = [], []
        for s in levels:
            for i, (label, kind, shape) in enumerate(SHAPES):
                layer = _layer(np.random.default_rng(i), label, kind, shape, f"_{i}_{int(s * 1000)}")
                info = sparsify_graph(layers_graph([layer]), s, pattern, min_depth=1)[0]
                layers.append(layer)
                meta.append((i, label, s, info["density"]))
        work_p = work / pattern.replace(":", "of")
        sparse = _measure(layers, target, "sparse", work_p)
        auto_kernels = [x["kernel"] for x in _measure(layers, target, "auto", work_p / "auto")]
        compact = (_measure(layers, target, "compact", work_p / "compact") if "dsp" in load_profile(target).isa
                   else [None] * len(layers))
        for (i, label, _s, density), layer, sp, auto, cp in zip(meta, layers, sparse, auto_kernels, compact):
            d = dense[i]["instructions"]
            rows.append({"target": target, "layer": label, "pattern": pattern, "density": round(density, 4),
                         "dense_instructions": d, "sparse_instructions": sp["instructions"],
                         "ratio": round(sp["instructions"] / d, 3), "auto_kernel": auto,
                         "auto_picks_sparse": "sparse" in auto, **_flash(layer[0])})
            if cp is not None:
                rows[-1].update(compact_instructions=cp["instructions"],
                                compact_ratio=round(cp["instructions"] / d, 3))
        log(f"{pattern}: {[(r['layer'], r['density'], r['ratio']) for r in rows if r['pattern'] == pattern]}")
    return rows


def _model_run(tflite: Path, target: str, work: Path) -> dict:
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    out = work / tflite.stem
    build(tflite, load_profile(target), out)
    r = verify(out, inputs=2, qemu=True)
    kernels = sorted({x["kernel"] for x in r.get("layers", [])})
    return {"bit_exact": r["bit_exact"], "instructions": r["instructions"], "weight_bytes": r["weight_bytes"],
            "kernels": kernels}


def bench_kws(target: str, work: Path, log=print) -> dict | None:
    """KWS dense, pruned to 50% of its MACs (one-shot), then 50% block sparsity on top."""
    from edgeprune.backends.tflite_writer import graph_to_bytes
    from edgeprune.importers import load_tflite
    from edgeprune.prune.budgets import parse_budgets
    from edgeprune.prune.driver import PruneOptions, prune_model
    from edgeprune.prune.sparsity import sparsify_graph
    from edgeprune.targets import load_profile

    work.mkdir(parents=True, exist_ok=True)
    model = SHARED / "models" / "kws_ref_model.tflite"
    baselines = SHARED / "baselines" / "tflm_cmsisnn.json"
    if not model.is_file() or not baselines.is_file():
        log(f"bench: {model} or {baselines} not found: no whole-model figures")
        return None
    base = json.loads(baselines.read_text())["models"]["kws_ref_model.tflite"][target]["cmsis_nn"]
    pruned_bytes, report = prune_model(str(model), load_profile(target), parse_budgets({"macs": "50%"}),
                                       PruneOptions())
    pruned = work / "kws_p50.tflite"
    pruned.write_bytes(pruned_bytes)
    rows = {"baseline_instructions": base["invoke_instructions"], "pruned_macs": report["pruned"]["macs"],
            "dense_macs": report["dense"]["macs"]}
    graph = load_tflite(pruned)
    rows["sparsity_layers"] = sparsify_graph(graph, 0.5, "2x4")
    sparse = work / "kws_p50_s50.tflite"
    sparse.write_bytes(graph_to_bytes(graph))
    for label, path in (("dense", model), ("pruned", pruned), ("pruned_sparse", sparse)):
        rows[label] = _model_run(path, target, work)
        rows[label]["ratio_to_baseline"] = round(rows[label]["instructions"] / rows["baseline_instructions"], 3)
        log(f"kws {label}: {rows[label]}")
    return rows


def bench_accuracy(target: str, work: Path, pattern: str = "2x4", epochs: int = 4, epochs_sparse: int = 3,
                   log=print) -> dict:
    """Fashion-MNIST (bench/fashion_mnist.py, width 24, as bench/pruning.py): int8 test accuracy in LiteRT of the
    dense model, one-shot block sparsity on its int8 weights (plain, and refit on 128 training images), gradual
    block sparsity on the PyTorch model (the product's path: `epochs_sparse` steps, each with BatchNorm
    re-estimation and one epoch of masked fine-tuning), and channel pruning to 50% of the MACs (2 x
    `epochs_sparse` epochs of fine-tuning) followed by 50% gradual block sparsity (prune_torch, the KWS recipe
    with training); the C build of that last model is run under QEMU on test images, bit-exact. `pattern`: the
    target's block (2x4 for the DSP kernels, 8x4 for the NEON ones)."""
    import copy

    import torch

    sys.path.insert(0, str(REPO / "bench"))
    import fashion_mnist as fm
    from pruning import c_outputs, litert_outputs, quantize_inputs

    from edgeprune.backends.tflite_writer import graph_to_bytes
    from edgeprune.importers import load_tflite
    from edgeprune.prune.api import _sparsify, measure_tflite, prune_torch
    from edgeprune.prune.budgets import parse_budget
    from edgeprune.prune.export import export_int8_tflite
    from edgeprune.prune.finetune import finetune
    from edgeprune.prune.sparsity import sparsify_graph
    from edgeprune.targets import load_profile

    if not fm.available():
        log(f"bench: Fashion-MNIST not found in {fm.data_dir()}: no accuracy figures")
        return {}
    torch.manual_seed(0)
    torch.set_num_threads(2)
    profile = load_profile(target)
    train, val = fm.loaders(batch_size=128, train_limit=16000, seed=0)
    test_x, test_y = fm.tensors("test")
    labels = test_y.numpy()
    example = torch.zeros(1, 1, 28, 28)
    calibration = [x.unsqueeze(0) for x in train.dataset.tensors[0][:64]]
    calibration_more = [x.unsqueeze(0) for x in train.dataset.tensors[0][64:128]]  # 128 images for the refit
    dense = fm.model(24)
    finetune(dense, train, val, epochs, lr=3e-3, seed=0)
    dense.eval()
    rows = {}

    def score(name: str, tflite: bytes, **extra) -> bytes:
        q = quantize_inputs(tflite, test_x)
        acc = float((litert_outputs(tflite, q).argmax(1) == labels).mean())
        report = measure_tflite(tflite, profile)
        rows[name] = {"int8_accuracy": acc, "macs": report["macs"], **extra}
        log(f"fashion {name}: {rows[name]}")
        return tflite

    dense_tflite = score("dense", export_int8_tflite(dense, example, calibration))
    path = work / "dense.tflite"
    path.write_bytes(dense_tflite)
    refit_inputs = [[x.numpy().reshape(load_tflite(path).inputs[0].shape)] for x in calibration + calibration_more]
    for s in (0.5, 0.75):
        graph = load_tflite(path)
        sparsify_graph(graph, s, pattern)
        score(f"oneshot_int8_{int(s * 100)}", graph_to_bytes(graph), sparsity=s)
        graph = load_tflite(path)
        sparsify_graph(graph, s, pattern, calibration=refit_inputs)
        score(f"oneshot_int8_refit_{int(s * 100)}", graph_to_bytes(graph), sparsity=s)
        tflite, _ = _sparsify(copy.deepcopy(dense), example, calibration, s, pattern, train, val, 2 * epochs_sparse,
                              1e-3, copy.deepcopy(dense), log)
        score(f"finetuned_{int(s * 100)}", tflite, sparsity=s)
    outcome = prune_torch(copy.deepcopy(dense), example, profile, [parse_budget("macs", "50%")],
                          calibration=calibration, train_loader=train, val_loader=val, epochs=2 * epochs_sparse,
                          lr=1e-3, sparsity=0.5, sparsity_pattern=pattern)
    tflite = score("macs50_sparse50", outcome.tflite, sparsity=0.5)
    q = quantize_inputs(tflite, test_x[:100])
    ours, measured = c_outputs(tflite, profile, q, work, "fashion_sparse")
    rows["macs50_sparse50"].update(
        c_outputs_equal_litert=int(np.all(ours == litert_outputs(tflite, q), axis=1).sum()), c_images=len(q),
        instructions=int(np.median(measured["instructions_per_input"])))
    for name in rows:
        rows[name]["drop_points"] = round((rows["dense"]["int8_accuracy"] - rows[name]["int8_accuracy"]) * 100, 2)
    return rows


def markdown(result: dict) -> str:
    lines = [f"# Block-sparse int8 kernels on {result['target']} (QEMU instruction counts, bit-exact)", "",
             "Per layer: sparse kernel forced vs the dense DSP kernel on the same weights; `auto` is the kernel "
             "the cost model picks. Fast format: packed sparse blocks (int16) + the uint8 block stream (counts and "
             "indices), against the dense int16 DSP layout and the dense int8 filter. Compact format (taken when "
             "the fast layout overflows the flash budget): the same blocks with int8 weights, unpacked by SXTB16 "
             "in the loop. The Helium format keeps int8 weights (+ one offset byte per block, chunks of 4 "
             "blocks).", "",
             "| layer | pattern | density | dense instr | sparse instr | sparse/dense | auto | "
             "DSP sparse/dense DSP bytes | DSP sparse/int8 bytes | compact instr/dense | compact/int8 bytes | "
             "Helium sparse/int8 bytes |",
             "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in result["layers"]:
        compact = (f"{r['compact_ratio']:.3f} | {r['sparse_compact_bytes'] / r['dense_int8_bytes']:.3f} | "
                   if "compact_ratio" in r else "- | - | ")
        lines.append(f"| {r['layer']} | {r['pattern']} | {r['density']:.3f} | {r['dense_instructions']:,} | "
                     f"{r['sparse_instructions']:,} | {r['ratio']:.3f} | "
                     f"{'sparse' if r['auto_picks_sparse'] else 'dense'} | "
                     f"{r['sparse_bytes'] / r['dense_dsp_bytes']:.3f} | "
                     f"{r['sparse_bytes'] / r['dense_int8_bytes']:.3f} | " + compact
                     + (f"{r['sparse_mve_bytes'] / r['dense_int8_bytes']:.3f} |" if "sparse_mve_bytes" in r
                        else "- |"))
    kws = result.get("kws")
    if kws:
        lines += ["", f"## kws_ref_model on {result['target']}", "",
                  f"MACs: dense {kws['dense_macs']:,}, pruned {kws['pruned_macs']:,}. "
                  f"TFLite Micro + CMSIS-NN: {kws['baseline_instructions']:,} instructions.", "",
                  "| model | instructions | vs TFLM+CMSIS-NN | weight bytes | bit-exact |", "|---|---:|---:|---:|---|"]
        for label in ("dense", "pruned", "pruned_sparse"):
            r = kws[label]
            lines.append(f"| {label} | {r['instructions']:,} | {r['ratio_to_baseline']:.3f}x | {r['weight_bytes']:,} | "
                         f"{'yes' if r['bit_exact'] else 'NO'} |")
    return "\n".join(lines + accuracy_markdown(result.get("accuracy"), "2x4")) + "\n"


def accuracy_markdown(acc: dict | None, pattern: str) -> list[str]:
    if not acc:
        return []
    lines = ["", f"## Fashion-MNIST accuracy cost of {pattern} blocks (int8, LiteRT, 10,000 test images)", "",
             "| model | MACs | int8 accuracy | drop (points) |", "|---|---:|---:|---:|"]
    for name, r in acc.items():
        lines.append(f"| {name} | {r['macs']:,} | {r['int8_accuracy']:.4f} | {r['drop_points']:.2f} |")
    return lines


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = sorted({r["layer"] for r in result["layers"]}, key=[s[0] for s in SHAPES].index)
    fig, axes = plt.subplots(1, len(layers), figsize=(4 * len(layers), 3.6), sharey=True)
    for ax, layer in zip(np.atleast_1d(axes), layers):
        for pattern in sorted({r["pattern"] for r in result["layers"]}):
            pts = sorted((r["density"], r["ratio"]) for r in result["layers"]
                         if r["layer"] == layer and r["pattern"] == pattern)
            ax.plot(*zip(*pts), "o-" if "x" in pattern else "s", label=pattern, ms=4)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_title(layer, fontsize=9)
        ax.set_xlabel("weight density")
    np.atleast_1d(axes)[0].set_ylabel("instructions, sparse / dense")
    np.atleast_1d(axes)[-1].legend(fontsize=7)
    fig.suptitle(f"block-sparse kernels on {result['target']} (QEMU; dense where the target has no sparse kernel)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


AARCH64_TARGETS = ("rpi4", "rpi5")
AARCH64_PATTERNS = {"8x4": (0.25, 0.5, 0.75, 0.875), "2x4": (0.5, 0.75)}


def _neon_flash(op, sdot: bool) -> dict:
    """Bytes of the dense int8 filter, our dense NEON layout (zero-padded panels; FC: the int8 filter), and the
    packed 8x4 blocks + int16 index."""
    from edgeprune.lower.isa.neon_sparse import pack_blocks

    w = np.asarray(op.inputs[1].data, dtype=np.int8)
    rows = w.reshape(w.shape[0], -1)
    oc, k = rows.shape
    tile = 8 if sdot else 4
    dense_neon = rows.size if op.kind == "FULLY_CONNECTED" else -(-oc // tile) * tile * -(-k // 16) * 16
    weights, stream = pack_blocks(rows)
    return {"dense_int8_bytes": int(rows.size), "dense_neon_bytes": int(dense_neon),
            "sparse_bytes": int(weights.nbytes + stream.nbytes), "sparse_index_bytes": int(stream.nbytes),
            "blocks": int(weights.size // 32), "blocks_total": int(-(-oc // 8) * -(-k // 4))}


def bench_layers_aarch64(target: str, patterns: dict, work: Path, log=print) -> list[dict]:
    """Per layer on rpi4 / rpi5: the sparse NEON kernel forced, the dense kernel on the same weights, and `auto`."""
    from edgeprune.prune.sparsity import sparsify_graph
    from edgeprune.testing.gemm_layers import layers_graph

    rng = np.random.default_rng(0)
    base = [_layer(rng, label, kind, shape, f"_{i}") for i, (label, kind, shape) in enumerate(SHAPES)]
    dense = _measure(base, target, "dense", work / "dense")
    log(f"{target} dense: {[x['instructions'] for x in dense]}")
    rows = []
    for pattern, levels in patterns.items():
        layers, meta = [], []
        for s in levels:
            for i, (label, kind, shape) in enumerate(SHAPES):
                layer = _layer(np.random.default_rng(i), label, kind, shape, f"_{i}_{int(s * 1000)}")
                info = sparsify_graph(layers_graph([layer]), s, pattern, min_depth=1)[0]
                layers.append(layer)
                meta.append((i, label, s, info["density"]))
        work_p = work / pattern
        sparse = _measure(layers, target, "sparse", work_p)
        auto = _measure(layers, target, "auto", work_p / "auto")
        for (i, label, _s, density), layer, sp, au in zip(meta, layers, sparse, auto):
            d = dense[i]["instructions"]
            rows.append({"target": target, "layer": label, "pattern": pattern, "density": round(density, 4),
                         "dense_kernel": dense[i]["kernel"], "dense_instructions": d,
                         "sparse_kernel": sp["kernel"], "sparse_instructions": sp["instructions"],
                         "ratio": round(sp["instructions"] / d, 3), "auto_kernel": au["kernel"],
                         "auto_instructions": au["instructions"], "auto_picks_sparse": "sparse" in au["kernel"],
                         **_neon_flash(layer[0], target == "rpi5")})
        done = [(r["layer"], r["density"], r["ratio"], r["auto_picks_sparse"]) for r in rows if r["pattern"] == pattern]
        log(f"{target} {pattern}: {done}")
    return rows


def _model_run_aarch64(tflite: Path, target: str, work: Path) -> dict:
    """As _model_run, with the per-layer kernels and instructions."""
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    out = work / tflite.stem
    build(tflite, load_profile(target), out)
    r = verify(out, inputs=2, qemu=True)
    layers = [{"name": x["name"], "kernel": x["kernel"], "instructions": x["instructions"]} for x in r["layers"]]
    return {"bit_exact": r["bit_exact"], "instructions": r["instructions"], "weight_bytes": r["weight_bytes"],
            "kernels": sorted({x["kernel"] for x in layers}), "layers": layers}


def bench_kws_aarch64(target: str, work: Path, log=print) -> dict | None:
    """kws_ref_model dense, pruned to 50% of its MACs (one-shot channel pruning), then 50% 8x4 block sparsity; the
    last model also with the sparse kernels switched off (same weights, dense kernels)."""
    from edgeprune.backends.tflite_writer import graph_to_bytes
    from edgeprune.importers import load_tflite
    from edgeprune.lower.isa import neon_sparse
    from edgeprune.prune.budgets import parse_budgets
    from edgeprune.prune.driver import PruneOptions, prune_model
    from edgeprune.prune.sparsity import sparsify_graph
    from edgeprune.targets import load_profile

    work.mkdir(parents=True, exist_ok=True)
    model = SHARED / "models" / "kws_ref_model.tflite"
    if not model.is_file():
        log(f"bench: {model} not found: no whole-model figures")
        return None
    baselines = SHARED / "baselines" / "litert_aarch64.json"
    litert = {}
    if baselines.is_file():
        litert = json.loads(baselines.read_text()).get("models", {}).get(model.name, {}).get(target, {})
    pruned_bytes, report = prune_model(str(model), load_profile(target), parse_budgets({"macs": "50%"}),
                                       PruneOptions())
    pruned = work / "kws_p50.tflite"
    pruned.write_bytes(pruned_bytes)
    rows = {"pruned_macs": report["pruned"]["macs"], "dense_macs": report["dense"]["macs"], "litert": litert}
    graph = load_tflite(pruned)
    rows["sparsity_layers"] = sparsify_graph(graph, 0.5, "8x4")
    sparse = work / "kws_p50_s50.tflite"
    sparse.write_bytes(graph_to_bytes(graph))
    old = neon_sparse.MODE
    try:
        for label, path, mode in (("dense", model, "auto"), ("pruned", pruned, "auto"),
                                  ("pruned_sparse_dense_kernels", sparse, "dense"),
                                  ("pruned_sparse", sparse, "auto")):
            neon_sparse.MODE = mode
            rows[label] = _model_run_aarch64(path, target, work / label)
            rows[label]["ratio_to_dense"] = round(rows[label]["instructions"] / rows["dense"]["instructions"], 3)
            log(f"kws {target} {label}: {rows[label]}")
    finally:
        neon_sparse.MODE = old
    return rows


def _litert_min(litert: dict) -> int | None:
    vals = [v for v in (litert.get("xnnpack"), litert.get("builtin_optimized")) if isinstance(v, (int, float))]
    if not vals:  # the baseline file may nest the counts
        vals = [v.get("invoke_instructions") for v in litert.values() if isinstance(v, dict)
                and isinstance(v.get("invoke_instructions"), (int, float))]
    return int(min(vals)) if vals else None


def markdown_aarch64(result: dict) -> str:
    lines = ["# Block-sparse int8 NEON kernels on rpi4 / rpi5 (qemu-aarch64 instruction counts, bit-exact)", "",
             "Per layer: the sparse kernel forced (8 output channels x 4 k blocks; rpi4 = -cpu cortex-a72, "
             "SMULL/SMLAL + SADALP, no SDOT; rpi5 = -cpu cortex-a76, SDOT) against our dense kernel on the same "
             "weights (conv: the dense NEON GEMM; FC: the portable kernel, there is no dense NEON FC); `auto` is "
             "the kernel the cost model (edgeprune/lower/isa/neon_sparse.py) picks. Whole-layer instructions "
             "(im2col, table, requantization included). Flash: int8 blocks + int16 index against the dense int8 "
             "filter. Every build is checked bit-exact against LiteRT's reference kernels.", "",
             "| target | layer | pattern | density | 8x4 blocks kept | dense instr | sparse instr | sparse/dense | "
             "auto | auto instr | sparse/int8 bytes |",
             "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in result["layers"]:
        lines.append(f"| {r['target']} | {r['layer']} | {r['pattern']} | {r['density']:.3f} | "
                     f"{r['blocks'] / r['blocks_total']:.3f} | {r['dense_instructions']:,} | "
                     f"{r['sparse_instructions']:,} | {r['ratio']:.3f} | "
                     f"{'sparse' if r['auto_picks_sparse'] else 'dense'} | {r['auto_instructions']:,} | "
                     f"{r['sparse_bytes'] / r['dense_int8_bytes']:.3f} |")
    for target, kws in (result.get("kws") or {}).items():
        if not kws:
            continue
        best = _litert_min(kws.get("litert", {}))
        lines += ["", f"## kws_ref_model on {target}", "",
                  f"MACs: dense {kws['dense_macs']:,}, pruned {kws['pruned_macs']:,}; then 50% 8x4 block sparsity "
                  f"on the pruned model's conv / FC layers."
                  + (f" LiteRT (smaller of XNNPACK and the optimized builtin kernels): {best:,} instructions."
                     if best else ""), "",
                  "| model | kernels | instructions | vs dense model | weight bytes | bit-exact |",
                  "|---|---|---:|---:|---:|---|"]
        for label in ("dense", "pruned", "pruned_sparse_dense_kernels", "pruned_sparse"):
            r = kws[label]
            sparse_k = [k for k in r["kernels"] if "sparse" in k]
            kernels = "sparse NEON where cheaper: " + ", ".join(sparse_k) if sparse_k else "dense"
            lines.append(f"| {label} | {kernels} | {r['instructions']:,} | {r['ratio_to_dense']:.3f}x | "
                         f"{r['weight_bytes']:,} | {'yes' if r['bit_exact'] else 'NO'} |")
        dense_k, sparse_k = kws["pruned_sparse_dense_kernels"].get("layers"), kws["pruned_sparse"].get("layers")
        if dense_k and sparse_k:
            lines += ["", "Per layer, pruned + 8x4 sparse model (same weights): dense kernels vs the cost model's pick "
                      "(GEMM layers only).", "",
                      "| layer | dense kernel | instructions | picked kernel | instructions |",
                      "|---|---|---:|---|---:|"]
            for i, (d, sp) in enumerate(zip(dense_k, sparse_k)):
                if d["kernel"].startswith(("ep_conv2d_s8", "ep_fully_connected_s8")):
                    lines.append(f"| {i} | {d['kernel']} | {d['instructions']:,} | {sp['kernel']} | "
                                 f"{sp['instructions']:,} |")
    return "\n".join(lines + accuracy_markdown(result.get("accuracy"), "8x4")) + "\n"


def plot_aarch64(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = sorted({r["layer"] for r in result["layers"]}, key=[s[0] for s in SHAPES].index)
    targets = sorted({r["target"] for r in result["layers"]})
    fig, axes = plt.subplots(len(targets), len(layers), figsize=(3.6 * len(layers), 3.2 * len(targets)),
                             sharey=True, squeeze=False)
    for row, target in zip(axes, targets):
        for ax, layer in zip(row, layers):
            for pattern in sorted({r["pattern"] for r in result["layers"]}):
                pts = sorted((r["density"], r["ratio"]) for r in result["layers"]
                             if r["layer"] == layer and r["pattern"] == pattern and r["target"] == target)
                if pts:
                    ax.plot(*zip(*pts), "o-", label=f"{pattern} sparse forced", ms=4)
                auto = sorted((r["density"], r["auto_instructions"] / r["dense_instructions"])
                              for r in result["layers"]
                              if r["layer"] == layer and r["pattern"] == pattern and r["target"] == target)
                if auto and pattern == "8x4":
                    ax.plot(*zip(*auto), "k--", lw=0.8, label="8x4 auto")
            ax.axhline(1.0, color="grey", lw=0.8)
            ax.set_title(f"{target}: {layer}", fontsize=8)
            ax.set_xlabel("weight density", fontsize=8)
        row[0].set_ylabel("instructions / dense")
    axes[0][-1].legend(fontsize=6)
    fig.suptitle("block-sparse NEON kernels (QEMU; rpi4 SMLAL, rpi5 SDOT) vs our dense kernels")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main_aarch64(args) -> int:
    patterns = {"8x4": (0.5, 0.75)} if args.quick else AARCH64_PATTERNS
    result = {"target": "aarch64", "layers": [], "kws": {}}
    with tempfile.TemporaryDirectory(prefix="sparse-bench-") as tmp:
        work = Path(tmp)
        for target in AARCH64_TARGETS:
            result["layers"] += bench_layers_aarch64(target, patterns, work / target)
            if not args.no_model:
                result["kws"][target] = bench_kws_aarch64(target, work / target / "kws")
        if args.accuracy:  # the Pi's own block; the C build of the last model runs on rpi4
            (work / "acc").mkdir()
            result["accuracy"] = bench_accuracy("rpi4", work / "acc", pattern="8x4")
        elif args.keep_accuracy and (args.out / "sparse_aarch64.json").is_file():
            result["accuracy"] = json.loads((args.out / "sparse_aarch64.json").read_text()).get("accuracy", {})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sparse_aarch64.json").write_text(json.dumps(result, indent=1))
    text = markdown_aarch64(result)
    (args.out / "sparse_aarch64.md").write_text(text)
    plot_aarch64(result, args.out / "sparse_aarch64.png")
    print(text)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="cortex-m7")
    ap.add_argument("--quick", action="store_true", help="2x4 and 1:8 at 50%% and 75%% only")
    ap.add_argument("--no-model", action="store_true", help="skip the KWS whole-model figures")
    ap.add_argument("--accuracy", action="store_true", help="also the Fashion-MNIST accuracy cost (trains, minutes)")
    ap.add_argument("--keep-accuracy", action="store_true",
                    help="without --accuracy: carry the accuracy rows over from the existing results JSON")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.target == "aarch64":
        return main_aarch64(args)
    patterns = ("2x4", "1:8") if args.quick else BLOCK_PATTERNS + NM_PATTERNS
    sparsities = (0.5, 0.75) if args.quick else SPARSITIES
    with tempfile.TemporaryDirectory(prefix="sparse-bench-") as tmp:
        work = Path(tmp)
        result = {"target": args.target, "layers": bench_layers(args.target, patterns, sparsities, work)}
        if not args.no_model:
            result["kws"] = bench_kws(args.target, work / "kws")
        stem = "sparse" if args.target == "cortex-m7" else f"sparse_{args.target}"
        if args.accuracy:
            (work / "acc").mkdir()
            result["accuracy"] = bench_accuracy(args.target, work / "acc")
        elif args.keep_accuracy and (args.out / f"{stem}.json").is_file():
            # Training takes most of the bench's time; the accuracy rows do not depend on the kernels.
            result["accuracy"] = json.loads((args.out / f"{stem}.json").read_text()).get("accuracy", {})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    text = markdown(result)
    (args.out / f"{stem}.md").write_text(text)
    plot(result, args.out / f"{stem}.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
