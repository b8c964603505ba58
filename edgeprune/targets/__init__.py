"""Device profiles, board support, cross toolchains and the QEMU runner.

from edgeprune.targets import load_profile, build_firmware, run, measure_size

p = load_profile("cortex-m7")
elf = build_firmware(p, [Path("main.c")], [], Path("out/fw.elf"))
res = run(p, elf)            # RunResult(stdout, exit_code, instructions, ...)
size = measure_size(p, elf)  # text/data/bss/flash_bytes/...
"""

from edgeprune.targets.profile import (
    Profile,
    QemuSpec,
    ToolchainSpec,
    boards_dir,
    list_profiles,
    load_profile,
    profile_names,
    targets_dir,
)
from edgeprune.targets.qemu import RunResult, plugin_path, run
from edgeprune.targets.toolchain import (
    board_include_dirs,
    board_sources,
    build_firmware,
    find_tool,
    measure_size,
    object_symbols,
    symbol_address,
)

__all__ = [
    "Profile",
    "QemuSpec",
    "RunResult",
    "ToolchainSpec",
    "board_include_dirs",
    "board_sources",
    "boards_dir",
    "build_firmware",
    "find_tool",
    "list_profiles",
    "load_profile",
    "measure_size",
    "object_symbols",
    "plugin_path",
    "profile_names",
    "run",
    "symbol_address",
    "targets_dir",
]
