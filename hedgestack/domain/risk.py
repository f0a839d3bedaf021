"""Risk figures of a VP: notional, the margin it ties up, ROE % and PnL %.

A VP has no margin of its own on Binance: the exchange margins the whole side (cross, Hedge Mode). hedgestack
gives each VP the share its quantity would need at the side's leverage, the way Binance's position screen
computes a position's figures:

- ``notional = net_qty × mark``;
- ``initial_margin = notional ÷ leverage`` (the side's leverage; unknown leverage → no margin figures);
- ``roe_pct = unrealized ÷ initial_margin × 100`` (Binance's "ROE");
- ``pnl_pct = (net PnL + unrealized) ÷ cost × 100``: everything the VP has made (realized − fees + funding, plus
  what is open) on the cost of what it holds (``net_qty × avg_entry``); none when flat.

Worked example: LONG 0.010 BTC @ 95,000 (cost 950), mark 96,000, leverage 20, realized 0, fees 0.38:
notional 960, initial margin 48, uPnL 10, ROE 20.83333333 %, PnL % (−0.38 + 10) ÷ 950 = 1.01263158 %.

Percentages are rounded half-even to 8 decimal places (a display figure; the inputs stay exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal

from hedgestack.domain.numbers import HUNDRED, ZERO

_PCT = Decimal("1e-8")
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class VpRisk:
    notional: Decimal | None
    initial_margin: Decimal | None
    roe_pct: Decimal | None
    pnl_pct: Decimal | None


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole == 0:
        return None
    return _CONTEXT.divide(part * HUNDRED, whole).quantize(_PCT, context=_CONTEXT)


def vp_risk(*, net_qty: Decimal, cost: Decimal, unrealized: Decimal, net_pnl: Decimal, mark: Decimal | None,
            leverage: Decimal | None) -> VpRisk:
    """The risk figures of a VP holding ``net_qty`` at ``cost``, at ``mark`` and the side's ``leverage``."""
    if mark is None or net_qty == 0:
        return VpRisk(None if mark is None else ZERO, None if mark is None or leverage is None else ZERO, None,
                      None)
    notional = net_qty * mark
    margin = None if leverage is None or leverage <= 0 else _CONTEXT.divide(notional, leverage)
    roe = None if margin is None else _pct(unrealized, margin)
    return VpRisk(notional, margin, roe, _pct(net_pnl + unrealized, cost))
