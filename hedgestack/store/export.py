"""``hedgestack export``: the published fill history (or another dataset) as one Parquet or CSV file.

    hedgestack export --format parquet|csv [--since WHEN] [--until WHEN] --out PATH [--data-dir DIR]
                      [--dataset fills|orders|vp_history|marks] [--publish] [--json]

``--publish`` first publishes the data directory's log when no terminal holds it (a terminal publishes its own
every few seconds): a directory whose log was never published, or a terminal stopped before its last
publication. ``--json`` prints one JSON object (rows, out, seconds) on stdout instead of a line on stderr. A
long export shows a progress bar when run in a terminal (not under ``--json``, not when stdout is redirected,
not in CI).

``WHEN`` is a UTC date ``YYYY-MM-DD`` or Unix milliseconds. ``since`` is inclusive; ``until`` is exclusive
for milliseconds and inclusive of the whole day for a date (``--since 2025-01-01 --until 2025-01-31`` is
January). Rows come in time order with the dataset's own columns (the ``date`` partition column is left out),
decimals exact (DECIMAL(38,18) in Parquet, plain decimal text in CSV). The file is written to a temporary
name and moved into place.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgestack.store.analytics import Analytics, open_published
from hedgestack.store.database import tracked

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    import duckdb

FORMATS = ("parquet", "csv")
# dataset -> (time column, order)
DATASETS = {"fills": ("ts", "ts, seq"), "orders": ("created_at", "created_at, client_order_id"),
            "vp_history": ("ts", "seq, vp_id"), "marks": ("ts", "symbol, ts")}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY_MS = 86_400_000


def parse_when(value: str | int | None, *, end: bool = False) -> int | None:
    """``YYYY-MM-DD`` (UTC) or Unix ms → Unix ms; a date used as ``end`` means the end of that day."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if _DATE.match(text):
        day = date.fromisoformat(text)
        ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        return ms + DAY_MS if end else ms
    if text.lstrip("-").isdigit():
        return int(text)
    raise ValueError(f"not a date (YYYY-MM-DD) or Unix ms: {value!r}")


def export(source: str | Path | Analytics, fmt: str = "parquet", since: str | int | None = None,
           until: str | int | None = None, out: str | Path = "fills.parquet", *, dataset: str = "fills",
           progress: Callable[[float], None] | None = None) -> int:
    """Write ``dataset`` rows with ``since <= time < until`` to ``out``; return the number of rows.

    ``source`` is a data directory (its published Parquet) or an :class:`Analytics` (live or published).
    ``progress(percent)`` is told how far the write is, as DuckDB estimates it.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {tuple(DATASETS)}, not {dataset!r}")
    analytics = source if isinstance(source, Analytics) else open_published(source)
    con: duckdb.DuckDBPyConnection = analytics.connection
    time_column, order = DATASETS[dataset]
    start, stop = parse_when(since), parse_when(until, end=True)
    clauses: list[str] = []
    params: list[Any] = []
    if start is not None:
        clauses.append(f"{time_column} >= {int(start)}")
    if stop is not None:
        clauses.append(f"{time_column} < {int(stop)}")
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {dataset}").fetchall() if row[0] != "date"]
    select = ", ".join(f'"{c}"' for c in columns)
    query = f"SELECT {select} FROM {dataset}{where} ORDER BY {order}"
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
    tracked(con, f"COPY ({query}) TO '{temporary.as_posix()}' ({options})", params, progress)
    os.replace(temporary, target)
    return int(con.execute(f"SELECT count(*) FROM ({query})", params).fetchall()[0][0])


def publish_first(data_dir: str | Path, *, progress: bool | None = False) -> int | None:
    """Publish the data directory's log if it has one and no terminal holds it; return the seq published up
    to, or None when there was nothing to publish from."""
    from hedgestack.domain.errors import StoreError
    from hedgestack.store.eventlog import DB_FILE
    from hedgestack.store.publish import Publisher
    from hedgestack.store.stored import StoredLog

    path = Path(data_dir) / DB_FILE
    if not path.exists():
        return None
    try:
        log = StoredLog(path)
    except StoreError as exc:
        if exc.code == "STORE_LOCKED":
            return None  # a terminal owns it, and publishes it itself
        raise
    with log:
        return Publisher(log, data_dir).publish(progress=progress).seq


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``hedgestack export --format parquet|csv --since ... --until ... --out ... [--data-dir DIR]``."""
    parser.add_argument("--format", choices=FORMATS, default="parquet")
    parser.add_argument("--since", default=None, help="YYYY-MM-DD (UTC) or Unix ms, inclusive")
    parser.add_argument("--until", default=None, help="YYYY-MM-DD (whole day included) or Unix ms (exclusive)")
    parser.add_argument("--out", required=True, help="file to write")
    parser.add_argument("--data-dir", default="./data", help="the terminal's data directory (default ./data)")
    parser.add_argument("--dataset", choices=tuple(DATASETS), default="fills")
    parser.add_argument("--publish", action="store_true",
                        help="publish the directory's log first, when no terminal holds it")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hedgestack.progress import progress

    started = time.perf_counter()
    published = publish_first(args.data_dir, progress=getattr(args, "progress", False)) if args.publish else None
    with progress(getattr(args, "progress", False)) as bar:
        task = bar.add_task(f"exporting {args.dataset}", total=100)
        rows = export(args.data_dir, args.format, args.since, args.until, args.out, dataset=args.dataset,
                      progress=lambda share: bar.update(task, completed=share))
    seconds = round(time.perf_counter() - started, 3)
    if args.json:
        sys.stdout.write(json.dumps({"rows": rows, "dataset": args.dataset, "out": str(args.out),
                                     "published_seq": published, "seconds": seconds}) + "\n")
    else:
        Console(stderr=True).print(f"{rows:,} {args.dataset} rows written to {args.out}")
    return 0
