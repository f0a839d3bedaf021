"""Binance's margin arithmetic for cross margin (Hedge Mode or one-way): brackets, margins, liquidation price.

Rules (reference/binance-usdm-risk-market.md §1):

- A position's bracket is the one whose [notionalFloor, notionalCap) holds its |notional| at the mark price
  (the last bracket beyond the last cap). Maintenance margin ``MM = |notional| × MMR − cum``.
- Initial margin ``IM = |notional| / leverage``; a leverage allows a position up to the cap of the highest
  bracket whose ``initialLeverage`` is at least that leverage (``maxNotionalValue``).
- Margin balance = wallet + unrealized PnL of every position; margin ratio = Σ MM / margin balance; the
  account is liquidated when the ratio reaches 100 %.
- Liquidation price of one symbol (its LONG and SHORT sides share it in cross margin), with WB the cross wallet,
  TMM1 / UPNL1 the maintenance and unrealized PnL of every *other* symbol, ``s`` = +1 long / −1 short:

      LP = (WB − TMM1 + UPNL1 + Σ cum − Σ s·q·EP) / (Σ q·MMR − Σ s·q)

  the price at which the margin balance equals the maintenance margin. The brackets are those of the notional
  *at LP*. The price axis is cut where a side's notional crosses a bracket cap; on each piece the brackets are
  fixed and the formula is linear, so LP is the formula's answer on the piece it falls in. One side alone has
  exactly one such price; hedged sides in high brackets can have two (a small net long whose maintenance grows
  faster than its profit is liquidated by a rise too): the one nearest the current mark is shown, the first the
  market can reach. No price (``None``, "0" on the wire) when there is none above 0.

Worked example (reference §1.3): WB 10,000; LONG 1 @ 60,000; SHORT 0.4 @ 62,000 → with bracket 1 for both
sides (MMR 0.004, cum 0): LP = (10,000 − 60,000 + 24,800) / (0.004 + 0.0016 − 1 + 0.4) = 42,395.69...
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from hedgestack.domain.numbers import ZERO

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hedgestack.venue.sim.symbols import Bracket


def bracket_for(brackets: Sequence[Bracket], notional: Decimal) -> Bracket:
    """The bracket that holds ``|notional|``."""
    value = abs(notional)
    for bracket in brackets:
        if value < bracket.notional_cap:
            return bracket
    return brackets[-1]


def maintenance_margin(brackets: Sequence[Bracket], notional: Decimal) -> Decimal:
    """``|notional| × MMR − cum`` of the bracket that holds the notional (0 for no position)."""
    if notional == 0:
        return ZERO
    bracket = bracket_for(brackets, notional)
    return abs(notional) * bracket.maint_margin_ratio - bracket.cum


def max_notional(brackets: Sequence[Bracket], leverage: int) -> Decimal:
    """The largest position notional a leverage allows (``maxNotionalValue``)."""
    allowed = [b.notional_cap for b in brackets if b.initial_leverage >= leverage]
    return max(allowed) if allowed else ZERO


def max_leverage(brackets: Sequence[Bracket]) -> int:
    return max(b.initial_leverage for b in brackets)


@dataclass(frozen=True, slots=True)
class Leg:
    """One position side of the symbol whose liquidation price is computed: ``sign`` +1 long, −1 short."""

    qty: Decimal  # unsigned
    entry: Decimal
    sign: int


def liquidation_price(*, wallet: Decimal, other_maintenance: Decimal, other_unrealized: Decimal,
                      legs: Sequence[Leg], brackets: Sequence[Bracket], start: Decimal) -> Decimal | None:
    """Binance's cross-margin liquidation price of one symbol (see the module text), or None."""
    legs = [leg for leg in legs if leg.qty > 0]
    if not legs:
        return None
    cuts = sorted({b.notional_cap / leg.qty for leg in legs for b in brackets[:-1]})
    bounds = [ZERO, *cuts]
    found: list[Decimal] = []
    # the table ends at the top bracket's cap: a price at which a leg would be worth more than any position may be
    # is no liquidation price (a hedged account's far root, e.g. hundreds of billions, is not shown)
    top = brackets[-1].notional_cap / max(leg.qty for leg in legs)
    bounds = [b for b in bounds if b < top]
    for i, low in enumerate(bounds):
        high = bounds[i + 1] if i + 1 < len(bounds) else top
        inside = (low + high) / 2  # (a cut itself may be rounded)
        picks = [bracket_for(brackets, leg.qty * inside) for leg in legs]
        numerator = wallet - other_maintenance + other_unrealized
        denominator = ZERO
        for leg, bracket in zip(legs, picks, strict=True):
            numerator += bracket.cum - leg.sign * leg.qty * leg.entry
            denominator += leg.qty * bracket.maint_margin_ratio - leg.sign * leg.qty
        if denominator == 0:
            continue
        price = numerator / denominator
        # a root on a cut may come out a rounding error outside both pieces it bounds: accept it on either
        slack = abs(price) * Decimal("1e-24")
        if price > 0 and price >= low - slack and price <= high + slack:
            found.append(price)
    if not found:
        return None
    return min(found, key=lambda p: (abs(p - start), p))


def bankruptcy_price(*, wallet: Decimal, other_unrealized: Decimal, legs: Sequence[Leg]) -> Decimal | None:
    """The price of the symbol at which the margin balance is 0 (others held), or None."""
    numerator = wallet + other_unrealized
    denominator = ZERO
    for leg in legs:
        numerator -= leg.sign * leg.qty * leg.entry
        denominator -= leg.sign * leg.qty
    if denominator == 0:
        return None
    price = numerator / denominator
    return price if price > 0 else None


__all__ = ["Leg", "bankruptcy_price", "bracket_for", "liquidation_price", "maintenance_margin", "max_leverage",
           "max_notional"]
