"""The engine's typed views, and the one mapping between them and the seed's JSON.

Everything the engine shows outside — command results, ``state()``, the events on the bus — is one of the frozen
view types below. Their attributes carry the seed's JSON names in snake_case (``position_side``, ``net_qty``,
``client_order_id``) with exact types (``Decimal``, the domain's enums, ``int`` times in Unix ms), so a Python
caller never parses a string and the UI never re-derives a rule: ``OrderView.is_open`` and ``OrderView.order_id``
(exchange id before algo id) are decided here, once.

:func:`to_json` is the only place that turns a view into the seed's JSON (used by the REST API, the stream, the
exports and ``hedgestack.connect``'s wire); :func:`from_json` is its inverse (the remote client rebuilds the same
typed views from the wire). The JSON name of a field is its own name unless the class lists it in ``_json``;
``_json_str`` lists integer fields the seed shows as strings (``orderId``, ``tradeId``). Numbers are unrounded
decimal strings in plain notation (``to_str``), times are integers, enums their values.

One meaning of a fill everywhere: ``FillView.realized_pnl`` (JSON ``realizedPnl``) is the VP's realized PnL from
that fill (our ledger), ``exchange_rp`` the exchange's own ``rp`` for the side.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, ClassVar, TypeVar, Union

import polars as pl

from hedgestack.domain.enums import (
    ConsistencyStatus,
    OrderRole,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    SyncStatus,
    TimeInForce,
    TriggerType,
)
from hedgestack.domain.filters import LotSize, SymbolFilters
from hedgestack.domain.numbers import to_str

if typing.TYPE_CHECKING:
    from hedgestack.domain.events import Fill
    from hedgestack.domain.ledger import Ledger, OrderBook, VpView
    from hedgestack.domain.risk import VpRisk

V = TypeVar("V", bound="View")


class View:
    """Base of every view: frozen dataclasses mapped to JSON by :func:`to_json` / :func:`from_json`."""

    __slots__ = ()
    _json: ClassVar[Mapping[str, str]] = {}
    _json_str: ClassVar[frozenset[str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


# == the views ======================================================================================
@dataclass(frozen=True, slots=True)
class TpSlView(View):
    """A VP's TP/SL: its configuration and the legs live on the exchange."""

    tp_price: Decimal | None
    tp_trigger_type: TriggerType
    sl_price: Decimal | None
    sl_trigger_type: TriggerType
    tp_order_id: str | None
    sl_order_id: str | None
    tp_client_order_id: str | None
    sl_client_order_id: str | None
    tp_qty: Decimal | None
    sl_qty: Decimal | None
    sync_status: SyncStatus
    sync_reason: str | None


@dataclass(frozen=True, slots=True)
class VirtualPositionView(View):
    """The seed's VirtualPosition with its figures (uPnL at ``mark_price``) and risk figures."""

    _json: ClassVar[Mapping[str, str]] = {"position_side": "positionSide"}

    id: str
    name: str
    symbol: str
    position_side: PositionSide
    net_qty: Decimal
    avg_entry: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    tpsl: TpSlView | None
    created_at: int
    fees: Decimal
    fees_by_asset: dict[str, Decimal]
    funding: Decimal
    net_pnl: Decimal
    reset_at: int | None
    mark_price: Decimal | None
    archived: bool
    system: bool
    #: reducing commands are refused while the side is in MISMATCH (the seed's lock)
    locked: bool = False
    notional: Decimal | None = None
    initial_margin: Decimal | None = None
    roe_pct: Decimal | None = None
    pnl_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderView(View):
    """The seed's OrderRecord, plus role, fill progress, trigger and algo fields."""

    _json: ClassVar[Mapping[str, str]] = {
        "order_id": "orderId", "client_order_id": "clientOrderId", "position_side": "positionSide",
        "reduce_only": "reduceOnly", "time_in_force": "timeInForce"}

    order_id: str | None
    client_order_id: str
    virtual_position_id: str
    symbol: str
    side: Side
    position_side: PositionSide
    type: OrderType
    qty: Decimal
    price: Decimal | None
    status: OrderStatus
    reduce_only: bool
    created_at: int
    role: OrderRole
    filled_qty: Decimal
    avg_price: Decimal | None
    trigger_price: Decimal | None
    trigger_type: TriggerType | None
    time_in_force: TimeInForce | None
    is_algo: bool
    algo_id: str | None
    actual_order_id: str | None
    updated_at: int
    reason: str | None
    replaces: str | None

    @property
    def is_open(self) -> bool:
        return self.status.is_open


@dataclass(frozen=True, slots=True)
class FillView(View):
    """One trade. ``realized_pnl`` is the VP's realized PnL from it; ``exchange_rp`` the exchange's rp."""

    _json: ClassVar[Mapping[str, str]] = {
        "trade_id": "tradeId", "order_id": "orderId", "client_order_id": "clientOrderId",
        "position_side": "positionSide", "commission_asset": "commissionAsset", "realized_pnl": "realizedPnl"}
    _json_str: ClassVar[frozenset[str]] = frozenset({"trade_id", "order_id"})

    trade_id: int
    order_id: int
    client_order_id: str | None
    virtual_position_id: str
    vp_name: str | None
    symbol: str
    side: Side
    position_side: PositionSide
    qty: Decimal
    price: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal | None
    exchange_rp: Decimal
    maker: bool
    time: int


@dataclass(frozen=True, slots=True)
class ExternalPositionView(View):
    """One real position side on the exchange (the seed's ExternalPosition, plus risk figures)."""

    _json: ClassVar[Mapping[str, str]] = {
        "position_side": "positionSide", "avg_entry_price": "avgEntryPrice", "unrealized_pnl": "unrealizedPnl",
        "liquidation_price": "liquidationPrice", "break_even_price": "breakEvenPrice", "margin_type": "marginType",
        "mark_price": "markPrice"}
    #: the fields that move with the mark price alone (a screen may pace such an update like a mark)
    MARK_FIELDS: ClassVar[tuple[str, ...]] = ("mark_price", "unrealized_pnl", "notional")

    symbol: str
    position_side: PositionSide
    qty: Decimal
    avg_entry_price: Decimal
    unrealized_pnl: Decimal
    leverage: Decimal | None = None
    liquidation_price: Decimal | None = None
    break_even_price: Decimal | None = None
    margin_type: str | None = None
    notional: Decimal | None = None
    mark_price: Decimal | None = None


@enum.unique
class SideStatus(enum.StrEnum):
    """The full consistency state of one exchange side (``reconcile_detail``)."""

    OK = "OK"  # Σ VP == the exchange, confirmed recently
    SYNCING = "SYNCING"  # a difference inside its grace period, or a catch-up running
    STALE = "STALE"  # the exchange's figure is not confirmed recently
    MISMATCH = "MISMATCH"  # a difference confirmed by the exchange beyond its grace period

    @property
    def seed_status(self) -> ConsistencyStatus:
        """The seed's two values: MISMATCH once a difference is confirmed, OK otherwise."""
        return ConsistencyStatus.MISMATCH if self is SideStatus.MISMATCH else ConsistencyStatus.OK


@dataclass(frozen=True, slots=True)
class SideStatusView(View):
    """``reconcile_detail[symbol][side]``."""

    status: SideStatus
    confirmed_at: int | None
    confirmed_by: str | None  # stream | rest
    exchange_qty: Decimal
    vp_qty: Decimal
    reason: str | None


@dataclass(frozen=True, slots=True)
class ConsistencyView(View):
    """The seed's CONSISTENCY_STATUS (two-valued ``status``) with the full state in ``detail``."""

    _json: ClassVar[Mapping[str, str]] = {"position_side": "positionSide"}

    symbol: str
    position_side: PositionSide
    status: ConsistencyStatus
    exchange_qty: Decimal
    vp_qty: Decimal
    detail: SideStatusView


@dataclass(frozen=True, slots=True)
class AccountView(View):
    """The account's risk block (``ACCOUNT_STATUS``, ``state().account``); None where the venue gives nothing."""

    wallet_balance: Decimal | None = None
    available_balance: Decimal | None = None
    margin_balance: Decimal | None = None
    maintenance_margin: Decimal | None = None
    margin_ratio: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TpSlStatusView(View):
    """The seed's TPSL_SYNC_STATUS."""

    vp_id: str
    status: SyncStatus
    reason: str | None
    tp_order_id: str | None
    sl_order_id: str | None


@dataclass(frozen=True, slots=True)
class ReconnectView(View):
    """The seed's WS_RECONNECT: the exchange's user stream went down or came back (``state``)."""

    reason: str
    state: str


@dataclass(frozen=True, slots=True)
class ConnectionView(View):
    """CONNECTION_STATE (extension): STARTING, SYNCING, CONNECTED, STALE, DISCONNECTED or STOPPED."""

    state: str
    previous: str
    reconnects: int
    last_event_at: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class VpMarkView(View):
    id: str
    mark_price: Decimal
    unrealized_pnl: Decimal
    roe_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MarkView(View):
    """MARK_PRICE (extension): a symbol's mark moved, with its open VPs' uPnL at that mark."""

    _json: ClassVar[Mapping[str, str]] = {"mark_price": "markPrice", "funding_rate": "fundingRate"}

    symbol: str
    mark_price: Decimal
    funding_rate: Decimal | None
    virtual_positions: tuple[VpMarkView, ...]


@dataclass(frozen=True, slots=True)
class StateView(View):
    """The seed's ``GET /v1/state`` snapshot, with the extensions (recent fills, full consistency, account)."""

    external_positions: tuple[ExternalPositionView, ...]
    virtual_positions: tuple[VirtualPositionView, ...]
    open_orders: tuple[OrderView, ...]
    fills: tuple[FillView, ...]
    reconcile: dict[str, dict[str, ConsistencyStatus]]
    reconcile_detail: dict[str, dict[str, SideStatusView]]
    account: AccountView
    venue: str
    connection: str
    wallet_balance: Decimal | None
    marks: dict[str, Decimal]

    def external_position(self, symbol: str, position_side: str) -> ExternalPositionView:
        """The exchange side ``symbol`` ``position_side`` (KeyError when the terminal does not trade it)."""
        for ext in self.external_positions:
            if ext.symbol == symbol and ext.position_side == position_side:
                return ext
        raise KeyError((symbol, position_side))

    def vp(self, vp_id: str) -> VirtualPositionView:
        """The VP ``vp_id`` (KeyError when it is not listed)."""
        for vp in self.virtual_positions:
            if vp.id == vp_id:
                return vp
        raise KeyError(vp_id)


@dataclass(frozen=True, slots=True)
class OrderAck(View):
    """The seed's answer to an order: ``{orderId, clientOrderId, status}``."""

    _json: ClassVar[Mapping[str, str]] = {"order_id": "orderId", "client_order_id": "clientOrderId"}

    order_id: str | None
    client_order_id: str
    status: OrderStatus


@dataclass(frozen=True, slots=True)
class CancelAck(View):
    """The seed's answer to a cancel: ``{orderId, status}``."""

    _json: ClassVar[Mapping[str, str]] = {"order_id": "orderId"}

    order_id: str | None
    status: OrderStatus


@dataclass(frozen=True, slots=True)
class TransferResult(View):
    _json: ClassVar[Mapping[str, str]] = {"from_vp": "from", "to_vp": "to"}

    from_vp: VirtualPositionView
    to_vp: VirtualPositionView


@dataclass(frozen=True, slots=True)
class ReconcileResult(View):
    _json: ClassVar[Mapping[str, str]] = {"position_side": "positionSide"}

    symbol: str
    position_side: PositionSide
    status: ConsistencyStatus
    virtual_positions: tuple[VirtualPositionView, ...]


@dataclass(frozen=True, slots=True)
class InstrumentView(View):
    """A symbol's trading rules (exchangeInfo filters): what a screen needs to format numbers and refuse a bad
    order locally (``filters().check_order(...)`` is the same check the engine runs)."""

    symbol: str
    price_precision: int
    quantity_precision: int
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_step_size: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    multiplier_up: Decimal
    multiplier_down: Decimal

    def filters(self) -> SymbolFilters:
        return SymbolFilters(
            symbol=self.symbol, price_precision=self.price_precision, quantity_precision=self.quantity_precision,
            min_price=self.min_price, max_price=self.max_price, tick_size=self.tick_size,
            lot=LotSize(self.min_qty, self.max_qty, self.step_size),
            market_lot=LotSize(self.market_min_qty, self.market_max_qty, self.market_step_size),
            min_notional=self.min_notional, multiplier_up=self.multiplier_up, multiplier_down=self.multiplier_down)


@dataclass(frozen=True, slots=True)
class CandleView(View):
    """One kline (open time in Unix ms)."""

    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool


# == events =========================================================================================
#: the seed's seven event types (the stream's default)
EVENT_TYPES = ("ORDER_UPSERT", "FILL", "VIRTUAL_POSITION_UPDATE", "EXTERNAL_POSITION_UPDATE", "TPSL_SYNC_STATUS",
               "CONSISTENCY_STATUS", "WS_RECONNECT")
#: extension types a subscriber asks for by name (``/v1/stream?types=...``)
EXTENSION_EVENT_TYPES = ("MARK_PRICE", "CONNECTION_STATE", "ACCOUNT_STATUS")
ALL_EVENT_TYPES = EVENT_TYPES + EXTENSION_EVENT_TYPES

#: the payload type of each event type (SNAPSHOT: the stream's first message)
EVENT_PAYLOADS: dict[str, type[View]] = {
    "ORDER_UPSERT": OrderView, "FILL": FillView, "VIRTUAL_POSITION_UPDATE": VirtualPositionView,
    "EXTERNAL_POSITION_UPDATE": ExternalPositionView, "TPSL_SYNC_STATUS": TpSlStatusView,
    "CONSISTENCY_STATUS": ConsistencyView, "WS_RECONNECT": ReconnectView, "MARK_PRICE": MarkView,
    "CONNECTION_STATE": ConnectionView, "ACCOUNT_STATUS": AccountView, "SNAPSHOT": StateView,
}


@dataclass(frozen=True, slots=True)
class Envelope:
    """The seed's event envelope ``{type, payload, ts}`` with a typed payload."""

    type: str
    payload: View
    ts: int

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "payload": to_json(self.payload), "ts": self.ts}


def envelope_from_json(data: Mapping[str, Any]) -> Envelope:
    """The typed envelope of a stream message (``ValueError`` for an unknown type)."""
    kind = str(data["type"])
    payload_type = EVENT_PAYLOADS.get(kind)
    if payload_type is None:
        raise ValueError(f"unknown event type {kind!r}")
    return Envelope(kind, from_json(payload_type, data["payload"]), int(data.get("ts") or 0))


# == the mapping ====================================================================================
Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


def to_json(view: View) -> dict[str, Any]:
    """The seed's JSON object of a view."""
    return {name: encode(getattr(view, attr)) for attr, name, encode, _ in _plan(type(view))}


def from_json(cls: type[V], data: Mapping[str, Any]) -> V:
    """The view of type ``cls`` that :func:`to_json` rendered as ``data`` (missing optional fields: defaults)."""
    kwargs: dict[str, Any] = {}
    for attr, name, _, decode in _plan(cls):
        if name in data:
            kwargs[attr] = decode(data[name])
    return cls(**kwargs)


_PLANS: dict[type[View], tuple[tuple[str, str, Encoder, Decoder], ...]] = {}


def _plan(cls: type[View]) -> tuple[tuple[str, str, Encoder, Decoder], ...]:
    """How each field of ``cls`` maps to JSON and back (computed once per class)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _make_plan(cls)
    return plan


def _make_plan(cls: type[View]) -> tuple[tuple[str, str, Encoder, Decoder], ...]:
    hints = typing.get_type_hints(cls)
    plan = []
    for f in fields(cls):  # type: ignore[arg-type]
        as_text = f.name in cls._json_str
        hint = hints[f.name]
        plan.append((f.name, cls._json.get(f.name, f.name), _encoder(hint, as_text), _decoder(hint, as_text)))
    return tuple(plan)


def _optional(hint: Any) -> Any | None:
    """X for ``X | None``, else None."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
    return None


def _encoder(hint: Any, as_text: bool = False) -> Encoder:
    inner = _optional(hint)
    if inner is not None:
        enc = _encoder(inner, as_text)
        return lambda v: None if v is None else enc(v)
    origin = typing.get_origin(hint)
    if hint is Decimal:
        return to_str
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda v: v.value
    if isinstance(hint, type) and issubclass(hint, View):
        return to_json
    if origin in (list, tuple):
        item = _encoder(typing.get_args(hint)[0])
        return lambda v: [item(x) for x in v]
    if origin is dict:
        value = _encoder(typing.get_args(hint)[1])
        return lambda v: {str(k): value(x) for k, x in v.items()}
    if as_text:
        return str
    return _identity


def _decoder(hint: Any, as_text: bool = False) -> Decoder:
    inner = _optional(hint)
    if inner is not None:
        dec = _decoder(inner, as_text)
        return lambda v: None if v is None else dec(v)
    origin = typing.get_origin(hint)
    if hint is Decimal:
        return lambda v: Decimal(str(v))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if isinstance(hint, type) and issubclass(hint, View):
        return lambda v: from_json(hint, v)
    if origin is tuple:
        item = _decoder(typing.get_args(hint)[0])
        return lambda v: tuple(item(x) for x in v)
    if origin is list:
        item = _decoder(typing.get_args(hint)[0])
        return lambda v: [item(x) for x in v]
    if origin is dict:
        value = _decoder(typing.get_args(hint)[1])
        return lambda v: {str(k): value(x) for k, x in v.items()}
    if hint is int:
        return int
    return _identity


def _identity(value: Any) -> Any:
    return value


# == views of domain objects =======================================================================
def _id_text(value: int | None) -> str | None:
    return None if value is None else str(value)


def tpsl_view(ledger: Ledger, view: VpView) -> TpSlView | None:
    """A VP's TP/SL (None when it has neither a configuration nor a live leg)."""
    legs: dict[OrderRole, OrderBook | None] = {OrderRole.TP: None, OrderRole.SL: None}
    for order in ledger.open_orders(view.vp_id):
        if order.role in legs:
            legs[order.role] = order
    if view.tp_price is None and view.sl_price is None and not any(legs.values()):
        return None
    tp, sl = legs[OrderRole.TP], legs[OrderRole.SL]
    return TpSlView(
        tp_price=view.tp_price, tp_trigger_type=view.tp_trigger, sl_price=view.sl_price,
        sl_trigger_type=view.sl_trigger, tp_order_id=None if tp is None else exchange_id(tp),
        sl_order_id=None if sl is None else exchange_id(sl),
        tp_client_order_id=None if tp is None else tp.client_order_id,
        sl_client_order_id=None if sl is None else sl.client_order_id,
        tp_qty=None if tp is None else tp.remaining, sl_qty=None if sl is None else sl.remaining,
        sync_status=view.sync_status if view.sync_status is not None else SyncStatus.OK, sync_reason=view.sync_reason)


def exchange_id(order: OrderBook) -> str | None:
    """The id the exchange knows an order by: its orderId, else (an algo order) its algoId."""
    return _id_text(order.order_id if order.order_id is not None else order.algo_id)


def vp_view(ledger: Ledger, vp_id: str, mark: Decimal | None, *, locked: bool = False,
            risk: VpRisk | None = None) -> VirtualPositionView:
    """The view of one VP with its uPnL at ``mark``."""
    view = ledger.view(vp_id)
    return VirtualPositionView(
        id=view.vp_id, name=view.name, symbol=view.symbol, position_side=view.position_side, net_qty=view.net_qty,
        avg_entry=view.avg_entry, unrealized_pnl=view.unrealized_pnl(mark), realized_pnl=view.realized_pnl,
        tpsl=tpsl_view(ledger, view), created_at=view.created_at, fees=view.fees,
        fees_by_asset=dict(sorted(view.fees_by_asset.items())), funding=view.funding, net_pnl=view.net_pnl,
        reset_at=view.reset_at, mark_price=mark, archived=view.archived, system=view.system, locked=locked,
        notional=None if risk is None else risk.notional, initial_margin=None if risk is None else risk.initial_margin,
        roe_pct=None if risk is None else risk.roe_pct, pnl_pct=None if risk is None else risk.pnl_pct)


def order_view(order: OrderBook) -> OrderView:
    return OrderView(
        order_id=exchange_id(order), client_order_id=order.client_order_id, virtual_position_id=order.vp_id,
        symbol=order.symbol, side=order.side, position_side=order.position_side, type=order.order_type,
        qty=order.qty, price=order.price, status=order.status, reduce_only=order.role.reduces,
        created_at=order.created_at, role=order.role, filled_qty=order.filled, avg_price=order.avg_price,
        trigger_price=order.trigger_price, trigger_type=order.trigger_type, time_in_force=order.time_in_force,
        is_algo=order.is_algo, algo_id=_id_text(order.algo_id), actual_order_id=_id_text(order.actual_order_id),
        updated_at=order.updated_at, reason=order.reason, replaces=order.replaces)


def fill_view(fill: Fill, vp_name: str | None, realized: Decimal | None) -> FillView:
    """A fill event as a view; ``realized`` is what it booked to its VP (None when not known)."""
    return FillView(
        trade_id=fill.trade_id, order_id=fill.order_id, client_order_id=fill.client_order_id,
        virtual_position_id=fill.vp_id, vp_name=vp_name, symbol=fill.symbol, side=fill.side,
        position_side=fill.position_side, qty=fill.qty, price=fill.price, commission=fill.commission,
        commission_asset=fill.commission_asset, realized_pnl=realized, exchange_rp=fill.exchange_rp,
        maker=fill.maker, time=fill.ts)


def fill_view_from_row(row: Mapping[str, Any]) -> FillView:
    """A row of the store's ``fills`` view (snake_case columns, same meanings) as a view."""
    realized = row.get("realized_pnl")
    return FillView(
        trade_id=int(row["trade_id"]), order_id=int(row["order_id"]), client_order_id=row["client_order_id"],
        virtual_position_id=row["vp_id"], vp_name=row.get("vp_name"), symbol=row["symbol"], side=Side(row["side"]),
        position_side=PositionSide(row["position_side"]), qty=Decimal(row["qty"]), price=Decimal(row["price"]),
        commission=Decimal(row["commission"]), commission_asset=row["commission_asset"],
        realized_pnl=None if realized is None else Decimal(realized), exchange_rp=Decimal(row["exchange_rp"]),
        maker=bool(row["maker"]), time=int(row["ts"]))


def instrument_view(f: SymbolFilters) -> InstrumentView:
    return InstrumentView(
        symbol=f.symbol, price_precision=f.price_precision, quantity_precision=f.quantity_precision,
        tick_size=f.tick_size, min_price=f.min_price, max_price=f.max_price, step_size=f.lot.step_size,
        min_qty=f.lot.min_qty, max_qty=f.lot.max_qty, market_step_size=f.market_lot.step_size,
        market_min_qty=f.market_lot.min_qty, market_max_qty=f.market_lot.max_qty, min_notional=f.min_notional,
        multiplier_up=f.multiplier_up, multiplier_down=f.multiplier_down)


def frame(views: Iterable[View], cls: type[View]) -> pl.DataFrame:
    """Views of one type as a polars frame: one column per attribute (snake_case), decimals exact
    (``Decimal(38, 18)``), enums as their values, nested views left out."""
    hints = typing.get_type_hints(cls)
    columns: dict[str, list[Any]] = {}
    schema: dict[str, Any] = {}
    rows = list(views)
    for f in fields(cls):  # type: ignore[arg-type]
        hint = _optional(hints[f.name]) or hints[f.name]
        if isinstance(hint, type) and issubclass(hint, View) or typing.get_origin(hint) in (list, tuple, dict):
            continue
        values = [getattr(v, f.name) for v in rows]
        if hint is Decimal:
            schema[f.name] = pl.Decimal(38, 18)
        elif isinstance(hint, type) and issubclass(hint, enum.Enum):
            values = [None if x is None else x.value for x in values]
            schema[f.name] = pl.String
        elif hint is bool:
            schema[f.name] = pl.Boolean
        elif hint is int:
            schema[f.name] = pl.Int64
        else:
            schema[f.name] = pl.String
        columns[f.name] = values
    return pl.DataFrame(columns, schema=schema)


__all__ = [
    "AccountView", "ALL_EVENT_TYPES", "CancelAck", "CandleView", "ConnectionView", "ConsistencyView", "Envelope",
    "envelope_from_json", "EVENT_PAYLOADS", "EVENT_TYPES", "exchange_id", "EXTENSION_EVENT_TYPES",
    "ExternalPositionView", "fill_view", "fill_view_from_row", "FillView", "frame", "from_json", "instrument_view",
    "InstrumentView", "MarkView", "order_view", "OrderAck", "OrderView", "ReconcileResult", "ReconnectView",
    "SideStatus", "SideStatusView", "StateView", "to_json", "tpsl_view", "TpSlStatusView", "TpSlView",
    "TransferResult", "View", "VirtualPositionView", "vp_view", "VpMarkView",
]
