"""``hedgestack sim``: run the simulator standalone (the lead's cli.py calls these two functions)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from hedgestack.domain.numbers import D
from hedgestack.venue.sim.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimConfig
from hedgestack.venue.sim.server import SimServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``sim`` subcommand's options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9100, help="port (0 = a free one; default 9100)")
    parser.add_argument("--market", default="random",
                        help="random (default), static, or replay:PATH[,PATH] (klines/aggTrades CSV or Parquet)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random market")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed (x real time)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="accepted API key")
    parser.add_argument("--api-secret", default=DEFAULT_API_SECRET, help="its secret")
    parser.add_argument("--persist", default=None, metavar="FILE", help="keep the account state in FILE")
    parser.add_argument("--balance", default="10000", help="starting USDT balance")
    parser.add_argument("--leverage", type=int, default=20, help="cross leverage")
    parser.add_argument("--listen-key-ttl", type=float, default=3600.0, help="listenKey lifetime in seconds")
    parser.add_argument("--auto-funding", action="store_true", help="settle funding at each nextFundingTime")


def config_from_args(args: argparse.Namespace) -> SimConfig:
    return SimConfig(host=args.host, port=args.port, market=args.market, seed=args.seed,
                     replay_speed=args.speed, api_key=args.api_key, api_secret=args.api_secret,
                     persist=args.persist, starting_balance=D(args.balance), leverage=args.leverage,
                     listen_key_ttl=args.listen_key_ttl, auto_funding=args.auto_funding)


async def _serve(config: SimConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SimServer(config) as sim:
        print(f"hedgestack sim: {sim.url} (REST {sim.url}/fapi, WS {sim.ws_url}, control {sim.url}/sim/v1), "  # noqa: T201
              f"market {config.market}, api key {config.api_key}", flush=True)
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
