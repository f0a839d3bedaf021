"""Fixtures for end-to-end engine tests: a simulator (static market) and a Terminal attached to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hedgestack.engine.terminal import Terminal
from hedgestack.store.eventlog import EventLog
from hedgestack.venue.sim import SimConfig, SimServer
from tests.support.simctl import Control, wait_until


@pytest.fixture(scope="module")
def sim_server() -> Iterator[SimServer]:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=11))
    yield sim
    sim.stop()


@pytest.fixture
def control(sim_server: SimServer) -> Control:
    ctl = Control(sim_server.url)
    ctl.post("/reset")
    ctl.price("BTCUSDT", "95000")
    ctl.price("ETHUSDT", "3500")
    for symbol in ("BTCUSDT", "ETHUSDT"):
        ctl.post("/liquidity", {"symbol": symbol, "max_fill_qty": None})
    return ctl


def make_terminal(sim_server: SimServer, data_dir: Path) -> Terminal:
    return Terminal.sim(data_dir, sim_url=sim_server.url, poll_interval=0.3, mismatch_grace=0.5,
                        publish_interval=0.5, check_invariants_live=True)


@pytest.fixture
def terminal(sim_server: SimServer, control: Control, tmp_path: Path) -> Iterator[Terminal]:
    t = make_terminal(sim_server, tmp_path).start_sync()
    yield t
    t.stop_sync()


def settle(t: Terminal, control: Control, timeout: float = 10.0) -> None:
    """Wait until every exchange trade is in the ledger and TP/SL work is done."""
    def done() -> bool:
        trades = control.account()["trades"]
        ledger_trades = t.run_sync(_count(t))
        return ledger_trades == len(trades) and t.tpsl.idle()

    wait_until(done, timeout)
    t.sync.wait_idle(timeout=max(timeout, 20.0))  # an order a killed process left PENDING needs ~11 s


async def _count(t: Terminal) -> int:
    return t.ledger.trade_count


def assert_consistent(t: Terminal, control: Control, *, expect_sides_equal: bool = True) -> None:
    """After a scenario: invariants 1–5 hold, the state equals a fresh replay and the simulator's truth."""
    settle(t, control)
    truth = control.account()

    report = t.sync.audit(truth, check_sides=expect_sides_equal)
    equal = t.sync.replay_equal()
    assert report.ok, report.as_dict()
    assert report.logged == report.trades == len(truth["trades"])
    assert equal, "ledger differs from a fresh replay of the log"


def reopen(path: Path) -> EventLog:
    return EventLog(path)
