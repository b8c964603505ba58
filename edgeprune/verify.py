"""Runs what `build` emitted and checks it against LiteRT's reference kernels.

On the host through the pybind11 module, or cross-compiled and run under QEMU with exact instruction counts,
flash from the linked image and RAM from the arena, static data and the measured stack high-water.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeprune.errors import VerificationError
from edgeprune.pipeline import MODEL_COPY_NAME, analyze, load_model, read_report
from edgeprune.runtime.host import run_program
from edgeprune.testing.reference import deterministic_input, litert_run

FLOAT_TOLERANCE = 1e-4


@dataclass
class Verification:
    result: dict
    outputs: list[list[np.ndarray]]


def _compare(ours: list[list[np.ndarray]], ref: list[list[np.ndarray]]) -> tuple[bool, float]:
    bit_exact = True
    max_abs = 0.0
    for o_list, r_list in zip(ours, ref):
        for o, r in zip(o_list, r_list):
            o = np.asarray(o).reshape(r.shape)
            if o.dtype != r.dtype or not np.array_equal(o, r):
                bit_exact = False
            diff = np.abs(o.astype(np.float64) - r.astype(np.float64))
            if diff.size:
                max_abs = max(max_abs, float(diff.max()))
    return bit_exact, max_abs


SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")


def verify(out_dir: str | Path, inputs: int = 8, qemu: bool = False, profile=None, sanitize: bool = False) -> dict:
    """qemu=True cross-compiles for the profile and runs it (natively for the host profile)."""
    from edgeprune.targets import load_profile

    out_dir = Path(out_dir)
    report = read_report(out_dir)
    model_path = out_dir / MODEL_COPY_NAME
    graph = load_model(model_path)
    profile = profile or load_profile(report["target"])
    if inputs < 1:
        raise VerificationError("--inputs must be at least 1")
    batches = [[deterministic_input(t.shape, t.dtype, seed=i) for t in graph.inputs] for i in range(inputs)]
    reference = [litert_run(model_path, xs) for xs in batches]

    result: dict = {"target": profile.name, "inputs_tested": inputs, "arena_bytes": report["arena_bytes"]}
    if qemu:
        if sanitize and profile.is_baremetal:
            raise VerificationError("--sanitize needs a Linux target (host, rpi4, rpi5)")
        ours, measured = _run_firmware(out_dir, report, graph, batches, profile, sanitize)
        result.update(measured)
        result["mode"] = "native" if sanitize else "qemu"
        result["sanitized"] = sanitize
    else:
        program = analyze(graph).program
        ours = [run_program(program, xs) for xs in batches]
        result.update({"mode": "host", "instructions": None, "weight_bytes": program.weight_bytes})
    bit_exact, max_abs = _compare(ours, reference)
    float_outputs = any(t.dtype == "float32" for t in graph.outputs)
    result["bit_exact"] = bit_exact
    result["max_abs_diff"] = max_abs
    result["tolerance"] = FLOAT_TOLERANCE if float_outputs else 0
    result["passed"] = bit_exact or (float_outputs and max_abs <= FLOAT_TOLERANCE)
    return result


def run_inputs(out_dir: str | Path, batches: list[list[np.ndarray]], profile=None,
               measures: dict | None = None) -> list[list[np.ndarray]]:
    """Runs a `build` folder's C code on the given inputs and returns its outputs, one list per input.

    Each batch holds one array per model input (the model's shape and dtype; quantized models take the
    quantized values). The inputs are baked into a firmware harness that is cross-compiled for the profile
    (the build's target by default) and run under QEMU, or natively for the host. `measures`, when given, is
    filled with what the run measured (instructions per input, flash, RAM), as in `verify --qemu`.
    """
    from edgeprune.targets import load_profile

    out_dir = Path(out_dir)
    report = read_report(out_dir)
    graph = load_model(out_dir / MODEL_COPY_NAME)
    profile = profile or load_profile(report["target"])
    if not batches:
        raise VerificationError("run_inputs: no inputs given")
    fitted = []
    for i, batch in enumerate(batches):
        if len(batch) != len(graph.inputs):
            raise VerificationError(f"run_inputs: input {i} has {len(batch)} arrays, the model takes "
                                    f"{len(graph.inputs)}")
        row = []
        for t, a in zip(graph.inputs, batch):
            a = np.asarray(a)
            if a.size != int(np.prod(t.shape)):
                raise VerificationError(f"run_inputs: input {i} has {a.size} values, the model's "
                                        f"'{t.name}' takes shape {tuple(t.shape)}")
            row.append(a.astype(t.dtype, copy=False).reshape(t.shape))
        fitted.append(row)
    ours, measured = _run_firmware(out_dir, report, graph, fitted, profile)
    if measures is not None:
        measures.update(measured)
    return ours


def _run_firmware(out_dir: Path, report: dict, graph, batches, profile, sanitize: bool = False):
    from edgeprune.backends.c.cvalues import c_array_body
    from edgeprune.backends.c.emit import _ENV
    from edgeprune.targets import build_firmware, measure_size, run

    name = report["name"]
    context = {
        "name": name,
        "upper": name.upper(),
        "n_inputs": len(batches),
        "inputs": [
            {"bytes": t.nbytes,
             "bodies": [c_array_body(np.ascontiguousarray(b[k]).view(np.uint8), per_line=64) for b in batches]}
            for k, t in enumerate(graph.inputs)
        ],
        "outputs": [{"bytes": t.nbytes} for t in graph.outputs],
    }
    with tempfile.TemporaryDirectory(prefix="edgeprune-verify-") as tmp:
        tmp = Path(tmp)
        harness = tmp / "harness.c"
        harness.write_text(_ENV.get_template("harness.c.j2").render(**context))
        model_sources = [out_dir / "src" / f"{name}.c", out_dir / "src" / f"{name}_weights.c"]
        runtime_sources = sorted((out_dir / "runtime" / "kernels").glob("*.cc"))
        sources = [harness, *model_sources, *runtime_sources]
        includes = [out_dir / "include", out_dir / "src", out_dir / "runtime" / "include"]
        flags = SANITIZE_FLAGS if sanitize else ()
        if sanitize:  # the sanitizer runtimes need a dynamic executable
            ldflags = tuple(f for f in profile.toolchain.ldflags if f not in ("-static", "-no-pie"))
            profile = dataclasses.replace(profile, toolchain=dataclasses.replace(profile.toolchain, ldflags=ldflags))
        elf = build_firmware(profile, sources, includes, tmp / "firmware.elf", extra_cflags=flags,
                             extra_ldflags=flags, defines={PROFILE_DEFINE: None})
        objects = sorted((tmp / "firmware.elf.build").glob("*.o"))
        # Objects are numbered in source order: harness first, then the model and runtime, then board support.
        n_model = len(model_sources) + len(runtime_sources)
        model_objects = objects[1 : 1 + n_model]
        not_model = [o for o in objects if o not in model_objects]
        weights = set(report.get("weight_symbols", []))
        profiled_fn = f"{name}_invoke_profiled"  # the per-layer profiling copy of invoke is not deployed
        deployed = measure_size(profile, elf, exclude_objects=not_model, exclude_symbols=lambda s: s == profiled_fn)
        weight_part = measure_size(profile, elf, exclude_symbols=lambda s: s in weights)
        static_model = measure_size(profile, elf, exclude_objects=model_objects)
        # Sanitized binaries run natively: their shadow memory does not fit under QEMU user mode.
        run_result = run(profile, elf, timeout_s=1800, count_instructions=not sanitize,
                         threads=int(report.get("threads", 1)) > 1)

    text = run_result.stdout.decode(errors="replace")
    if run_result.exit_code != 0:
        err = run_result.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise VerificationError(
            f"firmware for {profile.name} exited with status {run_result.exit_code}: {text[-200:]!r} {err}"
        )
    ours = [[None] * len(graph.outputs) for _ in batches]
    profiled: dict[int, bytes] = {}
    for m in re.finditer(r"^out (\d+) (\d+) ([0-9a-f]*)$", text, re.MULTILINE):
        i, k, hexdata = int(m.group(1)), int(m.group(2)), m.group(3)
        if i == len(batches):  # the per-layer profiling run of input 0
            profiled[k] = bytes.fromhex(hexdata)
            continue
        t = graph.outputs[k]
        ours[i][k] = np.frombuffer(bytes.fromhex(hexdata), dtype=t.dtype).reshape(t.shape)
    if any(o is None for row in ours for o in row):
        raise VerificationError(f"firmware output incomplete for {profile.name}: {text[-300:]!r}")
    stack = re.search(r"^stack (\d+)$", text, re.MULTILINE)
    stack_bytes = int(stack.group(1)) if stack else 0
    counts = list(run_result.instructions)
    n_inputs = len(batches)
    for k, data in profiled.items():
        if data != np.ascontiguousarray(ours[0][k]).tobytes():
            raise VerificationError(f"the per-layer profiling run of {profile.name} computed a different output {k}")
    layers = _layer_profile(out_dir / "src" / f"{name}.c", graph, counts[n_inputs:]) if counts else None
    counts = counts[:n_inputs]
    weight_bytes = weight_part["excluded_flash_bytes"]
    static_ram = static_model["excluded_ram_bytes"]
    measured = {
        "instructions": counts[0] if counts else None,
        "instructions_per_input": counts,
        "flash_bytes": deployed["runtime_flash_bytes"],
        "runtime_flash_bytes": deployed["runtime_flash_bytes"] - weight_bytes,
        "weight_bytes": weight_bytes,
        "ram_bytes": report["arena_bytes"] + static_ram + stack_bytes,
        "static_ram_bytes": static_ram,
        "stack_bytes": stack_bytes,
        "firmware_flash_bytes": deployed["flash_bytes"],
    }
    if layers is not None:
        measured["layers"] = layers
        measured["layers_instructions"] = sum(x["instructions"] for x in layers)
        per_thread = list(run_result.thread_instructions)[n_inputs:]
        if int(report.get("threads", 1)) > 1 and len(per_thread) == len(layers) + 1:
            # Multi-threaded builds: per layer, the busiest thread's instructions (the calling thread's include the
            # markers' cost, subtracted as for `instructions`); their sum approximates the critical path.
            overhead = per_thread[0].get(0, 0)
            for layer, per in zip(layers, per_thread[1:]):
                layer["instructions_per_thread"] = [per[k] - (overhead if k == 0 else 0) for k in sorted(per)]
                layer["instructions_max_thread"] = max(layer["instructions_per_thread"])
            measured["critical_path_instructions"] = sum(x["instructions_max_thread"] for x in layers)
    return ours, measured


PROFILE_DEFINE = "EP_PROFILE_LAYERS"


def _layer_profile(model_c: Path, graph, counts: list[int]) -> list[dict] | None:
    """Per kernel call: {index, name, op, kernel, instructions} from the profiled run's marker pairs.

    counts = [empty pair, one pair per call]: the empty pair is what the markers themselves cost (the begin
    marker's body and the call of the end marker); it is subtracted from every call's pair, so a layer's
    figure is its argument set-up, the call and the kernel. The whole-inference `instructions` come from the
    unbracketed invoke. The sum of the layers falls short of it by invoke's own work (prologue, the status
    check after each call).
    """
    src = model_c.read_text()
    body = src[src.find("_invoke_profiled(void) {"):]
    kernels = {int(m.group(2)): m.group(1) for m in re.finditer(r"status = (\w+)\(&s_params(\d+)", body)}
    kernels.update({int(m.group(1)): m.group(2)  # split calls (--threads): the pool runs the kernel's slices
                    for m in re.finditer(r"status = ep_parallel_run\(\d+, s_task(\d+)\); /\* (\w+) \*/", body)})
    ops = {int(m.group(1)): (m.group(2), int(m.group(3)))
           for m in re.finditer(r"/\* call (\d+): (\S+) \(operator (\d+)\)[^*]*\*/", src)}
    if not counts or len(counts) != len(kernels) + 1:
        return None
    overhead = counts[0]
    layers = []
    for i in sorted(kernels):
        kind, op_index = ops.get(i, ("?", -1))
        op = graph.ops[op_index] if 0 <= op_index < len(graph.ops) else None
        layers.append({"index": i, "name": op.outputs[0].name if op is not None and op.outputs else f"call{i}",
                       "op": kind, "kernel": kernels[i], "instructions": counts[1 + i] - overhead})
    return layers
