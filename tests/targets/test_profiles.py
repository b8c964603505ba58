"""Device profiles and tool lookup (no cross toolchain needed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from edgeprune.errors import TargetError, ToolchainError
from edgeprune.targets import build_firmware, find_tool, list_profiles, load_profile, run, targets_dir
from edgeprune.targets import profile as profile_mod

ALL = ["cortex-m4", "cortex-m7", "cortex-m55", "rpi4", "rpi5", "rpi4-armv7", "host"]


def test_all_profiles_load():
    names = [p.name for p in list_profiles()]
    assert sorted(names) == sorted(ALL)
    for name in ALL:
        p = load_profile(name)
        assert p.name == name
        assert p.clock_hz > 0 and p.sram_bytes > p.reserve_ram_bytes > 0
        assert p.flash_bytes > p.reserve_flash_bytes > 0
        assert p.round_to in (4, 8, 16)
        for key in (
            "conv_cycles_per_mac",
            "depthwise_cycles_per_mac",
            "fc_cycles_per_mac",
            "elementwise_cycles_per_element",
        ):
            assert p.cost[key] > 0
        assert p.raw["name"] == name
        assert (p.board_dir()).is_dir(), p.board_dir()
        assert dataclasses.is_dataclass(p)
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.clock_hz = 1  # type: ignore[misc]


def test_profile_facts():
    m4, m7, m55 = load_profile("cortex-m4"), load_profile("cortex-m7"), load_profile("cortex-m55")
    assert "STM32F446RE" in m4.part and m4.clock_hz == 180_000_000
    assert m4.sram_bytes == 128 * 1024 and m4.flash_bytes == 512 * 1024
    assert "STM32H743" in m7.part and m7.clock_hz == 480_000_000
    assert "fpv5-d16" in m7.isa and "dsp" in m7.isa
    assert {"mve", "mve-fp"} <= set(m55.isa) and m55.round_to == 16
    assert m4.round_to == 4 and m7.round_to == 4
    assert "-mfpu=fpv5-d16" in m7.toolchain.cflags and "-ffp-contract=off" in m7.toolchain.cflags
    assert m7.qemu.machine == "mps2-an500" and m55.qemu.machine == "mps3-an547"
    r4, r5 = load_profile("rpi4"), load_profile("rpi5")
    assert r4.cpu == "cortex-a72" and r5.cpu == "cortex-a76"
    assert r4.qemu.system == "qemu-aarch64" and r4.qemu.mode == "user"
    assert "dotprod" in r5.isa and "dotprod" not in r4.isa
    assert "-static" in r4.toolchain.ldflags


def test_targets_dir_is_source_tree():
    d = targets_dir()
    assert (d / "cortex-m4" / "profile.toml").is_file()
    assert (d / "boards" / "common" / "board.h").is_file()


def test_unknown_target():
    with pytest.raises(TargetError) as ei:
        load_profile("foo")
    msg = str(ei.value)
    assert msg.startswith("unknown target 'foo'; known: ")
    for name in ALL:
        assert name in msg


def test_malformed_profile(tmp_path, monkeypatch):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "profile.toml").write_text('name = "bad"\nclock_hz = "fast"\n')
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "profile.toml").write_text("name = [\n")
    monkeypatch.setattr(profile_mod, "targets_dir", lambda: tmp_path)
    with pytest.raises(TargetError, match="missing key|wrong type"):
        load_profile("bad")
    with pytest.raises(TargetError, match="cannot read"):
        load_profile("broken")


def test_find_tool_missing(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolchainError) as ei:
        find_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi")
    assert "apt-get install gcc-arm-none-eabi" in str(ei.value)


@pytest.mark.parametrize(
    "target,package",
    [("cortex-m7", "gcc-arm-none-eabi"), ("rpi4", "gcc-aarch64-linux-gnu")],
)
def test_build_without_compiler_names_package(target, package, tmp_path, monkeypatch):
    src = tmp_path / "x.c"
    src.write_text("int main(void) { return 0; }\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolchainError) as ei:
        build_firmware(load_profile(target), [src], [], tmp_path / "x.elf")
    assert f"apt-get install {package}" in str(ei.value)


@pytest.mark.parametrize("target,package", [("cortex-m55", "qemu-system-arm"), ("rpi5", "qemu-user")])
def test_run_without_qemu_names_package(target, package, tmp_path, monkeypatch):
    elf = tmp_path / "fake.elf"
    elf.write_bytes(b"\x7fELF")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolchainError) as ei:
        run(load_profile(target), elf, count_instructions=False)
    assert f"apt-get install {package}" in str(ei.value)


def test_source_missing(tmp_path):
    with pytest.raises(ToolchainError, match="not found"):
        build_firmware(load_profile("cortex-m4"), [Path(tmp_path / "nope.c")], [], tmp_path / "x.elf")
