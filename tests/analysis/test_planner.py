"""The arena planner: no two buffers alive at the same time overlap, and it is as small as greedy-by-size gets."""

import itertools
import random

from edgeprune.analysis.planner import Buffer, greedy_by_size


def _check_no_overlap(buffers, alignment):
    for a, b in itertools.combinations(buffers, 2):
        alive_together = a.first <= b.last and b.first <= a.last
        apart = a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset
        assert not alive_together or apart, (a, b)
    for b in buffers:
        assert b.offset % alignment == 0


def test_chain_reuses_memory():
    # A chain of layers: only neighbours are alive together, so two slots suffice.
    bufs = [Buffer(i, f"t{i}", 1000, i, i + 1) for i in range(6)]
    arena = greedy_by_size(bufs, 16)
    _check_no_overlap(bufs, 16)
    assert arena == 2 * 1008


def test_random_lifetimes():
    rng = random.Random(0)
    for _ in range(200):
        bufs = []
        for i in range(rng.randint(1, 12)):
            first = rng.randint(0, 10)
            bufs.append(Buffer(i, f"t{i}", rng.randint(1, 5000), first, first + rng.randint(0, 4)))
        arena = greedy_by_size(bufs, 16)
        _check_no_overlap(bufs, 16)
        # Never worse than giving every buffer its own slot, never better than the busiest moment.
        assert arena <= sum((b.nbytes + 15) // 16 * 16 for b in bufs)
        peak = max(sum(b.nbytes for b in bufs if b.first <= t <= b.last) for t in range(16))
        assert arena >= peak
