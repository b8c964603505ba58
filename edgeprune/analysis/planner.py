"""Static memory planning: every activation and scratch buffer gets an offset in one arena.

Better than TensorFlow Lite Micro's greedy-by-size arena by three means:

* aliases: RESHAPE / SQUEEZE calls (KernelCall.alias_of) are dropped; their output shares the input's bytes;
* in-place execution: a call's output may overlap an input that dies at that call, as far as the kernel's
  declared contract allows (KernelCall.inplace_lag_bytes: offset(out) <= offset(in) - lag);
* placement: several buffer orders are each placed at the lowest feasible offsets (gaps between buffers
  honour the in-place lags) and the smallest arena is kept; edgeprune.analysis.schedule also searches the
  execution order.

check_plan() re-derives lifetimes from a Program independently and proves that no two live buffers overlap
except declared in-place pairs at a legal lag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeprune.errors import EdgePruneError


@dataclass(eq=False)
class Buffer:
    key: int  # id() of the tensor or scratch it stands for (the alias root)
    name: str
    nbytes: int
    first: int  # first call index that uses it
    last: int  # last call index that uses it
    offset: int = -1
    members: list = field(default_factory=list)  # the tensors (aliases) or the scratch sharing these bytes


@dataclass(frozen=True, eq=False)
class InPlace:
    """`out` may start at most `lag` bytes before `inp` (or not overlap it): both meet at call `call` only."""

    out: Buffer
    inp: Buffer
    lag: int
    call: int
    out_arg: int = -1
    in_arg: int = -1


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def _align_down(n: int, alignment: int) -> int:
    return n // alignment * alignment


def _overlap_in_time(a: Buffer, b: Buffer) -> bool:
    return a.first <= b.last and b.first <= a.last


# ------------------------------------------------------------------------------------------- placement


def greedy_by_size(buffers: list[Buffer], alignment: int = 16) -> int:
    """TFLite Micro's GreedyMemoryPlanner (the baseline): largest first, each at the lowest free offset."""
    order = sorted(buffers, key=lambda b: (-b.nbytes, b.first))
    placed: list[Buffer] = []
    for buf in order:
        live = sorted(
            (p for p in placed if p.first <= buf.last and buf.first <= p.last), key=lambda p: p.offset
        )
        offset = 0
        for p in live:
            if offset + buf.nbytes <= p.offset:
                break
            offset = max(offset, _align(p.offset + p.nbytes, alignment))
        buf.offset = offset
        placed.append(buf)
    return _align(max((b.offset + b.nbytes for b in buffers), default=0), alignment)


def _forbidden(b: Buffer, p: Buffer, lags: dict) -> tuple[int, int]:
    """The open interval of offsets b may not take given placed p (both live at once)."""
    lo, hi = p.offset - b.nbytes, p.offset + p.nbytes
    lag = lags.get((id(b), id(p)))
    if lag is not None:  # b is the output, p its dying input: b may start up to `lag` before p's start
        lo = max(lo, p.offset - min(lag, b.nbytes))
    lag = lags.get((id(p), id(b)))
    if lag is not None:  # p is the output, b its dying input: b may start `lag` after p's start
        hi = min(hi, p.offset + min(lag, p.nbytes))
    return lo, hi


def place(buffers: list[Buffer], order: list[Buffer], lags: dict, alignment: int = 16) -> int:
    """Places `order` one by one at the lowest aligned offset that conflicts with no placed live buffer."""
    placed: list[Buffer] = []
    for b in order:
        if b.nbytes == 0:
            b.offset = 0
            continue
        intervals = [_forbidden(b, p, lags) for p in placed if _overlap_in_time(b, p)]
        intervals = [(lo, hi) for lo, hi in intervals if lo + 1 < hi]
        candidates = {0}
        for lo, hi in intervals:
            candidates.add(_align(hi, alignment))
            if lo >= 0:
                candidates.add(_align_down(lo, alignment))
        for c in sorted(candidates):
            if all(c <= lo or c >= hi for lo, hi in intervals):
                b.offset = c
                break
        placed.append(b)
    return _align(max((b.offset + b.nbytes for b in buffers), default=0), alignment)


def _orders(buffers: list[Buffer]) -> list[list[Buffer]]:
    keys = [
        lambda b: (-b.nbytes, b.first, b.last),  # TFLM's order
        lambda b: (-b.nbytes, -b.first, -b.last),
        lambda b: (b.first, -b.nbytes),
        lambda b: (-b.last, -b.first, -b.nbytes),  # reverse time: chains of in-place outputs climb upward
        lambda b: (-(b.last - b.first), -b.nbytes, b.first),
        lambda b: (-b.nbytes * (b.last - b.first + 1), b.first),
    ]
    return [sorted(buffers, key=k) for k in keys]


def best_placement(buffers: list[Buffer], pairs: list[InPlace], alignment: int = 16) -> int:
    """Tries several placement orders; leaves the best offsets in the buffers; returns the arena size."""
    lags = {(id(p.out), id(p.inp)): p.lag for p in pairs}
    best, best_offsets = None, None
    for order in _orders(buffers):
        arena = place(buffers, order, lags, alignment)
        if best is None or arena < best:
            best, best_offsets = arena, [b.offset for b in buffers]
    for b, off in zip(buffers, best_offsets or []):
        b.offset = off
    return best or 0


# ------------------------------------------------------------------------------------- program buffers


def _arena_arg(a) -> bool:
    from edgeprune.ir import Tensor

    return not (isinstance(a, Tensor) and a.is_constant)


class _Union:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, k: int) -> int:
        while self.parent.get(k, k) != k:
            k = self.parent[k]
        return k

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def resolve_aliases(calls) -> tuple[list, list[tuple], _Union]:
    """Drops alias calls (RESHAPE/SQUEEZE of arena tensors); returns (kept calls, (out, in) pairs, union)."""
    from edgeprune.ir import Tensor

    kept, aliases, uf = [], [], _Union()
    for call in calls:
        j = call.alias_of
        if j is not None and len(call.args) == 2 and all(isinstance(a, Tensor) and not a.is_constant
                                                         for a in call.args) \
                and call.args[0].nbytes == call.args[1].nbytes:
            src, dst = call.args[j], call.args[1 - j]
            uf.union(id(dst), id(src))
            aliases.append((dst, src))
        else:
            kept.append(call)
    return kept, aliases, uf


def program_buffers(graph, calls, uf: _Union | None = None) -> tuple[list[Buffer], dict[int, Buffer]]:
    """The arena buffers of a lowered program with their lifetimes (in call indices), and id -> buffer."""
    uf = uf or _Union()
    by_root: dict[int, Buffer] = {}
    of: dict[int, Buffer] = {}
    last_call = max(len(calls) - 1, 0)

    def touch(obj, i: int, j: int) -> None:
        root = uf.find(id(obj))
        b = by_root.get(root)
        if b is None:
            b = by_root[root] = Buffer(root, obj.name, obj.nbytes, i, j)
        else:
            b.first, b.last = min(b.first, i), max(b.last, j)
            b.nbytes = max(b.nbytes, obj.nbytes)
        if id(obj) not in of:
            of[id(obj)] = b
            b.members.append(obj)

    for t in graph.inputs:
        touch(t, 0, 0)
    for i, call in enumerate(calls):
        for a in call.args:
            if _arena_arg(a):
                touch(a, i, i)
    for t in graph.outputs:
        touch(t, last_call, last_call)
    return list(by_root.values()), of


def inplace_pairs(graph, calls, of: dict[int, Buffer]) -> list[InPlace]:
    """The legal in-place pairs declared by the calls (each input must die at the call; not a graph output)."""
    from edgeprune.ir import Tensor

    outputs = {id(of[id(t)]) for t in graph.outputs if id(t) in of}
    pairs = []
    for i, call in enumerate(calls):
        if call.inplace_lag_bytes is None:
            continue
        produced = {id(t) for t in call.op.outputs}
        outs = [k for k, a in enumerate(call.args) if isinstance(a, Tensor) and id(a) in produced and _arena_arg(a)]
        if len(outs) != 1:
            continue
        ob = of[id(call.args[outs[0]])]
        if ob.first != i:
            continue
        for j in call.inplace_inputs:
            if not 0 <= j < len(call.args) or not _arena_arg(call.args[j]):
                continue
            ib = of[id(call.args[j])]
            if ib is ob or ib.last != i or id(ib) in outputs:
                continue
            if any(of.get(id(a)) is ib and k not in call.inplace_inputs for k, a in enumerate(call.args)):
                continue
            pairs.append(InPlace(ob, ib, max(0, int(call.inplace_lag_bytes)), i, outs[0], j))
    return pairs


@dataclass
class Plan:
    calls: list
    offsets: dict[int, int]
    arena_bytes: int
    aliases: list[tuple] = field(default_factory=list)
    inplace: list[tuple[int, int, int, int]] = field(default_factory=list)  # (call, out arg, in arg, lag) used
    buffers: list[Buffer] = field(default_factory=list)


def plan_calls(graph, calls, alignment: int = 16, aliases=(), uf: _Union | None = None) -> Plan:
    """Plans calls in the given order (alias calls already removed)."""
    buffers, of = program_buffers(graph, calls, uf)
    pairs = inplace_pairs(graph, calls, of)
    arena = best_placement(buffers, pairs, alignment)
    offsets = {}
    for b in buffers:
        for m in b.members:
            offsets[id(m)] = b.offset
    for dst, src in aliases:  # alias members no call touches
        if id(dst) not in offsets and id(src) in offsets:
            offsets[id(dst)] = offsets[id(src)]
        if id(src) not in offsets and id(dst) in offsets:
            offsets[id(src)] = offsets[id(dst)]
    used = [(p.call, p.out_arg, p.in_arg, p.lag) for p in pairs
            if p.out.offset < p.inp.offset + p.inp.nbytes and p.inp.offset < p.out.offset + p.out.nbytes]
    return Plan(calls=list(calls), offsets=offsets, arena_bytes=arena, aliases=list(aliases), inplace=used,
                buffers=buffers)


def plan_program(graph, calls, alignment: int = 16, schedule: bool = True) -> Plan:
    """In-place contracts of the portable kernels, aliases, then the execution order with the smallest arena."""
    from edgeprune.analysis.inplace import annotate_portable
    from edgeprune.analysis.schedule import best_schedule

    annotate_portable(calls)
    kept, aliases, uf = resolve_aliases(calls)
    if not schedule:
        return plan_calls(graph, kept, alignment, aliases, uf)
    return best_schedule(graph, kept, lambda order: plan_calls(graph, order, alignment, aliases, uf),
                         key=lambda t: uf.find(id(t)))


# ---------------------------------------------------------------------------------------------- checker


class PlanError(EdgePruneError):
    """A memory plan lets two live buffers overlap illegally."""


def _spans(program, rootof) -> tuple[dict[int, list], dict[int, object]]:
    """id(root buffer) -> [first call, last call, root] (graph inputs from -1, outputs to len(calls)), and
    id(tensor or scratch) -> its root."""
    from edgeprune.ir import Tensor

    root: dict[int, object] = {}
    span: dict[int, list] = {}

    def use(obj, i: int) -> None:
        r = rootof(obj) if isinstance(obj, Tensor) else obj
        root[id(obj)] = r
        s = span.get(id(r))
        if s is None:
            span[id(r)] = [i, i, r]
        else:
            s[0], s[1] = min(s[0], i), max(s[1], i)

    for t in program.graph.inputs:
        use(t, -1)
    for i, call in enumerate(program.calls):
        for a in call.args:
            if not (isinstance(a, Tensor) and a.is_constant):
                use(a, i)
    for t in program.graph.outputs:
        use(t, len(program.calls))
    return span, root


def buffer_spans(program) -> list[dict]:
    """Every arena buffer of a planned program: name, first and last call, offset, bytes, kind."""
    from edgeprune.ir import Tensor

    alias_of = {id(d): s for d, s in program.aliases}

    def rootof(t):
        while id(t) in alias_of:
            t = alias_of[id(t)]
        return t

    span, _ = _spans(program, rootof)
    n = len(program.calls)
    out = []
    for first, last, obj in span.values():
        out.append({"name": obj.name, "first": max(first, 0), "last": min(last, max(n - 1, 0)),
                    "offset": program.offsets.get(id(obj), 0), "nbytes": obj.nbytes,
                    "kind": "tensor" if isinstance(obj, Tensor) else "scratch"})
    return out


def check_plan(program, alignment: int = 16) -> None:
    """Proves the program's plan: every arena buffer inside the arena and aligned, aliases share bytes, and
    no two buffers live at the same call overlap unless the call declares that in-place pair at a legal lag.

    Lifetimes are re-derived here from the calls, independently of the planner.
    """
    from edgeprune.ir import Tensor

    graph, calls = program.graph, program.calls
    for dst, src in program.aliases:
        if program.offsets.get(id(dst)) != program.offsets.get(id(src)):
            raise PlanError(f"alias {dst.name} of {src.name} does not share its offset")
    alias_of = {id(d): s for d, s in program.aliases}

    def rootof(t):
        seen = 0
        while id(t) in alias_of and seen < 1000:
            t, seen = alias_of[id(t)], seen + 1
        return t

    span, root = _spans(program, rootof)
    for _first, _last, obj in span.values():
        off = program.offsets.get(id(obj))
        if off is None:
            raise PlanError(f"{obj.name}: no arena offset")
        if off % alignment or off < 0 or off + obj.nbytes > program.arena_bytes:
            raise PlanError(f"{obj.name}: offset {off}+{obj.nbytes} outside the arena {program.arena_bytes} "
                            f"or not {alignment}-aligned")
    graph_out = {id(rootof(t)) for t in graph.outputs}
    legal: dict[tuple[int, int, int], int] = {}  # (call, id out, id in) -> lag
    for i, call in enumerate(calls):
        if call.inplace_lag_bytes is None:
            continue
        produced = {id(t) for t in call.op.outputs}
        outs = [a for a in call.args if isinstance(a, Tensor) and id(a) in produced and not a.is_constant]
        if len(outs) != 1:
            continue
        out = root[id(outs[0])]
        if span[id(out)][0] != i:
            continue
        for j in call.inplace_inputs:
            a = call.args[j]
            if isinstance(a, Tensor) and a.is_constant:
                continue
            inp = root[id(a)]
            if inp is out or span[id(inp)][1] != i or id(inp) in graph_out:
                continue
            if any(root.get(id(b)) is inp and k not in call.inplace_inputs for k, b in enumerate(call.args)
                   if not (isinstance(b, Tensor) and b.is_constant)):
                continue
            legal[(i, id(out), id(inp))] = max(0, int(call.inplace_lag_bytes))
    items = sorted(span.values(), key=lambda s: s[0])
    for x in range(len(items)):
        f1, l1, a = items[x]
        oa = program.offsets[id(a)]
        for y in range(x + 1, len(items)):
            f2, l2, b = items[y]
            if f2 > l1:
                break
            ob = program.offsets[id(b)]
            if a.nbytes == 0 or b.nbytes == 0 or oa + a.nbytes <= ob or ob + b.nbytes <= oa:
                continue
            ok = False
            for out, inp, o_out, o_in in ((a, b, oa, ob), (b, a, ob, oa)):
                lag = legal.get((span[id(out)][0], id(out), id(inp)))
                if lag is not None and o_out <= o_in - lag:
                    ok = True
            if not ok:
                raise PlanError(f"{a.name} [{oa}, {oa + a.nbytes}) live {f1}..{l1} overlaps {b.name} "
                                f"[{ob}, {ob + b.nbytes}) live {f2}..{l2}")
