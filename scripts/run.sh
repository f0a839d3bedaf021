#!/usr/bin/env bash
# Install hedgestack on a fresh machine and run the main job on the embedded simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/hedgestack quickstart "$@"
