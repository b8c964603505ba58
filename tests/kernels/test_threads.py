"""Multi-threaded inference (`build --threads N`, edgeprune/lower/parallel.py, csrc/kernels/parallel.cc).

The split calls run the unchanged kernels on slices of output rows (convolutions, pools) or elements (ADD/MUL); every
slice must compute exactly the bytes of the whole layer. Checked here on the slice geometry itself, and end to end:
generated code for N = 1..4 threads under qemu-aarch64 (rpi4: SMLAL GEMM, rpi5: SDOT GEMM) and qemu-arm
(rpi4-armv7: the AArch32 GEMM), bit-exact against LiteRT BUILTIN_REF, on the MLPerf Tiny KWS model and on synthetic
layers with padding, strides and dilations at the slice edges, layers with fewer output rows than threads, the
portable fallbacks and the block-sparse kernels.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.lower import lower_graph
from edgeprune.lower.parallel import row_ranges, split_call
from edgeprune.lower.program import Scratch

_here = Path(__file__).parent


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, _here / file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_mve = _load("_thr_mve_cases", "test_conv_mve.py")
_neon = _load("_thr_neon_cases", "test_conv_neon.py")
_sparse = _load("_thr_sparse_cases", "test_sparse_neon.py")

ISA = {"rpi4": frozenset({"neon", "crc"}), "rpi5": frozenset({"neon", "crc", "dotprod", "fp16", "rcpc"}),
       "rpi4-armv7": frozenset({"armv7-neon", "vfpv4"})}
TOOLS = {"rpi4": ("qemu-aarch64", "aarch64-linux-gnu-g++"), "rpi5": ("qemu-aarch64", "aarch64-linux-gnu-g++"),
         "rpi4-armv7": ("qemu-arm", "arm-linux-gnueabihf-g++")}
# The kernels each target's split calls must cover in the synthetic model.
SPLIT_KERNELS = {
    "rpi4": {"ep_conv2d_s8_neon", "ep_conv2d_s8_sparse_neon", "ep_conv2d_s8", "ep_depthwise_conv2d_s8_neon",
             "ep_depthwise_conv2d_s8", "ep_avg_pool_s8_neon", "ep_max_pool_s8", "ep_add_s8_neon", "ep_mul_s8"},
    "rpi5": {"ep_conv2d_s8_sdot", "ep_conv2d_s8_sparse_sdot", "ep_depthwise_conv2d_s8_neon",
             "ep_depthwise_conv2d_s8", "ep_avg_pool_s8_neon", "ep_max_pool_s8", "ep_add_s8_neon", "ep_mul_s8"},
    "rpi4-armv7": {"ep_conv2d_s8_neon32", "ep_conv2d_s8", "ep_depthwise_conv2d_s8_neon", "ep_depthwise_conv2d_s8",
                   "ep_avg_pool_s8_neon", "ep_max_pool_s8", "ep_add_s8_neon", "ep_mul_s8"},
}


def _needs(target: str):
    missing = [t for t in TOOLS[target] if shutil.which(t) is None]
    return pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed")


def _pool_op(rng, kind, tag, h, w, c, fh, fw, sh=1, sw=1, padding="VALID", act="NONE"):
    op = _neon.avg_pool_op(rng, tag, 1, h, w, c, fh, fw, sh, sw, padding, act)
    op.kind = kind
    return op


def _mul_op(rng, tag, shape):
    from edgeprune.ir import Op
    from edgeprune.testing.single_op import qparams, tensor

    a = tensor(f"a{tag}", shape, "int8", qparams(float(rng.uniform(0.01, 0.2)), int(rng.integers(-128, 128))))
    b = tensor(f"c{tag}", shape, "int8", qparams(float(rng.uniform(0.01, 0.2)), int(rng.integers(-128, 128))))
    y = tensor(f"y{tag}", shape, "int8", qparams(float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128))))
    return Op(kind="MUL", inputs=[a, b], outputs=[y], attrs={"fused_activation": "NONE"})


def _pick(ops, names, prefix):
    """The ops whose output is named in `names`, their tensors renamed with a prefix (unique across the groups)."""
    out = [op for op in ops if op.outputs[0].name in names]
    for op in out:
        for t in (*op.inputs, *op.outputs):
            if t is not None:
                t.name = prefix + t.name
    return out


def synthetic_ops(seed: int = 3):
    """Convolutions, depthwise, pools and element-wise ops whose row slices start and end in padding, with strides
    and dilations; fewer output rows than threads; -128 weights (the portable GEMM and depthwise kernels on rpi4);
    block-sparse layers. A selection of the NEON sweep's cases (the memory planner's schedule search grows with
    the number of independent layers)."""
    rng = np.random.default_rng([91, seed])
    ops = _pick(_neon.cases("gemm", seed), {"ya", "yb", "yd", "ye", "yf", "yg", "yh", "yj", "yk", "yp1", "yp4",
                                             "yr0", "yr1", "yq1", "yq2", "yq6"}, "g_")
    ops += _pick(_neon.cases("dw_fc", seed), {"ya", "yb", "yd", "ye", "yf", "yg", "ys2", "ys3", "yl"}, "d_")
    conv, dw = _mve.conv_op, _mve.dw_op
    ops += _neon._clip_weights([
        conv(rng, "t1", 1, 3, 9, 8, 8, 3, 3, sh=2, sw=1),  # out_h 2
        conv(rng, "t2", 1, 13, 7, 6, 10, 5, 3, sh=2, sw=1, dh=2, dw=1),  # padding 4 rows at the top, dilated
        conv(rng, "t3", 1, 10, 6, 16, 16, 7, 1, sh=3, sw=1),  # rows whose windows start in the top padding
        conv(rng, "t4", 1, 12, 5, 4, 8, 2, 2, sh=2, sw=2, padding="VALID"),
        dw(rng, "t5", 1, 3, 6, 16, 3, 3),  # out_h 3
        dw(rng, "t6", 1, 11, 5, 32, 5, 3, sh=2, sw=1, dh=2, dw=1),
        dw(rng, "t7", 1, 9, 9, 20, 4, 4, sh=2, sw=2),  # even filter: asymmetric SAME padding
    ])
    ops += _neon._with_minus_128([conv(rng, "m1", 1, 9, 6, 8, 12, 3, 3, sh=2, sw=1),
                                  dw(rng, "m2", 1, 10, 5, 16, 3, 3, sh=1, sw=1, dh=2, dw=2)])
    ops += [_pool_op(rng, "AVERAGE_POOL_2D", "p1", 9, 8, 20, 3, 3, sh=2, sw=2, padding="SAME", act="RELU"),
            _pool_op(rng, "AVERAGE_POOL_2D", "p2", 2, 6, 17, 2, 2, sh=1, sw=2, padding="SAME"),
            _pool_op(rng, "MAX_POOL_2D", "p3", 11, 7, 24, 3, 2, sh=2, sw=1, padding="SAME"),
            _pool_op(rng, "MAX_POOL_2D", "p4", 8, 8, 5, 2, 2, sh=2, sw=2),
            _mul_op(rng, "e1", (1, 7, 9, 16)), _mul_op(rng, "e2", (1, 3, 3, 3)),
            _mve.add_op(rng, "e3", (1, 33, 3, 16))]
    ops += _pick([layer[0] for layer, _, _ in _sparse.cases(seed)], {"ya", "yd", "ye", "yf", "yl"}, "s_")
    return ops


def synthetic_graph(seed: int = 3):
    return _mve._graph(synthetic_ops(seed), "threads_mix")


_LOWERED: dict = {}


def _lowered(target: str, threads: int = 1):
    """lower_graph of the synthetic model (cached: the schedule search takes seconds)."""
    key = (target, threads)
    if key not in _LOWERED:
        _LOWERED[key] = lower_graph(synthetic_graph(), ISA[target], threads=threads)
    return _LOWERED[key]


# ------------------------------------------------------------------------------------------------ no QEMU


def test_row_ranges():
    assert row_ranges(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert row_ranges(2, 4) == [(0, 1), (1, 2)]  # fewer rows than threads: two slices
    assert row_ranges(1, 4) == [(0, 1)]


@pytest.mark.parametrize("target", sorted(ISA))
@pytest.mark.parametrize("threads", [2, 3, 4])
def test_row_slices_read_the_layers_rows(target, threads):
    """Every output row of every slice reads the same input rows (or padding) as in the whole layer, and the
    slices tile the output; element slices tile the elements in 16-element steps."""
    calls = _lowered(target).calls
    split = 0
    for call in calls:
        slices = split_call(call, threads)
        if slices is None:
            continue
        split += 1
        p = call.params
        if "size" in p and "in_h" not in p:
            starts = sorted(s.deltas[len(call.args) - 1] // (call.args[-1].nbytes // p["size"]) for s in slices)
            assert sum(s.params["size"] for s in slices) == p["size"] and all(x % 16 == 0 for x in starts)
            continue
        assert len(slices) == min(threads, p["out_h"]) and sum(s.params["out_h"] for s in slices) == p["out_h"]
        dil = p.get("dilation_h", 1)
        o0 = 0
        for s in slices:
            q = s.params
            j = next(j for j, a in enumerate(call.args) if j in s.deltas and not isinstance(a, Scratch))
            i0 = s.deltas[j] // (call.args[j].nbytes // p["in_h"])
            assert q["in_h"] == p["in_h"] - i0 and q["pad_h"] >= 0
            for o in range(q["out_h"]):
                for k in range(p["filter_h"]):
                    local = o * q["stride_h"] - q["pad_h"] + k * dil
                    whole = (o0 + o) * p["stride_h"] - p["pad_h"] + k * dil
                    assert i0 + local == whole
                    assert (0 <= local < q["in_h"]) == (0 <= whole < p["in_h"])
            o0 += q["out_h"]
    assert split > 20


@pytest.mark.parametrize("target", sorted(ISA))
def test_arena_reserves_a_scratch_region_per_slice(target):
    """Each slice's scratch region holds what its kernel needs for its rows (the NEON kernels' padded copy covers
    only the slice's rows: never more than the whole layer's scratch), and the arena holds them all."""
    from edgeprune.lower.parallel import _slice_scratch_bytes

    p1, p4 = _lowered(target), _lowered(target, 4)
    assert p4.threads == 4 and {c.func for c in p4.calls if c.slices} >= SPLIT_KERNELS[target]
    assert any(c.slices and len(c.slices) < 4 for c in p4.calls)  # out_h < threads: idle threads
    one = {c.op.index: c for c in p1.calls}
    for call in p4.calls:
        for j, a in enumerate(call.args):
            if not isinstance(a, Scratch):
                continue
            whole = one[call.op.index].args[j].nbytes
            if not call.slices:
                assert a.nbytes == whole
                continue
            stride = call.slices[1].deltas[j]
            assert stride % 16 == 0 and a.nbytes == len(call.slices) * stride
            assert [s.deltas[j] for s in call.slices] == [t * stride for t in range(len(call.slices))]
            need = _slice_scratch_bytes(call.func)
            assert all((need(s.params) if need else whole) <= stride for s in call.slices)
            # No slice needs more than the whole layer (by the kernel's layout; see the depthwise test below).
            assert stride <= -(-max(whole, need(call.params) if need else 0) // 16) * 16
        if call.slices:
            assert call.inplace_lag_bytes is None
    scratch = [a for c in p4.calls if c.slices for a in c.args if isinstance(a, Scratch)]
    assert p4.arena_bytes >= max(a.nbytes for a in scratch)


def test_threads_rejected_on_bare_metal_and_below_one(tmp_path):
    from edgeprune.errors import EdgePruneError, TargetError
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile

    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(synthetic_graph()))
    with pytest.raises(TargetError, match="bare-metal"):
        build(model, load_profile("cortex-m7"), tmp_path / "out", threads=2)
    with pytest.raises(EdgePruneError, match="at least 1"):
        build(model, load_profile("rpi4"), tmp_path / "out", threads=0)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------ under QEMU


def _build_verify(model: Path, target: str, threads: int, out: Path) -> dict:
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    report = build(model, load_profile(target), out, threads=threads)
    assert report["threads"] == threads
    result = verify(out, inputs=2, qemu=True)
    assert result["bit_exact"] is True, {k: v for k, v in result.items() if k != "layers"}
    # The per-layer profile (verify) names every call, split or not.
    assert result["layers"] and all(layer["op"] != "?" for layer in result["layers"])
    return report


# Each target with a different thread count (2: idle threads on the 1-row layers; 3: uneven slices; 4: more
# threads than some layers' rows), to keep the QEMU time of the suite down.
@pytest.mark.parametrize("target,threads", [pytest.param(t, n, marks=_needs(t))
                                            for t, n in (("rpi4", 3), ("rpi5", 4), ("rpi4-armv7", 2))])
def test_synthetic_threads_bit_exact(target, threads, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(synthetic_graph()))
    report = _build_verify(model, target, threads, tmp_path / "out")
    assert report["split_calls"] > 20 and report["name"] == "m"
    assert "ep_parallel_init(M_THREADS)" in (tmp_path / "out" / "src" / "m.c").read_text()
    assert f"#define M_THREADS {threads}" in (tmp_path / "out" / "include" / "m.h").read_text()


@pytest.mark.parametrize("target,threads", [pytest.param(t, n, marks=_needs(t))
                                            for t, n in (("rpi4", 2), ("rpi5", 3), ("rpi4-armv7", 4))])
def test_kws_threads_bit_exact(shared_model, target, threads, tmp_path):
    model = shared_model("kws_ref_model.tflite")
    report = _build_verify(model, target, threads, tmp_path / "out")
    assert (report["split_calls"] > 0) == (threads > 1)


@pytest.mark.parametrize("sanitizers", ["address,undefined", "thread"])
def test_host_threads_under_sanitizers(sanitizers, tmp_path, monkeypatch):
    """The host build (portable kernels) with 3 threads, natively under ASan + UBSan, and under ThreadSanitizer: a data
    race between slices, or between the pool's workers and the caller, fails the run (TSan exits with 66)."""
    import edgeprune.verify as verify_mod
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile

    if shutil.which("cc") is None:
        pytest.skip("no host C compiler")
    monkeypatch.setattr(verify_mod, "SANITIZE_FLAGS",
                        (f"-fsanitize={sanitizers}", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"))
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(_mve._graph(synthetic_ops()[-20:], "host_mix")))
    build(model, load_profile("host"), tmp_path / "out", threads=3)
    result = verify_mod.verify(tmp_path / "out", inputs=2, qemu=True, sanitize=True)
    assert result["bit_exact"] is True and result["mode"] == "native"


@_needs("rpi4")
def test_plugin_thread_mode_counts_exactly(shared_model, tmp_path):
    """The QEMU plugin's threads=on mode (per-vCPU counters, one atomic add per translation block, markers corrected
    by the rest of their block) gives the default mode's exact count on a single-threaded binary."""
    from edgeprune import benchmark
    from edgeprune.pipeline import MODEL_COPY_NAME, build, load_model
    from edgeprune.targets import load_profile

    profile = load_profile("rpi4")
    build(shared_model("kws_ref_model.tflite"), profile, tmp_path / "out")
    graph = load_model(tmp_path / "out" / MODEL_COPY_NAME)
    elf = benchmark.build_binary(tmp_path / "out", profile, tmp_path / "ep_bench", benchmark.bench_input(graph))
    single = benchmark._run_qemu(profile, elf, 2, 1, False)
    per_thread = benchmark._run_qemu(profile, elf, 2, 1, True)
    assert single.instructions == per_thread.instructions and len(single.instructions) == 2
    assert per_thread.thread_instructions == [{0: n} for n in single.instructions]


@_needs("rpi4")
def test_verify_reports_the_critical_path(shared_model, tmp_path):
    """verify --qemu of a 4-thread build: per layer the instructions of each thread; the sum of the busiest thread's
    per layer (the critical path) is well under the instructions summed over the threads."""
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    build(shared_model("kws_ref_model.tflite"), load_profile("rpi4"), tmp_path / "out", threads=4)
    result = verify(tmp_path / "out", inputs=1, qemu=True)
    assert result["bit_exact"] is True
    convs = [layer for layer in result["layers"] if layer["op"] == "CONV_2D"]
    assert convs and all(len(layer["instructions_per_thread"]) == 4 for layer in convs)
    assert all(len(layer["instructions_per_thread"]) == 1 for layer in result["layers"] if layer["op"] == "SOFTMAX")
    assert 0 < result["critical_path_instructions"] < 0.4 * result["instructions"]
