#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run the whole suite.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test,dev]"

# Browser tests drive Debian's chromium (playwright cannot download browsers here).
if compgen -G "tests/e2e/test_*.py" > /dev/null && ! command -v chromium > /dev/null; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
  fi
fi

.venv/bin/ruff check hedgestack tests
.venv/bin/mypy --strict hedgestack/domain
.venv/bin/mypy
# conftest.py turns "no tests collected" (pytest exit 5) into a failure.
.venv/bin/python -m pytest "$@"
