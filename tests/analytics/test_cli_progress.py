"""The long analytics commands: machine output under --json, progress bars only in a terminal (not under --json,
not when stdout is redirected, not in CI), export --publish, and the side-by-side benchmark."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from hedgestack.store.eventlog import EventLog
from tests.analytics.conftest import MARKS, history

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return {**env, "COLUMNS": "120", **extra}


def hedgestack(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hedgestack.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env or _env())


def in_terminal(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run the command with stdout and stderr on a pseudo-terminal; return its status and all it wrote."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "hedgestack.cli", *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 300)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=60), ANSI.sub("", b"".join(chunks).decode(errors="replace"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory whose log was never published (a terminal stopped before publishing)."""
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        log.append(history())
        log.append_marks(MARKS)
    return tmp_path


def test_export_publishes_an_unpublished_log_first_and_prints_json(data_dir: Path) -> None:
    out = hedgestack("export", "--data-dir", str(data_dir), "--out", str(data_dir / "f.parquet"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rows"] == 0  # nothing published yet, and not asked to publish
    out = hedgestack("export", "--data-dir", str(data_dir), "--out", str(data_dir / "f.parquet"), "--publish",
                     "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)  # stdout is the JSON object alone
    assert (result["rows"], result["published_seq"]) == (6, len(history()))
    assert pl.read_parquet(data_dir / "f.parquet")["trade_id"].to_list() == [1, 2, 3, 4, 5, 6]
    assert out.stderr == ""


def test_export_leaves_a_log_a_terminal_holds_to_it(data_dir: Path) -> None:
    with EventLog(data_dir / "hedgestack.duckdb"):  # this process owns the file, as a terminal would
        code = ("import sys\nfrom hedgestack.store.export import publish_first\n"
                "print(publish_first(sys.argv[1]))\n")
        out = subprocess.run([sys.executable, "-c", code, str(data_dir)], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0 and out.stdout.strip() == "None", out.stderr


def test_progress_bars_only_in_a_terminal_outside_ci(data_dir: Path) -> None:
    args = ("export", "--data-dir", str(data_dir), "--out", str(data_dir / "f.csv"), "--format", "csv", "--publish")
    status, shown = in_terminal(*args, env=_env())
    assert status == 0 and "publishing fills" in shown and "exporting fills" in shown
    status, shown = in_terminal(*args, env=_env(CI="true"))
    assert status == 0 and "publishing" not in shown and "exporting" not in shown
    assert "6 fills rows written" in shown
    status, shown = in_terminal(*args, "--json", env=_env())
    assert status == 0 and "exporting" not in shown and json.loads(shown.strip())["rows"] == 6
    redirected = hedgestack(*args)  # stdout a pipe
    assert redirected.returncode == 0 and "exporting" not in redirected.stdout + redirected.stderr


def test_demo_data_json_and_its_bar(tmp_path: Path) -> None:
    out = hedgestack("demo-data", "--fills", "400", "--out", str(tmp_path / "a"), "--days", "2", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["fills"] == 400 and out.stderr == ""
    status, shown = in_terminal("demo-data", "--fills", "400", "--out", str(tmp_path / "b"), "--days", "2",
                                env=_env())
    assert status == 0 and "demo data" in shown and "400 fills over 2 days" in shown


@pytest.mark.slow
def test_bench_replay_side_by_side_with_a_baseline() -> None:
    out = hedgestack("bench", "replay", "--fills", "2000", "--repeat", "1", "--json", "--baseline", str(ROOT))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["baseline"]["fills"] == result["current"]["fills"] == 2000
    assert result["current"]["identical_state"] is True
    assert set(result["baseline_over_current"]) == {"open_with_snapshot_seconds_median",
                                                     "replay_from_zero_seconds_median"}
