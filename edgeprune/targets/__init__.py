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
