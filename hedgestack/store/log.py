"""The append path of the event log: dedupe, fold, journal (group commit), flush, recovery.

- :meth:`AppendLog.append` keeps the events whose dedupe key is new (fills: symbol + tradeId), folds them into
  the ledger and writes them with the projection rows of the VPs each one changed (what
  :meth:`~hedgestack.domain.ledger.Ledger.apply` returns) in one commit. A batch is all or nothing: a crash
  mid-batch leaves the log holding whole batches only.
- That commit is one narrow row of the ``journal`` (DuckDB's cost of a commit grows with the columns it
  touches: ~1 ms for the journal against ~4 ms for the 30-column ``events`` row on this project's machine).
  :meth:`AppendLog.flush` moves the journal's rows into ``events`` and ``vp_changes`` in one transaction; every
  reader flushes first (the :class:`~hedgestack.store.eventlog.EventLog` facade sees to it), so readers never
  see the difference, and :meth:`AppendLog.recover` moves what a dead process left in the journal on open.
- ``append(events, defer=True)`` folds at once but commits with the next append (or :meth:`write_deferred`,
  which the terminal calls within milliseconds): group commit for events the exchange can tell again (stream
  fills and order updates, order answers, TP/SL statuses), never for intents or what only the terminal knows.
  :meth:`write_deferred` commits on the calling thread's own cursor *outside* the append lock (the terminal
  calls it from a writer thread), so a slow commit never holds up folding and publishing; a crash while it runs
  can lose only those deferred batches (the exchange tells them again), never reorder what is journaled, and a
  snapshot is never written over a batch still being committed.
- :meth:`AppendLog.append_bulk` loads many new events fast (benchmarks, rebuild): columnar, no history rows.

A failed append leaves the in-memory ledger ahead of the file: the log raises :class:`AppendFailed` and the
owner replays the file into a new ledger (:meth:`AppendLog.reset`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import polars as pl
import pyarrow as pa

from hedgestack.domain.errors import StoreError
from hedgestack.domain.events import Event, Fill, encode_event, kind_of
from hedgestack.domain.ledger import Anomaly, Ledger, average
from hedgestack.domain.numbers import ZERO
from hedgestack.store.codec import (
    CHANGE_COLUMNS,
    EVENT_COLUMNS,
    NO_FILL,
    NO_PROJECTION,
    event_payload,
    fill_payload,
    fill_values,
    stored,
)
from hedgestack.store.schema import FILL_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from hedgestack.store.database import Database
    from hedgestack.store.syncjournal import Record, SyncJournal

#: Flush from the append path once this many events are pending (readers flush whenever they read).
FLUSH_AT = 2_000
_CHANGE_WIDTH = len(CHANGE_COLUMNS)
#: a journaled batch: (first_seq, last_seq, events rows (flat), vp_changes rows (flat))
Batch = tuple[int, int, list[Any], list[Any]]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class AppendResult:
    """What one append did: the events that were new (with their seq), the VPs they changed (``touched``, the
    union of what :meth:`~hedgestack.domain.ledger.Ledger.apply` returned for each) and their anomalies."""

    appended: list[tuple[int, Event]] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    #: the realized PnL each new fill booked to its VP (by the fill's dedupe key): the FILL event's ``realizedPnl``
    realized: dict[str, Decimal] = field(default_factory=dict)

    @property
    def events(self) -> list[Event]:
        return [event for _, event in self.appended]


class AppendFailed(StoreError):
    """An append could not be written; the ledger in memory may be ahead of the file (replay it)."""


class AppendLog:
    """The append path of one log: owns ``last_seq``, the ledger the appends fold into, and the journal.

    ``on_fold(count)`` is called (under the append lock) after each batch folded, with the number of events
    it added: the facade writes a snapshot when enough accumulated."""

    def __init__(self, db: Database, ledger: Ledger, last_seq: int, *, flush_at: int = FLUSH_AT,
                 sync: SyncJournal | None = None) -> None:
        self._db = db
        self._sync = sync
        self._synced: set[int] = set()  # first seqs of batches in the sync journal, not yet in DuckDB
        self.ledger = ledger
        self.last_seq = last_seq
        self.flush_at = flush_at
        self._flush_mutex = threading.Lock()  # one flush at a time; taken before the db lock, never inside it
        self._pending: list[Batch] = []  # journaled, not yet in events/vp_changes
        self._pending_events = 0
        self._deferred: list[Batch] = []  # folded, not yet committed (append(defer=True))
        self._commit_mutex = threading.Lock()  # one off-lock commit at a time; taken before the db lock
        self.committing = 0  # deferred batches being committed off the lock right now
        self._realized: dict[str, Decimal] = {}
        self.reset(ledger)

    def reset(self, ledger: Ledger) -> None:
        """Start again from ``ledger`` (the file's state): deferred batches are dropped."""
        with self._db.lock:
            self.ledger = ledger
            # a dropped batch the sync journal holds stays in it (its order may have been sent): it stays counted
            # in _synced, so the file is not emptied while this process lives, and comes back on the next open
            self._deferred.clear()
            self._realized = {vp_id: vp.realized for vp_id, vp in ledger.vps.items()}

    # -- appending --------------------------------------------------------------------------------
    def is_known(self, event: Event) -> bool:
        """True when the log already holds this event's dedupe key."""
        if type(event) is Fill:
            return self.ledger.has_trade(event.symbol, event.trade_id)
        key = event.key
        return key is not None and key in self.ledger.keys

    def append(self, events: Iterable[Event], *, recv_ts: int | None = None, defer: bool = False,
               on_fold: Callable[[int], None] | None = None) -> AppendResult:
        """Append the new events of a batch and fold them; duplicates are no-ops (see the module docstring).
        Raises :class:`AppendFailed` when nothing could be written (the ledger must then be replayed)."""
        result, flush_now = self._append(events, recv_ts, defer, on_fold)
        if flush_now:  # outside the append lock (see flush)
            self.flush()
        return result

    def _append(self, events: Iterable[Event], recv_ts: int | None, defer: bool,
                on_fold: Callable[[int], None] | None) -> tuple[AppendResult, bool]:
        received = now_ms() if recv_ts is None else recv_ts
        with self._db.lock:
            batch: list[Event] = []
            seen: set[str] = set()
            for event in events:
                key = event.key
                if self.is_known(event) or (key is not None and key in seen):
                    continue
                if key is not None:
                    seen.add(key)
                batch.append(event)
            result = AppendResult()
            if not batch:
                return result, False
            ledger = self.ledger
            rows: list[Any] = []
            changes: list[Any] = []
            seq = self.last_seq
            try:
                for event in batch:
                    seq += 1
                    applied = ledger.apply(event)
                    touched = applied.touched
                    booked = applied.booked
                    if type(event) is Fill and booked is not None:
                        result.realized[event.key] = ledger.vps[booked].realized - self._realized.get(booked, ZERO)
                        rows.extend((seq, event.ts, received, "fill", event.key, fill_payload(event),
                                     *fill_values(event), *self._projection(booked)))
                    else:
                        kind = kind_of(event)
                        if type(event) is Fill:
                            rows.extend((seq, event.ts, received, kind, event.key, fill_payload(event),
                                         *fill_values(event), *NO_PROJECTION))
                        else:
                            rows.extend((seq, event.ts, received, kind, event.key, event_payload(event),
                                         *NO_FILL, *NO_PROJECTION))
                        for vp_id in sorted(touched):
                            changes.extend(self._change_row(seq, event.ts, vp_id, kind))
                    result.appended.append((seq, event))
                    result.touched |= touched
                    result.anomalies.extend(applied.anomalies)
                first = self.last_seq + 1
                if not defer:
                    # one statement, atomic on its own: this batch and the deferred ones before it are durable
                    self._journal([*self._deferred, (first, seq, rows, changes)])
            except Exception as exc:
                con = self._db.connection
                try:
                    if con.execute("SELECT count(*) FROM duckdb_transactions()").fetchall():
                        con.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 - no transaction was open
                    pass
                raise AppendFailed(f"append failed and was rolled back: {exc}", code="STORE_WRITE") from exc
            self.last_seq = seq
            if defer:
                self._deferred.append((first, seq, rows, changes))
            else:
                self._adopt_deferred()
                self._pending.append((first, seq, rows, changes))
                self._pending_events += len(batch)
            if on_fold is not None:
                on_fold(len(batch))
            return result, self._pending_events >= self.flush_at

    def _journal(self, batches: list[Batch], con: Any = None) -> None:
        """Commit batches as journal rows, in one INSERT statement (on ``con``, else the owning connection)."""
        self._journal_records(_records(batches), con)
        self._synced.difference_update(batch[0] for batch in batches)

    def _journal_records(self, records: list[Record], con: Any = None) -> None:
        (con or self._db.connection).execute("INSERT INTO journal VALUES " + ", ".join(["(?, ?, ?)"] * len(records)),
                                             [value for record in records for value in record])

    def write_deferred(self) -> int:
        """Commit the deferred batches now (one statement, on this thread's own cursor, outside the append
        lock); return how many events that made durable."""
        with self._commit_mutex:
            with self._db.lock:
                batches, self._deferred = self._deferred, []
                self.committing = len(batches)
            if not batches:
                return 0
            try:
                self._journal_records(_records(batches), self._db.cursor())
            except Exception:
                with self._db.lock:
                    self._deferred[:0] = batches  # committed with the next append instead
                    self.committing = 0
                raise
            count = sum(last - first + 1 for first, last, _, _ in batches)
            with self._db.lock:
                self._pending.extend(batches)
                self._pending_events += count
                self.committing = 0
                self._synced.difference_update(batch[0] for batch in batches)
                if self._sync is not None and not self._synced:
                    self._sync.clear()  # under the commit mutex: no sync write is under way
            return count

    def sync_deferred(self) -> bool:
        """Make the deferred batches durable in the sync journal (~0.5 ms, see
        :mod:`hedgestack.store.syncjournal`); they stay deferred, and the next :meth:`write_deferred` commits them
        to DuckDB. False when this log has no sync journal (then :meth:`write_deferred` is the way)."""
        if self._sync is None:
            return False
        with self._commit_mutex:  # in order with the commits and the emptying of the file
            with self._db.lock:
                fresh = [batch for batch in self._deferred if batch[0] not in self._synced]
            if fresh:
                self._sync.write(_records(fresh))
                with self._db.lock:
                    self._synced.update(batch[0] for batch in fresh)
        return True

    def write_deferred_locked(self) -> int:
        """:meth:`write_deferred` for a caller that holds the database lock."""
        if not self._deferred:
            return 0
        self._journal(self._deferred)
        count = sum(last - first + 1 for first, last, _, _ in self._deferred)
        self._adopt_deferred()
        return count

    def _adopt_deferred(self) -> None:
        """Deferred batches join the pending ones (they are in the journal, or a flush makes them durable)."""
        self._pending_events += sum(last - first + 1 for first, last, _, _ in self._deferred)
        self._synced.difference_update(batch[0] for batch in self._deferred)
        self._pending.extend(self._deferred)
        self._deferred.clear()

    # -- flushing ---------------------------------------------------------------------------------
    def flush(self) -> int:
        """Move the journal's pending rows into ``events`` and ``vp_changes`` (one transaction); return how
        many events moved. Never called with the database lock held.

        The move runs on this thread's own cursor, outside the append lock: the engine keeps appending to the
        journal meanwhile. One flush at a time; the batches it takes stay in ``_pending`` until done."""
        with self._flush_mutex, self._commit_mutex:  # a batch being committed joins _pending first
            with self._db.lock:
                self._adopt_deferred()  # the flush's transaction makes them durable
                batches = sorted(self._pending, key=lambda batch: batch[0])
            if not batches:
                return 0
            moved = self._move(batches)
            with self._db.lock:
                taken = {id(batch) for batch in batches}
                self._pending = [batch for batch in self._pending if id(batch) not in taken]
                self._pending_events -= moved
            return moved

    def _move(self, batches: list[Batch]) -> int:
        """Insert the batches' rows columnar (Arrow) and drop their journal rows, in one transaction."""
        con = self._db.cursor()
        rows = [value for batch in batches for value in batch[2]]
        changes = [value for batch in batches for value in batch[3]]
        tables = [("events", EVENT_COLUMNS, rows), ("vp_changes", CHANGE_COLUMNS, changes)]
        con.execute("BEGIN TRANSACTION")
        try:
            for table, columns, flat in tables:
                if not flat:
                    continue
                size = len(columns)
                frame = pa.table({name: pa.array(flat[i::size]) for i, name in enumerate(columns)})
                con.register("_journal_rows", frame)
                try:
                    names = ", ".join(columns)
                    con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _journal_rows")
                finally:
                    con.unregister("_journal_rows")
            con.execute("DELETE FROM journal WHERE first_seq IN (SELECT unnest(?))", [[b[0] for b in batches]])
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"moving the journal into the log failed (it stays in the journal): {exc}",
                             code="STORE_WRITE") from exc
        return sum(last - first + 1 for first, last, _, _ in batches)

    def recover(self) -> int:
        """On open: move what the last process journaled and did not flush into the wide tables; return how
        many events that was. What the sync journal holds and DuckDB does not joins the journal first."""
        with self._db.lock:
            self._recover_sync()
            for first, last, body in self._db.connection.execute(
                    "SELECT first_seq, last_seq, body FROM journal ORDER BY first_seq").fetchall():
                rows, changes = msgspec.json.decode(body)
                self._pending.append((int(first), int(last), rows, changes))
                self._pending_events += int(last) - int(first) + 1
        return self.flush()

    def _recover_sync(self) -> None:
        if self._sync is None:
            return
        records = self._sync.read()
        if records:
            con = self._db.connection
            top = int(con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchall()[0][0])
            known = {int(row[0]) for row in con.execute("SELECT first_seq FROM journal").fetchall()}
            fresh: dict[int, Record] = {}
            for record in records:
                if record[0] > top and record[0] not in known:
                    fresh.setdefault(record[0], record)
            if fresh:
                self._journal_records(sorted(fresh.values()))
        self._sync.clear()

    def close(self) -> None:
        """Close the sync journal, emptied when DuckDB holds all it had (after a flush)."""
        if self._sync is not None:
            with self._commit_mutex, self._db.lock:
                if not self._synced:
                    self._sync.clear()
                self._sync.close()

    # -- projection rows --------------------------------------------------------------------------
    def _figures(self, vp_id: str) -> tuple[Any, ...]:
        """The VP after the event just applied: name, symbol, side, net_qty, avg_entry, realized, the realized
        this event booked, fees (USDT), funding, archived."""
        vp = self.ledger.vps[vp_id]
        delta = vp.realized - self._realized.get(vp_id, ZERO)
        self._realized[vp_id] = vp.realized
        return (vp.name, vp.symbol, str(vp.position_side), stored(vp.qty, 10), stored(average(vp.cost, vp.qty)),
                stored(vp.realized), stored(delta), stored(vp.fees.get("USDT", ZERO)), stored(vp.funding),
                vp.archived)

    def _projection(self, vp_id: str) -> tuple[Any, ...]:
        """The PROJECTION_COLUMNS of a fill row."""
        name, _, _, *rest = self._figures(vp_id)
        return (vp_id, name, *rest)

    def _change_row(self, seq: int, ts: int, vp_id: str, kind: str) -> tuple[Any, ...]:
        """One vp_changes row (the vp_history columns)."""
        name, symbol, side, *rest = self._figures(vp_id)
        return (seq, ts, vp_id, name, symbol, side, kind, *rest)

    # -- bulk -------------------------------------------------------------------------------------
    def append_bulk(self, events: Sequence[Event], *, recv_ts: int | None = None, chunk: int = 200_000) -> int:
        """Load many new events fast (benchmarks, rebuild): columnar insert, no history rows, folds them.

        The caller guarantees the events are new and distinct; the store's unique key still refuses a
        duplicate (and the whole chunk with it)."""
        received = now_ms() if recv_ts is None else recv_ts
        self.flush()
        with self._db.lock:
            con = self._db.connection
            seq = self.last_seq
            for start in range(0, len(events), chunk):
                part = events[start:start + chunk]
                rows: dict[str, list[Any]] = {name: [] for name in ("seq", "ts", "recv_ts", "kind", "dedupe_key",
                                                                    "payload", *FILL_COLUMNS)}
                for event in part:
                    seq += 1
                    rows["seq"].append(seq)
                    rows["ts"].append(event.ts)
                    rows["recv_ts"].append(received)
                    rows["kind"].append(kind_of(event))
                    rows["dedupe_key"].append(event.key)
                    if type(event) is Fill:
                        rows["payload"].append(fill_payload(event))
                        for name, value in zip(FILL_COLUMNS, fill_values(event), strict=True):
                            rows[name].append(value)
                    else:
                        rows["payload"].append(encode_event(event).decode())
                        for name in FILL_COLUMNS:
                            rows[name].append(None)
                frame = pl.DataFrame(rows, schema={
                    "seq": pl.Int64, "ts": pl.Int64, "recv_ts": pl.Int64, "kind": pl.Utf8, "dedupe_key": pl.Utf8,
                    "payload": pl.Utf8, "symbol": pl.Utf8, "trade_id": pl.Int64, "order_id": pl.Int64,
                    "client_order_id": pl.Utf8, "vp_id": pl.Utf8, "side": pl.Utf8, "position_side": pl.Utf8,
                    "qty": pl.Utf8, "price": pl.Utf8, "commission": pl.Utf8, "commission_asset": pl.Utf8,
                    "exchange_rp": pl.Utf8, "maker": pl.Boolean})
                try:
                    con.execute("BEGIN TRANSACTION")
                    con.register("_bulk", frame)
                    con.execute(f"INSERT INTO events ({', '.join(frame.columns)}) SELECT * FROM _bulk")
                    con.unregister("_bulk")
                    con.execute("COMMIT")
                except Exception as exc:
                    con.execute("ROLLBACK")
                    raise StoreError(f"bulk append failed and was rolled back: {exc}", code="STORE_WRITE") from exc
                self.ledger.apply_all(part)
                self.last_seq = seq
            self._realized = {k: v.realized for k, v in self.ledger.vps.items()}
            return len(events)


def _records(batches: list[Batch]) -> list[Record]:
    """Batches as journal rows: (first_seq, last_seq, body)."""
    return [(first, last, msgspec.json.encode([rows, changes]).decode()) for first, last, rows, changes in batches]
