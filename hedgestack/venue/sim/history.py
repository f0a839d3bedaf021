"""Candles of every interval and the public trade tape, consistent with the market model.

Problem: clients ask for up to 1,500 candles of any interval (``fetch_ohlcv('1h', limit=100)``), and the
candles of different intervals must agree (an hour is its sixty minutes).

Model:

- History before the simulator started is generated once per symbol, backwards from its start price, at three
  resolutions: 90,000 minutes (62.5 days: 1,500 hours), then 18,000 older hours (750 days: 1,500 half-days),
  then 45,660 older days (1,500 months). Minutes and hours are a random walk of the log price with the market's
  yearly volatility; days are mean-reverting (Ornstein-Uhlenbeck, half-life one year) towards the start price,
  so a century of synthetic days stays within sight of it. Volume follows the symbol's trade flow. A coarser
  series is the aggregate of the finer one wherever both exist, so every interval agrees.
- After the start, every trade (the market's and the account's) updates live one-minute candles; queries
  aggregate history and live candles together.
- Intervals: 1m 3m 5m 15m 30m 1h (from minutes), 2h 4h 6h 8h 12h (from hours), 1d 3d (from days, 3d aligned on
  the Unix epoch), 1w (Monday 00:00 UTC), 1M (calendar months).
- Prices are whole ticks and volumes whole steps (exact); quote volume is Σ price × qty.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable

MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
INTERVALS: dict[str, int] = {
    "1m": MINUTE, "3m": 3 * MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE, "30m": 30 * MINUTE, "1h": HOUR,
    "2h": 2 * HOUR, "4h": 4 * HOUR, "6h": 6 * HOUR, "8h": 8 * HOUR, "12h": 12 * HOUR, "1d": DAY, "3d": 3 * DAY,
    "1w": 7 * DAY, "1M": 30 * DAY,
}
HISTORY_MINUTES = 1500 * 60
HISTORY_HOURS = 1500 * 12
HISTORY_DAYS = 1500 * 31
MONDAY_OFFSET = 4 * DAY  # 1970-01-01 was a Thursday; weeks open on Mondays
FIELDS = ("t", "o", "h", "l", "c", "v", "q", "n", "bv", "bq", "f", "L")


@dataclass(slots=True)
class Candle:
    """One candle, prices in ticks, volumes in steps, quote in tick·step units."""

    t: int  # open time, ms
    o: int
    h: int
    l: int  # noqa: E741
    c: int
    v: int = 0
    q: int = 0
    n: int = 0
    bv: int = 0  # taker buy volume
    bq: int = 0  # taker buy quote
    f: int = -1  # first trade id
    L: int = -1  # last trade id  # noqa: N815


@dataclass(frozen=True, slots=True)
class PublicTrade:
    id: int
    price: Decimal
    qty: Decimal
    time: int
    buyer_maker: bool


def bucket_start(t: int, interval: str) -> int:
    """Open time of the candle of ``interval`` that holds ``t`` (ms)."""
    if interval == "1M":
        moment = dt.datetime.fromtimestamp(t / 1000, tz=dt.UTC) if t >= 0 else \
            dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=t)
        first = dt.datetime(moment.year, moment.month, 1, tzinfo=dt.UTC)
        return int(calendar.timegm(first.timetuple()) * 1000)
    span = INTERVALS[interval]
    if interval == "1w":
        return (t - MONDAY_OFFSET) // span * span + MONDAY_OFFSET
    return t // span * span


def bucket_end(start: int, interval: str) -> int:
    """Close time (inclusive, ms) of the candle opening at ``start``."""
    if interval == "1M":
        moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=start)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        nxt = dt.datetime(year, month, 1, tzinfo=dt.UTC)
        return int(calendar.timegm(nxt.timetuple()) * 1000) - 1
    return start + INTERVALS[interval] - 1


def _buckets(times: np.ndarray, interval: str) -> np.ndarray:
    """Open time of the ``interval`` candle holding each time (vectorised ``bucket_start``)."""
    if interval == "1M":
        months = times.astype("datetime64[ms]").astype("datetime64[M]")
        return months.astype("datetime64[ms]").astype(np.int64)
    span = INTERVALS[interval]
    if interval == "1w":
        return (times - MONDAY_OFFSET) // span * span + MONDAY_OFFSET
    return times // span * span


def _fold(cols: dict[str, np.ndarray], keys: np.ndarray) -> dict[str, np.ndarray]:
    """Aggregate consecutive rows with the same key (rows sorted by time)."""
    if keys.shape[0] == 0:
        return {name: keys.copy() for name in FIELDS}
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.concatenate((starts[1:], [keys.shape[0]])) - 1
    out = {"t": keys[starts], "o": cols["o"][starts], "c": cols["c"][ends],
           "h": np.maximum.reduceat(cols["h"], starts), "l": np.minimum.reduceat(cols["l"], starts)}
    for name in ("v", "q", "n", "bv", "bq"):
        out[name] = np.add.reduceat(cols[name], starts)
    first = np.where(cols["f"] >= 0, cols["f"], np.iinfo(np.int64).max)
    f = np.minimum.reduceat(first, starts)
    out["f"] = np.where(f == np.iinfo(np.int64).max, -1, f)
    out["L"] = np.maximum.reduceat(cols["L"], starts)
    return out


class _Series:
    """Candles of one resolution as numpy columns (history), oldest first."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.cols = columns

    def __len__(self) -> int:
        return int(self.cols["t"].shape[0])

    def rows(self, lo: int = 0, hi: int | None = None) -> list[Candle]:
        hi = len(self) if hi is None else hi
        if hi <= lo:
            return []
        cols = [self.cols[name][lo:hi].tolist() for name in FIELDS]
        return [Candle(*values) for values in zip(*cols, strict=True)]


def _aggregate_all(rows: list[Candle], start: int) -> Candle | None:
    """Every row folded into one candle opening at ``start`` (None for no rows)."""
    if not rows:
        return None
    first = rows[0]
    out = Candle(start, first.o, first.h, first.l, first.c, 0, 0, 0, 0, 0, -1, -1)
    for row in rows:
        out.h, out.l, out.c = max(out.h, row.h), min(out.l, row.l), row.c
        out.v += row.v
        out.q += row.q
        out.n += row.n
        out.bv += row.bv
        out.bq += row.bq
        if out.f < 0 and row.f >= 0:
            out.f = row.f
        if row.L >= 0:
            out.L = row.L
    return out


def _aggregate(rows: Iterable[Candle], interval: str) -> list[Candle]:
    out: list[Candle] = []
    for row in rows:
        start = bucket_start(row.t, interval)
        if not out or out[-1].t != start:
            out.append(Candle(start, row.o, row.h, row.l, row.c, row.v, row.q, row.n, row.bv, row.bq, row.f,
                              row.L))
            continue
        agg = out[-1]
        agg.h = max(agg.h, row.h)
        agg.l = min(agg.l, row.l)
        agg.c = row.c
        agg.v += row.v
        agg.q += row.q
        agg.n += row.n
        agg.bv += row.bv
        agg.bq += row.bq
        if agg.f < 0:
            agg.f = row.f
        if row.L >= 0:
            agg.L = row.L
    return out


class SymbolHistory:
    """Candles and trades of one symbol."""

    def __init__(self, *, symbol: str, tick: Decimal, step: Decimal, start_price: Decimal, start_ms: int,
                 volatility: float, trades_per_second: float, trade_notional: Decimal, seed: int,
                 min_ticks: int = 1, max_ticks: int | None = None, tape_size: int = 10_000) -> None:
        self.symbol = symbol
        self.tick = tick
        self.step = step
        self.start_ms = start_ms
        self.t0 = start_ms - start_ms % MINUTE
        self.start_ticks = max(min_ticks, int((start_price / tick).to_integral_value()))
        self.volatility = volatility
        self.rate = trades_per_second
        self.trade_steps = max(1.0, float(trade_notional / start_price / step))
        self.seed = seed
        self.min_ticks = min_ticks
        self.max_ticks = max_ticks
        self.live: list[Candle] = []
        self.trades: deque[PublicTrade] = deque(maxlen=tape_size)
        self._minutes: _Series | None = None
        self._hours: _Series | None = None
        self._days: _Series | None = None

    # == live ========================================================================================
    def record(self, trade: PublicTrade, *, taker_buy: bool) -> Candle:
        """A trade happened: it goes on the tape and into the live one-minute candle."""
        self.trades.append(trade)
        return self.update(trade.price, trade.qty, trade.time, taker_buy=taker_buy, trade_id=trade.id)

    def update(self, price: Decimal, qty: Decimal, ts: int, *, taker_buy: bool = False, trade_id: int = -1) -> Candle:
        p = int((price / self.tick).to_integral_value())
        v = int((qty / self.step).to_integral_value())
        start = max(ts - ts % MINUTE, self.t0)
        if not self.live or self.live[-1].t < start:
            prev = self.live[-1].c if self.live else self.start_ticks
            self.live.append(Candle(start, prev, max(prev, p), min(prev, p), p))
        candle = self.live[-1]
        candle.h = max(candle.h, p)
        candle.l = min(candle.l, p)
        candle.c = p
        if v:
            candle.v += v
            candle.q += v * p
            candle.n += 1
            if taker_buy:
                candle.bv += v
                candle.bq += v * p
            if candle.f < 0:
                candle.f = trade_id
            candle.L = trade_id
        return candle

    def current(self) -> Candle | None:
        return self.live[-1] if self.live else None

    # == generated history ===========================================================================
    def _generate(self) -> None:
        rng = np.random.default_rng(self.seed)
        year_minutes = 365.0 * 24 * 60
        sigma_min = self.volatility / math.sqrt(year_minutes)
        minutes = self._walk(rng, HISTORY_MINUTES, MINUTE, self.t0, math.log(self.start_ticks), sigma_min,
                             self.rate * 60, revert=0.0)
        first_open = float(minutes.cols["o"][0])
        hours_end = int(minutes.cols["t"][0])
        sigma_hour = self.volatility / math.sqrt(year_minutes / 60)
        older_hours = self._walk(rng, HISTORY_HOURS, HOUR, hours_end - hours_end % HOUR, math.log(first_open),
                                 sigma_hour, self.rate * 3600, revert=0.0)
        first_open = float(older_hours.cols["o"][0])
        days_end = int(older_hours.cols["t"][0])
        sigma_day = self.volatility / math.sqrt(365.0)
        older_days = self._walk(rng, HISTORY_DAYS, DAY, days_end - days_end % DAY, math.log(first_open), sigma_day,
                                self.rate * 86400, revert=math.log(2) / 365.0, anchor=math.log(self.start_ticks))
        self._minutes = minutes
        hours = _fold(minutes.cols, _buckets(minutes.cols["t"], "1h"))
        self._hours = _Series({name: np.concatenate((older_hours.cols[name], hours[name])) for name in FIELDS})
        days = _fold(self._hours.cols, _buckets(self._hours.cols["t"], "1d"))
        self._days = _Series({name: np.concatenate((older_days.cols[name], days[name])) for name in FIELDS})

    def _walk(self, rng: np.random.Generator, count: int, span: int, end: int, end_log: float, sigma: float,
              trades: float, *, revert: float, anchor: float = 0.0) -> _Series:
        """``count`` candles of ``span`` ms ending just before ``end``, walked backwards from ``end_log``."""
        shocks = rng.standard_normal(count)
        logs = np.empty(count + 1)
        logs[count] = end_log
        if revert == 0.0:  # backwards: logs[i] is the open of candle i
            logs[:count] = end_log - sigma * np.cumsum(shocks[::-1])[::-1]
        else:
            for i in range(count - 1, -1, -1):
                logs[i] = logs[i + 1] - sigma * shocks[i] + revert * (anchor - logs[i + 1])
        lo_cap = math.log(max(1, self.min_ticks))
        hi_cap = math.log(self.max_ticks) if self.max_ticks else math.inf
        logs = np.clip(logs, lo_cap, hi_cap)
        prices = np.maximum(np.rint(np.exp(logs)), max(1, self.min_ticks)).astype(np.int64)
        opens, closes = prices[:-1], prices[1:]
        wiggle = np.abs(rng.standard_normal((2, count))) * sigma * 0.6
        highs = np.maximum(opens, closes) * (1 + wiggle[0])
        lows = np.minimum(opens, closes) * (1 - wiggle[1])
        highs = np.maximum(np.rint(highs).astype(np.int64), np.maximum(opens, closes))
        lows = np.maximum(np.minimum(np.rint(lows).astype(np.int64), np.minimum(opens, closes)), 1)
        n = rng.poisson(max(trades, 1.0), count).astype(np.int64)
        sizes = rng.gamma(2.0, self.trade_steps / 2.0, count)
        volume = np.maximum(np.rint(n * sizes), 0).astype(np.int64)
        buy_share = rng.beta(5.0, 5.0, count)
        typical = (opens + closes + highs + lows) // 4
        quote = volume * typical
        buy_volume = np.rint(volume * buy_share).astype(np.int64)
        times = end - span * np.arange(count, 0, -1, dtype=np.int64)
        return _Series({"t": times, "o": opens, "h": highs, "l": lows, "c": closes, "v": volume, "q": quote,
                        "n": n, "bv": buy_volume, "bq": buy_volume * typical,
                        "f": np.full(count, -1, dtype=np.int64), "L": np.full(count, -1, dtype=np.int64)})

    def _series(self) -> tuple[_Series, _Series, _Series]:
        if self._minutes is None:
            self._generate()
        assert self._minutes is not None and self._hours is not None and self._days is not None
        return self._minutes, self._hours, self._days

    # == queries =====================================================================================
    def candles(self, interval: str, start: int | None, end: int | None, limit: int, now: int) -> list[Candle]:
        """Up to ``limit`` candles of ``interval`` (oldest first): the first ones from ``start`` when it is
        given, else the last ones up to ``end`` (or now)."""
        minutes, hours, days = self._series()
        span = INTERVALS[interval]
        last = end if end is not None else now
        if interval in ("1d", "3d", "1w", "1M"):
            base = days
        elif span >= 2 * HOUR:
            base = hours
        else:
            base = minutes
        # the window of base rows needed
        if start is not None:
            first = bucket_start(start, interval)
            horizon = first + (limit + 1) * (31 * DAY if interval == "1M" else span)
            last = min(last, horizon)
        else:
            first = bucket_start(last, interval) - (limit + 1) * (31 * DAY if interval == "1M" else span)
        times = base.cols["t"]
        lo = int(np.searchsorted(times, first, side="left"))
        hi = int(np.searchsorted(times, last, side="right"))
        window = {name: base.cols[name][lo:hi] for name in FIELDS}
        rows = _Series(_fold(window, _buckets(window["t"], interval))).rows() if hi > lo else []
        live = [c for c in self.live if first <= c.t <= last]
        out = _aggregate(rows + live, interval) if live else rows
        if start is not None:
            begin = bucket_start(start, interval)
            out = [c for c in out if c.t >= begin]
            return out[:limit]
        return [c for c in out if c.t <= last][-limit:]

    def stats(self, now: int, span: int = DAY) -> Candle:
        """The rolling window of the last ``span`` ms as one candle (24 h ticker statistics); its ``t`` is the
        window's first minute."""
        minutes, _, _ = self._series()
        first = now - span
        first -= first % MINUTE
        cols = minutes.cols
        lo = int(np.searchsorted(cols["t"], first, side="left"))
        rows: list[Candle] = []
        if lo < len(minutes):
            window = {name: cols[name][lo:] for name in FIELDS}
            keys = np.full(window["t"].shape[0], first, dtype=np.int64)
            rows = _Series(_fold(window, keys)).rows()
        rows += [c for c in self.live if first <= c.t <= now]
        folded = _aggregate_all(rows, first)
        if folded is None:
            price = self.live[-1].c if self.live else self.start_ticks
            return Candle(first, price, price, price, price)
        return folded


__all__ = ["DAY", "HOUR", "INTERVALS", "MINUTE", "Candle", "PublicTrade", "SymbolHistory", "bucket_end",
           "bucket_start"]
