"""Block-sparse Helium CONV_2D 1x1 (edgeprune/lower/isa/mve_sparse.py, csrc/kernels/conv2d_1x1_s8_sparse_mve.cc):
layers pruned in 2 x 4 blocks run under QEMU on the Cortex-M55, bit-exact with LiteRT on the same weights;
the cost model keeps the dense Helium kernel where few blocks are zero."""

from __future__ import annotations

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.lower import lower_graph
from edgeprune.lower.isa.mve_sparse import pack_chunks
from edgeprune.prune.sparsity import sparsify_graph
from edgeprune.testing.gemm_layers import layers_graph, qemu_available, random_layer

MVE = frozenset({"dsp", "mve"})


def _layer(rng, sparsity, tag, c=None, oc=None):
    cfg = {"n": int(rng.choice([1, 2])), "h": int(rng.integers(2, 7)), "w": int(rng.integers(1, 7)),
           "c": c or 4 * int(rng.integers(4, 20)), "oc": oc or int(rng.integers(3, 24)), "kh": 1, "kw": 1,
           "sh": int(rng.integers(1, 3)), "sw": int(rng.integers(1, 3)), "dh": 1, "dw": 1, "pad": "VALID",
           "per_channel": bool(rng.integers(0, 2)), "bias": bool(rng.random() < 0.85)}
    layer = random_layer(rng, "CONV_2D", cfg, tag)
    sparsify_graph(layers_graph([layer]), sparsity, "2x4", min_depth=1)
    return layer


def test_pack_chunks_layout():
    w = np.zeros((3, 24), dtype=np.int8)
    w[0, 4:8] = [1, 2, 3, 4]  # pair 0, group 1
    w[1, 20] = 5  # pair 0, group 5
    w[2, 0] = 6  # pair 1, group 0
    weights, stream = pack_chunks(w)
    assert stream.tolist() == [1, 4, 20, 0, 0, 1, 0, 0, 0, 0]
    chunk0 = weights[:32].reshape(2, 4, 4)
    assert chunk0[0, 0].tolist() == [1, 2, 3, 4] and chunk0[1, 1].tolist() == [5, 0, 0, 0]
    assert not chunk0[:, 2:].any()  # padding blocks are zero
    assert weights[32:].reshape(2, 4, 4)[0, 0].tolist() == [6, 0, 0, 0] and weights.size == 64


def test_cost_model_choice():
    rng = np.random.default_rng(3)
    sparse = layers_graph([_layer(rng, 0.75, "a", c=64, oc=32)])
    dense = layers_graph([_layer(rng, 0.05, "b", c=64, oc=32)])
    assert lower_graph(sparse, MVE).calls[0].func == "ep_conv2d_1x1_s8_sparse_mve"
    assert lower_graph(dense, MVE).calls[0].func == "ep_conv2d_1x1_s8_mve"


def test_qemu_m55(tmp_path):
    if not qemu_available("cortex-m55"):
        pytest.skip("toolchain or QEMU for cortex-m55 not installed")
    from edgeprune.lower.isa import mve_sparse
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    rng = np.random.default_rng(55)
    layers = [_layer(rng, s, str(i)) for i, s in enumerate([0.5, 0.75, 0.9, 0.75, 0.6])]
    layers.append(_layer(rng, 0.75, "odd", c=8, oc=5))
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(layers_graph(layers, name="sparse_mve")))
    old, mve_sparse.MODE = mve_sparse.MODE, "sparse"
    try:
        report = build(model, load_profile("cortex-m55"), tmp_path / "out")
    finally:
        mve_sparse.MODE = old
    text = (tmp_path / "out" / "src" / f"{report['name']}.c").read_text()
    assert text.count("ep_conv2d_1x1_s8_sparse_mve(") >= len(layers)
    r = verify(tmp_path / "out", inputs=2, qemu=True)
    assert r["bit_exact"], r
