"""Prune a PyTorch model to a device's budgets and hand back an int8 .tflite that meets them.

Channel pruning steers by fast estimates; the int8 model that comes out is then measured by the same IR
cost model `inspect` uses, and pruning continues (tightened) until every budget holds on that model.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from edgeprune.errors import BudgetError
from edgeprune.prune.allocation import ALLOCATIONS, AllocationSearch
from edgeprune.prune.budgets import Budget, check, default_budgets, flash_limit
from edgeprune.prune.channel import ChannelPruner, ChannelPruneResult
from edgeprune.prune.importance import accumulate_gradients, needs_gradients
from edgeprune.prune.oneshot_budget import SPARSITY_KINDS, choose_sparsity


@dataclass
class PruneOutcome:
    model: nn.Module
    tflite: bytes
    report: dict
    channel_result: ChannelPruneResult | None = None
    history: list[dict] = field(default_factory=list)


def measure_tflite(tflite: bytes, profile, flash_budget: float | None = None) -> dict:
    """The IR cost model's summary of a .tflite (what `edgeprune inspect` prints), in the weight layout a
    build for `flash_budget` would take."""
    from edgeprune.importers import load_tflite
    from edgeprune.pipeline import analyze_for, summary

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(tflite)
        graph = load_tflite(path)
        return summary(analyze_for(graph, path, profile, flash_budget), profile)


def _calibration_images(loader, example_input: torch.Tensor, count: int = 64) -> list[torch.Tensor]:
    """Up to `count` training inputs for int8 calibration (each one is a forward pass in the converter)."""
    if loader is None:
        gen = torch.Generator().manual_seed(0)
        return [torch.randn(example_input.shape, generator=gen) for _ in range(count // 4)]
    images: list[torch.Tensor] = []
    for batch in loader:
        images.extend(x.unsqueeze(0) for x in batch[0])
        if len(images) >= count:
            break
    return images[:count]


def _resolve(budgets: list[Budget], dense: dict[str, float]) -> list[Budget]:
    return [b.resolve(dense[b.kind]) for b in budgets]


def prune_torch(model: nn.Module, example_input: torch.Tensor, profile, budgets: list[Budget] | None = None,
                criterion="l2", calibration: list[torch.Tensor] | None = None, train_loader=None,
                val_loader=None, epochs: int = 0, lr: float = 1e-3, distill: bool = True,
                round_to: int | None = None, rounds: int = 4, allocation: str = "auto",
                on_event: Callable[[str], None] | None = None, sparsity: float | str | None = None,
                sparsity_pattern: str = "2x4") -> PruneOutcome:
    from edgeprune.pipeline import budget_measures, runtime_flash_estimate
    from edgeprune.prune.export import export_int8_tflite, float_ops
    from edgeprune.prune.finetune import evaluate, finetune

    say = on_event or (lambda _msg: None)
    if allocation not in ALLOCATIONS:
        raise BudgetError(f"unknown allocation '{allocation}'; known: {', '.join(ALLOCATIONS)}")
    if allocation == "auto":
        allocation = "search" if train_loader is not None and val_loader is not None else "global"
    if allocation == "search" and (train_loader is None or val_loader is None):
        raise BudgetError("--allocation search needs training and validation data (--data)")
    model = model.eval()
    budgets = list(budgets) if budgets else default_budgets(profile)
    if calibration is None:
        calibration = _calibration_images(train_loader, example_input)
    teacher = copy.deepcopy(model) if (distill and train_loader is not None and epochs > 0) else None

    gradient_fn = None
    if needs_gradients(criterion):
        if train_loader is None:
            raise BudgetError("the taylor criterion needs training data (--data)")
        gradient_fn = lambda m: accumulate_gradients(m, train_loader)  # noqa: E731

    def make_pruner():
        return ChannelPruner(model, example_input, profile, runtime_flash_estimate(profile), criterion,
                             round_to=round_to, gradient_fn=gradient_fn)

    pruner = make_pruner()  # traces first: an untraceable layer is named before any slow export
    say("measuring the dense model (int8 export)")
    dense_report = measure_tflite(export_int8_tflite(model, example_input, calibration), profile,
                                  flash_limit(budgets))
    dense = budget_measures(dense_report)
    targets = _resolve(budgets, dense)
    dense_accuracy = evaluate(model, val_loader) if val_loader is not None else None

    history = []
    all_targets = targets
    if sparsity == "auto":  # channels for MACs / FLOPs / params / RAM, block sparsity for flash and latency
        targets = [b for b in targets if b.kind not in SPARSITY_KINDS]
    internal = list(targets)
    result = None
    search = None
    tflite = b""
    report: dict = {}
    status: dict = {}
    if not targets:
        rounds = 0
        tflite = export_int8_tflite(model, example_input, calibration)
        report = measure_tflite(tflite, profile, flash_limit(all_targets))
    for round_index in range(rounds):
        if round_index:
            pruner = make_pruner()
        say(f"channel pruning, round {round_index + 1}")
        if round_index == 0 and allocation in ("search", "uniform"):
            finder = AllocationSearch(model, example_input, profile, runtime_flash_estimate(profile), criterion,
                                      round_to=round_to, gradient_fn=gradient_fn)
            search = (finder.run(internal, train_loader, val_loader, on_event=say) if allocation == "search"
                      else finder.uniform(internal))
            model, result = search.model, search.result
        else:
            result = pruner.run(internal)
        if train_loader is not None and epochs > 0:
            say("fine-tuning")
            ft = finetune(model, train_loader, val_loader, epochs if round_index == 0 else max(1, epochs // 3),
                          lr=lr, teacher=teacher)
            history.append({"round": round_index + 1, "finetune": ft.history, "best_accuracy": ft.best_accuracy})
        say("int8 export")
        tflite = export_int8_tflite(model, example_input, calibration)
        report = measure_tflite(tflite, profile, flash_limit(targets))
        status = check(targets, budget_measures(report))
        history.append({"round": round_index + 1, "status": status})
        if all(v["met"] for v in status.values()):
            break
        # The estimate missed on the real model: tighten the failing budgets by the miss and prune on.
        tightened = []
        for b in internal:
            s = status.get(b.kind)
            if s is not None and not s["met"]:
                tightened.append(Budget(b.kind, b.value * s["limit"] / s["measured"] * 0.98, None, b.text))
            else:
                tightened.append(b)
        internal = tightened
    else:
        if rounds:
            failing = [f"--{k} (limit {v['limit']:,.0f}, reached {v['measured']:,.0f})"
                       for k, v in status.items() if not v["met"]]
            raise BudgetError(f"budgets not met after {rounds} rounds: {', '.join(failing)}")

    final = {
        "target": profile.name,
        "budgets": {b.kind: {"requested": b.text, **status[b.kind]} for b in targets},
        "binding": result.binding if result else [],
        "dense": {k: dense_report[k] for k in ("macs", "flops", "params", "weight_bytes", "flash_bytes",
                                                "peak_ram_bytes", "latency_ms")},
        "pruned": {k: report[k] for k in ("macs", "flops", "params", "weight_bytes", "flash_bytes",
                                           "peak_ram_bytes", "latency_ms")},
        "layers_before": dense_report["layers"],
        "layers_after": report["layers"],
        "channels_before": result.channels_before if result else {},
        "channels_after": result.channels_after if result else {},
        "float_ops": float_ops(tflite),
        "criterion": criterion if isinstance(criterion, str) else type(criterion).__name__,
        "allocation": allocation,
        "history": history,
    }
    if search is not None:
        final["allocation_candidates"] = [
            {"name": c.name, "macs": c.measures["macs"], "adaptive_bn_accuracy": c.accuracy,
             "chosen": c is search.chosen, "channels": c.keep} for c in search.candidates]
    if sparsity is not None or ":" in sparsity_pattern:
        chosen = sparsity
        if sparsity == "auto":
            from edgeprune.importers import load_tflite

            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "pruned.tflite").write_bytes(tflite)
                chosen, _ = choose_sparsity(load_tflite(Path(tmp) / "pruned.tflite"), profile, all_targets,
                                            sparsity_pattern, on_event=say)
        tflite, final["sparsity"] = _sparsify(model, example_input, calibration, chosen, sparsity_pattern,
                                              train_loader, val_loader, epochs, lr, teacher, say)
        final["sparsity"]["chosen"] = chosen
        after = measure_tflite(tflite, profile, flash_limit(all_targets))
        final["layers_after"] = after["layers"]
        final["pruned"] |= {k: after[k] for k in ("nonzero_macs", "weight_bytes", "flash_bytes", "latency_ms")}
        status = check(all_targets, budget_measures(after))
        final["budgets"] = {b.kind: {"requested": b.text, **status[b.kind]} for b in all_targets}
    if val_loader is not None:
        final["dense_accuracy"] = dense_accuracy
        final["pruned_accuracy"] = evaluate(model, val_loader)
    return PruneOutcome(model=model, tflite=tflite, report=final, channel_result=result, history=history)


def _sparsify(model, example_input, calibration, sparsity, pattern, train_loader, val_loader, epochs, lr, teacher,
              say) -> tuple[bytes, dict]:
    """Block sparsity after channel pruning: masks by magnitude, raised in even steps to the target share with
    BatchNorm statistics re-estimated and one epoch of fine-tuning (masks held) per step when there is
    training data (gradual magnitude pruning), then export."""
    from edgeprune.prune.allocation import _batches, reestimate_bn
    from edgeprune.prune.export import export_int8_tflite
    from edgeprune.prune.finetune import evaluate, finetune
    from edgeprune.prune.sparsity import TFLITE_NOTE
    from edgeprune.prune.sparsity_torch import apply_masks, block_masks, density, make_permanent

    target = sparsity or 0.0
    say(f"block sparsity {pattern}")
    info: dict = {"pattern": pattern, "requested": sparsity, "tflite": TFLITE_NOTE}
    if val_loader is not None:
        probe = copy.deepcopy(model)
        apply_masks(block_masks(probe, target, pattern))
        info["accuracy_masked"] = evaluate(probe, val_loader)
    steps = max(1, epochs // 2) if train_loader is not None and epochs > 0 else 0
    if steps:
        calibration_batches = _batches(train_loader, 2048)
        for step in range(1, steps + 1):
            say(f"block sparsity {target * step / steps:.0%}: BatchNorm re-estimation and one epoch of "
                f"fine-tuning with the masks")
            masks = block_masks(model, target * step / steps, pattern)
            apply_masks(masks)
            reestimate_bn(model, calibration_batches)
            ft = finetune(model, train_loader, val_loader, 1, lr=lr, teacher=teacher, seed=step)
            if step < steps:
                make_permanent(masks)
        info["steps"] = steps
        info["accuracy_finetuned"] = ft.best_accuracy
    else:
        masks = block_masks(model, target, pattern)
        apply_masks(masks)
    info.update(density=density(masks), layers=len(masks))
    make_permanent(masks)
    say("int8 export")
    return export_int8_tflite(model, example_input, calibration), info
