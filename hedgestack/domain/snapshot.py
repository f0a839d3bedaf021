"""Serialize a Ledger to bytes and back (msgpack through typed msgspec structs).

A snapshot is only a cache of the fold: the store checks in tests that snapshot + tail == replay from zero.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

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
from hedgestack.domain.ledger import Anomaly, Ledger, OrderBook, VpBook

#: 2: orders keep ``filled_cost`` (their average fill price); 3: and ``executed`` (what the exchange said it
#: executed). A snapshot of another version is not used: the store replays from the log instead
#: (:class:`SnapshotOutdated`).
SNAPSHOT_VERSION = 3


class SnapshotOutdated(ValueError):
    """A snapshot written by another version of the fold."""


class _Vp(msgspec.Struct, array_like=True):
    vp_id: str
    name: str
    symbol: str
    position_side: PositionSide
    created_at: int
    archived: bool
    system: bool
    qty: Decimal
    cost: Decimal
    realized: Decimal
    fees: dict[str, Decimal]
    funding: Decimal
    reset_at: int | None
    tp_price: Decimal | None
    tp_trigger: TriggerType
    sl_price: Decimal | None
    sl_trigger: TriggerType
    sync_status: SyncStatus | None
    sync_reason: str | None
    fill_count: int
    updated_at: int


class _Order(msgspec.Struct, array_like=True):
    client_order_id: str
    vp_id: str
    symbol: str
    position_side: PositionSide
    side: Side
    order_type: OrderType
    role: OrderRole
    qty: Decimal
    filled: Decimal
    filled_cost: Decimal
    executed: Decimal
    status: OrderStatus
    order_id: int | None
    algo_id: int | None
    actual_order_id: int | None
    price: Decimal | None
    trigger_price: Decimal | None
    trigger_type: TriggerType | None
    time_in_force: TimeInForce | None
    is_algo: bool
    created_at: int
    updated_at: int
    reason: str | None
    replaces: str | None


class _Anomaly(msgspec.Struct, array_like=True):
    kind: str
    message: str
    event_key: str | None


class _Ledger(msgspec.Struct, array_like=True):
    version: int
    vps: list[_Vp]
    orders: list[_Order]
    order_ids: dict[int, str]
    trades: dict[str, list[int]]
    keys: list[str]
    anomalies: list[_Anomaly]
    last_ts: int


_encoder = msgspec.msgpack.Encoder(decimal_format="string")
_decoder = msgspec.msgpack.Decoder(_Ledger)


def dump_ledger(ledger: Ledger) -> bytes:
    trades = {symbol: sorted(ids) for symbol, ids in ledger.trades.items()}
    state = _Ledger(
        version=SNAPSHOT_VERSION,
        vps=[_Vp(**{name: getattr(vp, name) for name in _Vp.__struct_fields__}) for vp in ledger.vps.values()],
        orders=[_Order(**{name: getattr(o, name) for name in _Order.__struct_fields__})
                for o in ledger.orders.values()],
        order_ids=dict(ledger.order_ids),
        trades=trades,
        keys=sorted(ledger.keys),
        anomalies=[_Anomaly(a.kind, a.message, a.event_key) for a in ledger.anomalies],
        last_ts=ledger.last_ts,
    )
    return _encoder.encode(state)


def load_ledger(payload: bytes) -> Ledger:
    try:
        state = _decoder.decode(payload)
    except msgspec.ValidationError as exc:  # an older layout
        raise SnapshotOutdated(f"snapshot of another version: {exc}") from None
    if state.version != SNAPSHOT_VERSION:
        raise SnapshotOutdated(f"snapshot version {state.version} is not {SNAPSHOT_VERSION}")
    ledger = Ledger()
    for snap in state.vps:
        vp = VpBook(snap.vp_id, snap.name, snap.symbol, snap.position_side, snap.created_at, snap.system)
        for name in _Vp.__struct_fields__:
            setattr(vp, name, getattr(snap, name))
        ledger.vps[vp.vp_id] = vp
    for osnap in state.orders:
        order = OrderBook.__new__(OrderBook)
        for name in _Order.__struct_fields__:
            setattr(order, name, getattr(osnap, name))
        ledger.orders[order.client_order_id] = order
    ledger.order_ids = dict(state.order_ids)
    ledger.trades = {symbol: set(ids) for symbol, ids in state.trades.items()}
    ledger.keys = set(state.keys)
    ledger.anomalies = [Anomaly(a.kind, a.message, a.event_key) for a in state.anomalies]
    ledger.last_ts = state.last_ts
    return ledger
