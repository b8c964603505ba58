"""Block-sparse AArch64 NEON GEMM kernels (edgeprune/lower/isa/neon_sparse.py, csrc/kernels/*_sparse_neon.cc).

Layers are pruned in 8x4 blocks (edgeprune/prune/sparsity.py), lowered for the Raspberry Pi 4 (SMLAL, no SDOT) and 5
(SDOT), and run under qemu-aarch64 (-cpu cortex-a72 / cortex-a76) against LiteRT BUILTIN_REF on the same masked
weights (edgeprune.verify). The kernels only build for AArch64: there is no host binding.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.lower import lower_graph
from edgeprune.lower.isa import neon_sparse
from edgeprune.prune.sparsity import block_keep, sparsify_graph
from edgeprune.testing.gemm_layers import layers_graph as _graph
from edgeprune.testing.gemm_layers import random_layer as _layer

RPI4_ISA = frozenset({"neon", "crc"})
RPI5_ISA = frozenset({"neon", "crc", "dotprod", "fp16", "rcpc"})
SPARSE = {"rpi4": {"conv": "ep_conv2d_s8_sparse_neon", "fc": "ep_fully_connected_s8_sparse_neon"},
          "rpi5": {"conv": "ep_conv2d_s8_sparse_sdot", "fc": "ep_fully_connected_s8_sparse_sdot"}}
DENSE = {"rpi4": {"conv": "ep_conv2d_s8_neon", "fc": "ep_fully_connected_s8"},
         "rpi5": {"conv": "ep_conv2d_s8_sdot", "fc": "ep_fully_connected_s8"}}

needs_qemu = pytest.mark.skipif(shutil.which("qemu-aarch64") is None or shutil.which("aarch64-linux-gnu-g++") is None,
                                reason="qemu-aarch64 / aarch64-linux-gnu-g++ not installed")


def _conv(rng, tag, h, w, c, oc, kh=1, kw=1, sh=1, sw=1, dh=1, dw=1, pad="SAME", n=1, **kw_):
    cfg = {"n": n, "h": h, "w": w, "c": c, "oc": oc, "kh": kh, "kw": kw, "sh": sh, "sw": sw, "dh": dh, "dw": dw,
           "pad": pad, "per_channel": bool(rng.integers(0, 2)), "bias": bool(rng.random() < 0.85), **kw_}
    return _layer(rng, "CONV_2D", cfg, tag=tag)


def _fc(rng, tag, batches, depth, units, **kw_):
    cfg = {"batches": batches, "depth": depth, "units": units, "per_channel": bool(rng.integers(0, 2)),
           "bias": bool(rng.random() < 0.85), **kw_}
    return _layer(rng, "FULLY_CONNECTED", cfg, tag=tag)


def _prune(layer, sparsity, pattern="8x4"):
    sparsify_graph(_graph([layer]), sparsity, pattern, min_depth=1)
    return layer


def cases(seed):
    """(layer, kind, expect sparse): 1x1 in place and with a K tail, im2col (padding, strides, dilations, in_c 3),
    FC with and without a K tail and batches; out_c tails (not a multiple of 8), whole 8-channel groups without a
    stored block, and layers the cost model leaves dense."""
    rng = np.random.default_rng([77, seed])
    out = [
        (_prune(_conv(rng, "a", 25, 5, 64, 64, act="RELU"), 0.75), "conv", True),  # KWS pointwise, in place
        (_prune(_conv(rng, "b", 5, 7, 48, 20, sh=2, sw=2), 0.6), "conv", True),  # 1x1 stride 2, out_c tail
        (_prune(_conv(rng, "c", 3, 5, 36, 13, n=2), 0.7), "conv", True),  # 1x1 K tail (im2col rows), batch 2
        (_prune(_conv(rng, "d", 9, 8, 16, 19, 3, 3), 0.75), "conv", True),  # 3x3 SAME, rows read in place
        (_prune(_conv(rng, "e", 8, 9, 12, 24, 3, 3, sh=2, sw=2), 0.8), "conv", True),  # im2col, stride 2
        (_prune(_conv(rng, "f", 7, 7, 3, 16, 3, 3, pad="VALID"), 0.5), "conv", True),  # in_c 3, K 27
        (_prune(_conv(rng, "g", 7, 6, 20, 10, 3, 2, dh=2, dw=2, n=2), 0.7), "conv", True),  # dilations
        (_prune(_fc(rng, "h", 1, 256, 40), 0.75), "fc", True),  # in place rows
        (_prune(_fc(rng, "i", 3, 100, 21), 0.6), "fc", True),  # K tail, batches, units tail
        (_prune(_conv(rng, "j", 6, 6, 64, 32), 0.05), "conv", False),  # nearly dense: dense kernel
        (_prune(_conv(rng, "k", 6, 6, 64, 32), 0.5, "2x4"), "conv", False),  # 2x4 blocks leave few 8x4 blocks empty
    ]
    # Whole 8-channel groups without a stored block (count 0), and one with a single block.
    layer = _conv(rng, "l", 4, 6, 32, 27)
    w = layer[0].inputs[1].data.copy()
    w[8:16] = 0
    w[16:24, :, :, 4:] = 0
    layer[0].inputs[1].data = w
    out.append((_prune(layer, 0.5), "conv", True))
    return out


@pytest.mark.parametrize("target,isa", [("rpi4", RPI4_ISA), ("rpi5", RPI5_ISA)])
def test_cost_model_choice(target, isa):
    ops = cases(0)
    program = lower_graph(_graph([layer for layer, _, _ in ops]), isa)
    funcs = {c.op.index: c.func for c in program.calls}
    for i, (_, kind, sparse) in enumerate(ops):
        assert funcs[i] == (SPARSE if sparse else DENSE)[target][kind], (i, funcs[i])


def test_pack_blocks_layout():
    """Stored 8 x 4 blocks in ascending group order per 8-channel group, [8 oc][4 k] each."""
    w = np.zeros((10, 12), dtype=np.int8)
    w[0, 5] = 7  # group 0 of channels 0-7, k group 1
    w[7, 10] = -2  # k group 2
    w[9, 0] = 3  # channels 8-15 (a tail), k group 0
    weights, stream = neon_sparse.pack_blocks(w)
    assert stream.tolist() == [2, 1, 2, 1, 0]
    blocks = weights.reshape(3, 8, 4)
    assert blocks[0, 0, 1] == 7 and blocks[1, 7, 2] == -2 and blocks[2, 1, 0] == 3
    assert np.count_nonzero(weights) == 3


def test_block_keep_8x4():
    rng = np.random.default_rng(3)
    keep = block_keep(rng.normal(size=(20, 36)), 0.5, "8x4")
    assert np.all(keep.reshape(20, 9, 4) == keep.reshape(20, 9, 4)[:, :, :1])  # whole 4-wide runs
    assert np.all(keep[:8] == keep[0]) and np.all(keep[16:20] == keep[16])  # whole 8-channel groups
    assert int(keep[::8, ::4].sum()) == 27 - round(0.5 * 27)  # 3 channel groups x 9 blocks, half of them zeroed


@needs_qemu
@pytest.mark.parametrize("target", ["rpi4", "rpi5"])
def test_sparse_neon_bit_exact(target, tmp_path):
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    ops = cases(1)
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(_graph([layer for layer, _, _ in ops], name="sparse_neon")))
    build(model, load_profile(target), tmp_path / "out")
    result = verify(tmp_path / "out", inputs=2, qemu=True)
    assert result["bit_exact"] is True, result
    kernels = {layer["name"]: layer["kernel"] for layer in result["layers"]}
    expect = {layer[2].name: (SPARSE if sparse else DENSE)[target][kind] for layer, kind, sparse in ops}
    assert kernels == expect


@needs_qemu
@pytest.mark.parametrize("target", ["rpi4", "rpi5"])
def test_forced_sparse_dense_weights(target, tmp_path, monkeypatch):
    """The sparse kernels forced on unpruned weights (every block stored, -128 weights on the Pi 5) and on a layer
    with no weight at all."""
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    monkeypatch.setattr(neon_sparse, "MODE", "sparse")
    rng = np.random.default_rng([78, int(target[-1])])
    layers = [_conv(rng, "a", 5, 6, 32, 16, 3, 3), _fc(rng, "b", 2, 72, 9), _conv(rng, "c", 4, 4, 16, 8)]
    if target == "rpi5":
        w = layers[0][0].inputs[1].data.copy()
        w.flat[::7] = -128
        layers[0][0].inputs[1].data = w
    layers[2][0].inputs[1].data = np.zeros_like(layers[2][0].inputs[1].data)
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(_graph(layers, name="forced")))
    build(model, load_profile(target), tmp_path / "out")
    result = verify(tmp_path / "out", inputs=2, qemu=True)
    assert result["bit_exact"] is True, result
    kernels = {x["name"]: x["kernel"] for x in result["layers"]}
    assert kernels == {layers[0][2].name: SPARSE[target]["conv"], layers[1][2].name: SPARSE[target]["fc"],
                       layers[2][2].name: SPARSE[target]["conv"]}


@needs_qemu
def test_rpi4_sparse_build_has_no_sdot(tmp_path):
    """The rpi4 binary with the sparse kernels has no SDOT (qemu -cpu cortex-a72 traps it); the rpi5 one has."""
    from edgeprune.benchmark import bench_input, build_binary
    from edgeprune.pipeline import build, load_model
    from edgeprune.targets import load_profile

    rng = np.random.default_rng(5)
    model = tmp_path / "m.tflite"
    layers = [_prune(_conv(rng, "a", 6, 6, 32, 16), 0.75), _prune(_fc(rng, "b", 1, 256, 40), 0.9)]
    model.write_bytes(graph_to_bytes(_graph(layers, name="nosdot")))
    for target in ("rpi4", "rpi5"):
        out = tmp_path / target
        report = build(model, load_profile(target), out)
        text = (out / "src" / f"{report['name']}.c").read_text()
        assert SPARSE[target]["conv"] in text and SPARSE[target]["fc"] in text
        (tmp_path / f"bin_{target}").mkdir()
        elf = build_binary(out, load_profile(target), tmp_path / f"bin_{target}" / "ep_bench",
                           bench_input(load_model(model)))
        dis = subprocess.run(["aarch64-linux-gnu-objdump", "-d", str(elf)], capture_output=True, text=True,
                             check=True).stdout
        assert ("\tsdot\t" in dis) == (target == "rpi5"), target


@pytest.mark.parametrize("target,isa", [("rpi4", RPI4_ISA), ("rpi5", RPI5_ISA)])
def test_unpruned_layers_stay_dense(target, isa):
    """Layers without an all-zero 8x4 block keep the dense kernels, even where the sparse one would only save the dense
    GEMM's K padding (K = 40 runs as 48)."""
    rng = np.random.default_rng(11)
    layers = [_conv(rng, "a", 25, 5, 1, 64, 10, 4, sh=2, sw=2), _conv(rng, "b", 6, 6, 20, 24), _fc(rng, "c", 1, 64, 12)]
    funcs = sorted(c.func for c in lower_graph(_graph(layers), isa).calls)
    assert funcs == sorted([DENSE[target]["conv"], DENSE[target]["conv"], DENSE[target]["fc"]])
