"""The build pipeline: model file -> IR -> lowered program -> C folder with a report, written atomically.

`edgeprune build`, `inspect` and `verify` all go through here, so they see the same program and numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgeprune.analysis.cost import latency_ms, layer_costs, totals
from edgeprune.errors import EdgePruneError, ModelFormatError, UnsupportedOpError
from edgeprune.ir import Graph, Tensor
from edgeprune.lower import Program, lower_graph

REPORT_NAME = "report.json"
MODEL_COPY_NAME = "model.tflite"
ARENA_PICTURE_NAME = "arena.png"


def load_model(path: str | Path) -> Graph:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".tflite" or (path.is_file() and path.read_bytes()[4:8] == b"TFL3"):
        from edgeprune.importers import load_tflite

        return load_tflite(path)
    if suffix == ".onnx":
        from edgeprune.importers.onnx import load_onnx

        return load_onnx(path)
    if not path.exists():
        raise ModelFormatError(f"{path}: no such file")
    raise ModelFormatError(f"{path}: unknown model format (expected a .tflite or .onnx file)")


@dataclass
class Analysis:
    graph: Graph
    program: Program
    layers: list[dict]
    totals: dict

    @property
    def peak_ram_bytes(self) -> int:
        return self.program.arena_bytes


def analyze(graph: Graph, source: str | Path | None = None, isa=frozenset(), threads: int = 1) -> Analysis:
    """Lowers for a target's ISA features (none: the portable kernels, which also run on the host) and, with
    threads > 1, splits the heavy calls across that many threads (the arena then holds a scratch region per slice)."""
    try:
        program = lower_graph(graph, isa, threads=threads)
    except UnsupportedOpError as e:
        if source is None or str(source) in str(e):
            raise
        raise UnsupportedOpError(f"{source}: {e}") from None
    layers = []
    for cost in layer_costs(graph):
        op = graph.ops[cost.index]
        out = op.outputs[0]
        d = cost.as_dict()
        d["arena_offset"] = program.offsets.get(id(out), -1)
        d["arena_bytes"] = out.nbytes if id(out) in program.offsets else 0
        layers.append(d)
    t = totals(layer_costs(graph))
    t["weight_bytes"] = program.weight_bytes  # what goes to flash: weights plus requantization tables
    t["weight_layout"] = "fast"
    return Analysis(graph=graph, program=program, layers=layers, totals=t)


def analyze_for(graph: Graph, source: str | Path | None, profile, flash_budget: float | None = None,
                threads: int = 1) -> Analysis:
    """Lowers for a profile: the fast weight layouts, unless weights plus runtime overflow the flash budget
    (flash_budget, else the profile's) and the target has compact ones (Armv7E-M DSP: int8 weights in the
    block-sparse format instead of the int16 dense layout), which are then taken if they are smaller."""
    from edgeprune.lower.isa.dsp_sparse import COMPACT

    check_threads(profile, threads)
    fast = analyze(graph, source, profile.isa, threads)
    budget = profile.flash_budget_bytes if flash_budget is None else flash_budget
    if "dsp" not in profile.isa or fast.totals["weight_bytes"] + runtime_flash_estimate(profile) <= budget:
        return fast
    compact = analyze(graph, source, frozenset(profile.isa) | {COMPACT}, threads)
    if compact.totals["weight_bytes"] >= fast.totals["weight_bytes"]:
        return fast
    compact.totals["weight_layout"] = "compact"
    return compact


def check_threads(profile, threads: int) -> None:
    """TargetError unless `threads` threads per inference can run on the profile (Linux targets: 1 to 64)."""
    from edgeprune.errors import TargetError
    from edgeprune.lower.parallel import MAX_THREADS

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise EdgePruneError(f"--threads must be a whole number of at least 1, got {threads!r}")
    if threads > 1 and (profile.is_baremetal or profile.toolchain.kind != "linux"):
        raise TargetError(f"--threads {threads}: {profile.name} is a bare-metal target without threads; "
                          f"multi-threading needs a Linux target (rpi4, rpi5, rpi4-armv7, host)")
    if threads > MAX_THREADS:
        raise EdgePruneError(f"--threads {threads}: at most {MAX_THREADS} threads are supported")


def runtime_flash_estimate(profile) -> int:
    """Flash of the kernel runtime besides the weights (measured 5-9 KiB on Cortex-M; a profile may override)."""
    return int(profile.raw.get("runtime_flash_bytes_estimate", 16 * 1024))


def fit_report(analysis: Analysis, profile, flash_budget: float | None = None) -> dict:
    """Flash and RAM against the profile, with the profile's reserve for the rest of the firmware (flash_budget:
    a user's flash budget instead of the profile's)."""
    flash_bytes = analysis.totals["weight_bytes"] + runtime_flash_estimate(profile)
    ram_budget = profile.ram_budget_bytes
    flash_budget = int(profile.flash_budget_bytes if flash_budget is None else flash_budget)
    return {
        "flash_bytes": flash_bytes,
        "flash_budget_bytes": flash_budget,
        "ram_budget_bytes": ram_budget,
        "fits_flash": flash_bytes <= flash_budget,
        "fits_ram": analysis.peak_ram_bytes <= ram_budget,
        "fits": flash_bytes <= flash_budget and analysis.peak_ram_bytes <= ram_budget,
    }


def summary(analysis: Analysis, profile, flash_budget: float | None = None) -> dict:
    out = dict(analysis.totals)
    out["peak_ram_bytes"] = analysis.peak_ram_bytes
    out["latency_ms"] = latency_ms(layer_costs(analysis.graph), profile)
    out.update(fit_report(analysis, profile, flash_budget))
    out["target"] = profile.name
    out["layers"] = analysis.layers
    return out


def budget_measures(report: dict) -> dict[str, float]:
    """The numbers budgets are checked against, by budget kind (the same ones `inspect` prints)."""
    return {"macs": report["macs"], "flops": report["flops"], "params": report["params"],
            "flash": report["flash_bytes"], "ram": report["peak_ram_bytes"], "latency": report["latency_ms"]}


def _tensor_json(t: Tensor) -> dict:
    d = {"name": t.name, "shape": list(t.shape), "dtype": t.dtype}
    if t.quant is not None:
        d["scale"] = t.quant.scalar_scale
        d["zero_point"] = t.quant.scalar_zero_point
    return d


def build(model_path: str | Path, profile, out_dir: str | Path, name: str | None = None,
          extra_report: dict | None = None, flash_budget: float | None = None, threads: int = 1) -> dict:
    """Compiles a model to a C folder at out_dir; returns the report. Nothing is left behind on error.
    flash_budget (bytes, weights + runtime) replaces the profile's when choosing the weight layout. threads > 1
    (Linux targets): the generated code splits its heavy kernel calls across that many threads."""
    from edgeprune.backends.c import emit_c

    check_threads(profile, threads)
    model_path = Path(model_path)
    out_dir = Path(out_dir)
    graph = load_model(model_path)
    analysis = analyze_for(graph, model_path, profile, flash_budget, threads)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / REPORT_NAME).is_file():
        raise EdgePruneError(f"{out_dir}: exists and is not an edgeprune output folder; refusing to overwrite")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        artifact = emit_c(analysis.program, name or graph.name, tmp,
                          target_description=f"{profile.name} ({profile.description})")
        shutil.copyfile(model_path, tmp / MODEL_COPY_NAME)
        from edgeprune.plot import arena_png  # lazy: matplotlib loads only when a build writes its picture

        arena_png(analysis.program, tmp / ARENA_PICTURE_NAME)
        report = summary(analysis, profile, flash_budget)
        report.update({
            "name": artifact.name,
            "model": str(model_path),
            "arena_bytes": analysis.program.arena_bytes,
            "threads": threads,
            "split_calls": sum(1 for c in analysis.program.calls if c.slices),
            "inputs": [_tensor_json(t) for t in graph.inputs],
            "outputs": [_tensor_json(t) for t in graph.outputs],
            "weight_symbols": artifact.weight_symbols,
        })
        report.update(extra_report or {})
        (tmp / REPORT_NAME).write_text(json.dumps(report, indent=1) + "\n")
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old."))
            os.replace(out_dir, old / "x")
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def read_report(out_dir: str | Path) -> dict:
    path = Path(out_dir) / REPORT_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgePruneError(f"{out_dir}: not an edgeprune build folder (no {REPORT_NAME})") from None
    except (OSError, ValueError) as e:
        raise EdgePruneError(f"{path}: unreadable ({e})") from None
