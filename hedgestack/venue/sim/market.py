"""What moves the market: the random model, the static market, replayed files; and the mark price.

- ``static``: nothing moves unless the control API sets a price.
- ``random``: per symbol and step (``tick_interval`` seconds) the index (the spot price the perpetual follows)
  takes a log-normal step with the symbol's yearly volatility (``volatility``, 0.6 = 60 %); the perpetual's
  premium over the index is a mean-reverting process (``premium_volatility`` per step, half-life ~35 steps);
  the book's best bid follows ``index × (1 + premium)`` (the market trades through what it leaves behind);
  then a Poisson number of the market's own trades (``trades_per_second`` of the symbol) hit the touch, buyers
  or sellers at random (leaning with the move), sizes Gamma(2)-distributed around ``trade_notional``.
  Deterministic under a seed.
- ``replay:PATH[,...]``: Binance's public data files (replay.py), played at ``replay_speed`` × real time.

Mark price (Binance's rule, on the random and replay markets): the median of
``index × (1 + funding rate × time to the next funding / funding interval)``, ``index + 5-minute moving
average of (mid − index)`` and the last price.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hedgestack.venue.sim import replay

if TYPE_CHECKING:
    import random

    from hedgestack.venue.sim.config import SimConfig
    from hedgestack.venue.sim.symbols import SymbolSpec

EIGHT = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the random market for one symbol."""

    symbol: str
    index: Decimal
    bid_t: int  # the market's best bid after the step, in ticks
    sweep: tuple[str, Decimal] | None  # a move's print: (aggressor, qty) at the last level left behind
    trades: tuple[tuple[str, Decimal], ...]  # the market's trades at the touch: (aggressor, qty)


class Driver(Protocol):
    """What a price source drives (the server)."""

    def random_step(self, step: Step, seconds: float) -> None: ...
    def replay_event(self, event: replay.Event) -> None: ...


class PriceSource(Protocol):
    async def run(self, driver: Driver) -> None: ...


class StaticSource:
    """Prices move only through the control API."""

    async def run(self, driver: Driver) -> None:
        await asyncio.Event().wait()


@dataclass(slots=True)
class _Walk:
    log_index: float
    premium: float = 0.0


class RandomWalk:
    """The seeded random market (see the module text)."""

    def __init__(self, config: SimConfig, prices: dict[str, Decimal], rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.walks = {symbol: _Walk(math.log(float(price))) for symbol, price in prices.items()}

    def step(self, spec: SymbolSpec) -> Step:
        walk = self.walks[spec.symbol]
        dt = self.config.tick_interval
        sigma = self.config.volatility / math.sqrt(365 * 24 * 3600 / dt)
        shock = self.rng.gauss(0.0, 1.0)
        walk.log_index += sigma * shock
        walk.premium = walk.premium * 0.98 + self.rng.gauss(0.0, self.config.premium_volatility)
        tick = spec.tick
        index = _quantize(Decimal(repr(math.exp(walk.log_index))), tick)
        index = max(tick, index)
        mid = float(index) * (1.0 + walk.premium)
        bid_t = max(1, math.floor(mid / float(tick)))
        rate = spec.trades_per_second * dt
        count = _poisson(self.rng, rate)
        lean = 0.5 + max(-0.3, min(0.3, shock * 0.15))
        mean_qty = float(spec.trade_notional) / max(mid, 1e-12)
        trades = tuple(("BUY" if self.rng.random() < lean else "SELL", self._size(spec, mean_qty))
                       for _ in range(count))
        sweep = ("BUY" if shock > 0 else "SELL", self._size(spec, mean_qty))
        return Step(symbol=spec.symbol, index=index, bid_t=bid_t, sweep=sweep, trades=trades)

    def _size(self, spec: SymbolSpec, mean_qty: float) -> Decimal:
        step = spec.step
        qty = self.rng.gammavariate(2.0, mean_qty / 2.0)
        units = max(1, int(qty / float(step)))
        return step * units

    def sync(self, symbol: str, price: Decimal) -> None:
        """Continue the walk from a price set through the control API (or restored)."""
        if price > 0:
            self.walks[symbol] = _Walk(math.log(float(price)))

    async def run(self, driver: Driver) -> None:
        while True:
            await asyncio.sleep(self.config.tick_interval)
            for spec in self.config.symbols:
                driver.random_step(self.step(spec), self.config.tick_interval)


def _quantize(value: Decimal, tick: Decimal) -> Decimal:
    return (value / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    threshold = math.exp(-lam)
    k, p = 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


class ReplaySource:
    """Replays Binance's public data files at ``speed`` × real time; ``done`` is set after the last event."""

    def __init__(self, files: list[replay.ReplayFile], speed: float) -> None:
        self.files = files
        self.speed = speed
        self.done = asyncio.Event()
        self.played = 0

    def first_prices(self) -> dict[str, Decimal]:
        return replay.first_prices(self.files)

    @property
    def funded_symbols(self) -> set[str]:
        """Symbols whose funding comes from a replayed fundingRate file (not from the schedule)."""
        return {f.symbol for f in self.files if f.kind == "fundingRate"}

    async def run(self, driver: Driver) -> None:
        prev: int | None = None
        for event in replay.merged(self.files):
            if prev is not None and event.time > prev:
                await asyncio.sleep(min((event.time - prev) / 1000 / self.speed, 60.0))
            elif self.played % 500 == 0:
                await asyncio.sleep(0)
            prev = event.time
            driver.replay_event(event)
            self.played += 1
        self.done.set()
        await asyncio.Event().wait()


@dataclass(slots=True)
class MarkModel:
    """Binance's mark price of one symbol (see the module text)."""

    window_ms: int = 300_000
    basis: deque[tuple[int, Decimal]] = field(default_factory=deque)
    total: Decimal = Decimal(0)  # the exact sum of the basis samples in the window (kept as they come and go)

    def mark(self, *, now: int, index: Decimal, mid: Decimal | None, last: Decimal, rate: Decimal,
             until_funding_ms: int, interval_ms: int) -> Decimal:
        if mid is not None:
            self.basis.append((now, mid - index))
            self.total += mid - index
        while self.basis and self.basis[0][0] < now - self.window_ms:
            self.total -= self.basis.popleft()[1]
        average = self.total / len(self.basis) if self.basis else Decimal(0)
        fraction = Decimal(max(0, until_funding_ms)) / Decimal(max(1, interval_ms))
        price1 = index * (1 + rate * fraction)
        price2 = index + average
        return sorted((price1, price2, last))[1].quantize(EIGHT, rounding=ROUND_HALF_UP)


def make_source(config: SimConfig, rng: random.Random) -> tuple[PriceSource, dict[str, Decimal]]:
    """Build the configured price source and the start prices it implies (one-line errors for bad files)."""
    prices = {s.symbol: config.start_price(s) for s in config.symbols}
    kind = config.market
    if kind == "static":
        return StaticSource(), prices
    if kind == "random":
        return RandomWalk(config, prices, rng), prices
    paths = [Path(p) for p in kind.removeprefix("replay:").split(",") if p]
    files = replay.load(paths, set(prices), show_progress=config.show_progress)
    source = ReplaySource(files, config.replay_speed)
    by_symbol = {s.symbol: s for s in config.symbols}
    for symbol, price in source.first_prices().items():
        tick = by_symbol[symbol].tick
        prices[symbol] = max(tick, (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick)
    return source, prices


__all__ = ["Driver", "MarkModel", "PriceSource", "RandomWalk", "ReplaySource", "StaticSource", "Step", "make_source"]
