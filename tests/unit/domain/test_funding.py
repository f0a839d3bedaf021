"""Funding split (the funding module docstring's example, and its edges)."""

from __future__ import annotations

from decimal import Decimal

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.funding import split_funding
from hedgestack.domain.ids import unassigned_vp_id
from hedgestack.domain.ledger import fold
from tests.factories import VP_A, VP_B, VP_C, fill, vp

D = Decimal
UL = unassigned_vp_id("BTCUSDT", PositionSide.LONG)
US = unassigned_vp_id("BTCUSDT", PositionSide.SHORT)


def ledger():
    return fold([vp(VP_A), vp(VP_B), vp(VP_C, side=PositionSide.SHORT), fill(VP_A, "BUY", "2", "100"),
                 fill(VP_B, "BUY", "1", "100"), fill(VP_C, "SELL", "1", "100", position_side="SHORT")])


def test_split_matches_exchange_amount() -> None:
    # a −2·100·0.0001 = −0.02, b −0.01, c +0.01: Σ −0.02 = the amount
    allocations = dict(split_funding(ledger(), "BTCUSDT", D("-0.02"), D("0.0001"), D(100)))
    assert allocations == {VP_A: D("-0.02"), VP_B: D("-0.01"), VP_C: D("0.01")}


def test_rounding_difference_goes_to_unassigned_of_larger_side() -> None:
    allocations = dict(split_funding(ledger(), "BTCUSDT", D("-0.021"), D("0.0001"), D(100)))
    assert allocations[UL] == D("-0.001")
    assert sum(allocations.values()) == D("-0.021")


def test_larger_short_side_takes_the_remainder() -> None:
    book = fold([vp(VP_C, side=PositionSide.SHORT), fill(VP_C, "SELL", "3", "100", position_side="SHORT")])
    allocations = dict(split_funding(book, "BTCUSDT", D("0.031"), D("0.0001"), D(100)))
    assert allocations == {VP_C: D("0.03"), US: D("0.001")}


def test_implied_rate_when_unknown() -> None:
    # net long 2 (3 long − 1 short): amount −0.02 ⇒ mark·rate = 0.01
    allocations = dict(split_funding(ledger(), "BTCUSDT", D("-0.02"), None, None))
    assert allocations == {VP_A: D("-0.02"), VP_B: D("-0.01"), VP_C: D("0.01")}


def test_nobody_holds_anything() -> None:
    allocations = split_funding(fold([vp(VP_A)]), "BTCUSDT", D("-0.5"), D("0.0001"), D(100))
    assert allocations == ((UL, D("-0.5")),)
