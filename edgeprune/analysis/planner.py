"""Static memory planning: every activation and scratch buffer gets an offset in one arena.

Greedy by size over buffer lifetimes, as TensorFlow Lite Micro's GreedyMemoryPlanner: the largest buffer
is placed first, each buffer at the lowest offset that does not overlap a placed buffer alive at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(eq=False)
class Buffer:
    key: int  # id() of the tensor or scratch it stands for
    name: str
    nbytes: int
    first: int  # first call index that uses it
    last: int  # last call index that uses it
    offset: int = -1


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def greedy_by_size(buffers: list[Buffer], alignment: int = 16) -> int:
    """Assigns `offset` to each buffer; returns the arena size."""
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


def program_buffers(graph, calls) -> list[Buffer]:
    """The arena buffers of a lowered program with their lifetimes (in call indices)."""
    from edgeprune.ir import Tensor

    spans: dict[int, Buffer] = {}
    last_call = max(len(calls) - 1, 0)
    for t in graph.inputs:
        spans[id(t)] = Buffer(id(t), t.name, t.nbytes, 0, 0)
    for i, call in enumerate(calls):
        for a in call.args:
            if isinstance(a, Tensor) and a.is_constant:
                continue
            name = a.name
            b = spans.get(id(a))
            if b is None:
                spans[id(a)] = Buffer(id(a), name, a.nbytes, i, i)
            else:
                b.last = max(b.last, i)
    for t in graph.outputs:
        if id(t) in spans:
            spans[id(t)].last = last_call
    return list(spans.values())


def plan_program(graph, calls, alignment: int = 16) -> tuple[dict[int, int], int]:
    buffers = program_buffers(graph, calls)
    arena = greedy_by_size(buffers, alignment)
    return {b.key: b.offset for b in buffers}, arena
