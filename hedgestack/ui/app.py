"""``dashboard(terminal)``: the one factory, identical inline in a notebook and under ``panel serve``.

Per session: one ``Dashboard`` (its own view-models and widgets) with a ``SessionFeed`` registered on the
terminal's ``Pump``. Engine events are pushed (never polled); a 1 s tick on the session's loop reads the
terminal's marks, connection and wallet (three attribute reads) and asks the engine for the few VPs whose
mark moved, so uPnL stays live; a full ``state()`` is loaded once and again every ``RESYNC_S`` seconds.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from typing import Any

import panel as pn
import param

from hedgestack.ui.models import CreateVpModel, OrderTicketModel, TerminalModel, VpActionsModel, dec, fmt
from hedgestack.ui.pump import Pump, SessionFeed
from hedgestack.ui.views import (
    CreateVpView,
    Header,
    OrdersView,
    OrderTicket,
    PnlPlot,
    PositionsView,
    PriceChart,
    ReconcileView,
    VpActionsView,
)

log = logging.getLogger("hedgestack.ui")

#: a full state() reload this often (seconds): insurance, not the update path
RESYNC_S = 60.0
TICK_MS = 1000


class Dashboard(pn.viewable.Viewer):
    """The trader's screen for one terminal (one instance per browser session / notebook output)."""

    model = param.ClassSelector(class_=TerminalModel)
    terminal = param.Parameter()

    def __init__(self, terminal: Any, **params: Any) -> None:
        symbols = list(terminal.symbols)
        super().__init__(terminal=terminal, model=TerminalModel(symbols=symbols), **params)
        self.ticket = OrderTicketModel(symbol=symbols[0])
        self.ticket.param.symbol.objects = symbols
        self.actions = VpActionsModel()
        self.creator = CreateVpModel(symbol=symbols[0])
        self.creator.param.symbol.objects = symbols
        # register before loading: events between the snapshot and the first flush are queued, then folded
        # (VP updates are whole rows, fills and orders keyed, so applying one twice is harmless)
        self.feed = SessionFeed(self._apply, None)
        self._remove = Pump.for_terminal(terminal).add(self.feed)
        self._last_resync = time.monotonic()
        self._last_marks: dict[str, str] = {}
        self._callbacks: list[Any] = []
        self._started = False
        self.model.load(terminal.sync.state(recent_fills=200), self._order_history())
        self.header = Header(model=self.model)
        self.positions = PositionsView(model=self.model, actions=self.actions)
        self.vp_actions = VpActionsView(model=self.model, actions=self.actions, terminal=terminal)
        self.order_ticket = OrderTicket(model=self.model, ticket=self.ticket, terminal=terminal)
        self.chart = PriceChart(model=self.model, actions=self.actions, ticket=self.ticket, terminal=terminal)
        self.pnl = PnlPlot(model=self.model)
        self.orders = OrdersView(model=self.model, terminal=terminal)
        self.reconcile = ReconcileView(model=self.model, terminal=terminal)
        self.create_vp = CreateVpView(model=self.creator, terminal=terminal)
        self._layout: pn.viewable.Viewable | None = None

    # -- data ------------------------------------------------------------------------------------
    def _order_history(self) -> list[dict[str, Any]]:
        """Past orders from the terminal's analytics, in the bus's ORDER_UPSERT shape."""
        try:
            frame = self.terminal.orders()
        except Exception:  # noqa: BLE001 - history is a nicety; the live view does not depend on it
            log.exception("order history unavailable")
            return []
        rows = frame.tail(500).iter_rows(named=True)
        return [{"clientOrderId": r["client_order_id"],
                 "orderId": None if r["order_id"] is None else str(r["order_id"]),
                 "virtual_position_id": r["vp_id"], "symbol": r["symbol"], "side": r["side"],
                 "positionSide": r["position_side"], "type": r["order_type"], "role": r["role"],
                 "qty": str(r["qty"]), "price": None if r["price"] is None else str(r["price"]),
                 "trigger_price": None if r["trigger_price"] is None else str(r["trigger_price"]),
                 "timeInForce": r["time_in_force"], "status": r["status"], "filled_qty": str(r["filled_qty"]),
                 "created_at": r["created_at"], "updated_at": r["updated_at"], "reason": r["reason"]}
                for r in rows]

    def _apply(self, batch: list[dict[str, Any]]) -> None:
        """Fold a batch into the view-model; the views re-render once each (inside one hold)."""
        with pn.io.hold():
            self.model.apply(batch)

    def _submit(self, coro: Any, kind: str) -> None:
        """Run an engine coroutine; its result comes back through the feed as a ``kind`` envelope."""
        def done(fut: Future[Any]) -> None:
            if fut.cancelled() or fut.exception() is not None:
                return
            self.feed.push({"type": kind, "payload": fut.result(), "ts": 0})

        try:
            self.terminal.submit(coro).add_done_callback(done)
        except Exception:  # noqa: BLE001 - the terminal stopped
            coro.close()

    def tick(self) -> None:
        """Once a second on the session's loop: marks, connection and wallet; the VPs whose mark moved."""
        t, m = self.terminal, self.model
        if getattr(t, "connection", "STOPPED") == "STOPPED":
            m.connection = "STOPPED"
            return
        marks = {s: str(v) for s, v in dict(t.marks).items()}
        wallet = t.wallet_balance
        m.param.update(connection=t.connection, wallet_balance=fmt(wallet, 2) if wallet is not None else "")
        moved = {s for s, v in marks.items() if self._last_marks.get(s) != v}
        self._last_marks = marks
        if moved:
            m.marks.update(marks)
            m.marks_version += 1
            for vp in m.live_vps(include_system=True):
                if vp["symbol"] in moved and dec(vp["net_qty"]) != 0:
                    self._submit(t.vp(vp["id"]), "VP_REFRESH")
        if time.monotonic() - self._last_resync > RESYNC_S:
            self._last_resync = time.monotonic()
            self._submit(t.state(recent_fills=0), "RESYNC")

    # -- session lifecycle -----------------------------------------------------------------------
    def _start(self, doc: Any | None) -> None:
        if self._started:
            return
        self._started = True
        self.feed.attach(doc)
        self._callbacks.append(pn.state.add_periodic_callback(self.tick, period=TICK_MS))
        if doc is None:  # inline: no server document to tick, drain on a short period
            self._callbacks.append(pn.state.add_periodic_callback(self.feed.drain, period=100))
        else:
            def destroyed(_ctx: Any, remove: Any = self._remove, callbacks: list[Any] = self._callbacks) -> None:
                remove()
                for cb in callbacks:
                    cb.stop()

            pn.state.on_session_destroyed(destroyed)
        self.feed.flush()

    def close(self) -> None:
        """Stop this dashboard's updates (also done when its browser session ends)."""
        self._remove()
        for cb in self._callbacks:
            cb.stop()

    def __panel__(self) -> pn.viewable.Viewable:
        if self._layout is None:
            doc = pn.state.curdoc
            if doc is not None and doc.session_context is not None:
                pn.state.onload(lambda doc=doc: self._start(doc))
            else:
                self._start(None)
            self._layout = pn.Column(
                self.header,
                pn.Row(pn.Column(self.chart, self.pnl, sizing_mode="stretch_width"), self.order_ticket,
                       sizing_mode="stretch_width"),
                pn.pane.Markdown("#### Positions", margin=(0, 5)),
                self.positions,
                pn.Row(self.vp_actions, self.reconcile, self.create_vp),
                self.orders,
                sizing_mode="stretch_width", css_classes=["hs-dashboard"])
        return self._layout

    def servable(self, title: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        """Served: the dashboard under a page title; inline: shown bare (same code in both)."""
        return self.__panel__().servable(title=title or "hedgestack", **kwargs)


def dashboard(terminal: Any) -> Dashboard:
    """Build the trader's dashboard for a started ``Terminal``."""
    return Dashboard(terminal)
