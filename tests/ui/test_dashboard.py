"""The whole screen on a fake TerminalApi (no browser): one selection, the ticket's commands and final status,
TP/SL attached once the entry fills, hotkeys, a dragged TP line, notifications, refusals verbatim."""

from __future__ import annotations

from typing import Any

import pytest

from hedgestack.domain.enums import OrderStatus, PositionSide, Side
from hedgestack.domain.errors import VenueRejected
from hedgestack.engine.views import OrderAck
from hedgestack.ui.app import MARK_UI_INTERVAL, Dashboard
from tests.ui.fakes import FakeTerminal, env, ext, fill, order, state, vp


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda text, duration=0: self.seen.append((level, text))


@pytest.fixture
def board() -> Dashboard:
    snapshot = state(vps=[vp("a", "Trend", "0.010", "95000", tp="97000", sl="93000"), vp("b", "Swing"),
                          vp("s", "Hedge", "0.004", "95000", side=PositionSide.SHORT),
                          vp("e", "Eth", "1", "3500", symbol="ETHUSDT")],
                     externals=[ext("0.010"), ext("0.004", side=PositionSide.SHORT)])
    board = Dashboard(FakeTerminal(snapshot), theme="dark")
    board.main()
    board._notifications = Recorder()
    return board


def fake(board: Dashboard) -> FakeTerminal:
    assert isinstance(board.terminal, FakeTerminal)
    return board.terminal


def test_clicking_a_row_selects_the_vp_everywhere(board: Dashboard) -> None:
    assert board.selection.vp_id == "a"
    board.positions.grid.selected = "s"  # what a click in the browser sets
    assert board.selection.vp_id == "s"
    assert "Hedge" in board.actions.title.object and board.ticket.vp_select.value == "s"
    assert board.actions.inputs.tp_price == ""  # Hedge's own (empty) TP/SL, not Trend's
    widths = {line["id"]: line["width"] for line in board.chart.chart.lines}
    assert widths["entry:s"] == 2 and widths["entry:a"] == 1
    board.positions.grid.selected = "a"
    assert (board.actions.inputs.tp_price, board.actions.inputs.sl_price) == ("97000", "93000")
    board.positions.grid.selected = "e"  # an ETH VP: ticket and chart follow the symbol
    assert board.selection.symbol == "ETHUSDT" and board.ticket.symbol_select.value == "ETHUSDT"
    assert board.chart.chart.label == "ETHUSDT · 1m"


def test_ticket_market_order_and_its_final_status(board: Dashboard) -> None:
    t = fake(board)
    t.answers["place_order"] = OrderAck(order_id="1", client_order_id="VP-a-1", status=OrderStatus.NEW)
    board.ticket.t.param.update(side="BUY", order_type="Market", size="0.002")
    board.ticket.submit()
    [(args, kwargs)] = t.commands("place_order")
    assert args == ("a", "BUY", "MARKET", "0.002", None) and kwargs["reduce_only"] is False
    board.feed.flush()
    assert board.ticket.feedback.result.startswith("NEW · BUY 0.002 BTCUSDT LONG MARKET")
    t.publish(env("ORDER_UPSERT", order("VP-a-1", "a", type_=board.ticket.t.type, price=None, qty="0.002",
                                        status=OrderStatus.FILLED, filled="0.002", avg="95010.5")))
    board.feed.flush()
    assert "FILLED" in board.ticket.status.object and "95,010.5" in board.ticket.status.object


def test_a_local_refusal_sends_nothing(board: Dashboard) -> None:
    board.ticket.t.param.update(side="BUY", order_type="Limit", price="94000.05", size="0.002")
    board.ticket.submit()
    assert fake(board).commands("place_order") == []
    assert board.ticket.t.local_error.startswith("PRICE_TICK_SIZE: Price not increased by tick size")
    assert "PRICE_TICK_SIZE" in board.ticket.error_pane.object


def test_the_exchanges_refusal_is_shown_verbatim(board: Dashboard) -> None:
    fake(board).answers["place_order"] = VenueRejected("Margin is insufficient.", binance_code=-2019)
    board.ticket.t.param.update(side="BUY", order_type="Market", size="0.002")
    board.ticket.submit()
    board.feed.flush()
    assert board.ticket.feedback.error == "EXCHANGE_REJECTED: Binance -2019: Margin is insufficient."


def test_tpsl_attached_once_the_entry_fills(board: Dashboard) -> None:
    t = fake(board)
    board.selection.vp_id = "b"
    t.answers["place_order"] = OrderAck(order_id="2", client_order_id="VP-b-1", status=OrderStatus.NEW)
    board.ticket.t.param.update(side="BUY", order_type="Limit", price="94000", size="0.002", tpsl=True, tp="97000",
                                sl="92000")
    board.ticket.submit()
    board.feed.flush()
    assert t.commands("set_tpsl") == []  # a flat VP has no TP/SL until the entry fills
    t.publish(env("ORDER_UPSERT", order("VP-b-1", "b", qty="0.002", status=OrderStatus.PARTIALLY_FILLED,
                                        filled="0.001", avg="94000")))
    board.feed.flush()
    assert t.commands("set_tpsl") == [(("b",), {"tp_price": "97000", "sl_price": "92000"})]
    t.publish(env("ORDER_UPSERT", order("VP-b-1", "b", qty="0.002", status=OrderStatus.FILLED, filled="0.002")))
    board.feed.flush()
    assert len(t.commands("set_tpsl")) == 1  # once


def test_hotkeys(board: Dashboard) -> None:
    t = board.ticket
    t.on_key("S")
    assert t.t.side == "SELL" and "close Trend" in t.submit_button.label
    t.on_key("B")
    assert t.t.side == "BUY"
    t.t.param.update(order_type="Market", size="0.002", confirm=True)
    t.on_key("Enter")
    assert t.confirm.open and fake(board).commands("place_order") == []  # confirmation first
    t.on_key("Escape")
    assert not t.confirm.open
    t.on_key("Enter")
    t.on_key("Enter")  # the second Enter confirms
    assert len(fake(board).commands("place_order")) == 1
    t.on_key("Escape")
    assert t.t.size == ""


def test_esc_clears_what_the_browser_holds_too(board: Dashboard) -> None:
    """The browser reports a box's ``value_input`` only when it differs from what it last held: Esc must clear
    that too, or the same price typed again never reaches the ticket."""
    t = board.ticket
    price = t._inputs["price"]
    price.value_input = "94000.05"  # typed in the browser
    assert t.t.price == "94000.05"
    t.on_key("Escape")
    assert (t.t.price, price.value, price.value_input) == ("", "", "")


def test_dragging_the_tp_line_asks_then_moves_it(board: Dashboard) -> None:
    chart = board.chart
    chart.on_drag("tp:a", "96500.0")
    assert chart.confirm.open and "Move the TP of Trend from 97,000.0 to 96,500.0?" == chart.confirm.question
    assert fake(board).commands("set_tpsl") == []
    chart.confirm.confirm()
    assert fake(board).commands("set_tpsl") == [(("a",), {"tp_price": "96500.0"})]
    version = chart.chart.lines_version
    chart.on_drag("sl:a", "93500.0")
    chart.confirm.cancel()  # the line goes back
    assert chart.chart.lines_version == version + 1 and len(fake(board).commands("set_tpsl")) == 1


def test_a_click_on_the_chart_fills_the_tickets_price(board: Dashboard) -> None:
    board.chart.chart._handle_msg({"type": "click", "price": "94500.0"})
    assert (board.ticket.t.order_type, board.ticket.t.price) == ("Limit", "94500.0")


def test_notifications_for_fills(board: Dashboard) -> None:
    fake(board).publish(env("FILL", fill(9, "a", vp_name="Trend", side=Side.BUY, qty="0.002", cid="x")))
    board.feed.flush()
    assert board._notifications.seen == [("success", "Filled · Trend: BUY 0.002 BTCUSDT LONG @ 95,000.0")]


def test_locked_vp_disables_its_reducing_controls(board: Dashboard) -> None:
    fake(board).publish(env("VIRTUAL_POSITION_UPDATE", vp("a", "Trend", "0.010", "95000", locked=True)))
    board.feed.flush()
    buttons = board.actions._buttons
    assert all(buttons[k].disabled for k in ("close_25", "close_100", "close_custom", "set_tpsl", "clear_tpsl"))
    assert not buttons["transfer"].disabled and "MISMATCH" in board.actions.lock_note.object


def test_names_and_messages_are_text_not_markup() -> None:
    """A VP name is any printable text (the engine's rule): on screen it is escaped wherever HTML is built, and
    the exchange's refusal too."""
    snapshot = state(vps=[vp("x", "<img src=x onerror=alert(1)>", "0.010", "95000")], externals=[ext("0.010")])
    board = Dashboard(FakeTerminal(snapshot), theme="dark")
    board.main()
    assert "<img" not in board.actions.title.object and "&lt;img src=x" in board.actions.title.object
    assert "<img" not in board.ticket.hint.object and "&lt;img" in board.ticket.hint.object
    board.ticket.feedback.show(error="EXCHANGE_REJECTED: Binance -1111: <script>")
    board.ticket._show_feedback()
    assert "<script>" not in board.ticket.error_pane.object and "&lt;script&gt;" in board.ticket.error_pane.object


def test_action_card_sends_the_canonical_trigger_names(board: Dashboard) -> None:
    """LAST_PRICE / MARK_PRICE, which every TerminalApi takes (a connect client refuses LAST / MARK)."""
    board.positions.grid.selected = "a"
    board.actions.inputs.param.update(tp_price="97500", tp_trigger="LAST", sl_price="93500", sl_trigger="MARK")
    board.actions.set_tpsl()
    assert fake(board).commands("set_tpsl")[-1] == (("a",), {"tp_price": "97500", "tp_trigger_type": "LAST_PRICE",
                                                           "sl_price": "93500", "sl_trigger_type": "MARK_PRICE"})


class LaterDoc:
    """A server document that runs nothing by itself: the timeouts the dashboard asks for are kept."""

    def __init__(self) -> None:
        self.timeouts: list[Any] = []

    def add_timeout_callback(self, callback: Any, _ms: int) -> None:
        self.timeouts.append(callback)


def test_mark_moves_are_paced_together_and_a_fuller_update_is_never_held_back(board: Dashboard) -> None:
    from hedgestack.engine.views import MarkView
    from tests.ui.fakes import D

    doc = LaterDoc()
    board._doc = doc
    long_side = ("BTCUSDT", PositionSide.LONG)

    def mark(price: str) -> Any:
        return env("MARK_PRICE", MarkView(symbol="BTCUSDT", mark_price=D(price), funding_rate=D("0"),
                                          virtual_positions=()))

    board._apply([mark("96000")])  # the first mark after a quiet spell is shown at once
    assert board.model.marks["BTCUSDT"] == D("96000")
    # within MARK_UI_INTERVAL: the mark and the external position's mark figures wait, together
    board._apply([mark("96100"), env("EXTERNAL_POSITION_UPDATE", ext("0.010", mark_price=D("96100")))])
    assert board.model.marks["BTCUSDT"] == D("96000")
    assert board.model.externals[long_side].mark_price is None and len(doc.timeouts) == 1
    # a fill changes the quantity: shown at once, and the held (older) figures of that side are dropped
    board._apply([env("EXTERNAL_POSITION_UPDATE", ext("0.015", mark_price=D("96150")))])
    assert board.model.externals[long_side].qty == D("0.015")
    board._marks_shown -= MARK_UI_INTERVAL  # the timeout runs once the interval is over
    doc.timeouts.pop()()  # the held marks go out
    assert board.model.marks["BTCUSDT"] == D("96100")
    assert (board.model.externals[long_side].qty, board.model.externals[long_side].mark_price) == (
        D("0.015"), D("96150"))
