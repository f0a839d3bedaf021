"""Publication of the log's projections as Parquet, for other processes.

DuckDB lets no second process open the terminal's file, not even read-only, so the owner publishes
``fills``, ``orders`` and ``vp_history`` under ``<data_dir>/published/<dataset>/date=YYYY-MM-DD/data.parquet``
(hive-partitioned by UTC date). Each partition is written whole to a temporary name and moved into place
with ``os.replace``: a reader sees the old file or the new one, never a torn one. Only the partitions that
gained rows since the last publication are rewritten.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from hedgestack.store.eventlog import EventLog

PUBLISHED_DIR = "published"

# dataset -> (source query with a `date` column, query giving the dates touched after seq ?)
_DATASETS: dict[str, tuple[str, str]] = {
    "fills": (
        "SELECT *, CAST(epoch_ms(ts) AS DATE) AS date FROM fills",
        "SELECT DISTINCT CAST(epoch_ms(ts) AS DATE) FROM events WHERE kind = 'fill' AND seq > ?",
    ),
    "vp_history": (
        "SELECT *, CAST(epoch_ms(ts) AS DATE) AS date FROM vp_history",
        "SELECT DISTINCT CAST(epoch_ms(ts) AS DATE) FROM vp_history WHERE seq > ?",
    ),
    "orders": (
        "SELECT *, CAST(epoch_ms(created_at) AS DATE) AS date FROM orders",
        "SELECT DISTINCT CAST(epoch_ms(o.created_at) AS DATE) FROM orders o WHERE o.client_order_id IN ("
        "SELECT coalesce(client_order_id, payload->>'client_order_id') FROM events WHERE seq > ?)",
    ),
    "marks": (
        "SELECT *, CAST(epoch_ms(ts) AS DATE) AS date FROM marks",
        "SELECT DISTINCT CAST(epoch_ms(ts) AS DATE) FROM marks WHERE ts >= ?",
    ),
}


@dataclass
class PublishReport:
    seq: int
    partitions: dict[str, int] = field(default_factory=dict)  # dataset -> partitions written


class Publisher:
    """Publishes one EventLog's datasets into ``<data_dir>/published``."""

    def __init__(self, log: EventLog, data_dir: str | Path) -> None:
        self.log = log
        self.root = Path(data_dir) / PUBLISHED_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def publish(self) -> PublishReport:
        """Rewrite every partition that changed since the last call; return what was written.

        Runs on a cursor of its own, so it may run in a worker thread while the engine appends."""
        with self._lock:  # one publication at a time (the loop's and the final one on stop)
            return self._publish(self.log.cursor())

    def _publish(self, cur: duckdb.DuckDBPyConnection) -> PublishReport:
        report = PublishReport(seq=self.log.last_seq)
        for dataset, (source, touched) in _DATASETS.items():
            rows = cur.execute("SELECT value FROM meta WHERE key = ?", [f"published:{dataset}"]).fetchall()
            since = int(rows[0][0]) if rows else -1
            if dataset == "marks":
                upto = int(cur.execute("SELECT coalesce(max(ts), -1) FROM marks").fetchall()[0][0])
                params = [since + 1]
            else:
                upto = report.seq
                params = [since]
            if upto <= since:
                continue
            dates = [row[0].isoformat() for row in cur.execute(touched, params).fetchall()]
            if dates:
                self._write(cur, dataset, source, dates)
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [f"published:{dataset}", str(upto)])
            report.partitions[dataset] = len(dates)
        return report

    def _write(self, cur: duckdb.DuckDBPyConnection, dataset: str, source: str, dates: list[str]) -> None:
        base = self.root / dataset
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base))
        try:
            date_list = ", ".join(f"DATE '{d}'" for d in dates)
            cur.execute(
                f"COPY (SELECT * FROM ({source}) WHERE date IN ({date_list}) ORDER BY date) "
                f"TO '{staging.as_posix()}' (FORMAT parquet, PARTITION_BY (date), OVERWRITE_OR_IGNORE true)")
            for date in dates:
                produced = sorted((staging / f"date={date}").glob("*.parquet"))
                target_dir = base / f"date={date}"
                target_dir.mkdir(exist_ok=True)
                if len(produced) == 1:
                    os.replace(produced[0], target_dir / "data.parquet")
                else:  # several files (or none): write this date on its own, then move it in
                    single = staging / f"{date}.parquet"
                    cur.execute(f"COPY (SELECT * EXCLUDE (date) FROM ({source}) WHERE date = DATE '{date}') "
                                f"TO '{single.as_posix()}' (FORMAT parquet)")
                    os.replace(single, target_dir / "data.parquet")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
