"""The ``hedgestack`` command: ``serve``, ``status``, ``sim``, ``quickstart``, ``rebuild``, ``demo-data``, ``export``,
``soak`` and ``bench ledger|replay|latency|rss``."""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import sys
import time
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from collections.abc import Sequence


def _bench_ledger(args: argparse.Namespace) -> int:
    from hedgestack.bench import ledger

    result = ledger.run(ledger.load(args.input))
    if args.json:
        Console(highlight=False).print_json(json.dumps(result)) if sys.stdout.isatty() else \
            sys.stdout.write(json.dumps(result) + "\n")
    else:
        console = Console()
        console.print(f"{result['fills']:,} fills in {result['seconds']:.3f} s: "
                      f"[bold]{result['fills_per_s']:,.0f} fills/s[/bold]")
    return 0


def _bench_replay(args: argparse.Namespace) -> int:
    from hedgestack.bench import replay

    result = replay.run(args.fills, data_dir=args.data_dir, repeat=args.repeat, show_progress=args.progress,
                        baseline=args.baseline)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        console = Console()
        console.print(f"{result['fills']:,} fills: cold open (snapshot + tail) "
                      f"[bold]{result['open_with_snapshot_seconds_median']:.3f} s[/bold], replay from zero "
                      f"[bold]{result['replay_from_zero_seconds_median']:.3f} s[/bold] (medians of "
                      f"{args.repeat}); state identical to the fold that built it")
        if "baseline" in result:
            before = result["baseline"]
            console.print(f"baseline ({args.baseline}): cold open {before['open_with_snapshot_seconds_median']:.3f} s,"
                          f" replay from zero {before['replay_from_zero_seconds_median']:.3f} s")
    return 0


def _bench_latency(args: argparse.Namespace) -> int:
    from hedgestack.bench import latency

    result = latency.run(args.rate, args.seconds)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        Console().print(f"{result['measured']} fills at {result['achieved_rate']}/s: fill → bus p50 "
                        f"{result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms")
    return 0


def _soak(args: argparse.Namespace) -> int:
    from hedgestack.soak import run as soak

    report = soak.run(args.minutes, args.rate, faults=args.faults == "on", seed=args.seed, data_dir=args.data_dir,
                      out_dir=args.out_dir, progress=sys.stderr.isatty())
    text = json.dumps(report, indent=2)
    if args.report:
        with open(args.report, "w") as handle:
            handle.write(text + "\n")
    sys.stdout.write(text + "\n")
    return 0 if report["ok"] else 1


def _bench_rss(args: argparse.Namespace) -> int:
    from hedgestack.bench import rss

    result = rss.run(args.fills, data_dir=args.data_dir)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        first, second = result["first_start"], result["second_start"]
        Console().print(f"{result['fills']:,} fills in the log: terminal RSS [bold]{first['rss_mb']} MB[/bold] "
                        f"(first start, publishing the history; peak {first['peak_rss_mb']} MB, live in "
                        f"{first['seconds_to_live']} s), [bold]{second['rss_mb']} MB[/bold] (second start; peak "
                        f"{second['peak_rss_mb']} MB, live in {second['seconds_to_live']} s)")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from hedgestack.domain.errors import HedgestackError
    from hedgestack.engine.config import Settings
    from hedgestack.engine.rebuild import RebuildReport, rebuild
    from hedgestack.venue.binance.adapter import BinanceVenue, Endpoints
    from hedgestack.venue.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET

    settings = Settings()
    # --data-dir wins over DB_PATH / HEDGESTACK_DATA_DIR
    db_file = Path(args.data_dir) / "hedgestack.duckdb" if args.data_dir else settings.db_file
    if args.sim_url:
        venue = BinanceVenue(Endpoints.sim(args.sim_url, DEFAULT_API_KEY, DEFAULT_API_SECRET))
    elif settings.binance_api_key is not None and settings.binance_api_secret is not None:
        key, secret = settings.binance_api_key.get_secret_value(), settings.binance_api_secret.get_secret_value()
        endpoints = Endpoints.testnet(key, secret) if settings.binance_testnet else Endpoints.live(key, secret)
        venue = BinanceVenue(endpoints)
    else:
        sys.stderr.write("hedgestack rebuild: needs an exchange with history: give --sim-url or set "
                         "BINANCE_API_KEY/SECRET\n")
        return 2

    async def go() -> RebuildReport:
        await venue.start()
        try:
            return await rebuild(venue, list(settings.symbols), db_file, _when(args.since),
                                 _when(args.until) if args.until else int(time.time() * 1000))
        finally:
            await venue.close()

    try:
        report = asyncio.run(go())
    except HedgestackError as exc:
        sys.stderr.write(f"hedgestack rebuild: {exc.message}\n")
        return 2
    console = Console()
    console.print(f"rebuilt {db_file}: {report.vps} VPs, {report.orders} orders, {report.fills} fills "
                  f"({report.foreign_fills} foreign), {report.funding} funding settlements")
    for side in report.sides:
        console.print(side.line(), markup=False)
    for anomaly in report.anomalies:
        console.print(f"anomaly: {anomaly}", markup=False)
    return 0 if report.ok else 1


def _when(text: str) -> int:
    if text.isdigit():
        return int(text)
    moment = datetime.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1000)


def _sim(args: argparse.Namespace) -> int:
    from hedgestack.venue.sim import cli as sim_cli

    return sim_cli.run(args)


def _status(args: argparse.Namespace) -> int:
    from hedgestack.serve import status

    return status(args)


def _quickstart(args: argparse.Namespace) -> int:
    from hedgestack.quickstart import main as quickstart

    return quickstart(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hedgestack", description="Virtual positions on Binance USDT-M "
                                     "Futures Hedge Mode.")
    commands = parser.add_subparsers(dest="command", required=True)

    sim = commands.add_parser("sim", help="run the simulated Binance USDT-M exchange")
    try:
        from hedgestack.venue.sim import cli as sim_cli

        sim_cli.add_arguments(sim)
    except ImportError:  # pragma: no cover - only while the simulator is absent
        pass
    sim.set_defaults(func=_sim)

    quick = commands.add_parser("quickstart", help="trade two VPs on the embedded simulator and print them")
    quick.add_argument("--data-dir", default="./data", help="where the event log lives (default ./data)")
    quick.add_argument("--seed", type=int, default=None, help="seed of the simulator's random market")
    quick.set_defaults(func=_quickstart)

    rebuild = commands.add_parser("rebuild", help="rebuild the event log from the exchange's own history")
    rebuild.add_argument("--since", required=True, help="YYYY-MM-DD (UTC) or Unix ms")
    rebuild.add_argument("--until", default=None, help="YYYY-MM-DD (UTC) or Unix ms (default: now)")
    rebuild.add_argument("--data-dir", default=None, help="where the new log is written (must not hold one; default "
                         "DB_PATH, else HEDGESTACK_DATA_DIR, else ./data)")
    rebuild.add_argument("--sim-url", default=None, help="rebuild from a running simulator at this URL")
    rebuild.set_defaults(func=_rebuild)

    for name, module, text in (("demo-data", "hedgestack.store.demo_data", "write a synthetic fill history"),
                               ("export", "hedgestack.store.export", "export the published fill history"),
                               ("serve", "hedgestack.serve", "the engine, REST API, events and dashboard on one "
                                "address")):
        try:
            mod = importlib.import_module(module)
        except ImportError:  # pragma: no cover - an optional part not installed
            continue
        sub = commands.add_parser(name, help=text)
        mod.add_arguments(sub)
        sub.set_defaults(func=mod.run)

    status = commands.add_parser("status", help="the health of a running `hedgestack serve` (exit 0 when live)")
    status.add_argument("--url", default=None, help="its address (default http://127.0.0.1:PORT, PORT 3001)")
    status.add_argument("--json", action="store_true", help="print /v1/health as JSON")
    status.set_defaults(func=_status)

    soak = commands.add_parser("soak", help="the terminal against the simulator under a scripted trader, "
                               "with faults and a SIGKILL; prints a JSON report (exit 1 if a check failed)")
    soak.add_argument("--minutes", type=float, required=True, help="how long to trade (0.5 = 30 s)")
    soak.add_argument("--rate", type=float, default=100.0, help="target fills per second (default 100)")
    soak.add_argument("--faults", choices=("on", "off"), default="on",
                      help="inject every fault kind at random, and one SIGKILL + restart (default on)")
    soak.add_argument("--seed", type=int, default=None, help="seed of the market, the trader and the faults")
    soak.add_argument("--data-dir", default=None, help="the terminal's data directory (default: a new one)")
    soak.add_argument("--out-dir", default=None, help="logs and raw figures (default: a temporary directory)")
    soak.add_argument("--report", default=None, metavar="FILE", help="also write the JSON report here")
    soak.set_defaults(func=_soak)

    bench = commands.add_parser("bench", help="benchmarks").add_subparsers(dest="bench", required=True)
    ledger = bench.add_parser("ledger", help="fills/s of the domain ledger on a Parquet fill stream")
    ledger.add_argument("--input", required=True, help="Parquet: ts, vp, symbol, side, position_side, qty, price, fee")
    ledger.add_argument("--json", action="store_true", help="print one JSON object")
    ledger.set_defaults(func=_bench_ledger)
    replay = bench.add_parser("replay", help="build an N-fill log and time a cold replay")
    replay.add_argument("--fills", type=int, default=1_000_000)
    replay.add_argument("--repeat", type=int, default=3)
    replay.add_argument("--data-dir", default=None, help="keep the log here (default: a temporary directory)")
    replay.add_argument("--baseline", default=None, metavar="CHECKOUT",
                        help="first run the same benchmark of another checkout of hedgestack, side by side")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(func=_bench_replay)
    latency = bench.add_parser("latency", help="fill frame leaving the simulator → VIRTUAL_POSITION_UPDATE")
    latency.add_argument("--rate", type=float, default=100.0, help="fills per second")
    latency.add_argument("--seconds", type=float, default=10.0)
    latency.add_argument("--json", action="store_true")
    latency.set_defaults(func=_bench_latency)
    rss = bench.add_parser("rss", help="the terminal's memory with an N-fill event log")
    rss.add_argument("--fills", type=int, default=1_000_000)
    rss.add_argument("--data-dir", default=None, help="build (or reuse) the log here (default: a new directory)")
    rss.add_argument("--json", action="store_true")
    rss.set_defaults(func=_bench_rss)
    return parser


def progress_wanted(args: argparse.Namespace) -> bool | None:
    """Whether a command shows progress bars: never under ``--json`` or when stdout is not a terminal (a bar
    must not mix into output a program reads); else as :mod:`hedgestack.progress` decides (stderr a terminal,
    not in CI)."""
    return False if getattr(args, "json", False) or not sys.stdout.isatty() else None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.progress = progress_wanted(args)  # read by the commands that show bars
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
