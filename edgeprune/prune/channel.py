"""Dependency-aware channel pruning of a PyTorch model until every budget holds.

Coupled channels (residual adds, concatenations, depthwise convs, a linear layer after flatten) form groups
through Torch-Pruning's DependencyGraph. Allocation is global: every prunable channel is ranked by its
importance per unit of cost of the binding budget (the one furthest over its limit), the cheapest to lose go
first, in steps, re-measuring after each step. Channel counts stay multiples of the target's `round_to`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch_pruning as tp

from edgeprune.errors import BudgetError, UnsupportedOpError
from edgeprune.prune.budgets import Budget, check
from edgeprune.prune.importance import make_importance
from edgeprune.prune.torch_cost import TorchCost, TorchCostModel, trace

_ROOTS = [nn.Conv2d, nn.Linear]


@dataclass
class PruneStep:
    step: int
    binding: str
    removed: int
    measures: dict


@dataclass
class ChannelPruneResult:
    model: nn.Module
    dense: TorchCost
    pruned: TorchCost
    status: dict  # budget kind -> {limit, measured, ratio, met}
    binding: list[str]  # budgets that bound at some step, in order of first binding
    steps: list[PruneStep] = field(default_factory=list)
    channels_before: dict[str, int] = field(default_factory=dict)
    channels_after: dict[str, int] = field(default_factory=dict)


def output_layers(model: nn.Module, example_input: torch.Tensor) -> list[nn.Module]:
    """The conv/linear layers whose outputs are model outputs (their channels are the classes: never pruned)."""
    gm = trace(model)
    modules = dict(gm.named_modules())
    result = []
    for node in gm.graph.nodes:
        if node.op != "output":
            continue
        stack = list(node.all_input_nodes)
        seen = set()
        while stack:
            n = stack.pop()
            if n.name in seen:
                continue
            seen.add(n.name)
            if n.op == "call_module" and isinstance(modules[n.target], tuple(_ROOTS)):
                result.append(modules[n.target])
                continue
            stack.extend(n.all_input_nodes)
    return result


def _channel_counts(model: nn.Module) -> dict[str, int]:
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            out[name] = m.out_channels
        elif isinstance(m, nn.Linear):
            out[name] = m.out_features
    return out


class ChannelPruner:
    def __init__(self, model: nn.Module, example_input: torch.Tensor, profile, runtime_flash: int,
                 criterion="l2", round_to: int | None = None, ignored_layers=None,
                 gradient_fn: Callable[[nn.Module], None] | None = None):
        self.model = model
        self.example = example_input
        self.profile = profile
        self.round_to = max(1, int(round_to if round_to is not None else getattr(profile, "round_to", 1)))
        self.importance = make_importance(criterion)
        self.gradient_fn = gradient_fn
        self.ignored = list(ignored_layers or []) + output_layers(model, example_input)
        try:
            self.graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_input)
        except Exception as e:  # Torch-Pruning raises assorted errors on untraceable models
            raise UnsupportedOpError(f"Torch-Pruning cannot trace the model: {type(e).__name__}: {e}") from None
        self.cost_model = TorchCostModel(model, example_input, profile, runtime_flash)
        self.names = {id(m): n for n, m in model.named_modules()}
        # Each group's mean importance when first scored: channels are compared across groups and steps on this
        # fixed scale. Re-normalizing the survivors to mean 1 at every step would make the lowest of them look
        # cheap again each time, and the group with the largest saving per channel would collapse.
        self._scale: dict[tuple, tuple[float, int]] = {}  # group -> (mean importance, channels)

    def groups(self):
        return list(self.graph.get_all_groups(ignored_layers=self.ignored, root_module_types=_ROOTS))

    def _min_keep(self, n: int) -> int:
        return n if n <= self.round_to else self.round_to

    def _marginal(self, group, cost: TorchCost) -> dict[str, float]:
        """Estimated saving of every budget kind per root channel removed from the group."""
        by_module = {c.module: c for c in cost.nodes if c.module is not None}
        n_root = len(group[0].idxs)
        d = {"macs": 0.0, "params": 0.0, "flash": 0.0, "ram": 0.0, "cycles": 0.0}
        pruned_sources = set()
        coef = dict(self.profile.cost)
        for item in group:
            mod = item.dep.target.module
            name = self.names.get(id(mod))
            c = by_module.get(name)
            handler = getattr(item.dep.handler, "__name__", str(item.dep.handler))
            if c is None or not isinstance(mod, (nn.Conv2d, nn.Linear)):
                continue
            if isinstance(mod, nn.Conv2d):
                dim = mod.out_channels if "out" in handler else mod.in_channels
            else:
                dim = mod.out_features if "out" in handler else mod.in_features
            share = len(item.idxs) / (n_root * max(dim, 1))
            if "out" in handler:
                pruned_sources.add(name)
            elif c.kind == "depthwise":
                continue  # its in-channels go with its out-channels, counted once
            d["macs"] += c.macs * share
            d["params"] += c.params * share
            d["flash"] += c.weight_bytes * share
            per_mac = {"conv": "conv_cycles_per_mac", "depthwise": "depthwise_cycles_per_mac",
                       "fc": "fc_cycles_per_mac"}.get(c.kind, "conv_cycles_per_mac")
            d["cycles"] += c.macs * share * float(coef.get(per_mac, 1.0))
        peak = set(cost.peak_buffers)
        for c in cost.nodes:
            if c.name in peak and c.channel_source in pruned_sources and c.channels:
                d["ram"] += c.out_bytes / c.channels
            elif c.name in peak and c.channel_source in pruned_sources and c.out_bytes:
                src = by_module.get(c.channel_source)
                if src is not None and src.channels:
                    d["ram"] += c.out_bytes / src.channels
        d["flops"] = 2 * d["macs"]
        d["latency"] = d.pop("cycles") / float(self.profile.clock_hz) * 1e3
        return d

    def _step(self, binding: str, need: float, cost: TorchCost, rounding: str = "nearest") -> int:
        """Removes the channels with the least importance per unit of the binding cost; returns how many."""
        if self.gradient_fn is not None:
            self.gradient_fn(self.model)
        candidates = []  # (score, group index, rank within group)
        plans = []
        for group in self.groups():
            n = len(group[0].idxs)
            removable = n - self._min_keep(n)
            if removable <= 0:
                continue
            saving = self._marginal(group, cost)[binding]
            if saving <= 0:
                continue
            scores = self.importance(group)
            if scores is None:
                continue
            scores = scores.detach().float().cpu()
            key = tuple(sorted(self.names.get(id(item.dep.target.module), "") for item in group))
            scale, n0 = self._scale.setdefault(key, (float(scores.mean().abs()) + 1e-12, n))
            scores = scores / scale  # comparable across groups, and across steps
            order = torch.argsort(scores)
            plans.append((group, order, saving, removable))
            for rank in range(removable):
                # A channel weighs more the thinner its group gets ((n0 / width before removing it)^2, a loss that
                # grows like 1 / kept share): without it, near-equal importances let the group with the largest
                # saving per channel (a wide residual stream at high resolution) collapse to the minimum.
                value = float(scores[order[rank]]) * (n0 / (n - rank)) ** 2
                candidates.append((value / saving, len(plans) - 1, rank))
        if not candidates:
            return 0
        candidates.sort()
        take = [0] * len(plans)
        saved = 0.0
        for _, pi, rank in candidates:
            if saved >= need:
                break
            if rank == take[pi]:  # channels leave a group in importance order
                take[pi] += 1
                saved += plans[pi][2]
        removed = 0
        for (group, order, _, removable), k in zip(plans, take):
            if k == 0:
                continue
            n = len(group[0].idxs)
            keep = n - k
            if n > self.round_to:
                q = keep / self.round_to
                keep = self.round_to * (int(q) if rounding == "floor" else int(q + 0.5))
            keep = max(self._min_keep(n), keep)
            k = min(n - keep, removable)
            if k <= 0:
                continue
            idxs = sorted(int(i) for i in order[:k])
            root = group[0].dep.target.module
            pruning_group = self.graph.get_pruning_group(root, group[0].dep.handler, idxs=idxs)
            if self.graph.check_pruning_group(pruning_group):
                pruning_group.prune()
                removed += k
        return removed

    def run(self, budgets: list[Budget], step_fraction: float = 0.2, max_steps: int = 400,
            on_step: Callable[[PruneStep], None] | None = None) -> ChannelPruneResult:
        before = _channel_counts(self.model)
        dense = self.cost_model.measure()
        budgets = [b.resolve(dense.as_measures()[b.kind]) for b in budgets]
        binding_order: list[str] = []
        steps: list[PruneStep] = []
        cost = dense
        for step in range(max_steps):
            status = check(budgets, cost.as_measures())
            over = {k: v for k, v in status.items() if not v["met"]}
            if not over:
                break
            binding = max(over, key=lambda k: over[k]["ratio"])
            if binding not in binding_order:
                binding_order.append(binding)
            current, limit = status[binding]["measured"], status[binding]["limit"]
            # Marginal savings add up to less than the real saving when a conv loses input and output channels
            # together, so aim at part of the gap and re-measure: the last step overshoots by little.
            need = max((current - limit) * 0.6, current * 0.005)
            need = min(need, current * step_fraction)
            removed = self._step(binding, need, cost)
            if removed == 0:  # the step was too small to change any rounded channel count
                removed = self._step(binding, need, cost, rounding="floor")
            cost = self.cost_model.measure()
            rec = PruneStep(step, binding, removed, cost.as_measures())
            steps.append(rec)
            if on_step:
                on_step(rec)
            if removed == 0:
                raise BudgetError(self._impossible(binding, status[binding]["limit"]))
        status = check(budgets, cost.as_measures())
        return ChannelPruneResult(self.model, dense, cost, status, binding_order, steps, before,
                                  _channel_counts(self.model))

    def _impossible(self, kind: str, limit: float) -> str:
        smallest = self.smallest_reachable()[kind]
        unit = {"flash": " bytes", "ram": " bytes", "latency": " ms"}.get(kind, "")
        fmt = f"{smallest:.3f}" if kind == "latency" else f"{int(smallest):,}"
        lim = f"{limit:.3f}" if kind == "latency" else f"{int(limit):,}"
        return (f"budget --{kind} cannot be met: limit {lim}{unit}, the smallest reachable by channel pruning is "
                f"{fmt}{unit}")

    def smallest_reachable(self) -> dict[str, float]:
        """Costs with every prunable group cut to its minimum channel count (on a copy of the model)."""
        clone = copy.deepcopy(self.model)
        other = ChannelPruner(clone, self.example, self.profile, self.cost_model.runtime_flash, "l2",
                              self.round_to, ignored_layers=[
                                  dict(clone.named_modules())[self.names[id(m)]] for m in self.ignored
                                  if id(m) in self.names])
        for group in other.groups():
            n = len(group[0].idxs)
            k = n - other._min_keep(n)
            if k > 0:
                g = other.graph.get_pruning_group(group[0].dep.target.module, group[0].dep.handler,
                                                  idxs=list(range(k)))
                if other.graph.check_pruning_group(g):
                    g.prune()
        return other.cost_model.measure().as_measures()
