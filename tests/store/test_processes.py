"""Crash safety (SIGKILL mid-batch) and cross-process reading of the published Parquet."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hedgestack.analytics
from hedgestack.domain.errors import StoreError
from hedgestack.store.eventlog import EventLog
from tests.store.writer_proc import BATCH

ROOT = Path(__file__).resolve().parents[2]


def start_writer(data_dir: Path, batches: int, publish_every: int, *, hold: bool = False) -> subprocess.Popen[str]:
    """The writer process; with ``hold`` it keeps the file after its last batch until a line on its stdin."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.store.writer_proc", str(data_dir), str(batches),
                             str(publish_every), *(["hold"] if hold else [])], cwd=ROOT, stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 0.7, 1.3])
def test_sigkill_mid_batch_leaves_whole_batches(tmp_path: Path, delay: float) -> None:
    proc = start_writer(tmp_path, -1, 0)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        count = log.count()
        assert count > 1
        assert (count - 1) % BATCH == 0, f"{count - 1} fill events is not a whole number of batches"
        assert log.ledger == log.replay(from_zero=True)
        fills = log.execute("SELECT count(*) FROM events WHERE kind = 'fill'")[0][0]
        history = log.execute("SELECT count(*) FROM vp_history WHERE event_kind = 'fill'")[0][0]
        assert fills == history == log.ledger.trade_count
    # and the writer can go on where it stopped
    proc = start_writer(tmp_path, 2, 0)
    proc.wait(timeout=60)
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        assert log.count() == count + 2 * BATCH


def test_second_process_reads_parquet_while_writer_holds_the_file(tmp_path: Path) -> None:
    proc = start_writer(tmp_path, 40, 5, hold=True)  # the writer holds the file until told, however fast
    assert proc.stdout is not None and proc.stdin is not None
    published = int(proc.stdout.readline().split()[1])
    try:
        # DuckDB refuses a second process on the file, even read-only
        code = ("import sys\nfrom hedgestack.store.eventlog import EventLog\n"
                "try:\n    EventLog(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e.code)\n")
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "hedgestack.duckdb")], cwd=ROOT,
                             capture_output=True, text=True, timeout=60).stdout
        assert out.strip() == f"{StoreError.__name__} STORE_LOCKED"
        # ... but this process reads the published Parquet, repeatedly, while the writer goes on
        analytics = hedgestack.analytics.open(tmp_path)
        seen = []
        for _ in range(5):
            fills = analytics.fills()
            assert fills["trade_id"].n_unique() == fills.height
            assert fills["trade_id"].to_list() == sorted(fills["trade_id"].to_list())
            seen.append(fills.height)
            time.sleep(0.05)
        assert seen[0] >= published - 1 - BATCH  # the published seq counts the VpCreated event
        assert seen == sorted(seen)
    finally:
        proc.stdin.write("close\n")
        proc.stdin.flush()
        proc.wait(timeout=120)
    final = hedgestack.analytics.open(tmp_path).fills()
    assert final.height == 40 * BATCH
