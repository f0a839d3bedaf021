"""Exchange filters with BTCUSDT's values (reference §5.3)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hedgestack.domain.enums import OrderType, Side
from hedgestack.domain.errors import FilterViolation
from hedgestack.domain.filters import SymbolFilters

BTC_INFO = {
    "symbol": "BTCUSDT", "pricePrecision": 2, "quantityPrecision": 3,
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"},
        {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000", "minQty": "0.001"},
        {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.001", "maxQty": "120", "minQty": "0.001"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MIN_NOTIONAL", "notional": "100"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
         "multiplierDecimal": "4"},
    ],
}
BTC = SymbolFilters.from_exchange_info(BTC_INFO)
D = Decimal
MARK = D(95000)


def check(side: Side, order_type: OrderType, qty: str, price: str | None = None, *, reduces: bool = False,
          trigger: str | None = None) -> None:
    BTC.check_order(side=side, order_type=order_type, qty=D(qty), price=None if price is None else D(price),
                    trigger_price=None if trigger is None else D(trigger), mark=MARK, reduces=reduces)


@pytest.mark.parametrize(("args", "code", "binance"), [
    ((Side.BUY, OrderType.LIMIT, "0.002", "95000.05"), "PRICE_TICK_SIZE", -4014),
    ((Side.BUY, OrderType.LIMIT, "0.002", "95000.001"), "PRECISION", -1111),
    ((Side.BUY, OrderType.LIMIT, "0.0015", "95000"), "PRECISION", -1111),
    ((Side.BUY, OrderType.LIMIT, "0.001", "95000"), "MIN_NOTIONAL", -4164),  # 95 < 100
    ((Side.BUY, OrderType.LIMIT, "0", "95000"), "QTY_NOT_POSITIVE", -4003),
    ((Side.BUY, OrderType.LIMIT, "1001", "95000"), "QTY_ABOVE_MAX", -4005),
    ((Side.BUY, OrderType.MARKET, "121"), "QTY_ABOVE_MAX", -4005),  # MARKET_LOT_SIZE max 120
    ((Side.BUY, OrderType.LIMIT, "0.01", "500"), "PRICE_BELOW_MIN", -4013),
    ((Side.BUY, OrderType.LIMIT, "0.01", "99751"), "PERCENT_PRICE", -4016),  # > 95000 × 1.05 = 99750
    ((Side.SELL, OrderType.LIMIT, "0.01", "90249"), "PERCENT_PRICE", -4024),  # < 95000 × 0.95 = 90250
])
def test_refusals_carry_binance_codes(args: tuple, code: str, binance: int) -> None:
    with pytest.raises(FilterViolation) as info:
        check(*args)
    assert (info.value.code, info.value.binance_code) == (code, binance)


def test_accepted_orders() -> None:
    check(Side.BUY, OrderType.LIMIT, "0.002", "95000.1")  # notional 190.0002
    check(Side.BUY, OrderType.MARKET, "0.002")  # 0.002 × mark 95000 = 190
    check(Side.SELL, OrderType.LIMIT, "0.001", "95000", reduces=True)  # a close: notional not checked
    check(Side.SELL, OrderType.STOP_MARKET, "0.001", trigger="90000", reduces=True)


def test_conditional_needs_trigger() -> None:
    with pytest.raises(FilterViolation) as info:
        check(Side.SELL, OrderType.STOP_MARKET, "0.001", reduces=True)
    assert info.value.code == "TRIGGER_PRICE_REQUIRED"


def test_rounding_down_to_step() -> None:
    assert BTC.round_qty_down(D("0.0075")) == D("0.007")
    assert BTC.round_qty_down(D("0.0009")) == 0
    assert BTC.round_price(D("95000.06")) == D("95000.1")
