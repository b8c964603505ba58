"""Smoke run of bench/sparse.py's per-layer part on one small layer under QEMU (Cortex-M7): the forced sparse,
dense and cost-model builds agree bit-exactly with LiteRT, and the JSON rows, Markdown and plot come out."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from edgeprune.testing.gemm_layers import qemu_available

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_layers_smoke(tmp_path, monkeypatch):
    if not qemu_available("cortex-m7"):
        pytest.skip("toolchain or QEMU for cortex-m7 not installed")
    monkeypatch.syspath_prepend(str(BENCH))
    sys.modules.pop("sparse", None)
    import sparse

    monkeypatch.setattr(sparse, "SHAPES", [("conv1x1 32->16 4x4", "CONV_2D",
                                            {"h": 4, "w": 4, "c": 32, "oc": 16, "kh": 1, "kw": 1})])
    rows = sparse.bench_layers("cortex-m7", ("2x4",), (0.75,), tmp_path, log=lambda *_: None)
    assert len(rows) == 1
    row = rows[0]
    assert row["density"] == pytest.approx(0.25, abs=0.01) and row["auto_picks_sparse"]
    assert 0 < row["sparse_instructions"] < row["dense_instructions"]
    assert row["sparse_bytes"] < 0.3 * row["dense_dsp_bytes"]
    result = {"target": "cortex-m7", "layers": rows}
    assert "| conv1x1 32->16 4x4 | 2x4 |" in sparse.markdown(result)
    sparse.plot(result, tmp_path / "sparse.png")
    assert (tmp_path / "sparse.png").stat().st_size > 1000


def test_aarch64_layers_smoke(tmp_path, monkeypatch):
    """bench/sparse.py --target aarch64 on one small layer (rpi5): forced sparse, dense and auto builds bit-exact
    against LiteRT, rows, Markdown and plot."""
    if not qemu_available("rpi5"):
        pytest.skip("toolchain or QEMU for rpi5 not installed")
    monkeypatch.syspath_prepend(str(BENCH))
    sys.modules.pop("sparse", None)
    import sparse

    monkeypatch.setattr(sparse, "SHAPES", [("conv1x1 64->32 6x6", "CONV_2D",
                                            {"h": 6, "w": 6, "c": 64, "oc": 32, "kh": 1, "kw": 1})])
    rows = sparse.bench_layers_aarch64("rpi5", {"8x4": (0.75,)}, tmp_path, log=lambda *_: None)
    assert len(rows) == 1
    row = rows[0]
    assert row["density"] == pytest.approx(0.25, abs=0.01) and row["auto_picks_sparse"]
    assert row["sparse_kernel"] == "ep_conv2d_s8_sparse_sdot" and row["dense_kernel"] == "ep_conv2d_s8_sdot"
    assert 0 < row["sparse_instructions"] < row["dense_instructions"]
    assert row["sparse_bytes"] < 0.3 * row["dense_int8_bytes"]
    result = {"target": "aarch64", "layers": rows, "kws": {}}
    assert "| rpi5 | conv1x1 64->32 6x6 | 8x4 |" in sparse.markdown_aarch64(result)
    sparse.plot_aarch64(result, tmp_path / "sparse.png")
    assert (tmp_path / "sparse.png").stat().st_size > 1000
