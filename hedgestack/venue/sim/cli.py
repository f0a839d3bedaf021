"""``hedgestack sim``: run the simulator standalone (the lead's cli.py calls these two functions).

Run on its own it starts a fresh account with a fresh identity unless ``--persist FILE`` names where to keep
them; it never reads the terminal's settings (``DB_PATH``, ``HEDGESTACK_DATA_DIR``, ``.env``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING

from hedgestack.domain.numbers import D
from hedgestack.venue.sim.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_SYMBOLS, SimConfig
from hedgestack.venue.sim.server import SimServer

if TYPE_CHECKING:
    import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``sim`` subcommand's options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9100, help="port (0 = a free one; default 9100)")
    parser.add_argument("--market", default="random",
                        help="random (default), static, or replay:PATH[,PATH] (Binance public data files as "
                             "downloaded: .zip/.csv of klines, markPriceKlines, trades, aggTrades, bookTicker, "
                             "fundingRate; a folder stands for the files in it)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random market")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed (x real time)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="accepted API key")
    parser.add_argument("--api-secret", default=DEFAULT_API_SECRET, help="its secret")
    parser.add_argument("--persist", default=None, metavar="FILE",
                        help="keep the account, its identity and its ids in FILE (SQLite) across restarts")
    parser.add_argument("--balance", default="10000", help="starting USDT balance")
    parser.add_argument("--leverage", type=int, default=20, help="initial leverage of every symbol")
    parser.add_argument("--listen-key-ttl", type=float, default=3600.0, help="listenKey lifetime in seconds")
    parser.add_argument("--book", choices=("auto", "on", "off"), default="auto",
                        help="order book: auto (random/replay yes, static no), on, off")
    parser.add_argument("--funding", choices=("auto", "schedule", "manual"), default="auto",
                        help="funding settlements: auto (on Binance's schedule except in the static market), "
                             "schedule, manual (control API only)")
    parser.add_argument("--funding-speed", type=float, default=1.0,
                        help="accelerate the funding clock (480 = every minute instead of every 8 hours)")
    parser.add_argument("--auto-funding", action="store_true", help="same as --funding schedule")
    parser.add_argument("--symbols", default=None,
                        help="comma-separated subset of the bundled contracts (default: all "
                             f"{len(DEFAULT_SYMBOLS)})")


def config_from_args(args: argparse.Namespace) -> SimConfig:
    symbols = DEFAULT_SYMBOLS
    if getattr(args, "symbols", None):
        wanted = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        known = {s.symbol: s for s in DEFAULT_SYMBOLS}
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise ValueError(f"unknown symbol(s) {', '.join(unknown)}; bundled: {', '.join(known)}")
        symbols = tuple(known[s] for s in wanted)
    return SimConfig(host=args.host, port=args.port, market=args.market, seed=args.seed,
                     replay_speed=args.speed, api_key=args.api_key, api_secret=args.api_secret,
                     persist=args.persist, starting_balance=D(args.balance), leverage=args.leverage,
                     listen_key_ttl=args.listen_key_ttl, auto_funding=args.auto_funding,
                     book=getattr(args, "book", "auto"), funding=getattr(args, "funding", "auto"),
                     funding_speed=getattr(args, "funding_speed", 1.0), symbols=symbols)


async def _serve(config: SimConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SimServer(config) as sim:
        print(f"hedgestack sim: {sim.url} (REST {sim.url}/fapi, WS {sim.ws_url}, control {sim.url}/sim/v1), "  # noqa: T201
              f"market {config.market}, api key {config.api_key}", flush=True)
        where = config.persist or "memory only (a fresh account each run)"
        print(f"hedgestack sim: identity {sim.identity.id} created {sim.identity.created_at}, state {where}",  # noqa: T201
              flush=True)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    """Run until interrupted; return the exit status."""
    try:
        config = config_from_args(args)
        asyncio.run(_serve(config))
    except (ValueError, OSError) as exc:
        print(f"hedgestack sim: {exc}", flush=True)  # noqa: T201
        return 2
    return 0
