"""The account's margin figures, read from its state (nothing here changes it).

Figures (cross margin, reference/binance-usdm-risk-market.md §1 and margin.py):

- notional = signed amount × mark; unrealized = amount × (mark − entry) × d (d = +1 long, −1 short);
- position initial margin = |notional| / leverage of the symbol; open-order initial margin = Σ remaining ×
  price / leverage of the opening orders (BUY+LONG, SELL+SHORT; both directions in one-way mode);
- maintenance margin = |notional| × MMR − cum of the side's bracket;
- margin balance = wallet + Σ unrealized; margin ratio = Σ maintenance / margin balance;
- availableBalance = max(0, margin balance − position IM − open-order IM); maxWithdrawAmount =
  max(0, min(availableBalance, wallet − position IM − open-order IM));
- breakEvenPrice = entry + d × (commission paid on the fills that built the position) / amount (the API's own
  examples: a long entered at 0.385 as maker at 0.02 % shows 0.385077);
- liquidation price: margin.liquidation_price with the other symbols' maintenance and PnL held at the mark.
- ADL quantile (0-4): 0 when flat or losing, else by the side's return on its initial margin (< 10 % → 1,
  < 50 % → 2, < 100 % → 3, else 4); the simulator has no other traders to rank against.

Money is rounded half-up to 8 decimals where it is shown; comparisons use exact values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from hedgestack.domain.numbers import ZERO
from hedgestack.venue.sim import margin

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from hedgestack.venue.sim.state import AccountState, SimMarket, SimOrder, SimPosition
    from hedgestack.venue.sim.symbols import SymbolSpec

EIGHT = Decimal("0.00000001")


def money(value: Decimal) -> Decimal:
    """Round a money amount half-up to 8 decimals."""
    return value.quantize(EIGHT, rounding=ROUND_HALF_UP)


def side_sign(position_side: str) -> int:
    return -1 if position_side == "SHORT" else 1


def closing_side(position_side: str) -> str:
    return "SELL" if position_side == "LONG" else "BUY"


def opens(order: SimOrder) -> bool:
    """An order that can add to a position (everything but Hedge Mode closes and one-way reduce-only)."""
    if order.position_side == "BOTH":
        return not order.reduce_only
    return order.side != closing_side(order.position_side)


@dataclass(frozen=True, slots=True)
class Totals:
    wallet: Decimal
    unrealized: Decimal
    position_im: Decimal
    order_im: Decimal
    maintenance: Decimal

    @property
    def margin_balance(self) -> Decimal:
        return self.wallet + self.unrealized

    @property
    def available(self) -> Decimal:
        return max(ZERO, self.margin_balance - self.position_im - self.order_im)

    @property
    def max_withdraw(self) -> Decimal:
        return max(ZERO, min(self.available, self.wallet - self.position_im - self.order_im))


class Risk:
    """Margin figures of one account (see the module text)."""

    def __init__(self, specs: Mapping[str, SymbolSpec], markets: Mapping[str, SimMarket],
                 account: Callable[[], AccountState], default_leverage: int) -> None:
        self.specs = specs
        self.markets = markets
        self._account = account
        self.default_leverage = default_leverage

    @property
    def account(self) -> AccountState:
        return self._account()

    # == per symbol ====================================================================================
    def leverage(self, symbol: str) -> int:
        spec = self.specs[symbol]
        return self.account.leverage.get(symbol, min(self.default_leverage, spec.max_leverage))

    def max_notional(self, symbol: str) -> Decimal:
        return margin.max_notional(self.specs[symbol].brackets, self.leverage(symbol))

    # == per position ==================================================================================
    @staticmethod
    def signed(pos: SimPosition) -> Decimal:
        return -pos.amount if pos.position_side == "SHORT" else pos.amount

    def notional(self, pos: SimPosition) -> Decimal:
        return self.signed(pos) * self.markets[pos.symbol].mark

    def unrealized(self, pos: SimPosition) -> Decimal:
        if pos.amount == 0:
            return ZERO
        mark = self.markets[pos.symbol].mark
        return money(self.signed(pos) * (mark - pos.entry_price))

    def position_im(self, pos: SimPosition) -> Decimal:
        return abs(self.notional(pos)) / self.leverage(pos.symbol)

    def maintenance(self, pos: SimPosition) -> Decimal:
        return margin.maintenance_margin(self.specs[pos.symbol].brackets, self.notional(pos))

    def break_even(self, pos: SimPosition) -> Decimal:
        if pos.amount == 0:
            return ZERO
        amount = abs(pos.amount)
        direction = side_sign(pos.position_side) if pos.position_side != "BOTH" else (1 if pos.amount > 0 else -1)
        return pos.entry_price + direction * pos.open_fees / amount

    def adl_quantile(self, pos: SimPosition) -> int:
        if pos.amount == 0:
            return 0
        pnl = self.unrealized(pos)
        im = self.position_im(pos)
        if pnl <= 0 or im <= 0:
            return 0
        ratio = pnl / im
        return 1 if ratio < Decimal("0.1") else 2 if ratio < Decimal("0.5") else 3 if ratio < 1 else 4

    # == orders ========================================================================================
    def order_im(self, orders: list[SimOrder], symbol: str | None = None) -> Decimal:
        total = ZERO
        for order in orders:
            if symbol is not None and order.symbol != symbol:
                continue
            if order.price > 0 and opens(order):
                total += order.remaining * order.price / self.leverage(order.symbol)
        return total

    # == the account ===================================================================================
    def positions(self) -> list[SimPosition]:
        return [p for p in self.account.positions.values() if p.amount != 0]

    def totals(self, open_orders: list[SimOrder]) -> Totals:
        held = self.positions()
        return Totals(
            wallet=self.account.wallet,
            unrealized=sum((self.unrealized(p) for p in held), ZERO),
            position_im=sum((self.position_im(p) for p in held), ZERO),
            order_im=self.order_im(open_orders),
            maintenance=sum((self.maintenance(p) for p in held), ZERO))

    def margin_ratio(self) -> Decimal | None:
        """Σ maintenance / margin balance (None without a position); ≥ 1 means liquidation."""
        held = self.positions()
        if not held:
            return None
        maintenance = sum((self.maintenance(p) for p in held), ZERO)
        balance = self.account.wallet + sum((self.unrealized(p) for p in held), ZERO)
        if balance <= 0:
            return Decimal("Infinity")
        return maintenance / balance

    def liquidation_price(self, symbol: str) -> Decimal | None:
        """The symbol's liquidation price (shared by its LONG and SHORT sides), or None."""
        held = self.positions()
        mine = [p for p in held if p.symbol == symbol]
        if not mine:
            return None
        others = [p for p in held if p.symbol != symbol]
        legs = [margin.Leg(qty=abs(p.amount), entry=p.entry_price,
                           sign=side_sign(p.position_side) if p.position_side != "BOTH" else
                           (1 if p.amount > 0 else -1)) for p in mine]
        return margin.liquidation_price(
            wallet=self.account.wallet,
            other_maintenance=sum((self.maintenance(p) for p in others), ZERO),
            other_unrealized=sum((self.unrealized(p) for p in others), ZERO),
            legs=legs, brackets=self.specs[symbol].brackets, start=self.markets[symbol].mark)

    def bankruptcy_price(self, symbol: str) -> Decimal | None:
        held = self.positions()
        mine = [p for p in held if p.symbol == symbol]
        others = [p for p in held if p.symbol != symbol]
        legs = [margin.Leg(qty=abs(p.amount), entry=p.entry_price,
                           sign=side_sign(p.position_side) if p.position_side != "BOTH" else
                           (1 if p.amount > 0 else -1)) for p in mine]
        return margin.bankruptcy_price(wallet=self.account.wallet,
                                       other_unrealized=sum((self.unrealized(p) for p in others), ZERO),
                                       legs=legs)


__all__ = ["Risk", "Totals", "closing_side", "money", "opens", "side_sign"]
