"""The ticket: sizing in contracts / USDT / % / risk, the instant local refusal, the command it sends."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hedgestack.domain.enums import OrderType, PositionSide
from hedgestack.ui.ticket import SizeUnit, TicketModel, check_stop_side, size_order
from tests.ui.fakes import BTC, D, vp

LONG = vp("a", "Trend", "0.010", "95000")
SHORT = vp("s", "Hedge", "0.004", "95000", side=PositionSide.SHORT)
MARK = D("95000")


def sized(unit: SizeUnit, amount: str, *, closing: bool = False, stop: str | None = None,
          available: str | None = "1000", leverage: str | None = "20", order_type: OrderType = OrderType.MARKET,
          reference: Decimal | None = MARK) -> Decimal | None:
    result = size_order(unit=unit, amount=D(amount), order_type=order_type, reference=reference, instrument=BTC,
                        closing=closing, vp_qty=D("0.010"), available=None if available is None else D(available),
                        leverage=None if leverage is None else D(leverage), stop=None if stop is None else D(stop))
    assert result.error is None, result.error
    return result.qty


def test_the_modules_worked_example() -> None:
    assert sized(SizeUnit.USDT, "1000") == D("0.010")
    assert sized(SizeUnit.PCT, "50") == D("0.105")  # 1000 × 0.5 × 20 ÷ 95000 = 0.10526 → down to the step
    assert sized(SizeUnit.RISK, "50", stop="94000") == D("0.050")  # 50 ÷ 1000
    assert sized(SizeUnit.QTY, "0.0123") == D("0.0123")  # contracts as typed (the filter check refuses it)
    assert sized(SizeUnit.PCT, "75", closing=True) == D("0.007")  # 75 % of the VP's 0.010, rounded down


@pytest.mark.parametrize(("unit", "amount", "kw", "error"), [
    (SizeUnit.PCT, "10", {"available": None}, "the available balance is not known yet"),
    (SizeUnit.RISK, "10", {}, "risk sizing needs a stop-loss price (tick SL)"),
    (SizeUnit.RISK, "10", {"stop": "95000"}, "the stop-loss is at the entry price"),
    (SizeUnit.RISK, "10", {"closing": True, "stop": "94000"}, "risk sizing is for entries"),
    (SizeUnit.USDT, "10", {"reference": None}, "no price to size at yet"),
    (SizeUnit.PCT, "101", {}, "at most 100 % of the available balance"),
])
def test_sizing_refusals(unit: SizeUnit, amount: str, kw: dict, error: str) -> None:
    args = {"closing": False, "stop": None, "available": D("1000"), "leverage": D("20"), "reference": MARK} | {
        k: (D(v) if isinstance(v, str) else v) for k, v in kw.items()}
    result = size_order(unit=unit, amount=D(amount), order_type=OrderType.MARKET, instrument=BTC,
                        vp_qty=D("0.010"), **args)
    assert result.qty is None and result.error is not None and result.error.startswith(error)


def test_market_buy_on_a_long_vp_opens() -> None:
    t = TicketModel(side="BUY", order_type="Market", size="0.010")
    req = t.build(LONG, BTC, MARK, D("1000"), D("20"))
    assert (req.command, req.args) == ("place_order", ("a", "BUY", "MARKET", "0.01", None))
    assert req.kwargs == {"time_in_force": None, "reduce_only": False}
    assert req.summary == "BUY 0.010 BTCUSDT LONG MARKET · open Trend"


def test_sell_on_a_long_vp_closes_and_a_percent_close_uses_close_vp() -> None:
    t = TicketModel(side="SELL", order_type="Limit", price="96000", size="50", unit="PCT")
    req = t.build(LONG, BTC, MARK, D("1000"), D("20"))
    assert (req.command, req.args) == ("close_vp", ("a", "LIMIT"))
    assert req.kwargs == {"percent": "50", "price": "96000", "time_in_force": "GTC"}
    t = TicketModel(side="SELL", order_type="Market", size="0.004")
    req = t.build(LONG, BTC, MARK, None, None)
    assert req.command == "place_order" and req.kwargs["reduce_only"] is True


def test_post_only_sends_gtx() -> None:
    t = TicketModel(side="BUY", order_type="Limit", price="94000", size="0.002", post_only=True)
    req = t.build(LONG, BTC, MARK, None, None)
    assert req.kwargs["time_in_force"] == "GTX" and req.summary.endswith("post-only · open Trend")


def test_attached_tpsl_comes_with_the_entry() -> None:
    t = TicketModel(side="SELL", order_type="Market", size="100", unit="USDT", tpsl=True, tp="93000", sl="96000")
    with pytest.raises(ValueError, match="^MIN_NOTIONAL"):  # 100 USDT rounds down to 0.001 = 95 USDT < 100
        t.build(SHORT, BTC, MARK, None, None)
    t.size = "200"
    req = t.build(SHORT, BTC, MARK, None, None)
    assert req.args == ("s", "SELL", "MARKET", "0.002", None)
    assert req.tpsl == {"tp_price": "93000", "sl_price": "96000"}
    t.sl = "94000"  # a SHORT's SL below the entry would fire at once
    with pytest.raises(ValueError, match="TPSL_SIDE: SL 94000 is not above the entry price 95000"):
        t.build(SHORT, BTC, MARK, None, None)


@pytest.mark.parametrize(("fields", "code"), [
    ({"order_type": "Limit", "price": "94000.05", "size": "0.002"}, "PRICE_TICK_SIZE"),
    ({"order_type": "Market", "size": "0.0015"}, "PRECISION"),
    ({"order_type": "Market", "size": "0.001"}, "MIN_NOTIONAL"),
    ({"order_type": "Limit", "price": "120000", "size": "0.002"}, "PERCENT_PRICE"),
    ({"order_type": "Stop market", "size": "0.002"}, "TRIGGER_PRICE_REQUIRED"),
    ({"order_type": "Stop market", "size": "200", "unit": "USDT"}, "SIZE"),  # no trigger: nothing to size at
    ({"order_type": "Market", "size": "abc"}, "SIZE"),
    ({"order_type": "Market", "size": "0.0004", "unit": "QTY"}, "PRECISION"),
])
def test_local_refusals_are_the_engines_filter_codes(fields: dict, code: str) -> None:
    t = TicketModel(side="BUY", **fields)
    with pytest.raises(ValueError, match=f"^{code}: "):
        t.build(LONG, BTC, MARK, D("1000"), D("20"))


def test_no_vp_and_the_system_vp_are_refused() -> None:
    t = TicketModel(size="0.002")
    with pytest.raises(ValueError, match="^NO_VP"):
        t.build(None, BTC, MARK, None, None)
    with pytest.raises(ValueError, match="^SYSTEM_VP"):
        t.build(vp("u", "UNASSIGNED", system=True), BTC, MARK, None, None)


def test_stop_side() -> None:
    assert check_stop_side(PositionSide.LONG, D("100"), D("110"), D("90")) is None
    assert check_stop_side(PositionSide.LONG, D("100"), D("95"), None) is not None
    assert check_stop_side(PositionSide.SHORT, D("100"), D("90"), D("110")) is None


def test_clear_keeps_side_and_type() -> None:
    t = TicketModel(side="SELL", order_type="Limit", price="1", size="2", tp="3", sl="4")
    t.clear()
    assert (t.side, t.order_type, t.price, t.size, t.tp, t.sl) == ("SELL", "Limit", "", "", "", "")
