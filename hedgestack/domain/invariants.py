"""The invariants of DESIGN.md as plain checks, run after every test step and behind a debug flag live.

1. Σ VP.net_qty (incl. UNASSIGNED) == exchange position, per side (when exchange figures are given).
2. VP.net_qty ≥ 0 and cost ≥ 0; a flat VP has cost 0.
3. For each VP: open closing orders + max(TP qty, SL qty) ≤ net_qty.
4. Fills are applied once: the fill count of the VPs equals the number of distinct trades.
(5, the intent stored before sending, is a property of the terminal and is tested there.)
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from hedgestack.domain.rules import open_close_qty, open_tpsl_qty

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hedgestack.domain.enums import PositionSide
    from hedgestack.domain.ledger import Ledger


def check_invariants(ledger: Ledger,
                     exchange: Mapping[tuple[str, PositionSide], Decimal] | None = None) -> list[str]:
    """Return a description of every broken invariant (empty when all hold)."""
    problems: list[str] = []
    for vp in ledger.vps.values():
        if vp.qty < 0:
            problems.append(f"2: {vp.vp_id} has negative qty {vp.qty}")
        if vp.cost < 0 or (vp.qty == 0 and vp.cost != 0):
            problems.append(f"2: {vp.vp_id} has cost {vp.cost} at qty {vp.qty}")
        covered = open_close_qty(ledger, vp.vp_id) + open_tpsl_qty(ledger, vp.vp_id)
        if covered > vp.qty:
            problems.append(f"3: {vp.vp_id} closing orders + TP/SL cover {covered} > net_qty {vp.qty}")
    if sum(vp.fill_count for vp in ledger.vps.values()) != ledger.trade_count:
        problems.append("4: fill count differs from the number of distinct trades")
    if exchange is not None:
        sides = set(exchange) | ledger.sides()
        for symbol, side in sorted(sides):
            ours = ledger.side_qty(symbol, side)
            theirs = exchange.get((symbol, side), Decimal(0))
            if ours != theirs:
                problems.append(f"1: {symbol} {side} VPs hold {ours}, the exchange {theirs}")
    return problems
