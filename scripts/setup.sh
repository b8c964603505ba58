#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh Debian/Ubuntu machine: cross toolchains and QEMU from apt,
# a virtualenv in .venv with edgeprune installed from this checkout (builds the C++ extension).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="dataset-fashion-mnist gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm qemu-user gcc-aarch64-linux-gnu g++-aarch64-linux-gnu openssh-server openssh-client g++-arm-linux-gnueabihf"
need_apt=0
for tool in arm-none-eabi-gcc arm-none-eabi-g++ qemu-system-arm qemu-aarch64 aarch64-linux-gnu-gcc ssh ssh-keygen arm-linux-gnueabihf-g++; do
  command -v "$tool" >/dev/null 2>&1 || need_apt=1
done
[ -d /usr/share/datasets/fashion-mnist ] || need_apt=1
[ -x /usr/sbin/sshd ] || need_apt=1  # the bench ssh tests start their own sshd
if [ "$need_apt" = 1 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing cross toolchains and QEMU with apt" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $APT_PACKAGES >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check ".[test,prune]"
