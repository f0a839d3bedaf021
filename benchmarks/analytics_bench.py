"""Analytics benchmarks over 10 M demo fills (not timed tests): prints one JSON object, medians of ``--repeat``.

    .venv/bin/python benchmarks/analytics_bench.py [--fills 10000000] [--data-dir DIR] [--repeat 3]
        [--baseline CHECKOUT --baseline-data-dir DIR2]

1. A demo dataset of ``--fills`` fills (``hedgestack demo-data``; reused when ``--data-dir`` already holds one in
   this code's layout).
2. On the published Parquet (``hedgestack.analytics.open``): daily PnL per VP (goal <= 0.3 s), the equity curve
   of one VP (goal <= 0.3 s), the per-VP report; the same reads on a live DuckDB log holding the same rows.
3. Publication of the whole history from nothing (goal <= 15 s): a DuckDB file with the log's schema whose
   ``events`` (fills with their projections), ``vp_changes`` and ``marks`` tables are loaded in bulk by SQL from
   the demo Parquet, its rollups built once (``live_rollup_first_build_s``, what a terminal does once for a log
   that has none), then ``Publisher.publish()`` into an empty directory (every dataset; no orders, since the log
   has no intents). ``live_equity_refresh_one_sample_s`` is the steady state of the equity rollup: one new mark
   sample per symbol folded by a refresh.

``--baseline CHECKOUT`` also runs the benchmark of another checkout of hedgestack (its own
``benchmarks/analytics_bench.py``, with ``PYTHONPATH=CHECKOUT``, on ``--baseline-data-dir``, a demo dataset in
that code's layout) in the same command, before this code's, and prints both with the ratios
``baseline / current``. The machine has 2 cores and other work may run at the same time: read the medians as
such.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hedgestack.store import demo_data, metrics
from hedgestack.store.analytics import live, open_published
from hedgestack.store.layout import PUBLISHED_DIR, manifest_files
from hedgestack.store.publish import Publisher
from hedgestack.store.stored import StoredLog

GOALS = {"published_daily_pnl_s": 0.3, "published_equity_curve_one_vp_s": 0.3, "publish_10m_fills_s": 15.0}


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


def load(log: StoredLog, published: Path) -> None:
    """Fill a log's tables in bulk from the demo Parquet (not appended event by event): fills as events carrying
    their VP projection (as the published fills do), the other vp_history rows into vp_changes, and the marks.
    The rollups are left empty: the first refresh builds them."""
    log.db.execute(f"""
        INSERT INTO events (seq, ts, recv_ts, kind, dedupe_key, payload, symbol, trade_id, order_id,
                            client_order_id, vp_id, side, position_side, qty, price, commission,
                            commission_asset, exchange_rp, maker, booked_vp_id, vp_name, vp_net_qty,
                            vp_avg_entry, vp_realized, vp_realized_delta, vp_fees, vp_funding, vp_archived)
        SELECT seq, ts, ts, 'fill', 'fill:' || symbol || ':' || trade_id, NULL, symbol, trade_id, order_id,
               client_order_id, vp_id, side, position_side, qty, price, commission, commission_asset,
               exchange_rp, maker, CASE WHEN vp_net_qty IS NOT NULL THEN vp_id END, vp_name, vp_net_qty,
               vp_avg_entry, vp_realized, realized_pnl, vp_fees, vp_funding, vp_archived
        FROM read_parquet({_files(published, "fills")}, union_by_name = true) ORDER BY seq""")
    log.db.execute(f"INSERT INTO vp_changes SELECT seq, ts, vp_id, name, symbol, position_side, event_kind, net_qty, "
                   f"avg_entry, realized_pnl, realized_delta, fees, funding, archived "
                   f"FROM read_parquet({_files(published, 'vp_changes')}, union_by_name = true) ORDER BY seq")
    log.db.execute(f"INSERT INTO marks SELECT symbol, ts, mark FROM read_parquet({_files(published, 'marks')}, "
                   "union_by_name = true) ORDER BY ts, symbol")
    log.reread()


def measure(fills: int, data: Path, repeat: int, publish_repeat: int) -> dict[str, Any]:
    """This code's figures (the JSON object the benchmark prints without ``--baseline``)."""
    work = Path(tempfile.mkdtemp(prefix="hedgestack-publish-"))
    result: dict[str, Any] = {"fills": fills, "repeat": repeat, "code": str(Path(__file__).resolve().parents[1])}
    try:
        if not (data / PUBLISHED_DIR / "marks_eod").exists():  # absent or an older layout: (re)generate
            started = time.perf_counter()
            demo_data.generate(data, fills=fills)
            result["demo_data_seconds"] = round(time.perf_counter() - started, 1)
        published = open_published(data)
        result["fills_in_dataset"] = int(published.sql("SELECT count(*) AS n FROM fills")["n"][0])
        vp = published.sql("SELECT vp_id FROM vp_eod_current GROUP BY vp_id ORDER BY vp_id LIMIT 1")["vp_id"][0]
        result["published_daily_pnl_s"], result["published_daily_pnl_runs"] = _median(
            lambda: metrics.daily_pnl(published), repeat)
        result["published_equity_curve_one_vp_s"], result["published_equity_curve_runs"] = _median(
            lambda: metrics.equity_curve(published, vp=vp), repeat)
        result["equity_curve_rows"] = metrics.equity_curve(published, vp=vp).height
        result["published_report_s"], _ = _median(lambda: metrics.report(published), max(1, repeat // 2))

        log = StoredLog(work / "hedgestack.duckdb")
        load(log, data / PUBLISHED_DIR)
        started = time.perf_counter()
        log.refresh_rollups()
        result["live_rollup_first_build_s"] = round(time.perf_counter() - started, 3)
        result["live_equity_rows"] = int(log.execute("SELECT count(*) FROM vp_equity")[0][0])
        analytics = live(log)  # type: ignore[arg-type]  # a StoredLog reads like an EventLog
        result["live_daily_pnl_s"], _ = _median(lambda: metrics.daily_pnl(analytics), repeat)
        result["live_equity_curve_one_vp_s"], _ = _median(lambda: metrics.equity_curve(analytics, vp=vp), repeat)

        def publish_from_scratch() -> None:
            shutil.rmtree(work / PUBLISHED_DIR, ignore_errors=True)
            Publisher(log, work).publish()

        result["publish_10m_fills_s"], result["publish_runs"] = _median(publish_from_scratch, publish_repeat,
                                                                        warmup=False)
        result["published_bytes"] = sum(f.stat().st_size for f in (work / PUBLISHED_DIR).rglob("*.parquet"))
        last_mark = int(log.execute("SELECT max(ts) FROM marks")[0][0])
        step = iter(range(1, 1000))

        def one_more_sample() -> None:  # one new minute of marks for both symbols, then the refresh
            ts = last_mark + next(step) * 60_000
            log.execute("INSERT INTO marks SELECT symbol, ?, arg_max(mark, ts) FROM marks GROUP BY symbol", [ts])
            log.refresh_rollups()

        result["live_equity_refresh_one_sample_s"], _ = _median(one_more_sample, repeat)
        log.close()
        result["goals"] = GOALS
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def baseline(checkout: Path, fills: int, data: Path, repeat: int) -> dict[str, Any]:
    """The benchmark of another checkout, run by its own script with its own code on the path."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, str(checkout / "benchmarks" / "analytics_bench.py"), "--fills", str(fills),
                          "--data-dir", str(data), "--repeat", str(repeat)], cwd=checkout, env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=10_000_000)
    parser.add_argument("--data-dir", default=None, help="demo dataset to use or create (default: temporary)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--publish-repeat", type=int, default=None, help="publications timed (default: --repeat)")
    parser.add_argument("--baseline", default=None, help="another checkout of hedgestack to measure first")
    parser.add_argument("--baseline-data-dir", default=None, help="its demo dataset (in its own layout)")
    args = parser.parse_args()
    own = args.data_dir is None
    data = Path(tempfile.mkdtemp(prefix="hedgestack-analytics-")) if own else Path(args.data_dir)
    try:
        before = None
        if args.baseline:
            if not args.baseline_data_dir:
                parser.error("--baseline needs --baseline-data-dir (a demo dataset in the baseline's layout)")
            before = baseline(Path(args.baseline).resolve(), args.fills, Path(args.baseline_data_dir), args.repeat)
            print(json.dumps({"baseline": before}), file=sys.stderr, flush=True)  # noqa: T201 - kept if this fails
        now = measure(args.fills, data, args.repeat, args.publish_repeat or args.repeat)
        if before is None:
            print(json.dumps(now))  # noqa: T201
            return
        ratios = {key: round(before[key] / now[key], 2) for key in now
                  if key.endswith("_s") and isinstance(before.get(key), float) and now[key]}
        print(json.dumps({"baseline": before, "current": now, "baseline_over_current": ratios}))  # noqa: T201
    finally:
        if own:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
