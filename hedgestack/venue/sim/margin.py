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
  *at LP*: when they differ from the ones used, LP is computed again with them (until it settles). No price
  (``None``, "0" on the wire) when the denominator is 0 or LP ≤ 0.

Worked example (reference §1.3): WB 10,000; LONG 1 @ 60,000; SHORT 0.4 @ 62,000 → with bracket 1 for both
sides (MMR 0.004, cum 0): LP = (10,000 − 60,000 + 24,800) / (0.004 + 0.0016 − 1 + 0.4) = 42,395.69...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from hedgestack.domain.numbers import ZERO
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
                      legs: Sequence[Leg], brackets: Sequence[Bracket], start: Decimal,
                      max_rounds: int = 20) -> Decimal | None:
    """Binance's cross-margin liquidation price of one symbol (see the module text), or None."""
    legs = [leg for leg in legs if leg.qty > 0]
    if not legs:
        return None
    guess = start
    chosen: tuple[Bracket, ...] | None = None
    price: Decimal | None = None
    for _ in range(max_rounds):
        picks = tuple(bracket_for(brackets, leg.qty * guess) for leg in legs)
        if picks == chosen:
            break
        chosen = picks
        numerator = wallet - other_maintenance + other_unrealized
        denominator = ZERO
        for leg, bracket in zip(legs, picks, strict=True):
            numerator += bracket.cum - leg.sign * leg.qty * leg.entry
            denominator += leg.qty * bracket.maint_margin_ratio - leg.sign * leg.qty
        if denominator == 0:
            return None
        price = numerator / denominator
        if price <= 0:
            return None
        guess = price
    return price


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
