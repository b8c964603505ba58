"""Benchmark: the shared int8 models on the Raspberry Pi profiles under qemu-aarch64 / qemu-arm, against LiteRT.

For each model and target (rpi4 = -cpu cortex-a72: SMLAL/SADALP kernels; rpi5 = -cpu cortex-a76: SDOT): instructions
per inference (exact, QEMU TCG plugin) and per MAC with the portable kernels ("before") and the NEON kernels, next to
LiteRT's counts in ../shared/baselines/litert_aarch64.json (XNNPACK and the optimized builtin kernels, same QEMU
CPUs, same input pattern), the 0.7x goal (of the smaller LiteRT count) and the arithmetic floor of the MAC
instructions (SDOT: 16 MACs per instruction; SMULL + SMLAL2 + SADALP: 16 MACs per 3 instructions). Each model is
also pruned (one-shot channel pruning to --prune of its MACs) and run on the same dense kernels, with the ratio of
its count to the dense model's. Every run is checked bit-exact against LiteRT's reference kernels.
rpi4-armv7 (32-bit Raspberry Pi OS, qemu-arm -cpu cortex-a15: the AArch32 NEON kernels, *_neon32.cc) has no LiteRT
baseline: its rows compare with the portable kernels only.
Writes OUT.json (with the per-layer profiles) and OUT.md, prints the table. --merge keeps OUT.json's rows that this
run does not re-measure (other targets; with --no-before, the portable rows).

Usage: python bench/pi.py [--models DIR] [--targets rpi4,rpi5,rpi4-armv7] [--prune 50%] [--no-before] [--merge]
                          [--out bench/results/pi]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = ("kws_ref_model.tflite", "resnet8_cifar10_int8.tflite")
GOAL = 0.7
FLOOR_MACS_PER_INSTRUCTION = {"rpi4": 16 / 3, "rpi5": 16.0, "rpi4-armv7": 16 / 3}  # armv7: VMULL + VMLAL + VPADAL


def measure(model: Path, target: str, neon: bool = True) -> dict:
    from edgeprune.lower.isa import neon as neon_isa
    from edgeprune.lower.isa import neon32 as neon32_isa
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    saved, saved32 = dict(neon_isa.ENABLED), dict(neon32_isa.ENABLED)
    try:
        for key in neon_isa.ENABLED:
            neon_isa.ENABLED[key] = neon
        for key in neon32_isa.ENABLED:
            neon32_isa.ENABLED[key] = neon
        with tempfile.TemporaryDirectory(prefix="edgeprune-bench-") as tmp:
            out = Path(tmp) / "out"
            report = build(model, load_profile(target), out)
            r = verify(out, inputs=1, qemu=True)
    finally:
        neon_isa.ENABLED.update(saved)
        neon32_isa.ENABLED.update(saved32)
    macs = int(report["macs"])
    return {"model": model.name, "target": target, "kernels": "neon" if neon else "portable",
            "bit_exact": r["bit_exact"], "macs": macs, "instructions": r["instructions"],
            "instructions_per_mac": r["instructions"] / macs if macs else None, "layers": r.get("layers")}


def prune(model: Path, target: str, share: str, out: Path) -> Path | None:
    cmd = [sys.executable, "-m", "edgeprune", "prune", str(model), "--target", target, "--macs", share, "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"  pruning {model.name} failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return out


def with_baseline(row: dict, baselines: dict) -> dict:
    base = baselines.get(row["model"], {}).get(row["target"], {})
    xnn, opt = base.get("xnnpack"), base.get("builtin_optimized")
    best = min(v for v in (xnn, opt) if v) if (xnn or opt) else None
    row["litert"] = {"xnnpack": xnn, "builtin_optimized": opt, "builtin_reference": base.get("builtin_reference"),
                     "min": best}
    row["ratio_to_litert_min"] = row["instructions"] / best if best else None
    row["goal_instructions"] = int(GOAL * best) if best else None
    row["goal_met"] = row["instructions"] <= GOAL * best if best else None
    row["floor_instructions"] = int(row["macs"] / FLOOR_MACS_PER_INSTRUCTION[row["target"]])
    return row


def markdown(rows: list[dict]) -> str:
    head = ["model", "target", "kernels", "bit-exact", "MACs", "instructions", "instr/MAC", "LiteRT XNNPACK",
            "LiteRT optimized", "vs min LiteRT", "goal (0.7x)", "met", "MAC floor"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 4 + ["---:"] * (len(head) - 4)) + "|"]

    def num(v, fmt="{:,}"):
        return fmt.format(v) if v is not None else "-"

    for r in rows:
        lt = r.get("litert", {})
        lines.append("| " + " | ".join([
            r["model"].removesuffix(".tflite"), r["target"], r["kernels"], "yes" if r["bit_exact"] else "**NO**",
            num(r["macs"]), num(r["instructions"]), num(r["instructions_per_mac"], "{:.3f}"), num(lt.get("xnnpack")),
            num(lt.get("builtin_optimized")), num(r.get("ratio_to_litert_min"), "{:.2f}x"),
            num(r.get("goal_instructions")), {True: "yes", False: "no"}.get(r.get("goal_met"), "-"),
            num(r.get("floor_instructions"))]) + " |")
    notes = ("\nInstructions per inference under qemu-aarch64 (-cpu cortex-a72 for rpi4, cortex-a76 for rpi5) and "
             "qemu-arm (-cpu cortex-a15 for rpi4-armv7, 32-bit Raspberry Pi OS: no LiteRT baseline), input "
             "pattern ((i*37+11) % 256) - 128. LiteRT: ai-edge-litert single-threaded, same CPUs and input "
             "(../shared/baselines/litert_aarch64.json); XNNPACK and the optimized builtin kernels are not always "
             "bit-exact with the reference, ours are. Goal: at most 0.7x the smaller LiteRT count. MAC floor: the "
             "instructions the multiply-accumulates alone need (SDOT 16 MACs each; SMULL + SMLAL2 + SADALP 16 MACs "
             "per 3; armv7 VMULL + VMLAL + VPADAL the same). Pruned rows"
             ": one-shot channel pruning to the given share of MACs, on the same dense kernels "
             "(no LiteRT baseline).\n")
    return "\n".join(lines) + "\n" + notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=SHARED / "models")
    ap.add_argument("--baselines", type=Path, default=SHARED / "baselines" / "litert_aarch64.json")
    ap.add_argument("--targets", default="rpi4,rpi5")
    ap.add_argument("--prune", default="50%", help="MACs share of the pruned variant ('' to skip)")
    ap.add_argument("--no-before", action="store_true", help="skip the portable-kernel runs")
    ap.add_argument("--merge", action="store_true", help="keep OUT.json's rows that this run does not re-measure")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "pi", help="writes OUT.json and OUT.md")
    args = ap.parse_args(argv)

    baselines = json.loads(args.baselines.read_text())["models"] if args.baselines.is_file() else {}
    models = [args.models / m for m in MODELS if (args.models / m).is_file()]
    if not models:
        print(f"bench: none of {', '.join(MODELS)} in {args.models}", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgeprune-pi-") as tmp:
        for model in models:
            for target in args.targets.split(","):
                dense = None
                for neon in ([False, True] if not args.no_before else [True]):
                    t0 = time.time()
                    row = with_baseline(measure(model, target, neon), baselines)
                    rows.append(row)
                    dense = row
                    print(f"  {model.name} on {target} ({row['kernels']}): {row['instructions']:,} instructions "
                          f"({time.time() - t0:.0f} s)", file=sys.stderr)
                if args.prune:
                    pruned = prune(model, target, args.prune, Path(tmp) / f"{model.stem}_{target}_pruned.tflite")
                    if pruned is not None:
                        row = measure(pruned, target)
                        row["model"] = f"{model.stem} pruned to {args.prune} MACs"
                        row["floor_instructions"] = int(row["macs"] / FLOOR_MACS_PER_INSTRUCTION[target])
                        row["ratio_to_dense"] = row["instructions"] / dense["instructions"]
                        rows.append(row)
                        print(f"  {row['model']} on {target}: {row['instructions']:,} instructions "
                              f"({row['ratio_to_dense']:.2f}x the dense model)", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.merge and args.out.with_suffix(".json").is_file():
        # OUT.json's rows in their order, each replaced by this run's row of the same model, target and kernels
        # (so --no-before keeps the portable rows); rows new to OUT.json go last.
        def key(r):
            return r["model"], r["target"], r["kernels"]

        fresh = {key(r): r for r in rows}
        old = json.loads(args.out.with_suffix(".json").read_text())["rows"]
        rows = [fresh.pop(key(r), r) for r in old] + [r for r in rows if key(r) in fresh]
    table = markdown(rows)
    pruned_lines = [f"- {r['model']} on {r['target']}: {r['instructions']:,} instructions, {r['macs']:,} MACs, "
                    f"{r['ratio_to_dense']:.2f}x the dense model's instructions" for r in rows if "ratio_to_dense" in r]
    if pruned_lines:
        table += "\nPruned vs dense (NEON kernels):\n" + "\n".join(pruned_lines) + "\n"
    payload = {"baselines": str(args.baselines), "rows": rows}
    ratios = [f"- {b['model'].removesuffix('.tflite')} on {b['target']}: portable {b['instructions']:,} -> NEON "
              f"{n['instructions']:,} instructions = {n['instructions'] / b['instructions']:.2f}x"
              for b, n in zip(rows, rows[1:]) if b["target"] == "rpi4-armv7" and b["kernels"] == "portable"
              and n["kernels"] == "neon" and n["model"] == b["model"] and n["target"] == b["target"]]
    if ratios:
        table += "\nrpi4-armv7 (AArch32 NEON vs the portable kernels, no LiteRT baseline):\n" + "\n".join(ratios) + "\n"
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(table)
    print(table)
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
