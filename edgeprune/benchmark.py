"""`edgeprune bench`: builds a benchmark binary for a Linux board, runs it on the board over ssh or locally under
QEMU user mode, and reports latency, peak RSS, instructions per inference (QEMU) and bit-exactness vs LiteRT.
With threads > 1 the model is built for that many threads (edgeprune/lower/parallel.py); under QEMU the instructions
are summed over the threads and also reported per thread.

The binary runs warm-up and timed inferences on one fixed input (the baselines' pattern, seed 0) and prints each
latency and the output bytes; the same input goes through LiteRT's reference kernels on the host.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeprune.errors import EdgePruneError, TargetError, VerificationError
from edgeprune.pipeline import MODEL_COPY_NAME, REPORT_NAME, check_threads, load_model, read_report

BINARY_NAME = "ep_bench"
# `uname -m` of a device that can run each profile's binaries (aarch64 also runs armv7 hard-float ones).
DEVICE_MACHINES = {"aarch64": {"aarch64", "arm64"}, "armv7": {"armv7l", "armv8l", "aarch64", "arm64"}}


class DeviceError(EdgePruneError):
    """The device could not be reached, refused us, or cannot run the binary."""


@dataclass
class SshTarget:
    """USER@HOST and the ssh options to reach it (port, identity file, -o KEY=VALUE options)."""

    destination: str
    port: int | None = None
    identity: str | None = None
    options: list[str] = field(default_factory=list)
    timeout_s: float = 600

    def base(self, program: str = "ssh") -> list[str]:
        cmd = [program, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        if self.port:
            cmd += ["-p", str(self.port)]
        if self.identity:
            cmd += ["-i", self.identity, "-o", "IdentitiesOnly=yes"]
        for opt in self.options:
            cmd += ["-o", opt]
        return cmd

    def run(self, command: str, stdin: bytes | None = None, what: str = "") -> subprocess.CompletedProcess:
        cmd = [*self.base(), self.destination, command]
        try:
            proc = subprocess.run(cmd, input=stdin if stdin is not None else b"", capture_output=True,
                                  timeout=self.timeout_s, check=False)
        except FileNotFoundError:
            raise DeviceError("ssh not found; install it with: apt-get install openssh-client") from None
        except subprocess.TimeoutExpired:
            raise DeviceError(f"{self.destination}: {what or command} timed out after {self.timeout_s:g} s") from None
        if proc.returncode == 255:
            raise DeviceError(ssh_failure(self.destination, proc.stderr.decode(errors="replace")))
        return proc


def ssh_failure(destination: str, stderr: str) -> str:
    """One line saying why ssh could not run a command (exit status 255)."""
    text = stderr.strip()
    low = text.lower()
    if "host key verification failed" in low or "remote host identification has changed" in low:
        return (f"{destination}: host key verification failed (the host's key is unknown or has changed; "
                f"check known_hosts)")
    if "permission denied" in low or "too many authentication failures" in low:
        return f"{destination}: authentication failed (ssh key not accepted): {_last_line(text)}"
    if any(s in low for s in ("connection refused", "no route to host", "could not resolve", "timed out",
                              "network is unreachable", "name or service not known", "connection closed")):
        return f"{destination}: unreachable: {_last_line(text)}"
    return f"{destination}: ssh failed: {_last_line(text) or 'exit status 255'}"


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _machine(profile) -> str:
    return "armv7" if profile.arch.startswith("armv7") else "aarch64"


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_values) - 1, int(np.ceil(q / 100 * len(sorted_values))) - 1))
    return sorted_values[k]


def latency_stats(latencies_ns: list[int]) -> dict:
    v = sorted(x / 1000.0 for x in latencies_ns)
    return {"median_us": float(np.median(v)), "p90_us": _percentile(v, 90), "p99_us": _percentile(v, 99),
            "min_us": v[0], "mean_us": float(np.mean(v))}


def bench_input(graph) -> list[np.ndarray]:
    from edgeprune.testing.reference import deterministic_input

    return [deterministic_input(t.shape, t.dtype, seed=0) for t in graph.inputs]


def build_binary(out_dir: Path, profile, elf: Path, inputs: list[np.ndarray]) -> Path:
    from edgeprune.backends.c.cvalues import c_array_body
    from edgeprune.backends.c.emit import _ENV
    from edgeprune.targets import build_firmware

    report = read_report(out_dir)
    graph = load_model(out_dir / MODEL_COPY_NAME)
    name = report["name"]
    context = {
        "name": name, "upper": name.upper(),
        "inputs": [{"bytes": t.nbytes, "body": c_array_body(np.ascontiguousarray(x).view(np.uint8), per_line=64)}
                   for t, x in zip(graph.inputs, inputs)],
        "outputs": [{"bytes": t.nbytes} for t in graph.outputs],
    }
    main_c = elf.parent / "bench_main.c"
    main_c.write_text(_ENV.get_template("bench.c.j2").render(**context))
    sources = [main_c, out_dir / "src" / f"{name}.c", out_dir / "src" / f"{name}_weights.c",
               *sorted((out_dir / "runtime" / "kernels").glob("*.cc"))]
    includes = [out_dir / "include", out_dir / "src", out_dir / "runtime" / "include"]
    return build_firmware(profile, sources, includes, elf)


def _parse(stdout: str, graph) -> tuple[list[int], int | None, list[np.ndarray]]:
    lat, rss, outs = [], None, {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "latency_ns":
            lat.append(int(parts[1]))
        elif len(parts) == 2 and parts[0] == "peak_rss_kib":
            rss = int(parts[1])
        elif len(parts) == 3 and parts[0] == "out":
            k = int(parts[1])
            t = graph.outputs[k]
            outs[k] = np.frombuffer(bytes.fromhex(parts[2]), dtype=t.dtype).reshape(t.shape)
    if not lat or len(outs) != len(graph.outputs):
        raise VerificationError(f"the benchmark binary's output is incomplete: {stdout[-300:]!r}")
    return lat, rss, [outs[k] for k in range(len(graph.outputs))]


def check_device(ssh: SshTarget, profile) -> str:
    """`uname -m` of the device; DeviceError if it cannot run this profile's binaries."""
    proc = ssh.run("uname -m", what="uname -m")
    machine = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0 or not machine:
        raise DeviceError(f"{ssh.destination}: `uname -m` failed: {_last_line(proc.stderr.decode(errors='replace'))}")
    want = _machine(profile)
    if machine not in DEVICE_MACHINES[want]:
        raise DeviceError(f"{ssh.destination} is a {machine} machine; the {profile.name} binary needs {want} "
                          f"(pick the --target that matches the board)")
    return machine


def run_over_ssh(ssh: SshTarget, profile, elf: Path, runs: int, warmup: int) -> str:
    machine = check_device(ssh, profile)
    proc = ssh.run("mktemp -d /tmp/edgeprune-bench.XXXXXX", what="mktemp")
    remote_dir = proc.stdout.decode().strip()
    if proc.returncode != 0 or not remote_dir.startswith("/"):
        raise DeviceError(f"{ssh.destination}: cannot create a temporary folder: "
                          f"{_last_line(proc.stderr.decode(errors='replace'))}")
    remote = f"{remote_dir}/{BINARY_NAME}"
    try:
        proc = ssh.run(f"cat > {shlex.quote(remote)} && chmod +x {shlex.quote(remote)}", stdin=elf.read_bytes(),
                       what="copying the binary")
        if proc.returncode != 0:
            raise DeviceError(f"{ssh.destination}: copying the binary failed: "
                              f"{_last_line(proc.stderr.decode(errors='replace'))}")
        proc = ssh.run(f"{shlex.quote(remote)} {int(runs)} {int(warmup)}", what="the benchmark")
        if proc.returncode != 0:
            err = _last_line(proc.stderr.decode(errors="replace"))
            raise DeviceError(f"{ssh.destination} ({machine}): the benchmark exited with status {proc.returncode}"
                              f"{': ' + err if err else ''}")
        return proc.stdout.decode(errors="replace")
    finally:
        ssh.run(f"rm -rf {shlex.quote(remote_dir)}", what="cleaning up")


def bench(model_or_out: str | Path, target: str, ssh: SshTarget | None = None, runs: int = 20, warmup: int = 3,
          threads: int = 1) -> dict:
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.testing.reference import litert_run

    if runs < 1 or warmup < 0:
        raise EdgePruneError("--runs must be at least 1 and --warmup at least 0")
    profile = load_profile(target)
    if profile.is_baremetal or profile.toolchain.kind != "linux" or profile.name == "host":
        raise TargetError(f"bench runs on Linux boards (rpi4, rpi5, ...); {profile.name} is not one")
    check_threads(profile, threads)
    source = Path(model_or_out)
    with tempfile.TemporaryDirectory(prefix="edgeprune-bench-") as tmp:
        tmp = Path(tmp)
        if (source / REPORT_NAME).is_file():
            out_dir = source
            built_for = read_report(out_dir).get("target")
            if built_for != profile.name:
                raise TargetError(f"{source} was built for {built_for}, not {profile.name}; rebuild it or pass the "
                                  f"model instead")
            built_threads = int(read_report(out_dir).get("threads", 1))
            if built_threads != threads:
                raise EdgePruneError(f"{source} was built with --threads {built_threads}, not {threads}; rebuild it "
                                     f"or pass the model instead")
        else:
            if not source.is_file():
                raise EdgePruneError(f"{source}: no such model file or build folder")
            out_dir = tmp / "out"
            build(source, profile, out_dir, threads=threads)
        report = read_report(out_dir)
        graph = load_model(out_dir / MODEL_COPY_NAME)
        inputs = bench_input(graph)
        elf = build_binary(out_dir, profile, tmp / BINARY_NAME, inputs)
        result: dict = {"model": str(source), "target": profile.name, "cpu": profile.cpu, "runs": runs,
                        "warmup": warmup, "threads": threads, "macs": report.get("macs"),
                        "binary_bytes": elf.stat().st_size}
        if ssh is None:
            rr = _run_qemu(profile, elf, runs, warmup, threads > 1)
            if rr.exit_code != 0:
                raise VerificationError(f"the benchmark binary exited with status {rr.exit_code} under QEMU "
                                        f"({' '.join(rr.command[:3])}): "
                                        f"{_last_line(rr.stderr.decode(errors='replace'))}")
            stdout = rr.stdout.decode(errors="replace")
            result["mode"] = "qemu"
            result["device"] = f"{rr.command[0].rsplit('/', 1)[-1]} -cpu {profile.qemu.cpu}"
            counts = list(rr.instructions)
            result["instructions"] = counts[-1] if counts else None  # summed over the threads
            if threads > 1 and rr.thread_instructions:
                per = rr.thread_instructions[-1]
                # Per thread (the calling thread first); the largest approximates the critical path.
                result["instructions_per_thread"] = [per[k] for k in sorted(per)]
                result["instructions_max_thread"] = max(per.values()) if per else None
            if counts and report.get("macs"):
                result["instructions_per_mac"] = counts[-1] / report["macs"]
        else:
            stdout = run_over_ssh(ssh, profile, elf, runs, warmup)
            result["mode"] = "ssh"
            result["device"] = ssh.destination
            result["instructions"] = None
    latencies, rss, ours = _parse(stdout, graph)
    reference = litert_run(source if not (source / REPORT_NAME).is_file() else source / MODEL_COPY_NAME, inputs)
    bit_exact = all(o.dtype == r.dtype and np.array_equal(o, r.reshape(o.shape)) for o, r in zip(ours, reference))
    result.update({"latency": latency_stats(latencies), "peak_rss_kib": rss, "bit_exact": bool(bit_exact)})
    return result


def _run_qemu(profile, elf: Path, runs: int, warmup: int, threads: bool = False):
    """Like edgeprune.targets.qemu.run, with the binary's arguments (threads: count per guest thread)."""
    from edgeprune.targets import qemu

    with tempfile.TemporaryDirectory(prefix="edgeprune-run-") as tmp:
        counts_file = Path(tmp) / "insns.txt"
        cmd = [*qemu.qemu_command(profile, elf, qemu.plugin_argument(profile, elf, counts_file, threads)), str(runs),
               str(warmup)]
        try:
            proc = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True, timeout=1800)
        except subprocess.TimeoutExpired:
            raise VerificationError(f"{elf.name} on {profile.name} timed out") from None
        pairs: list[int] = []
        per_thread: list[dict[int, int]] = []
        if counts_file.is_file():
            text = counts_file.read_text()
            pairs, _, _ = qemu._parse_counts(text)
            per_thread = qemu._parse_thread_counts(text)
        return qemu.RunResult(stdout=proc.stdout, exit_code=proc.returncode, instructions=pairs, stderr=proc.stderr,
                              command=tuple(cmd), thread_instructions=per_thread)
