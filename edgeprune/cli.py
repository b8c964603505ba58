"""The `edgeprune` command line: build, verify, inspect, targets.

Every EdgePruneError becomes one line on stderr and exit code 2; a failed verification exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgeprune import __version__
from edgeprune.errors import EdgePruneError

EXIT_USAGE = 2
EXIT_MISMATCH = 1


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=max(100, Console().width))


def _kib(n: int | None) -> str:
    return "-" if n is None else f"{n:,} B ({n / 1024:.1f} KiB)"


def _layer_table(title: str, layers: list[dict]):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("#", "op", "output", "MACs", "params", "weight B", "arena offset", "arena B"):
        table.add_column(col, justify="left" if col in ("op", "output") else "right")
    for layer in layers:
        table.add_row(
            str(layer["index"]), layer["op"], "x".join(str(d) for d in layer["output_shape"]),
            f"{layer['macs']:,}", f"{layer['params']:,}", f"{layer['weight_bytes']:,}",
            str(layer["arena_offset"]) if layer["arena_offset"] >= 0 else "-", f"{layer['arena_bytes']:,}",
        )
    return table


def _print_summary(s: dict) -> None:
    console = _console()
    console.print(_layer_table(f"{s.get('model', '')} for {s['target']}", s["layers"]))
    fit = "[green]fits[/green]" if s["fits"] else "[red]does not fit[/red]"
    console.print(
        f"MACs {s['macs']:,}"
        + (f" ({s['nonzero_macs']:,} on non-zero weights)" if s.get("nonzero_macs", s["macs"]) < s["macs"] else "")
        + f"   FLOPs {s['flops']:,}   params {s['params']:,}   "
        f"latency (est.) {s['latency_ms']:.2f} ms\n"
        f"weights {_kib(s['weight_bytes'])}"
        + (" (compact int8 layout: the fast one overflows the flash budget)" if s.get("weight_layout") == "compact"
           else "")
        + f"   peak RAM (arena) {_kib(s['peak_ram_bytes'])}\n"
        f"flash (est.) {_kib(s['flash_bytes'])} of {_kib(s['flash_budget_bytes'])}   "
        f"RAM {_kib(s['peak_ram_bytes'])} of {_kib(s['ram_budget_bytes'])}   -> {fit} on {s['target']}"
    )


def cmd_targets(args) -> int:
    from edgeprune.targets import list_profiles

    profiles = list_profiles()
    if args.json:
        print(json.dumps([
            {"name": p.name, "description": p.description, "part": p.part, "clock_hz": p.clock_hz,
             "sram_bytes": p.sram_bytes, "flash_bytes": p.flash_bytes, "isa": list(p.isa)}
            for p in profiles], indent=1))
        return 0
    from rich.table import Table

    table = Table(title="edgeprune targets", title_justify="left")
    for col in ("name", "part", "clock", "SRAM", "flash", "ISA", "emulated by"):
        table.add_column(col)
    def size(n: int) -> str:
        return f"{n / 1024**2:g} MiB" if n >= 1024**2 else f"{n / 1024:g} KiB"

    for p in profiles:
        q = p.qemu
        emu = "-" if q is None else f"{q.system or ''} {q.machine or q.cpu or ''}".strip()
        table.add_row(p.name, p.part.split(" (")[0], f"{p.clock_hz / 1e6:.0f} MHz", size(p.sram_bytes),
                      size(p.flash_bytes), ", ".join(p.isa), emu)
    _console().print(table)
    return 0


def cmd_inspect(args) -> int:
    from edgeprune.pipeline import analyze_for, load_model, summary
    from edgeprune.targets import load_profile

    profile = load_profile(args.target)
    graph = load_model(args.model)
    s = summary(analyze_for(graph, args.model, profile), profile)
    s["model"] = str(args.model)
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        _print_summary(s)
    return 0


def _budgets(args):
    from edgeprune.prune.budgets import KINDS, parse_budgets

    return parse_budgets({k: getattr(args, k) for k in KINDS})


def _prune_options(args):
    from edgeprune.prune.driver import PruneOptions

    return PruneOptions(input_shape=args.input_shape, weights=args.weights, data=args.data, epochs=args.epochs,
                        lr=args.lr, distill=not args.no_distill, criterion=args.criterion,
                        allocation=args.allocation, calibration=args.calibration, round_to=args.round_to,
                        sparsity="auto" if args.sparsity == "auto" else _share(args.sparsity, "--sparsity"),
                        sparsity_pattern=args.sparsity_pattern)


def _share(text: str | None, flag: str) -> float | None:
    """'50%' or '0.5' -> 0.5."""
    if text is None:
        return None
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise EdgePruneError(f"{flag}: expected a share like 50% or 0.5, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise EdgePruneError(f"{flag}: must be in [0%, 100%), got {text!r}")
    return value


def _atomic_write(path: Path, data: bytes) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _run_prune(args, profile):
    from edgeprune.prune.driver import prune_model

    console = _console()
    with console.status("pruning") as status:
        return prune_model(args.model, profile, _budgets(args), _prune_options(args),
                           on_event=lambda msg: status.update(msg))


def _print_prune_report(report: dict) -> None:
    from rich.table import Table

    console = _console()
    before = {x["index"]: x for x in report.get("layers_before", [])}
    table = Table(title=f"pruned for {report['target']}", title_justify="left")
    for col in ("#", "op", "output before", "output after", "MACs before", "MACs after", "weight B after",
                "arena B after"):
        table.add_column(col, justify="left" if col in ("op",) or col.startswith("output") else "right")
    for x in report.get("layers_after", []):
        b = before.get(x["index"], {})
        table.add_row(str(x["index"]), x["op"], "x".join(map(str, b.get("output_shape", []))),
                      "x".join(map(str, x["output_shape"])), f"{b.get('macs', 0):,}", f"{x['macs']:,}",
                      f"{x['weight_bytes']:,}", f"{x['arena_bytes']:,}")
    if report.get("layers_before") and len(report["layers_before"]) == len(report.get("layers_after", [])):
        console.print(table)
    for kind, b in report.get("budgets", {}).items():
        mark = "[green]met[/green]" if b["met"] else "[red]NOT met[/red]"
        binding = " (binding)" if kind in report.get("binding", []) else ""
        console.print(f"--{kind} {b['requested']}: limit {b['limit']:,.2f}, reached {b['measured']:,.2f} -> {mark}"
                      f"{binding}")
    sp = report.get("sparsity")
    if sp:
        chosen = sp.get("chosen", sp.get("requested"))
        how = " (the smallest meeting the budgets)" if sp.get("requested") == "auto" else ""
        layers = sp["layers"] if isinstance(sp["layers"], int) else len(sp["layers"])
        console.print(f"block sparsity {sp['pattern']}: {float(chosen or 0):.0%}{how} on {layers} layers")
        if "refit" in sp and not sp["refit"] and chosen:
            console.print("[yellow]no --calibration: the kept weights were not refit; one-shot block sparsity can "
                          "cost much accuracy without it (or fine-tune a PyTorch model with --data)[/yellow]")
    if report.get("float_ops"):
        console.print(f"[yellow]ops left in float:[/yellow] {', '.join(report['float_ops'])}")
    if "pruned_accuracy" in report:
        console.print(f"accuracy: dense {report['dense_accuracy']:.4f} -> pruned {report['pruned_accuracy']:.4f}")
    if report.get("accuracy_proxy"):
        console.print(f"accuracy proxy (agreement with the dense model): {report['accuracy_proxy']}")


def _sweep(args):
    """(kind, values) when one budget lists several values (`--macs 75%,50%,25%`), else None."""
    from edgeprune.errors import BudgetError
    from edgeprune.prune.budgets import KINDS

    swept = [(k, getattr(args, k).split(",")) for k in KINDS if getattr(args, k) and "," in getattr(args, k)]
    if len(swept) > 1:
        raise BudgetError("only one budget can be swept at a time (values separated by commas)")
    return swept[0] if swept else None


def _cmd_prune_sweep(args, profile, kind: str, values: list[str]) -> int:
    import copy

    from edgeprune.prune.pareto import accuracy_of, pareto_plot

    out = Path(args.output)
    results = []
    for value in values:
        one = copy.copy(args)
        setattr(one, kind, value.strip())
        tflite, report = _run_prune(one, profile)
        tag = value.strip().replace("%", "pct").replace(".", "_")
        path = out.with_name(f"{out.stem}_{kind}{tag}{out.suffix}")
        _atomic_write(path, tflite)
        _atomic_write(path.with_suffix(".report.json"), (json.dumps(report, indent=1, default=str) + "\n").encode())
        results.append((value.strip(), path, report))
    metric = accuracy_of(results[0][2])[1]
    points = [{"label": f"--{kind} {v}", "macs": r["pruned"]["macs"], "accuracy": accuracy_of(r)[0],
               "metric": metric} for v, _, r in results]
    dense = {"macs": results[0][2]["dense"]["macs"], "accuracy": results[0][2].get("dense_accuracy", 1.0
             if "agreement" in metric else None)}
    plot = pareto_plot(points, dense, out.with_name(f"{out.stem}_pareto.png"), f"{args.model} on {profile.name}")
    summary = [{"budget": f"--{kind} {v}", "model": str(p), "macs": r["pruned"]["macs"],
                "accuracy": accuracy_of(r)[0]} for v, p, r in results]
    if args.json:
        print(json.dumps({"sweep": summary, "metric": metric, "plot": str(plot)}, indent=1))
    else:
        from rich.table import Table

        table = Table(title=f"sweep of --{kind} ({metric})", title_justify="left")
        for col in ("budget", "model", "MACs", "accuracy"):
            table.add_column(col)
        for row in summary:
            acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
            table.add_row(row["budget"], row["model"], f"{row['macs']:,}", acc)
        _console().print(table)
        _console().print(f"wrote {plot}")
    return 0


def cmd_prune(args) -> int:
    from edgeprune.targets import load_profile

    profile = load_profile(args.target)
    sweep = _sweep(args)
    if sweep is not None:
        return _cmd_prune_sweep(args, profile, *sweep)
    tflite, report = _run_prune(args, profile)
    out = Path(args.output)
    report_path = Path(args.report) if args.report else out.with_suffix(".report.json")
    _atomic_write(out, tflite)
    _atomic_write(report_path, (json.dumps(report, indent=1, default=str) + "\n").encode())
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        _print_prune_report(report)
        _console().print(f"wrote {out} and {report_path}")
    return 0


def cmd_build(args) -> int:
    import tempfile

    from edgeprune.pipeline import build, check_threads
    from edgeprune.prune.driver import is_torch_spec
    from edgeprune.targets import load_profile

    profile = load_profile(args.target)
    check_threads(profile, args.threads)
    model = args.model
    prune_report = None
    with tempfile.TemporaryDirectory(prefix="edgeprune-build-") as tmp:
        if _budgets(args) or args.sparsity or is_torch_spec(model) or not str(model).endswith(".tflite"):
            tflite, prune_report = _run_prune(args, profile)
            model = Path(tmp) / (Path(str(args.model).split(":")[0]).stem + ".tflite")
            model.write_bytes(tflite)
        if args.format == "tflite":
            _atomic_write(Path(args.output), Path(model).read_bytes())
            if prune_report is not None:
                _print_prune_report(prune_report)
            _console().print(f"wrote {args.output}")
            return 0
        from edgeprune.prune.budgets import flash_limit

        report = build(model, profile, args.output, name=args.name or Path(str(args.model).split(":")[0]).stem,
                       extra_report={"pruning": prune_report} if prune_report else None,
                       flash_budget=flash_limit(_budgets(args)), threads=args.threads)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _print_summary(report)
        _console().print(f"wrote {args.output}/ (C99 API: include/{report['name']}.h; "
                         f"CMakeLists.txt, Makefile, report.json)")
    return 0


def cmd_verify(args) -> int:
    from edgeprune.verify import verify

    result = verify(args.output, inputs=args.inputs, qemu=args.qemu or args.sanitize, sanitize=args.sanitize)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        from rich.table import Table

        table = Table(title=f"verify {args.output} on {result['target']} ({result['mode']})", title_justify="left")
        table.add_column("measure")
        table.add_column("value", justify="right")
        status = "[green]yes[/green]" if result["bit_exact"] else "[red]no[/red]"
        rows = [("bit-exact vs LiteRT reference", status), ("inputs tested", str(result["inputs_tested"])),
                ("max |difference|", f"{result['max_abs_diff']:g}")]
        if result.get("instructions") is not None:
            rows.append(("instructions / inference", f"{result['instructions']:,}"))
        for key, label in (("flash_bytes", "flash (model + runtime)"), ("runtime_flash_bytes", "runtime flash"),
                           ("weight_bytes", "weights"), ("arena_bytes", "arena"), ("stack_bytes", "stack high-water"),
                           ("ram_bytes", "RAM total")):
            if result.get(key) is not None:
                rows.append((label, _kib(result[key])))
        for r in rows:
            table.add_row(*r)
        _console().print(table)
    return 0 if result["passed"] else EXIT_MISMATCH


def _ssh_target(args):
    if not args.ssh:
        if args.ssh_port or args.ssh_key or args.ssh_option:
            raise EdgePruneError("--ssh-port, --ssh-key and --ssh-option need --ssh USER@HOST")
        return None
    from edgeprune.benchmark import SshTarget

    return SshTarget(args.ssh, port=args.ssh_port, identity=args.ssh_key, options=list(args.ssh_option or []))


def cmd_bench(args) -> int:
    from edgeprune.benchmark import bench

    result = bench(args.model, args.target, ssh=_ssh_target(args), runs=args.runs, warmup=args.warmup,
                   threads=args.threads)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        from rich.table import Table

        table = Table(title=f"bench {args.model} on {result['target']} ({result['mode']}: {result['device']})",
                      title_justify="left")
        table.add_column("measure")
        table.add_column("value", justify="right")
        lat = result["latency"]
        rows = [("bit-exact vs LiteRT reference", "[green]yes[/green]" if result["bit_exact"] else "[red]no[/red]"),
                ("runs (warm-up)", f"{result['runs']} ({result['warmup']})"), ("threads", str(result["threads"])),
                *((f"latency {k[:-3]}", f"{lat[k]:,.1f} us") for k in ("median_us", "p90_us", "p99_us", "min_us"))]
        if result.get("peak_rss_kib") is not None:
            rows.append(("peak RSS", f"{result['peak_rss_kib']:,} KiB"))
        if result.get("instructions") is not None:
            summed = " (all threads)" if result["threads"] > 1 else ""
            rows.append((f"instructions / inference{summed}", f"{result['instructions']:,}"))
            if result.get("instructions_per_thread"):
                rows.append(("instructions per thread", ", ".join(f"{n:,}" for n in result["instructions_per_thread"])))
            if result.get("instructions_per_mac") is not None:
                rows.append(("instructions / MAC", f"{result['instructions_per_mac']:.3f}"))
        for r in rows:
            table.add_row(*r)
        _console().print(table)
        if result["mode"] == "qemu":
            _console().print("latency under QEMU is emulation time, not the board's; use --ssh for real figures")
    return 0 if result["bit_exact"] else EXIT_MISMATCH


def _add_prune_arguments(p) -> None:
    g = p.add_argument_group("budgets (absolute with units, or a share of the dense model like 50%; "
                             "none: the target's flash and SRAM; `prune` sweeps one budget given as a "
                             "comma-separated list and plots accuracy against MACs)")
    g.add_argument("--macs", help="multiply-accumulates, e.g. 1.2M or 50%%")
    g.add_argument("--flops", help="floating-point operations, e.g. 2.4M")
    g.add_argument("--params", help="parameters, e.g. 100k")
    g.add_argument("--flash", help="bytes of flash after int8 packing (weights + runtime), e.g. 256KiB")
    g.add_argument("--ram", help="peak arena bytes from the memory planner, e.g. 64KiB")
    g.add_argument("--latency", help="estimated latency on the target from its cost coefficients, e.g. 20ms")
    o = p.add_argument_group("pruning")
    o.add_argument("--criterion", default="l2", choices=["l1", "l2", "bn", "taylor", "random"],
                   help="channel importance (default l2; taylor needs --data)")
    o.add_argument("--allocation", default="auto", choices=["auto", "search", "global", "uniform"],
                   help="channels per layer: global (ranked by importance per unit of the binding budget), "
                        "uniform (the same share everywhere), search (candidates scaled to the budgets and "
                        "scored on --data after BatchNorm re-estimation); auto: search with --data, else global")
    o.add_argument("--round-to", type=int, help="keep channel counts multiples of this (default: the target's)")
    o.add_argument("--input-shape", help="PyTorch models: the input shape, e.g. 1,1,28,28")
    o.add_argument("--weights", help="PyTorch models: a state dict saved with torch.save")
    o.add_argument("--data", help="path/file.py:loaders, a callable returning (train, validation) loaders")
    o.add_argument("--epochs", type=int, default=0, help="fine-tuning epochs after pruning (needs --data)")
    o.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate (cosine schedule)")
    o.add_argument("--no-distill", action="store_true", help="fine-tune without distillation from the dense model")
    o.add_argument("--calibration", help=".npy of inputs for quantization or one-shot reconstruction")
    o.add_argument("--sparsity", help="after channel pruning, zero this share of the CONV_2D / FULLY_CONNECTED "
                   "weights in blocks the sparse kernels skip, e.g. 50%% (with --calibration the kept weights are "
                   "refit by least squares; PyTorch: masks kept while fine-tuning); auto: channels are pruned for "
                   "the MACs/FLOPs/params/RAM budgets and the smallest sparsity meeting --flash and --latency "
                   "is taken")
    o.add_argument("--sparsity-pattern",
                   help="2x4, 2x8, 2x16: blocks of 2 output channels x 4/8/16 inputs (the Cortex-M DSP kernels; "
                   "default there); 8x4: 8 output channels x 4 inputs (the NEON kernels; default on rpi4/rpi5); "
                   "n:m (1:4, 2:8, 1:8, 1:16): the n largest of every m 2x4 blocks along the input (fixed density, "
                   "--sparsity ignored)")


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgeprune",
        description="Compile neural networks to C for microcontrollers and ARM Linux, verified under QEMU.",
    )
    p.add_argument("--version", action="version", version=f"edgeprune {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="compile a model to a C folder for a target")
    b.add_argument("model", help="a .tflite model (int8, float32 or hybrid); with budgets also "
                   "path/file.py:factory or .onnx, pruned first")
    b.add_argument("--target", "-t", required=True, help="device profile (see `edgeprune targets`)")
    b.add_argument("--output", "-o", required=True, help="output folder (replaced atomically)")
    b.add_argument("--name", help="C identifier prefix of the generated API (default: the model file name)")
    b.add_argument("--format", choices=["c", "tflite"], default="c",
                   help="c: a C folder (default); tflite: the (pruned) int8 model file")
    b.add_argument("--threads", type=int, default=1,
                   help="Linux targets: threads per inference; convolutions, pools and element-wise ADD/MUL are "
                        "split across them, bit-identical to 1 thread (default 1)")
    b.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_prune_arguments(b)
    b.set_defaults(func=cmd_build)

    pr = sub.add_parser("prune", help="prune a model until every budget holds; write an int8 .tflite")
    pr.add_argument("model", help="path/file.py:factory (PyTorch), model.onnx or model.tflite")
    pr.add_argument("--target", "-t", required=True, help="device profile (see `edgeprune targets`)")
    pr.add_argument("--output", "-o", required=True, help="the pruned .tflite to write")
    pr.add_argument("--report", help="where to write the JSON report (default: OUTPUT with .report.json)")
    pr.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_prune_arguments(pr)
    pr.set_defaults(func=cmd_prune)

    v = sub.add_parser("verify", help="run a built folder and compare it with the LiteRT reference kernels")
    v.add_argument("output", help="a folder written by `edgeprune build`")
    v.add_argument("--qemu", action="store_true", help="cross-compile and run under QEMU (else on the host)")
    v.add_argument("--inputs", type=int, default=8, help="number of deterministic inputs (default 8)")
    v.add_argument("--sanitize", action="store_true",
                   help="Linux targets: build the generated C with ASan and UBSan and run it natively")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.set_defaults(func=cmd_verify)

    be = sub.add_parser("bench", help="latency, peak RSS and bit-exactness on a Raspberry Pi (ssh) or under QEMU")
    be.add_argument("model", help="a .tflite model, or a folder written by `edgeprune build` for the same target")
    be.add_argument("--target", "-t", required=True, help="a Linux device profile (rpi4, rpi5)")
    be.add_argument("--ssh", metavar="USER@HOST", help="run on this device (else locally under qemu-user)")
    be.add_argument("--ssh-port", type=int, help="ssh port (default: ssh's)")
    be.add_argument("--ssh-key", help="ssh identity file")
    be.add_argument("--ssh-option", action="append", metavar="KEY=VALUE", help="extra ssh -o option (repeatable)")
    be.add_argument("--runs", type=int, default=20, help="timed inferences (default 20)")
    be.add_argument("--warmup", type=int, default=3, help="untimed inferences first (default 3)")
    be.add_argument("--threads", type=int, default=1,
                    help="threads per inference (default 1); under QEMU the instructions are summed over the threads")
    be.add_argument("--json", action="store_true", help="print the result as JSON")
    be.set_defaults(func=cmd_bench)

    i = sub.add_parser("inspect", help="per-layer costs, memory plan and fit of a model on a target")
    i.add_argument("model")
    i.add_argument("--target", "-t", default="cortex-m7", help="device profile (default cortex-m7)")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_inspect)

    t = sub.add_parser("targets", help="list the device profiles")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_targets)
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except EdgePruneError as e:
        print(f"edgeprune: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("edgeprune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
