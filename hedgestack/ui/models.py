"""The account as the screen sees it: typed engine views kept current from the terminal's events.

:class:`AccountModel` holds the engine's own view objects (``VirtualPositionView``, ``OrderView``, ...): one
``state()`` snapshot, then every envelope folded in by :meth:`AccountModel.apply`. It derives no trading rule:
an order is open when ``OrderView.is_open`` says so, a VP's reducing controls are locked when
``VirtualPositionView.locked`` says so, a side's consistency is the engine's ``SideStatusView``. What it adds is
bookkeeping for the screen: which parts changed (``*_version`` counters the views watch), how long ago the
exchange was last heard from, and bounded memories of past orders and fills.

:class:`Selection` is the one selected VP (and the symbol shown) of a session: the positions table, the action
card, the ticket and the chart all read and write it.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import param

from hedgestack.domain.enums import PositionSide
from hedgestack.engine.views import (
    AccountView,
    ConnectionView,
    ConsistencyView,
    Envelope,
    ExternalPositionView,
    FillView,
    InstrumentView,
    MarkView,
    OrderView,
    SideStatusView,
    StateView,
    TpSlStatusView,
    VirtualPositionView,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from decimal import Decimal

SideKey = tuple[str, PositionSide]
POSITION_SIDES = (PositionSide.LONG, PositionSide.SHORT)
#: how many past orders and fills a session keeps in memory (the newest); exports read the full history
ORDER_MEMORY = 2000
FILL_MEMORY = 2000
#: envelope types that come from the exchange (their arrival proves the venue's streams alive)
EXCHANGE_EVENTS = frozenset({"FILL", "ORDER_UPSERT", "EXTERNAL_POSITION_UPDATE", "MARK_PRICE", "ACCOUNT_STATUS"})
#: the UI's own envelope type: a fresh ``state()`` snapshot to load (after a reconnect)
RESYNC = "RESYNC"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class AccountModel(param.Parameterized):
    """Everything the dashboard shows about one terminal, as typed views, kept current from its events."""

    venue = param.String(default="sim", constant=True, doc="sim | testnet | live")
    connection = param.String(default="STARTING")
    last_event_at = param.Integer(default=None, allow_None=True, doc="Unix ms of the last exchange event")
    account = param.ClassSelector(class_=AccountView, default=AccountView())
    symbols = param.List(default=[], constant=True)
    positions_version = param.Integer(default=0, doc="VPs, exchange sides or their consistency changed")
    orders_version = param.Integer(default=0)
    fills_version = param.Integer(default=0)
    marks_version = param.Integer(default=0)

    def __init__(self, symbols: Sequence[str], instruments: dict[str, InstrumentView], **params: Any) -> None:
        super().__init__(symbols=list(symbols), **params)
        self.instruments = dict(instruments)
        self.vps: dict[str, VirtualPositionView] = {}
        self.externals: dict[SideKey, ExternalPositionView] = {}
        self.sides: dict[SideKey, SideStatusView] = {}
        self.orders: dict[str, OrderView] = {}
        self.fills: dict[tuple[str, int], FillView] = {}
        self.marks: dict[str, Decimal] = {}
        self.funding_rates: dict[str, Decimal | None] = {}

    # -- loading ---------------------------------------------------------------------------------
    def load(self, state: StateView, orders: Iterable[OrderView] = ()) -> None:
        """Replace the content with a ``state()`` snapshot (and past orders, oldest first)."""
        self.vps = {vp.id: vp for vp in state.virtual_positions}
        self.externals = {(e.symbol, e.position_side): e for e in state.external_positions}
        self.sides = {(symbol, PositionSide(side)): detail for symbol, by_side in state.reconcile_detail.items()
                      for side, detail in by_side.items()}
        for order in orders:
            self.orders[order.client_order_id] = order
        # what the snapshot calls open replaces what the history said; a remembered open order the snapshot
        # does not list was concluded while we were away: its ORDER_UPSERT will come, keep it until then
        for order in state.open_orders:
            self.orders[order.client_order_id] = order
        for fill in reversed(state.fills):  # the snapshot lists the newest first
            self.fills[(fill.symbol, fill.trade_id)] = fill
        self._trim()
        self.marks.update(state.marks)
        # the last sign of life from the exchange that the snapshot carries: a confirmed side, a fill, an order
        heard = [d.confirmed_at for d in self.sides.values() if d.confirmed_at] + [f.time for f in state.fills] + [
            o.updated_at for o in state.open_orders if o.updated_at]
        if heard and max(heard) > (self.last_event_at or 0):
            self.last_event_at = max(heard)
        with param.edit_constant(self):
            self.venue = state.venue
        self.param.update(connection=state.connection, account=state.account,
                          positions_version=self.positions_version + 1, orders_version=self.orders_version + 1,
                          fills_version=self.fills_version + 1, marks_version=self.marks_version + 1)

    # -- events ----------------------------------------------------------------------------------
    def mark_pacing(self, envelope: Envelope) -> tuple[str | None, bool]:
        """For a screen that paces what moves with the mark price like the marks: the envelope's slot (the latest
        per slot wins; None: not paced) and whether it only moves figures with the mark (a MARK_PRICE; an external
        position whose other fields are as shown). An update of a slot that is not mark-only supersedes one held."""
        p = envelope.payload
        if envelope.type == "MARK_PRICE":
            return f"mark {getattr(p, 'symbol', '')}", True
        if envelope.type == "EXTERNAL_POSITION_UPDATE" and isinstance(p, ExternalPositionView):
            shown = self.externals.get((p.symbol, p.position_side))
            only = shown is not None and dataclasses.replace(
                shown, **{name: getattr(p, name) for name in ExternalPositionView.MARK_FIELDS}) == p
            return f"external {p.symbol} {p.position_side}", only
        return None, False

    def apply(self, envelopes: Iterable[Envelope]) -> set[str]:
        """Fold a batch of envelopes; return the parts that changed (positions, orders, fills, marks)."""
        changed: set[str] = set()
        updates: dict[str, Any] = {}
        last_event = self.last_event_at
        for env in envelopes:
            kind, p = env.type, env.payload
            if kind in EXCHANGE_EVENTS and env.ts:
                last_event = max(last_event or 0, env.ts)
            if kind == "VIRTUAL_POSITION_UPDATE":
                assert isinstance(p, VirtualPositionView)
                self.vps[p.id] = p
                changed.add("positions")
            elif kind == "FILL":
                assert isinstance(p, FillView)
                self.fills[(p.symbol, p.trade_id)] = p
                changed.add("fills")
            elif kind == "ORDER_UPSERT":
                assert isinstance(p, OrderView)
                self.orders[p.client_order_id] = p
                changed.add("orders")
            elif kind == "EXTERNAL_POSITION_UPDATE":
                assert isinstance(p, ExternalPositionView)
                self.externals[(p.symbol, p.position_side)] = p
                changed.add("positions")
            elif kind == "CONSISTENCY_STATUS":
                assert isinstance(p, ConsistencyView)
                self.sides[(p.symbol, p.position_side)] = p.detail
                changed.add("positions")
            elif kind == "TPSL_SYNC_STATUS":
                assert isinstance(p, TpSlStatusView)
                if self._tpsl_status(p):
                    changed.add("positions")
            elif kind == "MARK_PRICE":
                assert isinstance(p, MarkView)
                self._mark(p)
                changed.update(("marks", "positions"))
            elif kind == "CONNECTION_STATE":
                assert isinstance(p, ConnectionView)
                updates["connection"] = p.state
                if p.last_event_at is not None:
                    last_event = max(last_event or 0, p.last_event_at)
            elif kind == "ACCOUNT_STATUS":
                assert isinstance(p, AccountView)
                updates["account"] = p
            elif kind == RESYNC:
                assert isinstance(p, StateView)
                self.load(p)
                changed.update(("positions", "orders", "fills", "marks"))
        if "fills" in changed or "orders" in changed:
            self._trim()
        if last_event != self.last_event_at:
            updates["last_event_at"] = last_event
        for name in changed:
            updates[f"{name}_version"] = getattr(self, f"{name}_version") + 1
        if updates:
            self.param.update(**updates)
        return changed

    def _mark(self, p: MarkView) -> None:
        self.marks[p.symbol] = p.mark_price
        self.funding_rates[p.symbol] = p.funding_rate
        for row in p.virtual_positions:
            vp = self.vps.get(row.id)
            if vp is not None:
                self.vps[row.id] = dataclasses.replace(
                    vp, mark_price=row.mark_price, unrealized_pnl=row.unrealized_pnl,
                    roe_pct=row.roe_pct if row.roe_pct is not None else vp.roe_pct)

    def _tpsl_status(self, p: TpSlStatusView) -> bool:
        vp = self.vps.get(p.vp_id)
        if vp is None or vp.tpsl is None:
            return False
        tpsl = dataclasses.replace(vp.tpsl, sync_status=p.status, sync_reason=p.reason, tp_order_id=p.tp_order_id,
                                   sl_order_id=p.sl_order_id)
        self.vps[p.vp_id] = dataclasses.replace(vp, tpsl=tpsl)
        return True

    def _trim(self) -> None:
        """Keep the newest fills and the newest done orders (open orders are always kept)."""
        if len(self.fills) > FILL_MEMORY:
            newest = sorted(self.fills.items(), key=lambda kv: kv[1].time)[-FILL_MEMORY:]
            self.fills = dict(newest)
        if len(self.orders) > ORDER_MEMORY:
            done = sorted((o for o in self.orders.values() if not o.is_open), key=lambda o: o.updated_at)
            drop = {o.client_order_id for o in done[:len(self.orders) - ORDER_MEMORY]}
            self.orders = {cid: o for cid, o in self.orders.items() if cid not in drop}

    # -- queries ---------------------------------------------------------------------------------
    def instrument(self, symbol: str) -> InstrumentView:
        return self.instruments[symbol]

    def live_vps(self, symbol: str | None = None, side: PositionSide | None = None, *,
                 include_system: bool = False) -> list[VirtualPositionView]:
        """Live (not archived) VPs, by symbol, side, then creation; UNASSIGNED last on its side."""
        out = [vp for vp in self.vps.values() if not vp.archived and (include_system or not vp.system)
               and (symbol is None or vp.symbol == symbol) and (side is None or vp.position_side is side)]
        order = {s: i for i, s in enumerate(self.symbols)}
        return sorted(out, key=lambda vp: (order.get(vp.symbol, len(order)), vp.symbol, vp.position_side.value,
                                           vp.system, vp.created_at))

    def side_status(self, symbol: str, side: PositionSide) -> SideStatusView | None:
        return self.sides.get((symbol, side))

    def open_orders(self, vp_id: str | None = None) -> list[OrderView]:
        """Open orders (``OrderView.is_open``), newest first."""
        orders = [o for o in self.orders.values() if o.is_open and (vp_id is None or o.virtual_position_id == vp_id)]
        return sorted(orders, key=lambda o: -o.created_at)

    def order_for_fill(self, fill: FillView) -> OrderView | None:
        """The order a fill belongs to: its clientOrderId, else the exchange order id (an algo order's child)."""
        if fill.client_order_id and fill.client_order_id in self.orders:
            return self.orders[fill.client_order_id]
        order_id = str(fill.order_id)
        for order in self.orders.values():
            if order_id in (order.order_id, order.actual_order_id):
                return order
        return None

    def vp_name(self, vp_id: str) -> str:
        vp = self.vps.get(vp_id)
        return vp.name if vp is not None else vp_id

    @staticmethod
    def vp_label(vp: VirtualPositionView) -> str:
        return f"{vp.name} · {vp.symbol} {vp.position_side.value}"


class Selection(param.Parameterized):
    """The session's one selected VP and the symbol on screen (the selected VP's symbol when there is one)."""

    vp_id = param.String(default=None, allow_None=True)
    symbol = param.String(default="BTCUSDT")

    def __init__(self, model: AccountModel, **params: Any) -> None:
        super().__init__(**params)
        self._model = model
        self.param.watch(self._on_vp, ["vp_id"])
        self.param.watch(self._on_symbol, ["symbol"])

    def _on_vp(self, event: param.parameterized.Event) -> None:
        vp = self._model.vps.get(event.new or "")
        if vp is not None and vp.symbol != self.symbol:
            self.symbol = vp.symbol

    def _on_symbol(self, event: param.parameterized.Event) -> None:
        vp = self._model.vps.get(self.vp_id or "")
        if vp is not None and vp.symbol == event.new:
            return
        first = next(iter(self._model.live_vps(event.new)), None)
        self.vp_id = None if first is None else first.id

    @property
    def vp(self) -> VirtualPositionView | None:
        return self._model.vps.get(self.vp_id or "")

    def follow(self) -> None:
        """After the VP list changed: keep the selection if it is still live, else take the symbol's first VP
        (none when the symbol has none: the symbol on screen does not jump)."""
        vp = self.vp
        if vp is not None and not vp.archived:
            return
        first = next(iter(self._model.live_vps(self.symbol)), None)
        new = None if first is None else first.id
        if new != self.vp_id:
            self.vp_id = new


__all__ = ["AccountModel", "EXCHANGE_EVENTS", "POSITION_SIDES", "RESYNC", "Selection", "SideKey", "now_ms"]
