"""Whole models through build and verify: on the host, under ASan/UBSan, and under QEMU on every Cortex-M.

The MLPerf Tiny models come from ../shared (skipped when absent); generated CNNs cover the general case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeprune.pipeline import build
from edgeprune.targets import load_profile
from edgeprune.verify import verify

CORTEX_M = ["cortex-m4", "cortex-m7", "cortex-m55"]
BASELINES = Path(__file__).resolve().parents[2].parent / "shared" / "baselines" / "tflm_cmsisnn.json"


def _build(model: Path, target: str, tmp_path: Path) -> Path:
    out = tmp_path / f"out-{target}"
    build(model, load_profile(target), out)
    return out


@pytest.mark.parametrize("target", CORTEX_M)
@pytest.mark.parametrize("model", ["kws_ref_model.tflite", "resnet8_cifar10_int8.tflite"])
def test_mlperf_int8_bit_exact_under_qemu(shared_model, model, target, tmp_path):
    out = _build(shared_model(model), target, tmp_path)
    result = verify(out, inputs=8, qemu=True)
    assert result["bit_exact"] is True, result
    assert result["inputs_tested"] == 8
    assert result["instructions"] > 0 and result["flash_bytes"] > result["weight_bytes"] > 0
    assert result["ram_bytes"] >= result["arena_bytes"]


@pytest.mark.parametrize("model", ["kws_ref_model.tflite", "resnet8_cifar10_int8.tflite"])
def test_mlperf_arena_no_larger_than_tflm(shared_model, model, tmp_path):
    if not BASELINES.is_file():
        pytest.skip(f"{BASELINES} is absent")
    baseline = json.loads(BASELINES.read_text())["models"][model]
    tflm_arena = min(v["reference_kernels"]["arena_bytes"] for k, v in baseline.items() if k.startswith("cortex"))
    report = json.loads((_build(shared_model(model), "cortex-m7", tmp_path) / "report.json").read_text())
    assert report["peak_ram_bytes"] <= tflm_arena
    assert report["macs"] == baseline["macs"]


@pytest.mark.parametrize("model", ["kws_ref_model_float32.tflite", "resnet8_cifar10_float.tflite"])
def test_mlperf_float_within_tolerance(shared_model, model, tmp_path):
    out = _build(shared_model(model), "cortex-m7", tmp_path)
    host = verify(out, inputs=4, qemu=False)
    assert host["max_abs_diff"] <= 1e-4, host
    on_m7 = verify(out, inputs=4, qemu=True)
    assert on_m7["max_abs_diff"] <= 1e-4, on_m7


@pytest.mark.parametrize("seed", range(12))
def test_generated_int8_cnn_bit_exact_on_host(seed, tmp_path):
    from edgeprune.backends.tflite_writer import write_tflite
    from edgeprune.testing.random_models import random_int8_cnn

    model = write_tflite(random_int8_cnn(seed), tmp_path / f"cnn{seed}.tflite")
    out = _build(model, "host", tmp_path)
    result = verify(out, inputs=3, qemu=False)
    assert result["bit_exact"] is True, result


@pytest.mark.parametrize("seed,target", [(100, "cortex-m4"), (101, "cortex-m55"), (102, "cortex-m7")])
def test_generated_int8_cnn_bit_exact_under_qemu(seed, target, tmp_path):
    from edgeprune.backends.tflite_writer import write_tflite
    from edgeprune.testing.random_models import random_int8_cnn

    model = write_tflite(random_int8_cnn(seed), tmp_path / f"cnn{seed}.tflite")
    result = verify(_build(model, target, tmp_path), inputs=2, qemu=True)
    assert result["bit_exact"] is True, result


@pytest.mark.parametrize("seed", [200, 201])
def test_generated_c_is_clean_under_asan_ubsan(seed, tmp_path):
    from edgeprune.backends.tflite_writer import write_tflite
    from edgeprune.testing.random_models import random_int8_cnn

    model = write_tflite(random_int8_cnn(seed), tmp_path / f"cnn{seed}.tflite")
    result = verify(_build(model, "host", tmp_path), inputs=2, qemu=True, sanitize=True)
    assert result["bit_exact"] is True, result


def test_bundled_example_under_asan_ubsan(examples_dir, tmp_path):
    result = verify(_build(examples_dir / "cnn_int8.tflite", "host", tmp_path), inputs=2, qemu=True, sanitize=True)
    assert result["bit_exact"] is True, result


def test_generated_c_builds_with_its_own_makefile_and_cmake(examples_dir, tmp_path):
    import shutil
    import subprocess

    out = _build(examples_dir / "cnn_int8.tflite", "cortex-m4", tmp_path)
    flags = "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    make = subprocess.run(["make", "-s", "CC=arm-none-eabi-gcc", "CXX=arm-none-eabi-g++", "AR=arm-none-eabi-ar",
                           f"TARGET_FLAGS={flags}", "CFLAGS=-Werror", "CXXFLAGS=-Werror"], cwd=out,
                          capture_output=True, text=True)
    assert make.returncode == 0, make.stderr
    assert (out / "build" / "libcnn_int8.a").is_file()
    host = subprocess.run(["make", "-s", "BUILD=build-host", "CFLAGS=-Werror", "CXXFLAGS=-Werror"], cwd=out,
                          capture_output=True, text=True)
    assert host.returncode == 0, host.stderr
    if shutil.which("cmake"):
        cm = subprocess.run(["cmake", "-S", ".", "-B", "cmake-build"], cwd=out, capture_output=True, text=True)
        assert cm.returncode == 0, cm.stderr
        b = subprocess.run(["cmake", "--build", "cmake-build"], cwd=out, capture_output=True, text=True)
        assert b.returncode == 0, b.stderr
