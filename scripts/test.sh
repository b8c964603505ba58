#!/usr/bin/env bash
# Set-up plus the whole test suite against the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/pytest -q "$@"
