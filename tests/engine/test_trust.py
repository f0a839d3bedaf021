"""Regressions for the six ways the terminal lost a trader's trust (issue 12): each failed on the old engine.

1. a restart after the exchange side went flat in another app stayed OK;
2. a data directory reused with another exchange dropped real fills as duplicates;
3. a MISMATCH stripped a VP's TP/SL (and its status flapped);
4. a paused user stream was invisible;
5. one trade had two meanings of ``realizedPnl``;
6. smaller ones: a stale exchange uPnL, ``orderId: null`` for algo orders, a rebuild that said nothing, noisy
   shutdown, an offline start that ended in a traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.errors import VenueUnavailable
from hedgestack.domain.ids import unassigned_vp_id
from hedgestack.engine.identity import LedgerOfAnotherVenue
from hedgestack.engine.terminal import SideLocked, Terminal
from hedgestack.engine.views import Envelope, SideStatus
from hedgestack.venue.binance.adapter import BinanceVenue, Endpoints
from hedgestack.venue.sim import SimConfig, SimServer
from tests.engine.conftest import Control, assert_consistent, make_terminal, settle, wait_until

D = Decimal


class Recorder:
    def __init__(self, *types: str) -> None:
        self.types = set(types)
        self.seen: list[Envelope] = []
        self.lock = threading.Lock()

    def __call__(self, envelope: Envelope) -> None:
        if envelope.type in self.types:
            with self.lock:
                self.seen.append(envelope)

    def payloads(self, kind: str) -> list[Any]:
        with self.lock:
            return [e.payload for e in self.seen if e.type == kind]


def side_status(t: Terminal, symbol: str = "BTCUSDT", side: str = "LONG") -> SideStatus:
    return t.sync.state().reconcile_detail[symbol][side].status


# == 1 ================================================================================================
def test_a_side_closed_in_another_app_while_stopped_is_never_ok_after_restart(
        sim_server: SimServer, control: Control, tmp_path: Path) -> None:
    t = make_terminal(sim_server, tmp_path).start_sync()
    a = t.sync.create_vp("A", "BTCUSDT", "LONG")
    t.sync.place_order(a.id, "BUY", "MARKET", "0.010")
    settle(t, control)
    t.stop_sync()
    # the whole side closed "from the Binance app" while the terminal is down
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.010", "clientOrderId": "web_flat_while_down"})
    t = make_terminal(sim_server, tmp_path)
    statuses = Recorder("CONSISTENCY_STATUS")
    t.add_listener(statuses)
    t.start_sync()
    try:
        # started: the truth was read again; the VP holds 0.010, the exchange nothing
        assert side_status(t) is not SideStatus.OK
        wait_until(lambda: side_status(t) is SideStatus.MISMATCH, timeout=10)
        assert all(p.detail.status is not SideStatus.OK for p in statuses.payloads("CONSISTENCY_STATUS")
                   if p.symbol == "BTCUSDT" and p.position_side == "LONG")
        detail = t.sync.state().reconcile_detail["BTCUSDT"]["LONG"]
        assert (detail.exchange_qty, detail.vp_qty, detail.confirmed_by) == (D(0), D("0.010"), "rest")
        before = control.order_count()
        with pytest.raises(SideLocked):  # the close button no longer sends an order Binance rejects (-2022)
            t.sync.close_vp(a.id)
        assert control.order_count() == before
    finally:
        t.stop_sync()


# == 2 ================================================================================================
def test_a_data_directory_of_another_exchange_is_refused_with_one_clear_line(tmp_path: Path) -> None:
    first = SimServer.start_in_thread(SimConfig(market="static", seed=1))
    try:
        Control(first.url).price("BTCUSDT", "95000")
        t = Terminal.sim(tmp_path, sim_url=first.url, poll_interval=0.3).start_sync()
        a = t.sync.create_vp("A", "BTCUSDT", "LONG")
        t.sync.place_order(a.id, "BUY", "MARKET", "0.010")
        t.stop_sync()
    finally:
        first.stop()
    second = SimServer.start_in_thread(SimConfig(market="static", seed=1))  # a fresh account: ids restart
    try:
        Control(second.url).price("BTCUSDT", "95000")
        t = Terminal.sim(tmp_path, sim_url=second.url, poll_interval=0.3)
        with pytest.raises(LedgerOfAnotherVenue) as info:
            t.start_sync()
        message = info.value.message
        assert str(tmp_path) in message and first.identity.id in message and second.identity.id in message
        assert "\n" not in message
        t.stop_sync()
        # a simulator's ledger is never rebound to another simulator
        with pytest.raises(LedgerOfAnotherVenue):
            Terminal.sim(tmp_path, sim_url=second.url, other_ledger="rebind").start_sync()
        # a new ledger: the old log is moved aside, not deleted, and trading starts from nothing
        t = Terminal.sim(tmp_path, sim_url=second.url, other_ledger="new-ledger", poll_interval=0.3).start_sync()
        try:
            assert [v for v in t.sync.state().virtual_positions if not v.system] == []
            old = list((tmp_path / "old-ledgers").glob("*/hedgestack.duckdb"))
            assert len(old) == 1
            b = t.sync.create_vp("B", "BTCUSDT", "LONG")
            t.sync.place_order(b.id, "BUY", "MARKET", "0.010")  # trade id 1 again: booked, not a "duplicate"
            wait_until(lambda: t.sync.vp(b.id).net_qty == D("0.010"))
        finally:
            t.stop_sync()
    finally:
        second.stop()


def test_the_embedded_simulator_continues_its_account_across_restarts(tmp_path: Path) -> None:
    t = Terminal.sim(tmp_path, market="static", seed=3, poll_interval=0.3).start_sync()
    try:
        assert t.simulator is not None
        Control(t.simulator.url).price("BTCUSDT", "95000")
        a = t.sync.create_vp("A", "BTCUSDT", "LONG")
        t.sync.place_order(a.id, "BUY", "MARKET", "0.010")
        wait_until(lambda: t.sync.vp(a.id).net_qty == D("0.010"))
    finally:
        t.stop_sync()
    t = Terminal.sim(tmp_path, market="static", seed=3, poll_interval=0.3).start_sync()
    try:
        assert t.sync.vp(a.id).net_qty == D("0.010")
        wait_until(lambda: side_status(t) is SideStatus.OK, timeout=5)
        assert t.sync.state().external_position("BTCUSDT", "LONG").qty == D("0.010")
    finally:
        t.stop_sync()


# == 3 ================================================================================================
def test_a_mismatch_never_removes_protection(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")
    settle(terminal, control)
    terminal.sync.set_tpsl(a.id, tp_price="99000", sl_price="90000")
    limit_close = terminal.sync.close_vp(a.id, "LIMIT", qty="0.004", price="98000")
    wait_until(lambda: (terminal.sync.vp(a.id).tpsl.tp_qty, terminal.sync.vp(a.id).tpsl.sync_status)
               == (D("0.006"), "OK"))
    terminal.sync.wait_idle()
    statuses = Recorder("TPSL_SYNC_STATUS")
    terminal.add_listener(statuses)
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.003", "clientOrderId": "web_partial"})
    wait_until(lambda: side_status(terminal) is SideStatus.MISMATCH, timeout=10)
    # cancelling an order is allowed on a locked side; the legs grow back to what the VP holds
    terminal.sync.cancel_order(limit_close.client_order_id)

    def protected() -> bool:
        tpsl = terminal.sync.vp(a.id).tpsl
        return tpsl is not None and tpsl.sync_status == "OK" and tpsl.tp_qty == tpsl.sl_qty == D("0.010")

    wait_until(protected, timeout=10)
    legs = {o["orderType"]: o for o in control.account()["open_algo_orders"]}
    assert D(legs["TAKE_PROFIT_MARKET"]["quantity"]) == D(legs["STOP_MARKET"]["quantity"]) == D("0.010")
    assert [p.status for p in statuses.payloads("TPSL_SYNC_STATUS")] == ["SYNCING", "OK"]  # no flapping
    assert "ERROR" not in [p.status for p in statuses.payloads("TPSL_SYNC_STATUS")]
    # the user's own reducing commands stay locked
    with pytest.raises(SideLocked):
        terminal.sync.set_tpsl(a.id, tp_price="99500")


# == 4 ================================================================================================
def test_a_paused_user_stream_is_shown_stale_and_caught_up(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")
    settle(terminal, control)
    states = Recorder("CONNECTION_STATE")
    terminal.add_listener(states)
    control.fault("pause_user_stream", seconds=3)
    started = time.monotonic()
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.004")  # traded, but the stream says nothing
    wait_until(lambda: "STALE" in [p.state for p in states.payloads("CONNECTION_STATE")], timeout=5)
    assert time.monotonic() - started < 3.5  # within the pause: the book's gap is shown, not hidden
    wait_until(lambda: terminal.sync.vp(a.id).net_qty == D("0.014"), timeout=10)  # caught up over REST
    wait_until(lambda: terminal.connection == "CONNECTED", timeout=10)
    assert terminal.stats.stalls >= 1
    assert_consistent(terminal, control)


# == 5 ================================================================================================
def test_one_trade_has_one_meaning_of_realized_pnl(terminal: Terminal, control: Control) -> None:
    fills = Recorder("FILL")
    terminal.add_listener(fills)
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    b = terminal.sync.create_vp("B", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")  # a @ 95000
    control.price("BTCUSDT", "96000")
    terminal.sync.place_order(b.id, "BUY", "MARKET", "0.010")  # b @ 96000; the side's entry is 95500
    control.price("BTCUSDT", "97000")
    terminal.sync.close_vp(b.id)  # b realizes 0.010 × (97000 − 96000) = 10; the exchange's rp is 15
    settle(terminal, control)
    close = [f for f in fills.payloads("FILL") if f.side == "SELL"]
    assert len(close) == 1
    assert (close[0].realized_pnl, close[0].exchange_rp) == (D(10), D(15))
    event = close[0].to_json()
    assert (D(event["realizedPnl"]), D(event["exchange_rp"])) == (D(10), D(15))
    state_fill = next(f for f in terminal.sync.state().fills if f.trade_id == close[0].trade_id)
    assert (state_fill.realized_pnl, state_fill.exchange_rp) == (D(10), D(15))
    frame = terminal.fills()
    row = frame.filter(frame["trade_id"] == close[0].trade_id).row(0, named=True)
    assert (D(row["realized_pnl"]), D(row["exchange_rp"])) == (D(10), D(15))


# == 6 ================================================================================================
def test_the_exchange_upnl_follows_the_mark_and_is_pushed(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")
    settle(terminal, control)
    updates = Recorder("EXTERNAL_POSITION_UPDATE")
    terminal.add_listener(updates)
    control.price("BTCUSDT", "95500", "95500")
    wait_until(lambda: any(p.unrealized_pnl == D(5) for p in updates.payloads("EXTERNAL_POSITION_UPDATE")),
               timeout=5)  # 0.010 × (95500 − 95000), pushed, without waiting for a poll
    ext = terminal.sync.state().external_position("BTCUSDT", "LONG")
    assert ext.unrealized_pnl == D(5) and ext.mark_price == D(95500) and ext.notional == D(955)
    assert ext.leverage is not None and ext.break_even_price is not None


def test_algo_orders_carry_their_id_in_the_history(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")
    settle(terminal, control)
    terminal.sync.set_tpsl(a.id, sl_price="90000")
    legs = [o for o in terminal.sync.order_history(vp=a.id) if o.is_algo]
    assert legs and all(o.order_id is not None and o.order_id == o.algo_id for o in legs)
    assert all(o.to_json()["orderId"] for o in legs)


def test_stopping_a_terminal_is_quiet(sim_server: SimServer, control: Control, tmp_path: Path,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    t = make_terminal(sim_server, tmp_path).start_sync()
    a = t.sync.create_vp("A", "BTCUSDT", "LONG")
    t.sync.place_order(a.id, "BUY", "MARKET", "0.002")
    t.stop_sync()
    noise = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
             or "Task was destroyed" in r.getMessage() or "Event loop is closed" in r.getMessage()
             or "Unclosed" in r.getMessage()]
    assert noise == []


def test_an_unreachable_venue_is_one_clear_error(tmp_path: Path) -> None:
    venue = BinanceVenue(Endpoints("testnet", "k", "s", "http://127.0.0.1:9", "ws://127.0.0.1:9/"))
    t = Terminal(venue, data_dir=tmp_path)
    with pytest.raises(VenueUnavailable) as info:
        t.start_sync()
    assert info.value.code == "VENUE_UNREACHABLE"
    assert "cannot reach the testnet venue at http://127.0.0.1:9" in info.value.message
    assert "\n" not in info.value.message
    t.stop_sync()
    assert venue.client is None  # no HTTP session left open


def test_unassigned_absorbs_what_it_can_and_the_rest_is_a_mismatch(terminal: Terminal, control: Control) -> None:
    """A foreign buy lands on UNASSIGNED and keeps the side OK; a foreign sell beyond it is a MISMATCH."""
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.002", "clientOrderId": "web_in"})
    wait_until(lambda: any(v.id == unassigned_vp_id("BTCUSDT", PositionSide.LONG) and v.net_qty == D("0.002")
                           for v in terminal.sync.state().virtual_positions))
    wait_until(lambda: side_status(terminal) is SideStatus.OK, timeout=5)
