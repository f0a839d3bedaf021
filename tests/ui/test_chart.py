"""The chart shows the trade: every VP's entry and TP/SL, liquidation prices, resting orders, fills."""

from __future__ import annotations

from hedgestack.domain.enums import OrderRole, OrderType, PositionSide, Side
from hedgestack.ui.chart import chart_lines, chart_markers, drag_target, price_format
from hedgestack.ui.models import AccountModel
from tests.ui.fakes import BTC, INSTRUMENTS, D, fill, order, state, vp
from tests.ui.fakes import ext as ext_view


def model() -> AccountModel:
    m = AccountModel(["BTCUSDT", "ETHUSDT"], INSTRUMENTS)
    m.load(state(
        vps=[vp("a", "Trend", "0.010", "95000.55", tp="97000", sl="93000"),
             vp("l", "Locked", "0.002", "95000", tp="99000", locked=True),
             vp("s", "Hedge", "0.004", "95100", side=PositionSide.SHORT), vp("f", "Flat"),
             vp("e", "Eth", "1", "3500", symbol="ETHUSDT")],
        externals=[ext_view("0.012", "95000", liquidation_price=D("61234.56"), leverage=D("20")),
                   ext_view("0.004", "95100", side=PositionSide.SHORT)],
        orders=[order("lim", "a", price="94000", qty="0.005", filled="0.002"),
                order("tp", "a", role=OrderRole.TP, side=Side.SELL, type_=OrderType.TAKE_PROFIT_MARKET, price=None,
                      trigger="97000"),
                order("stp", "s", side=Side.BUY, type_=OrderType.STOP_MARKET, price=None, trigger="96000",
                      position_side=PositionSide.SHORT)],
        fills=[fill(1, "a", vp_name="Trend"), fill(2, "e", vp_name="Eth", symbol="ETHUSDT")]))
    return m


def test_lines_of_the_symbol() -> None:
    lines = {line["id"]: line for line in chart_lines(model(), "BTCUSDT", "a")}
    assert set(lines) == {"entry:a", "tp:a", "sl:a", "entry:l", "tp:l", "entry:s", "liq:LONG", "order:lim",
                          "order:stp"}  # the TP leg is the TP line; flat VPs and ETH are not drawn
    assert lines["entry:a"]["title"] == "Trend L 0.010 @ 95,000.6" and lines["entry:a"]["width"] == 2
    assert lines["entry:s"]["width"] == 1  # not selected
    assert (lines["tp:a"]["title"], lines["tp:a"]["drag"]) == ("TP 97,000.0 · Trend", True)
    assert lines["tp:l"]["drag"] is False  # a locked VP's TP/SL cannot be moved
    assert lines["liq:LONG"]["title"] == "Liq. LONG 61,234.6"
    assert lines["order:lim"]["title"] == "BUY 0.003 @ 94,000.0 · Trend"  # what remains
    assert lines["order:stp"]["title"] == "STOP BUY 0.010 @ 96,000.0 · Hedge"


def test_markers_and_format() -> None:
    assert chart_markers(model(), "BTCUSDT") == [{"t": 1_760_000_000_000, "side": "BUY", "text": "B 0.010 Trend"}]
    assert price_format(BTC) == (1, 0.1)


def test_drag_target() -> None:
    assert drag_target("tp:VP1") == ("tp", "VP1") and drag_target("sl:VP1") == ("sl", "VP1")
    assert drag_target("entry:VP1") is None and drag_target("tp:") is None
