"""Every command and every refusal, end to end through python-binance against the simulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hedgestack.domain.errors import (
    FilterViolation,
    LedgerRuleError,
    UnknownOrder,
    UnknownVp,
    ValidationError,
    VenueRejected,
    VpGuardViolation,
)
from hedgestack.engine.terminal import Terminal
from hedgestack.venue.port import ExchangeOrder, OrderRequest
from tests.engine.conftest import Control, assert_consistent, settle, wait_until

D = Decimal


def vp_state(t: Terminal, vp_id: str) -> dict:
    return t.sync.vp(vp_id).to_json()


def test_two_vps_on_one_side_keep_their_own_entry(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("Trend", "BTCUSDT", "LONG")
    b = terminal.sync.create_vp("Swing", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")  # @ 95000
    control.price("BTCUSDT", "96000")
    terminal.sync.place_order(b.id, "BUY", "MARKET", "0.004")  # @ 96000
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")  # @ 96000 → a avg 95500
    settle(terminal, control)
    va, vb = vp_state(terminal, a.id), vp_state(terminal, b.id)
    assert (va["net_qty"], va["avg_entry"]) == ("0.02", "95500")
    assert (vb["net_qty"], vb["avg_entry"]) == ("0.004", "96000")
    # taker fee 0.05 %: a 0.01 × 95000 × 0.0005 + 0.01 × 96000 × 0.0005 = 0.475 + 0.48
    assert D(va["fees"]) == D("0.955")
    # unrealized at mark 96000: a 0.02 × (96000 − 95500) = 10; b 0
    assert D(va["unrealized_pnl"]) == D(10) and D(vb["unrealized_pnl"]) == 0
    state = terminal.sync.state().to_json()
    ext = next(p for p in state["external_positions"] if p["positionSide"] == "LONG" and p["symbol"] == "BTCUSDT")
    assert D(ext["qty"]) == D("0.024")
    assert state["reconcile"]["BTCUSDT"] == {"LONG": "OK", "SHORT": "OK"}
    assert_consistent(terminal, control)


def test_close_percent_realizes_against_the_vps_own_average(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "SHORT")
    b = terminal.sync.create_vp("B", "BTCUSDT", "SHORT")
    terminal.sync.place_order(a.id, "SELL", "MARKET", "0.010")  # short @ 95000
    control.price("BTCUSDT", "97000")
    terminal.sync.place_order(b.id, "SELL", "MARKET", "0.010")  # short @ 97000
    control.price("BTCUSDT", "96000")
    result = terminal.sync.close_vp(a.id, "MARKET", percent="50")  # buy 0.005 @ 96000
    assert result.status in ("NEW", "FILLED")
    settle(terminal, control)
    va, vb = vp_state(terminal, a.id), vp_state(terminal, b.id)
    # a: 0.005 × (95000 − 96000) = −5; b untouched
    assert (va["net_qty"], D(va["realized_pnl"])) == ("0.005", D(-5))
    assert (vb["net_qty"], D(vb["realized_pnl"])) == ("0.01", D(0))
    terminal.sync.close_vp(b.id)  # 100 % market: b realizes 0.01 × (97000 − 96000) = 10
    settle(terminal, control)
    vb = vp_state(terminal, b.id)
    assert (vb["net_qty"], D(vb["realized_pnl"]), vb["avg_entry"]) == ("0", D(10), "0")
    assert_consistent(terminal, control)


def test_limit_orders_rest_fill_partially_cancel_and_amend(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("Dip", "ETHUSDT", "LONG")
    control.post("/liquidity", {"symbol": "ETHUSDT", "max_fill_qty": "0.1"})
    order = terminal.sync.place_order(a.id, "BUY", "LIMIT", "0.25", "3400", time_in_force="GTC")
    assert order.status == "NEW"
    for last in ("3399", "3398", "3397"):  # a resting order fills one 0.1 chunk per price update (maker)
        control.price("ETHUSDT", last)
    settle(terminal, control)
    v = vp_state(terminal, a.id)
    assert (v["net_qty"], v["avg_entry"]) == ("0.25", "3400")
    # maker 0.02 %: 0.25 × 3400 × 0.0002 = 0.17
    assert D(v["fees"]) == D("0.17")
    assert len(terminal.fills(vp=a.id)) == 3
    resting = terminal.sync.place_order(a.id, "SELL", "LIMIT", "0.1", "3600")
    amended = terminal.sync.amend_order(resting.order_id, price="3650")
    assert amended.client_order_id != resting.client_order_id
    orders = {o["clientOrderId"]: o for o in terminal.sync.state().to_json()["open_orders"]}
    assert resting.client_order_id not in orders
    assert orders[amended.client_order_id]["price"] == "3650"
    assert orders[amended.client_order_id]["replaces"] == resting.client_order_id
    cancelled = terminal.sync.cancel_order(amended.order_id)
    assert cancelled.status == "CANCELED"
    assert terminal.sync.state().to_json()["open_orders"] == []
    assert_consistent(terminal, control)


def test_refusals_send_nothing(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    b = terminal.sync.create_vp("B", "BTCUSDT", "LONG")
    terminal.sync.place_order(b.id, "BUY", "MARKET", "0.5")
    settle(terminal, control)
    before = control.account()
    cases = [
        (lambda: terminal.sync.create_vp("A", "BTCUSDT", "LONG"), LedgerRuleError, "NAME_TAKEN"),
        (lambda: terminal.sync.create_vp("UNASSIGNED", "BTCUSDT", "LONG"), ValidationError, "NAME_RESERVED"),
        (lambda: terminal.sync.create_vp("X", "DOGEUSDT", "LONG"), ValidationError, "UNKNOWN_SYMBOL"),
        (lambda: terminal.sync.create_vp("X", "BTCUSDT", "BOTH"), ValidationError, "INVALID_POSITIONSIDE"),
        (lambda: terminal.sync.place_order("vp_zzzzzzzz", "BUY", "MARKET", "0.01"), UnknownVp, "UNKNOWN_VP"),
        (lambda: terminal.sync.place_order(a.id, "BUY", "MARKET", "0.0015"), FilterViolation, "PRECISION"),
        (lambda: terminal.sync.place_order(a.id, "BUY", "MARKET", "0.001"), FilterViolation, "MIN_NOTIONAL"),
        (lambda: terminal.sync.place_order(a.id, "BUY", "LIMIT", "0.01", "95000.05"), FilterViolation,
         "PRICE_TICK_SIZE"),
        (lambda: terminal.sync.place_order(a.id, "BUY", "LIMIT", "0.01", "99800"), FilterViolation,
         "PERCENT_PRICE"),
        (lambda: terminal.sync.place_order(a.id, "BUY", "LIMIT", "0.01"), ValidationError, "PRICE_REQUIRED"),
        (lambda: terminal.sync.place_order(a.id, "BUY", "MARKET", 0.01), ValidationError, "INVALID_NUMBER"),
        (lambda: terminal.sync.place_order(a.id, "BUY", "MARKET", "0.01", symbol="ETHUSDT"), ValidationError,
         "VP_MISMATCH"),
        (lambda: terminal.sync.place_order(a.id, "BUY", "MARKET", "0.01", reduce_only=True), ValidationError,
         "REDUCE_ONLY_OPENS"),
        # a's closes can never take b's quantity: a is flat
        (lambda: terminal.sync.place_order(a.id, "SELL", "MARKET", "0.01"), VpGuardViolation, "VP_GUARD"),
        (lambda: terminal.sync.close_vp(a.id), LedgerRuleError, "VP_FLAT"),
        (lambda: terminal.sync.close_vp(b.id, percent="0.1"), LedgerRuleError, "CLOSE_QTY_ZERO"),
        (lambda: terminal.sync.close_vp(b.id, qty="0.6"), VpGuardViolation, "VP_GUARD"),
        (lambda: terminal.sync.close_vp(b.id, "STOP_MARKET"), ValidationError, "INVALID_ORDER_TYPE"),
        (lambda: terminal.sync.cancel_order("12345"), UnknownOrder, "UNKNOWN_ORDER"),
        (lambda: terminal.sync.set_tpsl(a.id, tp_price="100000"), LedgerRuleError, "VP_FLAT"),
        (lambda: terminal.sync.set_tpsl(b.id, tp_price="90000"), ValidationError, "TPSL_WOULD_TRIGGER"),
        (lambda: terminal.sync.set_tpsl(b.id, sl_price="96000"), ValidationError, "TPSL_WOULD_TRIGGER"),
        (lambda: terminal.sync.set_tpsl(b.id, tp_price="100000", qty="0.1"), ValidationError, "TPSL_QTY"),
        (lambda: terminal.sync.transfer(a.id, b.id, "0.1"), LedgerRuleError, "TRANSFER_EXCEEDS"),
        (lambda: terminal.sync.archive_vp(b.id), LedgerRuleError, "VP_NOT_FLAT"),
        (lambda: terminal.sync.rename_vp(b.id, "A"), LedgerRuleError, "NAME_TAKEN"),
    ]
    for call, kind, code in cases:
        with pytest.raises(kind) as info:
            call()
        assert info.value.code == code, (code, info.value)
    after = control.account()
    assert after["trades"] == before["trades"] and after["open_orders"] == before["open_orders"]
    assert after["open_algo_orders"] == before["open_algo_orders"]
    assert_consistent(terminal, control)


def test_exchange_refusal_is_recorded_and_raised(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("Huge", "BTCUSDT", "LONG")
    with pytest.raises(VenueRejected) as info:  # 10 BTC at 20x needs ~47,500 USDT of margin: -2019
        terminal.sync.place_order(a.id, "BUY", "MARKET", "10")
    assert info.value.binance_code == -2019
    orders = terminal.orders(vp=a.id)
    assert orders["status"].to_list() == ["REJECTED"]
    assert "-2019" in orders["reason"][0]


def test_rename_archive_transfer(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    b = terminal.sync.create_vp("B", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.003")  # @ 95000
    control.price("BTCUSDT", "95300")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.003")  # @ 95300 → avg 95150
    settle(terminal, control)
    moved = terminal.sync.transfer(a.id, b.id, "0.002")
    assert (moved.from_vp.net_qty, moved.from_vp.avg_entry) == (D("0.004"), D("95150"))
    assert (moved.to_vp.net_qty, moved.to_vp.avg_entry) == (D("0.002"), D("95150"))
    assert terminal.sync.rename_vp(b.id, "Hedge").name == "Hedge"
    terminal.sync.close_vp(b.id)
    settle(terminal, control)
    archived = terminal.sync.archive_vp(b.id)
    assert archived.archived is True
    assert b.id not in {v["id"] for v in terminal.sync.state().to_json()["virtual_positions"]}
    with pytest.raises(UnknownVp):
        terminal.sync.place_order(b.id, "BUY", "MARKET", "0.002")
    assert_consistent(terminal, control)


def test_foreign_orders_land_in_unassigned(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.002")
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.003", "clientOrderId": "web_abc123"})
    settle(terminal, control)
    vps = {v["name"]: v for v in terminal.sync.state().to_json()["virtual_positions"]}
    assert vps["UNASSIGNED"]["net_qty"] == "0.003" and vps["UNASSIGNED"]["positionSide"] == "LONG"
    assert vps["A"]["net_qty"] == "0.002"
    # the UNASSIGNED VP is an ordinary VP for transfers
    terminal.sync.transfer(vps["UNASSIGNED"]["id"], a.id, "0.003")
    assert terminal.sync.vp(a.id).to_json()["net_qty"] == "0.005"
    wait_until(lambda: terminal.sync.state().to_json()["reconcile"]["BTCUSDT"]["LONG"] == "OK")
    assert_consistent(terminal, control)


def test_intent_is_durable_before_the_order_leaves(terminal: Terminal, control: Control) -> None:
    """Invariant 5: when the request is sent, the log already maps its clientOrderId to the VP."""
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    seen: list[tuple[str, int]] = []
    original = terminal.venue.new_order

    async def spy(request: OrderRequest) -> ExchangeOrder:
        cid = request.client_order_id
        assert terminal.log_store is not None
        rows = terminal.log_store.execute(
            "SELECT payload->>'vp_id' FROM events WHERE kind = 'order_intent' AND dedupe_key = ?", [f"intent:{cid}"])
        seen.append((cid, len(rows)))
        assert rows == [(a.id,)]
        return await original(request)

    terminal.venue.new_order = spy  # type: ignore[method-assign]
    try:
        result = terminal.sync.place_order(a.id, "BUY", "MARKET", "0.002")
    finally:
        terminal.venue.new_order = original  # type: ignore[method-assign]
    assert seen == [(result.client_order_id, 1)]
