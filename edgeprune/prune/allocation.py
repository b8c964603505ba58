"""Accuracy-aware channel allocation: candidate per-group widths that all meet the budgets, scored on the user's
validation data after re-estimating BatchNorm statistics (adaptive BN, as in EagleEye, Li et al. 2020).

Importance criteria rank channels well inside one group but compare poorly across groups, so a global ranking
alone can starve a group that matters (a residual stream at high resolution, say). Here the global allocation,
Torch-Pruning's uniform one, blends of the two and random perturbations are each scaled to the budgets, pruned,
given fresh BatchNorm statistics from a few training batches (no gradient step) and scored on validation data;
the best-scoring candidate is kept. Without data, `ChannelPruner`'s global allocation is used as it is.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch_pruning as tp

from edgeprune.errors import BudgetError
from edgeprune.prune.budgets import Budget, check
from edgeprune.prune.channel import _ROOTS, ChannelPruner, ChannelPruneResult, _channel_counts, output_layers
from edgeprune.prune.torch_cost import TorchCost, TorchCostModel, single_example

ALLOCATIONS = ("auto", "search", "global", "uniform")  # auto: search with data, global without


@dataclass
class Candidate:
    name: str
    keep: dict[str, int]  # root layer name -> channels kept in its group
    measures: dict[str, float]
    accuracy: float = float("nan")  # validation accuracy after BatchNorm re-estimation
    loss: float = float("nan")


@dataclass
class SearchResult:
    model: nn.Module
    result: ChannelPruneResult
    chosen: Candidate
    candidates: list[Candidate] = field(default_factory=list)


def _batches(loader, images: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out, n = [], 0
    for x, y in loader:
        out.append((x, y))
        n += len(x)
        if n >= images:
            break
    return out


def reestimate_bn(model: nn.Module, calibration) -> None:
    """Re-estimates every BatchNorm's running statistics on `calibration` batches ((x, y) pairs): cumulative
    average, model in train mode, no gradients; leaves the model in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for x, _ in calibration:
            model(x)
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    model.eval()


def adaptive_bn_score(model: nn.Module, calibration, validation) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) on `validation` after BatchNorm statistics are re-estimated on
    `calibration` batches (reestimate_bn); `model` is modified."""
    reestimate_bn(model, calibration)
    with torch.no_grad():
        correct = total = 0
        loss = 0.0
        for x, y in validation:
            out = model(x)
            correct += int((out.argmax(1) == y).sum())
            loss += float(F.cross_entropy(out, y, reduction="sum"))
            total += int(y.numel())
    return correct / max(total, 1), loss / max(total, 1)


class AllocationSearch:
    """Scales candidate allocation shapes to the budgets and keeps the one with the best adaptive-BN score."""

    def __init__(self, model: nn.Module, example_input: torch.Tensor, profile, runtime_flash: int,
                 criterion="l2", round_to: int | None = None, gradient_fn=None, seed: int = 0):
        self.model = model.eval()
        self.example = example_input
        self.profile = profile
        self.runtime_flash = runtime_flash
        self.criterion = criterion
        self.gradient_fn = gradient_fn
        self.seed = seed
        # The pruner traces the model, names the groups and ranks the channels inside each group.
        self.pruner = ChannelPruner(model, example_input, profile, runtime_flash, criterion, round_to,
                                    gradient_fn=gradient_fn)
        self.round_to = self.pruner.round_to
        self.names = self.pruner.names
        if gradient_fn is not None:
            gradient_fn(model)
        self.order: dict[str, list[int]] = {}  # root name -> channel indices, least important first
        self.width: dict[str, int] = {}
        for group in self.pruner.groups():
            root = self.names[id(group[0].dep.target.module)]
            scores = self.pruner.importance(group)
            n = len(group[0].idxs)
            if scores is None or n <= self.round_to:
                continue
            self.order[root] = [int(i) for i in torch.argsort(scores.detach().float().cpu())]
            self.width[root] = n

    # ------------------------------------------------------------------------------------------ applying

    def apply(self, keep: dict[str, int]) -> nn.Module:
        """A pruned copy of the model with `keep[root]` channels left in each group (least important go)."""
        model = copy.deepcopy(self.model)
        names = {id(m): n for n, m in model.named_modules()}
        with single_example():
            graph = tp.DependencyGraph().build_dependency(model, example_inputs=self.example)
        ignored = output_layers(model, self.example)
        for group in list(graph.get_all_groups(ignored_layers=ignored, root_module_types=_ROOTS)):
            root_module = group[0].dep.target.module
            root = names[id(root_module)]
            if root not in keep or keep[root] >= self.width[root]:
                continue
            idxs = sorted(self.order[root][: self.width[root] - keep[root]])
            pg = graph.get_pruning_group(root_module, group[0].dep.handler, idxs=idxs)
            if graph.check_pruning_group(pg):
                pg.prune()
        return model.eval()

    def measure(self, model: nn.Module) -> TorchCost:
        return TorchCostModel(model, self.example, self.profile, self.runtime_flash).measure()

    def _keep(self, shape: dict[str, float], s: float) -> dict[str, int]:
        keep = {}
        for root, n in self.width.items():
            frac = min(max(1.0 - s * shape.get(root, 0.0), 0.0), 1.0)
            k = self.round_to * int(n * frac / self.round_to + 0.5)
            keep[root] = min(n, max(self.round_to, k))
        return keep

    def fit(self, name: str, shape: dict[str, float], budgets: list[Budget], iters: int = 12) -> Candidate | None:
        """The widest allocation along `shape` (prune fraction per group, up to a common scale) that meets every
        budget, by bisection on the scale; None if even the narrowest along it does not."""
        top = max(shape.values(), default=0.0)
        if top <= 0:
            return None
        lo, hi = 0.0, 1.0 / top
        best: tuple[dict[str, int], dict] | None = None
        seen: dict[tuple, dict] = {}

        def measures_of(keep):
            key = tuple(sorted(keep.items()))
            if key not in seen:
                seen[key] = self.measure(self.apply(keep)).as_measures()
            return seen[key]

        keep = self._keep(shape, hi)
        m = measures_of(keep)
        if not all(v["met"] for v in check(budgets, m).values()):
            return None
        best = (keep, m)
        for _ in range(iters):
            mid = (lo + hi) / 2
            keep = self._keep(shape, mid)
            m = measures_of(keep)
            if all(v["met"] for v in check(budgets, m).values()):
                hi, best = mid, (keep, m)
            else:
                lo = mid
        keep, m = self._fill(shape, hi, best[0], best[1], budgets, measures_of)
        return Candidate(name, keep, m)

    def _fill(self, shape, s, keep, m, budgets, measures_of):
        """Rounding to `round_to` leaves part of the budget unused: gives a rounding step of channels back to the
        groups that were rounded below their share along `shape`, furthest below first, while every budget holds."""
        keep = dict(keep)
        target = {r: (1.0 - min(s * shape.get(r, 0.0), 1.0)) * n for r, n in self.width.items()}
        open_groups = [r for r in self.width if keep[r] < target[r]]  # rounded below their share
        while open_groups:
            r = max(open_groups, key=lambda g: (target[g] - keep[g]) / self.width[g])
            trial = dict(keep)
            trial[r] = min(self.width[r], keep[r] + self.round_to)
            tm = measures_of(trial)
            if all(v["met"] for v in check(budgets, tm).values()):
                keep, m = trial, tm
                if keep[r] >= target[r]:
                    open_groups.remove(r)
            else:
                open_groups.remove(r)
        return keep, m

    # ------------------------------------------------------------------------------------------ search

    def shapes(self, global_keep: dict[str, int] | None, random_count: int) -> list[tuple[str, dict[str, float]]]:
        gen = torch.Generator().manual_seed(self.seed)
        uniform = {r: 1.0 for r in self.width}
        out = [("uniform", uniform)]
        if global_keep is not None:
            glob = {r: 1.0 - global_keep.get(r, n) / n for r, n in self.width.items()}
            if max(glob.values(), default=0.0) > 0:
                out.append(("global", glob))
                for a in (0.25, 0.5, 0.75):
                    out.append((f"blend {a:.2f}", {r: a * glob[r] + (1 - a) * uniform[r] for r in self.width}))
        for i in range(random_count):
            z = torch.randn(len(self.width), generator=gen)
            out.append((f"random {i + 1}", {r: math.exp(0.5 * float(v)) for r, v in zip(self.width, z)}))
        return out

    def _result(self, model: nn.Module, budgets: list[Budget], dense: TorchCost, binding: list[str],
                steps) -> ChannelPruneResult:
        pruned = self.measure(model)
        return ChannelPruneResult(model, dense, pruned, check(budgets, pruned.as_measures()), binding, steps,
                                  _channel_counts(self.model), _channel_counts(model))

    def _impossible(self, budgets: list[Budget]) -> None:
        """Raises the budget error of the first budget that even the narrowest model misses."""
        smallest = self.pruner.smallest_reachable()
        for b in budgets:
            if smallest[b.kind] > b.value * (1 + 1e-9):
                raise BudgetError(self.pruner._impossible(b.kind, b.value))
        raise BudgetError("the budgets cannot be met together by channel pruning: "
                          + ", ".join(b.describe() for b in budgets))

    def uniform(self, budgets: list[Budget]) -> SearchResult:
        """Torch-Pruning's uniform allocation: every group loses the same share, scaled to the budgets."""
        dense = self.measure(self.model)
        budgets = [b.resolve(dense.as_measures()[b.kind]) for b in budgets]
        c = self.fit("uniform", {r: 1.0 for r in self.width}, budgets)
        if c is None:
            self._impossible(budgets)
        binding = [max(budgets, key=lambda b: dense.as_measures()[b.kind] / b.value).kind]
        model = self.apply(c.keep)
        return SearchResult(model, self._result(model, budgets, dense, binding, []), c, [c])

    def run(self, budgets: list[Budget], train_loader, val_loader, random_count: int = 8,
            refine_count: int = 4, calibration_images: int = 2048, validation_images: int = 4000,
            on_event=None) -> SearchResult:
        say = on_event or (lambda _msg: None)
        dense = self.measure(self.model)
        budgets = [b.resolve(dense.as_measures()[b.kind]) for b in budgets]
        # The global allocation by importance per unit of cost is one candidate (and the fallback).
        global_model = copy.deepcopy(self.model)
        gp = ChannelPruner(global_model, self.example, self.profile, self.runtime_flash, self.criterion,
                           self.round_to, gradient_fn=self.gradient_fn)
        global_result = gp.run(budgets)
        gnames = {id(m): n for n, m in global_model.named_modules()}
        global_keep = {}
        for group in gp.groups():
            root = gnames[id(group[0].dep.target.module)]
            if root in self.width:
                global_keep[root] = len(group[0].idxs)
        calibration = _batches(train_loader, calibration_images)
        validation = _batches(val_loader, validation_images)

        candidates: list[Candidate] = []
        scored: dict[int, nn.Module] = {}  # id(candidate) -> its pruned model, re-estimated statistics kept

        def score(c: Candidate) -> None:
            model = self.apply(c.keep)
            c.accuracy, c.loss = adaptive_bn_score(model, calibration, validation)
            say(f"allocation {c.name}: MACs {c.measures['macs']:,.0f}, adaptive-BN accuracy {c.accuracy:.4f}")
            best_so_far = max(candidates, key=lambda o: (o.accuracy, -o.loss), default=None)
            if best_so_far is None or (c.accuracy, -c.loss) > (best_so_far.accuracy, -best_so_far.loss):
                scored.clear()  # only the best model is kept, to hold one copy at a time
                scored[id(c)] = model
            candidates.append(c)

        for name, shape in self.shapes(global_keep, random_count):
            c = self.fit(name, shape, budgets)
            if c is not None and all(c.keep != o.keep for o in candidates):
                score(c)
        if not candidates:
            return SearchResult(global_model, global_result, Candidate("global", global_keep,
                                                                        global_result.pruned.as_measures()))
        # A second, narrower round of perturbations around the best so far.
        best = max(candidates, key=lambda c: (c.accuracy, -c.loss))
        gen = torch.Generator().manual_seed(self.seed + 1)
        base = {r: 1.0 - best.keep[r] / n for r, n in self.width.items()}
        for i in range(refine_count):
            z = torch.randn(len(self.width), generator=gen)
            shape = {r: max(base[r], 0.02) * math.exp(0.25 * float(v)) for r, v in zip(self.width, z)}
            c = self.fit(f"refine {i + 1}", shape, budgets)
            if c is not None and all(c.keep != o.keep for o in candidates):
                score(c)
        best = max(candidates, key=lambda c: (c.accuracy, -c.loss))
        model = scored[id(best)]  # fine-tuning starts from its re-estimated statistics
        result = self._result(model, budgets, dense, global_result.binding, global_result.steps)
        return SearchResult(model, result, best, candidates)
