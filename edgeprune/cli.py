"""The `edgeprune` command line: build, verify, inspect, targets.

Every EdgePruneError becomes one line on stderr and exit code 2; a failed verification exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys

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
        f"MACs {s['macs']:,}   FLOPs {s['flops']:,}   params {s['params']:,}\n"
        f"weights {_kib(s['weight_bytes'])}   peak RAM (arena) {_kib(s['peak_ram_bytes'])}\n"
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
    for p in profiles:
        q = p.qemu
        emu = "-" if q is None else f"{q.system or ''} {q.machine or q.cpu or ''}".strip()
        table.add_row(p.name, p.part, f"{p.clock_hz / 1e6:.0f} MHz", _kib(p.sram_bytes), _kib(p.flash_bytes),
                      ", ".join(p.isa), emu)
    _console().print(table)
    return 0


def cmd_inspect(args) -> int:
    from edgeprune.pipeline import analyze, load_model, summary
    from edgeprune.targets import load_profile

    profile = load_profile(args.target)
    graph = load_model(args.model)
    s = summary(analyze(graph, args.model, profile.isa), profile)
    s["model"] = str(args.model)
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        _print_summary(s)
    return 0


def cmd_build(args) -> int:
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile

    profile = load_profile(args.target)
    report = build(args.model, profile, args.output, name=args.name)
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


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgeprune",
        description="Compile neural networks to C for microcontrollers and ARM Linux, verified under QEMU.",
    )
    p.add_argument("--version", action="version", version=f"edgeprune {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="compile a model to a C folder for a target")
    b.add_argument("model", help="an int8, float32 or hybrid .tflite model")
    b.add_argument("--target", "-t", required=True, help="device profile (see `edgeprune targets`)")
    b.add_argument("--output", "-o", required=True, help="output folder (replaced atomically)")
    b.add_argument("--name", help="C identifier prefix of the generated API (default: the model file name)")
    b.add_argument("--json", action="store_true", help="print the report as JSON")
    b.set_defaults(func=cmd_build)

    v = sub.add_parser("verify", help="run a built folder and compare it with the LiteRT reference kernels")
    v.add_argument("output", help="a folder written by `edgeprune build`")
    v.add_argument("--qemu", action="store_true", help="cross-compile and run under QEMU (else on the host)")
    v.add_argument("--inputs", type=int, default=8, help="number of deterministic inputs (default 8)")
    v.add_argument("--sanitize", action="store_true",
                   help="Linux targets: build the generated C with ASan and UBSan and run it natively")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.set_defaults(func=cmd_verify)

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
