"""Hypothesis strategies: random event streams over several VPs of one or two symbols, both sides.

A stream starts with the VpCreated events of 1–5 VPs per side; then opening and reducing fills attributed to
those VPs or to the side's UNASSIGNED VP (foreign fills), optionally transfers between VPs of one side,
funding settlements (allocations from :func:`hedgestack.domain.funding.split_funding`) and over-reducing fills.
Quantities have 3 decimals (step 0.001) or up to 8; prices 2 to 8 decimals in a realistic range per symbol.
A valid stream never reduces a VP by more than it holds; ``over_reduce`` streams do, while the exchange side
itself never goes below zero.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from hypothesis import strategies as st

from hedgestack.domain.enums import PositionSide, Side
from hedgestack.domain.events import Event, Fill, Funding, Transfer, VpCreated
from hedgestack.domain.funding import split_funding
from hedgestack.domain.ids import unassigned_vp_id
from hedgestack.domain.ledger import Ledger

SideKey = tuple[str, PositionSide]
Draw = Callable[[st.SearchStrategy[Any]], Any]

#: symbol -> (lowest price, highest price)
SYMBOLS: dict[str, tuple[int, int]] = {"BTCUSDT": (20_000, 120_000), "ETHUSDT": (1_000, 5_000),
                                       "DOGEUSDT": (0, 1)}
T0 = 1_700_000_000_000
EIGHT_HOURS = 8 * 3600 * 1000
E8 = Decimal("1e-8")


@dataclass(frozen=True)
class Stream:
    events: tuple[Event, ...]
    sides: tuple[SideKey, ...]
    over_reduce: bool  # at least one fill reduces a VP by more than it holds
    has_transfer: bool
    has_funding: bool

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted({symbol for symbol, _ in self.sides}))


def draw_price(draw: Draw, symbol: str) -> Decimal:
    """A price of ``symbol`` with 2 to 8 decimals, inside the symbol's range."""
    low, high = SYMBOLS[symbol]
    places = draw(_PLACES)
    scale = 10**places
    return Decimal(draw(st.integers(max(low * scale, 1), high * scale))).scaleb(-places)


@st.composite
def prices(draw: Draw, symbol: str) -> Decimal:
    return draw_price(draw, symbol)


def draw_qty(draw: Draw, cap_e8: int = 5 * 10**8) -> Decimal:
    """A positive quantity of at most ``cap_e8`` × 1e-8: mostly step 0.001, sometimes up to 8 decimals."""
    if cap_e8 >= 10**5 and draw(_QUARTER):  # step 0.001
        return Decimal(draw(st.integers(1, cap_e8 // 10**5))).scaleb(-3)
    return Decimal(draw(st.integers(1, cap_e8))) * E8


_PLACES = st.integers(2, 8)
_QUARTER = st.integers(0, 3)
_COMMISSIONS = st.tuples(st.integers(0, 5 * 10**8).map(lambda units: Decimal(units) * E8),
                         st.sampled_from(["USDT", "USDT", "USDT", "BNB"]))


def _units(qty: Decimal) -> int:
    """A quantity in units of 1e-8 (every generated quantity is a multiple of 1e-8)."""
    value = qty / E8
    assert value == value.to_integral_value()
    return int(value)


class _Builder:
    """Keeps what the generator needs to stay valid: VP and side quantities, and a running ledger for the
    funding split (the ledger is used for ``split_funding`` only; the tests check the split independently)."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw
        self.events: list[Event] = []
        self.ledger = Ledger()
        self.ts = T0
        self.trade_id = draw(st.integers(1, 10**9))
        self.funding_time = T0
        self.vps: dict[SideKey, list[str]] = {}
        self.held: dict[str, Decimal] = defaultdict(Decimal)
        self.side_qty: dict[SideKey, Decimal] = defaultdict(Decimal)  # the exchange's side, never clamped
        self.over_reduce = self.has_transfer = self.has_funding = False

    def emit(self, event: Event) -> None:
        self.events.append(event)
        self.ledger.apply(event)

    def next_ts(self) -> int:
        self.ts += self.draw(st.integers(1, 5_000))
        return self.ts

    def create_vps(self, key: SideKey, count: int) -> None:
        symbol, pside = key
        ids = []
        for _ in range(count):
            vp_id = f"vp_t{len(self.ledger.vps):07d}"
            self.emit(VpCreated(ts=self.next_ts(), vp_id=vp_id, name=f"{symbol}-{pside}-{len(ids)}",
                                symbol=symbol, position_side=pside))
            ids.append(vp_id)
        self.vps[key] = ids

    def members(self, key: SideKey) -> list[str]:
        """The side's VPs a fill or transfer may name: ours, plus UNASSIGNED."""
        return [*self.vps[key], unassigned_vp_id(*key)]

    def fill(self, key: SideKey, vp_id: str, side: Side, qty: Decimal) -> None:
        symbol, pside = key
        commission, asset = self.draw(_COMMISSIONS)
        self.trade_id += self.draw(st.integers(1, 3))
        foreign = vp_id == unassigned_vp_id(symbol, pside)
        cid = self.draw(st.sampled_from([None, "web_x1", "autoclose-1"])) if foreign else f"VP-{vp_id[3:9]}-1"
        self.emit(Fill(ts=self.next_ts(), symbol=symbol, trade_id=self.trade_id, order_id=self.trade_id * 7,
                       client_order_id=cid, vp_id=vp_id, side=side, position_side=pside, qty=qty,
                       price=draw_price(self.draw, symbol), commission=commission, commission_asset=asset,
                       exchange_rp=Decimal(0), maker=self.draw(st.booleans())))
        if pside.increases(side):
            self.held[vp_id] += qty
            self.side_qty[key] += qty
        else:
            self.held[vp_id] = max(self.held[vp_id] - qty, Decimal(0))
            self.side_qty[key] -= qty

    def part_of(self, qty: Decimal) -> Decimal:
        """All of ``qty`` or a random part of it."""
        if self.draw(_QUARTER) == 0:
            return qty
        return draw_qty(self.draw, _units(qty))

    # -- steps ----------------------------------------------------------------------------------------
    def step_open(self, key: SideKey) -> None:
        vp_id = self.draw(st.sampled_from(self.members(key)))
        self.fill(key, vp_id, key[1].opening_side, draw_qty(self.draw))

    def step_reduce(self, key: SideKey) -> None:
        holders = [v for v in self.members(key) if self.held[v] > 0]
        if not holders:
            return self.step_open(key)
        vp_id = self.draw(st.sampled_from(holders))
        room = min(self.held[vp_id], self.side_qty[key])  # after an over-reduction the side holds less
        if room > 0:
            self.fill(key, vp_id, key[1].closing_side, self.part_of(room))

    def step_over_reduce(self, key: SideKey) -> None:
        candidates = [v for v in self.members(key) if self.held[v] < self.side_qty[key]]
        if not candidates:
            return self.step_open(key)
        vp_id = self.draw(st.sampled_from(candidates))
        excess = draw_qty(self.draw, _units(self.side_qty[key] - self.held[vp_id]))
        self.fill(key, vp_id, key[1].closing_side, self.held[vp_id] + excess)
        self.over_reduce = True

    def step_transfer(self, key: SideKey) -> None:
        known = [v for v in self.members(key) if v in self.ledger.vps]
        sources = [v for v in known if self.held[v] > 0]
        if len(known) < 2 or not sources:
            return self.step_open(key)
        src = self.draw(st.sampled_from(sources))
        dst = self.draw(st.sampled_from([v for v in known if v != src]))
        qty = self.part_of(self.held[src])
        self.emit(Transfer(ts=self.next_ts(), transfer_id=f"t{len(self.events)}", from_vp=src, to_vp=dst,
                           qty=qty))
        self.held[src] -= qty
        self.held[dst] += qty
        self.has_transfer = True

    def step_funding(self, symbol: str) -> None:
        mark = draw_price(self.draw, symbol)
        rate = Decimal(self.draw(st.integers(-7500, 7500))) * Decimal("1e-6")  # up to the 0.75 % cap
        with localcontext() as ctx:
            ctx.prec = 200
            exact = sum((-key[1].sign * self.held[v] * mark * rate
                         for key in self.vps if key[0] == symbol for v in self.members(key)), Decimal(0))
            # Binance reports 8 decimals; sometimes a position the ledger does not know adds to it
            amount = exact.quantize(E8) + Decimal(self.draw(st.sampled_from([0, 0, 0, 1, -1, 137, -5000]))) * E8
        implied = self.draw(st.booleans())  # rate and mark unknown: the split implies them
        event_rate, event_mark = (None, None) if implied else (rate, mark)
        allocations = split_funding(self.ledger, symbol, amount, event_rate, event_mark)
        self.funding_time += EIGHT_HOURS
        self.emit(Funding(ts=self.next_ts(), symbol=symbol, funding_time=self.funding_time, amount=amount,
                          asset="USDT", rate=event_rate, mark=event_mark, allocations=allocations))
        self.has_funding = True


@st.composite
def streams(draw: Draw, *, transfers: bool = False, funding: bool = False, over_reduce: bool = False,
            max_steps: int = 40) -> Stream:
    """A random event stream; ``transfers``/``funding``/``over_reduce`` allow those steps (drawn at random)."""
    builder = _Builder(draw)
    symbols = draw(st.lists(st.sampled_from(sorted(SYMBOLS)), min_size=1, max_size=2, unique=True))
    keys: list[SideKey] = []
    for symbol in symbols:
        for pside in draw(st.sampled_from([(PositionSide.LONG,), (PositionSide.SHORT,),
                                           (PositionSide.LONG, PositionSide.SHORT)])):
            keys.append((symbol, pside))
            builder.create_vps((symbol, pside), draw(st.integers(1, 5)))
    kinds = ["open"] * 4 + ["reduce"] * 3
    if transfers:
        kinds += ["transfer"] * 2
    if funding:
        kinds += ["funding"] * 2
    if over_reduce:
        kinds += ["over"] * 2
    for _ in range(draw(st.integers(0, max_steps))):
        kind = draw(st.sampled_from(kinds))
        key = draw(st.sampled_from(keys))
        if kind == "open":
            builder.step_open(key)
        elif kind == "reduce":
            builder.step_reduce(key)
        elif kind == "transfer":
            builder.step_transfer(key)
        elif kind == "funding":
            builder.step_funding(key[0])
        else:
            builder.step_over_reduce(key)
    return Stream(tuple(builder.events), tuple(keys), builder.over_reduce, builder.has_transfer,
                  builder.has_funding)


# -- reorderings of a stream ---------------------------------------------------------------------------
def touches(event: Event) -> frozenset[str]:
    """The VPs whose state an event changes (its relative order with their other events matters)."""
    if isinstance(event, VpCreated | Fill):
        return frozenset({event.vp_id})
    if isinstance(event, Transfer):
        return frozenset({event.from_vp, event.to_vp})
    if isinstance(event, Funding):
        return frozenset(vp_id for vp_id, _ in event.allocations)
    raise NotImplementedError(type(event).__name__)


def dependent_shuffle(events: Sequence[Event], rnd: random.Random) -> list[Event]:
    """A random order that keeps the relative order of any two events touching a common VP."""
    pending = list(events)
    out: list[Event] = []
    while pending:
        ready = []
        blocked: set[str] = set()
        for index, event in enumerate(pending):
            vps = touches(event)
            if not vps & blocked:
                ready.append(index)
            blocked |= vps
        out.append(pending.pop(rnd.choice(ready)))
    return out


def with_duplicates(events: Sequence[Event], rnd: random.Random, count: int) -> list[Event]:
    """Insert ``count`` copies of keyed events, each somewhere after the original's first occurrence."""
    out = list(events)
    for _ in range(count):
        if not out:
            break
        index = rnd.randrange(len(out))
        out.insert(rnd.randint(index + 1, len(out)), out[index])
    return out
