"""How published datasets lie on disk: directories, file names, manifests, and the one way files are written.

The terminal (:mod:`hedgestack.store.publish`) and ``hedgestack demo-data`` both write through this module, so
a reader (:mod:`hedgestack.store.analytics`) sees the same layout whoever wrote it.

``<data_dir>/published/<dataset>/`` holds Parquet files and ``_manifest.json`` (``files``: the names making the
dataset up, ``mark``: how far it is published, ``retired``: replaced files and when, deleted after a grace
period). Three layouts:

- by time (``fills``, ``vp_changes``, ``marks``, ``orders``): ``month=YYYY-MM/<stem>-<i>.parquet`` for the UTC
  months before the data's current month (the month of its latest row), ``date=YYYY-MM-DD/<stem>-<i>.parquet``
  within it. A year of history is about 12 + 30 files, large enough for DuckDB to write and read each on every
  core, while a publication writes only today's small files; when a month is over its day files are merged into
  one month file. The reader takes a row's date from its time, not from the path.
- by month (``vp_eod``, ``marks_eod``: small daily rollups): ``month=YYYY-MM/<stem>-<i>.parquet``.
- by VP, then period (``vp_equity``): ``vp_id=<id>/<period>_<stem>-<i>.parquet``, a period being a month
  (``YYYY-MM``) before the data's current month and a day (``YYYY-MM-DD``) within it, so one VP's curve over a
  year opens about 40 files holding only its rows (the reader's hive ``vp_id`` filter skips every other VP's
  files unopened), and each publication rewrites only today's small files. Each file is sorted by ts and the
  names sort chronologically, so the manifest's (sorted) list reads in (vp_id, ts) order.

Each file is written by its own ``COPY`` into a staging directory, then renamed into place (never seen
half-written); the manifest is replaced the same way after them (:func:`write_parts`).
"""

from __future__ import annotations

import calendar
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

PUBLISHED_DIR = "published"
MANIFEST = "_manifest.json"
#: how every published file is written: row groups of DuckDB's default size (122,880 rows: fewer, larger row
#: groups write and read faster than small ones), Snappy-compressed (what every Parquet reader takes)
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION snappy"
DAY_MS = 86_400_000


# -- periods ----------------------------------------------------------------------------------------------
def month_start(ts: int) -> int:
    """The first millisecond of the UTC month of ``ts``."""
    moment = time.gmtime(ts // 1000)
    return _utc_ms(moment.tm_year, moment.tm_mon, 1)


def _utc_ms(year: int, month: int, day: int) -> int:
    return calendar.timegm((year, month, day, 0, 0, 0, 0, 0, 0)) * 1000


def period_column(current_month_start: int, ts: str = "ts") -> str:
    """SQL: the period of a row (its time in Unix ms in column ``ts``): its month ``YYYY-MM`` before
    ``current_month_start`` (Unix ms), else its day ``YYYY-MM-DD``."""
    return (f"CASE WHEN {ts} < {int(current_month_start)} THEN strftime(epoch_ms({ts}), '%Y-%m') "
            f"ELSE strftime(epoch_ms({ts}), '%Y-%m-%d') END")


def period_start(period: str) -> int:
    """The first millisecond of a period (``YYYY-MM`` or ``YYYY-MM-DD``)."""
    parts = [int(p) for p in period.split("-")]
    return _utc_ms(parts[0], parts[1], parts[2] if len(parts) == 3 else 1)


def period_end(period: str) -> int:
    """The first millisecond after a period."""
    start = period_start(period)
    return start + DAY_MS if is_day(period) else month_start(start + 32 * DAY_MS)


def is_day(period: str) -> bool:
    """Whether a period is a day (else a month)."""
    return period.count("-") == 2


# -- parts: what one file holds ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    """One file to write: ``name`` (its path in the dataset; ``-<i>.parquet`` is added) and ``where``, the SQL
    predicate selecting its rows of the source."""

    name: str
    where: str


def time_parts(cur: duckdb.DuckDBPyConnection, source: str, stem: str, current: int,
               params: dict[str, Any] | None = None, ts: str = "ts") -> list[Part]:
    """The time-layout parts of ``source``: a month file per month before ``current`` (the first millisecond
    of the data's current month), a day file per day from it, by the Unix ms column ``ts``."""
    days = [int(row[0]) for row in cur.execute(f"SELECT DISTINCT {ts} // {DAY_MS} FROM ({source})",
                                               params).fetchall()]
    periods = sorted({time.strftime("%Y-%m" if day * DAY_MS < current else "%Y-%m-%d", time.gmtime(day * 86_400))
                      for day in days})
    return [Part(f"{'date' if is_day(p) else 'month'}={p}/{stem}",
                 f"{ts} >= {period_start(p)} AND {ts} < {period_end(p)}") for p in periods]


def month_parts(cur: duckdb.DuckDBPyConnection, source: str, stem: str, day: str = "day") -> list[Part]:
    """The month-layout parts of ``source``, by its DATE column ``day``."""
    months = [row[0] for row in cur.execute(f"SELECT DISTINCT strftime({day}, '%Y-%m') FROM ({source}) "
                                            "ORDER BY 1").fetchall()]
    return [Part(f"month={m}/{stem}", f"{day} >= CAST(epoch_ms({period_start(m)}) AS DATE) "
                                      f"AND {day} < CAST(epoch_ms({period_end(m)}) AS DATE)") for m in months]


def equity_parts(cur: duckdb.DuckDBPyConnection, source: str, stem: str, current: int) -> list[Part]:
    """The ``vp_equity`` parts of ``source`` (rows with vp_id and ts): one per VP and period."""
    rows = cur.execute(f"SELECT DISTINCT vp_id, ts // {DAY_MS} FROM ({source})").fetchall()
    periods = sorted({(vp_id, time.strftime("%Y-%m" if day * DAY_MS < current else "%Y-%m-%d",
                                            time.gmtime(day * 86_400))) for vp_id, day in rows})
    return [Part(f"vp_id={vp_id}/{p}_{stem}",
                 f"vp_id = '{vp_id}' AND ts >= {period_start(p)} AND ts < {period_end(p)}") for vp_id, p in periods]


# -- writing ----------------------------------------------------------------------------------------------
def write_parts(cur: duckdb.DuckDBPyConnection, base: Path, source: str, parts: list[Part],
                params: dict[str, Any] | None = None, *, columns: str = "*", order: str | None = None,
                step: Callable[[int, int], None] | None = None) -> list[str]:
    """Write each part's rows of ``source`` (its ``columns``, ``order``-ed) as one Parquet file, each with its
    own COPY into staging then renamed into place; return the names written, relative to ``base``.

    One statement per file rather than DuckDB's ``PARTITION_BY`` (whose writer costs about twice the CPU for the
    10 M demo fills on this project's machine); a source whose table holds its rows in time order reads only the
    row groups a part needs. ``step(done, total)`` is called after each file."""
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base))
    names: list[str] = []
    tail = f" ORDER BY {order}" if order else ""
    try:
        for index, part in enumerate(parts):
            temp = staging / f"{index}.parquet"
            cur.execute(f"COPY (SELECT {columns} FROM ({source}) WHERE {part.where}{tail}) TO '{temp.as_posix()}' "
                        f"({PARQUET_OPTIONS})", params)
            names.append(_place(base, temp, part.name))
            if step is not None:
                step(index + 1, len(parts))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return names


def copy_file(cur: duckdb.DuckDBPyConnection, base: Path, query: str, name: str) -> str:
    """Write ``query`` as one file named ``name`` (``-<i>.parquet`` added) in ``base``; return its name."""
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base))
    try:
        temp = staging / "file.parquet"
        cur.execute(f"COPY ({query}) TO '{temp.as_posix()}' ({PARQUET_OPTIONS})")
        return _place(base, temp, name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _place(base: Path, temp: Path, name: str) -> str:
    """Rename a written file into place under the first free ``<name>-<i>.parquet``."""
    suffix = 0
    while (base / f"{name}-{suffix}.parquet").exists():
        suffix += 1
    target = base / f"{name}-{suffix}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, target)
    return target.relative_to(base).as_posix()


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


# -- names ------------------------------------------------------------------------------------------------
def file_directory(name: str) -> tuple[str, str]:
    """The partition directory of a file name: ``("date", "2025-01-01")``, ``("month", "2025-01")`` or
    ``("vp_id", "vp_x")``."""
    kind, value = name.split("/", 1)[0].split("=", 1)
    return kind, value


def file_period(name: str) -> str:
    """The period of a file: its ``date=``/``month=`` directory's value, or for ``vp_equity`` the period its
    name starts with (``vp_id=X/2025-01_...`` -> ``2025-01``)."""
    kind, value = file_directory(name)
    return name.rsplit("/", 1)[-1].split("_", 1)[0] if kind == "vp_id" else value


def file_vp(name: str) -> str:
    """The VP of a ``vp_equity`` file name."""
    return file_directory(name)[1]
