"""Fixtures for the venue tests: a simulator (static market, as the engine tests use it) and its control API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hedgestack.venue.sim import SimConfig, SimServer
from tests.support.simctl import Control


def fresh(sim: SimServer) -> Control:
    """A fresh account on ``sim`` at BTC 95000 / ETH 3500, unlimited liquidity, no fault pending."""
    ctl = Control(sim.url)
    ctl.post("/reset")
    ctl.price("BTCUSDT", "95000")
    ctl.price("ETHUSDT", "3500")
    for symbol in ("BTCUSDT", "ETHUSDT"):
        ctl.post("/liquidity", {"symbol": symbol, "max_fill_qty": None})
    return ctl


@pytest.fixture(scope="module")
def sim_server() -> Iterator[SimServer]:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=11))
    yield sim
    sim.stop()


@pytest.fixture
def control(sim_server: SimServer) -> Control:
    return fresh(sim_server)
