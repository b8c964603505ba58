"""Benchmark: the MLPerf Tiny int8 models on every Cortex-M target under QEMU, against TFLite Micro + CMSIS-NN.

Prints one table: instructions per inference, runtime flash, arena and total RAM, each with its ratio to the
baseline in ../shared/baselines/tflm_cmsisnn.json (ratio < 1 means edgeprune uses less).
Usage: python bench/cortex_m.py [--models DIR] [--targets cortex-m4,cortex-m7,cortex-m55] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=SHARED / "models")
    ap.add_argument("--baselines", type=Path, default=SHARED / "baselines" / "tflm_cmsisnn.json")
    ap.add_argument("--targets", default="cortex-m4,cortex-m7,cortex-m55")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    if not args.baselines.is_file():
        print(f"bench: {args.baselines} not found", file=sys.stderr)
        return 2
    baselines = json.loads(args.baselines.read_text())["models"]
    rows = []
    for model_name, base in baselines.items():
        model = args.models / model_name
        if not model.is_file():
            continue
        for target in args.targets.split(","):
            ref = base.get(target, {}).get("cmsis_nn")
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "out"
                build(model, load_profile(target), out)
                r = verify(out, inputs=1, qemu=True)
            rows.append({"model": model_name, "target": target, "bit_exact": r["bit_exact"],
                         "instructions": r["instructions"], "runtime_flash_bytes": r["runtime_flash_bytes"],
                         "arena_bytes": r["arena_bytes"], "ram_bytes": r["ram_bytes"],
                         "baseline": ref})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0

    def ratio(ours, theirs):
        return f"{ours / theirs:.2f}x" if theirs else "-"

    table = Table(title="edgeprune vs TFLite Micro + CMSIS-NN (QEMU, one inference, input pattern (i*37+11)%256-128)")
    for col in ("model", "target", "bit-exact", "instructions", "vs CMSIS-NN", "runtime flash", "vs int8-only",
                "arena", "vs", "RAM total", "vs"):
        table.add_column(col, justify="left" if col in ("model", "target") else "right")
    for row in rows:
        b = row["baseline"] or {}
        table.add_row(row["model"].replace(".tflite", ""), row["target"], "yes" if row["bit_exact"] else "NO",
                      f"{row['instructions']:,}", ratio(row["instructions"], b.get("invoke_instructions")),
                      f"{row['runtime_flash_bytes']:,}",
                      ratio(row["runtime_flash_bytes"], b.get("runtime_flash_int8_only_bytes")),
                      f"{row['arena_bytes']:,}", ratio(row["arena_bytes"], b.get("arena_bytes")),
                      f"{row['ram_bytes']:,}", ratio(row["ram_bytes"], b.get("ram_total_bytes")))
    Console(width=160).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
