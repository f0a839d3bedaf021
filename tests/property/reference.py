"""An independent, deliberately simple, exact reference for the VP ledger (fractions.Fraction only).

Nothing here imports hedgestack's ledger arithmetic: the reference only reads the event objects. It keeps

- per VP: the WAC average entry as an exact Fraction, ``avg = (q·avg + f·p)/(q + f)`` on an increase;
  ``realized += f·(p − avg)·d`` on a reduction (avg unchanged, 0 when flat); a reduction larger than the
  VP's quantity is clamped at that quantity; fees per asset; funding as the sum of its allocations;
  a transfer moves quantity at the source's average cost;
- per side (symbol, positionSide): the position the way Binance computes it, one WAC position over every
  fill of that side whatever VP it was attributed to, unclamped (transfers are invisible to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from hedgestack.domain.enums import PositionSide, Side
from hedgestack.domain.events import Event, Fill, Funding, Transfer, VpCreated
from hedgestack.domain.ids import unassigned_vp_id

SideKey = tuple[str, PositionSide]
HALF_QUANTUM = Fraction(1, 2 * 10**18)


def frac(value: object) -> Fraction:
    """A Decimal (or int/str) as an exact Fraction."""
    return Fraction(str(value))


def sign(position_side: PositionSide) -> int:
    return 1 if position_side == PositionSide.LONG else -1


def increases(position_side: PositionSide, side: Side) -> bool:
    return (side == Side.BUY) == (position_side == PositionSide.LONG)


@dataclass
class RefVp:
    vp_id: str
    symbol: str
    position_side: PositionSide
    qty: Fraction = Fraction(0)
    avg: Fraction = Fraction(0)
    realized: Fraction = Fraction(0)
    fees: dict[str, Fraction] = field(default_factory=dict)
    funding: Fraction = Fraction(0)
    fill_count: int = 0
    over_reduced: bool = False
    #: bounds on how far the ledger's exact-cost bookkeeping may be from this reference: each division the
    #: ledger makes (cost released by a partial reduction, cost moved by a transfer) is rounded to 1e-18, an
    #: error of at most HALF_QUANTUM; a VP going flat releases all of its cost, so the cost error restarts at 0.
    cost_error: Fraction = Fraction(0)
    realized_error: Fraction = Fraction(0)

    @property
    def d(self) -> int:
        return sign(self.position_side)

    def unrealized(self, mark: Fraction) -> Fraction:
        return self.qty * (mark - self.avg) * self.d


@dataclass
class RefSide:
    """One Binance position side: a single WAC position over all its fills, never clamped."""

    symbol: str
    position_side: PositionSide
    qty: Fraction = Fraction(0)
    avg: Fraction = Fraction(0)
    realized: Fraction = Fraction(0)

    @property
    def d(self) -> int:
        return sign(self.position_side)

    def unrealized(self, mark: Fraction) -> Fraction:
        return self.qty * (mark - self.avg) * self.d


@dataclass
class Reference:
    vps: dict[str, RefVp] = field(default_factory=dict)
    sides: dict[SideKey, RefSide] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    # -- folding ------------------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        key = event.key
        if key is not None:
            if key in self.seen:
                return
            self.seen.add(key)
        if isinstance(event, VpCreated):
            self.vps.setdefault(event.vp_id, RefVp(event.vp_id, event.symbol, PositionSide(event.position_side)))
        elif isinstance(event, Fill):
            self._fill(event)
        elif isinstance(event, Transfer):
            self._transfer(event)
        elif isinstance(event, Funding):
            for vp_id, amount in event.allocations:
                vp = self.vps.get(vp_id)
                if vp is None:  # the generator names only known VPs or an UNASSIGNED VP (created on first use)
                    pside = next(s for s in PositionSide if unassigned_vp_id(event.symbol, s) == vp_id)
                    vp = self.ensure_vp(vp_id, event.symbol, pside)
                vp.funding += frac(amount)
        else:  # pragma: no cover - the generator makes no other events
            raise NotImplementedError(type(event).__name__)

    def ensure_vp(self, vp_id: str, symbol: str, position_side: PositionSide) -> RefVp:
        """Create a VP implicitly (the UNASSIGNED VP has no VpCreated event)."""
        return self.vps.setdefault(vp_id, RefVp(vp_id, symbol, PositionSide(position_side)))

    def _fill(self, ev: Fill) -> None:
        pside = PositionSide(ev.position_side)
        vp = self.ensure_vp(ev.vp_id, ev.symbol, pside)
        f, p = frac(ev.qty), frac(ev.price)
        if increases(pside, Side(ev.side)):
            vp.avg = (vp.qty * vp.avg + f * p) / (vp.qty + f)
            vp.qty += f
        else:
            if f > vp.qty:
                vp.over_reduced = True
            g = min(f, vp.qty)
            if g:
                vp.realized += g * (p - vp.avg) * vp.d
                vp.realized_error += vp.cost_error + HALF_QUANTUM
                vp.cost_error += HALF_QUANTUM
            vp.qty -= g
            if vp.qty == 0:
                vp.avg = Fraction(0)
                vp.cost_error = Fraction(0)
        vp.fees[ev.commission_asset] = vp.fees.get(ev.commission_asset, Fraction(0)) + frac(ev.commission)
        vp.fill_count += 1

        side = self.sides.setdefault((ev.symbol, pside), RefSide(ev.symbol, pside))
        if increases(pside, Side(ev.side)):
            side.avg = (side.qty * side.avg + f * p) / (side.qty + f)
            side.qty += f
        else:
            side.realized += f * (p - side.avg) * side.d
            side.qty -= f
            if side.qty == 0:
                side.avg = Fraction(0)

    def _transfer(self, ev: Transfer) -> None:
        src, dst = self.vps[ev.from_vp], self.vps[ev.to_vp]
        t = frac(ev.qty)
        assert 0 < t <= src.qty and src is not dst, "the generator makes valid transfers only"
        dst.avg = (dst.qty * dst.avg + t * src.avg) / (dst.qty + t)
        dst.qty += t
        dst.cost_error += src.cost_error + HALF_QUANTUM
        src.cost_error += HALF_QUANTUM
        src.qty -= t
        if src.qty == 0:
            src.avg = Fraction(0)
            src.cost_error = Fraction(0)

    # -- reading ------------------------------------------------------------------------------------
    def vps_of(self, key: SideKey) -> list[RefVp]:
        return [vp for vp in self.vps.values() if (vp.symbol, vp.position_side) == key]

    def side(self, key: SideKey) -> RefSide:
        return self.sides.get(key, RefSide(*key))

    def side_total(self, key: SideKey, mark: Fraction) -> Fraction:
        """realized + unrealized(mark) of the exchange's side."""
        side = self.side(key)
        return side.realized + side.unrealized(mark)

    def expected_funding(self, symbol: str, amount: Fraction, rate: Fraction, mark: Fraction) -> dict[str, Fraction]:
        """The DESIGN.md split: −d·q·mark·rate per holding VP, the remainder to UNASSIGNED of the larger side."""
        shares: dict[str, Fraction] = {}
        long_qty = short_qty = Fraction(0)
        for vp in self.vps.values():
            if vp.symbol != symbol or vp.qty == 0:
                continue
            if vp.position_side == PositionSide.LONG:
                long_qty += vp.qty
            else:
                short_qty += vp.qty
            share = -vp.d * vp.qty * mark * rate
            if share:
                shares[vp.vp_id] = share
        remainder = amount - sum(shares.values(), Fraction(0))
        if remainder:
            target = unassigned_vp_id(symbol, PositionSide.LONG if long_qty >= short_qty else PositionSide.SHORT)
            shares[target] = shares.get(target, Fraction(0)) + remainder
        return shares


def fold_reference(events: list[Event]) -> Reference:
    ref = Reference()
    for event in events:
        ref.apply(event)
    return ref
