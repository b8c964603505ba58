"""The command line as a user drives it: JSON keys, exit codes, one-line errors, no half-written output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from edgeprune.testing.single_op import qparams, single_op, tensor

TARGETS = {"cortex-m4", "cortex-m7", "cortex-m55", "rpi4", "rpi5", "host"}


def edgeprune(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "edgeprune", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def conv_model(tmp_path, cin=3, cout=8, size=10, k=3):
    rng = np.random.default_rng(1)
    x = tensor("x", (1, size, size, cin), "int8", qparams(0.05, -5))
    w = tensor("w", (cout, k, k, cin), "int8", qparams(rng.uniform(0.005, 0.02, cout), np.zeros(cout), axis=0),
               data=rng.integers(-127, 128, (cout, k, k, cin)))
    b = tensor("b", (cout,), "int32", data=rng.integers(-500, 500, cout))
    y = tensor("y", (1, size, size, cout), "int8", qparams(0.1, 3))
    _, fb = single_op("CONV_2D", [x, w, b], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                    "dilation_w_factor": 1, "dilation_h_factor": 1,
                                                    "fused_activation": "RELU"})
    path = tmp_path / "conv.tflite"
    path.write_bytes(fb)
    return path


def test_targets_lists_every_profile(tmp_path):
    proc = edgeprune("targets", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = {p["name"] for p in json.loads(proc.stdout)}
    assert TARGETS <= names
    human = edgeprune("targets", cwd=tmp_path)
    assert human.returncode == 0 and "cortex-m55" in human.stdout


def test_inspect_json_keys_and_macs(tmp_path):
    model = conv_model(tmp_path)
    proc = edgeprune("inspect", model, "--target", "cortex-m4", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for key in ("macs", "flops", "params", "weight_bytes", "peak_ram_bytes", "flash_bytes", "fits", "layers"):
        assert key in report
    assert report["macs"] == 10 * 10 * 8 * 3 * 3 * 3  # output pixels x out channels x kernel volume
    assert report["params"] == 8 * 3 * 3 * 3 + 8
    # Input and output are both alive during the conv, plus the scratch of the DSP conv kernel cortex-m4 gets
    # (ep_conv2d_s8_dsp: 5 * 32 + 16 * 4 bytes for K = 27, 8 channels); the output may overlap the dying input
    # up to the kernel's in-place lag, so the arena lies between those bounds (16-byte aligned).
    assert 800 + 224 <= report["peak_ram_bytes"] <= 304 + 800 + 224
    assert report["fits"] is True
    assert len(report["layers"]) == 1 and report["layers"][0]["op"] == "CONV_2D"


def test_build_writes_folder_and_report(tmp_path):
    model = conv_model(tmp_path)
    out = tmp_path / "out"
    proc = edgeprune("build", model, "--target", "cortex-m7", "-o", out, "--name", "net", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for rel in ("include/net.h", "src/net.c", "src/net_weights.c", "CMakeLists.txt", "Makefile", "report.json",
                "model.tflite", "runtime/include/edgeprune/runtime.h"):
        assert (out / rel).is_file(), rel
    report = json.loads((out / "report.json").read_text())
    assert report["macs"] == 10 * 10 * 8 * 27 and report["target"] == "cortex-m7"
    # Rebuilding replaces the folder.
    again = edgeprune("build", model, "--target", "cortex-m4", "-o", out, "--name", "net", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "report.json").read_text())["target"] == "cortex-m4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv.tflite", "out"]


def test_verify_on_host_is_bit_exact(tmp_path):
    model = conv_model(tmp_path)
    out = tmp_path / "out"
    assert edgeprune("build", model, "--target", "host", "-o", out, cwd=tmp_path).returncode == 0
    proc = edgeprune("verify", out, "--inputs", "3", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["bit_exact"] is True and result["inputs_tested"] == 3 and result["max_abs_diff"] == 0


def test_unknown_target(tmp_path):
    model = conv_model(tmp_path)
    proc = edgeprune("build", model, "--target", "cortex-m99", "-o", tmp_path / "out", cwd=tmp_path)
    assert_one_line_error(proc, "cortex-m99")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv,fragments", [
    (["--target", "cortex-m7", "--threads", "2"], ("--threads 2", "cortex-m7", "bare-metal", "Linux target")),
    (["--target", "rpi4", "--threads", "0"], ("--threads", "at least 1")),
    (["--target", "rpi4", "--threads", "-3"], ("--threads", "at least 1")),
    (["--target", "rpi4", "--threads", "65"], ("--threads 65", "at most 64")),
])
def test_build_threads_rejected(tmp_path, argv, fragments):
    model = conv_model(tmp_path)
    proc = edgeprune("build", model, *argv, "-o", tmp_path / "out", cwd=tmp_path)
    assert_one_line_error(proc, *fragments)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_build_threads_header_and_report(tmp_path):
    model = conv_model(tmp_path, size=12)
    proc = edgeprune("build", model, "--target", "rpi4", "--threads", "3", "-o", tmp_path / "out", "--json",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    one = json.loads(edgeprune("build", model, "--target", "rpi4", "-o", tmp_path / "one", "--json",
                               cwd=tmp_path).stdout)
    assert report["threads"] == 3 and report["split_calls"] == 1 and one["threads"] == 1
    # Three scratch regions instead of one: the arena (peak RAM) grows.
    assert report["peak_ram_bytes"] == report["arena_bytes"] > one["arena_bytes"]
    header = next((tmp_path / "out" / "include").glob("*.h")).read_text()
    assert "_THREADS 3" in header and "-pthread" in header and "worker threads" in header


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_bad_model_file(tmp_path, damage):
    good = conv_model(tmp_path).read_bytes()
    bad = tmp_path / "bad.tflite"
    bad.write_bytes({"truncate": good[: len(good) // 2], "garbage": os.urandom(300), "empty": b""}[damage])
    proc = edgeprune("build", bad, "--target", "cortex-m7", "-o", tmp_path / "out", cwd=tmp_path)
    assert_one_line_error(proc, "bad.tflite")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unsupported_op_names_op_and_index(tmp_path):
    x = tensor("x", (1, 8), "float32")
    y = tensor("y", (1, 8), "float32")
    _, fb = single_op("RELU", [x], [y])
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    m = schema.ModelT.InitFromPackedBuf(fb, 0)
    m.operatorCodes[0].builtinCode = m.operatorCodes[0].deprecatedBuiltinCode = schema.BuiltinOperator.FLOOR
    b = flatbuffers.Builder(256)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    path = tmp_path / "floor.tflite"
    path.write_bytes(bytes(b.Output()))
    proc = edgeprune("build", path, "--target", "cortex-m7", "-o", tmp_path / "out", cwd=tmp_path)
    assert_one_line_error(proc, "FLOOR", "operator 0", "floor.tflite")
    assert not (tmp_path / "out").exists()


def test_missing_cross_toolchain_names_package(tmp_path):
    model = conv_model(tmp_path)
    out = tmp_path / "out"
    assert edgeprune("build", model, "--target", "cortex-m7", "-o", out, cwd=tmp_path).returncode == 0
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"))
    (tmp_path / "empty-bin").mkdir()
    proc = edgeprune("verify", out, "--qemu", cwd=tmp_path, env=env)
    assert_one_line_error(proc, "gcc-arm-none-eabi")


def test_verify_rejects_a_folder_that_is_not_a_build(tmp_path):
    proc = edgeprune("verify", tmp_path, cwd=tmp_path)
    assert_one_line_error(proc, "report.json")


@pytest.mark.parametrize("dtype,kind", [("int16", "ADD"), ("uint8", "LOGISTIC")])
def test_unsupported_tensor_types_are_refused(tmp_path, dtype, kind):
    x = tensor("x", (1, 8), dtype, qparams(0.1, 0))
    y = tensor("y", (1, 8), dtype, qparams(0.1, 0))
    _, fb = single_op(kind, [x, x] if kind == "ADD" else [x], [y],
                      {"fused_activation": "NONE"} if kind == "ADD" else {})
    path = tmp_path / f"{dtype}.tflite"
    path.write_bytes(fb)
    proc = edgeprune("build", path, "--target", "cortex-m4", "-o", tmp_path / "out", cwd=tmp_path)
    assert_one_line_error(proc, f"{dtype}.tflite", kind, "operator 0", dtype)
    assert not (tmp_path / "out").exists()


def test_missing_qemu_names_package(tmp_path):
    import shutil

    model = conv_model(tmp_path)
    out = tmp_path / "out"
    assert edgeprune("build", model, "--target", "cortex-m7", "-o", out, cwd=tmp_path).returncode == 0
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Everything the cross build needs, but no QEMU.
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-size", "arm-none-eabi-nm",
                 "arm-none-eabi-objcopy", "arm-none-eabi-as", "arm-none-eabi-ld", "cc", "gcc", "as", "ld"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = dict(os.environ, PATH=str(bin_dir))
    proc = edgeprune("verify", out, "--qemu", cwd=tmp_path, env=env)
    assert_one_line_error(proc, "qemu-system-arm")


def test_build_flash_budget_takes_the_compact_layout(tmp_path):
    """`build --flash` below what the fast DSP layout needs but above the compact one: no channel is pruned,
    the build takes the int8 (compact) weight layout, and the report's flash is within the given budget."""
    from edgeprune.backends.tflite_writer import write_tflite
    from edgeprune.testing.gemm_layers import gemm_graph

    model = write_tflite(gemm_graph(), tmp_path / "gemm.tflite")
    fast = json.loads(edgeprune("build", model, "--target", "cortex-m7", "-o", tmp_path / "fast", "--json",
                          cwd=tmp_path).stdout)
    assert fast["weight_layout"] == "fast"
    budget = fast["flash_bytes"] - 4096
    proc = edgeprune("build", model, "--target", "cortex-m7", "--flash", budget, "-o", tmp_path / "small", "--json",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["weight_layout"] == "compact" and report["pruning"]["kept_mac_share"] == 1.0
    assert report["flash_bytes"] <= budget == report["flash_budget_bytes"] and report["macs"] == fast["macs"]
    text = (tmp_path / "small" / "src" / f"{report['name']}.c").read_text()
    assert "_sparse8_dsp" in text
