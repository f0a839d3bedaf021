"""The sync journal: a batch made durable by ``sync_deferred`` survives a crash before DuckDB's commit, exactly
once and in seq order; the file is emptied once DuckDB holds what it had; a torn tail or a file of another
database is never taken for history."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hedgestack.store.eventlog import SYNC_SUFFIX, EventLog
from hedgestack.store.syncjournal import SyncJournal
from tests.store.test_eventlog import stream
from tests.store.test_journal import ROOT, raw_count


def sync_path(db: Path) -> Path:
    return db.with_name(db.name + SYNC_SUFFIX)


def test_records_round_trip_and_a_torn_tail_ends_the_read(tmp_path: Path) -> None:
    journal = SyncJournal(tmp_path / "j", "id-1")
    journal.write([(1, 2, "[1]"), (3, 3, "[2]")])
    journal.write([(4, 6, "[3]")])
    assert journal.read() == [(1, 2, "[1]"), (3, 3, "[2]"), (4, 6, "[3]")]
    journal.close()
    data = (tmp_path / "j").read_bytes()
    (tmp_path / "j").write_bytes(data[:-3])  # a crash mid-write: the last record is torn
    assert SyncJournal(tmp_path / "j", "id-1").read() == [(1, 2, "[1]"), (3, 3, "[2]")]
    flipped = bytearray(data)
    flipped[-2] ^= 0xFF  # a corrupt last record: its checksum fails
    (tmp_path / "j").write_bytes(bytes(flipped))
    assert SyncJournal(tmp_path / "j", "id-1").read() == [(1, 2, "[1]"), (3, 3, "[2]")]


def test_a_journal_of_another_database_is_ignored(tmp_path: Path) -> None:
    journal = SyncJournal(tmp_path / "j", "id-1")
    journal.write([(1, 1, "[1]")])
    journal.close()
    assert SyncJournal(tmp_path / "j", "id-2").read() == []


def test_clear_empties_the_file_and_the_next_write_starts_with_a_header(tmp_path: Path) -> None:
    journal = SyncJournal(tmp_path / "j", "id-1")
    journal.write([(1, 1, "[1]")])
    journal.clear()
    assert (tmp_path / "j").stat().st_size == 0 and journal.read() == []
    journal.write([(2, 2, "[2]")])
    assert journal.read() == [(2, 2, "[2]")]


def test_synced_batches_stay_deferred_until_write_deferred_which_empties_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    with EventLog(path) as log:
        events = stream()
        log.append(events[:3])
        log.append(events[3:5], defer=True)
        assert log.sync_deferred()
        assert raw_count(log, "journal") == 1 and sync_path(path).stat().st_size > 0  # durable, not in DuckDB
        log.append(events[5:], defer=True)
        assert log.sync_deferred()
        size = sync_path(path).stat().st_size
        assert log.sync_deferred() and sync_path(path).stat().st_size == size  # only what is new is written
        assert log.write_deferred() == len(events) - 3
        assert raw_count(log, "journal") == 3 and sync_path(path).stat().st_size == 0
        assert log.ledger == log.replay(from_zero=True)


def test_an_in_memory_log_has_no_sync_journal(tmp_path: Path) -> None:
    with EventLog(":memory:") as log:
        log.append(stream()[:3], defer=True)
        assert not log.sync_deferred()
        assert log.write_deferred() == 3


_DIE_SYNCED = """
import os, sys
from hedgestack.store.eventlog import EventLog
from tests.store.test_eventlog import stream
log = EventLog(sys.argv[1])
events = stream()
cut = int(sys.argv[2])
log.append(events[:2])
log.append(events[2:cut], defer=True)
log.sync_deferred()  # durable: an order may leave now
log.append(events[cut:], defer=True)  # folded after the sync, never made durable
os._exit(0)  # no DuckDB commit of either
"""


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=3, max_value=len(stream()) - 1))
def test_a_crash_after_sync_deferred_keeps_the_synced_batches_and_loses_only_the_tail(tmp_path: Path,
                                                                                      cut: int) -> None:
    path = tmp_path / f"x{cut}.duckdb"
    subprocess.run([sys.executable, "-c", _DIE_SYNCED, str(path), str(cut)], cwd=ROOT, check=True, timeout=60)
    assert sync_path(path).stat().st_size > 0
    with EventLog(path) as log:
        assert sync_path(path).stat().st_size == 0  # moved into DuckDB on open, before the replay
        assert log.count() == cut  # the synced batch exactly once, the unsynced tail lost
        assert [row[0] for row in log.execute("SELECT seq FROM events ORDER BY seq")] == list(range(1, cut + 1))
        assert log.ledger == log.replay(from_zero=True)
        reference = EventLog(tmp_path / f"ref{cut}.duckdb")
        reference.append(stream()[:cut])
        assert log.ledger == reference.ledger
        reference.close()
    with EventLog(path) as again:  # a second open finds nothing more to recover
        assert again.count() == cut


_DIE_BOTH = """
import os, sys
from hedgestack.store.eventlog import EventLog
from hedgestack.store.syncjournal import SyncJournal
from tests.store.test_eventlog import stream
log = EventLog(sys.argv[1])
events = stream()
log.append(events[:3], defer=True)
log.sync_deferred()
SyncJournal.clear = lambda self: None  # a crash before the file was emptied: DuckDB and the file both hold it
log.write_deferred()
os._exit(0)
"""


def test_a_batch_in_both_duckdb_and_the_sync_journal_is_recovered_once(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    subprocess.run([sys.executable, "-c", _DIE_BOTH, str(path)], cwd=ROOT, check=True, timeout=60)
    assert sync_path(path).stat().st_size > 0
    with EventLog(path) as log:
        assert log.count() == 3 and log.ledger == log.replay(from_zero=True)


def test_a_sync_journal_left_beside_a_new_database_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    subprocess.run([sys.executable, "-c", _DIE_SYNCED, str(path), "5"], cwd=ROOT, check=True, timeout=60)
    for leftover in (path, path.with_name(path.name + ".wal")):  # the database deleted, its sync journal left
        leftover.unlink(missing_ok=True)
    with EventLog(path) as log:
        assert log.count() == 0 and sync_path(path).stat().st_size == 0
