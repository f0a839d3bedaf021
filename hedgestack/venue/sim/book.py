"""One symbol's order book: the market's own liquidity, and the account's resting orders queued in it.

Problem: a simulator that fills any size at the last price, and a resting LIMIT order the moment the price
touches it, flatters every strategy. This book makes size cost money and queues take time.

Model (prices are whole ticks, ``t`` = price / tickSize):

- The market's liquidity sits on the bid side at ``t ≤ bid_t`` and on the ask side at ``t ≥ ask_t``
  (``ask_t − bid_t`` = the spread in ticks, at least 1). How much sits at a price is given by a profile:
  ``AnchoredProfile`` (random and replay markets) puts a fixed, seeded quantity on every tick, so a level keeps
  its size as the price moves around it; ``RelativeProfile`` (the static market's ``POST /sim/v1/book``) puts
  ``depth[k]`` on the k-th level from the touch, rebuilt at every price move.
- What takers consume is a *deficit* on that price; deficits shrink back (``refill``), so the book's own
  liquidity comes back over time.
- A move of the market (``move_to``) means the market traded through every level it left behind: the market's
  liquidity there is gone (those prices change side or fall into the spread) and the account's resting orders
  on those prices fill completely. The level at the new touch is only touched.
- The account's resting orders (``Maker``) join the queue of their price *behind* the market's liquidity
  there (``queue_ahead``). Trades at that price (``trade_at_touch``) eat the queue first-in first-out: the
  market's quantity ahead, then the order (partial fills), then the rest.
- Every change bumps ``update_id``; while ``journal`` is on the changed prices are kept, so a diff-depth stream
  can say which levels changed between two ids (``U``/``u``/``pu``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Protocol

import numpy as np

from hedgestack.domain.numbers import ZERO

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

BID = "BID"
ASK = "ASK"
#: At most this many levels per side are journaled for one move of the market (a client's local book is
#: built from at most 1,000 levels, so changes farther away than that cannot matter to it).
JOURNAL_SPAN = 1200


class Maker(Protocol):
    """What the book needs from a resting order (SimOrder satisfies it)."""

    order_id: int
    queue_ahead: Decimal
    priority: int

    @property
    def remaining(self) -> Decimal: ...


class Profile(Protocol):
    def qty(self, book: Book, side: str, t: int) -> Decimal: ...

    def reach(self) -> int | None:
        """How many levels from the touch hold liquidity (None = every level)."""


class AnchoredProfile:
    """A seeded quantity on every tick: ``mean × u`` in whole steps (at least one), u drawn once per price from
    Gamma(2, 1/2) (mean 1); the pattern repeats every ``period`` ticks. Drawn at first use."""

    def __init__(self, mean: Decimal, step: Decimal, seed: int, period: int = 4096) -> None:
        self.mean = mean
        self.step = step
        self.seed = seed
        self.period = period
        self._qty: tuple[Decimal, ...] | None = None

    @classmethod
    def build(cls, mean: Decimal, step: Decimal, seed: int, period: int = 4096) -> AnchoredProfile:
        return cls(mean, step, seed, period)

    @property
    def multipliers(self) -> tuple[Decimal, ...]:
        if self._qty is None:
            draws = np.random.default_rng(self.seed).gamma(2.0, 0.5, self.period)
            units = np.maximum(1, np.floor(draws * float(self.mean / self.step))).astype(np.int64)
            self._qty = tuple(Decimal(int(u)) * self.step for u in units)
        return self._qty

    def qty(self, book: Book, side: str, t: int) -> Decimal:
        return self.multipliers[t % self.period]

    def reach(self) -> int | None:
        return None


@dataclass(frozen=True, slots=True)
class RelativeProfile:
    """``depth[k]`` on the k-th level from the touch (k = 0 at the touch), nothing beyond."""

    depth: tuple[Decimal, ...]

    def qty(self, book: Book, side: str, t: int) -> Decimal:
        k = book.bid_t - t if side == BID else t - book.ask_t
        return self.depth[k] if 0 <= k < len(self.depth) else ZERO

    def reach(self) -> int | None:
        return len(self.depth)


@dataclass(slots=True)
class Level:
    """One price of one side, as a taker meets it."""

    t: int
    market: Decimal  # the market's own quantity there
    makers: list[Maker]  # the account's resting orders there, in queue order


@dataclass(slots=True)
class TouchResult:
    """What a trade of the market at the touch did: the price, how much traded, the account's fills."""

    t: int
    qty: Decimal
    fills: list[tuple[Maker, Decimal]] = field(default_factory=list)


def ticks(price: Decimal, tick: Decimal) -> int:
    """A price on the tick grid as a whole number of ticks."""
    return int((price / tick).to_integral_value())


class Book:
    """The book of one symbol (see the module text)."""

    def __init__(self, symbol: str, tick: Decimal, step: Decimal, profile: Profile, *, bid_t: int,
                 spread: int = 1, refill_seconds: float = 2.0) -> None:
        self.symbol = symbol
        self.tick = tick
        self.step = step
        self.profile = profile
        self.spread = max(1, spread)
        self.bid_t = bid_t
        self.ask_t = bid_t + self.spread
        self.refill_seconds = refill_seconds
        self.deficit: dict[int, Decimal] = {}
        self.makers: dict[str, dict[int, list[Maker]]] = {BID: {}, ASK: {}}
        self.update_id = 1
        self.journal = False
        self._changes: list[tuple[int, str, int]] = []

    # == prices ======================================================================================
    def price(self, t: int) -> Decimal:
        return t * self.tick

    def t(self, price: Decimal) -> int:
        return ticks(price, self.tick)

    # == reading ======================================================================================
    def market_qty(self, side: str, t: int) -> Decimal:
        """The market's own quantity at a price (0 inside the spread and on the other side)."""
        if (side == BID and t > self.bid_t) or (side == ASK and t < self.ask_t):
            return ZERO
        base = self.profile.qty(self, side, t)
        short = self.deficit.get(t)
        if short is None:
            return base
        return base - short if base > short else ZERO

    def maker_qty(self, side: str, t: int) -> Decimal:
        return sum((m.remaining for m in self.makers[side].get(t, ())), ZERO)

    def levels(self, side: str, limit_t: int | None = None) -> Iterator[Level]:
        """Levels a taker meets on ``side``, best first, down to (or up to) ``limit_t``; empty ones skipped."""
        own = self.makers[side]
        sign = -1 if side == BID else 1
        touch = self.bid_t if side == BID else self.ask_t
        inside = sorted((t for t in own if (t > touch if side == BID else t < touch)), reverse=side == BID)
        for t in inside:
            if limit_t is not None and sign * (t - limit_t) > 0:
                return
            yield Level(t, ZERO, list(own[t]))
        reach = self.profile.reach()
        farthest_own = (min(own) if side == BID else max(own)) if own else touch
        t = touch
        k = 0
        while True:
            if limit_t is not None and sign * (t - limit_t) > 0:
                return
            if reach is not None and k >= reach and sign * (t - farthest_own) > 0:
                return
            market = self.market_qty(side, t)
            here = own.get(t)
            if market > 0 or here:
                yield Level(t, market, list(here) if here else [])
            t += sign
            k += 1

    def depth(self, limit: int) -> tuple[list[tuple[int, Decimal]], list[tuple[int, Decimal]]]:
        """The best ``limit`` levels of each side: (ticks, market + resting quantity)."""
        out: dict[str, list[tuple[int, Decimal]]] = {BID: [], ASK: []}
        for side in (BID, ASK):
            rows = out[side]
            for level in self.levels(side):
                qty = level.market + sum((m.remaining for m in level.makers), ZERO)
                if qty > 0:
                    rows.append((level.t, qty))
                if len(rows) >= limit:
                    break
        return out[BID], out[ASK]

    def best(self, side: str) -> tuple[int, Decimal] | None:
        for level in self.levels(side):
            qty = level.market + sum((m.remaining for m in level.makers), ZERO)
            if qty > 0:
                return level.t, qty
        return None

    def level_total(self, side: str, t: int) -> Decimal:
        return self.market_qty(side, t) + self.maker_qty(side, t)

    def impact_price(self, side: str, notional: Decimal) -> Decimal | None:
        """Average price of filling ``notional`` (quote) on ``side`` (the premium index's impact bid/ask)."""
        left = notional
        cost = ZERO
        qty = ZERO
        for level in self.levels(side):
            price = self.price(level.t)
            available = level.market + sum((m.remaining for m in level.makers), ZERO)
            take = min(available, left / price)
            cost += take * price
            qty += take
            left -= take * price
            if left <= 0:
                return cost / qty
            if qty > 0 and abs(level.t - (self.bid_t if side == BID else self.ask_t)) > 100_000:
                break
        return cost / qty if qty else None

    # == the account's resting orders =================================================================
    def add_maker(self, side: str, t: int, maker: Maker) -> None:
        """Queue a resting order at the back of its price."""
        maker.queue_ahead = self.market_qty(side, t)
        queue = self.makers[side].setdefault(t, [])
        queue.append(maker)
        queue.sort(key=lambda m: m.priority)
        self._touch(side, t)

    def restore_maker(self, side: str, t: int, maker: Maker) -> None:
        """Put back a resting order with the queue position it had (after a restart)."""
        queue = self.makers[side].setdefault(t, [])
        queue.append(maker)
        queue.sort(key=lambda m: m.priority)

    def remove_maker(self, side: str, t: int, maker: Maker) -> None:
        queue = self.makers[side].get(t)
        if queue is None:
            return
        queue[:] = [m for m in queue if m.order_id != maker.order_id]
        if not queue:
            del self.makers[side][t]
        self._touch(side, t)

    def maker_changed(self, side: str, t: int) -> None:
        """A resting order's remaining quantity changed (a fill): the level's total changed."""
        queue = self.makers[side].get(t)
        if queue is not None:
            queue[:] = [m for m in queue if m.remaining > 0]
            if not queue:
                del self.makers[side][t]
        self._touch(side, t)

    # == the market ==================================================================================
    def consume(self, side: str, t: int, qty: Decimal) -> None:
        """Takers took ``qty`` of the market's own liquidity at ``t``."""
        if qty <= 0:
            return
        self.deficit[t] = self.deficit.get(t, ZERO) + qty
        for maker in self.makers[side].get(t, ()):
            maker.queue_ahead = max(ZERO, maker.queue_ahead - qty)
        self._touch(side, t)

    def move_to(self, bid_t: int) -> list[Maker]:
        """The market moved so that its best bid is ``bid_t`` (ask ``bid_t + spread``).

        Returns the resting orders it traded through (bids above the new bid, asks below the new ask), which
        fill completely at their own price; the caller fills them and removes them.
        """
        ask_t = bid_t + self.spread
        if bid_t == self.bid_t:
            return []
        old_bid, old_ask = self.bid_t, self.ask_t
        through: list[Maker] = []
        if ask_t > old_ask:
            for t in sorted(x for x in self.makers[ASK] if x < ask_t):
                through.extend(self.makers[ASK][t])
        if bid_t < old_bid:
            for t in sorted((x for x in self.makers[BID] if x > bid_t), reverse=True):
                through.extend(self.makers[BID][t])
        lo, hi = min(old_bid, bid_t), max(old_ask, ask_t)
        for t in [x for x in self.deficit if lo < x < hi]:
            del self.deficit[t]
        self.bid_t, self.ask_t = bid_t, ask_t
        if self.journal:
            if ask_t > old_ask:  # asks left behind, bids that appeared
                for t in range(old_ask, min(ask_t, old_ask + JOURNAL_SPAN)):
                    self._note(ASK, t)
                for t in range(max(old_bid + 1, bid_t - JOURNAL_SPAN + 1), bid_t + 1):
                    self._note(BID, t)
            else:
                for t in range(max(bid_t + 1, old_bid - JOURNAL_SPAN + 1), old_bid + 1):
                    self._note(BID, t)
                for t in range(ask_t, min(old_ask, ask_t + JOURNAL_SPAN)):
                    self._note(ASK, t)
            if self.profile.reach() is not None:
                self._note_all()
        self.update_id += 1
        return through

    def trade_at_touch(self, side: str, qty: Decimal, t: int | None = None) -> TouchResult | None:
        """A trade of the market takes ``qty`` from the best level of ``side`` (or from level ``t``):
        first-in first-out through the market's quantity ahead of each resting order, then the order."""
        if t is None:
            best = self.best(side)
            if best is None:
                return None
            t = best[0]
        market = self.market_qty(side, t)
        queue = list(self.makers[side].get(t, ()))
        left = qty
        used = ZERO
        fills: list[tuple[Maker, Decimal]] = []
        for maker in queue:
            gap = max(ZERO, min(maker.queue_ahead, market) - used)
            took = min(left, gap)
            used += took
            left -= took
            if left <= 0:
                break
            got = min(left, maker.remaining)
            fills.append((maker, got))
            left -= got
            if got < maker.remaining:
                break
        if left > 0:
            took = min(left, market - used)
            used += took
            left -= took
        if used > 0:
            self.consume(side, t, used)
        traded = qty - left
        if traded <= 0:
            return None
        self.update_id += 1
        return TouchResult(t=t, qty=traded, fills=fills)

    def refill(self, seconds: float) -> None:
        """Deficits shrink by ``exp(−seconds / refill_seconds)`` (whole steps; gone below one step)."""
        if not self.deficit or self.refill_seconds <= 0:
            return
        keep = Decimal(repr(round(math.exp(-seconds / self.refill_seconds), 6)))
        for t, short in list(self.deficit.items()):
            left = (short * keep / self.step).to_integral_value(rounding=ROUND_DOWN) * self.step
            if left <= 0:
                del self.deficit[t]
            else:
                self.deficit[t] = left
            self._touch(BID if t <= self.bid_t else ASK, t)
        self.update_id += 1

    def clear_deficits(self) -> None:
        """Every level back to its full size (the static market's book, rebuilt at a price move)."""
        for t in list(self.deficit):
            self._touch(BID if t <= self.bid_t else ASK, t)
        self.deficit.clear()
        self.update_id += 1

    def clamp_queues(self) -> None:
        """Resting orders cannot have more of the market ahead of them than there is at their price."""
        for side in (BID, ASK):
            for t, queue in self.makers[side].items():
                market = self.market_qty(side, t)
                for maker in queue:
                    if maker.queue_ahead > market:
                        maker.queue_ahead = market

    # == the change journal ==========================================================================
    def _touch(self, side: str, t: int) -> None:
        self.update_id += 1
        if self.journal:
            self._changes.append((self.update_id, side, t))

    def _note(self, side: str, t: int) -> None:
        self._changes.append((self.update_id + 1, side, t))

    def _note_all(self) -> None:
        reach = self.profile.reach() or 0
        for k in range(reach + 1):
            self._note(BID, self.bid_t - k)
            self._note(ASK, self.ask_t + k)

    def changes_since(self, update_id: int) -> set[tuple[str, int]]:
        """Prices changed after ``update_id`` (while the journal was on)."""
        return {(side, t) for uid, side, t in self._changes if uid > update_id}

    def trim_journal(self, update_id: int) -> None:
        """Forget changes at or before ``update_id`` (every reader has them)."""
        self._changes = [c for c in self._changes if c[0] > update_id]


def level_rows(book: Book, changes: Sequence[tuple[str, int]]) -> tuple[list[tuple[int, Decimal]],
                                                                       list[tuple[int, Decimal]]]:
    """Absolute quantities now at the changed prices, bids and asks (0 = the level is gone)."""
    bids: list[tuple[int, Decimal]] = []
    asks: list[tuple[int, Decimal]] = []
    for side, t in sorted(changes, key=lambda c: (c[0], -c[1] if c[0] == BID else c[1])):
        (bids if side == BID else asks).append((t, book.level_total(side, t)))
    return bids, asks


__all__ = ["ASK", "BID", "AnchoredProfile", "Book", "Level", "Maker", "RelativeProfile", "TouchResult",
           "level_rows", "ticks"]
