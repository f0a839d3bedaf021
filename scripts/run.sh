#!/usr/bin/env bash
# Install hedgestack on a fresh machine and run the main job on the embedded simulator:
# the dashboard + REST API (`hedgestack serve`, http://127.0.0.1:3001), or the terminal quickstart when
# the server is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
if .venv/bin/hedgestack serve --help > /dev/null 2>&1; then
  exec .venv/bin/hedgestack serve "$@"
fi
exec .venv/bin/hedgestack quickstart "$@"
