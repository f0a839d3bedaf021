"""Exchange filters, checked before anything is sent (and by the simulator, with the same rules).

Problem: Binance refuses orders that break a symbol's filters, each with its own error code. Checking them
locally first means a bad order is refused with a clear message and nothing leaves the process.

Rules (Binance's "Filters" page, §5.2 of reference/binance-usdm.md):
- PRICE_FILTER {minPrice, maxPrice, tickSize}: more decimals than ``pricePrecision`` → -1111; below min
  → -4013; above max → -4002; ``(price - minPrice) % tickSize != 0`` → -4014. A 0 disables a rule.
- LOT_SIZE (MARKET_LOT_SIZE for MARKET orders) {minQty, maxQty, stepSize}: qty ≤ 0 → -4003; more decimals
  than ``quantityPrecision`` → -1111; below min → -4004; above max → -4005; off the step → -4023.
- MIN_NOTIONAL {notional}: price × qty (mark for MARKET) < notional → -4164, unless the order reduces a
  position (in Hedge Mode SELL+LONG and BUY+SHORT).
- PERCENT_PRICE {multiplierUp, multiplierDown}: BUY price > mark × up → -4016; SELL price < mark × down
  → -4024.

Worked example (BTCUSDT, tick 0.10, step 0.001, min notional 100, mark 95000):
LIMIT BUY 0.001 @ 95000.05 → -4014 (tick); BUY 0.0015 → -1111 (precision 3); BUY 0.001 @ 95000 → notional
95 < 100 → -4164; SELL+LONG 0.001 @ 95000 is a close, so notional is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from hedgestack.domain.enums import OrderType, Side
from hedgestack.domain.errors import FilterViolation
from hedgestack.domain.numbers import ZERO, D, to_str

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class LotSize:
    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


@dataclass(frozen=True, slots=True)
class SymbolFilters:
    """The filter values of one symbol, as exchangeInfo gives them."""

    symbol: str
    price_precision: int
    quantity_precision: int
    min_price: Decimal
    max_price: Decimal
    tick_size: Decimal
    lot: LotSize
    market_lot: LotSize
    min_notional: Decimal
    multiplier_up: Decimal
    multiplier_down: Decimal

    @classmethod
    def from_exchange_info(cls, symbol_info: Mapping[str, Any]) -> SymbolFilters:
        """Build from one element of exchangeInfo ``symbols``."""
        by_type = {f["filterType"]: f for f in symbol_info["filters"]}
        price = by_type["PRICE_FILTER"]
        lot = by_type["LOT_SIZE"]
        market = by_type.get("MARKET_LOT_SIZE", lot)
        notional = by_type.get("MIN_NOTIONAL", {"notional": "0"})
        percent = by_type.get("PERCENT_PRICE", {"multiplierUp": "0", "multiplierDown": "0"})
        return cls(
            symbol=symbol_info["symbol"],
            price_precision=int(symbol_info["pricePrecision"]),
            quantity_precision=int(symbol_info["quantityPrecision"]),
            min_price=D(price["minPrice"]),
            max_price=D(price["maxPrice"]),
            tick_size=D(price["tickSize"]),
            lot=LotSize(D(lot["minQty"]), D(lot["maxQty"]), D(lot["stepSize"])),
            market_lot=LotSize(D(market["minQty"]), D(market["maxQty"]), D(market["stepSize"])),
            min_notional=D(notional.get("notional", notional.get("minNotional", "0"))),
            multiplier_up=D(percent["multiplierUp"]),
            multiplier_down=D(percent["multiplierDown"]),
        )

    # -- rounding helpers -------------------------------------------------------------------------
    def round_qty_down(self, qty: Decimal, order_type: OrderType = OrderType.LIMIT) -> Decimal:
        """Round a quantity down to the step (a close never rounds up past the VP)."""
        step = (self.market_lot if order_type is OrderType.MARKET else self.lot).step_size
        if step == 0:
            return qty
        return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step

    def round_price(self, price: Decimal) -> Decimal:
        """Round a price to the nearest tick (for display helpers and UI defaults)."""
        if self.tick_size == 0:
            return price
        return (price / self.tick_size).to_integral_value() * self.tick_size

    # -- checks -----------------------------------------------------------------------------------
    def check_price(self, price: Decimal, *, what: str = "price") -> None:
        """Check a limit or trigger price against PRICE_FILTER."""
        _check_precision(price, self.price_precision, what)
        if price <= 0:
            raise FilterViolation(f"{what} {to_str(price)} must be positive", code="PRICE_NOT_POSITIVE",
                                  binance_code=-4013, symbol=self.symbol)
        if self.min_price and price < self.min_price:
            raise FilterViolation(f"Price less than min price: {what} {to_str(price)} < "
                                  f"{to_str(self.min_price)}", code="PRICE_BELOW_MIN",
                                  binance_code=-4013, symbol=self.symbol)
        if self.max_price and price > self.max_price:
            raise FilterViolation(f"Price greater than max price: {what} {to_str(price)} > "
                                  f"{to_str(self.max_price)}", code="PRICE_ABOVE_MAX",
                                  binance_code=-4002, symbol=self.symbol)
        if self.tick_size and (price - self.min_price) % self.tick_size != 0:
            raise FilterViolation(f"Price not increased by tick size: {what} {to_str(price)}, tick "
                                  f"{to_str(self.tick_size)}", code="PRICE_TICK_SIZE",
                                  binance_code=-4014, symbol=self.symbol)

    def check_qty(self, qty: Decimal, order_type: OrderType) -> None:
        """Check a quantity against LOT_SIZE (MARKET_LOT_SIZE for MARKET orders)."""
        lot = self.market_lot if order_type is OrderType.MARKET else self.lot
        if qty <= 0:
            raise FilterViolation(f"Quantity less than zero: {to_str(qty)}", code="QTY_NOT_POSITIVE",
                                  binance_code=-4003, symbol=self.symbol)
        _check_precision(qty, self.quantity_precision, "quantity")
        if lot.min_qty and qty < lot.min_qty:
            raise FilterViolation(f"Quantity less than min quantity: {to_str(qty)} < {to_str(lot.min_qty)}",
                                  code="QTY_BELOW_MIN", binance_code=-4004, symbol=self.symbol)
        if lot.max_qty and qty > lot.max_qty:
            raise FilterViolation(f"Quantity greater than max quantity: {to_str(qty)} > "
                                  f"{to_str(lot.max_qty)}", code="QTY_ABOVE_MAX", binance_code=-4005,
                                  symbol=self.symbol)
        if lot.step_size and (qty - lot.min_qty) % lot.step_size != 0:
            raise FilterViolation(f"Qty not increased by step size: {to_str(qty)}, step "
                                  f"{to_str(lot.step_size)}", code="QTY_STEP_SIZE", binance_code=-4023,
                                  symbol=self.symbol)

    def check_order(self, *, side: Side, order_type: OrderType, qty: Decimal, price: Decimal | None,
                    trigger_price: Decimal | None, mark: Decimal | None, reduces: bool) -> None:
        """Check every filter for one order. ``reduces``: SELL+LONG or BUY+SHORT in Hedge Mode."""
        if order_type.has_limit_price:
            if price is None:
                raise FilterViolation(f"{order_type} needs a price", code="PRICE_REQUIRED",
                                      binance_code=-1102, symbol=self.symbol)
            self.check_price(price)
        if order_type.is_conditional:
            if trigger_price is None:
                raise FilterViolation(f"{order_type} needs a trigger price", code="TRIGGER_PRICE_REQUIRED",
                                      binance_code=-1102, symbol=self.symbol)
            self.check_price(trigger_price, what="triggerPrice")
        self.check_qty(qty, order_type)
        reference = price if order_type.has_limit_price else (trigger_price or mark)
        if not reduces and self.min_notional and reference is not None:
            notional = reference * qty
            if notional < self.min_notional:
                raise FilterViolation(
                    f"Order's notional must be no smaller than {to_str(self.min_notional)} (unless you "
                    f"choose reduce only): {to_str(qty)} x {to_str(reference)} = {to_str(notional)}",
                    code="MIN_NOTIONAL", binance_code=-4164, symbol=self.symbol)
        if order_type is OrderType.LIMIT and price is not None and mark is not None:
            self.check_percent_price(side, price, mark)

    def check_percent_price(self, side: Side, price: Decimal, mark: Decimal) -> None:
        if side is Side.BUY and self.multiplier_up and price > mark * self.multiplier_up:
            raise FilterViolation(f"Price is higher than mark price multiplier cap: {to_str(price)} > "
                                  f"{to_str(mark * self.multiplier_up)}", code="PERCENT_PRICE",
                                  binance_code=-4016, symbol=self.symbol)
        if side is Side.SELL and self.multiplier_down and price < mark * self.multiplier_down:
            raise FilterViolation(f"Price is lower than mark price multiplier floor: {to_str(price)} < "
                                  f"{to_str(mark * self.multiplier_down)}", code="PERCENT_PRICE",
                                  binance_code=-4024, symbol=self.symbol)


def _check_precision(value: Decimal, places: int, what: str) -> None:
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise FilterViolation(f"Precision is over the maximum defined for this asset: {what} "
                              f"{to_str(value)} has more than {places} decimals", code="PRECISION",
                              binance_code=-1111)


__all__ = ["LotSize", "SymbolFilters", "ZERO"]
