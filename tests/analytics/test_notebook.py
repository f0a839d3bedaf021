"""notebooks/fill_analytics.ipynb runs top to bottom headless (nbval) and is committed without outputs: on the
demo history, and on a live data directory (a log held open by its owner, as a running terminal holds it, read
through what it published)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "fill_analytics.ipynb"


def test_notebook_is_committed_stripped() -> None:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code and all(not cell["outputs"] and cell["execution_count"] is None for cell in code)


def _nbval(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", str(NOTEBOOK), "-q", "-p", "no:cacheprovider",
         "--timeout", "120"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_notebook_runs_under_nbval(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HEDGESTACK_DATA_DIR"}  # the demo-data path
    env["TMPDIR"] = str(tmp_path)
    _nbval(env)


def test_notebook_runs_on_a_live_data_directory(tmp_path: Path) -> None:
    from hedgestack.store.eventlog import EventLog
    from hedgestack.store.publish import Publisher
    from tests.analytics.conftest import MARKS, history

    data = tmp_path / "data"
    with EventLog(data / "hedgestack.duckdb") as log:  # held open while the notebook reads, as by a terminal
        log.append(history())
        log.append_marks(MARKS)
        Publisher(log, data).publish()
        env = {**os.environ, "HEDGESTACK_DATA_DIR": str(data), "TMPDIR": str(tmp_path)}
        _nbval(env)
