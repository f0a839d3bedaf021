"""The journal of the append path: one narrow commit per batch, moved into the wide tables by flush; readers
never see the difference, and a process that dies with rows in the journal loses none of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from hedgestack.store.eventlog import EventLog
from tests.store.test_eventlog import stream

ROOT = Path(__file__).resolve().parents[2]


def raw_count(log: EventLog, table: str) -> int:
    """Rows of a table as DuckDB holds them now: a second connection of this process to the same file (DuckDB
    shares the open database), so no flush."""
    with duckdb.connect(str(log.path)) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def test_a_batch_is_one_journal_row_until_a_reader_flushes(tmp_path: Path) -> None:
    with EventLog(tmp_path / "x.duckdb") as log:
        events = stream()
        log.append(events[:4])
        log.append(events[4:])
        assert raw_count(log, "journal") == 2 and raw_count(log, "events") == 0
        # every reader flushes first: the wide tables hold every event, the journal is empty
        assert log.execute("SELECT count(*) FROM events")[0][0] == len(events)
        assert raw_count(log, "journal") == 0
        changes = log.execute("SELECT count(*) FROM vp_changes")[0][0]
        assert changes > 0  # the transfer and the funding touched VPs
        assert log.ledger == log.replay(from_zero=True)


def test_the_append_path_flushes_every_flush_at_events(tmp_path: Path) -> None:
    with EventLog(tmp_path / "x.duckdb", flush_at=4) as log:
        events = stream()
        log.append(events[:2])
        assert raw_count(log, "events") == 0
        log.append(events[2:5])  # 5 pending ≥ 4: moved
        assert raw_count(log, "events") == 5 and raw_count(log, "journal") == 0


_DIE = """
import os, sys
from hedgestack.store.eventlog import EventLog
from tests.store.test_eventlog import stream
log = EventLog(sys.argv[1])
events = stream()
log.append(events[:3])
log.append(events[3:])
os._exit(0)  # no flush, no close, no snapshot
"""


def test_rows_left_in_the_journal_by_a_dead_process_are_recovered_on_open(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    subprocess.run([sys.executable, "-c", _DIE, str(path)], cwd=ROOT, check=True, timeout=60)
    with EventLog(path) as log:
        assert raw_count(log, "journal") == 0  # moved on open, before the replay
        assert log.count() == len(stream())
        assert log.ledger == log.replay(from_zero=True)
        assert log.ledger.trade_count == 3
    with EventLog(tmp_path / "reference.duckdb") as reference:
        reference.append(stream()[:3])
        reference.append(stream()[3:])
        with EventLog(path) as recovered:  # same file content in another log: same history rows
            ours = recovered.execute("SELECT * EXCLUDE (ts) FROM vp_history ORDER BY seq, vp_id")
        assert ours == reference.execute("SELECT * EXCLUDE (ts) FROM vp_history ORDER BY seq, vp_id")


def test_deferred_batches_commit_with_the_next_append_in_fold_order(tmp_path: Path) -> None:
    with EventLog(tmp_path / "x.duckdb") as log:
        events = stream()
        log.append(events[:2])
        log.append(events[2:4], defer=True)  # folded now ...
        assert log.ledger.trade_count == 2 and raw_count(log, "journal") == 1  # ... not committed yet
        log.append(events[4:6], defer=True)
        log.append(events[6:])  # commits the deferred batches before its own, in one statement
        assert raw_count(log, "journal") == 4
        seqs = [row[0] for row in log.execute("SELECT seq FROM events ORDER BY seq")]
        assert seqs == list(range(1, len(events) + 1))
        assert log.ledger == log.replay(from_zero=True)


def test_write_deferred_and_snapshots_never_leave_a_folded_event_out_of_the_log(tmp_path: Path) -> None:
    with EventLog(tmp_path / "x.duckdb") as log:
        events = stream()
        log.append(events[:3])
        log.append(events[3:5], defer=True)
        assert log.write_deferred() == 2 and raw_count(log, "journal") == 2
        log.append(events[5:], defer=True)
        log.write_snapshot()  # the snapshot covers seq 9: seq 6..9 must be in the log first
        assert raw_count(log, "journal") == 3
    with EventLog(tmp_path / "x.duckdb") as again:
        assert again.count() == len(events) and again.ledger == again.replay(from_zero=True)


_DIE_DEFERRED = """
import os, sys
from hedgestack.store.eventlog import EventLog
from tests.store.test_eventlog import stream
log = EventLog(sys.argv[1])
events = stream()
log.append(events[:3])
log.append(events[3:], defer=True)
os._exit(0)  # the deferred batch was never committed
"""


def test_a_crash_loses_only_the_deferred_tail_and_the_log_stays_a_prefix(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    subprocess.run([sys.executable, "-c", _DIE_DEFERRED, str(path)], cwd=ROOT, check=True, timeout=60)
    with EventLog(path) as log:
        assert log.count() == 3
        assert log.ledger == log.replay(from_zero=True)
        log.append(stream()[3:])  # the exchange tells it again: appended with the next seqs
        assert log.count() == len(stream())
