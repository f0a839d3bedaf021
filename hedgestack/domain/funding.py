"""Funding split: one settlement per symbol, shared out over the VPs of both sides.

Problem: Binance reports one funding amount per symbol, without positionSide (income FUNDING_FEE rows and
ACCOUNT_UPDATE m=FUNDING_FEE), while each VP must carry its own funding.

Rule (DESIGN.md): each VP of the symbol gets ``−d · q · mark · rate`` with that funding time's rate and
mark (longs pay, shorts receive when the rate is positive). Whatever differs between that sum and the amount
Binance reports (Binance rounds to 8 decimals; a position the ledger did not know) goes to the UNASSIGNED
VP of the larger side, so the allocations always add up exactly to the exchange's amount. When the rate or
mark is unknown the product ``mark · rate`` is implied from the amount and the net exposure.

Worked example: mark 100, rate 0.0001; LONG VP a holds 2, LONG VP b 1, SHORT VP c 1. a −0.02, b −0.01,
c +0.01, Σ −0.02. Binance reports −0.02000000 → nothing left over. Had it reported −0.021, the −0.001
would go to UNASSIGNED LONG (LONG holds 3 > SHORT 1).
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.ids import unassigned_vp_id
from hedgestack.domain.ledger import COST_QUANTUM, DIVISION_CONTEXT, LEDGER_CONTEXT, Ledger
from hedgestack.domain.numbers import ZERO


def split_funding(ledger: Ledger, symbol: str, amount: Decimal, rate: Decimal | None,
                  mark: Decimal | None) -> tuple[tuple[str, Decimal], ...]:
    """Return ``(vp_id, amount)`` pairs summing exactly to ``amount``; VPs with nothing get nothing."""
    with localcontext(LEDGER_CONTEXT):  # every product and sum below is exact (or raises)
        return _split(ledger, symbol, amount, rate, mark)


def _split(ledger: Ledger, symbol: str, amount: Decimal, rate: Decimal | None,
           mark: Decimal | None) -> tuple[tuple[str, Decimal], ...]:
    holders = [vp for vp in ledger.vps.values() if vp.symbol == symbol and vp.qty > 0]
    long_qty = sum((vp.qty for vp in holders if vp.position_side is PositionSide.LONG), ZERO)
    short_qty = sum((vp.qty for vp in holders if vp.position_side is PositionSide.SHORT), ZERO)
    if rate is not None and mark is not None:
        unit = mark * rate
    elif long_qty != short_qty:
        # amount = −unit · (long − short)
        unit = DIVISION_CONTEXT.divide(-amount, long_qty - short_qty).quantize(COST_QUANTUM, context=DIVISION_CONTEXT)
    else:
        unit = ZERO
    allocations: list[tuple[str, Decimal]] = []
    for vp in holders:
        share = -vp.sign * vp.qty * unit
        if share:
            allocations.append((vp.vp_id, share))
    remainder = amount - sum((share for _, share in allocations), ZERO)
    if remainder:
        larger = PositionSide.LONG if long_qty >= short_qty else PositionSide.SHORT
        target = unassigned_vp_id(symbol, larger)
        for index, (vp_id, share) in enumerate(allocations):
            if vp_id == target:
                allocations[index] = (vp_id, share + remainder)
                break
        else:
            allocations.append((target, remainder))
    return tuple(allocations)
