"""What the screen announces: notices for the events a trader must not miss.

:class:`Notifier` turns a session's batches of envelopes into :class:`Notice`s (level, text, how long it stays):

- our fills, naming the VP, side, quantity, price and realized PnL (one notice per order and batch, however
  many partial fills it had);
- fills from another app (booked to UNASSIGNED);
- TP/SL triggered (the algo order's TRIGGERED) and filled;
- orders rejected or expired, with the exchange's code and message as the engine recorded it;
- a side's MISMATCH raised and healed; a VP's TP/SL no longer live (sync ERROR);
- the exchange connection lost, stale, restored.

It keeps only what it needs to see transitions (the last status of each order, side and TP/SL, the last
connection state); names and roles come from the :class:`~hedgestack.ui.models.AccountModel` after the batch is
applied. :class:`Budget` keeps a burst (200 foreign fills a second) from burying the screen in notices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from hedgestack.domain.enums import OrderRole, OrderStatus, SyncStatus
from hedgestack.engine.views import (
    ConnectionView,
    ConsistencyView,
    Envelope,
    FillView,
    OrderView,
    SideStatus,
    TpSlStatusView,
)
from hedgestack.ui import format as fmt

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hedgestack.ui.models import AccountModel

#: how long a notice stays (ms); 0 keeps it until dismissed
SHORT = 4000
LONG = 8000
STICKY = 0
BAD_CONNECTIONS = frozenset({"DISCONNECTED", "STALE"})


@dataclass(frozen=True, slots=True)
class Notice:
    level: str  # success | info | warning | error
    text: str
    duration: int = SHORT


@dataclass
class _FillGroup:
    fills: list[FillView] = field(default_factory=list)

    @property
    def qty(self) -> Decimal:
        return sum((f.qty for f in self.fills), Decimal(0))

    @property
    def avg(self) -> Decimal:
        return sum((f.qty * f.price for f in self.fills), Decimal(0)) / self.qty

    @property
    def realized(self) -> Decimal | None:
        values = [f.realized_pnl for f in self.fills if f.realized_pnl is not None]
        return sum(values, Decimal(0)) if values else None


class Notifier:
    """Envelopes → notices for one session."""

    def __init__(self, model: AccountModel) -> None:
        self.model = model
        self._order_status: dict[str, OrderStatus] = {cid: o.status for cid, o in model.orders.items()}
        self._side_status: dict[tuple[str, str], SideStatus] = {
            (symbol, side.value): detail.status for (symbol, side), detail in model.sides.items()}
        self._tpsl_status: dict[str, SyncStatus] = {
            vp_id: vp.tpsl.sync_status for vp_id, vp in model.vps.items() if vp.tpsl is not None}
        self._connection = model.connection
        self._was_bad = model.connection in BAD_CONNECTIONS

    def notices(self, batch: Iterable[Envelope]) -> list[Notice]:
        """The notices of one applied batch, in order (fills grouped by order)."""
        out: list[Notice] = []
        groups: dict[tuple[str, str], _FillGroup] = {}
        for env in batch:
            p = env.payload
            if isinstance(p, FillView):
                key = (p.virtual_position_id, p.client_order_id or str(p.order_id))
                groups.setdefault(key, _FillGroup()).fills.append(p)
            elif isinstance(p, OrderView):
                out.extend(self._order(p))
            elif isinstance(p, ConsistencyView):
                out.extend(self._consistency(p))
            elif isinstance(p, TpSlStatusView):
                out.extend(self._tpsl(p.vp_id, p.status, p.reason))
            elif isinstance(p, ConnectionView):
                out.extend(self._connection_state(p))
        for group in groups.values():
            out.append(self._fill(group))
        return out

    # -- fills -----------------------------------------------------------------------------------
    def _fill(self, group: _FillGroup) -> Notice:
        first = group.fills[0]
        m = self.model
        inst = m.instruments.get(first.symbol)
        tick = inst.tick_size if inst else Decimal("0.01")
        step = inst.step_size if inst else Decimal("0.001")
        vp = m.vps.get(first.virtual_position_id)
        what = (f"{first.side.value} {fmt.qty(group.qty, step)} {first.symbol} {first.position_side.value} @ "
                f"{fmt.price(group.avg, tick)}")
        count = f" ({len(group.fills)} fills)" if len(group.fills) > 1 else ""
        if vp is not None and vp.system:
            return Notice("warning", f"Fill from another app → UNASSIGNED: {what}{count}", LONG)
        order = m.order_for_fill(first)
        name = vp.name if vp is not None else first.vp_name or first.virtual_position_id
        realized = group.realized
        tail = f" · realized {fmt.pnl(realized)}" if realized is not None and realized != 0 else ""
        if order is not None and order.role in (OrderRole.TP, OrderRole.SL):
            return Notice("success" if order.role is OrderRole.TP else "warning",
                          f"{order.role.value} filled · {name}: {what}{count}{tail}", LONG)
        return Notice("success", f"Filled · {name}: {what}{count}{tail}")

    # -- orders ----------------------------------------------------------------------------------
    def _order(self, order: OrderView) -> list[Notice]:
        before = self._order_status.get(order.client_order_id)
        self._order_status[order.client_order_id] = order.status
        if before is order.status:
            return []
        name = self.model.vp_name(order.virtual_position_id)
        if order.status is OrderStatus.REJECTED:
            return [Notice("error", f"Order rejected · {name}: {self._describe(order)} — "
                                    f"{order.reason or 'no reason given'}", STICKY)]
        if order.status in (OrderStatus.EXPIRED, OrderStatus.EXPIRED_IN_MATCH) and order.filled_qty == 0:
            reason = f" — {order.reason}" if order.reason else ""
            return [Notice("warning", f"Order expired · {name}: {self._describe(order)}{reason}", LONG)]
        if order.role in (OrderRole.TP, OrderRole.SL) and order.status is OrderStatus.TRIGGERED:
            inst = self.model.instruments.get(order.symbol)
            trigger = fmt.price(order.trigger_price, inst.tick_size) if inst else fmt.exact(order.trigger_price)
            kind = (order.trigger_type.value.replace("_PRICE", "") if order.trigger_type else "")
            return [Notice("warning", f"{order.role.value} triggered · {name} at {trigger} {kind}".rstrip(), LONG)]
        return []

    def _describe(self, order: OrderView) -> str:
        inst = self.model.instruments.get(order.symbol)
        qty = fmt.qty(order.qty, inst.step_size) if inst else fmt.exact(order.qty)
        at = ""
        if order.price is not None:
            at = f" @ {fmt.price(order.price, inst.tick_size) if inst else fmt.exact(order.price)}"
        return f"{order.side.value} {order.type.value} {qty} {order.symbol} {order.position_side.value}{at}"

    # -- sides, TP/SL, connection ----------------------------------------------------------------
    def _consistency(self, p: ConsistencyView) -> list[Notice]:
        key = (p.symbol, p.position_side.value)
        before = self._side_status.get(key)
        now = p.detail.status
        self._side_status[key] = now
        side = f"{p.symbol} {p.position_side.value}"
        inst = self.model.instruments.get(p.symbol)
        step = inst.step_size if inst else Decimal("0.001")
        if now is SideStatus.MISMATCH and before is not SideStatus.MISMATCH:
            reason = f" ({p.detail.reason})" if p.detail.reason else ""
            return [Notice("error", f"MISMATCH {side}: the exchange holds {fmt.qty(p.exchange_qty, step)}, the VPs "
                                    f"{fmt.qty(p.vp_qty, step)}{reason}. Reducing commands are locked: reconcile "
                                    "this side (Reconcile tab).", STICKY)]
        if before is SideStatus.MISMATCH and now is not SideStatus.MISMATCH:
            return [Notice("success", f"{side} matches the exchange again ({now.value})", LONG)]
        return []

    def _tpsl(self, vp_id: str, status: SyncStatus, reason: str | None) -> list[Notice]:
        before = self._tpsl_status.get(vp_id)
        self._tpsl_status[vp_id] = status
        if status is SyncStatus.ERROR and before is not SyncStatus.ERROR:
            return [Notice("error", f"TP/SL of {self.model.vp_name(vp_id)} is not live on the exchange: "
                                    f"{reason or 'no reason given'}", STICKY)]
        if before is SyncStatus.ERROR and status is SyncStatus.OK:
            return [Notice("success", f"TP/SL of {self.model.vp_name(vp_id)} live again", LONG)]
        return []

    def _connection_state(self, p: ConnectionView) -> list[Notice]:
        before, self._connection = self._connection, p.state
        if p.state == before:
            return []
        reason = f" ({p.reason})" if p.reason else ""
        if p.state == "DISCONNECTED":
            self._was_bad = True
            return [Notice("error", f"Exchange connection lost{reason}: figures are frozen until it is back",
                           STICKY)]
        if p.state == "STALE":
            self._was_bad = True
            return [Notice("warning", f"Exchange stream stale{reason}: no recent confirmation from the exchange",
                           LONG)]
        if p.state == "CONNECTED" and self._was_bad:
            self._was_bad = False
            return [Notice("success", "Exchange connection restored", LONG)]
        return []


class Budget:
    """At most ``burst`` notices per ``window_ms``, a batch's notices shown all or none. What does not fit
    starts a burst: from then on only errors are shown (a rejection or a MISMATCH is never held back), and the
    rest is counted and summed up in one notice once nothing was held for a whole window (the burst is over), or
    every ``summary_every_ms`` while it lasts. A notice costs the dashboard a walk of its whole document (Panel's
    notification area adds a model: ~0.1 s here, longer on a busy machine), and each one shown during 200 fills/s
    held that session's figures back by as much."""

    def __init__(self, burst: int = 4, window_ms: int = 2000, summary_every_ms: int = 10_000) -> None:
        self.burst = burst
        self.window_ms = window_ms
        self.summary_every_ms = summary_every_ms
        self._sent: list[int] = []
        self.held = 0
        self._held_at: int | None = None  # when a notice was last held back
        self._burst_since: int | None = None  # when the held ones began (or the last summary)

    def admit(self, notices: list[Notice], now_ms: int) -> list[Notice]:
        """The notices to show now (with the summary of a burst when it is due)."""
        self._sent = [t for t in self._sent if now_ms - t < self.window_ms]
        errors = [n for n in notices if n.level == "error"]
        others = [n for n in notices if n.level != "error"]
        bursting = self._held_at is not None and now_ms - self._held_at < self.window_ms
        if others and (bursting or len(self._sent) + len(others) > self.burst):
            self.held += len(others)
            self._held_at = now_ms
            if self._burst_since is None:
                self._burst_since = now_ms
            others = []
        else:
            self._sent += [now_ms] * len(others)
        return errors + others + self._summary(now_ms)

    def due(self, now_ms: int) -> int | None:
        """In how many ms :meth:`admit` (with no notices) gives the summary of the held ones; None: none held."""
        if not self.held or self._held_at is None or self._burst_since is None:
            return None
        return max(0, min(self._held_at + self.window_ms, self._burst_since + self.summary_every_ms) - now_ms)

    def _summary(self, now_ms: int) -> list[Notice]:
        wait = self.due(now_ms)
        if wait is None or wait > 0:
            return []
        held, self.held = self.held, 0
        over = self._held_at is not None and now_ms - self._held_at >= self.window_ms
        self._burst_since = None if over else now_ms
        if over:
            self._held_at = None
        self._sent.append(now_ms)
        return [Notice("info", f"{held} more events during a burst (see the history tabs)")]


__all__ = ["Budget", "LONG", "Notice", "Notifier", "SHORT", "STICKY"]
