"""One-shot pruning: well-formed results that LiteRT runs, MACs at the requested fraction, coupled channels
pruned consistently, and least-squares reconstruction closer to the dense model than plain pruning."""

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.importers import load_tflite
from edgeprune.prune.oneshot import _Groups, prune_oneshot
from edgeprune.testing.ptq import quantize_graph
from edgeprune.testing.random_models import CnnBuilder, calibration_inputs, normalize_weights, random_cnn
from edgeprune.testing.reference import litert_run


def _residual_chain(seed: int = 0):
    """conv -> conv -> conv, + residual ADD, conv -> MEAN -> FC -> SOFTMAX."""
    b = CnnBuilder(np.random.default_rng(seed), name="resnet_tiny")
    x = b.input((1, 12, 12, 3))
    c0 = b.conv(x, 16, 3, 1, "SAME", 1, "RELU")
    c1 = b.conv(c0, 16, 3, 1, "SAME", 1, "RELU")
    c2 = b.conv(c1, 16, 3, 1, "SAME", 1, "NONE")
    r = b.add(c0, c2, "RELU")
    c3 = b.conv(r, 16, 3, 2, "SAME", 1, "RELU")
    m = b.mean_hw(c3)
    y = b.softmax(b.fc(b.reshape(m, (1, 16)), 6, "NONE"))
    g = b.graph([y])
    return normalize_weights(g, calibration_inputs(g, 8, seed))


def _well_formed(graph, sample, tmp_path):
    path = tmp_path / "pruned.tflite"
    path.write_bytes(graph_to_bytes(graph))
    back = load_tflite(path)
    assert [op.kind for op in back.ops] == [op.kind for op in graph.ops]
    out = litert_run(path, sample)[0]
    assert np.all(np.isfinite(out.astype(np.float64)))


def test_residual_chain_groups_and_reconstruction(tmp_path):
    g = _residual_chain()
    cal = calibration_inputs(g, 48, 7)
    groups = _Groups(g).groups
    coupled = next(gr for gr in groups if len(gr["sources"]) == 2)
    assert sorted(op.index for op in coupled["sources"]) == [0, 2]  # c0 and c2 share the residual stream

    pruned, rep = prune_oneshot(g, cal, 0.5, method="l2+lsq")
    _well_formed(pruned, cal[0], tmp_path)
    assert abs(rep["macs_fraction"] - 0.5) <= 0.05, rep["macs_fraction"]
    assert pruned.ops[0].outputs[0].shape[-1] == pruned.ops[2].outputs[0].shape[-1]  # pruned consistently
    ag = rep["agreement"]
    print("residual chain", rep["macs_fraction"], ag)
    assert ag["reconstructed"]["rel_l2"] < ag["plain"]["rel_l2"]
    assert ag["reconstructed"]["top1"] >= ag["plain"]["top1"]
    assert rep["calibration"] == {"fit": 36, "heldout": 12}
    assert {row["op"] for row in rep["layers"]} == {0, 1, 2, 4, 7}


@pytest.mark.parametrize("seed", [1, 4])
def test_random_float_cnn(seed, tmp_path):
    g = random_cnn(seed)
    cal = calibration_inputs(g, 48, seed + 100)
    pruned, rep = prune_oneshot(g, cal, 0.5, method="act+lsq")
    _well_formed(pruned, cal[0], tmp_path)
    assert abs(rep["macs_fraction"] - 0.5) <= 0.05, rep["macs_fraction"]
    ag = rep["agreement"]
    print("random_cnn", seed, rep["macs_fraction"], ag)
    assert ag["reconstructed"]["rel_l2"] < ag["plain"]["rel_l2"]


@pytest.mark.parametrize("seed", [1, 4])
def test_random_int8_cnn(seed, tmp_path):
    fg = random_cnn(seed)
    cal = calibration_inputs(fg, 48, seed + 100)
    g = quantize_graph(fg, cal[:16])  # like random_int8_cnn, calibrated on float samples
    pruned, rep = prune_oneshot(g, cal, 0.5, method="act+lsq")
    conv = next(op for op in pruned.ops if op.kind == "CONV_2D")
    assert pruned.inputs[0].dtype == "int8" and conv.inputs[1].dtype == "int8"
    _well_formed(pruned, [np.zeros(pruned.inputs[0].shape, np.int8)], tmp_path)
    assert abs(rep["macs_fraction"] - 0.5) <= 0.05, rep["macs_fraction"]
    ag = rep["agreement"]
    print("random_int8_cnn", seed, rep["macs_fraction"], ag)
    assert ag["reconstructed"]["rel_l2"] < ag["plain"]["rel_l2"]


def test_int8_residual_chain(tmp_path):
    fg = _residual_chain(1)
    cal = calibration_inputs(fg, 48, 3)
    g = quantize_graph(fg, cal[:16])
    pruned, rep = prune_oneshot(g, cal, 0.6, method="l2+lsq")
    _well_formed(pruned, [np.zeros(pruned.inputs[0].shape, np.int8)], tmp_path)
    assert abs(rep["macs_fraction"] - 0.6) <= 0.05
    assert rep["agreement"]["reconstructed"]["rel_l2"] < rep["agreement"]["plain"]["rel_l2"]
    w = pruned.ops[1].inputs[1]
    assert w.quant.scale.size == w.shape[0]  # per-channel quantization kept in step with the channels


def test_explicit_channel_counts(tmp_path):
    g = _residual_chain()
    cal = calibration_inputs(g, 8, 1)
    pruned, rep = prune_oneshot(g, cal, {1: 5, 0: 9}, method="l2")
    _well_formed(pruned, cal[0], tmp_path)
    assert pruned.ops[1].outputs[0].shape[-1] == 5
    assert pruned.ops[0].outputs[0].shape[-1] == 9 == pruned.ops[2].outputs[0].shape[-1]
    assert pruned.ops[4].outputs[0].shape[-1] == 16  # untouched
    assert "reconstructed" not in rep["agreement"]
    with pytest.raises(ValueError, match="op 8"):  # the logits FC feeds SOFTMAX -> the graph output
        prune_oneshot(g, cal, {8: 3})
    with pytest.raises(ValueError, match="op 3"):
        prune_oneshot(g, cal, {3: 3})  # the ADD is no CONV_2D / FULLY_CONNECTED


def test_dense_graph_is_not_modified():
    g = _residual_chain()
    before = [t.shape for t in g.tensors]
    w = g.ops[1].inputs[1].data.copy()
    prune_oneshot(g, calibration_inputs(g, 8, 2), 0.4)
    assert [t.shape for t in g.tensors] == before
    assert np.array_equal(g.ops[1].inputs[1].data, w)
