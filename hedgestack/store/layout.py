"""How published datasets lie on disk: directories, file names, manifests, and the one way files are written.

The terminal (:mod:`hedgestack.store.publish`) and ``hedgestack demo-data`` both write through this module, so
a reader (:mod:`hedgestack.store.analytics`) sees the same layout whoever wrote it.

``<data_dir>/published/<dataset>/`` holds Parquet files and ``_manifest.json`` (``files``: the names making the
dataset up, ``mark``: how far it is published, ``retired``: replaced files and when, deleted after a grace
period). Layouts:

- by UTC date, ``date=YYYY-MM-DD/<stem>-<i>.parquet``: the append-only datasets (``fills``, ``vp_changes``,
  ``marks``) and ``orders``;
- by UTC month, ``month=YYYY-MM/<stem>-<i>.parquet``: the small daily rollups (``vp_eod``, ``marks_eod``), a
  dozen files a year to open;
- by VP, then period, ``vp_id=<id>/<period>_<stem>-<i>.parquet``: ``vp_equity``. A period is a whole UTC month
  (``YYYY-MM``) before the data's current month and a day (``YYYY-MM-DD``) within it, so one VP's curve over a
  year opens about 40 files holding only its rows (the reader's hive ``vp_id`` filter skips every other VP's
  files unopened), and each publication rewrites only today's small files. Each file is sorted by ts and the
  names sort chronologically, so the manifest's (sorted) list reads in (vp_id, ts) order.

Files are written by DuckDB's ``COPY ... PARTITION_BY`` into a staging directory, then renamed into place (never
seen half-written); the manifest is replaced the same way after them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

PUBLISHED_DIR = "published"
MANIFEST = "_manifest.json"
#: how every published file is written: row groups of DuckDB's default size (122,880 rows: fewer, larger row
#: groups write and read faster than small ones, and every layout already puts one VP, one day or one month in
#: a file of its own), Snappy-compressed (what every Parquet reader takes)
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION snappy"
DAY_MS = 86_400_000

#: the date partition column (SQL over a relation with ``ts`` in Unix ms)
DATE_COLUMN = "CAST(epoch_ms(ts) AS DATE) AS date"


def period_column(current_month_start: int, ts: str = "ts") -> str:
    """SQL: the ``vp_equity`` period of a row (its time in Unix ms in column ``ts``): its month before
    ``current_month_start`` (Unix ms), else its day."""
    return (f"CASE WHEN {ts} < {int(current_month_start)} THEN strftime(epoch_ms({ts}), '%Y-%m') "
            f"ELSE strftime(epoch_ms({ts}), '%Y-%m-%d') END AS period")


def month_start(ts: int) -> int:
    """The first millisecond of the UTC month of ``ts``."""
    moment = time.gmtime(ts // 1000)
    return int(_utc_ms(moment.tm_year, moment.tm_mon, 1))


def _utc_ms(year: int, month: int, day: int) -> int:
    import calendar

    return calendar.timegm((year, month, day, 0, 0, 0, 0, 0, 0)) * 1000


def period_start(period: str) -> int:
    """The first millisecond of a ``vp_equity`` period (``YYYY-MM`` or ``YYYY-MM-DD``)."""
    parts = [int(p) for p in period.split("-")]
    return _utc_ms(parts[0], parts[1], parts[2] if len(parts) == 3 else 1)


def period_end(period: str) -> int:
    """The first millisecond after a ``vp_equity`` period."""
    start = period_start(period)
    return start + DAY_MS if is_day(period) else month_start(start + 32 * DAY_MS)


def is_day(period: str) -> bool:
    return period.count("-") == 2


# -- manifests --------------------------------------------------------------------------------------------
def read_manifest(base: Path) -> dict[str, Any]:
    """The manifest of a dataset directory (an empty one when there is none yet)."""
    path = base / MANIFEST
    if not path.exists():
        return {"files": [], "mark": -1, "retired": []}
    return json.loads(path.read_text())


def manifest_files(base: Path) -> list[Path]:
    """The files of a published dataset: those its manifest lists, or (no manifest) every Parquet file."""
    path = base / MANIFEST
    if path.exists():
        return [base / name for name in json.loads(path.read_text())["files"]]
    return sorted(base.glob("*=*/*.parquet"))


def save_manifest(base: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically (temporary name, then rename)."""
    base.mkdir(parents=True, exist_ok=True)
    temp = base / f".{MANIFEST}.tmp"
    temp.write_text(json.dumps(manifest))
    os.replace(temp, base / MANIFEST)


# -- writing ----------------------------------------------------------------------------------------------
def write_partitioned(cur: duckdb.DuckDBPyConnection, base: Path, query: str, partition_by: tuple[str, ...],
                      stem: str, params: dict[str, Any] | None = None) -> list[str]:
    """COPY ``query`` (which has the ``partition_by`` columns) partitioned into staging, then move each file into
    place; return the new names, relative to ``base``.

    The last partition column names the file (``vp_id=X/<period>_<stem>-<i>.parquet`` for ``("vp_id",
    "period")``); the others are directories (``date=2025-01-01/<stem>-<i>.parquet`` for ``("date",)``)."""
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base))
    names: list[str] = []
    try:
        cur.execute(f"COPY ({query}) TO '{staging.as_posix()}' ({PARQUET_OPTIONS}, "
                    f"PARTITION_BY ({', '.join(partition_by)}), OVERWRITE_OR_IGNORE true)", params)
        for produced in sorted(staging.rglob("*.parquet")):
            parts = produced.relative_to(staging).parts[:-1]
            if partition_by[-1] == "period":  # the period names the file, in its VP's directory
                directories, (_, period) = parts[:-1], parts[-1].split("=", 1)
                prefix = f"{period}_"
            else:
                directories, prefix = parts, ""
            target_dir = base.joinpath(*directories)
            target_dir.mkdir(parents=True, exist_ok=True)
            index = 0
            while (target_dir / f"{prefix}{stem}-{index}.parquet").exists():
                index += 1
            name = f"{prefix}{stem}-{index}.parquet"
            os.replace(produced, target_dir / name)
            names.append("/".join((*directories, name)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return names


def file_period(name: str) -> str:
    """The period of a ``vp_equity`` file name (``vp_id=X/2025-01_...`` -> ``2025-01``)."""
    return name.rsplit("/", 1)[-1].split("_", 1)[0]


def file_vp(name: str) -> str:
    """The VP of a ``vp_equity`` file name."""
    return name.split("/", 1)[0].split("=", 1)[1]


def file_partition(name: str) -> str:
    """The value of the first partition directory of a file name (``date=2025-01-01/x`` -> ``2025-01-01``)."""
    return name.split("/", 1)[0].split("=", 1)[1]
