"""Price sources for the simulator (random walk, static, replay) and 1-minute candles.

- ``random``: a seeded random walk of the last price in whole ticks, a few ticks a second, with a
  volatility given per year (0.6 = 60 %); the mark price is last plus a small mean-reverting basis.
- ``static``: nothing moves unless the control API sets a price.
- ``replay:PATH[,PATH...]``: klines (12 columns) or aggTrades (7 columns) CSV/Parquet files in Binance's
  public-data layout (``BTCUSDT-1m-2024-01-01.csv``, ``BTCUSDT-aggTrades-2024-01-01.csv``; header optional),
  played at ``replay_speed`` times real time. A kline plays as open → high/low → low/high → close.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from hedgestack.domain.numbers import ZERO, D
from hedgestack.venue.sim.config import SimConfig, SymbolSpec

MINUTE = 60_000
Tick = Callable[[str, Decimal, Decimal | None, Decimal, bool], None]
"""(symbol, last, mark or None, trade qty, buyer is maker)"""


@dataclass(slots=True)
class Candle:
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0
    taker_buy_volume: Decimal = ZERO
    taker_buy_quote: Decimal = ZERO
    first_trade_id: int = -1
    last_trade_id: int = -1

    @property
    def close_time(self) -> int:
        return self.open_time + MINUTE - 1


class Candles:
    """1-minute candles per symbol, built from ticks (and seeded history)."""

    def __init__(self, limit: int = 1500) -> None:
        self.limit = limit
        self.by_symbol: dict[str, list[Candle]] = {}

    def update(self, symbol: str, price: Decimal, qty: Decimal, ts: int, *, taker_buy: bool,
               trade_id: int = -1) -> Candle:
        rows = self.by_symbol.setdefault(symbol, [])
        start = ts - ts % MINUTE
        if not rows or rows[-1].open_time < start:
            rows.append(Candle(open_time=start, open=price, high=price, low=price, close=price))
            del rows[:-self.limit]
        candle = rows[-1]
        candle.high = max(candle.high, price)
        candle.low = min(candle.low, price)
        candle.close = price
        if qty:
            candle.volume += qty
            candle.quote_volume += qty * price
            candle.trades += 1
            if taker_buy:
                candle.taker_buy_volume += qty
                candle.taker_buy_quote += qty * price
            if candle.first_trade_id < 0:
                candle.first_trade_id = trade_id
            candle.last_trade_id = trade_id
        return candle

    def current(self, symbol: str) -> Candle | None:
        rows = self.by_symbol.get(symbol)
        return rows[-1] if rows else None

    def query(self, symbol: str, start: int | None, end: int | None, limit: int) -> list[Candle]:
        rows = [c for c in self.by_symbol.get(symbol, [])
                if (start is None or c.open_time >= start) and (end is None or c.open_time <= end)]
        return rows[:limit] if start is not None else rows[-limit:]

    def prefill(self, spec: SymbolSpec, price: Decimal, now: int, rng: random.Random, volatility: float,
                minutes: int = 300) -> None:
        """Invent ``minutes`` of history ending at ``price`` (a walk run backwards)."""
        tick = D(spec.tick_size)
        sigma = _sigma_ticks(volatility, price, tick, 60.0)
        closes = [price]
        for _ in range(minutes):
            closes.append(max(tick, closes[-1] - tick * round(rng.gauss(0, sigma))))
        closes.reverse()  # oldest first, the last one is ``price``
        start = now - now % MINUTE
        rows: list[Candle] = []
        for k in range(1, len(closes)):
            open_, close = closes[k - 1], closes[k]
            wiggle = tick * abs(round(rng.gauss(0, sigma / 2)))
            qty = D(spec.step_size) * rng.randint(100, 5000)
            rows.append(Candle(open_time=start - (minutes - k + 1) * MINUTE, open=open_, close=close,
                               high=max(open_, close) + wiggle, low=min(open_, close) - wiggle, volume=qty,
                               quote_volume=qty * close, trades=rng.randint(50, 500)))
        self.by_symbol[spec.symbol] = rows


def _sigma_ticks(volatility: float, price: Decimal, tick: Decimal, dt: float) -> float:
    per_step = volatility / math.sqrt(365 * 24 * 3600 / dt)
    return per_step * float(price) / float(tick)


class PriceSource(Protocol):
    async def run(self, tick: Tick) -> None: ...


class StaticSource:
    """Prices move only through the control API."""

    async def run(self, tick: Tick) -> None:
        await asyncio.Event().wait()


class RandomWalk:
    """A seeded random walk in whole ticks with a small mean-reverting mark/last basis."""

    def __init__(self, config: SimConfig, prices: dict[str, Decimal], rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.prices = dict(prices)
        self.basis = dict.fromkeys(prices, 0.0)

    def step(self, spec: SymbolSpec) -> tuple[Decimal, Decimal, Decimal, bool]:
        tick = D(spec.tick_size)
        last = self.prices[spec.symbol]
        sigma = _sigma_ticks(self.config.volatility, last, tick, self.config.tick_interval)
        last = max(tick, last + tick * round(self.rng.gauss(0, sigma)))
        self.prices[spec.symbol] = last
        # basis in ticks: mean-reverting, about ±0.01 % of the price
        width = float(last) * 0.0001 / float(tick)
        basis = self.basis[spec.symbol] * 0.9 + self.rng.gauss(0, width * 0.3)
        self.basis[spec.symbol] = max(-width * 3, min(width * 3, basis))
        mark = last + tick * round(self.basis[spec.symbol])
        qty = D(spec.step_size) * self.rng.randint(1, 200)
        return last, mark, qty, self.rng.random() < 0.5

    async def run(self, tick: Tick) -> None:
        while True:
            await asyncio.sleep(self.config.tick_interval)
            for spec in self.config.symbols:
                last, mark, qty, maker = self.step(spec)
                tick(spec.symbol, last, mark, qty, maker)

    def sync(self, symbol: str, last: Decimal) -> None:
        """Continue the walk from a price set through the control API."""
        self.prices[symbol] = last


@dataclass(frozen=True, slots=True)
class ReplayRow:
    time: int
    symbol: str
    price: Decimal
    qty: Decimal
    buyer_maker: bool


def load_replay(paths: list[Path], symbols: set[str]) -> list[ReplayRow]:
    """Read klines/aggTrades files into time-ordered ticks."""
    rows: list[ReplayRow] = []
    for path in paths:
        symbol = path.name.split("-")[0].upper()
        if symbol not in symbols:
            raise ValueError(f"replay file {path.name}: symbol {symbol} is not simulated ({sorted(symbols)})")
        for cols in _read_table(path):
            if len(cols) >= 12:  # klines: open_time, open, high, low, close, volume, close_time, ...
                t0, o, h, lo, c, v = int(cols[0]), D(cols[1]), D(cols[2]), D(cols[3]), D(cols[4]), D(cols[5])
                t0 = _to_ms(t0)
                quarter = v / 4
                mid = (h, lo) if c >= o else (lo, h)
                for k, price in enumerate((o, mid[0], mid[1], c)):
                    rows.append(ReplayRow(t0 + k * 15_000, symbol, price, quarter, k % 2 == 1))
            elif len(cols) >= 7:  # aggTrades: id, price, qty, first_id, last_id, time, is_buyer_maker
                rows.append(ReplayRow(_to_ms(int(cols[5])), symbol, D(cols[1]), D(cols[2]),
                                      cols[6].strip().lower() == "true"))
            else:
                raise ValueError(f"replay file {path.name}: {len(cols)} columns, expected klines or aggTrades")
    rows.sort(key=lambda r: r.time)
    return rows


def _to_ms(value: int) -> int:
    return value // 1000 if value > 10**14 else value  # 2025+ files use microseconds


def _read_table(path: Path) -> list[list[str]]:
    import polars as pl

    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        frame = frame.select(pl.all().cast(pl.String))
        return [list(r) for r in frame.iter_rows()]
    frame = pl.read_csv(path, has_header=False, infer_schema=False)
    out = [list(r) for r in frame.iter_rows()]
    if out and not out[0][0].lstrip("-").isdigit():
        out = out[1:]
    return out


class ReplaySource:
    """Replays recorded ticks at ``speed`` times real time; stops on the last one."""

    def __init__(self, rows: list[ReplayRow], speed: float) -> None:
        self.rows = rows
        self.speed = speed
        self.done = asyncio.Event()

    def first_prices(self) -> dict[str, Decimal]:
        first: dict[str, Decimal] = {}
        for row in self.rows:
            first.setdefault(row.symbol, row.price)
        return first

    async def run(self, tick: Tick) -> None:
        prev: int | None = None
        for row in self.rows:
            if prev is not None and row.time > prev:
                await asyncio.sleep(min((row.time - prev) / 1000 / self.speed, 60.0))
            elif prev is not None:
                await asyncio.sleep(0)
            prev = row.time
            tick(row.symbol, row.price, None, row.qty, row.buyer_maker)
        self.done.set()
        await asyncio.Event().wait()


def make_source(config: SimConfig, rng: random.Random) -> tuple[PriceSource, dict[str, Decimal]]:
    """Build the configured price source and the start prices it implies."""
    prices = {s.symbol: config.start_price(s) for s in config.symbols}
    kind = config.market
    if kind == "static":
        return StaticSource(), prices
    if kind == "random":
        return RandomWalk(config, prices, rng), prices
    if kind.startswith("replay:"):
        paths = [Path(p) for p in kind.removeprefix("replay:").split(",") if p]
        source = ReplaySource(load_replay(paths, set(prices)), config.replay_speed)
        prices.update(source.first_prices())
        return source, prices
    raise ValueError(f"unknown market {kind!r}: use static, random or replay:PATH")
