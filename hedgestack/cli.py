"""The ``hedgestack`` command: ``sim``, ``bench ledger``, ``bench replay``, ``quickstart``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from rich.console import Console


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

    result = replay.run(args.fills, data_dir=args.data_dir, repeat=args.repeat)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        console = Console()
        console.print(f"{result['fills']:,} fills: cold open (snapshot + tail) "
                      f"[bold]{result['open_with_snapshot_seconds_median']:.3f} s[/bold], replay from zero "
                      f"[bold]{result['replay_from_zero_seconds_median']:.3f} s[/bold] (medians of "
                      f"{args.repeat}); state identical to the fold that built it")
    return 0


def _sim(args: argparse.Namespace) -> int:
    from hedgestack.venue.sim import cli as sim_cli

    return sim_cli.run(args)


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
    quick.set_defaults(func=_quickstart)

    bench = commands.add_parser("bench", help="benchmarks").add_subparsers(dest="bench", required=True)
    ledger = bench.add_parser("ledger", help="fills/s of the domain ledger on a Parquet fill stream")
    ledger.add_argument("--input", required=True, help="Parquet: ts, vp, symbol, side, position_side, qty, price, fee")
    ledger.add_argument("--json", action="store_true", help="print one JSON object")
    ledger.set_defaults(func=_bench_ledger)
    replay = bench.add_parser("replay", help="build an N-fill log and time a cold replay")
    replay.add_argument("--fills", type=int, default=1_000_000)
    replay.add_argument("--repeat", type=int, default=3)
    replay.add_argument("--data-dir", default=None, help="keep the log here (default: a temporary directory)")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(func=_bench_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
