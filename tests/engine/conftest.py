"""Fixtures for end-to-end engine tests: a simulator (static market) and a Terminal attached to it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.ids import OurOrderId, parse_client_order_id, unassigned_vp_id
from hedgestack.domain.invariants import check_invariants
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


def truth_sides(control: Control) -> dict[tuple[str, PositionSide], Decimal]:
    sides: dict[tuple[str, PositionSide], Decimal] = {}
    for p in control.account()["positions"]:
        if p["positionSide"] in ("LONG", "SHORT"):
            sides[(p["symbol"], PositionSide(p["positionSide"]))] = abs(Decimal(p["positionAmt"]))
    return sides


def settle(t: Terminal, control: Control, timeout: float = 10.0) -> None:
    """Wait until every exchange trade is in the ledger and TP/SL work is done."""
    def done() -> bool:
        trades = control.account()["trades"]
        ledger_trades = t.run_sync(_count(t))
        return ledger_trades == len(trades) and t.tpsl.idle()

    wait_until(done, timeout)
    t.sync.wait_idle()


async def _count(t: Terminal) -> int:
    return t.ledger.trade_count


def assert_consistent(t: Terminal, control: Control, *, expect_sides_equal: bool = True) -> None:
    """After a scenario: invariants hold, the state equals a fresh replay and the simulator's truth."""
    settle(t, control)
    truth = control.account()
    exchange = truth_sides(control)

    async def check() -> tuple[list[str], bool]:
        problems = check_invariants(t.ledger, exchange if expect_sides_equal else None)
        return problems, t._store().replay(from_zero=True) == t.ledger

    problems, equal = t.run_sync(check())
    assert problems == [], problems
    assert equal, "ledger differs from a fresh replay of the log"
    # every exchange trade is in the log exactly once, attributed to the VP its clientOrderId names
    fills = t.fills()
    assert fills["trade_id"].n_unique() == fills.height == len(truth["trades"])
    by_trade = {row["trade_id"]: row for row in fills.iter_rows(named=True)}
    for trade in truth["trades"]:
        row = by_trade[trade["id"]]
        parsed = parse_client_order_id(trade["clientOrderId"])
        child_of = t.ledger.order_for_exchange_id(trade["orderId"])  # an algo child under its own id
        if isinstance(parsed, OurOrderId):
            assert row["vp_id"][3:9] == parsed.vp_short_id, trade
        elif child_of is not None:
            assert row["vp_id"] == child_of.vp_id, trade
        else:
            assert row["vp_id"] == unassigned_vp_id(trade["symbol"], PositionSide(trade["positionSide"])), trade
        assert Decimal(str(row["qty"])) == Decimal(trade["qty"])
        assert Decimal(str(row["price"])) == Decimal(trade["price"])
        assert Decimal(str(row["commission"])) == Decimal(trade["commission"])


def reopen(path: Path) -> EventLog:
    return EventLog(path)
