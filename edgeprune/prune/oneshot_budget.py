"""One-shot pruning of a .tflite or ONNX model to budgets: search the kept share of MACs until the pruned
graph, measured by the IR cost model, meets every budget (no training code, calibration inputs only)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgeprune.errors import BudgetError
from edgeprune.ir import Graph
from edgeprune.prune.budgets import Budget, check, default_budgets, flash_limit


def _measure(graph: Graph, profile, flash_budget: float | None = None) -> dict:
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
    dense = _measure(graph, profile, flash_limit(budgets))
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
        measured = _measure(pruned, profile, flash)
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
        measured = _measure(pruned, profile, flash)
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
