"""Device profiles: the data in ``targets/<name>/profile.toml``, read with :mod:`tomllib`.

A profile describes one deployment target (memory budgets, ISA features, the channel multiple kernels
like, the cross toolchain and flags, how to emulate it under QEMU, and rough per-kernel cost
coefficients). Profiles are plain data; nothing here runs a tool.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from edgeprune import resources
from edgeprune.errors import TargetError

__all__ = [
    "Profile",
    "QemuSpec",
    "ToolchainSpec",
    "boards_dir",
    "list_profiles",
    "load_profile",
    "profile_names",
    "targets_dir",
]


@dataclass(frozen=True)
class ToolchainSpec:
    """The ``[toolchain]`` table: tool names (looked up on PATH) and flags."""

    kind: str  # "baremetal" (Cortex-M, board startup + linker script) or "linux" (static ELF)
    cc: str
    cxx: str
    size: str
    nm: str
    objcopy: str
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]


@dataclass(frozen=True)
class QemuSpec:
    """The ``[qemu]`` table: how to run a firmware image of this target."""

    mode: str  # "system" (qemu-system-arm -M machine -kernel elf) or "user" (qemu-aarch64 elf)
    system: str  # emulator binary name
    machine: str  # -M value for system mode ("" in user mode)
    cpu: str  # -cpu value ("" = emulator default)
    board: str  # folder under targets/boards/


@dataclass(frozen=True)
class Profile:
    """One device profile. ``raw`` keeps the whole parsed TOML document."""

    name: str
    description: str
    part: str
    cpu: str
    arch: str
    clock_hz: int
    sram_bytes: int
    flash_bytes: int
    reserve_ram_bytes: int
    reserve_flash_bytes: int
    isa: tuple[str, ...]
    round_to: int
    toolchain: ToolchainSpec
    qemu: QemuSpec
    cost: Mapping[str, float] = field(compare=False, hash=False)
    raw: Mapping[str, Any] = field(compare=False, hash=False, repr=False)
    path: Path = field(compare=False, hash=False, repr=False, default=Path())

    @property
    def is_baremetal(self) -> bool:
        return self.toolchain.kind == "baremetal"

    @property
    def ram_budget_bytes(self) -> int:
        """SRAM left for the model (arena + runtime state) after the firmware reserve."""
        return self.sram_bytes - self.reserve_ram_bytes

    @property
    def flash_budget_bytes(self) -> int:
        """Flash left for the model (weights + kernels) after the firmware reserve."""
        return self.flash_bytes - self.reserve_flash_bytes

    def has_feature(self, feature: str) -> bool:
        return feature in self.isa

    def board_dir(self) -> Path:
        """``targets/boards/<board>`` for this profile."""
        return boards_dir() / self.qemu.board


def targets_dir() -> Path:
    """The folder holding ``<name>/profile.toml`` and ``boards/`` (see edgeprune.resources)."""
    return resources.targets_dir()


def boards_dir() -> Path:
    return targets_dir() / "boards"


def profile_names() -> list[str]:
    root = targets_dir()
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/profile.toml"))


_INT_FIELDS = (
    "clock_hz",
    "sram_bytes",
    "flash_bytes",
    "reserve_ram_bytes",
    "reserve_flash_bytes",
    "round_to",
)
_STR_FIELDS = ("name", "description", "part", "cpu", "arch")
_TOOL_KEYS = ("kind", "cc", "cxx", "size", "nm", "objcopy")
_QEMU_KEYS = ("mode", "system", "machine", "cpu", "board")


def _req(table: Mapping[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise TargetError(f"{where}: missing key '{key}'")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, typ):
        raise TargetError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
    return value


def _str_list(table: Mapping[str, Any], key: str, where: str, default: list[str] | None = None) -> tuple:
    if key not in table and default is not None:
        return tuple(default)
    value = _req(table, key, list, where)
    if not all(isinstance(v, str) for v in value):
        raise TargetError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _parse(doc: Mapping[str, Any], path: Path) -> Profile:
    where = str(path)
    vals: dict[str, Any] = {k: _req(doc, k, str, where) for k in _STR_FIELDS}
    for k in _INT_FIELDS:
        vals[k] = _req(doc, k, int, where)
        if vals[k] < 0:
            raise TargetError(f"{where}: '{k}' must be >= 0")
    if vals["round_to"] < 1:
        raise TargetError(f"{where}: 'round_to' must be >= 1")
    if vals["reserve_ram_bytes"] > vals["sram_bytes"] or vals["reserve_flash_bytes"] > vals["flash_bytes"]:
        raise TargetError(f"{where}: reserves exceed the device's memory")
    if vals["name"] != path.parent.name:
        raise TargetError(f"{where}: name '{vals['name']}' does not match its folder '{path.parent.name}'")
    isa = _str_list(doc, "isa", where)

    tc = _req(doc, "toolchain", dict, where)
    twhere = f"{where} [toolchain]"
    toolchain = ToolchainSpec(
        **{k: _req(tc, k, str, twhere) for k in _TOOL_KEYS},
        cflags=_str_list(tc, "cflags", twhere),
        ldflags=_str_list(tc, "ldflags", twhere, default=[]),
    )
    if toolchain.kind not in ("baremetal", "linux"):
        raise TargetError(f"{twhere}: kind must be 'baremetal' or 'linux', not '{toolchain.kind}'")

    qm = _req(doc, "qemu", dict, where)
    qwhere = f"{where} [qemu]"
    qvals = {k: _req(qm, k, str, qwhere) for k in _QEMU_KEYS}
    qvals["system"] = qvals["system"].replace("{machine}", platform.machine())
    qemu = QemuSpec(**qvals)
    if qemu.mode not in ("system", "user"):
        raise TargetError(f"{qwhere}: mode must be 'system' or 'user', not '{qemu.mode}'")

    cost_tab = _req(doc, "cost", dict, where)
    cost: dict[str, float] = {}
    for k, v in cost_tab.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TargetError(f"{where} [cost]: '{k}' must be a number")
        cost[k] = float(v)

    return Profile(
        **vals,
        isa=isa,
        toolchain=toolchain,
        qemu=qemu,
        cost=MappingProxyType(cost),
        raw=MappingProxyType(dict(doc)),
        path=path,
    )


def load_profile(name: str) -> Profile:
    """Load ``targets/<name>/profile.toml``. Unknown names raise :class:`TargetError`."""
    names = profile_names()
    if name not in names:
        known = ", ".join(names) if names else "(none found under " + str(targets_dir()) + ")"
        raise TargetError(f"unknown target '{name}'; known: {known}")
    path = targets_dir() / name / "profile.toml"
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TargetError(f"cannot read device profile {path}: {exc}") from exc
    return _parse(doc, path)


def list_profiles() -> list[Profile]:
    """All profiles, sorted by name."""
    return [load_profile(n) for n in profile_names()]
