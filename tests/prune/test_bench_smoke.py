"""Smoke run of bench/pruning.py's pieces on 64 Fashion-MNIST images (skipped without the dataset): the idx
loader, the uniform-L1 bisection, int8 scoring in LiteRT, and the C runtime under QEMU equal to LiteRT."""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
pytest.importorskip("torch_pruning", reason="Torch-Pruning is not installed")
pytest.importorskip("litert_torch", reason="litert-torch is not installed")

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import fashion_mnist as fm  # noqa: E402

if not fm.available():
    pytest.skip(f"Fashion-MNIST is not in {fm.data_dir()} (apt-get install dataset-fashion-mnist)",
                allow_module_level=True)

import pruning  # noqa: E402

from edgeprune.prune.export import export_int8_tflite  # noqa: E402
from edgeprune.targets import load_profile  # noqa: E402
from edgeprune.testing.reference import litert_run  # noqa: E402

torch.set_num_threads(1)
N = 64


def test_idx_files_and_loaders():
    images, labels = fm.load("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    train, val = fm.loaders(batch_size=32, train_limit=N)
    x, y = next(iter(train))
    assert tuple(x.shape) == (32, 1, 28, 28) and y.dtype == torch.int64
    assert len(train.dataset) == N and len(val.dataset) == N // 4
    assert abs(float(x.mean())) < 1.0  # standardized


def test_uniform_l1_bisection_lands_near_the_target():
    profile = load_profile("cortex-m4")
    example = torch.zeros(1, 1, 28, 28)
    model = fm.model(16).eval()
    dense = pruning.torch_macs(model, example, profile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ratio, pruned = pruning.uniform_ratio_for(model, example, profile, 0.5 * dense, round_to=4, iters=8)
    assert 0 < ratio < 0.7
    counts = pruning.channels(pruned)
    assert all(c % 4 == 0 for c in counts.values())
    assert counts["b2.3"] == counts["short.0"]  # the residual add stays coupled
    assert pruning.torch_macs(pruned, example, profile) < dense


def test_int8_scoring_and_c_runtime_agree(tmp_path):
    torch.manual_seed(0)
    model = fm.model(8).eval()
    x, _ = fm.tensors("test", N)
    example = torch.zeros(1, 1, 28, 28)
    tflite = export_int8_tflite(model, example, [x[i : i + 1] for i in range(16)])
    q = pruning.quantize_inputs(tflite, x)
    assert q.dtype == np.int8 and q.shape == (N, 1, 28, 28)
    ref = pruning.litert_outputs(tflite, q)
    assert ref.shape == (N, 10)
    for i in (0, N - 1):  # the batched interpreter gives what reference.litert_run gives
        np.testing.assert_array_equal(ref[i], litert_run(tflite, [q[i]])[0].reshape(-1))
    profile = load_profile("cortex-m4")
    if shutil.which(profile.toolchain.cc) is None or shutil.which(profile.qemu.system) is None:
        pytest.skip("the Cortex-M toolchain or QEMU is not installed")
    ours, measures = pruning.c_outputs(tflite, profile, q, tmp_path, "fmnist")
    np.testing.assert_array_equal(ours, ref)
    assert len(measures["instructions_per_input"]) == N
