"""Publication of the log's projections as Parquet, for other processes.

DuckDB lets no second process open the terminal's file, not even read-only, so the owner publishes its
datasets under ``<data_dir>/published/<dataset>/date=YYYY-MM-DD/`` (hive-partitioned by UTC date), with a
``_manifest.json`` per dataset that lists the files making it up:

- ``fills``: one row per fill with the columns of the ``fills`` view (decimals DECIMAL(38, 18)), followed by
  the projection of the VP it was booked to after it (``vp_net_qty``, ``vp_avg_entry``, ``vp_realized``,
  ``vp_fees``, ``vp_funding``, ``vp_archived``; NULL when the fill changed several VPs), as the log keeps it.
- ``vp_changes``: the other ``vp_history`` rows (VP events, funding, transfers, reconciles, fills that changed
  several VPs). The reader's ``vp_history`` view is the fills' projections plus these: the 10 M-row history is
  written once, not twice.
- ``marks``, ``orders``, and ``vp_eod`` (the rollup of the last state per VP per day, with its seq mark in
  its manifest; the reader adds the history rows after that mark).
- ``vp_equity``: the equity of each VP at each mark sample (the log's rollup), sorted by (vp_id, ts) in each
  date, its manifest's mark the rollup refresh it holds.

- Append-only datasets (fills, vp_changes, marks): each publication writes only the rows new since the last
  one, as a new part file; the cost is proportional to what is new, not to the history.
- ``orders`` (statuses change), ``vp_eod`` (a day's row changes with each event of the day) and ``vp_equity``
  (new samples, and a VP's rows after a late fill): the partitions of the dates that changed are rewritten.
- A date with many parts is compacted into one file.
- Every file is written under a temporary name and renamed into place, then the manifest is replaced the
  same way: a reader (``hedgestack.analytics.open``) reads exactly the files one manifest lists, so it never
  sees a torn file, a row twice or a row missing. Files a newer manifest no longer lists are deleted only
  after a grace period, so a reader holding the previous manifest can still read them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from hedgestack.store.eventlog import EventLog

PUBLISHED_DIR = "published"
MANIFEST = "_manifest.json"
COMPACT_AT = 32  # parts of one date before they are merged
GRACE_SECONDS = 120.0
#: how every published file is written (demo-data writes the same). Fills are written in (vp_id, seq) order
#: and marks in (symbol, ts) order, in row groups of 8192 rows, so a reader after one VP (or one symbol)
#: skips the other row groups by their min/max statistics.
PARQUET_OPTIONS = "FORMAT parquet, ROW_GROUP_SIZE 8192"
DATASETS = ("fills", "vp_changes", "marks", "orders", "vp_eod", "vp_equity")
#: the published vp_equity: the rollup's columns in (vp_id, ts) order within each date, so one VP's curve reads
#: only its row groups
EQUITY_SOURCE = "SELECT * EXCLUDE (gen), CAST(epoch_ms(ts) AS DATE) AS date FROM vp_equity"

#: the columns of a published fills row: the fills view's, then the booked VP's projection
FILL_SELECT = """seq, ts, trade_id, order_id, client_order_id, coalesce(booked_vp_id, vp_id) AS vp_id, vp_name,
    symbol, side, position_side, qty, price, commission, commission_asset, vp_realized_delta AS realized_pnl,
    exchange_rp, maker, vp_net_qty, vp_avg_entry, vp_realized, vp_fees, vp_funding, vp_archived"""
_DATE = "CAST(epoch_ms(ts) AS DATE) AS date"

# append-only datasets: source rows in (since, upto] of a mark (seq, or ts for marks)
_APPEND: dict[str, tuple[str, str]] = {
    "fills": (f"SELECT {FILL_SELECT}, {_DATE} FROM events WHERE kind = 'fill' AND seq > $since AND seq <= $upto "
              "ORDER BY vp_id, seq", "seq"),
    "vp_changes": (f"SELECT *, {_DATE} FROM vp_changes WHERE seq > $since AND seq <= $upto", "seq"),
    "marks": (f"SELECT *, {_DATE} FROM marks WHERE ts > $since AND ts <= $upto ORDER BY symbol, ts", "ts"),
}
_COMPACT_ORDER = {"fills": "vp_id, seq", "vp_changes": "seq, vp_id", "marks": "symbol, ts"}
_ORDERS_SOURCE = "SELECT *, CAST(epoch_ms(created_at) AS DATE) AS date FROM orders"
_ORDERS_TOUCHED = (
    "SELECT DISTINCT CAST(epoch_ms(ts) AS DATE) FROM events WHERE kind = 'order_intent' "
    "AND payload->>'client_order_id' IN (SELECT coalesce(client_order_id, payload->>'client_order_id') "
    "FROM events WHERE seq > ? AND kind IN ('order_intent', 'order_update', 'fill'))")


@dataclass
class PublishReport:
    seq: int
    files: dict[str, int] = field(default_factory=dict)  # dataset -> files written


def read_manifest(base: Path) -> dict[str, Any]:
    path = base / MANIFEST
    if not path.exists():
        return {"files": [], "mark": -1, "retired": []}
    return json.loads(path.read_text())


def manifest_files(base: Path) -> list[Path]:
    """The files of a published dataset: those its manifest lists, or (no manifest) every date file."""
    path = base / MANIFEST
    if path.exists():
        return [base / name for name in json.loads(path.read_text())["files"]]
    return sorted(base.glob("date=*/*.parquet"))


class Publisher:
    """Publishes one EventLog's datasets into ``<data_dir>/published``."""

    def __init__(self, log: EventLog, data_dir: str | Path) -> None:
        self.log = log
        self.root = Path(data_dir) / PUBLISHED_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def backlog(self) -> int:
        """Events of the log past the published fills (what a publication now would have to go through)."""
        return max(0, self.log.last_seq - max(0, int(read_manifest(self.root / "fills")["mark"])))

    def publish(self) -> PublishReport:
        """Publish what is new since the last call; return what was written.

        Runs on a cursor of its own, so it may run in a worker thread while the engine appends. Every
        seq-marked dataset is published up to the same seq (the log's end when the call starts)."""
        with self._lock:  # one publication at a time (the loop's and the final one on stop)
            cur = self.log.cursor()
            upto = self.log.last_seq
            report = PublishReport(seq=upto)
            marks_upto = int(cur.execute("SELECT coalesce(max(ts), 0) FROM marks").fetchall()[0][0])
            for dataset, (source, _) in _APPEND.items():
                report.files[dataset] = self._append(cur, dataset, source, marks_upto if dataset == "marks" else upto)
            report.files["orders"] = self._orders(cur, upto)
            report.files["vp_eod"] = self._eod(cur, upto)
            report.files["vp_equity"] = self._equity(cur)
            return report

    # -- append-only datasets ---------------------------------------------------------------------
    def _append(self, cur: duckdb.DuckDBPyConnection, dataset: str, source: str, upto: int) -> int:
        base = self.root / dataset
        manifest = read_manifest(base)
        since = int(manifest["mark"])
        if upto <= since:
            self._retire(base, manifest, [])
            return 0
        written = self._write_parts(cur, base, source, {"since": since, "upto": upto},
                                    f"part-{since + 1:015d}-{upto:015d}")
        manifest["files"] = sorted(set(manifest["files"]) | set(written))
        manifest["mark"] = upto
        retired = self._compact(cur, base, manifest, _COMPACT_ORDER[dataset])
        self._save(base, manifest, retired)
        return len(written)

    def _write_parts(self, cur: duckdb.DuckDBPyConnection, base: Path, query: str, params: dict[str, Any] | None,
                     stem: str) -> list[str]:
        """COPY ``query`` partitioned by date into staging; move each file in under ``stem``; return names."""
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base))
        names: list[str] = []
        try:
            cur.execute(f"COPY ({query}) TO '{staging.as_posix()}' ({PARQUET_OPTIONS}, PARTITION_BY (date), "
                        "OVERWRITE_OR_IGNORE true)", params)
            for part in sorted(staging.glob("date=*")):
                for index, produced in enumerate(sorted(part.glob("*.parquet"))):
                    target_dir = base / part.name
                    target_dir.mkdir(exist_ok=True)
                    name = f"{part.name}/{stem}-{index}.parquet"
                    os.replace(produced, base / name)
                    names.append(name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return names

    def _compact(self, cur: duckdb.DuckDBPyConnection, base: Path, manifest: dict[str, Any], order: str) -> list[str]:
        """Merge the parts of every date that has too many; return the names retired."""
        by_date: dict[str, list[str]] = {}
        for name in manifest["files"]:
            by_date.setdefault(name.split("/", 1)[0], []).append(name)
        retired: list[str] = []
        for date_dir, names in by_date.items():
            if len(names) < COMPACT_AT:
                continue
            files = ", ".join(f"'{(base / n).as_posix()}'" for n in sorted(names))
            merged = f"{date_dir}/merged-{time.time_ns()}.parquet"
            temp = base / date_dir / f".{Path(merged).name}.tmp"
            cur.execute(f"COPY (SELECT * FROM read_parquet([{files}]) ORDER BY {order}) TO '{temp.as_posix()}' "
                        f"({PARQUET_OPTIONS})")
            os.replace(temp, base / merged)
            manifest["files"] = sorted((set(manifest["files"]) - set(names)) | {merged})
            retired.extend(names)
        return retired

    # -- orders: rewrite the dates whose orders changed ---------------------------------------------
    def _orders(self, cur: duckdb.DuckDBPyConnection, upto: int) -> int:
        base = self.root / "orders"
        manifest = read_manifest(base)
        since = int(manifest["mark"])
        if upto <= since:
            self._retire(base, manifest, [])
            return 0
        dates = [row[0] for row in cur.execute(_ORDERS_TOUCHED, [since]).fetchall()]
        return self._rewrite_dates(cur, base, manifest, f"SELECT * FROM ({_ORDERS_SOURCE})", dates, upto, "orders")

    def _eod(self, cur: duckdb.DuckDBPyConnection, upto: int) -> int:
        """The vp_eod rollup, brought up to ``upto``: the dates whose rows changed since the last time."""
        base = self.root / "vp_eod"
        manifest = read_manifest(base)
        since = max(int(manifest["mark"]), 0)
        mark = self.log.refresh_rollups(upto)
        if mark <= since:
            self._retire(base, manifest, [])
            return 0
        dates = [row[0] for row in cur.execute("SELECT DISTINCT day FROM vp_eod WHERE seq > ? AND seq <= ?",
                                               [since, mark]).fetchall()]
        return self._rewrite_dates(cur, base, manifest, "SELECT *, day AS date FROM vp_eod", dates, mark, "eod")

    def _equity(self, cur: duckdb.DuckDBPyConnection) -> int:
        """The vp_equity rollup (refreshed by :meth:`_eod`): the dates of the rows written by the refreshes
        since the last time (a late fill's recomputed rows included); the manifest's mark is the refresh."""
        base = self.root / "vp_equity"
        manifest = read_manifest(base)
        since = max(int(manifest["mark"]), 0)
        gen = self.log.equity_mark_from(cur)["gen"]
        if gen <= since:
            self._retire(base, manifest, [])
            return 0
        # the refreshes since then wrote rows from ``low`` on (new samples; a late fill's VP from its ts): every
        # date from low's on is rewritten, from one bounded scan (no list of dates to test each row against)
        low = cur.execute("SELECT min(ts) FROM vp_equity WHERE gen > ?", [since]).fetchall()[0][0]
        if low is None:
            return self._rewrite_dates(cur, base, manifest, "", [], gen, "equity")
        start = int(low) // 86_400_000 * 86_400_000
        dates = [row[0] for row in cur.execute("SELECT DISTINCT CAST(epoch_ms(ts) AS DATE) FROM vp_equity "
                                               "WHERE ts >= ?", [start]).fetchall()]
        return self._rewrite_dates(cur, base, manifest, f"{EQUITY_SOURCE} WHERE ts >= {start} ORDER BY vp_id, ts",
                                   dates, gen, "equity", bounded=True)

    def _rewrite_dates(self, cur: duckdb.DuckDBPyConnection, base: Path, manifest: dict[str, Any], source: str,
                       dates: list[Any], mark: int, stem: str, *, bounded: bool = False) -> int:
        """Rewrite the partitions of ``dates`` from ``source`` (which has a ``date`` column; ``bounded``: it
        holds the rows of those dates only); set the mark."""
        retired: list[str] = []
        written: list[str] = []
        if dates:
            listed = ", ".join(f"DATE '{d.isoformat()}'" for d in dates)
            query = source if bounded else f"SELECT * FROM ({source}) WHERE date IN ({listed})"
            written = self._write_parts(cur, base, query, None, f"{stem}-{mark:015d}")
            rewritten = {f"date={d.isoformat()}" for d in dates}
            retired = [n for n in manifest["files"] if n.split("/", 1)[0] in rewritten]
            manifest["files"] = sorted((set(manifest["files"]) - set(retired)) | set(written))
        manifest["mark"] = mark
        self._save(base, manifest, retired)
        return len(written)

    # -- manifest ---------------------------------------------------------------------------------
    def _save(self, base: Path, manifest: dict[str, Any], retired: list[str]) -> None:
        self._retire(base, manifest, retired, save=False)
        base.mkdir(parents=True, exist_ok=True)
        temp = base / f".{MANIFEST}.tmp"
        temp.write_text(json.dumps(manifest))
        os.replace(temp, base / MANIFEST)

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
