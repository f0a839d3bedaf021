"""The DuckDB event log: append-only, deduplicated, transactional; the ledger is its fold.

- ``append(events)`` keeps the events whose dedupe key is new (fills: symbol + tradeId), writes them and
  their ``vp_history`` rows in one commit, and folds them into the in-memory ledger. A batch is all or
  nothing: a crash mid-batch leaves the log holding whole batches only.
- That commit is one narrow row of the ``journal`` (DuckDB's cost of a commit grows with the columns it
  touches: ~1 ms for the journal against ~4 ms for the 30-column ``events`` row on this project's machine).
  ``flush()`` moves the journal's rows into ``events`` and ``vp_changes`` in one transaction; every read
  (``cursor``, ``execute``, ``read``, ``replay``, ``count``, rollups) flushes first, so readers never see the
  difference, and opening a file flushes what a crash left in the journal before replaying.
- ``append(events, defer=True)`` folds at once but commits with the next append (or ``write_deferred()``,
  which the terminal calls within milliseconds): group commit for events the exchange can tell again (order
  answers, TP/SL statuses), never for intents or fills. The log keeps fold order: deferred rows are always
  written before anything appended after them, and before a snapshot.
- Opening the file replays the log (from the latest snapshot, then the tail) to the identical state;
  ``replay(from_zero=True)`` ignores snapshots. Snapshots are written every ``snapshot_every`` events and on
  close.
- One process owns the file (DuckDB locks it against every other process, readers included); other
  processes read the Parquet files :mod:`hedgestack.store.publish` writes. Threads of the owning process use
  :meth:`cursor`.
- ``refresh_rollups()`` brings the rollups up to the log: ``vp_eod`` (last state per VP per day) folding only
  the rows appended since its last refresh, ``vp_equity`` (each VP's equity at each mark sample) computing
  only the samples since its watermark (and a VP's rows again from a late history row on); the publisher and
  live analytics call it, never the append path.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import polars as pl
import pyarrow as pa

from hedgestack.domain.errors import StoreError
from hedgestack.domain.events import Event, Fill, decode_event, encode_event, kind_of
from hedgestack.domain.ledger import Anomaly, Ledger, average
from hedgestack.domain.numbers import ZERO, to_str
from hedgestack.domain.snapshot import SnapshotOutdated, dump_ledger, load_ledger
from hedgestack.store.schema import (
    DDL,
    EQUITY_MARK,
    FILL_COLUMNS,
    FILL_DECIMALS,
    HISTORY_KEY,
    MIGRATIONS,
    PROJECTION_COLUMNS,
    ROLLUP_MARK,
    SAMPLE_KEY,
    SCHEMA_VERSION,
    VIEWS,
    eod_rows,
    equity_rows,
)

DB_FILE = "hedgestack.duckdb"
_EVENT_COLUMNS = ("seq", "ts", "recv_ts", "kind", "dedupe_key", "payload", *FILL_COLUMNS, *PROJECTION_COLUMNS)
_CHANGE_COLUMNS = ("seq", "ts", "vp_id", "name", "symbol", "position_side", "event_kind", "net_qty", "avg_entry",
                   "realized_pnl", "realized_delta", "fees", "funding", "archived")
_NO_FILL = (None,) * len(FILL_COLUMNS)
_NO_PROJECTION = (None,) * len(PROJECTION_COLUMNS)
_REPLAY_COLUMNS = ("seq", "kind", "payload", "ts", *FILL_COLUMNS)
# decimals come back as their plain text without trailing zeros (what to_str gives), so a replayed fill
# carries the same Decimal values and representation the appended one did
_REPLAY_SELECT = ", ".join(f"rtrim(rtrim(CAST({c} AS VARCHAR), '0'), '.') AS {c}" if c in FILL_DECIMALS else c
                           for c in _REPLAY_COLUMNS)
_WIDE = Context(prec=80, rounding=ROUND_HALF_EVEN)
_CHANGE_WIDTH = len(_CHANGE_COLUMNS)
_DAY_MS = 86_400_000
#: Flush from the append path once this many events are pending (readers flush whenever they read).
FLUSH_AT = 2_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class AppendResult:
    """What one append did: the events that were new (with their seq) and the anomalies they caused."""

    appended: list[tuple[int, Event]] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    #: the realized PnL each new fill booked to its VP (by the fill's dedupe key)
    realized: dict[str, Decimal] = field(default_factory=dict)

    @property
    def events(self) -> list[Event]:
        return [event for _, event in self.appended]


class EventLog:
    """The event log of one data directory, owned by this process."""

    def __init__(self, path: str | Path, *, snapshot_every: int = 100_000, use_snapshots: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            raise StoreError(f"cannot open {self.path}: {exc}", code="STORE_LOCKED") from exc
        self._lock = threading.RLock()
        self._flush_mutex = threading.Lock()  # one flush at a time; taken before _lock, never inside it
        self._rollup_lock = threading.Lock()
        self._cursors = threading.local()
        self.snapshot_every = snapshot_every
        #: appended batches whose rows are in the journal, not yet in events/vp_changes:
        #: (first_seq, last_seq, event rows (flat), vp_changes rows (flat))
        self._pending: list[tuple[int, int, list[Any], list[Any]]] = []
        self._pending_events = 0
        #: folded, not yet committed (``append(defer=True)``): written before the next append
        self._deferred: list[tuple[int, int, list[Any], list[Any]]] = []
        self._create_schema()
        self._recover_journal()
        self.last_seq = self._scalar("SELECT coalesce(max(seq), 0) FROM events")
        self.ledger = self.replay(from_zero=not use_snapshots)
        self._since_snapshot = self.last_seq - self._scalar("SELECT coalesce(max(seq), 0) FROM snapshots")
        self._realized: dict[str, Decimal] = {vp_id: vp.realized for vp_id, vp in self.ledger.vps.items()}

    # -- schema -----------------------------------------------------------------------------------
    def _create_schema(self) -> None:
        with self._lock:
            con = self._con
            con.execute(DDL[0])  # meta
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
            version = int(row[0][0]) if row else SCHEMA_VERSION
            if version != SCHEMA_VERSION and version not in MIGRATIONS:
                raise StoreError(f"{self.path} has schema version {version}, this hedgestack reads "
                                 f"{SCHEMA_VERSION} (and migrates {sorted(MIGRATIONS)})", code="STORE_SCHEMA")
            con.execute("BEGIN TRANSACTION")
            try:
                while version != SCHEMA_VERSION:  # one step at a time, all in one transaction
                    for statement in MIGRATIONS[version]:
                        con.execute(statement)
                    version += 1
                for statement in DDL:
                    con.execute(statement)
                for view in VIEWS:
                    con.execute(view)
                con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
                con.execute("COMMIT")
            except Exception as exc:
                con.execute("ROLLBACK")
                raise StoreError(f"cannot create or migrate the schema of {self.path}: {exc}",
                                 code="STORE_SCHEMA") from exc

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            return self._con.execute(sql, list(params)).fetchall()[0][0]

    # -- appending --------------------------------------------------------------------------------
    def is_known(self, event: Event) -> bool:
        """True when the log already holds this event's dedupe key."""
        if type(event) is Fill:
            return self.ledger.has_trade(event.symbol, event.trade_id)
        key = event.key
        return key is not None and key in self.ledger.keys

    def append(self, events: Iterable[Event], *, recv_ts: int | None = None, defer: bool = False) -> AppendResult:
        """Append the new events of a batch in one transaction and fold them; duplicates are no-ops.

        ``defer``: fold now, commit with the next append or :meth:`write_deferred` (see the module's
        docstring); only for events a crash may lose because the exchange tells them again."""
        result, flush_now = self._append(events, recv_ts, defer)
        if flush_now:  # outside the append lock (see flush)
            self.flush()
        return result

    def _append(self, events: Iterable[Event], recv_ts: int | None, defer: bool) -> tuple[AppendResult, bool]:
        received = _now_ms() if recv_ts is None else recv_ts
        with self._lock:
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
            before = len(ledger.anomalies)
            rows: list[Any] = []
            changes: list[Any] = []
            seq = self.last_seq
            con = self._con
            try:
                for event in batch:
                    seq += 1
                    ledger.touched.clear()
                    ledger.apply(event)
                    if type(event) is Fill and len(ledger.touched) == 1:
                        (booked,) = ledger.touched
                        result.realized[event.key] = ledger.vps[booked].realized - self._realized.get(booked, ZERO)
                        rows.extend((seq, event.ts, received, "fill", event.key, _fill_payload(event),
                                     *_fill_values(event), *self._projection(booked)))
                    else:
                        fill = _fill_values(event) if type(event) is Fill else _NO_FILL
                        payload = _fill_payload(event) if type(event) is Fill else encode_event(event).decode()
                        rows.extend((seq, event.ts, received, kind_of(event), event.key, payload, *fill,
                                     *_NO_PROJECTION))
                        for vp_id in sorted(ledger.touched):
                            changes.extend(self._change_row(seq, event.ts, vp_id, kind_of(event)))
                    result.appended.append((seq, event))
                    result.touched |= ledger.touched
                first = self.last_seq + 1
                if not defer:
                    # one statement, atomic on its own: this batch and the deferred ones before it are durable
                    self._journal([*self._deferred, (first, seq, rows, changes)])
            except Exception as exc:
                try:
                    if con.execute("SELECT count(*) FROM duckdb_transactions()").fetchall():
                        con.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 - no transaction was open
                    pass
                finally:
                    # memory may be ahead of the file: start again from the file (deferred rows included)
                    self._deferred.clear()
                    self.ledger = self.replay()
                    self._realized = {k: v.realized for k, v in self.ledger.vps.items()}
                raise StoreError(f"append failed and was rolled back: {exc}", code="STORE_WRITE") from exc
            self.last_seq = seq
            if defer:
                self._deferred.append((first, seq, rows, changes))
            else:
                self._pending.extend(self._deferred)
                self._pending.append((first, seq, rows, changes))
                self._pending_events += len(batch) + sum(b[1] - b[0] + 1 for b in self._deferred)
                self._deferred.clear()
            flush_now = self._pending_events >= FLUSH_AT
            result.anomalies = ledger.anomalies[before:]
            self._since_snapshot += len(batch)
            if self._since_snapshot >= self.snapshot_every:
                self.write_snapshot()
            return result, flush_now

    def _journal(self, batches: list[tuple[int, int, list[Any], list[Any]]]) -> None:
        """Commit batches as journal rows, in one INSERT statement."""
        self._con.execute("INSERT INTO journal VALUES " + ", ".join(["(?, ?, ?)"] * len(batches)),
                          [value for first, last, rows, changes in batches
                           for value in (first, last, msgspec.json.encode([rows, changes]).decode())])

    def write_deferred(self) -> int:
        """Commit the deferred batches now (one statement); return how many events that made durable."""
        with self._lock:
            return self._write_deferred_locked()

    def _write_deferred_locked(self) -> int:
        if not self._deferred:
            return 0
        self._journal(self._deferred)
        count = sum(last - first + 1 for first, last, _, _ in self._deferred)
        self._pending.extend(self._deferred)
        self._pending_events += count
        self._deferred.clear()
        return count

    def flush(self) -> int:
        """Move the journal's pending rows into ``events`` and ``vp_changes`` (one transaction); return how
        many events moved. Every reader calls it first (never with the append lock held).

        The move runs on this thread's own cursor, outside the append lock: the engine keeps appending to
        the journal meanwhile. One flush at a time; the batches it takes are out of ``_pending`` until done."""
        with self._flush_mutex:
            with self._lock:
                self._adopt_deferred()
                batches = list(self._pending)
            if not batches:
                return 0
            moved = self._move(self._raw_cursor(), batches)
            with self._lock:
                del self._pending[:len(batches)]
                self._pending_events -= moved
            return moved

    def _adopt_deferred(self) -> None:
        """Deferred batches join the pending ones: the flush's transaction makes them durable."""
        self._pending_events += sum(last - first + 1 for first, last, _, _ in self._deferred)
        self._pending.extend(self._deferred)
        self._deferred.clear()

    def _move(self, con: duckdb.DuckDBPyConnection, batches: list[tuple[int, int, list[Any], list[Any]]]) -> int:
        """Insert the batches' rows columnar (Arrow) and drop their journal rows, in one transaction."""

        width = len(_EVENT_COLUMNS)
        rows = [value for batch in batches for value in batch[2]]
        changes = [value for batch in batches for value in batch[3]]
        upto = batches[-1][1]
        tables = [("events", _EVENT_COLUMNS, rows, width), ("vp_changes", _CHANGE_COLUMNS, changes, _CHANGE_WIDTH)]
        con.execute("BEGIN TRANSACTION")
        try:
            for table, columns, flat, size in tables:
                if not flat:
                    continue
                frame = pa.table({name: pa.array(flat[i::size]) for i, name in enumerate(columns)})
                con.register("_journal_rows", frame)
                try:
                    names = ", ".join(columns)
                    con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _journal_rows")
                finally:
                    con.unregister("_journal_rows")
            con.execute("DELETE FROM journal WHERE last_seq <= ?", [upto])
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"moving the journal into the log failed (it stays in the journal): {exc}",
                             code="STORE_WRITE") from exc
        return sum(last - first + 1 for first, last, _, _ in batches)

    def _raw_cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._cursors, "cursor", None)
        if cursor is None:
            with self._lock:
                cursor = self._con.cursor()
            self._cursors.cursor = cursor
        return cursor

    def _recover_journal(self) -> None:
        """On open: what the last process journaled and did not flush goes into the wide tables now."""
        with self._lock:
            for first, last, body in self._con.execute(
                    "SELECT first_seq, last_seq, body FROM journal ORDER BY first_seq").fetchall():
                rows, changes = msgspec.json.decode(body)
                self._pending.append((int(first), int(last), rows, changes))
                self._pending_events += int(last) - int(first) + 1
        self.flush()

    def _figures(self, vp_id: str) -> tuple[Any, ...]:
        """The VP after the event just applied: name, symbol, side, net_qty, avg_entry, realized, the realized
        this event booked, fees (USDT), funding, archived."""
        vp = self.ledger.vps[vp_id]
        delta = vp.realized - self._realized.get(vp_id, ZERO)
        self._realized[vp_id] = vp.realized
        return (vp.name, vp.symbol, str(vp.position_side), _stored(vp.qty, 10), _stored(average(vp.cost, vp.qty)),
                _stored(vp.realized), _stored(delta), _stored(vp.fees.get("USDT", ZERO)), _stored(vp.funding),
                vp.archived)

    def _projection(self, vp_id: str) -> tuple[Any, ...]:
        """The PROJECTION_COLUMNS of a fill row."""
        name, _, _, *rest = self._figures(vp_id)
        return (vp_id, name, *rest)

    def _change_row(self, seq: int, ts: int, vp_id: str, kind: str) -> tuple[Any, ...]:
        """One vp_changes row (the vp_history columns)."""
        name, symbol, side, *rest = self._figures(vp_id)
        return (seq, ts, vp_id, name, symbol, side, kind, *rest)

    def append_bulk(self, events: Sequence[Event], *, recv_ts: int | None = None, chunk: int = 200_000) -> int:
        """Load many new events fast (benchmarks, rebuild): columnar insert, no history rows, folds them.

        The caller guarantees the events are new and distinct; the store's unique key still refuses a
        duplicate (and the whole chunk with it).
        """

        received = _now_ms() if recv_ts is None else recv_ts
        self.flush()
        with self._lock:
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
                        rows["payload"].append(_fill_payload(event))
                        for name, value in zip(FILL_COLUMNS, _fill_values(event), strict=True):
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
                    self._con.execute("BEGIN TRANSACTION")
                    self._con.register("_bulk", frame)
                    self._con.execute(f"INSERT INTO events ({', '.join(frame.columns)}) SELECT * FROM _bulk")
                    self._con.unregister("_bulk")
                    self._con.execute("COMMIT")
                except Exception as exc:
                    self._con.execute("ROLLBACK")
                    raise StoreError(f"bulk append failed and was rolled back: {exc}", code="STORE_WRITE") from exc
                self.ledger.apply_all(part)
                self.last_seq = seq
            self._realized = {k: v.realized for k, v in self.ledger.vps.items()}
            return len(events)

    # -- reading ----------------------------------------------------------------------------------
    def read(self, after_seq: int = 0, *, batch: int = 200_000) -> Iterator[tuple[int, Event]]:
        """Yield (seq, event) in log order, from ``after_seq`` on."""
        for columns in self._scan(after_seq, batch):
            seqs = columns["seq"]
            events = _events_from_columns(columns)
            yield from zip(seqs, events, strict=True)

    def _scan(self, after_seq: int, batch: int) -> Iterator[dict[str, list[Any]]]:
        cursor = after_seq
        self.flush()
        while True:
            with self._lock:
                table = self._con.sql(
                    f"SELECT {_REPLAY_SELECT} FROM events WHERE seq > {int(cursor)} "
                    f"ORDER BY seq LIMIT {int(batch)}").to_arrow_table()
            if table.num_rows == 0:
                return
            columns = {name: table.column(name).to_pylist() for name in _REPLAY_COLUMNS}
            cursor = columns["seq"][-1]
            yield columns

    def replay(self, *, from_zero: bool = False, upto_seq: int | None = None) -> Ledger:
        """Fold the log into a new Ledger: from the latest usable snapshot unless ``from_zero``."""
        ledger = Ledger()
        start = 0
        limit = self.last_seq if upto_seq is None else upto_seq
        if not from_zero:
            with self._lock:
                rows = self._con.execute("SELECT seq, payload FROM snapshots WHERE seq <= ? ORDER BY seq DESC "
                                         "LIMIT 1", [limit]).fetchall()
            if rows:
                try:
                    ledger = load_ledger(bytes(rows[0][1]))
                    start = rows[0][0]
                except SnapshotOutdated:  # written by another version of the fold: replay from the log
                    ledger, start = Ledger(), 0
        for columns in self._scan(start, 200_000):
            events = _events_from_columns(columns)
            if columns["seq"][-1] > limit:
                events = [e for s, e in zip(columns["seq"], events, strict=True) if s <= limit]
                ledger.apply_all(events)
                break
            ledger.apply_all(events)
        ledger.touched.clear()
        return ledger

    def write_snapshot(self) -> None:
        """Store the current ledger as a snapshot at ``last_seq``."""
        with self._lock:
            if self.last_seq == 0:
                return
            self._write_deferred_locked()  # a snapshot never covers an event the log does not hold
            self._con.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)",
                              [self.last_seq, _now_ms(), dump_ledger(self.ledger)])
            self._con.execute("DELETE FROM snapshots WHERE seq NOT IN "
                              "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 2)")
            self._since_snapshot = 0

    def get_meta(self, key: str) -> str | None:
        """A value of the terminal's own bookkeeping (watermarks, publication marks)."""
        rows = self.execute("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def append_marks(self, rows: Iterable[tuple[str, int, Decimal]]) -> int:
        """Keep sampled mark prices ``(symbol, ts_ms, mark)`` for charts and analytics (not ledger events).

        One columnar INSERT for the whole batch. A mark with more than 18 decimals is rounded half-even to
        1e-18 (market data, not a ledger fact)."""

        symbols: list[str] = []
        times: list[int] = []
        values: list[str] = []
        for symbol, ts, mark in rows:
            symbols.append(symbol)
            times.append(int(ts))
            values.append(_stored(mark))
        if not symbols:
            return 0
        table = pa.table({"symbol": pa.array(symbols, pa.string()), "ts": pa.array(times, pa.int64()),
                          "mark": pa.array(values, pa.string())})
        with self._lock:
            self._con.register("_marks_batch", table)
            try:
                self._con.execute("INSERT INTO marks SELECT symbol, ts, mark FROM _marks_batch")
            finally:
                self._con.unregister("_marks_batch")
        return len(symbols)

    # -- rollups ----------------------------------------------------------------------------------
    def rollup_mark(self) -> int:
        """The seq up to which ``vp_eod`` is folded (0: never)."""
        value = self.get_meta(ROLLUP_MARK)
        return int(value) if value is not None else 0

    def refresh_rollups(self, upto_seq: int | None = None) -> int:
        """Bring the rollups up to the log (up to ``upto_seq``, default its end); return the ``vp_eod`` mark.

        ``vp_eod``: the ``vp_history`` rows after its mark are folded in. ``vp_equity``: see
        :meth:`_refresh_equity`. Cost: the rows and mark samples since the last refresh.

        Runs on this thread's cursor in its own transaction, so the engine keeps appending meanwhile; one
        refresh at a time."""
        with self._rollup_lock:
            upto = self.last_seq if upto_seq is None else min(int(upto_seq), self.last_seq)
            cur = self.cursor()
            rows = cur.execute("SELECT value FROM meta WHERE key = ?", [ROLLUP_MARK]).fetchall()
            mark = int(rows[0][0]) if rows else 0
            cur.execute("BEGIN TRANSACTION")
            try:
                if upto > mark:
                    cur.execute("INSERT OR REPLACE INTO vp_eod "
                                + eod_rows(f"(SELECT * FROM vp_history WHERE seq > {mark} AND seq <= {upto})"))
                    cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [ROLLUP_MARK, str(upto)])
                    mark = upto
                self._refresh_equity(cur, mark)
                cur.execute("COMMIT")
            except Exception as exc:
                cur.execute("ROLLBACK")
                raise StoreError(f"rollup refresh failed and was rolled back: {exc}", code="STORE_WRITE") from exc
            return mark

    def equity_mark(self) -> dict[str, Any]:
        """The ``vp_equity`` watermarks: ``seq`` (history folded), ``ts`` (mark samples computed), ``gen`` (the
        refreshes that wrote rows), ``last`` (each VP's last sample)."""
        return self.equity_mark_from(self.cursor())

    def _refresh_equity(self, cur: duckdb.DuckDBPyConnection, upto: int) -> None:
        """Compute the ``vp_equity`` rows of the mark samples after the watermark (inside the caller's
        transaction, with ``vp_eod`` already folded up to ``upto``).

        Rules, with ``S``/``W`` the history seq and mark ts of the watermark and ``M`` the latest mark now:

        - Every VP gets a row per sample of its symbol with ``W < ts <= M`` at or after its first history row,
          valued with its state as of the sample (its latest ``vp_history`` row by ``(ts, seq)`` with
          ``seq <= upto``). The state comes from the VP's last ``vp_equity`` row (its anchor) plus the
          history rows after that row's sample: per refresh, the new samples and the rows since the last one.
        - A late history row (``S < seq``, ``ts <= W``: a fill stamped before a sample already computed)
          makes its VP's rows from that ts on wrong: they are deleted and computed again with the rest.
        - A sample stored with ``ts <= W`` after the refresh that moved ``W`` past it (marks arrive in time
          order; the publisher makes the same assumption) is never computed.
        """
        state = EventLog.equity_mark_from(cur)
        since, water, gen = state["seq"], state["ts"], state["gen"]
        latest = int(cur.execute("SELECT coalesce(max(ts), 0) FROM marks").fetchall()[0][0])
        if upto <= since and latest <= water:
            return
        first_new = dict(cur.execute("SELECT vp_id, min(ts) FROM vp_history WHERE seq > ? AND seq <= ? "
                                     "GROUP BY vp_id", [since, upto]).fetchall())
        vps = cur.execute("SELECT vp_id, any_value(symbol) FROM vp_eod GROUP BY vp_id ORDER BY vp_id").fetchall()
        starts = [(vp_id, symbol, min(water + 1, int(first_new.get(vp_id, water + 1)))) for vp_id, symbol in vps]
        gen += 1
        if starts:

            low = min(start for _, _, start in starts)
            # each VP's last sample (kept in the watermark, so finding the anchors reads only their rows)
            last: dict[str, int] = dict(state.get("last", {}))
            for vp_id, _, start in starts:
                if start <= water and last.get(vp_id, -1) >= start:  # late: its rows from start on go
                    cur.execute("DELETE FROM vp_equity WHERE ts >= ? AND vp_id = ?", [start, vp_id])
                    found = cur.execute("SELECT max(ts) FROM vp_equity WHERE vp_id = ? AND ts < ? AND ts >= ?",
                                        [vp_id, start, start - _DAY_MS]).fetchall()[0][0]
                    if found is None:  # an older sample, or none at all
                        found = cur.execute("SELECT max(ts) FROM vp_equity WHERE vp_id = ? AND ts < ?",
                                            [vp_id, start]).fetchall()[0][0]
                    if found is None:
                        last.pop(vp_id)
                    else:
                        last[vp_id] = int(found)
            table = pa.table({"vp_id": [v for v, _, _ in starts], "symbol": [s for _, s, _ in starts],
                              "start_ts": pa.array([t for _, _, t in starts], pa.int64())})
            cur.register("_equity_starts", table)
            try:
                anchors = pa.table({"vp_id": list(last), "ts": pa.array(list(last.values()), pa.int64())})
                cur.register("_equity_last", anchors)
                lowest_anchor = min(last.values(), default=0)
                cur.execute(f"""CREATE OR REPLACE TEMP TABLE _equity_anchors AS
                    SELECT e.vp_id, e.ts, e.vp_name AS name, e.position_side, e.net_qty, e.avg_entry,
                           e.realized AS realized_pnl, e.fees, e.funding
                    FROM vp_equity e JOIN _equity_last a ON e.vp_id = a.vp_id AND e.ts = a.ts
                    WHERE e.ts >= {int(lowest_anchor)}""")
                anchored = len(last)
                figures = "vp_id, name, position_side, net_qty, avg_entry, realized_pnl, fees, funding"
                parts = [f"SELECT {figures}, {SAMPLE_KEY} AS k FROM _equity_anchors"]
                if anchored:  # the rows after each anchor's sample
                    parts.append(
                        f"SELECT h.vp_id, h.name, h.position_side, h.net_qty, h.avg_entry, h.realized_pnl, h.fees, "
                        f"h.funding, {HISTORY_KEY.replace('ts', 'h.ts').replace('seq', 'h.seq')} AS k "
                        f"FROM vp_history h JOIN _equity_anchors a ON a.vp_id = h.vp_id AND h.ts > a.ts "
                        f"WHERE h.seq <= {upto} AND h.ts > {int(lowest_anchor)}")
                if anchored < len(starts):  # VPs with no row yet: their whole history
                    parts.append(
                        f"SELECT {figures}, {HISTORY_KEY} AS k FROM vp_history WHERE seq <= {upto} AND vp_id IN "
                        "(SELECT vp_id FROM _equity_starts ANTI JOIN _equity_anchors USING (vp_id))")
                grid = (f"(SELECT s.vp_id, m.symbol, m.ts, m.mark, {SAMPLE_KEY.replace('ts', 'm.ts')} AS k "
                        f"FROM _equity_starts s JOIN marks m ON m.symbol = s.symbol AND m.ts >= s.start_ts "
                        f"WHERE m.ts >= {low} AND m.ts <= {latest})")
                states = "(" + " UNION ALL ".join(parts) + ")"
                cur.execute(f"INSERT INTO vp_equity SELECT *, {gen} AS gen FROM ({equity_rows(grid, states)}) "
                            "ORDER BY vp_id, ts")
            finally:
                cur.unregister("_equity_starts")
                cur.unregister("_equity_last")
                cur.execute("DROP TABLE IF EXISTS _equity_anchors")
            for vp_id, ts in cur.execute(f"SELECT vp_id, max(ts) FROM vp_equity WHERE gen = {gen} "
                                         "GROUP BY vp_id").fetchall():
                last[vp_id] = int(ts)
            state["last"] = last
        cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [EQUITY_MARK, json.dumps(state | {"seq": max(upto, since), "ts": max(latest, water),
                                                        "gen": gen})])

    @staticmethod
    def equity_mark_from(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        """The ``vp_equity`` watermarks read on ``cur``."""
        rows = cur.execute("SELECT value FROM meta WHERE key = ?", [EQUITY_MARK]).fetchall()
        return {"seq": 0, "ts": 0, "gen": 0, "last": {}} | (json.loads(rows[0][0]) if rows else {})

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor of the owning connection (DuckDB: one connection, a cursor per thread).

        Created under the lock (the connection refuses a cursor() while busy in another thread) and
        kept for the thread, so repeated calls do not leak connections."""
        self.flush()
        return self._raw_cursor()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on the owning connection and return its rows (fetched under the lock, so
        another thread's query can never take them)."""
        self.flush()
        with self._lock:
            return self._con.execute(sql, list(params)).fetchall()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The owning connection (flushed: the wide tables hold every appended event)."""
        self.flush()
        return self._con

    def count(self) -> int:
        self.flush()
        return int(self._scalar("SELECT count(*) FROM events"))

    def close(self, *, snapshot: bool = True) -> None:
        self.flush()
        with self._lock:
            if snapshot and self._since_snapshot:
                self.write_snapshot()
            self._con.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fill_values(event: Fill) -> tuple[Any, ...]:
    return (event.symbol, event.trade_id, event.order_id, event.client_order_id, event.vp_id, str(event.side),
            str(event.position_side), str(event.qty), str(event.price), str(event.commission),
            event.commission_asset, str(event.exchange_rp), event.maker)


def fits(value: Decimal, decimals: int = 18) -> bool:
    """True when DECIMAL(38, ``decimals``) holds ``value`` exactly: nothing beyond ``decimals`` decimal places,
    below 10^(38 - decimals)."""
    if not value.is_finite() or value.adjusted() >= 38 - decimals:
        return False
    exponent = value.as_tuple().exponent
    return (isinstance(exponent, int) and exponent >= -decimals) or value == value.quantize(
        Decimal(1).scaleb(-decimals), context=_WIDE)


def _fill_payload(event: Fill) -> str | None:
    """NULL for a fill whose figures the typed columns hold exactly (all of Binance's); else its JSON, which
    replay then reads instead of the columns."""
    if fits(event.qty, 10) and fits(event.price) and fits(event.commission) and fits(event.exchange_rp):
        return None
    return encode_event(event).decode()


def _stored(value: Decimal, decimals: int = 18) -> str:
    """A ledger figure as the text a DECIMAL(38, ``decimals``) column takes: exact, or rounded half-even
    when it has more decimals (a funding share can)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -decimals:
        value = value.quantize(Decimal(1).scaleb(-decimals), context=_WIDE)
    return to_str(value)


def _events_from_columns(columns: dict[str, list[Any]]) -> list[Event]:
    """Rebuild events from a scanned batch: fills from their typed columns, the rest from JSON."""
    from hedgestack.domain.enums import PositionSide, Side

    sides = {"BUY": Side.BUY, "SELL": Side.SELL}
    position_sides = {"LONG": PositionSide.LONG, "SHORT": PositionSide.SHORT}
    out: list[Event] = []
    append = out.append
    dec = Decimal
    for (payload, ts, symbol, trade_id, order_id, cid, vp_id, side, pside, qty, price, commission, asset,
         rp, maker) in zip(columns["payload"], columns["ts"], columns["symbol"],
                           columns["trade_id"], columns["order_id"], columns["client_order_id"], columns["vp_id"],
                           columns["side"], columns["position_side"], columns["qty"], columns["price"],
                           columns["commission"], columns["commission_asset"], columns["exchange_rp"],
                           columns["maker"], strict=True):
        if payload is None:  # a fill held by its typed columns
            append(Fill(ts=ts, symbol=symbol, trade_id=trade_id, order_id=order_id, client_order_id=cid,
                        vp_id=vp_id, side=sides[side], position_side=position_sides[pside], qty=dec(qty),
                        price=dec(price), commission=dec(commission), commission_asset=asset,
                        exchange_rp=dec(rp), maker=maker))
        else:
            append(decode_event(payload))
    return out
