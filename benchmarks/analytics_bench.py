"""Analytics benchmarks over 10 M fills (not timed tests): prints one JSON object with medians of 3.

    .venv/bin/python benchmarks/analytics_bench.py [--fills 10000000] [--data-dir DIR] [--repeat 3]

1. A demo dataset of ``--fills`` fills (``hedgestack demo-data``; reused when ``--data-dir`` already holds one).
2. On the published Parquet (``hedgestack.analytics.open``): daily PnL per VP (goal ≤ 0.5 s) and the equity
   curve of one VP (goal ≤ 0.5 s); the same two on a live DuckDB log holding the same rows.
3. Publication of the 10 M fills (goal ≤ 5 s): an EventLog whose ``events`` (fills), ``vp_history`` and
   ``marks`` tables are loaded in bulk by SQL from the demo Parquet, then ``Publisher.publish()`` from
   nothing (all partitions of fills, vp_history, marks; no orders, since the log has no intents).

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
    """Fill the log's tables in bulk from the demo Parquet: fills as events carrying their VP projection (the
    demo's vp_history rows of kind fill), other vp_history rows into vp_changes, and the marks."""
    log.execute(f"""
        INSERT INTO events (seq, ts, recv_ts, kind, dedupe_key, payload, symbol, trade_id, order_id,
                            client_order_id, vp_id, side, position_side, qty, price, commission, commission_asset,
                            exchange_rp, maker, booked_vp_id, vp_name, vp_net_qty, vp_avg_entry, vp_realized,
                            vp_realized_delta, vp_fees, vp_funding, vp_archived)
        SELECT f.seq, f.ts, f.ts, 'fill', 'fill:' || f.symbol || ':' || f.trade_id, NULL, f.symbol, f.trade_id,
               f.order_id, f.client_order_id, f.vp_id, f.side, f.position_side, CAST(f.qty AS VARCHAR),
               CAST(f.price AS VARCHAR), CAST(f.commission AS VARCHAR), f.commission_asset,
               CAST(f.exchange_rp AS VARCHAR), f.maker, h.vp_id, h.name, h.net_qty, h.avg_entry, h.realized_pnl,
               h.realized_delta, h.fees, h.funding, h.archived
        FROM read_parquet({_files(published, "fills")}) f
        LEFT JOIN (SELECT * FROM read_parquet({_files(published, "vp_history")}) WHERE event_kind = 'fill') h
          ON h.seq = f.seq""")
    log.execute(f"""
        INSERT INTO vp_changes SELECT seq, ts, vp_id, name, symbol, position_side, event_kind, net_qty, avg_entry,
               realized_pnl, realized_delta, fees, funding, archived
        FROM read_parquet({_files(published, "vp_history")}) WHERE event_kind <> 'fill'""")
    log.execute(f"INSERT INTO marks SELECT symbol, ts, mark FROM read_parquet({_files(published, 'marks')})")


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
        if not (data / PUBLISHED_DIR / "fills").exists():
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
        analytics = live(log)
        result["live_daily_pnl_s"], _ = _median(lambda: metrics.daily_pnl(analytics), args.repeat)
        result["live_equity_curve_one_vp_s"], _ = _median(lambda: metrics.equity_curve(analytics, vp=vp),
                                                          args.repeat)

        def publish_from_scratch() -> None:
            shutil.rmtree(work / PUBLISHED_DIR, ignore_errors=True)
            log.execute("DELETE FROM meta WHERE key LIKE 'published:%'")
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
