"""Publication of the log's projections as Parquet, for other processes.

DuckDB lets no second process open the terminal's file, not even read-only, so the owner publishes
``fills``, ``vp_history``, ``marks`` and ``orders`` under ``<data_dir>/published/<dataset>/date=YYYY-MM-DD/``
(hive-partitioned by UTC date), with a ``_manifest.json`` per dataset that lists the files making it up.

- Append-only datasets (fills, vp_history, marks): each publication writes only the rows new since the last
  one, as a new part file; the cost is proportional to what is new, not to the history.
- ``orders`` (statuses change): the partitions of the dates whose orders changed are rewritten.
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

# append-only datasets: source rows after a mark (seq, or ts for marks), ordered within a file
_APPEND: dict[str, tuple[str, str, str]] = {
    "fills": ("SELECT *, CAST(epoch_ms(ts) AS DATE) AS date FROM fills WHERE seq > ?", "seq",
              "SELECT coalesce(max(seq), 0) FROM events"),
    "vp_history": ("SELECT *, CAST(epoch_ms(ts) AS DATE) AS date FROM vp_history WHERE seq > ?", "seq",
                   "SELECT coalesce(max(seq), 0) FROM events"),
    "marks": ("SELECT *, CAST(epoch_ms(ts) AS DATE) AS date FROM marks WHERE ts > ?", "ts",
              "SELECT coalesce(max(ts), 0) FROM marks"),
}
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

    def publish(self) -> PublishReport:
        """Publish what is new since the last call; return what was written.

        Runs on a cursor of its own, so it may run in a worker thread while the engine appends."""
        with self._lock:  # one publication at a time (the loop's and the final one on stop)
            cur = self.log.cursor()
            report = PublishReport(seq=self.log.last_seq)
            for dataset, (source, _, upto_sql) in _APPEND.items():
                report.files[dataset] = self._append(cur, dataset, source, upto_sql)
            report.files["orders"] = self._orders(cur)
            return report

    # -- append-only datasets ---------------------------------------------------------------------
    def _append(self, cur: duckdb.DuckDBPyConnection, dataset: str, source: str, upto_sql: str) -> int:
        base = self.root / dataset
        manifest = read_manifest(base)
        since = int(manifest["mark"])
        upto = int(cur.execute(upto_sql).fetchall()[0][0])
        if upto <= since:
            self._retire(base, manifest, [])
            return 0
        bounded = f"SELECT * FROM ({source}) WHERE {_APPEND[dataset][1]} <= {upto}"
        written = self._write_parts(cur, base, bounded, [since], f"part-{since + 1:015d}-{upto:015d}")
        manifest["files"] = sorted(set(manifest["files"]) | set(written))
        manifest["mark"] = upto
        retired = self._compact(cur, base, manifest)
        self._save(base, manifest, retired)
        return len(written)

    def _write_parts(self, cur: duckdb.DuckDBPyConnection, base: Path, query: str, params: list[Any],
                     stem: str) -> list[str]:
        """COPY ``query`` partitioned by date into staging; move each file in under ``stem``; return names."""
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base))
        names: list[str] = []
        try:
            cur.execute(f"COPY ({query}) TO '{staging.as_posix()}' (FORMAT parquet, PARTITION_BY (date), "
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

    def _compact(self, cur: duckdb.DuckDBPyConnection, base: Path, manifest: dict[str, Any]) -> list[str]:
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
            cur.execute(f"COPY (SELECT * FROM read_parquet([{files}]) ORDER BY ALL) TO '{temp.as_posix()}' "
                        "(FORMAT parquet)")
            os.replace(temp, base / merged)
            manifest["files"] = sorted((set(manifest["files"]) - set(names)) | {merged})
            retired.extend(names)
        return retired

    # -- orders: rewrite the dates whose orders changed ---------------------------------------------
    def _orders(self, cur: duckdb.DuckDBPyConnection) -> int:
        base = self.root / "orders"
        manifest = read_manifest(base)
        since = int(manifest["mark"])
        upto = self.log.last_seq
        if upto <= since:
            self._retire(base, manifest, [])
            return 0
        dates = [row[0].isoformat() for row in cur.execute(_ORDERS_TOUCHED, [since]).fetchall()]
        retired: list[str] = []
        written: list[str] = []
        if dates:
            listed = ", ".join(f"DATE '{d}'" for d in dates)
            written = self._write_parts(cur, base, f"SELECT * FROM ({_ORDERS_SOURCE}) WHERE date IN ({listed})", [],
                                        f"orders-{upto:015d}")
            rewritten = {f"date={d}" for d in dates}
            retired = [n for n in manifest["files"] if n.split("/", 1)[0] in rewritten]
            manifest["files"] = sorted((set(manifest["files"]) - set(retired)) | set(written))
        manifest["mark"] = upto
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
