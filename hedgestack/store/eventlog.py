"""The DuckDB event log of one data directory: the facade over its parts.

The log is the truth; the ledger is its fold. This module builds the parts, each with one job, and keeps the
surface the engine uses stable:

- :class:`~hedgestack.store.database.Database`: the owning connection, schema, cursors, ``meta``;
- :class:`~hedgestack.store.log.AppendLog`: append (dedupe, fold, projection rows), journal and group commit,
  flush, recovery of what a dead process left (its docstring has the rules);
- :class:`~hedgestack.store.replay.Replayer` and :class:`~hedgestack.store.replay.Snapshots`: the log folded
  back, from the latest snapshot or from zero (fast columnar path);
- :class:`~hedgestack.store.rollups.Rollups`: ``vp_eod`` and ``vp_equity``, refreshed incrementally;
- :func:`~hedgestack.store.marks.append_marks`: sampled mark prices;
- :class:`~hedgestack.store.syncjournal.SyncJournal`: the file beside the database that makes a batch durable
  before DuckDB's commit (an order intent before its order leaves).

Opening a file recovers its journal, then replays the log (from the latest snapshot, then the tail) to the
identical state; ``replay(from_zero=True)`` ignores snapshots. Snapshots are written every ``snapshot_every``
events and on close. Every read (``cursor``, ``execute``, ``read``, ``replay``, ``count``, rollups) flushes the
journal first, so readers never see the difference. One process owns the file (DuckDB locks it against every
other process, readers included); other processes read the Parquet files :mod:`hedgestack.store.publish`
writes. Threads of the owning process use :meth:`EventLog.cursor`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from hedgestack.domain.ledger import Ledger
from hedgestack.progress import progress as progress_bar
from hedgestack.store.codec import fits
from hedgestack.store.database import Database
from hedgestack.store.log import FLUSH_AT, AppendFailed, AppendLog, AppendResult
from hedgestack.store.marks import append_marks
from hedgestack.store.replay import Replayer, Snapshots
from hedgestack.store.rollups import Rollups, equity_mark_from
from hedgestack.store.syncjournal import SyncJournal

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from decimal import Decimal
    from pathlib import Path

    import duckdb

    from hedgestack.domain.events import Event

__all__ = ["DB_FILE", "FLUSH_AT", "AppendResult", "EventLog", "fits"]

DB_FILE = "hedgestack.duckdb"
#: the sync journal beside the database file (``hedgestack.duckdb.sync``; see :mod:`hedgestack.store.syncjournal`)
SYNC_SUFFIX = ".sync"
#: a replay longer than this shows a progress bar when the caller asks for one
_PROGRESS_FROM = 200_000


class EventLog:
    """The event log of one data directory, owned by this process.

    ``progress``: show a progress bar while opening replays a long tail (``None``: when stderr is a terminal,
    outside CI; see :mod:`hedgestack.progress`). Off by default: a terminal's own start decides."""

    def __init__(self, path: str | Path, *, snapshot_every: int = 100_000, use_snapshots: bool = True,
                 flush_at: int = FLUSH_AT, progress: bool | None = False) -> None:
        self._db = Database(path)
        self.path = self._db.path
        self.snapshot_every = snapshot_every
        self._snapshots = Snapshots(self._db)
        self._replayer = Replayer(self._db, self._snapshots)
        self._rollups = Rollups(self._db)
        self._log = AppendLog(self._db, Ledger(), 0, flush_at=flush_at, sync=self._sync_journal())
        self._log.recover()  # what a dead process left in the journal, before the replay
        self._log.last_seq = int(self._db.scalar("SELECT coalesce(max(seq), 0) FROM events"))
        self._log.reset(self._open_replay(from_zero=not use_snapshots, progress=progress))
        self._since_snapshot = self.last_seq - self._snapshots.last_seq()

    def _sync_journal(self) -> SyncJournal | None:
        """The sync journal beside a database file (none for an in-memory one), tied to it by an id in meta."""
        if str(self.path) == ":memory:":
            return None
        journal_id = self._db.get_meta("sync_journal_id")
        if journal_id is None:
            journal_id = uuid.uuid4().hex
            self._db.set_meta("sync_journal_id", journal_id)
        return SyncJournal(self.path.with_name(self.path.name + SYNC_SUFFIX), journal_id)

    def _open_replay(self, *, from_zero: bool, progress: bool | None) -> Ledger:
        upto = self.last_seq
        start = 0 if from_zero else self._snapshots_start(upto)
        if progress is False or upto - start < _PROGRESS_FROM:
            return self._replayer.replay(upto, from_zero=from_zero)
        with progress_bar(progress) as bar:
            task = bar.add_task(f"replaying {self.path.name}", total=upto - start)
            return self._replayer.replay(upto, from_zero=from_zero,
                                         progress=lambda rows: bar.advance(task, rows))

    def _snapshots_start(self, upto: int) -> int:
        rows = self._db.execute("SELECT coalesce(max(seq), 0) FROM snapshots WHERE seq <= ?", [upto])
        return int(rows[0][0])

    # -- state ------------------------------------------------------------------------------------
    @property
    def ledger(self) -> Ledger:
        """The fold of every appended event (deferred ones included)."""
        return self._log.ledger

    @property
    def last_seq(self) -> int:
        """The seq of the last appended event (0: empty log)."""
        return self._log.last_seq

    # -- appending --------------------------------------------------------------------------------
    def is_known(self, event: Event) -> bool:
        """True when the log already holds this event's dedupe key."""
        return self._log.is_known(event)

    def append(self, events: Iterable[Event], *, recv_ts: int | None = None, defer: bool = False) -> AppendResult:
        """Append the new events of a batch in one transaction and fold them; duplicates are no-ops.

        ``defer``: fold now, commit with the next append or :meth:`write_deferred` (group commit, only for
        events a crash may lose because the exchange tells them again). A failed append raises StoreError
        (STORE_WRITE) and the ledger starts again from the file (deferred events included in nothing)."""
        try:
            return self._log.append(events, recv_ts=recv_ts, defer=defer, on_fold=self._folded)
        except AppendFailed:
            self._log.reset(self.replay())  # memory may be ahead of the file: start again from the file
            raise

    def _folded(self, count: int) -> None:
        """After each batch folded (append lock held): a snapshot every ``snapshot_every`` events."""
        self._since_snapshot += count
        if self._since_snapshot >= self.snapshot_every:
            self._write_snapshot_locked()

    def write_deferred(self) -> int:
        """Commit the deferred batches now (one statement); return how many events that made durable."""
        return self._log.write_deferred()

    def sync_deferred(self) -> bool:
        """Make the deferred batches durable in the sync journal now, DuckDB's commit left to the next
        :meth:`write_deferred`; False when there is no sync journal (an in-memory database)."""
        return self._log.sync_deferred()

    def flush(self) -> int:
        """Move the journal's pending rows into ``events`` and ``vp_changes``; return how many events moved."""
        return self._log.flush()

    def append_bulk(self, events: Sequence[Event], *, recv_ts: int | None = None, chunk: int = 200_000) -> int:
        """Load many new events fast (benchmarks, rebuild): columnar insert, no history rows, folds them."""
        return self._log.append_bulk(events, recv_ts=recv_ts, chunk=chunk)

    def append_marks(self, rows: Iterable[tuple[str, int, Decimal]]) -> int:
        """Keep sampled mark prices ``(symbol, ts_ms, mark)`` for charts and analytics (not ledger events)."""
        return append_marks(self._db, rows)

    # -- replay and snapshots ---------------------------------------------------------------------
    def read(self, after_seq: int = 0, *, batch: int = 200_000) -> Iterator[tuple[int, Event]]:
        """Yield (seq, event) in log order, from ``after_seq`` on (``batch`` is kept for compatibility: the
        scan's batch size is the replayer's)."""
        del batch
        self.flush()
        return self._replayer.read(after_seq, self.last_seq)

    def replay(self, *, from_zero: bool = False, upto_seq: int | None = None) -> Ledger:
        """Fold the log into a new Ledger: from the latest usable snapshot unless ``from_zero``."""
        self.flush()
        return self._replayer.replay(self.last_seq if upto_seq is None else upto_seq, from_zero=from_zero)

    def write_snapshot(self) -> None:
        """Store the current ledger as a snapshot at ``last_seq``."""
        with self._db.lock:
            self._write_snapshot_locked()

    def _write_snapshot_locked(self) -> None:
        if self.last_seq == 0 or self._log.committing:  # never over a batch still being committed: next time
            return
        self._log.write_deferred_locked()  # a snapshot never covers an event the log does not hold
        self._snapshots.write(self.last_seq, self.ledger)
        self._since_snapshot = 0

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A value of the terminal's own bookkeeping (watermarks, publication marks)."""
        self.flush()
        return self._db.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.flush()
        self._db.set_meta(key, value)

    # -- rollups ----------------------------------------------------------------------------------
    def rollup_mark(self) -> int:
        """The seq up to which ``vp_eod`` is folded (0: never)."""
        self.flush()
        return self._rollups.mark()

    def refresh_rollups(self, upto_seq: int | None = None) -> int:
        """Bring ``vp_eod`` and ``vp_equity`` up to the log (up to ``upto_seq``, default its end); return the
        ``vp_eod`` mark (see :mod:`hedgestack.store.rollups`)."""
        self.flush()
        upto = self.last_seq if upto_seq is None else min(int(upto_seq), self.last_seq)
        return self._rollups.refresh(upto)

    def equity_mark(self) -> dict[str, Any]:
        """The ``vp_equity`` watermarks: ``seq``, ``ts``, ``gen``, ``last`` (see :func:`equity_mark_from`)."""
        return equity_mark_from(self.cursor())

    @staticmethod
    def equity_mark_from(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        """The ``vp_equity`` watermarks read on ``cur``."""
        return equity_mark_from(cur)

    # -- reading ----------------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor of the owning connection (DuckDB: one connection, a cursor per thread),
        the journal flushed first."""
        self.flush()
        return self._db.cursor()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on the owning connection and return its rows (fetched under the lock, so
        another thread's query can never take them)."""
        self.flush()
        return self._db.execute(sql, params)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The owning connection (flushed: the wide tables hold every appended event)."""
        self.flush()
        return self._db.connection

    def count(self) -> int:
        """Events in the log."""
        self.flush()
        return int(self._db.scalar("SELECT count(*) FROM events"))

    def close(self, *, snapshot: bool = True) -> None:
        self.flush()
        with self._db.lock:
            if snapshot and self._since_snapshot:
                self._write_snapshot_locked()
            self._log.close()
            self._db.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
