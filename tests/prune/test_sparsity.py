"""`edgeprune prune model.tflite --sparsity ...`: block-sparse int8 weights that the sparse DSP kernels run,
bit-exact with LiteRT on the masked model, and one-line errors for bad requests."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import write_tflite
from edgeprune.importers import load_tflite
from edgeprune.lower import lower_graph
from edgeprune.prune.sparsity import block_keep
from edgeprune.runtime.host import run_program
from edgeprune.testing.gemm_layers import gemm_graph
from edgeprune.testing.random_models import random_int8_cnn
from edgeprune.testing.reference import litert_run


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "edgeprune", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=900)


def test_prune_sparsity_runs_sparse_kernels(tmp_path):
    model = write_tflite(random_int8_cnn(3), tmp_path / "cnn.tflite")
    out = tmp_path / "sparse.tflite"
    proc = run("prune", model, "--target", "cortex-m7", "--sparsity", "75%", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.with_suffix(".report.json").read_text())
    layers = report["sparsity"]["layers"]
    assert layers and all(x["density"] <= 0.3 for x in layers)
    graph = load_tflite(out)
    program = lower_graph(graph, {"dsp"})
    assert any("_sparse_dsp" in c.func for c in program.calls)
    x = np.random.default_rng(0).integers(-128, 128, graph.inputs[0].shape).astype(np.int8)
    ours = run_program(program, [x])
    ref = litert_run(out, [x])
    np.testing.assert_array_equal(ours[0].reshape(ref[0].shape), ref[0])


def test_magnitude_order():
    """The weakest blocks go first: scaling one block up keeps it."""
    rows = np.ones((4, 16))
    rows[2:4, 8:12] = 10.0
    keep = block_keep(rows, 0.875, "2x4")
    assert keep.sum() == 8 and keep[2:4, 8:12].all()


@pytest.mark.parametrize("pattern", ["8x4", "2x4"])
def test_partial_blocks_rank_by_their_real_weights(pattern):
    """A classifier's 10 rows in 8-row blocks, or an odd channel count in pairs, leave a last block partly
    padding; with weights 1.5x as large as the rest, its blocks are the strong ones and must be kept."""
    rows_n = 10 if pattern == "8x4" else 5
    height = int(pattern.split("x")[0])
    last = rows_n - rows_n % height
    rows = np.ones((rows_n, 48))
    rows[last:] = 1.5
    keep = block_keep(rows, 0.5, pattern)
    assert keep[last:].all()
    # The K tail: 10 inputs in 4-wide blocks, the last block half padding but with the largest weights.
    rows = np.ones((2, 10))
    rows[:, 8:] = 1.2
    assert block_keep(rows, 0.34, "2x4")[:, 8:].all()


@pytest.mark.parametrize("args,fragment", [(["--sparsity", "150%"], "--sparsity"),
                                           (["--sparsity", "half"], "--sparsity"),
                                           (["--sparsity", "50%", "--sparsity-pattern", "3x3"], "pattern")])
def test_bad_sparsity_requests(tmp_path, args, fragment):
    model = write_tflite(random_int8_cnn(1), tmp_path / "cnn.tflite")
    out = tmp_path / "p.tflite"
    proc = run("prune", model, "--target", "cortex-m7", *args, "-o", out, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()


def test_refit_brings_the_output_back(tmp_path):
    """With calibration inputs the kept weights are refit: the sparse model's output moves towards the dense one."""
    from edgeprune.backends.tflite_writer import graph_to_bytes
    from edgeprune.prune.sparsity import sparsify_graph

    path = write_tflite(random_int8_cnn(5), tmp_path / "cnn.tflite")
    shape = load_tflite(path).inputs[0].shape
    rng = np.random.default_rng(1)
    calibration = [[rng.integers(-128, 128, shape).astype(np.int8)] for _ in range(24)]
    dense = np.stack([litert_run(path, c)[0].astype(np.float64) for c in calibration])

    def error(refit):
        graph = load_tflite(path)
        sparsify_graph(graph, 0.5, "2x4", min_depth=1, calibration=calibration if refit else None)
        model = graph_to_bytes(graph)
        out = np.stack([litert_run(model, c)[0].astype(np.float64) for c in calibration])
        return np.linalg.norm(out - dense)

    assert error(refit=True) < 0.8 * error(refit=False)


def test_sparsity_auto_meets_latency_with_the_smallest_share(tmp_path):
    """`--sparsity auto --latency 70%`: no channel is pruned (no MACs budget), the latency estimate (which
    counts what the sparse kernels skip) meets the budget, and a clearly smaller sparsity would not."""
    from edgeprune.pipeline import analyze_for, summary
    from edgeprune.prune.sparsity import sparsify_graph
    from edgeprune.targets import load_profile

    model = write_tflite(gemm_graph(), tmp_path / "gemm.tflite")
    out = tmp_path / "auto.tflite"
    proc = run("prune", model, "--target", "cortex-m7", "--sparsity", "auto", "--latency", "70%", "-o", out,
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.with_suffix(".report.json").read_text())
    chosen = report["sparsity"]["chosen"]
    assert 0.0 < chosen < 0.9 and report["kept_mac_share"] == 1.0
    assert report["budgets"]["latency"]["met"]
    assert report["pruned"]["macs"] == report["dense"]["macs"] > report["pruned"]["nonzero_macs"]
    profile = load_profile("cortex-m7")
    dense = summary(analyze_for(load_tflite(model), model, profile), profile)["latency_ms"]
    less = load_tflite(model)
    sparsify_graph(less, max(0.0, chosen - 0.1), "2x4")
    assert summary(analyze_for(less, None, profile), profile)["latency_ms"] > 0.7 * dense


def test_sparsity_auto_impossible_latency(tmp_path):
    """A latency block sparsity alone cannot reach names the budget in one line, exit 2, no output."""
    model = write_tflite(gemm_graph(), tmp_path / "gemm.tflite")
    out = tmp_path / "p.tflite"
    proc = run("prune", model, "--target", "cortex-m7", "--sparsity", "auto", "--latency", "5%", "-o", out,
               cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "--latency" in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()
