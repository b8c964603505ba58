"""Execution order: any topological order of the ops is legal; pick the one whose planned arena is smallest.

The calls of one op stay together and in their order. For graphs with few orders (ResNet-style blocks: a
shortcut branch can run before, between or after the main branch's ops) every order is planned; otherwise
the candidates are the graph order, a greedy order that keeps the fewest live bytes, and adjacent swaps of
the best so far (hill climbing) within an evaluation budget. Ties keep the earlier candidate (graph order first).
"""

from __future__ import annotations

from collections.abc import Callable

EXHAUSTIVE_LIMIT = 64  # plan every order when there are at most this many
SEARCH_BUDGET = 48  # planner evaluations for the heuristic search


def op_groups(calls) -> list[list]:
    groups: list[list] = []
    for call in calls:
        if groups and groups[-1][0].op is call.op:
            groups[-1].append(call)
        else:
            groups.append([call])
    return groups


def dependencies(groups, key: Callable = id) -> list[set[int]]:
    """deps[g]: the groups that must run before group g (they write a buffer g reads)."""
    from edgeprune.ir import Tensor

    producer: dict = {}
    for g, calls in enumerate(groups):
        produced = {id(t) for t in calls[0].op.outputs}
        for call in calls:
            for a in call.args:
                if isinstance(a, Tensor) and not a.is_constant and id(a) in produced:
                    producer.setdefault(key(a), g)
    deps: list[set[int]] = []
    for g, calls in enumerate(groups):
        d = set()
        for call in calls:
            for a in call.args:
                if isinstance(a, Tensor) and not a.is_constant:
                    p = producer.get(key(a))
                    if p is not None and p != g:
                        d.add(p)
        deps.append(d)
    return deps


def topological_orders(deps: list[set[int]], limit: int) -> list[list[int]] | None:
    """All topological orders (graph order first), or None when there are more than `limit`."""
    n = len(deps)
    users: list[list[int]] = [[] for _ in range(n)]
    for g, d in enumerate(deps):
        for p in d:
            users[p].append(g)
    indeg = [len(d) for d in deps]
    orders: list[list[int]] = []
    order: list[int] = []
    ready = sorted(g for g in range(n) if indeg[g] == 0)
    # Iterative DFS: a stack of (ready list, next choice index).
    stack = [(ready, 0)]
    while stack:
        ready, k = stack[-1]
        if len(order) == n:
            orders.append(list(order))
            if len(orders) > limit:
                return None
            stack.pop()
            if order:
                _undo(order, users, indeg)
            continue
        if k >= len(ready):
            stack.pop()
            if order:
                _undo(order, users, indeg)
            continue
        stack[-1] = (ready, k + 1)
        g = ready[k]
        order.append(g)
        nxt = [r for r in ready if r != g]
        for u in users[g]:
            indeg[u] -= 1
            if indeg[u] == 0:
                nxt.append(u)
        stack.append((sorted(nxt), 0))
    return orders


def _undo(order: list[int], users, indeg) -> None:
    g = order.pop()
    for u in users[g]:
        indeg[u] += 1


def greedy_order(groups, deps: list[set[int]], key: Callable = id) -> list[int]:
    """Kahn's algorithm picking the ready op that leaves the fewest live bytes (ties: graph order)."""
    from edgeprune.ir import Tensor

    n = len(groups)
    reads: list[set] = []
    writes: list[dict] = []
    readers: dict = {}
    for g, calls in enumerate(groups):
        produced = {id(t) for t in calls[0].op.outputs}
        r, w = set(), {}
        for call in calls:
            for a in call.args:
                if isinstance(a, Tensor) and not a.is_constant:
                    if id(a) in produced:
                        w[key(a)] = a.nbytes
                    else:
                        r.add(key(a))
        reads.append(r)
        writes.append(w)
        for k in r:
            readers.setdefault(k, set()).add(g)
    size = {}
    for w in writes:
        size.update(w)
    remaining = {k: set(v) for k, v in readers.items()}
    done: set[int] = set()
    order: list[int] = []
    while len(order) < n:
        ready = [g for g in range(n) if g not in done and deps[g] <= done]

        def delta(g: int) -> tuple:
            freed = sum(size.get(k, 0) for k in reads[g] if remaining.get(k, set()) <= {g})
            return (sum(writes[g].values()) - freed, g)

        g = min(ready, key=delta)
        done.add(g)
        order.append(g)
        for k in reads[g]:
            remaining.get(k, set()).discard(g)
    return order


def best_schedule(graph, calls, evaluate: Callable, key: Callable = id):
    """evaluate(ordered calls) -> a Plan (with arena_bytes); returns the best Plan."""
    groups = op_groups(calls)
    deps = dependencies(groups, key)
    tried: dict[tuple[int, ...], object] = {}

    def run(order) -> object:
        t = tuple(order)
        if t not in tried:
            tried[t] = evaluate([c for g in order for c in groups[g]])
        return tried[t]

    def better(a, b) -> bool:
        return b is None or a.arena_bytes < b.arena_bytes

    original = list(range(len(groups)))
    best = run(original)
    orders = topological_orders(deps, EXHAUSTIVE_LIMIT) if len(groups) > 1 else [original]
    if orders is not None:
        for order in orders:
            plan = run(order)
            if better(plan, best):
                best = plan
        return best
    best_order = original
    order = greedy_order(groups, deps, key)
    plan = run(order)
    if better(plan, best):
        best, best_order = plan, order
    improved = True
    while improved and len(tried) < SEARCH_BUDGET:
        improved = False
        for i in range(len(best_order) - 1):
            a, b = best_order[i], best_order[i + 1]
            if a in deps[b]:
                continue
            cand = best_order[:i] + [b, a] + best_order[i + 2:]
            if tuple(cand) in tried:
                continue
            plan = run(cand)
            if better(plan, best):
                best, best_order, improved = plan, cand, True
                break
            if len(tried) >= SEARCH_BUDGET:
                break
    return best
