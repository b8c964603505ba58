"""Budgets a pruned model must meet: MACs, FLOPs, params, flash, peak RAM and latency on a target.

Each is an absolute value with units (`1.2M`, `256KiB`, `20ms`) or a share of the dense model (`50%`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgeprune.errors import BudgetError

KINDS = ("macs", "flops", "params", "flash", "ram", "latency")
UNIT_HINT = {
    "macs": "a count like 1.2M or 500k, or a percentage like 50%",
    "flops": "a count like 2.4M, or a percentage",
    "params": "a count like 100k, or a percentage",
    "flash": "bytes like 256KiB, 1MB or 120000, or a percentage",
    "ram": "bytes like 64KiB or 48000, or a percentage",
    "latency": "a time like 20ms, 1.5s or 800us, or a percentage",
}
_COUNT = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}
_BYTES = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 1024, "m": 1e6, "mb": 1e6, "mib": 1024**2, "g": 1e9,
          "gb": 1e9, "gib": 1024**3}
_TIME_MS = {"ms": 1.0, "s": 1000.0, "us": 1e-3, "µs": 1e-3}


@dataclass(frozen=True)
class Budget:
    kind: str
    value: float | None  # absolute (count, bytes or ms); None while relative
    fraction: float | None = None  # of the dense model, for "50%"
    text: str = ""

    def resolve(self, dense_value: float) -> Budget:
        if self.fraction is None:
            return self
        return Budget(self.kind, self.fraction * dense_value, self.fraction, self.text)

    def describe(self) -> str:
        return f"--{self.kind} {self.text}"


def parse_budget(kind: str, text: str) -> Budget:
    if kind not in KINDS:
        raise BudgetError(f"unknown budget '{kind}'; known: {', '.join(KINDS)}")
    raw = str(text).strip()
    bad = BudgetError(f"--{kind} {raw!r}: expected {UNIT_HINT[kind]}")
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%|[A-Za-zµ]*)", raw)
    if not m:
        raise bad
    number, unit = float(m.group(1)), m.group(2)
    if unit == "%":
        if not 0 < number <= 100:
            raise BudgetError(f"--{kind} {raw}: a percentage must be in (0, 100]")
        return Budget(kind, None, number / 100.0, raw)
    u = unit.lower()
    if kind in ("macs", "flops", "params"):
        if u not in _COUNT:
            raise bad
        value = number * _COUNT[u]
    elif kind in ("flash", "ram"):
        if u not in _BYTES:
            raise bad
        value = number * _BYTES[u]
    else:
        if u not in _TIME_MS:
            raise bad
        value = number * _TIME_MS[u]
    if value <= 0:
        raise BudgetError(f"--{kind} {raw}: must be positive")
    return Budget(kind, value, None, raw)


def parse_budgets(values: dict[str, str | None]) -> list[Budget]:
    return [parse_budget(k, v) for k, v in values.items() if v is not None]


def default_budgets(profile) -> list[Budget]:
    """With no budget given: the target's flash and SRAM, minus the profile's reserve for the firmware."""
    return [
        Budget("flash", float(profile.flash_budget_bytes), None, f"{profile.flash_budget_bytes}B ({profile.name})"),
        Budget("ram", float(profile.ram_budget_bytes), None, f"{profile.ram_budget_bytes}B ({profile.name})"),
    ]


def flash_limit(budgets: list[Budget] | None) -> float | None:
    """The absolute flash budget among `budgets` (bytes), if any: it also picks the weight layout
    (edgeprune.pipeline.analyze_for)."""
    values = [b.value for b in budgets or () if b.kind == "flash" and b.value is not None]
    return min(values) if values else None


def check(budgets: list[Budget], measured: dict[str, float]) -> dict[str, dict]:
    """Per budget: limit, measured value, ratio (measured / limit) and whether it holds."""
    out = {}
    for b in budgets:
        if b.value is None:
            raise BudgetError(f"{b.describe()}: relative budget not resolved against the dense model")
        v = float(measured[b.kind])
        out[b.kind] = {"limit": b.value, "measured": v, "ratio": v / b.value, "met": v <= b.value * (1 + 1e-9)}
    return out
