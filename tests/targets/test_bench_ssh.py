"""`edgeprune bench` locally under qemu-aarch64 and over ssh, against a real OpenSSH server this test starts on
127.0.0.1 with throwaway keys. Its ForceCommand plays a Raspberry Pi: `uname -m` answers the simulated machine
and the benchmark binary runs through qemu-aarch64 -cpu cortex-a72. Host-key and authentication failures, an
unreachable host and a wrong-architecture device must each give one clear line and exit code 2.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.cli import main
from edgeprune.testing.random_models import random_int8_cnn

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
needs_qemu = pytest.mark.skipif(shutil.which("qemu-aarch64") is None or shutil.which("aarch64-linux-gnu-g++") is None,
                                reason="qemu-aarch64 / aarch64-linux-gnu-g++ not installed")
needs_sshd = pytest.mark.skipif(SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None,
                                reason="openssh-server / openssh-client not installed (scripts/setup.sh installs them)")

DEVICE = """#!/bin/sh
# A simulated Raspberry Pi behind sshd's ForceCommand.
case "$SSH_ORIGINAL_COMMAND" in
  "uname -m") cat {root}/machine ;;
  /*/ep_bench\\ [0-9]*) exec qemu-aarch64 -cpu cortex-a72 $SSH_ORIGINAL_COMMAND ;;
  *) exec /bin/sh -c "$SSH_ORIGINAL_COMMAND" ;;
esac
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    if SSHD is None:
        pytest.skip("sshd not installed")
    root = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key", "other_key", "other_host_key"):
        _keygen(root / name)
    (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
    (root / "machine").write_text("aarch64\n")
    script = root / "device.sh"
    script.write_text(DEVICE.format(root=root))
    script.chmod(0o755)
    port = _free_port()
    (root / "sshd_config").write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {root}/host_key
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin yes
ForceCommand {script}
""")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(root / "sshd_config")], stdout=subprocess.DEVNULL,
                            stderr=open(root / "sshd.log", "wb"))
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"sshd exited: {(root / 'sshd.log').read_text()}")
            time.sleep(0.1)
    host_pub = (root / "host_key.pub").read_text().split()
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    other = (root / "other_host_key.pub").read_text().split()
    (root / "wrong_known_hosts").write_text(f"[127.0.0.1]:{port} {other[0]} {other[1]}\n")
    yield {"root": root, "port": port}
    proc.terminate()
    proc.wait(timeout=10)


def _ssh_args(device, key="client_key", known="known_hosts", port=None):
    root = device["root"]
    return ["--ssh", "root@127.0.0.1", "--ssh-port", str(port or device["port"]), "--ssh-key", str(root / key),
            "--ssh-option", f"UserKnownHostsFile={root / known}", "--ssh-option", "StrictHostKeyChecking=yes"]


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    """A small random int8 CNN built for rpi4 (conv, depthwise, add, pooling...)."""
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile

    tmp = tmp_path_factory.mktemp("model")
    model = tmp / "cnn.tflite"
    model.write_bytes(graph_to_bytes(random_int8_cnn(3, input_shape=(1, 12, 12, 3))))
    build(model, load_profile("rpi4"), tmp / "out")
    return tmp / "out"


@needs_qemu
def test_bench_locally_under_qemu(small_build, capsys):
    assert main(["bench", str(small_build), "--target", "rpi4", "--runs", "3", "--warmup", "1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["mode"] == "qemu" and r["bit_exact"] is True and r["instructions"] > 0
    assert r["latency"]["min_us"] <= r["latency"]["median_us"] <= r["latency"]["p90_us"] <= r["latency"]["p99_us"]
    assert r["peak_rss_kib"] > 0


@needs_qemu
@needs_sshd
def test_bench_over_ssh(device, small_build, capsys):
    args = ["bench", str(small_build), "--target", "rpi4", "--runs", "2", "--warmup", "0", "--json"]
    assert main(args + _ssh_args(device)) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["mode"] == "ssh" and r["bit_exact"] is True and len(r["latency"]) >= 4


@needs_qemu
@needs_sshd
def test_bench_kws_over_ssh(device, shared_model, capsys):
    kws = shared_model("kws_ref_model.tflite")
    assert main(["bench", str(kws), "--target", "rpi4", "--runs", "2", "--json", *_ssh_args(device)]) == 0
    assert json.loads(capsys.readouterr().out)["bit_exact"] is True


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


@needs_qemu
@needs_sshd
def test_bench_ssh_failures(device, small_build, capsys):
    base = ["bench", str(small_build), "--target", "rpi4", "--runs", "1"]
    err = _error(capsys, base + _ssh_args(device, known="wrong_known_hosts"))
    assert "host key verification failed" in err
    err = _error(capsys, base + _ssh_args(device, key="other_key"))
    assert "authentication failed" in err
    err = _error(capsys, base + _ssh_args(device, port=_free_port()))
    assert "unreachable" in err and "refused" in err
    machine = device["root"] / "machine"
    machine.write_text("x86_64\n")
    try:
        err = _error(capsys, base + _ssh_args(device))
    finally:
        machine.write_text("aarch64\n")
    assert "x86_64" in err and "aarch64" in err


@needs_qemu
def test_bench_threads_locally_under_qemu(small_build, capsys):
    """--threads 2: built for 2 threads, run under qemu-aarch64 (guest threads are host threads), instructions
    summed over the threads, bit-exact."""
    model = small_build.parent / "cnn.tflite"
    assert main(["bench", str(model), "--target", "rpi4", "--threads", "2", "--runs", "2", "--warmup", "1",
                 "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["mode"] == "qemu" and r["threads"] == 2 and r["bit_exact"] is True
    per = r["instructions_per_thread"]
    assert len(per) == 2 and min(per) > 0 and r["instructions"] == sum(per) and r["instructions_max_thread"] == max(per)


@needs_qemu
@needs_sshd
def test_bench_threads_over_ssh(device, small_build, capsys):
    model = small_build.parent / "cnn.tflite"
    args = ["bench", str(model), "--target", "rpi4", "--threads", "3", "--runs", "2", "--warmup", "0", "--json"]
    assert main(args + _ssh_args(device)) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["mode"] == "ssh" and r["threads"] == 3 and r["bit_exact"] is True and r["instructions"] is None


def test_bench_threads_rejected(small_build, capsys):
    err = _error(capsys, ["bench", str(small_build), "--target", "rpi4", "--threads", "0"])
    assert "--threads" in err and "at least 1" in err
    err = _error(capsys, ["bench", str(small_build), "--target", "rpi4", "--threads", "2"])
    assert "built with --threads 1" in err


def test_bench_rejects_bare_metal_targets(small_build, capsys):
    err = _error(capsys, ["bench", str(small_build), "--target", "cortex-m7"])
    assert "Linux boards" in err
    err = _error(capsys, ["bench", str(small_build), "--target", "rpi5"])
    assert "built for rpi4" in err


@pytest.mark.skipif(shutil.which("qemu-arm") is None or shutil.which("arm-linux-gnueabihf-g++") is None,
                    reason="qemu-arm / arm-linux-gnueabihf-g++ not installed")
def test_bench_armv7_hard_float_under_qemu_arm(small_build, capsys):
    model = small_build.parent / "cnn.tflite"
    assert main(["bench", str(model), "--target", "rpi4-armv7", "--runs", "2", "--warmup", "0", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["bit_exact"] is True and r["device"].startswith("qemu-arm -cpu cortex-a15") and r["instructions"] > 0
