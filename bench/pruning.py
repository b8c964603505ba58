"""Benchmark: edgeprune's budget-driven channel pruning against Torch-Pruning's uniform L1 baseline.

Trains a small residual CNN on Fashion-MNIST (fixed seeds), prunes it to fractions of its MACs for a Cortex-M
target (a) with `prune_torch` (allocation search: candidates scored by adaptive-BN validation accuracy; then
fine-tuning with distillation) and (b) with Torch-Pruning's MetaPruner + GroupMagnitudeImportance(p=1) at one
uniform ratio found by bisection to meet the same MAC budget (same round_to, fine-tuning epochs, learning rate and
distillation). Every model is exported to int8 .tflite and scored in LiteRT (BUILTIN_REF kernels) on the whole test
set, and in edgeprune's C runtime under QEMU on the first --qemu-images test images, whose int8 outputs must equal
LiteRT's bit for bit.

Writes bench/results/pruning.json and pruning.png and prints a table.
Usage: python bench/pruning.py [--target cortex-m4] [--fractions 0.5,0.25] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import fashion_mnist as fm
import torch
from torch import nn

TARGET_DROP = {0.5: 1.0, 0.25: 2.5}  # issue 3 item 9: allowed int8 accuracy drop (points) at these MAC shares


@dataclass
class Config:
    target: str = "cortex-m4"
    fractions: tuple[float, ...] = (0.5, 0.25)
    width: int = 24
    train_size: int | None = 16000  # training images (None: all 55,000)
    epochs: int = 4  # dense training
    lr: float = 3e-3
    ft_epochs: int = 6  # fine-tuning after pruning, both methods
    ft_lr: float = 1e-3
    batch_size: int = 128
    criterion: str = "l2"
    calibration_images: int = 64
    test_images: int | None = None  # LiteRT test images (None: all 10,000)
    qemu_images: int = 500
    seed: int = 0
    threads: int = 2


@dataclass
class Timer:
    phases: dict = field(default_factory=dict)
    start: float = field(default_factory=time.perf_counter)

    def add(self, name: str, since: float) -> float:
        now = time.perf_counter()
        print(f"    [{name}: {now - since:.1f} s]", flush=True)
        self.phases[name] = round(self.phases.get(name, 0.0) + now - since, 1)
        return now


# ---------------------------------------------------------------------------------------------- int8 scoring


def quantize_inputs(tflite: bytes, x: torch.Tensor) -> np.ndarray:
    """Float model inputs -> the int8 values the .tflite takes (its input scale and zero point)."""
    from ai_edge_litert.interpreter import Interpreter

    d = Interpreter(model_content=tflite).get_input_details()[0]
    scale, zero = d["quantization"]
    q = np.round(x.numpy() / scale) + zero
    info = np.iinfo(d["dtype"])
    return np.clip(q, info.min, info.max).astype(d["dtype"])


def litert_outputs(tflite: bytes, inputs: np.ndarray) -> np.ndarray:
    """int8 outputs of LiteRT's reference kernels (BUILTIN_REF, as in reference.litert_run) on every input,
    with one interpreter for all of them."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    din, dout = interp.get_input_details()[0], interp.get_output_details()[0]
    out = np.empty((len(inputs), int(np.prod(dout["shape"]))), dtype=dout["dtype"])
    for i, x in enumerate(inputs):
        interp.set_tensor(din["index"], x.reshape(din["shape"]))
        interp.invoke()
        out[i] = interp.get_tensor(dout["index"]).reshape(-1)
    return out


def c_outputs(tflite: bytes, profile, inputs: np.ndarray, work: Path, name: str) -> tuple[np.ndarray, dict]:
    """Our C runtime's int8 outputs under QEMU (pipeline.build + verify.run_inputs), and what the run measured."""
    from edgeprune.pipeline import build
    from edgeprune.verify import run_inputs

    model_path = work / f"{name}.tflite"
    model_path.write_bytes(tflite)
    out_dir = work / f"{name}_c"
    build(model_path, profile, out_dir, name=name)
    measures: dict = {}
    outs = run_inputs(out_dir, [[x] for x in inputs], profile, measures=measures)
    return np.stack([o[0].reshape(-1) for o in outs]), measures


# ---------------------------------------------------------------------------------------------- baseline


def torch_macs(model: nn.Module, example: torch.Tensor, profile) -> float:
    from edgeprune.pipeline import runtime_flash_estimate
    from edgeprune.prune.torch_cost import TorchCostModel

    return float(TorchCostModel(model, example, profile, runtime_flash_estimate(profile)).measure().macs)


def uniform_l1(model: nn.Module, example: torch.Tensor, ratio: float, round_to: int) -> nn.Module:
    """Torch-Pruning's uniform baseline: every group loses `ratio` of its channels by group L1 magnitude."""
    import torch_pruning as tp

    from edgeprune.prune.channel import output_layers

    model = copy.deepcopy(model).eval()
    pruner = tp.pruner.MetaPruner(model, example, importance=tp.importance.GroupMagnitudeImportance(p=1),
                                  pruning_ratio=ratio, global_pruning=False, round_to=round_to,
                                  ignored_layers=output_layers(model, example))
    pruner.step()
    return model


def uniform_ratio_for(model: nn.Module, example: torch.Tensor, profile, target_macs: float, round_to: int,
                      iters: int = 14, max_ratio: float = 0.7) -> tuple[float, nn.Module]:
    """The uniform ratio whose model's MACs (the torch-side count) come closest to `target_macs`.

    With channel counts rounded to `round_to`, MACs are a step function of the ratio: bisection finds the step
    at `target_macs`, and the closer of the two models on either side of it is taken (it may have slightly more
    MACs than the target: then the baseline has the advantage). Ratios stay below `max_ratio`, past which
    Torch-Pruning skips groups it would empty and the MACs stop falling monotonically.
    """
    lo, hi = 0.0, max_ratio
    lo_model, hi_model = copy.deepcopy(model), uniform_l1(model, example, hi, round_to)
    if torch_macs(hi_model, example, profile) > target_macs:
        raise RuntimeError(f"uniform L1 at ratio {max_ratio} does not reach {target_macs:,.0f} MACs")
    for _ in range(iters):
        mid = (lo + hi) / 2
        pruned = uniform_l1(model, example, mid, round_to)
        if torch_macs(pruned, example, profile) <= target_macs:
            hi, hi_model = mid, pruned
        else:
            lo, lo_model = mid, pruned
    above = torch_macs(lo_model, example, profile) - target_macs
    below = target_macs - torch_macs(hi_model, example, profile)
    return (lo, lo_model) if above < below else (hi, hi_model)


# ---------------------------------------------------------------------------------------------- bench


def channels(model: nn.Module) -> dict[str, int]:
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def run(cfg: Config, out_dir: Path | None = None, log=print) -> dict:
    from edgeprune.prune.api import measure_tflite, prune_torch
    from edgeprune.prune.budgets import parse_budget
    from edgeprune.prune.export import export_int8_tflite
    from edgeprune.prune.finetune import evaluate, finetune
    from edgeprune.targets import load_profile

    timer = Timer()
    t = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    profile = load_profile(cfg.target)
    round_to = int(profile.round_to)
    train, val = fm.loaders(batch_size=cfg.batch_size, train_limit=cfg.train_size, seed=cfg.seed)
    test_x, test_y = fm.tensors("test", cfg.test_images)
    test = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(test_x, test_y), batch_size=1000)
    labels = test_y.numpy()
    n_qemu = min(cfg.qemu_images, len(labels))
    example = torch.zeros(1, 1, 28, 28)
    calibration = [x.unsqueeze(0) for x in train.dataset.tensors[0][: cfg.calibration_images]]
    t = timer.add("data", t)

    log(f"training the dense model ({len(train.dataset)} images, {cfg.epochs} epochs)")
    torch.manual_seed(cfg.seed)
    dense = fm.model(cfg.width)
    ft = finetune(dense, train, val, cfg.epochs, lr=cfg.lr, teacher=None, seed=cfg.seed)
    dense.eval()
    t = timer.add("train dense", t)

    work_ctx = tempfile.TemporaryDirectory(prefix="edgeprune-bench-")
    work = Path(work_ctx.name)
    rows: list[dict] = []

    def score(name: str, method: str, fraction: float, model: nn.Module, tflite: bytes, extra: dict) -> dict:
        nonlocal t
        report = measure_tflite(tflite, profile)
        float_acc = evaluate(model, test)
        t = timer.add("evaluate float", t)
        q = quantize_inputs(tflite, test_x)
        ref = litert_outputs(tflite, q)
        int8_acc = float((ref.argmax(1) == labels).mean())
        t = timer.add("LiteRT int8", t)
        ours, measured = c_outputs(tflite, profile, q[:n_qemu], work, name)
        same = np.all(ours == ref[:n_qemu], axis=1)
        c_pred = ours.argmax(1)
        t = timer.add("C under QEMU", t)
        row = {
            "name": name, "method": method, "mac_fraction_budget": fraction,
            "macs": report["macs"], "params": report["params"], "weight_bytes": report["weight_bytes"],
            "flash_bytes": report["flash_bytes"], "peak_ram_bytes": report["peak_ram_bytes"],
            "latency_ms_estimate": report["latency_ms"],
            "float_accuracy": float_acc, "int8_accuracy_litert": int8_acc, "litert_images": len(labels),
            "int8_accuracy_c": float((c_pred == labels[:n_qemu]).mean()), "c_images": n_qemu,
            "int8_accuracy_litert_same_images": float((ref[:n_qemu].argmax(1) == labels[:n_qemu]).mean()),
            "c_outputs_equal_litert": int(same.sum()),
            "c_predictions_equal_litert": int((c_pred == ref[:n_qemu].argmax(1)).sum()),
            "instructions_per_inference": (int(np.median(measured["instructions_per_input"]))
                                           if measured.get("instructions_per_input") else None),
            "c_flash_bytes": measured.get("flash_bytes"), "c_ram_bytes": measured.get("ram_bytes"),
            "channels": channels(model), **extra,
        }
        log(f"  {name}: MACs {row['macs']:,}  float {float_acc:.4f}  int8 LiteRT {int8_acc:.4f}  "
            f"C {row['int8_accuracy_c']:.4f} ({row['c_outputs_equal_litert']}/{n_qemu} outputs equal LiteRT)")
        return row

    log("int8 export of the dense model")
    dense_tflite = export_int8_tflite(dense, example, calibration)
    t = timer.add("int8 export", t)
    dense_row = score("dense", "dense", 1.0, dense, dense_tflite,
                      {"train_epochs": cfg.epochs, "best_val_epoch": ft.best_epoch,
                       "val_accuracy": ft.best_accuracy})
    rows.append(dense_row)
    dense_macs = dense_row["macs"]

    for fraction in cfg.fractions:
        pct = f"{fraction * 100:g}%"
        log(f"edgeprune: prune_torch --macs {pct} ({cfg.criterion}, {cfg.ft_epochs} epochs, distillation)")
        outcome = prune_torch(copy.deepcopy(dense), example, profile, [parse_budget("macs", pct)],
                              criterion=cfg.criterion, calibration=calibration, train_loader=train,
                              val_loader=val, epochs=cfg.ft_epochs, lr=cfg.ft_lr, distill=True,
                              round_to=round_to)
        t = timer.add("edgeprune prune + fine-tune + export", t)
        rounds = [h for h in outcome.history if "finetune" in h]
        ours_epochs = sum(len(h["finetune"]) for h in rounds)
        ours = score(f"edgeprune_{int(fraction * 100)}", "edgeprune", fraction, outcome.model, outcome.tflite,
                     {"criterion": cfg.criterion, "finetune_epochs": ours_epochs, "rounds": len(rounds),
                      "budget_status": outcome.report["budgets"], "allocation": outcome.report["allocation"],
                      "allocation_candidates": outcome.report.get("allocation_candidates", [])})
        rows.append(ours)

        log(f"uniform L1: bisection for the ratio that lands at edgeprune's MACs ({ours['macs']:,})")
        # The torch-side count steers the bisection; the int8 model is then measured by the IR cost model.
        target = ours["macs"] * torch_macs(dense, example, profile) / dense_macs
        ratio, baseline = uniform_ratio_for(dense, example, profile, target, round_to)
        t = timer.add("uniform L1 bisection", t)
        torch.manual_seed(cfg.seed)
        bft = finetune(baseline, train, val, ours_epochs, lr=cfg.ft_lr, teacher=copy.deepcopy(dense),
                       seed=cfg.seed)
        baseline.eval()
        t = timer.add("uniform L1 fine-tune", t)
        base_tflite = export_int8_tflite(baseline, example, calibration)
        t = timer.add("int8 export", t)
        rows.append(score(f"uniform_l1_{int(fraction * 100)}", "uniform_l1", fraction, baseline, base_tflite,
                          {"pruning_ratio": round(ratio, 4), "finetune_epochs": ours_epochs,
                           "val_accuracy": bft.best_accuracy}))
    work_ctx.cleanup()

    checks = []
    for fraction in cfg.fractions:
        ours = next(r for r in rows if r["method"] == "edgeprune" and r["mac_fraction_budget"] == fraction)
        base = next(r for r in rows if r["method"] == "uniform_l1" and r["mac_fraction_budget"] == fraction)
        drop = (dense_row["int8_accuracy_litert"] - ours["int8_accuracy_litert"]) * 100
        allowed = TARGET_DROP.get(fraction)
        checks.append({
            "mac_fraction_budget": fraction,
            "edgeprune_mac_fraction": ours["macs"] / dense_macs,
            "uniform_l1_mac_fraction": base["macs"] / dense_macs,
            "edgeprune_meets_budget": ours["macs"] <= fraction * dense_macs * (1 + 1e-9),
            "uniform_l1_meets_budget": base["macs"] <= fraction * dense_macs * (1 + 1e-9),
            "int8_drop_points": round(drop, 2),
            "allowed_drop_points": allowed,
            "drop_ok": None if allowed is None else drop <= allowed,
            "edgeprune_minus_uniform_l1_points": round(
                (ours["int8_accuracy_litert"] - base["int8_accuracy_litert"]) * 100, 2),
            "not_worse_than_uniform_l1": ours["int8_accuracy_litert"] >= base["int8_accuracy_litert"],
        })
    all_c_equal = all(r["c_outputs_equal_litert"] == r["c_images"] for r in rows)
    result = {
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()},
        "dataset": "Fashion-MNIST (train 55,000 / validation 5,000 from the training set; test 10,000)",
        "train_images": len(train.dataset), "validation_images": len(val.dataset), "test_images": len(labels),
        "models": rows, "checks": checks, "c_outputs_equal_litert_everywhere": all_c_equal,
        "seconds": {**timer.phases, "total": round(time.perf_counter() - timer.start, 1)},
        "torch_threads": cfg.threads,
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "pruning.json").write_text(json.dumps(result, indent=1) + "\n")
        plot(result, out_dir / "pruning.png")
    return result


# ---------------------------------------------------------------------------------------------- output


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["models"]
    dense = next(r for r in rows if r["method"] == "dense")
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for method, label, style in (("edgeprune", "edgeprune (allocation search, adaptive BN)", "o-"),
                                 ("uniform_l1", "Torch-Pruning uniform L1", "s--")):
        pts = sorted((r["macs"], r["int8_accuracy_litert"] * 100) for r in rows if r["method"] in (method, "dense"))
        ax.plot([p[0] / 1e6 for p in pts], [p[1] for p in pts], style, label=label)
    ax.plot([dense["macs"] / 1e6], [dense["int8_accuracy_litert"] * 100], "k*", markersize=14, label="dense int8")
    for fraction, allowed in TARGET_DROP.items():
        if fraction in result["config"]["fractions"]:
            ax.plot([fraction * dense["macs"] / 1e6], [(dense["int8_accuracy_litert"] * 100) - allowed], "rv",
                    markersize=7, label="target (max drop)" if fraction == 0.5 else None)
    ax.set_xlabel("MACs per inference (millions, int8 model)")
    ax.set_ylabel("int8 test accuracy, LiteRT (%)")
    ax.set_title(f"Fashion-MNIST, {result['config']['target']}: accuracy vs MACs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = result["models"]
    dense = next(r for r in rows if r["method"] == "dense")
    table = Table(title=f"Fashion-MNIST pruning on {result['config']['target']} "
                        f"({result['test_images']:,} test images in LiteRT, "
                        f"{dense['c_images']} in C under QEMU)")
    for col in ("model", "MACs", "vs dense", "params", "flash", "RAM", "instr/inf", "float acc", "int8 LiteRT",
                "vs dense (pts)", "int8 C", "C == LiteRT"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        drop = (dense["int8_accuracy_litert"] - r["int8_accuracy_litert"]) * 100
        table.add_row(
            r["name"], f"{r['macs']:,}", f"{r['macs'] / dense['macs']:.1%}", f"{r['params']:,}",
            f"{r['flash_bytes']:,}", f"{r['peak_ram_bytes']:,}",
            f"{r['instructions_per_inference']:,}" if r["instructions_per_inference"] else "-",
            f"{r['float_accuracy']:.2%}", f"{r['int8_accuracy_litert']:.2%}",
            "-" if r["method"] == "dense" else f"{-drop:+.2f}",
            f"{r['int8_accuracy_c']:.2%}", f"{r['c_outputs_equal_litert']}/{r['c_images']}")
    console = Console(width=170)
    console.print(table)
    for c in result["checks"]:
        console.print(
            f"MACs {c['mac_fraction_budget']:.0%}: drop {c['int8_drop_points']:.2f} points "
            f"(target <= {c['allowed_drop_points']}: {'ok' if c['drop_ok'] else 'MISSED'}), "
            f"edgeprune - uniform L1 = {c['edgeprune_minus_uniform_l1_points']:+.2f} points "
            f"({'ok' if c['not_worse_than_uniform_l1'] else 'WORSE'}); MAC shares {c['edgeprune_mac_fraction']:.1%} "
            f"vs {c['uniform_l1_mac_fraction']:.1%}")
    phases = ", ".join(f"{k} {v:.0f}" for k, v in result["seconds"].items() if k != "total")
    console.print(f"time: {result['seconds']['total']:.0f} s ({phases})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    d = Config()
    ap.add_argument("--target", default=d.target)
    ap.add_argument("--fractions", default=",".join(f"{f:g}" for f in d.fractions))
    ap.add_argument("--width", type=int, default=d.width)
    ap.add_argument("--train-size", type=int, default=d.train_size)
    ap.add_argument("--epochs", type=int, default=d.epochs)
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--ft-epochs", type=int, default=d.ft_epochs)
    ap.add_argument("--ft-lr", type=float, default=d.ft_lr)
    ap.add_argument("--criterion", default=d.criterion)
    ap.add_argument("--test-images", type=int, default=d.test_images)
    ap.add_argument("--qemu-images", type=int, default=d.qemu_images)
    ap.add_argument("--threads", type=int, default=d.threads)
    ap.add_argument("--out", type=Path, default=BENCH / "results")
    ap.add_argument("--quick", action="store_true", help="a few thousand images, one epoch each: a smoke run")
    args = ap.parse_args(argv)
    if not fm.available():
        print(f"bench: Fashion-MNIST not found in {fm.data_dir()} (apt-get install dataset-fashion-mnist)",
              file=sys.stderr)
        return 2
    cfg = Config(target=args.target, fractions=tuple(float(f) for f in args.fractions.split(",")),
                 width=args.width, train_size=args.train_size, epochs=args.epochs, lr=args.lr,
                 ft_epochs=args.ft_epochs, ft_lr=args.ft_lr, criterion=args.criterion,
                 test_images=args.test_images, qemu_images=args.qemu_images, threads=args.threads)
    if args.quick:
        cfg.train_size, cfg.epochs, cfg.ft_epochs, cfg.test_images, cfg.qemu_images = 4000, 2, 1, 500, 50
    result = run(cfg, args.out)
    print_table(result)
    print(f"wrote {args.out / 'pruning.json'} and {args.out / 'pruning.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
