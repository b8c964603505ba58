"""The IR cost model: MACs and weight density of block-sparse layers, and the latency estimate that counts
what the sparse kernels skip on targets that have them."""

from __future__ import annotations

import numpy as np
import pytest

from edgeprune.analysis.cost import latency_ms, layer_costs, totals
from edgeprune.prune.sparsity import sparsify_graph
from edgeprune.targets import load_profile
from edgeprune.testing.gemm_layers import gemm_graph


def _gemm_layers(graph):
    return [c for c in layer_costs(graph) if c.op in ("CONV_2D", "FULLY_CONNECTED")]


def test_density_and_nonzero_macs():
    graph = gemm_graph()
    dense = totals(layer_costs(graph))
    assert dense["nonzero_macs"] <= dense["macs"]
    rows = sparsify_graph(graph, 0.5, "2x4", min_depth=1)
    sparse_layers = {r["op"]: r["density"] for r in rows}
    for c in _gemm_layers(graph):
        w = graph.ops[c.index].inputs[1].data
        assert c.density == pytest.approx(np.count_nonzero(w) / w.size)
        if c.index in sparse_layers:
            assert c.density == pytest.approx(sparse_layers[c.index]) and c.density < 0.6
        assert c.nonzero_macs == round(c.macs * c.density)
    sparse = totals(layer_costs(graph))
    assert sparse["macs"] == dense["macs"] and sparse["nonzero_macs"] < 0.55 * dense["nonzero_macs"]


def test_latency_counts_sparse_kernels_only_where_they_exist():
    graph = gemm_graph()
    m7, host = load_profile("cortex-m7"), load_profile("host")
    before = latency_ms(layer_costs(graph), m7), latency_ms(layer_costs(graph), host)
    sparsify_graph(graph, 0.75, "2x4", min_depth=1)
    after = latency_ms(layer_costs(graph), m7), latency_ms(layer_costs(graph), host)
    assert after[0] < 0.8 * before[0]  # the DSP targets run the blocks that are left
    assert after[1] == pytest.approx(before[1])  # the host runs dense kernels: no change


def test_latency_uses_the_targets_block_shape():
    """The NEON kernels skip 8x4 blocks: 2x4-pruned weights leave few of them empty, so the rpi4 estimate only
    drops for the 8x4 pattern, while the DSP estimate drops for both."""
    rpi4, m7 = load_profile("rpi4"), load_profile("cortex-m7")
    dense = gemm_graph()
    base = latency_ms(layer_costs(dense), rpi4), latency_ms(layer_costs(dense), m7)
    for pattern, rpi4_drops in (("2x4", False), ("8x4", True)):
        graph = gemm_graph()
        sparsify_graph(graph, 0.5, pattern, min_depth=1)
        costs = layer_costs(graph)
        for c in _gemm_layers(graph):
            assert c.block_density[8] >= c.block_density[2] >= c.density - 1e-9
        assert (latency_ms(costs, rpi4) < 0.85 * base[0]) == rpi4_drops
        assert latency_ms(costs, m7) < 0.85 * base[1]
