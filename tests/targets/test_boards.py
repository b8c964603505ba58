"""Build tiny programs for every emulated board and run them under QEMU.

Skipped (with the reason) only when the target's cross compiler or emulator is not installed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from edgeprune.errors import ToolchainError
from edgeprune.targets import build_firmware, load_profile, measure_size, run

TARGETS = ["cortex-m4", "cortex-m7", "cortex-m55", "rpi4", "rpi5"]

HELLO = r"""
#include "board.h"
int main(void) {
    ep_board_init();
    ep_puts("hello from edgeprune\n");
    ep_write("raw\0" "bytes\n", 10);
    return 3;
}
"""

# Three marker pairs around the same loop with N, 2N and 3N iterations. The trip count is read
# from a volatile so the compiler cannot fold the loop; the body updates a volatile sink.
LOOP = r"""
#include "board.h"
static volatile unsigned sink;
static volatile unsigned trip = ITERS;
__attribute__((noinline)) static void work(unsigned n) {
    for (unsigned i = 0; i < n; i++) sink += i ^ 0x5a;
}
int main(void) {
    ep_board_init();
    for (unsigned k = 1; k <= 3; k++) {
        unsigned n = trip * k;
        ep_bench_begin();
        work(n);
        ep_bench_end();
    }
    ep_puts("done\n");
    return 0;
}
"""

# Hand-written two-instruction loop: the plugin must count exactly 2 per iteration.
ASM_LOOP = r"""
#include "board.h"
static volatile unsigned trip = ITERS;
__attribute__((noinline)) static void spin(unsigned long n) {
#if defined(__aarch64__)
    __asm__ volatile("1: subs %0, %0, #1\n\tb.ne 1b" : "+r"(n) : : "cc");
#elif defined(__thumb__)
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+l"(n) : : "cc");
#elif defined(__x86_64__)
    __asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n) : : "cc");
#else
#error "no asm loop for this architecture"
#endif
}
static volatile unsigned long trips[2];
int main(void) {
    ep_board_init();
    trips[0] = trip;
    trips[1] = 2ul * trip;
    for (unsigned k = 0; k < 2; k++) {
        ep_bench_begin();
        spin(trips[k]); /* one volatile load per pair: same code between every pair */
        ep_bench_end();
    }
    return 0;
}
"""

STACK = r"""
#include "board.h"
static void put_uint(unsigned v) {
    char buf[12]; int i = 11; buf[i] = '\n';
    do { buf[--i] = (char)('0' + v % 10u); v /= 10u; } while (v);
    ep_write(buf + i, (unsigned)(12 - i));
}
__attribute__((noinline)) static unsigned deep(unsigned depth) {
    volatile unsigned char pad[USE_BYTES];
    for (unsigned i = 0; i < sizeof(pad); i++) pad[i] = (unsigned char)(i + depth);
    return pad[depth % sizeof(pad)] + pad[sizeof(pad) - 1];
}
int main(void) {
    ep_board_init();
    unsigned before = ep_stack_high_water_bytes();
    volatile unsigned r = deep(7);
    (void)r;
    put_uint(before);
    put_uint(ep_stack_high_water_bytes());
    put_uint(ep_stack_size_bytes());
    return 0;
}
"""


def _require(target: str):
    p = load_profile(target)
    missing = [t for t in (p.toolchain.cc, p.qemu.system) if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{target}: {', '.join(missing)} not installed")
    return p


def _build(p, tmp_path: Path, name: str, code: str, **kw) -> Path:
    src = tmp_path / f"{name}.c"
    src.write_text(code)
    return build_firmware(p, [src], [], tmp_path / p.name / f"{name}.elf", **kw)


@pytest.mark.parametrize("target", TARGETS)
def test_hello_and_exit_status(target, tmp_path):
    p = _require(target)
    elf = _build(p, tmp_path, "hello", HELLO)
    res = run(p, elf, timeout_s=60, count_instructions=False)
    assert res.stdout == b"hello from edgeprune\nraw\x00bytes\n", res.stderr
    assert res.exit_code == 3


@pytest.mark.parametrize("target", TARGETS)
def test_instruction_counts_exact_and_linear(target, tmp_path):
    p = _require(target)
    n = 200
    elf = _build(p, tmp_path, "loop", LOOP, defines={"ITERS": n})
    a = run(p, elf, timeout_s=120)
    b = run(p, elf, timeout_s=120)
    assert a.exit_code == 0 and a.stdout == b"done\n", a.stderr
    assert len(a.instructions) == 3, a
    assert a.instructions == b.instructions  # repeatable
    assert a.total_instructions == b.total_instructions
    c1, c2, c3 = a.instructions
    per_n = c2 - c1
    assert per_n > 0 and c3 - c2 == per_n  # exactly linear in the trip count
    assert per_n % n == 0 and 2 <= per_n // n <= 12  # a whole number of instructions per iteration
    overhead = c1 - per_n
    assert 0 < overhead < 100  # call/return + marker overhead only
    assert a.startup_instructions is not None and 0 < a.startup_instructions < a.total_instructions
    assert a.total_instructions > c1 + c2 + c3


@pytest.mark.parametrize("target", TARGETS + ["host"])
def test_instruction_count_is_exact(target, tmp_path):
    p = _require(target)
    n = 1000
    res = run(p, _build(p, tmp_path, "spin", ASM_LOOP, defines={"ITERS": n}), timeout_s=120)
    assert res.exit_code == 0, res.stderr
    c1, c2 = res.instructions
    assert c2 - c1 == 2 * n  # subs + branch per iteration, nothing lost or added
    assert 2 * n < c1 < 2 * n + 60


@pytest.mark.parametrize("target", ["cortex-m4"])
def test_counts_change_with_work(target, tmp_path):
    """A different trip count must change the counts (guards against a plugin that counts nothing)."""
    p = _require(target)
    small = run(p, _build(p, tmp_path, "l1", LOOP, defines={"ITERS": 10}))
    big = run(p, _build(p, tmp_path, "l2", LOOP, defines={"ITERS": 1000}))
    per10 = small.instructions[1] - small.instructions[0]
    per1000 = big.instructions[1] - big.instructions[0]
    assert per1000 == 100 * per10


@pytest.mark.parametrize("target", TARGETS)
def test_stack_high_water(target, tmp_path):
    p = _require(target)
    use = 3000
    elf = _build(p, tmp_path, "stack", STACK, defines={"USE_BYTES": use})
    res = run(p, elf, timeout_s=60, count_instructions=False)
    assert res.exit_code == 0, res.stderr
    before, after, size = (int(x) for x in res.stdout.split())
    assert 0 < before < after < size
    assert after >= use  # the deep frame's buffer lies entirely in the measured region
    if p.is_baremetal:
        assert size == 16 * 1024


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_stack_size_override_and_overflow(target, tmp_path):
    p = _require(target)
    elf = _build(p, tmp_path, "stack", STACK, defines={"USE_BYTES": 3000}, stack_size=8192)
    res = run(p, elf, timeout_s=60, count_instructions=False)
    assert res.exit_code == 0
    assert int(res.stdout.split()[2]) == 8192
    if target == "cortex-m55":  # MSPLIM catches the overflow -> HardFault (exception 3) -> exit 131
        elf = _build(p, tmp_path, "ovf", STACK, defines={"USE_BYTES": 12000}, stack_size=8192)
        res = run(p, elf, timeout_s=60, count_instructions=False)
        assert res.exit_code == 131 and b"EP FAULT: exception 0x03" in res.stdout


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m7", "cortex-m55"])
def test_fault_handler_reports(target, tmp_path):
    p = _require(target)
    elf = _build(
        p, tmp_path, "udf", '#include "board.h"\nint main(void){ __asm__ volatile("udf #0"); return 0; }\n'
    )
    res = run(p, elf, timeout_s=60, count_instructions=False)
    assert res.exit_code == 131 and b"EP FAULT: exception 0x03" in res.stdout


@pytest.mark.parametrize("target", ["cortex-m7", "rpi4"])
def test_cxx_sources(target, tmp_path):
    p = _require(target)
    if shutil.which(p.toolchain.cxx) is None:
        pytest.skip(f"{p.toolchain.cxx} not installed")
    src = tmp_path / "app.cc"
    src.write_text(
        '#include "board.h"\n'
        'struct Greeter { const char *msg; Greeter() : msg("ctor ran\\n") {} virtual ~Greeter() {}\n'
        "  virtual void say() const { ep_puts(msg); } };\n"
        "static Greeter g;\n"
        "template <int N> static int sum() { return N + sum<N - 1>(); }\n"
        "template <> int sum<0>() { return 0; }\n"
        'extern "C" int main() { ep_board_init(); g.say(); return sum<4>(); }\n'
    )
    elf = build_firmware(p, [src], [], tmp_path / "cxx.elf")
    res = run(p, elf, timeout_s=60, count_instructions=False)
    assert res.stdout == b"ctor ran\n" and res.exit_code == 10


@pytest.mark.parametrize("target", ["cortex-m7", "rpi4"])
def test_measure_size_and_exclusions(target, tmp_path):
    p = _require(target)
    harness = tmp_path / "harness.c"
    harness.write_text(
        '#include "board.h"\n'
        "extern const signed char ep_w_fc[4096];\n"
        "int model_run(void);\n"
        "int main(void) { ep_board_init(); return model_run() + ep_w_fc[5]; }\n"
    )
    model = tmp_path / "model.c"
    model.write_text(
        "const signed char ep_w_fc[4096] = {1, 2, 3};\n"
        "static int scratch[256];\n"
        "int model_run(void) { for (int i = 0; i < 256; i++) scratch[i] = ep_w_fc[i] * i;\n"
        "  return scratch[255] & 1; }\n"
    )
    elf = build_firmware(p, [harness, model], [], tmp_path / "m.elf")
    assert run(p, elf, count_instructions=False).exit_code == 0
    base = measure_size(p, elf)
    assert base["flash_bytes"] == base["text"] + base["data"]
    assert base["ram_bytes"] == base["data"] + base["bss"]
    assert base["text"] >= 4096 and base["bss"] >= 1024
    assert base["excluded_bytes"] == 0
    harness_objs = sorted((tmp_path / "m.elf.build").glob("000_*.o"))
    assert harness_objs
    s = measure_size(p, elf, exclude_symbols=lambda n: n.startswith("ep_w_"), exclude_objects=harness_objs)
    assert "main" in s["excluded_symbols"] and "ep_w_fc" in s["excluded_symbols"]
    assert "model_run" not in s["excluded_symbols"]
    assert s["excluded_flash_bytes"] >= 4096
    assert s["runtime_flash_bytes"] == s["flash_bytes"] - s["excluded_flash_bytes"]
    assert s["runtime_flash_bytes"] < base["flash_bytes"] - 4096
    assert s["runtime_ram_bytes"] == s["ram_bytes"]  # nothing in RAM was excluded
    if p.is_baremetal:
        assert s["stack_bytes"] == 16 * 1024 and ".vectors" in s["sections"]


def test_compile_error_is_reported(tmp_path):
    p = _require("cortex-m4")
    src = tmp_path / "bad.c"
    src.write_text("int main(void) { int unused; return undeclared_thing; }\n")
    with pytest.raises(ToolchainError) as ei:
        build_firmware(p, [src], [], tmp_path / "bad.elf")
    msg = str(ei.value)
    assert "bad.c" in msg and re.search(r"error", msg)


def test_warnings_are_errors(tmp_path):
    p = _require("cortex-m4")
    src = tmp_path / "warn.c"
    src.write_text("int main(void) { int unused; return 0; }\n")
    with pytest.raises(ToolchainError, match="unused"):
        build_firmware(p, [src], [], tmp_path / "warn.elf")


def test_no_heap(tmp_path):
    """Bare-metal images have no heap: malloc() must not link."""
    p = _require("cortex-m4")
    src = tmp_path / "heap.c"
    src.write_text("#include <stdlib.h>\nint main(void) { return malloc(4) != 0; }\n")
    with pytest.raises(ToolchainError):
        build_firmware(p, [src], [], tmp_path / "heap.elf")
