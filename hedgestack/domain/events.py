"""Immutable ledger events: every fact the event log holds.

Each event is a frozen msgspec Struct, tagged by ``kind`` in its JSON form, so the store can keep it as a
payload and decode the whole union quickly on replay. ``key`` is the dedupe key the store makes unique:
appending an event whose key is already in the log changes nothing (a fill is keyed by symbol + tradeId,
a funding settlement by symbol + funding time). The fold checks the same keys again.

Money and quantities are Decimal (JSON strings); times are Unix ms.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

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


class _Event(msgspec.Struct, frozen=True, tag_field="kind", kw_only=True, gc=False):
    ts: int

    @property
    def key(self) -> str | None:
        return None


class VpCreated(_Event, frozen=True, tag="vp_created"):
    vp_id: str
    name: str
    symbol: str
    position_side: PositionSide

    @property
    def key(self) -> str:
        return f"vp:{self.vp_id}"


class VpRenamed(_Event, frozen=True, tag="vp_renamed"):
    vp_id: str
    name: str


class VpArchived(_Event, frozen=True, tag="vp_archived"):
    vp_id: str

    @property
    def key(self) -> str:
        return f"vp_archived:{self.vp_id}"


class OrderIntent(_Event, frozen=True, tag="order_intent"):
    """Written before the order leaves the process (invariant 5)."""

    client_order_id: str
    vp_id: str
    symbol: str
    position_side: PositionSide
    side: Side
    order_type: OrderType
    role: OrderRole
    qty: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trigger_type: TriggerType | None = None
    time_in_force: TimeInForce | None = None
    is_algo: bool = False
    replaces: str | None = None  # the clientOrderId an amend cancels
    mark: Decimal | None = None  # the mark price when the intent was made (slippage analytics)

    @property
    def key(self) -> str:
        return f"intent:{self.client_order_id}"


class OrderUpdate(_Event, frozen=True, tag="order_update"):
    """What the exchange said about one of our orders (accepted, rejected, canceled, triggered, ...)."""

    client_order_id: str
    status: OrderStatus
    order_id: int | None = None
    algo_id: int | None = None
    actual_order_id: int | None = None  # an algo order's child in the matching engine
    executed_qty: Decimal | None = None
    reason: str | None = None

    @property
    def key(self) -> str:
        executed = "" if self.executed_qty is None else str(self.executed_qty)
        return f"order:{self.client_order_id}:{self.status}:{executed}:{self.actual_order_id or ''}"


class Fill(_Event, frozen=True, tag="fill"):
    """One trade. ``vp_id`` is the attribution made at intake (UNASSIGNED for foreign fills)."""

    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str | None
    vp_id: str
    side: Side
    position_side: PositionSide
    qty: Decimal
    price: Decimal
    commission: Decimal
    commission_asset: str
    exchange_rp: Decimal
    maker: bool

    @property
    def key(self) -> str:
        return f"fill:{self.symbol}:{self.trade_id}"


class Funding(_Event, frozen=True, tag="funding"):
    """One funding settlement of a symbol, with its split over VPs as computed at that moment."""

    symbol: str
    funding_time: int
    amount: Decimal  # as Binance reports it: negative = paid
    asset: str
    rate: Decimal | None
    mark: Decimal | None
    allocations: tuple[tuple[str, Decimal], ...]

    @property
    def key(self) -> str:
        return f"funding:{self.symbol}:{self.funding_time}"


class Transfer(_Event, frozen=True, tag="transfer"):
    """Move quantity between two VPs of one side at the source's average cost; nothing is sent."""

    transfer_id: str
    from_vp: str
    to_vp: str
    qty: Decimal

    @property
    def key(self) -> str:
        return f"transfer:{self.transfer_id}"


class Reconcile(_Event, frozen=True, tag="reconcile"):
    """Assign the exchange quantity of one side to VPs (seed semantics; realized history is kept)."""

    reconcile_id: str
    symbol: str
    position_side: PositionSide
    exchange_qty: Decimal
    exchange_entry: Decimal
    assignments: tuple[tuple[str, Decimal], ...]

    @property
    def key(self) -> str:
        return f"reconcile:{self.reconcile_id}"


class TpSlSet(_Event, frozen=True, tag="tpsl_set"):
    """The VP's TP/SL configuration; a None price means that leg is off."""

    vp_id: str
    tp_price: Decimal | None
    tp_trigger: TriggerType
    sl_price: Decimal | None
    sl_trigger: TriggerType


class TpSlSync(_Event, frozen=True, tag="tpsl_sync"):
    vp_id: str
    status: SyncStatus
    reason: str | None = None


Event: TypeAlias = (VpCreated | VpRenamed | VpArchived | OrderIntent | OrderUpdate | Fill | Funding
                    | Transfer | Reconcile | TpSlSet | TpSlSync)

EVENT_TYPES: tuple[type[_Event], ...] = (VpCreated, VpRenamed, VpArchived, OrderIntent, OrderUpdate, Fill,
                                         Funding, Transfer, Reconcile, TpSlSet, TpSlSync)

_encoder = msgspec.json.Encoder(decimal_format="string")
_decoder: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(payload: bytes | str) -> Event:
    return _decoder.decode(payload)


def kind_of(event: Event) -> str:
    return type(event).__struct_config__.tag  # type: ignore[return-value]
