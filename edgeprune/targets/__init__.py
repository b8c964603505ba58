"""Device profiles, board support, cross toolchains and the QEMU runner.

    from edgeprune.targets import load_profile, build_firmware, run, measure_size
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

from edgeprune.targets.qemu import RunResult, plugin_path, run  # noqa: E402
from edgeprune.targets.toolchain import (  # noqa: E402
    build_firmware,
    find_tool,
    measure_size,
    object_symbols,
    symbol_address,
)

__all__ += [
    "RunResult",
    "build_firmware",
    "find_tool",
    "measure_size",
    "object_symbols",
    "plugin_path",
    "run",
    "symbol_address",
]
