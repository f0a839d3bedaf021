"""The soak's exchange: ``python -m hedgestack.soak.simproc OUT_DIR SEED``.

A simulator in a process of its own (as the exchange is), on the ``random`` market, with a liquidity cap so
orders fill in several pieces, and a :class:`~hedgestack.bench.frame_clock.FrameClock` recording when each
trade's frame leaves. It prints its URL, appends ``[tradeId, ns]`` pairs to ``OUT_DIR/frames.jsonl`` every
second, and stops on ``stop`` (or end of input) on stdin, after a last flush.
"""

from __future__ import annotations

import json
import sys
import threading
from decimal import Decimal
from pathlib import Path

from hedgestack.bench.frame_clock import FrameClock
from hedgestack.soak.trader import SIZES
from hedgestack.venue.sim import SimConfig, SimServer

#: The random walk's yearly volatility: high, so that TP/SL levels a few tenths of a percent away trigger
#: within minutes, as they would on a busy day.
VOLATILITY = 3.0


def _flush(clock: FrameClock, path: Path) -> None:
    taken = clock.take()
    if taken:
        with path.open("a") as handle:
            handle.write("".join(json.dumps([k, v]) + "\n" for k, v in taken.items()))


def main(out_dir: str, seed: str) -> None:
    clock = FrameClock().install()
    path = Path(out_dir) / "frames.jsonl"
    config = SimConfig(market="random", seed=int(seed), volatility=VOLATILITY,
                       starting_balance=Decimal(10_000_000),
                       liquidity={symbol: piece for symbol, (_, _, piece, _) in SIZES.items()})
    sim = SimServer.start_in_thread(config)
    done = threading.Event()

    def flusher() -> None:
        while not done.wait(1.0):
            _flush(clock, path)

    thread = threading.Thread(target=flusher, daemon=True)
    thread.start()
    sys.stdout.write(sim.url + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    done.set()
    thread.join()
    _flush(clock, path)
    sim.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
