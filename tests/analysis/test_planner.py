"""The arena planner: greedy-by-size baseline, in-place lags, aliases, execution order and the plan checker."""

import itertools
import random
from pathlib import Path

import numpy as np
import pytest

from edgeprune.analysis.inplace import window_lag
from edgeprune.analysis.planner import (
    Buffer,
    InPlace,
    PlanError,
    best_placement,
    check_plan,
    greedy_by_size,
    plan_program,
)
from edgeprune.analysis.schedule import best_schedule, dependencies, op_groups, topological_orders
from edgeprune.ir import Graph, Op, Tensor
from edgeprune.lower.program import KernelCall, Program, Scratch

MODELS = Path("/work/shared/models")


def _check_no_overlap(buffers, alignment, pairs=()):
    legal = {(id(p.out), id(p.inp)): p.lag for p in pairs}
    for a, b in itertools.combinations(buffers, 2):
        alive_together = a.first <= b.last and b.first <= a.last
        apart = a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset
        inplace = any(
            (id(o), id(i)) in legal and o.offset <= i.offset - legal[(id(o), id(i))] for o, i in ((a, b), (b, a))
        )
        assert not alive_together or apart or inplace, (a, b)
    for b in buffers:
        assert b.offset % alignment == 0 and b.offset >= 0


def test_chain_reuses_memory():
    # A chain of layers: only neighbours are alive together, so two slots suffice.
    bufs = [Buffer(i, f"t{i}", 1000, i, i + 1) for i in range(6)]
    arena = greedy_by_size(bufs, 16)
    _check_no_overlap(bufs, 16)
    assert arena == 2 * 1008


def test_random_lifetimes():
    rng = random.Random(0)
    for _ in range(200):
        bufs = []
        for i in range(rng.randint(1, 12)):
            first = rng.randint(0, 10)
            bufs.append(Buffer(i, f"t{i}", rng.randint(1, 5000), first, first + rng.randint(0, 4)))
        arena = greedy_by_size(bufs, 16)
        _check_no_overlap(bufs, 16)
        # Never worse than giving every buffer its own slot, never better than the busiest moment.
        assert arena <= sum((b.nbytes + 15) // 16 * 16 for b in bufs)
        peak = max(sum(b.nbytes for b in bufs if b.first <= t <= b.last) for t in range(16))
        assert arena >= peak
        # The multi-order placement is never worse than greedy-by-size.
        assert best_placement(bufs, [], 16) <= arena
        _check_no_overlap(bufs, 16)


def test_random_lifetimes_with_inplace_pairs():
    rng = random.Random(1)
    for _ in range(300):
        bufs, pairs = [], []
        for i in range(rng.randint(2, 12)):
            first = rng.randint(0, 10)
            bufs.append(Buffer(i, f"t{i}", rng.randint(1, 3000), first, first + rng.randint(0, 4)))
        for out in bufs:  # out may overlap a buffer that dies exactly when out is born
            dying = [b for b in bufs if b is not out and b.last == out.first]
            if dying and rng.random() < 0.7:
                inp = rng.choice(dying)
                pairs.append(InPlace(out, inp, rng.randint(0, out.nbytes), out.first))
        arena = best_placement(bufs, pairs, 16)
        _check_no_overlap(bufs, 16, pairs)
        assert max(b.offset + b.nbytes for b in bufs) <= arena


def test_inplace_chain_descends_by_the_lags():
    # Five equal buffers each computed in place from the previous one: size + sum of lags, not 2x size.
    bufs = [Buffer(i, f"t{i}", 8000, i, i + 1) for i in range(5)]
    pairs = [InPlace(bufs[i + 1], bufs[i], 448, i + 1) for i in range(4)]
    assert best_placement(bufs, pairs, 16) == 8000 + 4 * 448
    _check_no_overlap(bufs, 16, pairs)


# --- window lags -------------------------------------------------------------------------------------------


def _brute_force_lag(b, h, w, ci, oh, ow, co, fh, fw, sh, sw, dh, dw, ph, pw, group=1):
    """Enumerates every tap of every output pixel: the minimal L such that the bytes written for a pixel group
    (the output starting L bytes before the input) lie below every byte read by that group and all later ones."""
    reads = []
    for bb, oy, ox in itertools.product(range(b), range(oh), range(ow)):
        addrs = [((bb * h + oy * sh - ph + dh * fy) * w + ox * sw - pw + dw * fx) * ci
                 for fy in range(fh) for fx in range(fw)
                 if 0 <= oy * sh - ph + dh * fy < h and 0 <= ox * sw - pw + dw * fx < w]
        reads.append(min(addrs) if addrs else None)
    n = len(reads)
    lag = 0
    for start in range(0, n, group):
        end = min(start + group, n)
        later = [r for r in reads[start:] if r is not None]
        if later:
            lag = max(lag, end * co - min(later))
    return lag


def test_window_lag_matches_brute_force():
    rng = random.Random(2)
    for _ in range(300):
        fh, fw = rng.randint(1, 5), rng.randint(1, 5)
        sh, sw = rng.randint(1, 3), rng.randint(1, 3)
        dh, dw = rng.randint(1, 2), rng.randint(1, 2)
        h, w = rng.randint(1, 12), rng.randint(1, 12)
        ph, pw = rng.randint(0, fh), rng.randint(0, fw)
        oh = max(1, (h + 2 * ph - (fh - 1) * dh - 1) // sh + 1)
        ow = max(1, (w + 2 * pw - (fw - 1) * dw - 1) // sw + 1)
        b = rng.randint(1, 2)
        ci, co = rng.choice([1, 3, 8, 64]), rng.choice([1, 4, 16, 64])
        g = rng.choice([1, 1, 2, 4])
        args = (b, h, w, ci, oh, ow, co, fh, fw, sh, sw, dh, dw, ph, pw)
        assert window_lag(*args, pixel_group=g) == _brute_force_lag(*args, group=g), args


def test_window_lag_known_values():
    # KWS depthwise 3x3 SAME on 25x5x64: one row plus one pixel of input ahead, plus the pixel being written.
    assert window_lag(1, 25, 5, 64, 25, 5, 64, 3, 3, 1, 1, 1, 1, 1, 1) == (5 + 1 + 1) * 64
    # 1x1 convolution with equal channels: just one pixel.
    assert window_lag(1, 25, 5, 64, 25, 5, 64, 1, 1) == 64


def test_window_call_lag_for_specializers():
    from edgeprune.analysis.inplace import window_call_lag
    from edgeprune.lower import lower_graph
    from edgeprune.pipeline import load_model

    if not (MODELS / "kws_ref_model.tflite").is_file():
        pytest.skip("KWS not available")
    calls = lower_graph(load_model(MODELS / "kws_ref_model.tflite")).calls
    dw = next(c for c in calls if c.func == "ep_depthwise_conv2d_s8")
    assert window_call_lag(dw) == dw.inplace_lag_bytes == 448
    assert window_call_lag(dw, pixel_group=2) == 448 + 64  # the second pixel of a pair may be written early
    softmax = next(c for c in calls if c.func == "ep_softmax_s8")
    assert window_call_lag(softmax) is None and softmax.inplace_lag_bytes is None


# --- the portable kernels really run in place at the declared lag (host) -------------------------------------


def _kernel_cases():
    from edgeprune.testing.random_models import CnnBuilder

    cases = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        b = CnnBuilder(rng)
        h, w, c = int(rng.integers(3, 11)), int(rng.integers(3, 11)), int(rng.integers(1, 9))
        x = b.input((1, h, w, c))
        k = int(rng.integers(1, 4))
        stride = int(rng.integers(1, 3))
        pad = str(rng.choice(["SAME", "VALID"])) if k > 1 else "SAME"
        y = [lambda: b.conv(x, int(rng.integers(1, 9)), k, stride, pad),
             lambda: b.dwconv(x, k, stride, pad, int(rng.integers(1, 3))),
             lambda: b.pool("AVERAGE_POOL_2D", x, 2, 1 + seed % 2, "SAME"),
             lambda: b.pool("MAX_POOL_2D", x, 2, 1, "VALID"),
             lambda: b.add(x, b.unary("RELU", x))][seed % 5]()
        y = b.fc(b.reshape(y, (1, y.num_elements)), int(rng.integers(1, 20))) if seed % 3 == 0 else y
        cases.append(b.graph([y]))
    return cases


@pytest.mark.parametrize("quantized", [False, True])
def test_portable_kernels_run_in_place_at_the_lag(quantized):
    from edgeprune.lower import lower_graph
    from edgeprune.runtime.host import kernels
    from edgeprune.testing.ptq import quantize_graph
    from edgeprune.testing.random_models import calibration_inputs

    mod = kernels()
    checked = 0
    for graph in _kernel_cases():
        if quantized:
            graph = quantize_graph(graph, calibration_inputs(graph, 4, 0))
        program = lower_graph(graph)
        for call in program.calls:
            if call.inplace_lag_bytes is None:
                continue
            produced = {id(t) for t in call.op.outputs}
            k_out = next(k for k, a in enumerate(call.args) if id(a) in produced)
            for j in call.inplace_inputs:
                x, y = call.args[j], call.args[k_out]
                lag = call.inplace_lag_bytes
                rng = np.random.default_rng(checked)

                def fill(t):
                    if t.dtype == "float32":
                        return rng.standard_normal(t.shape).astype(np.float32)
                    return rng.integers(-128, 128, t.shape).astype(t.dtype)

                inputs = {id(a): fill(a) for a in call.args if isinstance(a, Tensor) and not a.is_constant
                          and id(a) not in produced}

                def views(arena_for):
                    out = []
                    for a in call.args:
                        if isinstance(a, Tensor) and a.is_constant:
                            out.append(np.ascontiguousarray(a.data, dtype=a.dtype))
                        elif isinstance(a, Scratch):
                            out.append(np.zeros(a.nbytes, np.uint8))
                        else:
                            out.append(arena_for(a))
                    return out

                separate = views(lambda a: inputs[id(a)].copy() if id(a) in inputs else np.zeros(a.shape, a.dtype))
                getattr(mod, call.func)(call.params, call.consts, *separate)
                arena = np.zeros(lag + x.nbytes + y.nbytes, np.uint8)

                def shared(a):
                    if a is y:
                        return arena[:y.nbytes].view(y.dtype).reshape(y.shape)
                    if a is x:
                        v = arena[lag:lag + x.nbytes].view(x.dtype).reshape(x.shape)
                        v[...] = inputs[id(a)]
                        return v
                    return inputs[id(a)].copy()

                together = views(shared)
                getattr(mod, call.func)(call.params, call.consts, *together)
                np.testing.assert_array_equal(together[k_out], separate[k_out], err_msg=call.func)
                checked += 1
    assert checked >= 10


# --- synthetic programs: plan, then prove the plan --------------------------------------------------------


def _fake_program(seed: int):
    rng = random.Random(seed)
    x = Tensor("x", (rng.randint(1, 400),), "int8")
    live, tensors, ops, calls = [x], [x], [], []
    for i in range(rng.randint(1, 14)):
        ins = rng.sample(live, rng.randint(1, min(2, len(live))))
        alias = len(ins) == 1 and rng.random() < 0.15
        out = Tensor(f"t{i}", ins[0].shape if alias else (rng.randint(1, 400),), "int8")
        op = Op("RESHAPE" if alias else "FAKE", list(ins), [out], index=i)
        args = list(ins) + ([Scratch(rng.randint(1, 100))] if rng.random() < 0.3 and not alias else []) + [out]
        call = KernelCall(op, "fake", "fake_params", args=args)
        if alias:
            call.alias_of = 0
        elif rng.random() < 0.6:
            call.inplace_lag_bytes = rng.randint(0, out.nbytes)
            call.inplace_inputs = tuple(range(len(ins)))
        ops.append(op)
        calls.append(call)
        tensors.append(out)
        live.append(out)
        if len(live) > 3:
            live.pop(rng.randrange(len(live) - 1))
    outputs = [tensors[-1]] + ([rng.choice(tensors[1:])] if rng.random() < 0.3 and len(tensors) > 2 else [])
    graph = Graph(tensors=tensors, ops=ops, inputs=[x], outputs=list(dict.fromkeys(outputs)))
    return graph, calls


def _program(graph, calls):
    plan = plan_program(graph, calls)
    return Program(graph=graph, calls=plan.calls, offsets=plan.offsets, arena_bytes=plan.arena_bytes,
                   aliases=plan.aliases, inplace=plan.inplace)


def test_random_programs_pass_the_checker():
    used_inplace = 0
    for seed in range(150):
        graph, calls = _fake_program(seed)
        program = _program(graph, calls)
        check_plan(program)
        used_inplace += len(program.inplace)
        assert all(c.alias_of is None for c in program.calls)
    assert used_inplace > 30


def test_checker_catches_bad_plans():
    caught = 0
    for seed in range(150):
        graph, calls = _fake_program(seed)
        program = _program(graph, calls)
        if not program.inplace:
            continue
        call_index, out_arg, in_arg, lag = program.inplace[0]
        call = program.calls[call_index]
        out, inp = call.args[out_arg], call.args[in_arg]
        program.offsets[id(out)] = program.offsets[id(inp)] - lag + 16  # one granule too close
        if program.offsets[id(out)] < 0:
            continue
        program.arena_bytes = max(program.arena_bytes, program.offsets[id(out)] + out.nbytes + 16)
        with pytest.raises(PlanError):
            check_plan(program)
        caught += 1
    assert caught > 10
    # A call that declares no in-place contract may not overlap at all.
    graph, calls = _fake_program(3)
    for c in calls:
        c.inplace_lag_bytes = None
    program = _program(graph, calls)
    check_plan(program)
    first = program.calls[0]
    program.offsets[id(first.args[-1])] = program.offsets[id(first.args[0])]
    with pytest.raises(PlanError):
        check_plan(program)


# --- execution order ---------------------------------------------------------------------------------------


def test_topological_orders_of_a_diamond():
    deps = [set(), {0}, {0}, {1, 2}]
    orders = topological_orders(deps, 10)
    assert orders == [[0, 1, 2, 3], [0, 2, 1, 3]]
    assert len(topological_orders([set()] * 6, 1000)) == 720
    assert topological_orders([set()] * 6, 10) is None


def test_shortcut_first_shrinks_the_arena():
    x = Tensor("x", (1000,), "int8")
    m1, m2, s, y = (Tensor(n, (1000,), "int8") for n in ("m1", "m2", "s", "y"))
    s = Tensor("s", (100,), "int8")
    ops = [Op("A", [x], [m1], index=0), Op("B", [m1], [m2], index=1), Op("S", [x], [s], index=2),
           Op("ADD", [m2, s], [y], index=3)]
    calls = [KernelCall(op, "fake", "p", args=[*op.inputs, *op.outputs]) for op in ops]
    graph = Graph(tensors=[x, m1, m2, s, y], ops=ops, inputs=[x], outputs=[y])
    groups = op_groups(calls)
    assert dependencies(groups) == [set(), {0}, set(), {1, 2}]
    from edgeprune.analysis.planner import plan_calls

    in_graph_order = plan_calls(graph, calls)
    best = best_schedule(graph, calls, lambda order: plan_calls(graph, order))
    order = [c.op.index for c in best.calls]
    assert order.index(2) < order.index(1)  # the shortcut runs before B, so x is dead while B runs
    assert best.arena_bytes < in_graph_order.arena_bytes
    program = Program(graph=graph, calls=best.calls, offsets=best.offsets, arena_bytes=best.arena_bytes)
    check_plan(program)


# --- the MLPerf models -------------------------------------------------------------------------------------

TFLM_ARENA = {"kws_ref_model.tflite": 22820, "resnet8_cifar10_int8.tflite": 54996}


@pytest.mark.parametrize("model", sorted(TFLM_ARENA))
@pytest.mark.parametrize("isa", [frozenset(), frozenset({"dsp"}), frozenset({"dsp", "mve", "mve-fp"})])
def test_mlperf_arena_beats_tflm_by_a_quarter(model, isa):
    from edgeprune.lower import lower_graph
    from edgeprune.pipeline import load_model

    if not (MODELS / model).is_file():
        pytest.skip(f"{model} not available")
    program = lower_graph(load_model(MODELS / model), isa)
    check_plan(program)
    assert all(c.func != "ep_copy" for c in program.calls)  # the RESHAPE is an alias
    assert program.arena_bytes <= 0.75 * TFLM_ARENA[model]
