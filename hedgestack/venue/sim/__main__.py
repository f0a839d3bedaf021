"""``python -m hedgestack.venue.sim`` = ``hedgestack sim``."""

from __future__ import annotations

import argparse
import sys

from hedgestack.venue.sim.cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hedgestack sim", description="Simulated Binance USDT-M Futures")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
