"""bench/mcu.py: int8 model selection, ratios to the TFLM baseline, the Markdown table, one real QEMU run."""

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_mcu", REPO / "bench" / "mcu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_only_int8_models():
    bench = _bench()
    assert bench.is_int8_model(REPO / "examples" / "cnn_int8.tflite")
    assert not bench.is_int8_model(REPO / "examples" / "cnn_float.tflite")


def test_ratios_and_table():
    bench = _bench()
    baselines = {"m.tflite": {"macs": 1000, "cortex-m7": {"cmsis_nn": {
        "invoke_instructions": 4000, "arena_bytes": 400, "runtime_flash_int8_only_bytes": 20000}}}}
    row = {"model": "m.tflite", "target": "cortex-m7", "bit_exact": True, "macs": 1000, "instructions": 2000,
           "instructions_per_mac": 2.0, "arena_bytes": 300, "runtime_flash_bytes": 8000, "weight_bytes": 500}
    row = bench.with_ratios(row, baselines, model_file_bytes=1000)
    assert row["ratio"] == {"instructions": 0.5, "instructions_per_mac": 0.5, "arena_bytes": 0.75,
                            "runtime_flash_bytes": 0.4, "weight_bytes": 0.5}
    other = bench.with_ratios(dict(row, model="x.tflite"), baselines, 1000)
    assert set(other["ratio"].values()) == {None}
    table = bench.markdown([row, other])
    assert "| m | cortex-m7 | yes | 2,000 | 0.50x | 2.00 | 0.50x | 300 | 0.75x | 8,000 | 0.40x | 500 | 0.50x |" in table


def test_one_real_run(tmp_path):
    bench = _bench()
    out = tmp_path / "r" / "mcu"
    assert bench.main(["--models", str(REPO / "examples" / "cnn_int8.tflite"), "--targets", "cortex-m7",
                       "--out", str(out)]) == 0
    data = json.loads(out.with_suffix(".json").read_text())
    (row,) = data["rows"]
    assert row["bit_exact"] and row["instructions"] > 0 and row["layers"]
    assert "cnn_int8" in out.with_suffix(".md").read_text()
