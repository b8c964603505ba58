"""Cross toolchains: find tools, build firmware images for a profile, measure their size.

Bare-metal profiles (``[toolchain] kind = "baremetal"``) link the user's sources with the board support
in ``targets/boards/<board>/`` (vector table + reset handler, linker script) and
``targets/boards/common/`` (C runtime start, semihosting console/exit, benchmark markers). Linux
profiles build a static, non-PIE ELF with ``targets/boards/linux/board.c``.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from edgeprune.errors import ToolchainError
from edgeprune.targets.profile import Profile, boards_dir

__all__ = [
    "DEBIAN_PACKAGES",
    "board_include_dirs",
    "board_sources",
    "build_firmware",
    "elf_alloc_sections",
    "find_tool",
    "measure_size",
    "object_symbols",
    "symbol_address",
]

# Debian package that provides each external tool (used in error messages).
DEBIAN_PACKAGES: dict[str, str] = {
    "arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
    "arm-none-eabi-g++": "g++-arm-none-eabi libstdc++-arm-none-eabi-newlib",
    "arm-none-eabi-size": "binutils-arm-none-eabi",
    "arm-none-eabi-nm": "binutils-arm-none-eabi",
    "arm-none-eabi-objcopy": "binutils-arm-none-eabi",
    "qemu-system-arm": "qemu-system-arm",
    "qemu-aarch64": "qemu-user",
    "qemu-x86_64": "qemu-user",
    "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
    "aarch64-linux-gnu-g++": "g++-aarch64-linux-gnu",
    "aarch64-linux-gnu-size": "binutils-aarch64-linux-gnu",
    "aarch64-linux-gnu-nm": "binutils-aarch64-linux-gnu",
    "aarch64-linux-gnu-objcopy": "binutils-aarch64-linux-gnu",
    "arm-linux-gnueabihf-gcc": "gcc-arm-linux-gnueabihf",
    "arm-linux-gnueabihf-g++": "g++-arm-linux-gnueabihf",
    "arm-linux-gnueabihf-size": "binutils-arm-linux-gnueabihf",
    "arm-linux-gnueabihf-nm": "binutils-arm-linux-gnueabihf",
    "arm-linux-gnueabihf-objcopy": "binutils-arm-linux-gnueabihf",
    "qemu-arm": "qemu-user",
    "cc": "gcc",
    "gcc": "gcc",
    "c++": "g++",
    "g++": "g++",
    "size": "binutils",
    "nm": "binutils",
    "objcopy": "binutils",
}

_CXX_SUFFIXES = {".cc", ".cpp", ".cxx", ".C"}
_CXX_FLAGS = ("-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics")
_WARN_FLAGS = ("-Wall", "-Wextra", "-Werror")


def find_tool(name: str, debian_package: str | None = None) -> str:
    """Absolute path of ``name`` on PATH, else :class:`ToolchainError` naming the Debian package."""
    path = shutil.which(name)
    if path is None:
        pkg = debian_package or DEBIAN_PACKAGES.get(name, name)
        raise ToolchainError(f"{name} not found; install it with: apt-get install {pkg}")
    return path


def _tool(name: str) -> str:
    return find_tool(name, DEBIAN_PACKAGES.get(name))


def board_include_dirs(profile: Profile) -> list[Path]:
    """Include path for ``#include "board.h"``: the board folder, then ``boards/common``."""
    return [profile.board_dir(), boards_dir() / "common"]


def board_sources(profile: Profile, cxx: bool = False) -> list[Path]:
    """The board-support C sources linked into every image for ``profile``."""
    if profile.is_baremetal:
        common = boards_dir() / "common"
        srcs = [common / "startup.c", common / "crt.c", common / "semihost.c"]
        if cxx:
            srcs.append(common / "cxx_support.c")
        return srcs
    return [profile.board_dir() / "board.c"]


def _first_error_lines(text: str, limit: int = 12) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errs = [ln for ln in lines if re.search(r"\b(error|undefined reference|fatal)\b", ln, re.IGNORECASE)]
    chosen = errs[:limit] if errs else lines[:limit]
    return "\n".join(chosen)


def _run_tool(cmd: Sequence[str], what: str) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(
            list(cmd), check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        raise ToolchainError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        detail = _first_error_lines(proc.stderr + proc.stdout)
        raise ToolchainError(f"{what} failed (exit {proc.returncode}):\n{detail}")
    return proc


def build_firmware(
    profile: Profile,
    sources: Sequence[Path],
    include_dirs: Sequence[Path],
    out_elf: Path,
    defines: Mapping[str, object] | None = None,
    extra_cflags: Sequence[str] = (),
    *,
    stack_size: int | None = None,
    extra_ldflags: Sequence[str] = (),
    jobs: int = 2,
) -> Path:
    """Compile and link ``sources`` (C and C++) with the board support into ``out_elf``.

    Objects go to ``<out_elf>.build/``, a linker map to ``<out_elf>.map``. Every translation unit is
    built with the profile's cflags plus ``-Wall -Wextra -Werror``; C++ additionally with
    ``-fno-exceptions -fno-rtti -fno-threadsafe-statics``. ``defines`` become ``-DKEY=VALUE``
    (``-DKEY`` when the value is None/True). ``stack_size`` (bare-metal only) overrides the
    16 KiB default stack. Compiler/linker failures raise :class:`ToolchainError` with the first
    error lines; a missing compiler raises it naming the Debian package.
    """
    out_elf = Path(out_elf)
    sources = [Path(s) for s in sources]
    for s in sources:
        if not s.is_file():
            raise ToolchainError(f"source file not found: {s}")
    has_cxx = any(s.suffix in _CXX_SUFFIXES for s in sources)
    tc = profile.toolchain
    cc = _tool(tc.cc)
    cxx = _tool(tc.cxx) if has_cxx else None

    all_sources = list(sources) + board_sources(profile, cxx=has_cxx)
    incs = board_include_dirs(profile) + [Path(p) for p in include_dirs]
    def_flags: list[str] = []
    for key, val in (defines or {}).items():
        if val is None or val is True:
            def_flags.append(f"-D{key}")
        else:
            def_flags.append(f"-D{key}={val}")
    common = [*tc.cflags, *_WARN_FLAGS, *def_flags, *[f"-I{p}" for p in incs], *extra_cflags]

    build_dir = out_elf.parent / (out_elf.name + ".build")
    build_dir.mkdir(parents=True, exist_ok=True)
    out_elf.parent.mkdir(parents=True, exist_ok=True)

    jobs_list = []
    objects = []
    for i, src in enumerate(all_sources):
        obj = build_dir / f"{i:03d}_{src.stem}.o"
        if src.suffix in _CXX_SUFFIXES:
            cmd = [cxx, *common, *_CXX_FLAGS, "-c", str(src), "-o", str(obj)]
        else:
            cmd = [cc, *common, "-c", str(src), "-o", str(obj)]
        jobs_list.append((cmd, f"compiling {src.name} for {profile.name}"))
        objects.append(obj)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_run_tool, cmd, what) for cmd, what in jobs_list]
        for fut in futures:
            fut.result()  # re-raises the first ToolchainError in source order

    map_file = out_elf.with_suffix(".map")
    link = [cxx if (has_cxx and not profile.is_baremetal) else cc, *tc.cflags, *tc.ldflags]
    if profile.is_baremetal:
        link += [f"-L{boards_dir() / 'common'}", "-T", str(profile.board_dir() / "link.ld")]
        if stack_size is not None:
            link.append(f"-Wl,--defsym=__ep_stack_size={int(stack_size)}")
    else:
        link.append("-pthread")  # the runtime's thread pool (csrc/kernels/parallel.cc) for --threads N builds
    link += [f"-Wl,-Map={map_file}", *extra_ldflags, *[str(o) for o in objects], "-lm", "-o", str(out_elf)]
    _run_tool(link, f"linking {out_elf.name} for {profile.name}")
    return out_elf


# --------------------------------------------------------------------------------------------- size


def _nm_symbols(nm: str, path: Path, defined_only: bool = True) -> list[tuple[int, int, str, str]]:
    """(address, size, type letter, name) for every sized symbol in ``path``."""
    cmd = [nm, "-S", "--size-sort"]
    if defined_only:
        cmd.append("--defined-only")
    proc = _run_tool([*cmd, str(path)], f"nm {path.name}")
    out = []
    for line in proc.stdout.splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) == 4:
            try:
                out.append((int(parts[0], 16), int(parts[1], 16), parts[2], parts[3]))
            except ValueError:
                continue
    return out


def object_symbols(profile: Profile, objects: Iterable[Path]) -> set[str]:
    """Names of the sized symbols defined in the given object files (e.g. a test harness)."""
    nm = _tool(profile.toolchain.nm)
    names: set[str] = set()
    for obj in objects:
        names.update(s[3] for s in _nm_symbols(nm, Path(obj)))
    return names


def symbol_address(profile: Profile, elf: Path, name: str) -> int | None:
    """Address of symbol ``name`` in ``elf`` (Thumb bit cleared), or None if absent."""
    nm = _tool(profile.toolchain.nm)
    proc = _run_tool([nm, "--defined-only", str(elf)], f"nm {Path(elf).name}")
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16) & ~1
    return None


def elf_alloc_sections(elf: Path) -> dict[str, int]:
    """Sizes of the allocated (SHF_ALLOC), non-empty sections of an ELF file, read from its headers."""
    data = Path(elf).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        raise ToolchainError(f"{elf} is not an ELF file")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x3A)
        fmt = end + "IIQQQQIIQQ"
    else:
        (shoff,) = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x2E)
        fmt = end + "IIIIIIIIII"
    headers = [struct.unpack_from(fmt, data, shoff + i * shentsize) for i in range(shnum)]
    if not headers:
        return {}
    str_off = headers[shstrndx][4]

    def name_at(off: int) -> str:
        stop = data.index(b"\0", str_off + off)
        return data[str_off + off : stop].decode(errors="replace")

    out: dict[str, int] = {}
    for h in headers:
        sh_name, _typ, flags, size = h[0], h[1], h[2], h[5]
        if flags & 0x2 and size:  # SHF_ALLOC
            out[name_at(sh_name)] = size
    return out


_FLASH_TYPES = set("tTrRdDvV")  # code, read-only data, initialised data (its load image)
_RAM_TYPES = set("dDbBvV")  # initialised and zero-initialised data


def measure_size(
    profile: Profile,
    elf: Path,
    exclude_symbols: Callable[[str], bool] | None = None,
    exclude_objects: Iterable[Path] = (),
) -> dict:
    """Static memory use of ``elf``.

    Returns ``text`` (code + rodata, as ``size`` counts it), ``data``, ``bss``,
    ``flash_bytes = text + data``, ``ram_bytes = data + bss`` (static RAM; the stack is not a section
    and is reported as ``stack_bytes`` on bare-metal targets), ``sections`` (``size -A``), and the
    share of excluded symbols: ``excluded_bytes`` (all), ``excluded_flash_bytes``,
    ``excluded_ram_bytes``, ``excluded_symbols`` (names), plus ``runtime_flash_bytes`` and
    ``runtime_ram_bytes`` = totals minus exclusions. A symbol is excluded when
    ``exclude_symbols(name)`` is true or it is defined in one of ``exclude_objects`` (e.g. the
    harness ``.o`` files from ``<elf>.build/``). Sizes are the symbols' ``nm -S`` sizes.
    """
    elf = Path(elf)
    if not elf.is_file():
        raise ToolchainError(f"no such ELF file: {elf}")
    size_tool = _tool(profile.toolchain.size)
    nm = _tool(profile.toolchain.nm)

    berk = _run_tool([size_tool, "-B", str(elf)], f"size {elf.name}").stdout.splitlines()
    try:
        text, data, bss = (int(x) for x in berk[1].split()[:3])
    except (IndexError, ValueError) as exc:
        raise ToolchainError(f"cannot parse '{profile.toolchain.size} -B' output: {berk!r}") from exc

    sections = elf_alloc_sections(elf)

    excluded_names = object_symbols(profile, exclude_objects) if exclude_objects else set()
    ex_flash = ex_ram = ex_all = 0
    ex_list: list[str] = []
    stack_bytes = None
    for _addr, size, typ, name in _nm_symbols(nm, elf):
        if not (name in excluded_names or (exclude_symbols is not None and exclude_symbols(name))):
            continue
        if size == 0 or typ in ("a", "A", "U", "u", "w", "W"):
            continue
        ex_all += size
        ex_list.append(name)
        if typ in _FLASH_TYPES:
            ex_flash += size
        if typ in _RAM_TYPES:
            ex_ram += size
    if profile.is_baremetal:
        proc = _run_tool([nm, str(elf)], f"nm {elf.name}")
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2] == "__ep_stack_size":
                stack_bytes = int(parts[0], 16)

    flash = text + data
    ram = data + bss
    return {
        "text": text,
        "data": data,
        "bss": bss,
        "flash_bytes": flash,
        "ram_bytes": ram,
        "stack_bytes": stack_bytes,
        "sections": sections,
        "excluded_bytes": ex_all,
        "excluded_flash_bytes": ex_flash,
        "excluded_ram_bytes": ex_ram,
        "excluded_symbols": sorted(ex_list),
        "runtime_flash_bytes": flash - ex_flash,
        "runtime_ram_bytes": ram - ex_ram,
    }


def host_cc() -> str:
    """The host C compiler (``$CC`` or ``cc``) used to build the QEMU plugin."""
    name = os.environ.get("CC", "cc")
    return find_tool(name, DEBIAN_PACKAGES.get(name, "gcc"))
