"""TP/SL lifecycle end to end: each trigger type, sibling cancel, re-sync after add and partial close."""

from __future__ import annotations

from decimal import Decimal

from hedgestack.engine.terminal import Terminal
from tests.engine.conftest import Control, assert_consistent, settle, wait_until

D = Decimal


def legs(control: Control, vp_short: str) -> dict[str, dict]:
    return {a["orderType"]: a for a in control.account()["open_algo_orders"] if a["clientAlgoId"][3:9] == vp_short}


def both_legs_at(control: Control, vp_short: str, qty: str) -> bool:
    current = legs(control, vp_short)
    return set(current) == {"TAKE_PROFIT_MARKET", "STOP_MARKET"} and {a["quantity"] for a in current.values()} == {qty}


def tpsl(t: Terminal, vp_id: str) -> dict:
    return t.sync.vp(vp_id).to_json()["tpsl"]


def test_tp_on_last_price_closes_the_vp_and_cancels_the_sl(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    b = terminal.sync.create_vp("B", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")
    terminal.sync.place_order(b.id, "BUY", "MARKET", "0.020")
    settle(terminal, control)
    state = terminal.sync.set_tpsl(a.id, tp_price="97000", sl_price="93000").to_json()
    assert state["tpsl"]["sync_status"] == "OK"
    assert (state["tpsl"]["tp_trigger_type"], state["tpsl"]["sl_trigger_type"]) == ("LAST_PRICE", "MARK_PRICE")
    short = a.id[3:9]
    open_legs = legs(control, short)
    assert open_legs["TAKE_PROFIT_MARKET"]["workingType"] == "CONTRACT_PRICE"
    assert open_legs["STOP_MARKET"]["workingType"] == "MARK_PRICE"
    assert open_legs["TAKE_PROFIT_MARKET"]["quantity"] == open_legs["STOP_MARKET"]["quantity"] == "0.010"
    # the mark alone reaching 97000 does not trigger a LAST-price TP
    control.price("BTCUSDT", "96900", "97100")
    settle(terminal, control)
    assert terminal.sync.vp(a.id).to_json()["net_qty"] == "0.01"
    control.price("BTCUSDT", "97000", "97000")
    wait_until(lambda: terminal.sync.vp(a.id).to_json()["net_qty"] == "0")
    settle(terminal, control)
    wait_until(lambda: legs(control, short) == {})
    va = terminal.sync.vp(a.id).to_json()
    # realized 0.010 × (97000 − 95000) = 20, the SL is gone and the VP's TP/SL cleared
    assert D(va["realized_pnl"]) == D(20) and va["tpsl"] is None
    assert terminal.sync.vp(b.id).to_json()["net_qty"] == "0.02"  # the other VP is untouched
    assert_consistent(terminal, control)


def test_sl_on_mark_price_for_a_short(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("Hedge", "ETHUSDT", "SHORT")
    terminal.sync.place_order(a.id, "SELL", "MARKET", "0.5")  # short @ 3500
    settle(terminal, control)
    terminal.sync.set_tpsl(a.id, tp_price="3300", sl_price="3600")
    # last through the SL with the mark below: a MARK SL does not fire
    control.price("ETHUSDT", "3610", "3590")
    settle(terminal, control)
    assert terminal.sync.vp(a.id).to_json()["net_qty"] == "0.5"
    control.price("ETHUSDT", "3595", "3600")
    wait_until(lambda: terminal.sync.vp(a.id).to_json()["net_qty"] == "0")
    settle(terminal, control)
    wait_until(lambda: legs(control, a.id[3:9]) == {})
    # bought back at last 3595: realized 0.5 × (3500 − 3595) = −47.5
    assert D(terminal.sync.vp(a.id).to_json()["realized_pnl"]) == D("-47.5")
    assert_consistent(terminal, control)


def test_legs_follow_the_vp_after_add_and_partial_close(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")
    settle(terminal, control)
    terminal.sync.set_tpsl(a.id, tp_price="99000", sl_price="90000")
    short = a.id[3:9]
    first = legs(control, short)
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.006")  # add: legs re-sync to 0.016
    wait_until(lambda: both_legs_at(control, short, "0.016"))
    second = legs(control, short)
    assert second["STOP_MARKET"]["clientAlgoId"] != first["STOP_MARKET"]["clientAlgoId"]  # cancel + create
    # a LIMIT close of 0.004 rests: the legs shrink to 0.012 so closes + TP/SL never exceed the VP
    close = terminal.sync.close_vp(a.id, "LIMIT", qty="0.004", price="98000")
    wait_until(lambda: both_legs_at(control, short, "0.012"))
    # the close fills at 98000: the legs stay at 0.012 = net 0.012
    control.price("BTCUSDT", "98000")
    settle(terminal, control)
    wait_until(lambda: terminal.sync.vp(a.id).to_json()["net_qty"] == "0.012")
    terminal.sync.close_vp(a.id, percent="50")  # market close 0.006: legs shrink to 0.006
    wait_until(lambda: both_legs_at(control, short, "0.006"))
    settle(terminal, control)
    assert tpsl(terminal, a.id)["sync_status"] == "OK"
    assert close.status == "NEW"
    assert_consistent(terminal, control)


def test_change_and_clear(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")
    settle(terminal, control)
    terminal.sync.set_tpsl(a.id, tp_price="99000")
    short = a.id[3:9]
    assert set(legs(control, short)) == {"TAKE_PROFIT_MARKET"}
    terminal.sync.set_tpsl(a.id, sl_price="91000", sl_trigger_type="LAST")  # keeps the TP, adds an SL
    assert set(legs(control, short)) == {"TAKE_PROFIT_MARKET", "STOP_MARKET"}
    assert legs(control, short)["STOP_MARKET"]["workingType"] == "CONTRACT_PRICE"
    terminal.sync.set_tpsl(a.id, tp_price="99500")
    assert legs(control, short)["TAKE_PROFIT_MARKET"]["triggerPrice"] == "99500.00"
    cleared = terminal.sync.clear_tpsl(a.id).to_json()
    assert cleared["tpsl"] is None and legs(control, short) == {}
    assert_consistent(terminal, control)
