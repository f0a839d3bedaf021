"""Independent Binance clients against the simulator, each changed only in its URLs and its key.

The simulators here run the random market (a real book, trades, candles), so the clients see what they would
see on Binance; the figures asserted are relations that must hold (best bid below best ask, a position's
liquidation price where the margin runs out), not the seeded prices themselves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hedgestack.venue.sim import SimConfig, SimServer


@pytest.fixture(scope="package")
def market_sim() -> Iterator[SimServer]:
    """A random market shared by the read-only conformance tests (it has traded for a moment first)."""
    sim = SimServer.start_in_thread(SimConfig(market="random", seed=20, tick_interval=0.05))
    deadline = time.monotonic() + 10
    while len(sim.history("BTCUSDT").trades) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    yield sim
    sim.stop()


@pytest.fixture
def trading_sim() -> Iterator[SimServer]:
    """A fresh random market and account for one trading test."""
    sim = SimServer.start_in_thread(SimConfig(market="random", seed=21, tick_interval=0.1))
    yield sim
    sim.stop()
