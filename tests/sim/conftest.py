"""Fixtures: a simulator on a free loopback port (static market), python-binance clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from binance.client import Client
from simkit import Control, make_client

from hedgestack.venue.sim import SimConfig, SimServer


@pytest.fixture(scope="module")
def sim_server() -> Iterator[SimServer]:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=7, listen_key_ttl=3600))
    yield sim
    sim.stop()


@pytest.fixture
def sim(sim_server: SimServer) -> SimServer:
    """The module's simulator, reset to a fresh account at static prices BTC 95000 / ETH 3500."""
    ctl = Control(sim_server.url)
    ctl.post("/reset")
    for symbol in ("BTCUSDT", "ETHUSDT"):
        ctl.post("/book", {"symbol": symbol, "enabled": False})
    ctl.price("BTCUSDT", "95000")
    ctl.price("ETHUSDT", "3500")
    ctl.post("/liquidity", {"symbol": "BTCUSDT", "max_fill_qty": None})
    return sim_server


@pytest.fixture
def control(sim: SimServer) -> Control:
    return Control(sim.url)


@pytest.fixture
def client(sim: SimServer) -> Client:
    return make_client(sim)
