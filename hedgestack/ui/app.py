"""``dashboard(terminal)``: the one factory, identical inline in a notebook and under ``panel serve``.

Per session: one ``Dashboard`` (its own view-models and widgets) with a ``SessionFeed`` registered on the
terminal's ``Pump``. Everything is pushed by the engine's bus, nothing is polled: fills, orders and VPs, the
marks with the open VPs' uPnL (``MARK_PRICE``, throttled per symbol by the engine) and the connection state
(``CONNECTION_STATE``). The wallet balance is read from the terminal (an attribute) after each batch, since
whatever changes it (a fill, funding, a backfill) arrives as a batch. A full ``state()`` is loaded once, and
again when the connection comes back to CONNECTED after a reconnect.

Served (``hedgestack serve``, ``panel serve notebooks/terminal.ipynb``) the page is ``Dashboard.template()``,
a ``BootstrapTemplate`` (status in the header bar, order ticket and VP creation in the sidebar); inline in a
notebook it is the plain layout ``Dashboard.__panel__()``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import panel as pn
import param

from hedgestack.engine.views import to_json
from hedgestack.ui.models import CreateVpModel, OrderTicketModel, TerminalModel, VpActionsModel
from hedgestack.ui.pump import Pump, SessionFeed
from hedgestack.ui.views import (
    Commands,
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

if TYPE_CHECKING:
    from concurrent.futures import Future

log = logging.getLogger("hedgestack.ui")

#: inline (no server document to tick): how often the notebook's session drains its feed (ms)
INLINE_DRAIN_MS = 100


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
        self._callbacks: list[Any] = []
        self._started = False
        self._activated = False
        self.model.load(to_json(terminal.sync.state(recent_fills=200)), self._order_history())
        self.commands = Commands(terminal, self.feed.send)
        acting = {"terminal": terminal, "commands": self.commands}
        self.header = Header(model=self.model)
        self.positions = PositionsView(model=self.model, actions=self.actions)
        self.vp_actions = VpActionsView(model=self.model, actions=self.actions, **acting)
        self.order_ticket = OrderTicket(model=self.model, ticket=self.ticket, **acting)
        self.chart = PriceChart(model=self.model, actions=self.actions, ticket=self.ticket, terminal=terminal)
        self.pnl = PnlPlot(model=self.model)
        self.orders = OrdersView(model=self.model, **acting)
        self.reconcile = ReconcileView(model=self.model, **acting)
        self.create_vp = CreateVpView(model=self.creator, **acting)
        self._layout: pn.viewable.Viewable | None = None

    # -- data ------------------------------------------------------------------------------------
    def _order_history(self) -> list[dict[str, Any]]:
        """Past orders (the last 500), in the ORDER_UPSERT payload's JSON."""
        try:
            orders = self.terminal.sync.order_history()
        except Exception:  # noqa: BLE001 - history is a nicety; the live view does not depend on it
            log.exception("order history unavailable")
            return []
        return [to_json(order) for order in orders[-500:]]

    def _apply(self, batch: list[dict[str, Any]]) -> None:
        """Fold a batch into the view-model and show the commands' answers; the views re-render once each
        (inside one hold)."""
        with pn.io.hold():
            previous = self.model.connection
            self.model.apply(batch)
            for env in batch:
                if env["type"] == "COMMAND_DONE":  # a command's answer (see views.Commands)
                    env["payload"]()
            if self.model.connection == "CONNECTED" and previous == "SYNCING":
                self._submit(self.terminal.state(recent_fills=0), "RESYNC")

    def _submit(self, coro: Any, kind: str) -> None:
        """Run an engine coroutine; its result comes back through the feed as a ``kind`` envelope."""
        def done(fut: Future[Any]) -> None:
            if fut.cancelled() or fut.exception() is not None:
                return
            self.feed.send({"type": kind, "payload": to_json(fut.result()), "ts": 0})

        try:
            self.terminal.submit(coro).add_done_callback(done)
        except Exception:  # noqa: BLE001 - the terminal stopped
            coro.close()

    # -- session lifecycle -----------------------------------------------------------------------
    def _start(self, doc: Any | None) -> None:
        if self._started:
            return
        self._started = True
        self.feed.attach(doc)
        if doc is None:  # inline: no server document to tick, drain on a short period
            self._callbacks.append(pn.state.add_periodic_callback(self.feed.drain, period=INLINE_DRAIN_MS))
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

    def _activate(self) -> None:
        """Start the updates once the page is loaded (served) or now (inline)."""
        if self._activated:
            return
        self._activated = True
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            pn.state.onload(lambda doc=doc: self._start(doc))
        else:
            self._start(None)

    def __panel__(self) -> pn.viewable.Viewable:
        """The plain layout (inline in a notebook): header, chart and ticket, positions, cards, orders."""
        if self._layout is None:
            self._activate()
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

    def template(self, title: str = "hedgestack") -> pn.template.BootstrapTemplate:
        """The served page: status in the header bar, order ticket and VP creation in the sidebar, the rest
        in the main area. Bootstrap's CSS/JS are bundled with Panel and served locally; unlike the Fast
        templates it loads no web font from Google, so the page makes no off-site request."""
        self._activate()
        return pn.template.BootstrapTemplate(
            title=title, header=[Header(model=self.model, in_bar=True)],
            sidebar=[self.order_ticket, self.create_vp], sidebar_width=330,
            main=[pn.Column(self.chart, self.pnl, sizing_mode="stretch_width"),
                  pn.pane.Markdown("#### Positions", margin=(0, 5)), self.positions,
                  pn.Row(self.vp_actions, self.reconcile), self.orders],
            header_background="#111827", header_color="#f3f4f6", main_max_width="")

    def servable(self, title: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        """Served (``panel serve``): the template page; inline: the plain layout (same code in both)."""
        if pn.state.served:
            return self.template(title or "hedgestack").servable(**kwargs)
        return self.__panel__().servable(title=title or "hedgestack", **kwargs)


def dashboard(terminal: Any) -> Dashboard:
    """Build the trader's dashboard for a started ``Terminal``."""
    return Dashboard(terminal)
