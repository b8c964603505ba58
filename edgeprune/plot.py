"""The arena picture for the build report: every buffer as a rectangle over (call index, arena offset).

matplotlib is imported only here, lazily, with the Agg backend and without pyplot (no GUI, no global state).
"""

from __future__ import annotations

from pathlib import Path


def arena_png(program, path: str | Path, title: str = "") -> Path | None:
    """Writes the picture; returns its path, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return None
    from edgeprune.analysis.planner import buffer_spans

    spans = buffer_spans(program)
    n = max(len(program.calls), 1)
    arena = max(program.arena_bytes, 1)
    fig = Figure(figsize=(max(6.0, min(16.0, 0.45 * n + 3)), 5.0), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    tensor_colors = ["#4C72B0", "#55A868", "#8172B2", "#64B5CD", "#CCB974", "#937860"]
    inplace_outputs = {program.calls[c].args[o].name for c, o, _, _ in program.inplace}
    for k, s in enumerate(sorted(spans, key=lambda s: (s["first"], s["offset"]))):
        if s["nbytes"] == 0:
            continue
        color = "#C44E52" if s["kind"] == "scratch" else tensor_colors[k % len(tensor_colors)]
        rect = Rectangle((s["first"] - 0.45, s["offset"]), s["last"] - s["first"] + 0.9, s["nbytes"],
                         facecolor=color, edgecolor="black", linewidth=0.5, alpha=0.55,
                         hatch="//" if s["name"] in inplace_outputs else None)
        ax.add_patch(rect)
        if s["nbytes"] >= 0.04 * arena:
            ax.text(s["first"] - 0.4, s["offset"] + s["nbytes"] / 2, s["name"][:24], fontsize=6, va="center")
    # The peak: the call whose live buffers reach highest in the arena.
    top, live = [0] * n, [0] * n
    for s in spans:
        for i in range(s["first"], s["last"] + 1):
            if 0 <= i < n:
                top[i] = max(top[i], s["offset"] + s["nbytes"])
                live[i] += s["nbytes"]
    peak = max(range(n), key=lambda i: (top[i], live[i]))
    ax.axhline(program.arena_bytes, color="#C44E52", linestyle="--", linewidth=1)
    ax.axvline(peak, color="#C44E52", linestyle=":", linewidth=1)
    ax.annotate(f"peak {program.arena_bytes:,} B at call {peak}", xy=(peak, program.arena_bytes),
                xytext=(4, 4), textcoords="offset points", fontsize=8, color="#C44E52")
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylim(0, arena * 1.08)
    ax.set_xticks(range(n))
    ax.set_xticklabels([f"{i}\n{c.op.kind[:10]}" for i, c in enumerate(program.calls)], fontsize=6)
    ax.set_xlabel("call")
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title(title or f"arena {program.arena_bytes:,} bytes ({len(program.inplace)} in place; "
                 "hatched: written in place, red: scratch)", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path
