"""One-shot pruning of a .tflite or ONNX model to budgets: search the kept share of MACs until the pruned
graph, measured by the IR cost model, meets every budget (no training code, calibration inputs only)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgeprune.errors import BudgetError
from edgeprune.ir import Graph
from edgeprune.prune.budgets import Budget, check, default_budgets, flash_limit


def measure_graph(graph: Graph, profile, flash_budget: float | None = None) -> dict:
    from edgeprune.pipeline import analyze_for, budget_measures, summary

    report = summary(analyze_for(graph, None, profile, flash_budget), profile)
    return budget_measures(report) | {"_report": report}


def prune_graph_to_budgets(graph: Graph, profile, budgets: list[Budget] | None,
                           calibration: list[list[np.ndarray]], iterations: int = 9,
                           on_event: Callable[[str], None] | None = None,
                           round_to: int | None = None) -> tuple[Graph, dict]:
    from edgeprune.prune.oneshot import prune_oneshot

    say = on_event or (lambda _m: None)
    round_to = int(round_to if round_to is not None else getattr(profile, "round_to", 1))
    budgets = list(budgets) if budgets else default_budgets(profile)
    dense = measure_graph(graph, profile, flash_limit(budgets))
    targets = [b.resolve(dense[b.kind]) for b in budgets]
    flash = flash_limit(targets)
    if all(v["met"] for v in check(targets, dense).values()):
        return graph, {"keep": 1.0, "status": check(targets, dense), "dense": dense["_report"],
                       "pruned": dense["_report"], "oneshot": {}}
    lo, hi = 0.0, 1.0  # kept share of MACs: lo fails or is untested, hi meets nothing yet
    best = None
    for _ in range(iterations):
        keep = (lo + hi) / 2
        say(f"one-shot pruning: keeping {keep:.0%} of the MACs")
        pruned, info = prune_oneshot(graph, calibration, keep, method="act+lsq", round_to=round_to)
        measured = measure_graph(pruned, profile, flash)
        status = check(targets, measured)
        if all(v["met"] for v in status.values()):
            best = (keep, pruned, info, measured, status)
            lo = keep
        else:
            hi = keep
        if best is not None and hi - lo < 0.02:
            break
    if best is None:
        pruned, info = prune_oneshot(graph, calibration, 0.02, method="act+lsq", round_to=round_to)
        measured = measure_graph(pruned, profile, flash)
        status = check(targets, measured)
        failing = {k: v for k, v in status.items() if not v["met"]}
        if failing:
            kind, v = next(iter(failing.items()))
            raise BudgetError(f"budget --{kind} cannot be met by one-shot channel pruning: limit {v['limit']:,.0f}, "
                              f"the smallest reachable is about {measured[kind]:,.0f}")
        best = (0.02, pruned, info, measured, status)
    keep, pruned, info, measured, status = best
    return pruned, {"keep": keep, "status": status, "dense": dense["_report"], "pruned": measured["_report"],
                    "oneshot": info}


SPARSITY_KINDS = ("flash", "latency")  # the budgets block sparsity buys (MACs, params and RAM it does not)
MAX_AUTO_SPARSITY = 0.9


def choose_sparsity(graph: Graph, profile, budgets: list[Budget], pattern: str, steps: int = 7,
                    on_event: Callable[[str], None] | None = None) -> tuple[float, dict]:
    """`--sparsity auto`: the smallest block sparsity (bisection in [0, 0.9]) at which `graph` meets the flash
    and latency budgets among `budgets` (resolved), measured like `inspect` (sparse-aware latency, the weight
    layout a build would take). Returns (sparsity, budget status)."""
    import copy

    from edgeprune.prune.sparsity import sparsify_graph

    say = on_event or (lambda _m: None)
    targets = [b for b in budgets if b.kind in SPARSITY_KINDS]
    flash = flash_limit(targets)

    def status_at(s: float) -> tuple[dict, dict]:
        g = copy.deepcopy(graph)
        if s > 0:
            sparsify_graph(g, s, pattern)
        measured = measure_graph(g, profile, flash)
        return measured, check(targets, measured)

    measured, status = status_at(0.0)
    if all(v["met"] for v in status.values()):
        return 0.0, status
    measured, status = status_at(MAX_AUTO_SPARSITY)
    failing = {k: v for k, v in status.items() if not v["met"]}
    if failing:
        kind, v = next(iter(failing.items()))
        unit = "ms" if kind == "latency" else "B"
        raise BudgetError(f"budget --{kind} cannot be met with block sparsity up to {MAX_AUTO_SPARSITY:.0%} "
                          f"({pattern}): limit {v['limit']:,.6g}{unit}, reached {measured[kind]:,.6g}{unit}; "
                          f"add a --macs budget to prune channels as well")
    lo, hi, best = 0.0, MAX_AUTO_SPARSITY, status
    for _ in range(steps):
        mid = (lo + hi) / 2
        say(f"block sparsity: trying {mid:.0%}")
        _, st = status_at(mid)
        if all(v["met"] for v in st.values()):
            hi, best = mid, st
        else:
            lo = mid
    return hi, best
