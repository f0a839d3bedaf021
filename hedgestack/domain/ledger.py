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

The fold is deterministic and idempotent: every event with a dedupe key is applied once, however often it
occurs; fills by (symbol, tradeId). Business anomalies are returned, only programmer errors raise.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
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
from hedgestack.domain.numbers import ZERO

#: Additions and products in the ledger are exact: any rounding would raise (Inexact is trapped).
LEDGER_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN,
                         traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
DIVISION_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
COST_QUANTUM = Decimal("1e-18")
USDT = "USDT"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something in the log the ledger applied with a correction, or could not apply."""

    kind: str
    message: str
    event_key: str | None = None


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
                 "filled", "filled_cost", "status", "order_id", "algo_id", "actual_order_id", "price", "trigger_price",
                 "trigger_type", "time_in_force", "is_algo", "created_at", "updated_at", "reason", "replaces")

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
    #: VP ids changed since the caller last cleared it (the store writes their history rows).
    touched: set[str] = field(default_factory=set)

    # -- applying ---------------------------------------------------------------------------------
    def apply(self, event: Event) -> list[Anomaly]:
        """Apply one event; return the anomalies it caused (also kept in ``self.anomalies``)."""
        before = len(self.anomalies)
        with localcontext(LEDGER_CONTEXT):
            self._apply(event)
        return self.anomalies[before:]

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

    def has_trade(self, symbol: str, trade_id: int) -> bool:
        seen = self.trades.get(symbol)
        return seen is not None and trade_id in seen

    @property
    def trade_count(self) -> int:
        return sum(len(ids) for ids in self.trades.values())

    def _apply(self, event: Event) -> None:
        if event.ts > self.last_ts:
            self.last_ts = event.ts
        if type(event) is Fill:
            self._fill(event)
            return
        key = event.key
        if key is not None:
            if key in self.keys:
                return
            self.keys.add(key)
        handler = _HANDLERS[type(event)]
        handler(self, event)

    def _anomaly(self, kind: str, message: str, event: Event | None = None) -> None:
        self.anomalies.append(Anomaly(kind, message, None if event is None else event.key))

    def _fill(self, ev: Fill) -> None:
        seen = self.trades.get(ev.symbol)
        if seen is None:
            seen = self.trades[ev.symbol] = set()
        elif ev.trade_id in seen:
            return
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
                order.filled += ev.qty
                order.filled_cost += ev.qty * ev.price
                order.updated_at = ev.ts
                if order.order_id is None and not order.is_algo:
                    order.order_id = ev.order_id
                    self.order_ids[ev.order_id] = cid
                if order.filled >= order.qty and order.status.is_open and not order.is_algo:
                    order.status = OrderStatus.FILLED
        qty = ev.qty
        price = ev.price
        if ev.side == vp.opening:
            vp.cost += qty * price
            vp.qty += qty
        else:
            held = vp.qty
            if qty > held:
                self._anomaly("OVER_REDUCE", f"fill {ev.trade_id} reduces {vp.name} ({vp.vp_id}) by {qty} but "
                              f"it holds {held}; clamped to {held}, the side is now inconsistent", ev)
                qty = held
            if qty:
                released = _release(vp.cost, qty, held)
                vp.realized += vp.sign * (qty * price - released)
                vp.cost -= released
                vp.qty = held - qty
        fees = vp.fees
        fees[ev.commission_asset] = fees.get(ev.commission_asset, ZERO) + ev.commission
        vp.fill_count += 1
        vp.updated_at = ev.ts
        self.touched.add(vp.vp_id)

    def _vp_created(self, ev: VpCreated) -> None:
        if ev.vp_id in self.vps:
            self._anomaly("DUPLICATE_VP", f"VP {ev.vp_id} created twice", ev)
            return
        self.vps[ev.vp_id] = VpBook(ev.vp_id, ev.name, ev.symbol, PositionSide(ev.position_side), ev.ts)
        self.touched.add(ev.vp_id)

    def _vp_renamed(self, ev: VpRenamed) -> None:
        vp = self._known(ev.vp_id, ev)
        if vp is not None:
            vp.name = ev.name
            vp.updated_at = ev.ts

    def _vp_archived(self, ev: VpArchived) -> None:
        vp = self._known(ev.vp_id, ev)
        if vp is not None:
            vp.archived = True
            vp.updated_at = ev.ts

    def _intent(self, ev: OrderIntent) -> None:
        if self._known(ev.vp_id, ev) is None:
            return
        self.orders[ev.client_order_id] = OrderBook(ev)

    def _order_update(self, ev: OrderUpdate) -> None:
        order = self.orders.get(ev.client_order_id)
        if order is None:
            self._anomaly("UNKNOWN_ORDER", f"update for unknown order {ev.client_order_id}", ev)
            return
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
        order.updated_at = ev.ts
        status = OrderStatus(ev.status)
        if order.status in _TERMINAL and status not in _TERMINAL:
            return  # a late NEW/PARTIALLY_FILLED never reopens a finished order
        if order.status in _TERMINAL and status in _TERMINAL:
            if order.status is OrderStatus.FILLED:
                return
        order.status = status

    def _funding(self, ev: Funding) -> None:
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
            vp.updated_at = ev.ts
            self.touched.add(vp.vp_id)

    def _transfer(self, ev: Transfer) -> None:
        src = self.vps.get(ev.from_vp)
        dst = self.vps.get(ev.to_vp)
        if (src is None or dst is None or src.symbol != dst.symbol or src.position_side != dst.position_side
                or ev.qty <= 0 or ev.qty > src.qty or src is dst):
            self._anomaly("TRANSFER_INVALID", f"transfer {ev.transfer_id} cannot be applied", ev)
            return
        moved = _release(src.cost, ev.qty, src.qty)
        src.cost -= moved
        src.qty -= ev.qty
        dst.cost += moved
        dst.qty += ev.qty
        src.updated_at = dst.updated_at = ev.ts
        self.touched.update((src.vp_id, dst.vp_id))

    def _reconcile(self, ev: Reconcile) -> None:
        side = PositionSide(ev.position_side)
        members = [vp for vp in self.vps.values() if vp.symbol == ev.symbol and vp.position_side == side]
        by_id = {vp.vp_id: vp for vp in members}
        total = sum((qty for _, qty in ev.assignments), ZERO)
        if (total > ev.exchange_qty or any(qty < 0 for _, qty in ev.assignments)
                or any(vp_id not in by_id and vp_id != unassigned_vp_id(ev.symbol, side)
                       for vp_id, _ in ev.assignments)):
            self._anomaly("RECONCILE_INVALID", f"reconcile {ev.reconcile_id} cannot be applied", ev)
            return
        unassigned = self.unassigned(ev.symbol, side, ev.ts)
        by_id[unassigned.vp_id] = unassigned
        targets: dict[str, Decimal] = {vp_id: ZERO for vp_id in by_id}
        for vp_id, qty in ev.assignments:
            targets[vp_id] += qty
        targets[unassigned.vp_id] += ev.exchange_qty - total
        for vp_id, qty in targets.items():
            vp = by_id[vp_id]
            if vp.archived and qty == 0 and vp.qty == 0:
                continue
            vp.qty = qty
            vp.cost = qty * ev.exchange_entry
            vp.reset_at = ev.ts
            vp.updated_at = ev.ts
            self.touched.add(vp_id)

    def _tpsl_set(self, ev: TpSlSet) -> None:
        vp = self._known(ev.vp_id, ev)
        if vp is not None:
            vp.tp_price, vp.tp_trigger = ev.tp_price, TriggerType(ev.tp_trigger)
            vp.sl_price, vp.sl_trigger = ev.sl_price, TriggerType(ev.sl_trigger)
            vp.updated_at = ev.ts
            if ev.tp_price is None and ev.sl_price is None:
                vp.sync_status, vp.sync_reason = None, None

    def _tpsl_sync(self, ev: TpSlSync) -> None:
        vp = self._known(ev.vp_id, ev)
        if vp is not None:
            vp.sync_status, vp.sync_reason = SyncStatus(ev.status), ev.reason
            vp.updated_at = ev.ts

    def _known(self, vp_id: str, ev: Event) -> VpBook | None:
        vp = self.vps.get(vp_id)
        if vp is None:
            self._anomaly("UNKNOWN_VP", f"{type(ev).__name__} names unknown VP {vp_id}", ev)
        elif not isinstance(ev, OrderIntent):
            self.touched.add(vp_id)
        return vp

    # -- reading ----------------------------------------------------------------------------------
    def unassigned(self, symbol: str, position_side: PositionSide, ts: int = 0) -> VpBook:
        """The UNASSIGNED VP of (symbol, side), created on first use."""
        vp_id = unassigned_vp_id(symbol, position_side)
        vp = self.vps.get(vp_id)
        if vp is None:
            vp = VpBook(vp_id, UNASSIGNED_NAME, symbol, position_side, ts, system=True)
            self.vps[vp_id] = vp
            self.touched.add(vp_id)
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
        return [o for o in self.orders.values() if o.is_open and (vp_id is None or o.vp_id == vp_id)]

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


_HANDLERS = {
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
