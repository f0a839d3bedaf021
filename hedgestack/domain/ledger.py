"""The VP ledger: a fold over the event log.

Problem: one Binance position side carries several ideas (VPs). Each VP needs its own weighted-average
entry, realized PnL, fees and funding, computed from the fills attributed to it, reproducibly on every replay.

Rule (per VP; d = +1 LONG, -1 SHORT). The VP keeps its quantity ``q`` and its **cost** ``c`` (the exact
sum of q x price over what it holds), so ``avg = c / q``:
- increasing fill f @ p: ``c += f·p``; ``q += f`` (the WAC update ``avg = (q·avg + f·p)/(q + f)``).
- reducing fill f @ p: ``released = c·f/q`` (all of ``c`` when f == q); ``realized += d·(f·p − released)``;
  ``c −= released``; ``q −= f``: avg is unchanged and becomes 0 when the VP is flat.
- a reducing fill larger than q is clamped to q and reported as an anomaly: the side stays inconsistent so
  the consistency check fires (quantities are never negative).
Why cost rather than avg: ``c`` is exact, and ``realized`` and ``c`` move by the same ``released``, so
realized + unrealized of every VP is exactly its cash flow plus ``d·q·mark``. Summed over a side's VPs it
equals the side's figure computed the way Binance does it, with no rounding residue. Only ``released`` is
a division; it is rounded once, to 1e-18, and that rounding moves value between realized and unrealized
of the same VP, never creating or losing any.

Worked example (LONG): buy 1 @ 100, buy 3 @ 120 → q 4, c 460, avg 115. Sell 2 @ 130 → released 230,
realized +30 (= 2 × (130 − 115)), q 2, c 230, avg still 115. Sell 2 @ 110 → released 230, realized
30 − 10 = 20, flat, avg 0.

Fees are kept per asset (``fees`` is the USDT total); funding comes pre-split in the Funding event;
``net_pnl = realized − fees + funding``; ``unrealized = d·(q·mark − c)``.

Replay's fast path (:meth:`Ledger.apply_columns`): the store hands over a batch of log rows as columns, fills
with their quantities and money as exact fixed-point integers (what its DECIMAL columns hold). An ordinary
fill (a new trade of a live VP of its side, reducing no more than the VP holds) is folded in integers: the
same rule with ``c`` in units of 1e-28 (a 1e-10 quantity times a 1e-18 price, exactly) and ``released``
rounded half-even to 1e-18, which is what the Decimal path gives (its 80-digit quotient leaves no double
rounding for quantities of at most 28 digits). Every other row (other events, a fill that is a duplicate,
names an unknown or archived VP, over-reduces, or a VP whose figures do not fit the fixed scales) goes
through :meth:`Ledger.apply`'s path, so anomalies are raised by one implementation. The result equals
``apply_all`` over the same events (the property tests hold it to that).

The fold is deterministic and idempotent: every event with a dedupe key is applied once, however often it
occurs; fills by (symbol, tradeId). :meth:`Ledger.apply` returns what the event did (:class:`Applied`: the
VPs it changed and its anomalies); business anomalies are returned, only programmer errors raise.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from itertools import islice
from typing import Any

from hedgestack.domain.enums import (
    OrderRole,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    SyncStatus,
    TimeInForce,
    TriggerType,
)
from hedgestack.domain.events import (
    Event,
    Fill,
    Funding,
    OrderIntent,
    OrderUpdate,
    Reconcile,
    TpSlSet,
    TpSlSync,
    Transfer,
    VpArchived,
    VpCreated,
    VpRenamed,
)
from hedgestack.domain.ids import UNASSIGNED_NAME, unassigned_vp_id
from hedgestack.domain.numbers import ONE, ZERO, to_str

#: Additions and products in the ledger are exact: any rounding would raise (Inexact is trapped).
LEDGER_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN,
                         traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
DIVISION_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
COST_QUANTUM = Decimal("1e-18")
USDT = "USDT"
#: fixed-point scales of :class:`FillColumns` (the store's DECIMAL(38, 10) and DECIMAL(38, 18) columns)
QTY_SCALE = 10
MONEY_SCALE = 18
#: the fast fold keeps a VP's cost and realized PnL in units of 1e-28: a quantity times a price, exactly
_COST_SCALE = QTY_SCALE + MONEY_SCALE
_RELEASE_STEP: int = 10 ** (_COST_SCALE - 18)  # released cost is rounded to 1e-18 (COST_QUANTUM)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something in the log the ledger applied with a correction, or could not apply."""

    kind: str
    message: str
    event_key: str | None = None


_NOTHING: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Applied:
    """What one event did to a :class:`Ledger`: the ids of the VPs it changed (``touched``: the VPs whose
    figures, status or name a reader must refresh; empty for a duplicate or an order event) and the anomalies it
    caused (also kept in ``Ledger.anomalies``)."""

    touched: frozenset[str] = _NOTHING
    anomalies: tuple[Anomaly, ...] = ()

    @property
    def booked(self) -> str | None:
        """The one VP the event changed, if it changed exactly one (a fill: the VP it was booked to)."""
        if len(self.touched) != 1:
            return None
        (vp_id,) = self.touched
        return vp_id


#: what a handler returns: the id of the one VP it changed, the ids of several, or None (none)
_Touched = str | tuple[str, ...] | None


class VpBook:
    """The mutable per-VP accumulator inside a Ledger (read it through :class:`VpView`)."""

    __slots__ = ("vp_id", "name", "symbol", "position_side", "sign", "opening", "created_at", "archived", "system",
                 "qty", "cost", "realized", "fees", "funding", "reset_at", "tp_price", "tp_trigger",
                 "sl_price", "sl_trigger", "sync_status", "sync_reason", "fill_count", "updated_at")

    def __init__(self, vp_id: str, name: str, symbol: str, position_side: PositionSide, created_at: int,
                 system: bool = False) -> None:
        self.vp_id = vp_id
        self.name = name
        self.symbol = symbol
        self.position_side = PositionSide(position_side)
        self.sign = self.position_side.sign
        self.opening = self.position_side.opening_side
        self.created_at = created_at
        self.archived = False
        self.system = system
        self.qty = ZERO
        self.cost = ZERO
        self.realized = ZERO
        self.fees: dict[str, Decimal] = {}
        self.funding = ZERO
        self.reset_at: int | None = None
        self.tp_price: Decimal | None = None
        self.tp_trigger = TriggerType.LAST_PRICE
        self.sl_price: Decimal | None = None
        self.sl_trigger = TriggerType.MARK_PRICE
        self.sync_status: SyncStatus | None = None
        self.sync_reason: str | None = None
        self.fill_count = 0
        self.updated_at = created_at

    def canonical(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) if name != "fees" else tuple(sorted(self.fees.items()))
                     for name in self.__slots__)


class OrderBook:
    """One of our orders as the log knows it."""

    __slots__ = ("client_order_id", "vp_id", "symbol", "position_side", "side", "order_type", "role", "qty",
                 "filled", "filled_cost", "executed", "status", "order_id", "algo_id", "actual_order_id", "price",
                 "trigger_price", "trigger_type", "time_in_force", "is_algo", "created_at", "updated_at", "reason",
                 "replaces")

    def __init__(self, intent: OrderIntent) -> None:
        self.client_order_id = intent.client_order_id
        self.vp_id = intent.vp_id
        self.symbol = intent.symbol
        self.position_side = PositionSide(intent.position_side)
        self.side = Side(intent.side)
        self.order_type = OrderType(intent.order_type)
        self.role = OrderRole(intent.role)
        self.qty = intent.qty
        self.filled = ZERO
        self.filled_cost = ZERO  # Σ qty × price of its fills (average fill price)
        self.executed = ZERO  # what the exchange last said it executed (its fills may still be on their way)
        self.status = OrderStatus.PENDING
        self.order_id: int | None = None
        self.algo_id: int | None = None
        self.actual_order_id: int | None = None
        self.price = intent.price
        self.trigger_price = intent.trigger_price
        self.trigger_type = intent.trigger_type
        self.time_in_force: TimeInForce | None = intent.time_in_force
        self.is_algo = intent.is_algo
        self.created_at = intent.ts
        self.updated_at = intent.ts
        self.reason: str | None = None
        self.replaces = intent.replaces

    @property
    def remaining(self) -> Decimal:
        if not self.status.is_open:
            return ZERO
        rest = self.qty - self.filled
        return rest if rest > 0 else ZERO

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def avg_price(self) -> Decimal | None:
        """The average price of its fills (None before the first)."""
        if self.filled == 0:
            return None
        return average(self.filled_cost, self.filled)

    def canonical(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED,
                       OrderStatus.EXPIRED_IN_MATCH, OrderStatus.FINISHED})


@dataclass(frozen=True, slots=True)
class VpView:
    """A read-only snapshot of one VP with its derived figures."""

    vp_id: str
    name: str
    symbol: str
    position_side: PositionSide
    created_at: int
    archived: bool
    system: bool
    net_qty: Decimal
    cost: Decimal
    avg_entry: Decimal
    realized_pnl: Decimal
    fees: Decimal
    fees_by_asset: dict[str, Decimal]
    funding: Decimal
    reset_at: int | None
    tp_price: Decimal | None
    tp_trigger: TriggerType
    sl_price: Decimal | None
    sl_trigger: TriggerType
    sync_status: SyncStatus | None
    sync_reason: str | None
    fill_count: int

    def unrealized_pnl(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.net_qty == 0:
            return ZERO
        with localcontext(LEDGER_CONTEXT):
            return self.position_side.sign * (self.net_qty * mark - self.cost)

    @property
    def net_pnl(self) -> Decimal:
        """realized − fees (USDT) + funding."""
        with localcontext(LEDGER_CONTEXT):
            return self.realized_pnl - self.fees + self.funding


def _touch(item: VpBook | OrderBook, ts: int) -> None:
    """``updated_at`` never goes back: events carry the exchange's time (fills) or ours (commands), and the two
    clocks differ by a few ms, so a later event can bear an earlier time (a client keeping the newest update by
    ``updated_at`` would drop it)."""
    if ts > item.updated_at:
        item.updated_at = ts


def average(cost: Decimal, qty: Decimal) -> Decimal:
    """avg = cost / qty, rounded to 1e-18 and without trailing zeros; 0 when flat."""
    if qty == 0:
        return ZERO
    value = DIVISION_CONTEXT.divide(cost, qty).quantize(COST_QUANTUM, context=DIVISION_CONTEXT)
    return value.normalize(DIVISION_CONTEXT) if value != 0 else ZERO


def _release(cost: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """The cost that leaves with ``part`` of ``whole``: exactly ``cost`` when everything leaves."""
    if part == whole:
        return cost
    return DIVISION_CONTEXT.divide(cost * part, whole).quantize(COST_QUANTUM, context=DIVISION_CONTEXT)


@dataclass
class Ledger:
    """All VPs and our orders, folded from events. Build with :func:`fold` or :meth:`apply`."""

    vps: dict[str, VpBook] = field(default_factory=dict)
    orders: dict[str, OrderBook] = field(default_factory=dict)
    order_ids: dict[int, str] = field(default_factory=dict)  # exchange orderId (and algo child) → ours
    trades: dict[str, set[int]] = field(default_factory=dict)  # symbol → applied tradeIds
    keys: set[str] = field(default_factory=set)  # other applied dedupe keys
    anomalies: list[Anomaly] = field(default_factory=list)
    last_ts: int = 0
    #: the orders that may still matter (open, or executed beyond their booked fills), in creation order: the
    #: queries below look at these, not at every order of the account's life (pruned as they read it)
    _live: dict[str, OrderBook] = field(default_factory=dict, repr=False, compare=False)
    #: how many of ``orders`` (a dict that only grows) ``_live`` has taken in
    _indexed: int = field(default=0, repr=False, compare=False)

    # -- applying ---------------------------------------------------------------------------------
    def apply(self, event: Event) -> Applied:
        """Apply one event; return what it did: the VPs it changed and its anomalies (see :class:`Applied`)."""
        anomalies = self.anomalies
        before = len(anomalies)
        with localcontext(LEDGER_CONTEXT):
            touched = self._apply(event)
        if touched is None:
            ids = _NOTHING
        elif type(touched) is str:
            ids = frozenset((touched,))
        else:
            ids = frozenset(touched)
        return Applied(ids, tuple(anomalies[before:]) if len(anomalies) > before else ())

    def apply_all(self, events: Iterable[Event]) -> None:
        """Apply many events under one decimal context (the fast path of replay).

        The cyclic garbage collector is paused meanwhile: the fold creates no reference cycles, and a
        collection pass over millions of fresh objects would otherwise dominate a replay.
        """
        apply = self._apply
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            with localcontext(LEDGER_CONTEXT):
                for event in events:
                    apply(event)
        finally:
            if paused:
                gc.enable()

    def apply_columns(self, columns: FillColumns) -> None:
        """Apply a batch of log rows given as columns (replay's fast path, see the module's docstring); the
        state is the one ``apply_all(columns.events_in_order())`` gives."""
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            with localcontext(LEDGER_CONTEXT):
                self._apply_columns(columns)
        finally:
            if paused:
                gc.enable()

    def _apply_columns(self, columns: FillColumns) -> None:
        events = columns.events
        quantities = columns.qty
        orders = self.orders
        #: per VP folded in fixed point: (its figures, the VP, the symbol's trade ids, symbol, side, opening, sign)
        fixed: dict[str, _Entry] = {}
        try:
            for row, (ts, symbol, trade_id, order_id, cid, vp_id, side, position_side, qty, price, fee,
                      asset) in enumerate(zip(columns.ts, columns.symbol, columns.trade_id, columns.order_id,
                                              columns.client_order_id, columns.vp_id, columns.side,
                                              columns.position_side, columns.qty_units, columns.price_units,
                                              columns.commission_units, columns.commission_asset, strict=True)):
                if vp_id is not None:  # a fill held by the columns
                    entry = fixed.get(vp_id)
                    if entry is None:
                        entry = self._entry(vp_id, fixed)
                    if entry is not None:
                        state, vp, seen, vp_symbol, vp_side, opening, sign = entry
                        if (trade_id not in seen and symbol == vp_symbol and position_side is vp_side
                                and not vp.archived and (side is opening or qty <= state.qty)):
                            seen.add(trade_id)
                            if cid is not None:
                                order = orders.get(cid)
                                if order is not None:
                                    self._fill_order(order, order_id, quantities[row],  # type: ignore[arg-type]
                                                     from_units(price, MONEY_SCALE), ts)
                            if side is opening:
                                state.cost += qty * price
                                state.qty += qty
                            elif qty:
                                held = state.qty
                                released = _release_units(state.cost, qty, held)
                                state.realized += sign * (qty * price - released)
                                state.cost -= released
                                state.qty = held - qty
                            fees = state.fees
                            fees[asset] = fees.get(asset, 0) + fee
                            vp.fill_count += 1
                            _touch(vp, ts)
                            continue
                    event: Event = columns.fill(row)
                else:
                    event = events[row]
                # the Decimal path: its figures first back into the VPs, then the event as apply() does it
                if type(event) in _FIGURES:
                    _settle(fixed)
                self._apply(event)
        finally:
            _settle(fixed)
            if columns.ts:  # the latest time seen is the maximum whatever path each row took
                latest = max(columns.ts)
                if latest > self.last_ts:
                    self.last_ts = latest

    def _entry(self, vp_id: str, fixed: dict[str, _Entry]) -> _Entry | None:
        """Start folding VP ``vp_id`` in fixed point (None: it must take the Decimal path)."""
        vp = self.vps.get(vp_id)
        if vp is None:
            return None
        seen = self.trades.get(vp.symbol)
        state = _Fixed.of(vp)
        if seen is None or state is None:
            return None
        # the symbol interned: the store interns the names it decodes, so comparing them is an identity check
        entry = fixed[vp_id] = (state, vp, seen, sys.intern(vp.symbol), vp.position_side, vp.opening, vp.sign)
        return entry

    def _fill_order(self, order: OrderBook, order_id: int, qty: Decimal, price: Decimal, ts: int) -> None:
        """What a fill does to the order it belongs to."""
        order.filled += qty
        order.filled_cost += qty * price
        _touch(order, ts)
        if order.order_id is None and not order.is_algo:
            order.order_id = order_id
            self.order_ids[order_id] = order.client_order_id
        if order.filled >= order.qty and order.status.is_open and not order.is_algo:
            order.status = OrderStatus.FILLED

    def has_trade(self, symbol: str, trade_id: int) -> bool:
        seen = self.trades.get(symbol)
        return seen is not None and trade_id in seen

    @property
    def trade_count(self) -> int:
        return sum(len(ids) for ids in self.trades.values())

    def _apply(self, event: Event) -> _Touched:
        """Apply one event (inside the ledger's decimal context); return the VPs it changed."""
        if event.ts > self.last_ts:
            self.last_ts = event.ts
        if type(event) is Fill:
            return self._fill(event)
        key = event.key
        if key is not None:
            if key in self.keys:
                return None
            self.keys.add(key)
        handler = _HANDLERS[type(event)]
        return handler(self, event)

    def _anomaly(self, kind: str, message: str, event: Event | None = None) -> None:
        self.anomalies.append(Anomaly(kind, message, None if event is None else event.key))

    def _fill(self, ev: Fill) -> str | None:
        seen = self.trades.get(ev.symbol)
        if seen is None:
            seen = self.trades[ev.symbol] = set()
        elif ev.trade_id in seen:
            return None
        seen.add(ev.trade_id)
        vp = self.vps.get(ev.vp_id)
        if vp is None and ev.vp_id == unassigned_vp_id(ev.symbol, PositionSide(ev.position_side)):
            vp = self.unassigned(ev.symbol, PositionSide(ev.position_side), ev.ts)  # a foreign fill: expected
        if vp is None or vp.symbol != ev.symbol or vp.position_side != ev.position_side:
            self._anomaly("FILL_VP_UNKNOWN", f"fill {ev.trade_id} names VP {ev.vp_id}, which is not a VP of "
                          f"{ev.symbol} {ev.position_side}; booked to UNASSIGNED", ev)
            vp = self.unassigned(ev.symbol, PositionSide(ev.position_side), ev.ts)
        elif vp.archived:
            vp.archived = False
            self._anomaly("FILL_ON_ARCHIVED_VP", f"fill {ev.trade_id} arrived for archived VP {vp.vp_id}; "
                          "the VP is live again", ev)
        cid = ev.client_order_id
        if cid is not None:
            order = self.orders.get(cid)
            if order is not None:
                self._fill_order(order, ev.order_id, ev.qty, ev.price, ev.ts)
        qty = ev.qty
        price = ev.price
        if ev.side == vp.opening:
            vp.cost += qty * price
            vp.qty += qty
        else:
            held = vp.qty
            if qty > held:
                self._anomaly("OVER_REDUCE", f"fill {ev.trade_id} reduces {vp.name} ({vp.vp_id}) by {to_str(qty)} "
                              f"but it holds {to_str(held)}; clamped to {to_str(held)}, the side is now "
                              "inconsistent", ev)
                qty = held
            if qty:
                released = _release(vp.cost, qty, held)
                vp.realized += vp.sign * (qty * price - released)
                vp.cost -= released
                vp.qty = held - qty
        fees = vp.fees
        fees[ev.commission_asset] = fees.get(ev.commission_asset, ZERO) + ev.commission
        vp.fill_count += 1
        _touch(vp, ev.ts)
        return vp.vp_id

    def _vp_created(self, ev: VpCreated) -> _Touched:
        if ev.vp_id in self.vps:
            self._anomaly("DUPLICATE_VP", f"VP {ev.vp_id} created twice", ev)
            return None
        self.vps[ev.vp_id] = VpBook(ev.vp_id, ev.name, ev.symbol, PositionSide(ev.position_side), ev.ts)
        return ev.vp_id

    def _vp_renamed(self, ev: VpRenamed) -> _Touched:
        vp = self._known(ev.vp_id, ev)
        if vp is None:
            return None
        vp.name = ev.name
        _touch(vp, ev.ts)
        return vp.vp_id

    def _vp_archived(self, ev: VpArchived) -> _Touched:
        vp = self._known(ev.vp_id, ev)
        if vp is None:
            return None
        vp.archived = True
        _touch(vp, ev.ts)
        return vp.vp_id

    def _intent(self, ev: OrderIntent) -> _Touched:
        if self._known(ev.vp_id, ev) is not None:
            synced = self._indexed == len(self.orders)
            order = self.orders[ev.client_order_id] = OrderBook(ev)
            if synced:  # else the next query takes in every order added meanwhile, in their order
                self._live[ev.client_order_id] = order
                self._indexed = len(self.orders)
        return None

    def _order_update(self, ev: OrderUpdate) -> _Touched:
        order = self.orders.get(ev.client_order_id)
        if order is None:
            self._anomaly("UNKNOWN_ORDER", f"update for unknown order {ev.client_order_id}", ev)
            return None
        if ev.order_id is not None and order.order_id is None:
            order.order_id = ev.order_id
            self.order_ids[ev.order_id] = order.client_order_id
        if ev.algo_id is not None:
            order.algo_id = ev.algo_id
        if ev.actual_order_id is not None:
            order.actual_order_id = ev.actual_order_id
            self.order_ids[ev.actual_order_id] = order.client_order_id
        if ev.reason is not None:
            order.reason = ev.reason
        if ev.executed_qty is not None and ev.executed_qty > order.executed:
            order.executed = ev.executed_qty
            if not order.is_algo and order.executed > order.filled:  # live again if it was pruned (finished)
                self._take_in()
                self._live.setdefault(order.client_order_id, order)
        _touch(order, ev.ts)
        status = OrderStatus(ev.status)
        if order.status in _TERMINAL and status not in _TERMINAL:
            return None  # a late NEW/PARTIALLY_FILLED never reopens a finished order
        if order.status in _TERMINAL and status in _TERMINAL:
            if order.status is OrderStatus.FILLED:
                return None
        order.status = status
        return None

    def _funding(self, ev: Funding) -> _Touched:
        touched: list[str] = []
        for vp_id, amount in ev.allocations:
            vp = self.vps.get(vp_id)
            if vp is None:
                if vp_id == unassigned_vp_id(ev.symbol, PositionSide.LONG):
                    vp = self.unassigned(ev.symbol, PositionSide.LONG, ev.ts)
                elif vp_id == unassigned_vp_id(ev.symbol, PositionSide.SHORT):
                    vp = self.unassigned(ev.symbol, PositionSide.SHORT, ev.ts)
                else:
                    self._anomaly("FUNDING_VP_UNKNOWN", f"funding for unknown VP {vp_id}", ev)
                    continue
            vp.funding += amount
            _touch(vp, ev.ts)
            touched.append(vp.vp_id)
        return tuple(touched)

    def _transfer(self, ev: Transfer) -> _Touched:
        src = self.vps.get(ev.from_vp)
        dst = self.vps.get(ev.to_vp)
        if (src is None or dst is None or src.symbol != dst.symbol or src.position_side != dst.position_side
                or ev.qty <= 0 or ev.qty > src.qty or src is dst):
            self._anomaly("TRANSFER_INVALID", f"transfer {ev.transfer_id} cannot be applied", ev)
            return None
        moved = _release(src.cost, ev.qty, src.qty)
        src.cost -= moved
        src.qty -= ev.qty
        dst.cost += moved
        dst.qty += ev.qty
        _touch(src, ev.ts)
        _touch(dst, ev.ts)
        return (src.vp_id, dst.vp_id)

    def _reconcile(self, ev: Reconcile) -> _Touched:
        side = PositionSide(ev.position_side)
        members = [vp for vp in self.vps.values() if vp.symbol == ev.symbol and vp.position_side == side]
        by_id = {vp.vp_id: vp for vp in members}
        total = sum((qty for _, qty in ev.assignments), ZERO)
        if (total > ev.exchange_qty or any(qty < 0 for _, qty in ev.assignments)
                or any(vp_id not in by_id and vp_id != unassigned_vp_id(ev.symbol, side)
                       for vp_id, _ in ev.assignments)):
            self._anomaly("RECONCILE_INVALID", f"reconcile {ev.reconcile_id} cannot be applied", ev)
            return None
        unassigned = self.unassigned(ev.symbol, side, ev.ts)
        by_id[unassigned.vp_id] = unassigned
        targets: dict[str, Decimal] = {vp_id: ZERO for vp_id in by_id}
        for vp_id, qty in ev.assignments:
            targets[vp_id] += qty
        targets[unassigned.vp_id] += ev.exchange_qty - total
        touched: list[str] = []
        for vp_id, qty in targets.items():
            vp = by_id[vp_id]
            if vp.archived and qty == 0 and vp.qty == 0:
                continue
            vp.qty = qty
            vp.cost = qty * ev.exchange_entry
            vp.reset_at = ev.ts
            _touch(vp, ev.ts)
            touched.append(vp_id)
        return tuple(touched)

    def _tpsl_set(self, ev: TpSlSet) -> _Touched:
        vp = self._known(ev.vp_id, ev)
        if vp is None:
            return None
        vp.tp_price, vp.tp_trigger = ev.tp_price, TriggerType(ev.tp_trigger)
        vp.sl_price, vp.sl_trigger = ev.sl_price, TriggerType(ev.sl_trigger)
        _touch(vp, ev.ts)
        if ev.tp_price is None and ev.sl_price is None:
            vp.sync_status, vp.sync_reason = None, None
        return vp.vp_id

    def _tpsl_sync(self, ev: TpSlSync) -> _Touched:
        vp = self._known(ev.vp_id, ev)
        if vp is None:
            return None
        vp.sync_status, vp.sync_reason = SyncStatus(ev.status), ev.reason
        _touch(vp, ev.ts)
        return vp.vp_id

    def _known(self, vp_id: str, ev: Event) -> VpBook | None:
        vp = self.vps.get(vp_id)
        if vp is None:
            self._anomaly("UNKNOWN_VP", f"{type(ev).__name__} names unknown VP {vp_id}", ev)
        return vp

    # -- reading ----------------------------------------------------------------------------------
    def unassigned(self, symbol: str, position_side: PositionSide, ts: int = 0) -> VpBook:
        """The UNASSIGNED VP of (symbol, side), created on first use."""
        vp_id = unassigned_vp_id(symbol, position_side)
        vp = self.vps.get(vp_id)
        if vp is None:
            vp = VpBook(vp_id, UNASSIGNED_NAME, symbol, position_side, ts, system=True)
            self.vps[vp_id] = vp
        return vp

    def view(self, vp_id: str) -> VpView:
        vp = self.vps[vp_id]
        return VpView(
            vp_id=vp.vp_id, name=vp.name, symbol=vp.symbol, position_side=vp.position_side,
            created_at=vp.created_at, archived=vp.archived, system=vp.system, net_qty=vp.qty, cost=vp.cost,
            avg_entry=average(vp.cost, vp.qty), realized_pnl=vp.realized, fees=vp.fees.get(USDT, ZERO),
            fees_by_asset=dict(vp.fees), funding=vp.funding, reset_at=vp.reset_at, tp_price=vp.tp_price,
            tp_trigger=vp.tp_trigger, sl_price=vp.sl_price, sl_trigger=vp.sl_trigger,
            sync_status=vp.sync_status, sync_reason=vp.sync_reason, fill_count=vp.fill_count)

    def views(self, *, include_archived: bool = False) -> list[VpView]:
        return [self.view(vp_id) for vp_id, vp in self.vps.items() if include_archived or not vp.archived]

    def vps_of(self, symbol: str, position_side: PositionSide) -> Iterator[VpBook]:
        for vp in self.vps.values():
            if vp.symbol == symbol and vp.position_side == position_side:
                yield vp

    def side_qty(self, symbol: str, position_side: PositionSide) -> Decimal:
        """Σ VP net_qty of one side, UNASSIGNED included (invariant 1's left-hand side)."""
        return sum((vp.qty for vp in self.vps_of(symbol, position_side)), ZERO)

    def sides(self) -> set[tuple[str, PositionSide]]:
        return {(vp.symbol, vp.position_side) for vp in self.vps.values()}

    def open_orders(self, vp_id: str | None = None) -> list[OrderBook]:
        """Our open orders (of one VP), in creation order."""
        return [o for o in self.live_orders(vp_id) if o.status.is_open]

    def _take_in(self) -> dict[str, OrderBook]:
        """The index, with the orders written to ``orders`` directly (a snapshot, a test) taken in, in order."""
        live = self._live
        count = len(self.orders)
        if count != self._indexed:
            if count < self._indexed:
                live.clear()
                added: Iterable[OrderBook] = self.orders.values()
            else:
                added = reversed(list(islice(reversed(self.orders.values()), count - self._indexed)))
            for order in added:
                live[order.client_order_id] = order
            self._indexed = count
        return live

    def live_orders(self, vp_id: str | None = None) -> list[OrderBook]:
        """The open orders and the finished ones the exchange executed beyond their booked fills (their fills are
        on their way), in creation order; of one VP with ``vp_id``."""
        live = self._take_in()
        found: list[OrderBook] = []
        gone: list[str] = []
        for cid, order in live.items():
            if order.status.is_open or (not order.is_algo and order.executed > order.filled):
                if vp_id is None or order.vp_id == vp_id:
                    found.append(order)
            else:
                gone.append(cid)
        for cid in gone:
            del live[cid]
        return found

    def order_for_exchange_id(self, order_id: int) -> OrderBook | None:
        cid = self.order_ids.get(order_id)
        return None if cid is None else self.orders.get(cid)

    def canonical(self) -> tuple[object, ...]:
        """Everything the fold determines, in a comparable form (anomalies excluded)."""
        return (tuple(sorted((k, v.canonical()) for k, v in self.vps.items())),
                tuple(sorted((k, v.canonical()) for k, v in self.orders.items())),
                tuple(sorted(self.order_ids.items())),
                tuple(sorted((s, tuple(sorted(ids))) for s, ids in self.trades.items() if ids)),
                tuple(sorted(self.keys)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ledger):
            return NotImplemented
        return self.canonical() == other.canonical()

    __hash__ = None  # type: ignore[assignment]


def from_units(units: int, scale: int) -> Decimal:
    """``units`` x 10^-``scale`` as a Decimal without trailing zeros after the point (the plain form the store
    writes, ``to_str``): ``from_units(1500, 3) == Decimal("1.5")``, ``from_units(100, 0) == Decimal("100")``."""
    if not units:
        return ZERO
    value = Decimal(units).scaleb(-scale, DIVISION_CONTEXT).normalize(DIVISION_CONTEXT)
    return value if value.as_tuple().exponent <= 0 else value.quantize(ONE, context=DIVISION_CONTEXT)  # type: ignore[operator]


def to_units(value: Decimal, scale: int) -> int | None:
    """``value`` in units of 10^-``scale`` when that is exact, else None."""
    scaled = value.scaleb(scale, DIVISION_CONTEXT)
    integral = scaled.to_integral_value(context=DIVISION_CONTEXT)
    return int(integral) if integral == scaled else None


def _release_units(cost: int, part: int, whole: int) -> int:
    """:func:`_release` in fixed point: all of ``cost`` when everything leaves, else ``cost x part / whole``
    (units of 1e-28) rounded half-even to 1e-18."""
    if part == whole:
        return cost
    numerator: int = cost * part
    denominator = whole * _RELEASE_STEP
    quotient, rest = divmod(-numerator if numerator < 0 else numerator, denominator)
    twice = 2 * rest
    if twice > denominator or (twice == denominator and quotient & 1):
        quotient += 1
    released = quotient * _RELEASE_STEP
    return -released if numerator < 0 else released


class _Fixed:
    """A VP's figures in fixed point while :meth:`Ledger.apply_columns` folds fills into it."""

    __slots__ = ("vp", "qty", "cost", "realized", "fees")

    def __init__(self, vp: VpBook, qty: int, cost: int, realized: int, fees: dict[str, int]) -> None:
        self.vp = vp
        self.qty = qty
        self.cost = cost
        self.realized = realized
        self.fees = fees

    @classmethod
    def of(cls, vp: VpBook) -> _Fixed | None:
        """The VP's figures in fixed point, or None when one of them does not fit its scale exactly."""
        qty = to_units(vp.qty, QTY_SCALE)
        cost = to_units(vp.cost, _COST_SCALE)
        realized = to_units(vp.realized, _COST_SCALE)
        fees: dict[str, int] = {}
        for asset, amount in vp.fees.items():
            units = to_units(amount, MONEY_SCALE)
            if units is None:
                return None
            fees[asset] = units
        if qty is None or cost is None or realized is None:
            return None
        return cls(vp, qty, cost, realized, fees)

    def settle(self) -> None:
        """Write the figures back into the VP as Decimals."""
        vp = self.vp
        vp.qty = from_units(self.qty, QTY_SCALE)
        vp.cost = from_units(self.cost, _COST_SCALE)
        vp.realized = from_units(self.realized, _COST_SCALE)
        for asset, units in self.fees.items():
            vp.fees[asset] = from_units(units, MONEY_SCALE)


#: events after which the fast fold's fixed-point figures must be read again from the VPs: those that read or
#: write the figures (a fill that takes the Decimal path included)
_FIGURES: frozenset[type] = frozenset({Fill, Transfer, Reconcile})


#: a VP folded in fixed point (see Ledger._apply_columns)
_Entry = tuple[_Fixed, VpBook, set[int], str, PositionSide, Side, int]


def _settle(fixed: dict[str, _Entry]) -> None:
    for entry in fixed.values():
        entry[0].settle()
    fixed.clear()


@dataclass(slots=True)
class FillColumns:
    """Consecutive log rows as columns, for :meth:`Ledger.apply_columns` (the store's replay batches).

    Row ``i`` is ``events[i]`` when that key exists (any event), else a fill whose fields are row ``i`` of the
    columns (``vp_id`` is then not None), with its quantity and money as exact fixed-point integers:
    ``qty_units`` in units of 1e-10 (:data:`QTY_SCALE`), ``price_units``, ``commission_units`` and
    ``exchange_rp_units`` in units of 1e-18 (:data:`MONEY_SCALE`); ``qty`` is the quantity as a Decimal too
    (orders count it). Rows that are events hold anything (None) in the columns.
    """

    ts: list[int]
    symbol: list[str | None]
    trade_id: list[int]
    order_id: list[int]
    client_order_id: list[str | None]
    vp_id: list[str | None]
    side: list[Side | None]
    position_side: list[PositionSide | None]
    qty_units: list[int]
    qty: list[Decimal | None]
    price_units: list[int]
    commission_units: list[int]
    commission_asset: list[str | None]
    exchange_rp_units: Sequence[int]
    maker: Sequence[bool | None]
    events: dict[int, Event] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ts)

    def fill(self, row: int) -> Fill:
        """Row ``row`` (a fill of the columns) as a Fill event, its figures as the store writes them."""
        qty = self.qty[row]
        return Fill(ts=self.ts[row], symbol=self.symbol[row], trade_id=self.trade_id[row],  # type: ignore[arg-type]
                    order_id=self.order_id[row], client_order_id=self.client_order_id[row],
                    vp_id=self.vp_id[row], side=self.side[row], position_side=self.position_side[row],  # type: ignore[arg-type]
                    qty=qty if qty is not None else from_units(self.qty_units[row], QTY_SCALE),
                    price=from_units(self.price_units[row], MONEY_SCALE),
                    commission=from_units(self.commission_units[row], MONEY_SCALE),
                    commission_asset=self.commission_asset[row], exchange_rp=from_units(  # type: ignore[arg-type]
                        self.exchange_rp_units[row], MONEY_SCALE), maker=bool(self.maker[row]))

    def events_in_order(self) -> Iterator[Event]:
        """Every row as an event, in order."""
        events = self.events
        for row in range(len(self.ts)):
            event = events.get(row)
            yield self.fill(row) if event is None else event


_HANDLERS: dict[type[Event], Callable[[Ledger, Any], _Touched]] = {
    VpCreated: Ledger._vp_created,
    VpRenamed: Ledger._vp_renamed,
    VpArchived: Ledger._vp_archived,
    OrderIntent: Ledger._intent,
    OrderUpdate: Ledger._order_update,
    Funding: Ledger._funding,
    Transfer: Ledger._transfer,
    Reconcile: Ledger._reconcile,
    TpSlSet: Ledger._tpsl_set,
    TpSlSync: Ledger._tpsl_sync,
}


def fold(events: Iterable[Event], ledger: Ledger | None = None) -> Ledger:
    """Fold events into a ledger (a new one unless given)."""
    result = Ledger() if ledger is None else ledger
    result.apply_all(events)
    return result
