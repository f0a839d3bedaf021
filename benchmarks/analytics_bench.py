"""Analytics benchmarks over 10 M fills (not timed tests): prints one JSON object with medians of 3.

    .venv/bin/python benchmarks/analytics_bench.py [--fills 10000000] [--data-dir DIR] [--repeat 3]

1. A demo dataset of ``--fills`` fills (``hedgestack demo-data``; reused when ``--data-dir`` already holds one).
2. On the published Parquet (``hedgestack.analytics.open``): daily PnL per VP (goal ≤ 0.5 s) and the equity
   curve of one VP (goal ≤ 0.5 s); the same two on a live DuckDB log holding the same rows.
3. Publication of the 10 M fills (goal ≤ 5 s): an EventLog whose ``events`` (fills with their projections),
   ``vp_changes`` and ``marks`` tables are loaded in bulk by SQL from the demo Parquet, then
   ``Publisher.publish()`` from nothing (all partitions of fills, vp_changes, marks and vp_eod; no orders,
   since the log has no intents). The vp_eod rollup is built once before (``live_rollup_first_build_s``), as
   the terminal keeps it up to date incrementally.

The equity curve reads the ``vp_equity`` rollup (each VP's equity at each mark sample, kept incrementally by
``EventLog.refresh_rollups``; published as its own dataset sorted by (vp_id, ts)). Its cost is reported apart:
``live_rollup_first_build_s`` builds vp_eod and vp_equity over the whole history at once (what a terminal
does once when it opens a log that has none, or demo-data does when it writes the dataset), and
``live_equity_refresh_one_sample_s`` is the steady state: one new mark sample per symbol (a minute of the demo's
marks), folded by the refresh the publisher or a live query makes.

Each timing is the median of ``--repeat`` runs after one warm-up. The machine has 2 cores and other work may
run at the same time: read the medians as such.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hedgestack.store import demo_data, metrics
from hedgestack.store.analytics import live, open_published
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import PUBLISHED_DIR, Publisher, manifest_files


def _median(fn: Callable[[], Any], repeat: int, *, warmup: bool = True) -> tuple[float, list[float]]:
    if warmup:
        fn()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return round(statistics.median(runs), 3), [round(r, 3) for r in runs]


def _files(published: Path, dataset: str) -> str:
    return "[" + ", ".join(f"'{p.as_posix()}'" for p in manifest_files(published / dataset)) + "]"


def _load_log(log: EventLog, published: Path) -> None:
    """Fill the log's tables in bulk from the demo Parquet: fills as events carrying their VP projection (as
    the published fills do), the other vp_history rows into vp_changes, and the marks. The vp_eod rollup is
    left empty (mark 0): the first refresh builds it."""
    log.execute(f"""
        INSERT INTO events (seq, ts, recv_ts, kind, dedupe_key, payload, symbol, trade_id, order_id,
                            client_order_id, vp_id, side, position_side, qty, price, commission, commission_asset,
                            exchange_rp, maker, booked_vp_id, vp_name, vp_net_qty, vp_avg_entry, vp_realized,
                            vp_realized_delta, vp_fees, vp_funding, vp_archived)
        SELECT seq, ts, ts, 'fill', 'fill:' || symbol || ':' || trade_id, NULL, symbol, trade_id, order_id,
               client_order_id, vp_id, side, position_side, qty, price, commission, commission_asset, exchange_rp,
               maker, CASE WHEN vp_net_qty IS NOT NULL THEN vp_id END, vp_name, vp_net_qty, vp_avg_entry,
               vp_realized, realized_pnl, vp_fees, vp_funding, vp_archived
        FROM read_parquet({_files(published, "fills")})""")
    log.execute(f"INSERT INTO vp_changes SELECT * EXCLUDE (date) FROM read_parquet({_files(published, 'vp_changes')}, "
                "hive_partitioning = true)")
    log.execute(f"INSERT INTO marks SELECT symbol, ts, mark FROM read_parquet({_files(published, 'marks')})")
    log.last_seq = int(log.execute("SELECT coalesce(max(seq), 0) FROM (SELECT seq FROM events UNION ALL "
                                   "SELECT seq FROM vp_changes)")[0][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=10_000_000)
    parser.add_argument("--data-dir", default=None, help="demo dataset to use or create (default: temporary)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    own = args.data_dir is None
    data = Path(tempfile.mkdtemp(prefix="hedgestack-analytics-")) if own else Path(args.data_dir)
    work = Path(tempfile.mkdtemp(prefix="hedgestack-publish-"))
    result: dict[str, Any] = {"fills": args.fills, "repeat": args.repeat, "cores_note":
                              "2 cores, shared with other work: medians"}
    try:
        if not (data / PUBLISHED_DIR / "vp_equity").exists():  # absent or an older layout: (re)generate
            started = time.perf_counter()
            demo_data.generate(data, fills=args.fills)
            result["demo_data_seconds"] = round(time.perf_counter() - started, 1)
        published = open_published(data)
        result["fills_in_dataset"] = int(published.sql("SELECT count(*) AS n FROM fills")["n"][0])
        vp = published.sql("SELECT vp_id FROM vp_history GROUP BY vp_id ORDER BY vp_id LIMIT 1")["vp_id"][0]
        result["published_daily_pnl_s"], result["published_daily_pnl_runs"] = _median(
            lambda: metrics.daily_pnl(published), args.repeat)
        result["published_equity_curve_one_vp_s"], result["published_equity_curve_runs"] = _median(
            lambda: metrics.equity_curve(published, vp=vp), args.repeat)
        result["equity_curve_rows"] = metrics.equity_curve(published, vp=vp).height

        log = EventLog(work / "hedgestack.duckdb", use_snapshots=False)
        _load_log(log, data / PUBLISHED_DIR)
        started = time.perf_counter()
        log.refresh_rollups()
        result["live_rollup_first_build_s"] = round(time.perf_counter() - started, 3)
        result["live_equity_rows"] = int(log.execute("SELECT count(*) FROM vp_equity")[0][0])
        last_mark = int(log.execute("SELECT max(ts) FROM marks")[0][0])
        step = iter(range(1, 1000))

        def one_more_sample() -> None:  # one new minute of marks for both symbols, then the refresh
            ts = last_mark + next(step) * 60_000
            log.execute("INSERT INTO marks SELECT symbol, ?, arg_max(mark, ts) FROM marks GROUP BY symbol", [ts])
            log.refresh_rollups()

        result["live_equity_refresh_one_sample_s"], result["live_equity_refresh_runs"] = _median(
            one_more_sample, args.repeat)
        analytics = live(log)
        result["live_daily_pnl_s"], _ = _median(lambda: metrics.daily_pnl(analytics), args.repeat)
        result["live_equity_curve_one_vp_s"], _ = _median(lambda: metrics.equity_curve(analytics, vp=vp),
                                                          args.repeat)

        def publish_from_scratch() -> None:
            shutil.rmtree(work / PUBLISHED_DIR, ignore_errors=True)
            Publisher(log, work).publish()

        result["publish_10m_fills_s"], result["publish_runs"] = _median(publish_from_scratch, args.repeat,
                                                                        warmup=False)
        log.close(snapshot=False)
        result["goals"] = {"daily_pnl_s": 0.5, "equity_curve_s": 0.5, "publish_s": 5.0}
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if own:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
