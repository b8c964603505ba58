"""What `edgeprune prune` and `edgeprune build --macs ...` run: any supported model in, an int8 (or float)
.tflite that meets the budgets out, with a report. PyTorch models are channel-pruned (and fine-tuned when
data is given); .tflite and ONNX models are pruned one-shot with least-squares reconstruction."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeprune.errors import EdgePruneError, ModelFormatError
from edgeprune.prune.budgets import Budget


@dataclass
class PruneOptions:
    input_shape: str | None = None
    weights: str | None = None
    data: str | None = None
    epochs: int = 0
    lr: float = 1e-3
    distill: bool = True
    criterion: str = "l2"
    allocation: str = "auto"
    calibration: str | None = None
    round_to: int | None = None
    sparsity: float | str | None = None  # share of CONV_2D / FC weights zeroed in blocks after channel pruning,
    # or "auto": the smallest share that meets the flash and latency budgets
    sparsity_pattern: str | None = None  # None: the target's (profile key sparsity_pattern; 2x4 without one)


def is_torch_spec(spec: str) -> bool:
    path, sep, name = str(spec).rpartition(":")
    return bool(sep) and path.endswith(".py") and bool(name)


def load_calibration(path: str | None, shapes_dtypes: list[tuple[tuple[int, ...], str]], n: int = 64,
                     seed: int = 0) -> list[list[np.ndarray]]:
    """Calibration inputs from a .npy (N x input shape, or N x ... without the batch dim), else random."""
    if path is None:
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(n):
            batch = []
            for shape, dtype in shapes_dtypes:
                if dtype == "float32":
                    batch.append(rng.uniform(-1, 1, size=shape).astype(np.float32))
                else:
                    batch.append(rng.integers(-128, 128, size=shape).astype(dtype))
            out.append(batch)
        return out
    try:
        arr = np.load(path)
    except (OSError, ValueError) as e:
        raise ModelFormatError(f"{path}: cannot read calibration data ({e})") from None
    shape, dtype = shapes_dtypes[0]
    per_sample = tuple(shape[1:])
    if tuple(arr.shape[1:]) == tuple(shape):
        arr = arr.reshape((-1, *shape))
    elif tuple(arr.shape[1:]) == per_sample:
        arr = arr.reshape((-1, 1, *per_sample))
    else:
        raise EdgePruneError(f"{path}: calibration array of shape {arr.shape}; the model takes {shape}")
    return [[a.astype(dtype)] for a in arr]


def prune_model(model_spec: str, profile, budgets: list[Budget], options: PruneOptions,
                on_event=None) -> tuple[bytes, dict]:
    if options.sparsity_pattern is None:  # the block the target's sparse kernels skip
        options = dataclasses.replace(options, sparsity_pattern=str(profile.raw.get("sparsity_pattern", "2x4")))
    if is_torch_spec(model_spec):
        return _prune_torch(model_spec, profile, budgets, options, on_event)
    path = Path(model_spec)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from edgeprune.importers.onnx import load_onnx

        graph = load_onnx(path)
    elif suffix == ".tflite":
        from edgeprune.importers import load_tflite

        graph = load_tflite(path)
    else:
        if not path.exists():
            raise ModelFormatError(f"{path}: no such file")
        raise ModelFormatError(f"{path}: expected a .tflite, an .onnx, or path/file.py:factory")
    from edgeprune.backends.tflite_writer import graph_to_bytes
    from edgeprune.pipeline import budget_measures
    from edgeprune.prune.budgets import check, default_budgets, flash_limit
    from edgeprune.prune.oneshot_budget import SPARSITY_KINDS, choose_sparsity, measure_graph, prune_graph_to_budgets

    calibration = load_calibration(options.calibration, [(t.shape, t.dtype) for t in graph.inputs])
    auto = options.sparsity == "auto"
    sparse = options.sparsity is not None or ":" in options.sparsity_pattern
    if sparse:
        from edgeprune.prune.sparsity import parse_pattern

        parse_pattern(options.sparsity_pattern)  # fail before the slow part
    budgets = list(budgets) if budgets else default_budgets(profile)
    # --sparsity auto: channels for the MACs / FLOPs / params / RAM budgets, block sparsity for flash and latency.
    channel_budgets = [b for b in budgets if not auto or b.kind not in SPARSITY_KINDS]
    if channel_budgets:
        pruned, info = prune_graph_to_budgets(graph, profile, channel_budgets, calibration, on_event=on_event,
                                             round_to=options.round_to)
    else:
        dense = measure_graph(graph, profile, flash_limit(budgets))["_report"]
        pruned, info = graph, {"keep": 1.0, "status": {}, "dense": dense, "pruned": dense, "oneshot": {}}
    dense_measures = budget_measures(info["dense"])
    targets = [b.resolve(dense_measures[b.kind]) for b in budgets]
    sparsity = options.sparsity
    if auto:
        sparsity, _ = choose_sparsity(pruned, profile, targets, options.sparsity_pattern, on_event=on_event)
    sparsity_rows = None
    if sparse:
        from edgeprune.prune.sparsity import sparsify_graph

        if pruned is graph:
            import copy

            pruned = copy.deepcopy(graph)
        # The refit needs real inputs: on random ones it would fit the noise.
        refit = calibration if options.calibration else None
        sparsity_rows = sparsify_graph(pruned, sparsity or 0.0, options.sparsity_pattern, calibration=refit)
    final = measure_graph(pruned, profile, flash_limit(targets)) if sparse else None
    after = final["_report"] if final else info["pruned"]
    status = check(targets, final) if final else info["status"]
    report = {
        "target": profile.name,
        "method": "one-shot channel pruning with least-squares reconstruction",
        "budgets": {b.kind: {"requested": b.text, **status[b.kind]} for b in budgets if b.kind in status},
        "kept_mac_share": info["keep"],
        "dense": {k: info["dense"][k] for k in ("macs", "params", "weight_bytes", "flash_bytes", "peak_ram_bytes")},
        "pruned": {k: after[k] for k in ("macs", "nonzero_macs", "params", "weight_bytes", "flash_bytes",
                                         "peak_ram_bytes", "latency_ms")},
        "layers_before": info["dense"]["layers"],
        "layers_after": after["layers"],
        "accuracy_proxy": {k: v for k, v in info.get("oneshot", {}).items() if "agree" in k or "error" in k},
    }
    if sparsity_rows is not None:
        from edgeprune.prune.sparsity import TFLITE_NOTE

        report["sparsity"] = {"pattern": options.sparsity_pattern, "requested": options.sparsity,
                              "chosen": sparsity, "refit": bool(options.calibration), "layers": sparsity_rows,
                              "tflite": TFLITE_NOTE}
    return graph_to_bytes(pruned), report


def _prune_torch(spec: str, profile, budgets, options: PruneOptions, on_event):
    import torch

    from edgeprune.importers.torch_model import (
        call_user,
        load_callable,
        load_factory,
        load_weights,
        parse_input_shape,
    )
    from edgeprune.prune.api import prune_torch
    from edgeprune.prune.finetune import check_loader_shape

    torch.manual_seed(0)
    model = load_factory(spec)
    if options.weights:
        load_weights(model, options.weights)
    if not options.input_shape:
        raise EdgePruneError("a PyTorch model needs --input-shape, e.g. --input-shape 1,1,28,28")
    example = torch.zeros(parse_input_shape(options.input_shape))
    train = val = None
    if options.data:
        loaders = load_callable(options.data, "loaders")
        if not callable(loaders):
            raise ModelFormatError(f"{options.data}: not callable")
        pair = call_user(loaders, options.data)
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ModelFormatError(f"{options.data}: must return (train_loader, validation_loader)")
        train, val = pair
        check_loader_shape(train, example, "training")
        check_loader_shape(val, example, "validation")
    calibration = None
    if options.calibration:
        arrs = load_calibration(options.calibration, [(tuple(example.shape), "float32")])
        calibration = [torch.from_numpy(a[0]) for a in arrs]
    outcome = prune_torch(model, example, profile, budgets, criterion=options.criterion, calibration=calibration,
                          train_loader=train, val_loader=val, epochs=options.epochs, lr=options.lr,
                          distill=options.distill, round_to=options.round_to,
                          allocation=options.allocation, on_event=on_event,
                          sparsity=options.sparsity, sparsity_pattern=options.sparsity_pattern)
    return outcome.tflite, outcome.report
