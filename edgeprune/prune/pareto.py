"""Pareto picture of a budget sweep: accuracy (or agreement with the dense model) against MACs."""

from __future__ import annotations

from pathlib import Path


def accuracy_of(report: dict) -> tuple[float | None, str]:
    """The accuracy figure a report carries, and what it is."""
    if report.get("pruned_accuracy") is not None:
        return float(report["pruned_accuracy"]), "validation accuracy (float, after fine-tuning)"
    agreement = report.get("accuracy_proxy", {}).get("agreement", {})
    best = agreement.get("reconstructed") or agreement.get("plain")
    if best is not None:
        return float(best["top1"]), "top-1 agreement with the dense model (calibration hold-out)"
    return None, ""


def pareto_plot(points: list[dict], dense: dict, path: Path, title: str) -> Path:
    """points: [{"label", "macs", "accuracy"}]; dense: {"macs", "accuracy"} (accuracy may be None)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    pts = sorted((p for p in points if p["accuracy"] is not None), key=lambda p: p["macs"])
    ax.plot([p["macs"] / 1e6 for p in pts], [p["accuracy"] for p in pts], "o-", label="pruned")
    for p in pts:
        ax.annotate(p["label"], (p["macs"] / 1e6, p["accuracy"]), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
    if dense.get("accuracy") is not None:
        ax.plot([dense["macs"] / 1e6], [dense["accuracy"]], "k*", markersize=12, label="dense")
    ax.set_xlabel("MACs (millions)")
    metric = points[0].get("metric", "accuracy") if points else "accuracy"
    ax.set_ylabel("top-1 agreement with dense" if "agreement" in metric else "validation accuracy")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
