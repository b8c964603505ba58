"""Per-layer profiles from `verify --qemu`: one count per kernel call, and an undistorted whole-inference count."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import edgeprune.verify as verify_mod
from edgeprune.pipeline import build
from edgeprune.targets import load_profile


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("profile") / "out"
    build(Path(__file__).resolve().parents[2] / "examples" / "cnn_int8.tflite", load_profile("cortex-m7"), out)
    return out


def test_profiled_invoke_is_only_compiled_on_request(built):
    src = next((built / "src").glob("*.c")).read_text()
    assert src.count("_invoke_profiled(void) {") == 1
    head = src[: src.index("_invoke_profiled(void) {")]
    assert head.rindex("#ifdef EP_PROFILE_LAYERS") > head.rindex("_invoke(void) {")


def test_layers_under_qemu(built, monkeypatch):
    r = verify_mod.verify(built, inputs=2, qemu=True)
    assert r["bit_exact"]
    src = next((built / "src").glob("*.c")).read_text()
    n_calls = len(re.findall(r"^/\* call \d+: ", src, re.MULTILINE))
    layers = r["layers"]
    assert len(layers) == n_calls > 3
    assert [x["index"] for x in layers] == list(range(n_calls))
    for x in layers:
        assert x["kernel"].startswith("ep_") and x["op"] and x["name"] and x["instructions"] > 0
    # The layers add up to the inference less invoke's own few instructions per call.
    assert 0 <= r["instructions"] - r["layers_instructions"] <= 20 * n_calls
    # The whole-inference count is that of a build without the profiling code.
    monkeypatch.setattr(verify_mod, "PROFILE_DEFINE", "EP_PROFILING_OFF")
    plain = verify_mod.verify(built, inputs=2, qemu=True)
    assert "layers" not in plain
    assert plain["instructions_per_input"] == r["instructions_per_input"]
    assert abs(plain["runtime_flash_bytes"] - r["runtime_flash_bytes"]) <= 32  # section alignment only


def test_cli_verify_json_has_layers(built):
    out = subprocess.run([sys.executable, "-m", "edgeprune", "verify", str(built), "--qemu", "--json", "--inputs", "1"],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    assert {"name", "op", "kernel", "instructions"} <= set(result["layers"][0])
