"""Publication of the log's projections as Parquet, for other processes.

DuckDB lets no second process open the terminal's file, not even read-only, so the owner publishes its
datasets under ``<data_dir>/published/<dataset>/`` in the layouts of :mod:`hedgestack.store.layout`, each with a
``_manifest.json`` listing the files making it up:

- ``fills``: one row per fill with the columns of the ``fills`` view (``realized_pnl`` = the VP's realized PnL
  from that fill, ``exchange_rp`` = the exchange's own rp; see :mod:`hedgestack.store.analytics`), followed by
  the projection of the VP it was booked to after it (``vp_net_qty``, ``vp_avg_entry``, ``vp_realized``,
  ``vp_fees``, ``vp_funding``, ``vp_archived``), as the log keeps it. Decimals keep the log's exact DECIMAL types.
- ``vp_changes``: the other ``vp_history`` rows (VP events, funding, transfers, reconciles). The reader's
  ``vp_history`` view is the fills' projections plus these: the history is written once, not twice.
- ``marks`` and ``orders``.
- ``vp_eod`` (the rollup of the last state per VP per day, with its seq mark in its manifest; the reader adds the
  history rows after that mark) and ``marks_eod`` (the last mark per symbol per UTC day), in month files.
- ``vp_equity``: the equity of each VP at each mark sample (the log's rollup), one directory per VP, month files
  before the current month and day files in it, each sorted by ts; its manifest's mark is the rollup refresh
  it holds.

How each is kept up to date:

- Append-only datasets (fills, vp_changes, marks): each publication writes only the rows new since the last one,
  as new part files (a long backlog in chunks of :data:`CHUNK` events, with a progress bar if asked for); the cost
  is proportional to what is new, not to the history. A date with :data:`COMPACT_AT` parts is compacted into
  one file.
- ``orders`` (statuses change): the dates whose orders changed are rewritten. ``vp_eod`` and ``marks_eod``: the
  months from the earliest changed day on. ``vp_equity``: each VP's periods from its earliest new row on (new
  samples: today's file; a late fill: from its day), and a month's day files become one month file once the
  month is over.
- Every file is written under a temporary name and renamed into place, then the manifest is replaced the same
  way: a reader (``hedgestack.analytics.open``) reads exactly the files one manifest lists, so it never sees a
  torn file, a row twice or a row missing. Files a newer manifest no longer lists are deleted only after a grace
  period, so a reader holding the previous manifest can still read them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hedgestack.progress import progress as progress_bar
from hedgestack.store.layout import (
    MANIFEST,
    PUBLISHED_DIR,
    Part,
    copy_file,
    equity_parts,
    file_directory,
    file_period,
    file_vp,
    is_day,
    manifest_files,
    month_parts,
    month_start,
    period_end,
    period_start,
    read_manifest,
    save_manifest,
    time_parts,
    write_parts,
)
from hedgestack.store.schema import EQUITY_COLUMNS, MARKS_EOD_SELECT

if TYPE_CHECKING:
    import duckdb

__all__ = ["COMPACT_AT", "DATASETS", "GRACE_SECONDS", "MANIFEST", "MARKS_EOD_SELECT", "PUBLISHED_DIR",
           "PublishReport", "Publisher", "manifest_files", "read_manifest"]

COMPACT_AT = 32  # parts of one date before they are merged
GRACE_SECONDS = 120.0
#: events per COPY when a long backlog of an append-only dataset is published (a progress step each)
CHUNK = 2_000_000
DATASETS = ("fills", "vp_changes", "marks", "orders", "vp_eod", "marks_eod", "vp_equity")

#: the columns of a published fills row: the fills view's, then the booked VP's projection
FILL_SELECT = """seq, ts, trade_id, order_id, client_order_id, coalesce(booked_vp_id, vp_id) AS vp_id, vp_name,
    symbol, side, position_side, qty, price, commission, commission_asset, vp_realized_delta AS realized_pnl,
    exchange_rp, maker, vp_net_qty, vp_avg_entry, vp_realized, vp_fees, vp_funding, vp_archived"""
#: the published vp_equity: the rollup's columns but vp_id (the directory names it)
EQUITY_FILE_COLUMNS = ", ".join(c for c in EQUITY_COLUMNS if c != "vp_id")

# append-only datasets: (source rows in (since, upto] of a mark: seq, or ts for marks; the order of a file's
# rows: the log's tables hold them in seq order, which a COPY keeps without sorting, and marks in time order)
_APPEND: dict[str, tuple[str, str]] = {
    "fills": (f"SELECT {FILL_SELECT} FROM events WHERE kind = 'fill' AND seq > $since AND seq <= $upto", "seq"),
    "vp_changes": ("SELECT * FROM vp_changes WHERE seq > $since AND seq <= $upto", "seq, vp_id"),
    "marks": ("SELECT * FROM marks WHERE ts > $since AND ts <= $upto", "ts, symbol"),
}
#: datasets whose table order is their file order (no ORDER BY when their parts are written)
_TABLE_ORDER = {"fills", "vp_changes", "marks"}
_ORDERS_TOUCHED = (  # the creation times of the orders (intents) touched by the events after a seq
    "SELECT DISTINCT ts FROM events WHERE kind = 'order_intent' "
    "AND payload->>'client_order_id' IN (SELECT coalesce(client_order_id, payload->>'client_order_id') "
    "FROM events WHERE seq > ? AND kind IN ('order_intent', 'order_update', 'fill'))")

Progress = Callable[[str, int, int], None]  # (dataset, done, total)


@dataclass
class PublishReport:
    seq: int
    files: dict[str, int] = field(default_factory=dict)  # dataset -> files written


class PublishedLog(Protocol):
    """What a publisher reads of a log (an :class:`~hedgestack.store.eventlog.EventLog`)."""

    @property
    def last_seq(self) -> int: ...

    def cursor(self) -> duckdb.DuckDBPyConnection: ...

    def refresh_rollups(self, upto_seq: int | None = None) -> int: ...

    def equity_mark_from(self, cur: duckdb.DuckDBPyConnection) -> dict[str, Any]: ...


class Publisher:
    """Publishes one log's datasets into ``<data_dir>/published``."""

    def __init__(self, log: PublishedLog, data_dir: str | Path) -> None:
        self.log = log
        self.root = Path(data_dir) / PUBLISHED_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def backlog(self) -> int:
        """Events of the log past the published fills (what a publication now would have to go through)."""
        return max(0, self.log.last_seq - max(0, int(read_manifest(self.root / "fills")["mark"])))

    def publish(self, progress: bool | None = False) -> PublishReport:
        """Publish what is new since the last call; return what was written.

        ``progress``: show a progress bar per dataset (``None``: when stderr is a terminal, outside CI; see
        :mod:`hedgestack.progress`); off by default, since most publications take milliseconds.

        Runs on a cursor of its own, so it may run in a worker thread while the engine appends. Every
        seq-marked dataset is published up to the same seq (the log's end when the call starts)."""
        with self._lock, progress_bar(progress) as bar:  # one publication at a time (the loop's, the final one)
            tasks: dict[str, Any] = {}

            def step(dataset: str, done: int, total: int) -> None:
                if dataset not in tasks:
                    tasks[dataset] = bar.add_task(f"publishing {dataset}", total=max(total, 1))
                bar.update(tasks[dataset], completed=done if total else 1, total=max(total, 1))

            upto = self.log.last_seq
            report = PublishReport(seq=upto)
            marks_upto = int(self.log.cursor().execute("SELECT coalesce(max(ts), 0) FROM marks").fetchall()[0][0])

            def appends() -> dict[str, int]:
                cur = self.log.cursor()  # this thread's own
                return {dataset: self._append(cur, dataset, source, order, marks_upto if dataset == "marks" else upto,
                                              step) for dataset, (source, order) in _APPEND.items()}

            def rewrites() -> dict[str, int]:
                cur = self.log.cursor()
                files = {"orders": self._orders(cur, upto)}
                step("orders", 1, 1)
                files["vp_eod"] = self._eod(cur, upto)
                step("vp_eod", 1, 1)
                files["marks_eod"] = self._marks_eod(cur, marks_upto)
                step("marks_eod", 1, 1)
                files["vp_equity"] = self._equity(cur, step)
                return files

            # the append-only datasets and the rewritten ones in two threads: DuckDB writes a small file on one
            # core, so a long first publication uses both cores of this project's machine
            with ThreadPoolExecutor(2) as pool:
                appended, rewritten = pool.submit(appends), pool.submit(rewrites)
                report.files.update(appended.result())
                report.files.update(rewritten.result())
            report.files = {name: report.files[name] for name in DATASETS}
            return report

    # -- append-only datasets ---------------------------------------------------------------------
    def _append(self, cur: duckdb.DuckDBPyConnection, dataset: str, source: str, order: str, upto: int,
                step: Progress) -> int:
        """The rows new since the last publication, as new parts in the time layout (a long backlog in chunks of
        :data:`CHUNK` events); then the directories to compact."""
        base = self.root / dataset
        manifest = read_manifest(base)
        since = int(manifest["mark"])
        if upto <= since:
            self._retire(base, manifest, [])
            return 0
        latest = cur.execute(f"SELECT max(ts) FROM ({source})", {"since": since, "upto": upto}).fetchall()[0][0]
        written: list[str] = []
        if latest is not None:
            current = max(month_start(int(latest)), int(manifest.get("current", 0)))
            # seq-marked datasets in chunks of CHUNK events; marks (ts-marked, small) at once
            bounds = list(range(since, upto, CHUNK)) + [upto] if dataset != "marks" else [since, upto]
            for low, high in zip(bounds, bounds[1:], strict=False):
                step(dataset, low - since, upto - since)
                params = {"since": low, "upto": high}
                parts = time_parts(cur, source, f"part-{low + 1:015d}-{high:015d}", current, params)
                written += write_parts(cur, base, source, parts, params,
                                       order=None if dataset in _TABLE_ORDER else order)
            manifest["current"] = current
        step(dataset, upto - since, upto - since)
        manifest["files"] = sorted(set(manifest["files"]) | set(written))
        manifest["mark"] = upto
        retired = self._compact(cur, base, manifest, order)
        self._save(base, manifest, retired)
        return len(written)

    def _compact(self, cur: duckdb.DuckDBPyConnection, base: Path, manifest: dict[str, Any], order: str) -> list[str]:
        """Merge the day files of a month that is over into one month file, and the files of any directory that
        has :data:`COMPACT_AT` of them into one; return the names retired."""
        current = int(manifest.get("current", 0))
        groups: dict[str, list[str]] = {}
        for name in manifest["files"]:
            kind, value = file_directory(name)
            if kind == "date" and period_start(value) < current:
                groups.setdefault(f"month={value[:7]}", []).append(name)  # a month that is over
            else:
                groups.setdefault(f"{kind}={value}", []).append(name)
        retired: list[str] = []
        for directory, names in sorted(groups.items()):
            over = any(file_directory(name)[0] == "date" for name in names) and directory.startswith("month=")
            if len(names) < COMPACT_AT and not over:
                continue
            files = ", ".join(f"'{(base / n).as_posix()}'" for n in sorted(names))
            merged = copy_file(cur, base, f"SELECT * FROM read_parquet([{files}], union_by_name = true) "
                                          f"ORDER BY {order}", f"{directory}/merged-{time.time_ns()}")
            manifest["files"] = sorted((set(manifest["files"]) - set(names)) | {merged})
            retired.extend(names)
        return retired

    # -- orders: rewrite the periods whose orders changed -------------------------------------------
    def _orders(self, cur: duckdb.DuckDBPyConnection, upto: int) -> int:
        base = self.root / "orders"
        manifest = read_manifest(base)
        since = int(manifest["mark"])
        if upto <= since:
            self._retire(base, manifest, [])
            return 0
        touched: list[int] = []
        if cur.execute("SELECT 1 FROM events WHERE kind = 'order_intent' AND seq <= ? LIMIT 1", [upto]).fetchall():
            touched = [int(row[0]) for row in cur.execute(_ORDERS_TOUCHED, [since]).fetchall()]
        written: list[str] = []
        periods: set[str] = set()
        if touched:
            latest = cur.execute("SELECT max(ts) FROM events WHERE kind = 'order_intent'").fetchall()[0][0]
            current = max(month_start(int(latest)), int(manifest.get("current", 0)))
            manifest["current"] = current
            periods = {_period(ts, current) for ts in touched}
            # every file of a period the touched orders fall in is written again, with the period's other orders
            spans = " OR ".join(f"(created_at >= {period_start(p)} AND created_at < {period_end(p)})"
                                for p in sorted(periods))
            cur.execute(f"CREATE OR REPLACE TEMP TABLE _orders_out AS SELECT * FROM orders WHERE {spans}")
            try:
                source = "SELECT * FROM _orders_out"
                written = write_parts(cur, base, source, time_parts(cur, source, f"orders-{upto:015d}", current,
                                                                    ts="created_at"),
                                      order="created_at, client_order_id")
            finally:
                cur.execute("DROP TABLE IF EXISTS _orders_out")
        bounds = [(period_start(p), period_end(p)) for p in periods]

        def replaced(name: str) -> bool:  # a file whose period overlaps one written again (day or month files)
            period = file_period(name)
            low, high = period_start(period), period_end(period)
            return any(low < end and start < high for start, end in bounds)

        return self._replace(base, manifest, written, replaced, upto)

    # -- the daily rollups: rewrite the months from the earliest changed day on --------------------
    def _eod(self, cur: duckdb.DuckDBPyConnection, upto: int) -> int:
        """The vp_eod rollup, brought up to ``upto``: the months whose rows changed since the last time."""
        base = self.root / "vp_eod"
        manifest = read_manifest(base)
        since = max(int(manifest["mark"]), 0)
        mark = self.log.refresh_rollups(upto)
        if mark <= since:
            self._retire(base, manifest, [])
            return 0
        low = cur.execute("SELECT min(ts) FROM vp_eod WHERE seq > ? AND seq <= ?", [since, mark]).fetchall()[0][0]
        return self._rewrite_months(
            cur, base, manifest, lambda start: f"SELECT * FROM vp_eod WHERE day >= CAST(epoch_ms({start}) AS DATE)",
            low, mark, "eod", "vp_id, day")

    def _marks_eod(self, cur: duckdb.DuckDBPyConnection, upto: int) -> int:
        """The last mark per symbol per day, brought up to the marks published (ts ``upto``)."""
        base = self.root / "marks_eod"
        manifest = read_manifest(base)
        since = int(manifest["mark"])
        if upto <= since:
            self._retire(base, manifest, [])
            return 0
        low = cur.execute("SELECT min(ts) FROM marks WHERE ts > ? AND ts <= ?", [since, upto]).fetchall()[0][0]
        return self._rewrite_months(
            cur, base, manifest,
            lambda start: f"{MARKS_EOD_SELECT} WHERE ts >= {start} AND ts <= {int(upto)} GROUP BY symbol, day",
            low, upto, "marks-eod", "symbol, day")

    def _rewrite_months(self, cur: duckdb.DuckDBPyConnection, base: Path, manifest: dict[str, Any],
                        source: Callable[[int], str], low: int | None, mark: int, stem: str, order: str) -> int:
        """Rewrite the month files from the month of ``low`` (Unix ms) on: ``source(start)`` gives the rows (with a
        DATE ``day``) from the first millisecond ``start`` of that month; set the mark."""
        written: list[str] = []
        first = "9999-99"
        if low is not None:
            start = month_start(int(low))
            first = time.strftime("%Y-%m", time.gmtime(start // 1000))
            query = source(start)
            written = write_parts(cur, base, query, month_parts(cur, query, f"{stem}-{mark:015d}"), order=order)
        return self._replace(base, manifest, written, lambda name: file_period(name) >= first, mark)

    # -- vp_equity: per VP, from its earliest new row on --------------------------------------------
    def _equity(self, cur: duckdb.DuckDBPyConnection, step: Progress) -> int:
        """The vp_equity rollup (refreshed by :meth:`_eod`): for each VP, its periods from its earliest row written
        by the refreshes since the last time on (a late fill's recomputed rows included), and the day files of a
        month that is over merged into a month file. The manifest's mark is the refresh."""
        base = self.root / "vp_equity"
        manifest = read_manifest(base)
        since = max(int(manifest["mark"]), 0)
        gen = self.log.equity_mark_from(cur)["gen"]
        if gen <= since:
            self._retire(base, manifest, [])
            return 0
        latest = cur.execute("SELECT max(ts) FROM vp_equity").fetchall()[0][0]
        if latest is None:
            return self._replace(base, manifest, [], lambda name: False, gen)
        current = month_start(int(latest))
        if any(file_directory(name)[0] != "vp_id" for name in manifest["files"]):  # an older layout: all again
            since = 0
        lows = dict(cur.execute("SELECT vp_id, min(ts) FROM vp_equity WHERE gen > ? GROUP BY vp_id",
                                [since]).fetchall())
        for name in manifest["files"]:  # a month over whose days are still day files: merged now
            period = file_period(name)
            if is_day(period) and period_start(period) < current:
                vp_id = file_vp(name)
                start = month_start(period_start(period))
                lows[vp_id] = min(int(lows.get(vp_id, start)), start)
        starts = {vp_id: (month_start(int(low)) if int(low) < current else int(low) // 86_400_000 * 86_400_000)
                  for vp_id, low in lows.items()}
        parts: list[Part] = []
        for vp_id, start in sorted(starts.items()):
            parts += equity_parts(cur, f"SELECT vp_id, ts FROM vp_equity WHERE vp_id = '{vp_id}' AND ts >= {start}",
                                  f"{gen:012d}", current)
        written = write_parts(cur, base, "SELECT * FROM vp_equity", parts, columns=EQUITY_FILE_COLUMNS, order="ts",
                              step=lambda done, total: step("vp_equity", done, total))
        step("vp_equity", 1, 1)

        def replaced(name: str) -> bool:
            if file_directory(name)[0] != "vp_id":
                return True  # a file of an older layout (by date): every VP was written again
            start = starts.get(file_vp(name))
            return start is not None and period_end(file_period(name)) > start

        return self._replace(base, manifest, written, replaced, gen)

    # -- manifest ---------------------------------------------------------------------------------
    def _replace(self, base: Path, manifest: dict[str, Any], written: list[str], replaced: Callable[[str], bool],
                 mark: int) -> int:
        """List ``written`` instead of the files ``replaced`` selects (retired); set the mark; save."""
        retired = [name for name in manifest["files"] if name not in written and replaced(name)]
        manifest["files"] = sorted((set(manifest["files"]) - set(retired)) | set(written))
        manifest["mark"] = mark
        self._save(base, manifest, retired)
        return len(written)

    def _save(self, base: Path, manifest: dict[str, Any], retired: list[str]) -> None:
        self._retire(base, manifest, retired, save=False)
        save_manifest(base, manifest)

    def _retire(self, base: Path, manifest: dict[str, Any], retired: list[str], *, save: bool = True) -> None:
        """Delete files retired longer ago than the grace period; note the newly retired ones."""
        now = time.time()
        keep = []
        changed = bool(retired)
        for name, when in manifest.get("retired", []):
            if now - when >= GRACE_SECONDS:
                (base / name).unlink(missing_ok=True)
                changed = True
            else:
                keep.append([name, when])
        keep.extend([name, now] for name in retired)
        manifest["retired"] = keep
        if save and changed:
            self._save(base, manifest, [])


def _period(ts: int, current: int) -> str:
    """The time-layout period of a time: its month before ``current``, else its day."""
    moment = time.gmtime(ts // 1000)
    return time.strftime("%Y-%m" if ts < current else "%Y-%m-%d", moment)
