"""Run firmware under QEMU and count the instructions between benchmark markers.

* Bare-metal Cortex-M profiles: ``qemu-system-arm -M <machine> -kernel fw.elf`` with semihosting
  (``-semihosting-config enable=on,target=native``): the guest's ``ep_write`` goes straight to
  QEMU's stdout and ``ep_exit(status)`` (SYS_EXIT_EXTENDED) becomes QEMU's exit status.
* Linux profiles (rpi4/rpi5): ``qemu-aarch64 -cpu <cpu> app.elf`` (static ELF, user mode).
  The ``host`` profile runs natively, or under ``qemu-<arch>`` when instructions are counted.

Instruction counts come from the TCG plugin ``csrc/qemu_plugin/insn_count.c``, compiled once per
source hash with the host C compiler into ``$XDG_CACHE_HOME/edgeprune`` (or ``~/.cache/edgeprune``).
The plugin counts every executed guest instruction and reports, per ``ep_bench_begin()`` /
``ep_bench_end()`` pair, the instructions from the first instruction of ``ep_bench_begin`` up to
(excluding) the first instruction of ``ep_bench_end``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgeprune import resources
from edgeprune.errors import EdgePruneError, ToolchainError
from edgeprune.targets.profile import Profile
from edgeprune.targets.toolchain import DEBIAN_PACKAGES, find_tool, host_cc, symbol_address

try:
    from edgeprune.errors import VerificationError
except ImportError:  # pragma: no cover - older errors module

    class VerificationError(EdgePruneError):  # type: ignore[no-redef]
        """A generated artifact could not be run or checked."""


__all__ = ["RunResult", "cache_dir", "plugin_path", "plugin_source", "qemu_command", "run"]

BEGIN_SYMBOL = "ep_bench_begin"
END_SYMBOL = "ep_bench_end"


@dataclass(frozen=True)
class RunResult:
    stdout: bytes
    exit_code: int
    instructions: list[int] = field(default_factory=list)  # one per begin/end pair, in order
    total_instructions: int | None = None  # whole run (reset/exec to exit), when counted
    startup_instructions: int | None = None  # executed before the first ep_bench_begin()
    stderr: bytes = b""
    command: tuple[str, ...] = ()
    # threads=True runs: per begin/end pair, instructions per guest thread (vCPU index -> count; the pair's figure in
    # `instructions` is their sum)
    thread_instructions: list[dict[int, int]] = field(default_factory=list)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgeprune"


def plugin_source() -> Path:
    src = resources.csrc_dir() / "qemu_plugin" / "insn_count.c"
    if src.is_file():
        return src
    raise ToolchainError("csrc/qemu_plugin/insn_count.c not found in the edgeprune installation")


def plugin_path() -> Path:
    """Build (once per source hash) and return the instruction-count plugin shared object."""
    src = plugin_source()
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    out = cache_dir() / f"insn_count-{digest}.so"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    cc = host_cc()
    fd, tmp = tempfile.mkstemp(prefix="insn_count-", suffix=".so.tmp", dir=out.parent)
    os.close(fd)
    cmd = [cc, "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-o", tmp, str(src)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        Path(tmp).unlink(missing_ok=True)
        raise ToolchainError(f"building the QEMU plugin failed:\n{proc.stderr.strip()[:2000]}")
    os.replace(tmp, out)  # atomic: concurrent builders race harmlessly
    return out


def _emulator(profile: Profile) -> str:
    name = profile.qemu.system
    return find_tool(name, DEBIAN_PACKAGES.get(name, "qemu-user" if profile.qemu.mode == "user" else name))


def qemu_command(
    profile: Profile, elf: Path, plugin_arg: str | None = None, native: bool = False
) -> list[str]:
    """The command line that runs ``elf`` for ``profile`` (``plugin_arg`` = full -plugin value)."""
    elf = Path(elf)
    if native:
        return [str(elf)]
    q = profile.qemu
    cmd = [_emulator(profile)]
    if q.mode == "system":
        cmd += ["-M", q.machine]
        if q.cpu:
            cmd += ["-cpu", q.cpu]
        cmd += [
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "none",
            "-nodefaults",
            "-semihosting-config",
            "enable=on,target=native",
        ]
        if plugin_arg:
            cmd += ["-plugin", plugin_arg]
        cmd += ["-kernel", str(elf)]
    else:
        if q.cpu:
            cmd += ["-cpu", q.cpu]
        if plugin_arg:
            cmd += ["-plugin", plugin_arg]
        cmd += [str(elf)]
    return cmd


def _parse_counts(text: str) -> tuple[list[int], int | None, int | None]:
    pairs: list[int] = []
    total = first = None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "insns":
            pairs.append(int(parts[1]))
        elif len(parts) == 2 and parts[0] == "total":
            total = int(parts[1])
        elif len(parts) == 2 and parts[0] == "first_begin":
            first = int(parts[1])
    return pairs, total, first


def _parse_thread_counts(text: str) -> list[dict[int, int]]:
    """Per begin/end pair, the "thread_insns VCPU N" lines that follow its "insns" line (threads=on)."""
    out: list[dict[int, int]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "insns":
            out.append({})
        elif len(parts) == 3 and parts[0] == "thread_insns" and out:
            out[-1][int(parts[1])] = int(parts[2])
    return out


def plugin_argument(profile: Profile, elf: Path, counts_file: Path, threads: bool = False) -> str:
    """The -plugin value: the markers' addresses, the output file and, for multi-threaded guests, threads=on
    (thread-safe per-thread counters; the default single counter is exact for one thread only)."""
    args = [str(plugin_path())]
    begin = symbol_address(profile, elf, BEGIN_SYMBOL)
    end = symbol_address(profile, elf, END_SYMBOL)
    if begin is not None and end is not None:
        args += [f"begin={begin:#x}", f"end={end:#x}"]
    args.append(f"outfile={counts_file}")
    if threads:
        args.append("threads=on")
    return ",".join(args)


def run(profile: Profile, elf: Path, timeout_s: float = 600, count_instructions: bool = True,
        threads: bool = False) -> RunResult:
    """Run ``elf`` for ``profile``; return its stdout, exit status and instruction counts.

    Missing QEMU raises :class:`ToolchainError` naming the Debian package; a run exceeding
    ``timeout_s`` raises ``VerificationError``.
    """
    elf = Path(elf)
    if not elf.is_file():
        raise ToolchainError(f"no such ELF file: {elf}")
    native = profile.name == "host" and not count_instructions
    with tempfile.TemporaryDirectory(prefix="edgeprune-run-") as tmp:
        counts_file = Path(tmp) / "insns.txt"
        plugin_arg = None
        if count_instructions:
            plugin_arg = plugin_argument(profile, elf, counts_file, threads)
        cmd = qemu_command(profile, elf, plugin_arg, native=native)
        try:
            proc = subprocess.run(
                cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s
            )
        except subprocess.TimeoutExpired as exc:
            raise VerificationError(f"{elf.name} on {profile.name} timed out after {timeout_s} s") from exc
        except OSError as exc:
            raise ToolchainError(f"cannot run {cmd[0]}: {exc}") from exc
        if proc.returncode != 0 and b"Could not load plugin" in proc.stderr:
            raise ToolchainError(
                f"{cmd[0]} could not load the plugin: {proc.stderr.decode(errors='replace')}"
            )
        pairs: list[int] = []
        per_thread: list[dict[int, int]] = []
        total = first = None
        if count_instructions and counts_file.is_file():
            text = counts_file.read_text()
            pairs, total, first = _parse_counts(text)
            per_thread = _parse_thread_counts(text)
        return RunResult(
            stdout=proc.stdout,
            exit_code=proc.returncode,
            instructions=pairs,
            total_instructions=total,
            startup_instructions=first,
            stderr=proc.stderr,
            command=tuple(cmd),
            thread_instructions=per_thread,
        )
