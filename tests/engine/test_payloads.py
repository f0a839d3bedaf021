"""Parser conformance: every payload in reference/payloads/ maps as its README says; the algo child's
fills are attributed through the id mapping when its clientOrderId is not the clientAlgoId."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.ids import unassigned_vp_id
from hedgestack.engine.terminal import HedgeModeRequired, Terminal
from hedgestack.venue.binance.parse import (
    AlgoUpdate,
    Malformed,
    OrderTradeUpdate,
    TradeLite,
    parse_user_message,
)
from hedgestack.venue.sim import SimConfig, SimServer
from tests.engine.conftest import Control, assert_consistent, settle, wait_until

#: hedgestack's own set, in the repository: the tests always run on it
OWN = Path(__file__).resolve().parents[1] / "fixtures" / "user_stream"
#: the customer's reference set, beside the checkout on the team's machines (not in a bare clone)
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "payloads"
if not REFERENCE.exists():
    REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "payloads"
SOURCES = [pytest.param(OWN, id="own"), pytest.param(REFERENCE, id="reference")]


def load(source: Path, name: str) -> dict:
    path = source / name
    if not path.exists():
        assert source != OWN, f"{path} is missing from the repository"
        pytest.skip(f"{path} not available")
    return json.loads(path.read_text())


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("name", "kind", "fill"), [
    ("algo_update_triggering.json", AlgoUpdate, False),
    ("algo_update_triggered.json", AlgoUpdate, False),
    ("algo_update_finished.json", AlgoUpdate, False),
    ("algo_update_finished_unfilled.json", AlgoUpdate, False),
    ("trade_lite.json", TradeLite, False),
    ("order_update_liquidation.json", OrderTradeUpdate, True),
    ("order_update_liquidation_zero_qty.json", OrderTradeUpdate, False),
    ("order_update_adl_filled.json", OrderTradeUpdate, True),
    ("order_update_settlement.json", OrderTradeUpdate, True),
])
def test_every_payload_parses(source: Path, name: str, kind: type, fill: bool) -> None:
    message = parse_user_message(load(source, name))
    assert isinstance(message, kind), message
    if isinstance(message, OrderTradeUpdate):
        assert message.is_fill is fill
    if name == "algo_update_triggered.json":
        assert message.actual_order_id == 88937381063  # "ai" is a string on the wire
    if name == "algo_update_triggering.json":
        assert message.actual_order_id is None


def test_garbage_is_malformed_not_an_exception() -> None:
    for raw in [None, 5, "x", {}, {"e": "ORDER_TRADE_UPDATE"}, {"e": "ORDER_TRADE_UPDATE", "o": {"s": 1}},
                {"e": "ALGO_UPDATE", "o": {"caid": None}}, {"e": "ACCOUNT_UPDATE", "a": {"m": "ORDER", "P": [{}]}}]:
        assert isinstance(parse_user_message(raw), Malformed)


@pytest.mark.wire
@pytest.mark.parametrize("source", SOURCES)
def test_foreign_shapes_go_to_unassigned_exactly_once(terminal: Terminal, source: Path) -> None:
    liquidation = parse_user_message(load(source, "order_update_liquidation.json"))
    zero = parse_user_message(load(source, "order_update_liquidation_zero_qty.json"))
    adl = parse_user_message(load(source, "order_update_adl_filled.json"))
    settlement = parse_user_message(load(source, "order_update_settlement.json"))

    async def feed() -> None:
        for message in (liquidation, zero, adl, settlement, liquidation, adl):  # twice: applied once
            assert isinstance(message, OrderTradeUpdate)
            terminal.intake.apply_order_updates([message])

    terminal.run_sync(feed())
    fills = terminal.fills()
    assert sorted(fills["trade_id"].to_list()) == [1122334455, 2233445566, 4455667788]
    by_trade = {row["trade_id"]: row["vp_id"] for row in fills.iter_rows(named=True)}
    assert by_trade[1122334455] == unassigned_vp_id("BTCUSDT", PositionSide.LONG)
    assert by_trade[2233445566] == unassigned_vp_id("ETHUSDT", PositionSide.SHORT)
    assert by_trade[4455667788] == unassigned_vp_id("BTCUSDT", PositionSide.SHORT)
    # the liquidation SELL on an empty UNASSIGNED LONG is clamped and reported, never negative
    assert all(Decimal(v["net_qty"]) >= 0 for v in terminal.sync.state().to_json()["virtual_positions"])


@pytest.fixture(scope="module")
def generated_child_sim() -> Iterator[SimServer]:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=3, child_client_id="generated"))
    yield sim
    sim.stop()


def test_algo_child_with_its_own_client_id_is_attributed_by_order_id(generated_child_sim: SimServer,
                                                                     tmp_path: Path) -> None:
    control = Control(generated_child_sim.url)
    control.post("/reset")
    control.price("BTCUSDT", "95000")
    t = Terminal.sim(tmp_path, sim_url=generated_child_sim.url, poll_interval=0.3, mismatch_grace=0.5).start_sync()
    try:
        a = t.sync.create_vp("A", "BTCUSDT", "LONG")
        t.sync.place_order(a.id, "BUY", "MARKET", "0.010")
        settle(t, control)
        t.sync.set_tpsl(a.id, sl_price="94000")
        control.price("BTCUSDT", "93900", "93900")
        wait_until(lambda: t.sync.vp(a.id).to_json()["net_qty"] == "0")
        child = [tr for tr in control.account()["trades"] if tr["side"] == "SELL"]
        assert child and not child[0]["clientOrderId"].startswith("VP-")  # the child has its own id
        assert_consistent(t, control)
    finally:
        t.stop_sync()


def test_one_way_account_is_refused_with_a_clear_message(generated_child_sim: SimServer, tmp_path: Path) -> None:
    control = Control(generated_child_sim.url)
    control.post("/reset")
    from binance.client import Client

    client = Client("hedgestack-sim", "hedgestack-sim-secret", ping=False)
    client.FUTURES_URL = generated_child_sim.url + "/fapi"
    client.futures_change_position_mode(dualSidePosition="false")
    t = Terminal.sim(tmp_path, sim_url=generated_child_sim.url)
    with pytest.raises(HedgeModeRequired) as info:
        t.start_sync()
    assert "enable_hedge_mode()" in info.value.message
    t.run_sync(t.enable_hedge_mode())
    t.start_sync()
    t.stop_sync()
