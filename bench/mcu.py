"""Benchmark: every int8 model of a folder on Cortex-M4, M7 and M55 under QEMU, against TFLite Micro + CMSIS-NN.

For each model and target: instructions per inference (exact, QEMU TCG plugin), instructions per MAC, arena
bytes, runtime flash bytes and weight bytes, each with its ratio to /work/shared/baselines/tflm_cmsisnn.json
(ratio < 1: edgeprune needs less). Baseline figures: invoke_instructions, arena_bytes,
runtime_flash_int8_only_bytes; TFLM keeps the whole .tflite flatbuffer in flash, so our weight bytes are
compared with the model file's size. Writes OUT.json (with the per-layer profiles) and OUT.md, prints the table.

Usage: python bench/mcu.py [--models DIR] [--targets cortex-m4,cortex-m7,cortex-m55] [--out bench/results/mcu]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TARGETS = ("cortex-m4", "cortex-m7", "cortex-m55")


def is_int8_model(path: Path) -> bool:
    from edgeprune.pipeline import load_model

    graph = load_model(path)
    return all(t.dtype == "int8" for t in graph.activations())


def measure(model: Path, target: str) -> dict:
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    with tempfile.TemporaryDirectory(prefix="edgeprune-bench-") as tmp:
        out = Path(tmp) / "out"
        report = build(model, load_profile(target), out)
        r = verify(out, inputs=1, qemu=True)
    macs = int(report["macs"])
    return {
        "model": model.name, "target": target, "bit_exact": r["bit_exact"], "macs": macs,
        "instructions": r["instructions"], "instructions_per_mac": r["instructions"] / macs if macs else None,
        "arena_bytes": r["arena_bytes"], "runtime_flash_bytes": r["runtime_flash_bytes"],
        "weight_bytes": r["weight_bytes"], "ram_bytes": r["ram_bytes"], "layers": r.get("layers"),
    }


def with_ratios(row: dict, baselines: dict, model_file_bytes: int) -> dict:
    entry = baselines.get(row["model"], {})
    base = entry.get(row["target"], {}).get("cmsis_nn") or {}
    macs = entry.get("macs") or row["macs"]
    ref = {
        "instructions": base.get("invoke_instructions"),
        "instructions_per_mac": base["invoke_instructions"] / macs if base.get("invoke_instructions") else None,
        "arena_bytes": base.get("arena_bytes"),
        "runtime_flash_bytes": base.get("runtime_flash_int8_only_bytes"),
        "weight_bytes": model_file_bytes if base else None,
    }
    row["baseline"] = ref
    row["ratio"] = {k: (row[k] / v if v and row[k] is not None else None) for k, v in ref.items()}
    return row


COLUMNS = [("instructions", "instructions", "{:,}"), ("instructions_per_mac", "instr/MAC", "{:.2f}"),
           ("arena_bytes", "arena B", "{:,}"), ("runtime_flash_bytes", "runtime flash B", "{:,}"),
           ("weight_bytes", "weights B", "{:,}")]


def markdown(rows: list[dict]) -> str:
    head = ["model", "target", "bit-exact"]
    for _, label, _ in COLUMNS:
        head += [label, "vs TFLM"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (2 * len(COLUMNS))) + "|"]
    for row in rows:
        cells = [row["model"].removesuffix(".tflite"), row["target"], "yes" if row["bit_exact"] else "**NO**"]
        for key, _, fmt in COLUMNS:
            v, ratio = row[key], row["ratio"].get(key)
            cells += [fmt.format(v) if v is not None else "-", f"{ratio:.2f}x" if ratio is not None else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    notes = ("\nRatios: ours / TFLite Micro + CMSIS-NN (instructions per Invoke, arena_used_bytes, runtime flash "
             "with only the int8 kernels registered, and the .tflite file TFLM keeps in flash for the weights).")
    return "\n".join(lines) + "\n" + notes + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=SHARED / "models", help="a folder of .tflite files, or one file")
    ap.add_argument("--baselines", type=Path, default=SHARED / "baselines" / "tflm_cmsisnn.json")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "mcu",
                    help="writes OUT.json and OUT.md")
    args = ap.parse_args(argv)

    baselines = json.loads(args.baselines.read_text())["models"] if args.baselines.is_file() else {}
    models = [args.models] if args.models.is_file() else sorted(args.models.glob("*.tflite"))
    models = [m for m in models if is_int8_model(m)]
    if not models:
        print(f"bench: no int8 .tflite models in {args.models}", file=sys.stderr)
        return 2
    rows = []
    for model in models:
        for target in args.targets.split(","):
            t0 = time.time()
            row = with_ratios(measure(model, target), baselines, model.stat().st_size)
            row["seconds"] = round(time.time() - t0, 1)
            rows.append(row)
            print(f"  {model.name} on {target}: {row['instructions']:,} instructions, arena {row['arena_bytes']:,} B "
                  f"({row['seconds']} s)", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table = markdown(rows)
    payload = {"baselines": str(args.baselines), "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(table)
    print(table)
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
