"""Funding: Binance's schedule, the rate from the premium index and the interest rate, and its history.

Rules (reference/binance-usdm-risk-market.md §2):

- Settlements at whole multiples of the symbol's interval since the Unix epoch: every 8 h at 00:00, 08:00
  and 16:00 UTC for an 8-hour symbol. ``speed`` accelerates the clock for demos and tests: the interval is
  divided by it (speed 480 settles every minute), still aligned on the epoch.
- Premium index, sampled at every market step: ``P = [max(0, impact bid − index) − max(0, index − impact
  ask)] / index``, impact price = the average price of filling ``200 USDT / IMR`` (IMR = 1 / max leverage;
  25,000 USDT for BTCUSDT) on that side of the book.
- Rate: ``F = P̄ + clamp(I − P̄, −0.05 %, +0.05 %)``, then within [−cap, +cap] with
  ``cap = 0.75 × (IMR − MMR)`` of the first bracket (0.30 % for BTCUSDT and ETHUSDT), rounded to 8 decimals.
  I, the interest rate, is 0.03 % a day: 0.01 % per 8-hour interval (scaled for other intervals).
- ``lastFundingRate`` (premiumIndex, markPrice stream) is the rate the coming settlement would use now; a
  settlement books ``F`` with the mark price, then the samples restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from hedgestack.domain.numbers import ZERO, D

EIGHT = Decimal("0.00000001")
DAILY_INTEREST = D("0.0003")
PREMIUM_BAND = D("0.0005")
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class FundingRow:
    """One settled funding (``GET /fapi/v1/fundingRate`` row)."""

    symbol: str
    rate: Decimal
    time: int
    mark: Decimal
    rate_type: str = "Regular"


@dataclass(slots=True)
class FundingState:
    """The funding of one symbol: schedule, premium samples, the rate shown and the settled history."""

    symbol: str
    interval_hours: int
    speed: float
    cap: Decimal
    next_time: int
    rate: Decimal  # the rate shown as lastFundingRate (the coming settlement's estimate, or a set one)
    fixed: bool = False  # a rate set through the control API or a replayed file: not recomputed
    premium_sum: Decimal = ZERO
    premium_count: int = 0
    history: list[FundingRow] = field(default_factory=list)

    @property
    def interval_ms(self) -> int:
        return max(1, int(self.interval_hours * HOUR_MS / self.speed))

    @property
    def interest(self) -> Decimal:
        """The interest rate of one interval (0.01 % for 8 hours)."""
        return (DAILY_INTEREST * self.interval_hours / 24).quantize(EIGHT, rounding=ROUND_HALF_UP)

    def sample(self, premium: Decimal) -> None:
        self.premium_sum += premium
        self.premium_count += 1
        if not self.fixed:
            self.rate = self.estimate()

    def estimate(self) -> Decimal:
        """``F`` from the premium samples so far (the interest rate alone before any sample)."""
        premium = self.premium_sum / self.premium_count if self.premium_count else ZERO
        interest = self.interest
        rate = premium + min(PREMIUM_BAND, max(-PREMIUM_BAND, interest - premium))
        rate = min(self.cap, max(-self.cap, rate))
        return rate.quantize(EIGHT, rounding=ROUND_HALF_UP)

    def settle(self, time: int, mark: Decimal, rate: Decimal | None = None) -> FundingRow:
        """Book a settlement at ``time``: ``rate`` or the current one; samples restart."""
        row = FundingRow(symbol=self.symbol, rate=self.rate if rate is None else rate, time=time, mark=mark)
        self.history.append(row)
        self.premium_sum = ZERO
        self.premium_count = 0
        self.fixed = False
        self.rate = self.estimate()
        if time >= self.next_time:
            self.next_time = next_funding_time(time, self.interval_ms)
        return row

    def set_rate(self, rate: Decimal) -> None:
        """A rate given from outside (control API, replayed file): shown and used until the settlement."""
        self.rate = rate
        self.fixed = True


def next_funding_time(now: int, interval_ms: int) -> int:
    """The first settlement time strictly after ``now`` on the epoch-aligned schedule."""
    return (now // interval_ms + 1) * interval_ms


def premium_index(index: Decimal, impact_bid: Decimal | None, impact_ask: Decimal | None) -> Decimal:
    """Binance's premium index of one sample (0 when the book is empty on a side)."""
    if index <= 0 or impact_bid is None or impact_ask is None:
        return ZERO
    return (max(ZERO, impact_bid - index) - max(ZERO, index - impact_ask)) / index


def rate_cap(max_leverage: int, first_mmr: Decimal) -> Decimal:
    """``0.75 × (IMR − MMR)`` at the maximum leverage."""
    return (D("0.75") * (Decimal(1) / max_leverage - first_mmr)).quantize(EIGHT, rounding=ROUND_HALF_UP)


def impact_notional(max_leverage: int) -> Decimal:
    """200 USDT divided by the initial margin rate at the maximum leverage."""
    return D("200") * max_leverage


__all__ = ["FundingRow", "FundingState", "impact_notional", "next_funding_time", "premium_index", "rate_cap"]
