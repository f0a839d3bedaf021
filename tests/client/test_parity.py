"""The same commands, results and refusals through the local Terminal and through ``hedgestack.connect()``:
every test runs twice (``api_terminal`` is the Terminal, then a client of it), and each refusal must be the same
class with the same code, sending nothing to the exchange."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from hedgestack.domain.enums import OrderStatus, PositionSide, Side
from hedgestack.domain.errors import (
    FilterViolation,
    HedgestackError,
    LedgerRuleError,
    ReconcileError,
    UnknownOrder,
    UnknownVp,
    ValidationError,
    VenueRejected,
    VpGuardViolation,
)
from hedgestack.engine.facade import TerminalApi
from hedgestack.engine.terminal import Terminal
from hedgestack.engine.views import (
    CancelAck,
    CandleView,
    InstrumentView,
    OrderAck,
    OrderView,
    ReconcileResult,
    StateView,
    TransferResult,
    VirtualPositionView,
)
from tests.client.conftest import Control, wait_until

D = Decimal
_names = iter(range(1_000_000))


def name(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def settle(terminal: Terminal, control: Control) -> None:
    """Every exchange trade is in the ledger and the terminal is idle."""
    wait_until(lambda: terminal.sync.inspect(lambda ledger: ledger.trade_count) == len(control.account()["trades"]),
               timeout=15)
    terminal.sync.wait_idle(20)


def test_both_are_terminal_apis(api_terminal: Any) -> None:
    assert isinstance(api_terminal, TerminalApi)
    assert api_terminal.venue_name == "sim" and api_terminal.symbols == ("BTCUSDT", "ETHUSDT")
    assert api_terminal.connection == "CONNECTED"


def test_commands_return_the_same_typed_results(api_terminal: Any, terminal: Terminal, control: Control) -> None:
    t = api_terminal
    a = t.sync.create_vp(name("Trend"), "BTCUSDT", PositionSide.LONG)
    b = t.sync.create_vp(name("Swing"), "BTCUSDT", "long")  # strings in any case, as the Terminal reads them
    assert isinstance(a, VirtualPositionView) and a.position_side is PositionSide.LONG and a.net_qty == 0
    ack = t.sync.place_order(a.id, Side.BUY, "market", D("0.010"))
    assert isinstance(ack, OrderAck) and ack.status in (OrderStatus.NEW, OrderStatus.FILLED)
    settle(terminal, control)
    assert t.sync.vp(a.id).net_qty == D("0.01")
    limit = t.sync.place_order(a.id, "BUY", "LIMIT", "0.002", "90000", time_in_force="GTC")
    assert isinstance(limit, OrderAck) and limit.status is OrderStatus.NEW
    amended = t.sync.amend_order(limit.client_order_id, price="90100")
    assert isinstance(amended, OrderAck) and amended.client_order_id != limit.client_order_id
    cancelled = t.sync.cancel_order(amended.client_order_id)
    assert isinstance(cancelled, CancelAck) and cancelled.status is OrderStatus.CANCELED
    # trigger types as the Terminal reads them: the short names and any case
    protected = t.sync.set_tpsl(a.id, tp_price="100000", tp_trigger_type="last", sl_price="90000",
                                sl_trigger_type="MARK")
    assert isinstance(protected, VirtualPositionView) and protected.tpsl is not None
    assert protected.tpsl.tp_price == D("100000") and protected.tpsl.sl_price == D("90000")
    settle(terminal, control)
    assert t.sync.clear_tpsl(a.id).tpsl is None or t.sync.vp(a.id).tpsl.tp_price is None
    moved = t.sync.transfer(a.id, b.id, "0.004")
    assert isinstance(moved, TransferResult)
    assert (moved.from_vp.net_qty, moved.to_vp.net_qty) == (D("0.006"), D("0.004"))
    assert moved.to_vp.avg_entry == moved.from_vp.avg_entry == D("95000")
    assert t.sync.rename_vp(b.id, name("Hedge")).name.startswith("Hedge-")
    close = t.sync.close_vp(b.id, "MARKET", percent="50")
    assert isinstance(close, OrderAck)
    settle(terminal, control)
    assert t.sync.vp(b.id).net_qty == D("0.002")
    t.sync.close_vp(b.id)
    settle(terminal, control)
    assert t.sync.archive_vp(b.id).archived is True
    state = t.sync.state(recent_fills=10)
    assert isinstance(state, StateView) and state.vp(a.id).net_qty == D("0.006")
    assert b.id not in {vp.id for vp in state.virtual_positions}
    assert isinstance(state.fills[0].trade_id, int) and state.connection == "CONNECTED"
    history = t.sync.order_history(vp=a.id)
    assert all(isinstance(o, OrderView) for o in history) and len(history) >= 3
    ext = state.external_position("BTCUSDT", "LONG")
    reconciled = t.sync.reconcile("BTCUSDT", "LONG", {a.id: str(ext.qty)})
    assert isinstance(reconciled, ReconcileResult) and reconciled.position_side is PositionSide.LONG
    assert {vp.id: vp.net_qty for vp in reconciled.virtual_positions}[a.id] == ext.qty
    t.sync.close_vp(a.id)
    settle(terminal, control)


def test_market_data_reads(api_terminal: Any) -> None:
    rules = api_terminal.instrument("BTCUSDT")
    assert isinstance(rules, InstrumentView) and rules.tick_size == D("0.1") and rules.step_size == D("0.001")
    candles = api_terminal.sync.candles("BTCUSDT", "1m", 5)
    assert len(candles) == 5 and all(isinstance(c, CandleView) for c in candles)
    with pytest.raises(ValidationError) as info:
        api_terminal.instrument("DOGEUSDT")
    assert info.value.code == "UNKNOWN_SYMBOL"
    with pytest.raises(ValidationError) as info:
        api_terminal.sync.candles("BTCUSDT", "7m")
    assert info.value.code == "INVALID_INTERVAL"


def test_refusals_are_the_same_errors_and_send_nothing(api_terminal: Any, terminal: Terminal,
                                                        control: Control) -> None:
    t = api_terminal
    a = t.sync.create_vp(name("A"), "BTCUSDT", "LONG")
    b = t.sync.create_vp(name("B"), "BTCUSDT", "LONG")
    t.sync.place_order(b.id, "BUY", "MARKET", "0.5")
    settle(terminal, control)
    before = control.account()
    taken = a.name
    cases: list[tuple[Any, type[HedgestackError], str]] = [
        (lambda: t.sync.create_vp(taken, "BTCUSDT", "LONG"), LedgerRuleError, "NAME_TAKEN"),
        (lambda: t.sync.create_vp("UNASSIGNED", "BTCUSDT", "LONG"), ValidationError, "NAME_RESERVED"),
        (lambda: t.sync.create_vp("X", "DOGEUSDT", "LONG"), ValidationError, "UNKNOWN_SYMBOL"),
        (lambda: t.sync.create_vp("X", "BTCUSDT", "BOTH"), ValidationError, "INVALID_POSITIONSIDE"),
        (lambda: t.sync.place_order("vp_zzzzzzzz", "BUY", "MARKET", "0.01"), UnknownVp, "UNKNOWN_VP"),
        (lambda: t.sync.place_order(a.id, "BUY", "MARKET", "0.0015"), FilterViolation, "PRECISION"),
        (lambda: t.sync.place_order(a.id, "BUY", "MARKET", "0.001"), FilterViolation, "MIN_NOTIONAL"),
        (lambda: t.sync.place_order(a.id, "BUY", "LIMIT", "0.01", "95000.05"), FilterViolation, "PRICE_TICK_SIZE"),
        (lambda: t.sync.place_order(a.id, "BUY", "LIMIT", "0.01", "99800"), FilterViolation, "PERCENT_PRICE"),
        (lambda: t.sync.place_order(a.id, "BUY", "LIMIT", "0.01"), ValidationError, "PRICE_REQUIRED"),
        (lambda: t.sync.place_order(a.id, "BUY", "MARKET", 0.01), ValidationError, "INVALID_NUMBER"),
        (lambda: t.sync.place_order(a.id, "BUY", "MARKET", "abc"), ValidationError, "INVALID_NUMBER"),
        (lambda: t.sync.place_order(a.id, "BUY", "MARKET", "0.01", symbol="ETHUSDT"), ValidationError,
         "VP_MISMATCH"),
        (lambda: t.sync.place_order(a.id, "BUY", "MARKET", "0.01", reduce_only=True), ValidationError,
         "REDUCE_ONLY_OPENS"),
        (lambda: t.sync.place_order(a.id, "HOLD", "MARKET", "0.01"), ValidationError, "INVALID_SIDE"),
        (lambda: t.sync.place_order(a.id, "SELL", "MARKET", "0.01"), VpGuardViolation, "VP_GUARD"),
        (lambda: t.sync.close_vp(a.id), LedgerRuleError, "VP_FLAT"),
        (lambda: t.sync.close_vp(b.id, percent="0.1"), LedgerRuleError, "CLOSE_QTY_ZERO"),
        (lambda: t.sync.close_vp(b.id, qty="0.6"), VpGuardViolation, "VP_GUARD"),
        (lambda: t.sync.close_vp(b.id, "STOP_MARKET"), ValidationError, "INVALID_ORDER_TYPE"),
        (lambda: t.sync.cancel_order("12345"), UnknownOrder, "UNKNOWN_ORDER"),
        (lambda: t.sync.amend_order("12345", price="95000"), UnknownOrder, "UNKNOWN_ORDER"),
        (lambda: t.sync.set_tpsl(a.id, tp_price="100000"), LedgerRuleError, "VP_FLAT"),
        (lambda: t.sync.set_tpsl(b.id, tp_price="90000"), ValidationError, "TPSL_WOULD_TRIGGER"),
        (lambda: t.sync.set_tpsl(b.id, sl_price="96000"), ValidationError, "TPSL_WOULD_TRIGGER"),
        (lambda: t.sync.set_tpsl(b.id, tp_price="100000", qty="0.1"), ValidationError, "TPSL_QTY"),
        (lambda: t.sync.set_tpsl(b.id, tp_price="100000", tp_trigger_type="INDEX"), ValidationError,
         "INVALID_TRIGGER_TYPE"),
        (lambda: t.sync.transfer(a.id, b.id, "0.1"), LedgerRuleError, "TRANSFER_EXCEEDS"),
        (lambda: t.sync.transfer(a.id, a.id, "0.1"), ValidationError, "TRANSFER_SAME_VP"),
        (lambda: t.sync.archive_vp(b.id), LedgerRuleError, "VP_NOT_FLAT"),
        (lambda: t.sync.rename_vp(b.id, taken), LedgerRuleError, "NAME_TAKEN"),
        (lambda: t.sync.reconcile("BTCUSDT", "LONG", {b.id: "1000"}), ReconcileError, "OVER_ASSIGNED"),
        (lambda: t.sync.vp("vp_zzzzzzzz"), UnknownVp, "UNKNOWN_VP"),
    ]
    wrong = []
    for call, kind, code in cases:
        try:
            call()
        except HedgestackError as exc:
            if (type(exc), exc.code) != (kind, code):
                wrong.append((kind.__name__, code, repr(exc)))
        else:
            wrong.append((kind.__name__, code, "nothing raised"))
    assert wrong == []
    after = control.account()
    assert after["trades"] == before["trades"] and after["open_orders"] == before["open_orders"]
    assert after["open_algo_orders"] == before["open_algo_orders"]
    t.sync.close_vp(b.id)
    settle(terminal, control)


def test_exchange_refusal_keeps_binance_code(api_terminal: Any, terminal: Terminal, control: Control) -> None:
    a = api_terminal.sync.create_vp(name("Huge"), "BTCUSDT", "LONG")
    with pytest.raises(VenueRejected) as info:  # 10 BTC at 20x needs ~47,500 USDT of margin: -2019
        api_terminal.sync.place_order(a.id, "BUY", "MARKET", "10")
    assert info.value.binance_code == -2019 and info.value.code == "EXCHANGE_REJECTED"
    assert "-2019" in str(api_terminal.orders(vp=a.id)["reason"][0])


async def test_awaitable_from_any_loop(api_terminal: Any) -> None:
    """Commands are coroutines awaited from the caller's loop (pytest-asyncio's here, like a notebook's)."""
    vp = await api_terminal.create_vp(name("Await"), "ETHUSDT", "SHORT")
    assert (await api_terminal.vp(vp.id)).position_side is PositionSide.SHORT
    state = await api_terminal.state(recent_fills=0)
    assert vp.id in {v.id for v in state.virtual_positions}
    future = api_terminal.submit(api_terminal.archive_vp(vp.id))  # the dashboard's way: on the terminal's loop
    assert future.result(10).archived is True


def test_listeners_run_on_the_terminals_own_thread(api_terminal: Any, terminal: Terminal, control: Control) -> None:
    seen: list[tuple[str, str]] = []
    remove = api_terminal.add_listener(
        lambda env: seen.append((env.type, threading.current_thread().name)), ["VIRTUAL_POSITION_UPDATE"])
    try:
        vp = api_terminal.sync.create_vp(name("Heard"), "BTCUSDT", "SHORT")
        wait_until(lambda: seen, timeout=10)
    finally:
        remove()
    count = len(seen)
    api_terminal.sync.archive_vp(vp.id)
    assert {kind for kind, _ in seen} == {"VIRTUAL_POSITION_UPDATE"}
    thread = "hedgestack-client" if api_terminal is not terminal else "hedgestack-terminal"
    assert {name for _, name in seen} == {thread}
    wait_until(lambda: terminal.sync.state(recent_fills=0) is not None)
    assert len(seen) == count  # removed: no more calls
