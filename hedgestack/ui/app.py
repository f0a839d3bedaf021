"""``dashboard(terminal)``: the one factory, identical inline in a notebook and under ``panel serve``.

The screen is a trading layout: the header (venue, connection freshness, account figures), the chart and the
order ticket on top, and under them the tabs Positions (with the selected VP's action card and VP creation),
Open orders, Order history, Trade history and Reconcile.

It uses only :class:`~hedgestack.engine.facade.TerminalApi`, so ``terminal`` is a local ``Terminal`` or a
``hedgestack.connect(url)`` client alike. Per session: one ``Dashboard`` with its own view-models and widgets,
and a ``SessionFeed`` registered on the terminal's ``Pump``. Everything is pushed by the terminal's events,
nothing is polled but the chart's latest bars (every ``REFRESH_S``): a ``state()`` snapshot is loaded once, and
again when the connection comes back to CONNECTED after a reconnect.

Served (``hedgestack serve``), the page is :meth:`Dashboard.template` (dark by default; ``?theme=light`` or the
header's toggle for light); inline in a notebook it is the same layout, :meth:`Dashboard.__panel__`.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Final

import panel as pn
import param
from panel.io.notifications import NotificationArea

from hedgestack.engine.views import Envelope, StateView
from hedgestack.ui import theme as css
from hedgestack.ui.chart import (
    HISTORY_BARS,
    REFRESH_S,
    TIMEFRAMES,
    LightweightChart,
    bars,
    chart_lines,
    chart_markers,
    drag_target,
    price_format,
)
from hedgestack.ui.commands import Commands, Feedback
from hedgestack.ui.header import Header
from hedgestack.ui.models import RESYNC, AccountModel, Selection, now_ms
from hedgestack.ui.notify import Budget, Notice, Notifier
from hedgestack.ui.orders import OrdersView
from hedgestack.ui.positions import ActionsCard, PositionsView
from hedgestack.ui.pump import Pump, SessionFeed, Throttle
from hedgestack.ui.reconcile import ReconcileView
from hedgestack.ui.ticket import TicketView
from hedgestack.ui.widgets import ConfirmBar, TextHTML, feedback_pane

if TYPE_CHECKING:
    from concurrent.futures import Future

log = logging.getLogger("hedgestack.ui")

#: inline (no server document to tick): how often the notebook's session drains its feed (ms)
INLINE_DRAIN_MS = 100
#: marks (and the uPnL they move) are shown at most this often per session (seconds)
MARK_UI_INTERVAL = 1.0
#: the chart's latest bars asked with the marks when REFRESH_S, less this, has passed (the marks come every second)
TAIL_SLACK_S = 0.25
#: notices go out this long after the figures of their batch (ms)
ANNOUNCE_DELAY_MS = 60
#: fills are drawn on the chart at most this often (seconds): Bokeh walks the whole marker list on every change
#: (a quarter of the dashboard process at 200 fills/s when they were drawn per batch)
MARKERS_EVERY_S = 1.0
#: the chart's lines follow the account's figures at most this often while they keep moving (seconds)
LINES_EVERY_S = 0.25
CHART_HEIGHT = 400
#: where the served page shows its notices (Panel's NotificationArea positions)
NOTICE_POSITION: Final = "top-center"


class ChartView(pn.viewable.Viewer):
    """The chart with its toolbar (symbol, timeframe) and the confirmation of a dragged TP/SL."""

    interval: param.Selector[str] = param.Selector(default="1m", objects=list(TIMEFRAMES))

    def __init__(self, model: AccountModel, selection: Selection, terminal: Any, commands: Commands,
                 feed: SessionFeed, ticket: TicketView, theme: str, **params: Any) -> None:
        super().__init__(**params)
        self.model, self.selection, self.terminal, self.commands = model, selection, terminal, commands
        self.feed, self.ticket = feed, ticket
        self.chart = LightweightChart(theme=theme, css_classes=["hs-chart"], sizing_mode="stretch_width",
                                      height=CHART_HEIGHT, margin=0)
        self.feedback = Feedback()
        self.confirm = ConfirmBar(css="hs-drag-confirm")
        self.symbol_select = pn.widgets.Select(label="", options=list(model.symbols), value=selection.symbol,
                                               width=120, css_classes=["hs-chart-symbol"], margin=(2, 4))
        self.interval_select = pn.widgets.RadioButtonGroup.from_param(self.param.interval, label="",
                                                                      css_classes=["hs-timeframe"], margin=(2, 4),
                                                                      color="light")
        self.last = TextHTML("", css_classes=["hs-chart-last"], margin=(8, 6))
        self._shown: tuple[str, str] | None = None
        self._loading = False
        self._refreshing = False
        self._tail_asked = 0.0
        self.chart.on_click(self.ticket.set_price)
        self.chart.on_drag(self.on_drag)
        self.symbol_select.param.watch(lambda e: setattr(self.selection, "symbol", e.new), ["value"])
        selection.param.watch(lambda *_e: self.load_candles(), ["symbol"])
        selection.param.watch(lambda *_e: self.draw(), ["vp_id"])
        self.param.watch(lambda *_e: self.load_candles(), ["interval"])
        # what the account's figures move (an entry, a liquidation price, a resting order): at once when quiet,
        # else at most every LINES_EVERY_S (each change of a line repaints the chart's canvas whole: ~6 ms of
        # the browser's main thread here, at every batch of a burst)
        self._lines = Throttle(feed, LINES_EVERY_S, self.draw)
        model.param.watch(lambda *_e: self._lines(), ["positions_version", "orders_version"])
        self._markers = Throttle(feed, MARKERS_EVERY_S, self._draw_markers)
        model.param.watch(lambda *_e: self._markers(), ["fills_version"])

    # -- data ------------------------------------------------------------------------------------
    def load_candles(self) -> None:
        """Load the candles of the symbol and timeframe on screen (when they changed)."""
        symbol = self.selection.symbol
        if self.symbol_select.value != symbol:
            self.symbol_select.value = symbol
        wanted = (symbol, self.interval)
        if wanted == self._shown:
            return
        self._shown = wanted
        inst = self.model.instruments[symbol]
        precision, min_move = price_format(inst)
        self.chart.param.update(precision=precision, min_move=min_move, label=f"{symbol} · {self.interval}",
                                candles=[], tail=[])
        self.draw()
        self.draw_markers()
        self._load(wanted, HISTORY_BARS)

    def _load(self, wanted: tuple[str, str], limit: int) -> None:
        symbol, interval = wanted
        try:
            future = self.terminal.submit(self.terminal.candles(symbol, interval, limit))
        except Exception:  # noqa: BLE001 - the terminal stopped: the chart stays as it is
            return
        self._loading = limit == HISTORY_BARS
        self._refreshing = True

        def done(fut: Future[Any]) -> None:
            error = fut.exception() if not fut.cancelled() else None
            result = None if error is not None or fut.cancelled() else fut.result()
            self.feed.send_call(lambda: self._loaded(wanted, limit, result, error))

        future.add_done_callback(done)

    def _loaded(self, wanted: tuple[str, str], limit: int, candles: Any, error: BaseException | None) -> None:
        self._refreshing = False
        if limit == HISTORY_BARS:
            self._loading = False
        if wanted != self._shown:
            return  # the trader moved on
        if error is not None:
            self.feedback.show(error=f"candles unavailable: {error}")
            return
        rows = bars(candles or [])
        if limit == HISTORY_BARS:
            self.chart.candles = rows
            self.draw_markers()
        elif rows and rows != self.chart.tail:  # an unchanged forming bar sends nothing
            self.chart.tail = rows
        if rows:
            inst = self.model.instruments[wanted[0]]
            last = candles[-1]
            self.last.object = (f'<span class="hs-dim">last</span> <b>{fmt_price(last.close, inst.tick_size)}</b>')

    def refresh_tail(self) -> None:
        """The latest bars, at most every REFRESH_S: the forming candle moves with the market. Asked when the marks
        are shown (so the candle and the marks change in one frame of the browser: each frame repaints the chart's
        canvas and composites the page in software here) and by a timer when no mark comes."""
        now = time.monotonic()
        if now - self._tail_asked < REFRESH_S - TAIL_SLACK_S:
            return
        if self._shown is not None and not self._refreshing and not self._loading:
            self._tail_asked = now
            self._load(self._shown, 3)

    def draw(self) -> None:
        self.chart.lines = chart_lines(self.model, self.selection.symbol, self.selection.vp_id)

    def draw_markers(self) -> None:
        self._markers.now()

    def _draw_markers(self) -> None:
        self.chart.markers = json.dumps(chart_markers(self.model, self.selection.symbol), separators=(",", ":"))

    # -- dragging a TP/SL line ---------------------------------------------------------------------
    def on_drag(self, line_id: str, price: str) -> None:
        target = drag_target(line_id)
        vp = self.model.vps.get(target[1]) if target else None
        if target is None or vp is None or vp.tpsl is None:
            self.chart.lines_version += 1
            return
        leg, vp_id = target
        before = vp.tpsl.tp_price if leg == "tp" else vp.tpsl.sl_price
        inst = self.model.instruments[vp.symbol]
        question = (f"Move the {leg.upper()} of {vp.name} from {fmt_price(before, inst.tick_size)} to "
                    f"{fmt_price_text(price, inst.tick_size)}?")

        def send() -> None:
            kwargs = {"tp_price": price} if leg == "tp" else {"sl_price": price}
            self.commands.run(self.feedback, lambda: self.terminal.set_tpsl(vp_id, **kwargs),
                              f"{leg.upper()} of {vp.name} moved to {price}", orders=True,
                              failed=lambda _exc: self.draw_back())
        self.confirm.ask(question, send, self.draw_back)

    def draw_back(self) -> None:
        self.draw()
        self.chart.lines_version += 1

    def __panel__(self) -> pn.viewable.Viewable:
        # the answers and the drag's question stay in the toolbar: the chart never moves under the mouse
        def quiet(error: str, result: str) -> bool:
            return not (error or result)

        hint = pn.pane.HTML('<span class="hs-dim">click: ticket price · drag TP/SL to move</span>', margin=(8, 6),
                            visible=pn.bind(quiet, self.feedback.param.error, self.feedback.param.result))
        return pn.Column(
            pn.Row(self.symbol_select, self.interval_select, self.last, hint,
                   feedback_pane(self.feedback, "hs-chart-feedback"), self.confirm, margin=0,
                   sizing_mode="stretch_width", height=36),
            self.chart, css_classes=["hs-chart-panel", "hs-card"], sizing_mode="stretch_width", margin=0)


def fmt_price(value: Any, tick: Any) -> str:
    from hedgestack.ui.format import price

    return price(value, tick).text


def fmt_price_text(text: str, tick: Any) -> str:
    from decimal import Decimal, InvalidOperation

    try:
        return fmt_price(Decimal(text), tick)
    except InvalidOperation:
        return text


class ThemeToggle(pn.viewable.Viewer):
    """Switch dark ↔ light (the page reloads with ``?theme=``; dark is the default)."""

    def __init__(self, theme: str, **params: Any) -> None:
        super().__init__(**params)
        other = "light" if theme == "dark" else "dark"
        self._html = pn.pane.HTML(
            f'<a class="hs-theme-toggle" href="?theme={other}" title="switch to the {other} theme">'
            f'{"☀ Light" if other == "light" else "☾ Dark"}</a>',
            stylesheets=[".hs-theme-toggle { color: var(--hs-muted); font: 12px var(--hs-font); "
                         "text-decoration: none; white-space: nowrap; } .hs-theme-toggle:hover "
                         "{ color: var(--hs-accent); }"], margin=(0, 8), css_classes=["hs-theme"])

    def __panel__(self) -> pn.viewable.Viewable:
        return self._html


class Dashboard(pn.viewable.Viewer):
    """The trader's screen for one terminal (one instance per browser session / notebook output)."""

    def __init__(self, terminal: Any, *, theme: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.terminal = terminal
        self.theme = theme if theme in css.THEMES else session_theme()
        symbols = list(terminal.symbols)
        self.model = AccountModel(symbols, {s: terminal.instrument(s) for s in symbols})
        self.selection = Selection(self.model, symbol=symbols[0])
        # register before loading: events between the snapshot and the first flush are queued, then folded
        # (views are whole objects keyed by id, so applying one twice is harmless)
        self.feed = SessionFeed(self._apply)
        self._remove = Pump.for_terminal(terminal).add(self.feed)
        self._callbacks: list[Any] = []
        self._started = False
        self._notifications: Any = None
        self._doc: Any = None
        self._held_marks: dict[str, Envelope] = {}
        self._marks_shown = 0.0
        self._marks_due = False
        self.model.load(terminal.sync.state(recent_fills=200), self._order_history())
        self.selection.follow()
        self.notifier = Notifier(self.model)
        self.budget = Budget()
        self._summary_due = False
        self.commands = Commands(terminal, self.feed.send_call)
        self.header = Header(self.model, self.feed)
        self.ticket = TicketView(self.model, self.selection, terminal, self.commands)
        self.positions = PositionsView(self.model, self.selection, terminal, self.commands)
        self.actions = ActionsCard(self.model, self.selection, terminal, self.commands,
                                   confirm_orders=lambda: bool(self.ticket.t.confirm))
        self.orders = OrdersView(self.model, self.selection, terminal, self.commands)
        self.reconcile = ReconcileView(self.model, terminal, self.commands)
        self.chart = ChartView(self.model, self.selection, terminal, self.commands, self.feed, self.ticket,
                               self.theme)
        self.tabs: pn.Tabs | None = None
        self._layout: pn.viewable.Viewable | None = None
        self.model.param.watch(lambda *_e: self.selection.follow(), ["positions_version"])

    # -- data ------------------------------------------------------------------------------------
    def _order_history(self) -> list[Any]:
        """Past orders (the newest 2000)."""
        try:
            orders = self.terminal.sync.order_history()
        except Exception:  # noqa: BLE001 - history is a nicety; the live view does not depend on it
            log.exception("order history unavailable")
            return []
        return list(orders[-2000:])

    def _apply(self, batch: list[Envelope]) -> None:
        """Fold a batch into the view-model (the views re-render once each, inside one hold), then announce.
        Marks, and the updates that only move figures with them, are shown at most once per ``MARK_UI_INTERVAL``
        (the latest of each), together: a moving market must not keep an idle page busy, and each change shown
        apart costs the browser a frame."""
        batch = self._hold_marks(batch)
        if not batch:
            return
        previous = self.model.connection
        with pn.io.hold():
            self.model.apply(batch)
        self._announce(self.notifier.notices(batch))
        if self.model.connection == "CONNECTED" and previous != "CONNECTED" and previous != "STARTING":
            self._resync()

    def _hold_marks(self, batch: list[Envelope]) -> list[Envelope]:
        now = time.monotonic()
        others = []
        for env in batch:
            slot, mark_only = self.model.mark_pacing(env)
            if env.type == RESYNC:
                self._held_marks.clear()  # a fresh snapshot: what was held is older
            if not mark_only:
                others.append(env)
                if slot is not None:
                    self._held_marks.pop(slot, None)  # superseded by this fuller update
                continue
            key = slot or ""
            self._held_marks.pop(key, None)  # the latest last: shown in arrival order
            self._held_marks[key] = env
        if not self._held_marks:
            return others
        wait = self._marks_shown + MARK_UI_INTERVAL - now
        if wait <= 0 or self._doc is None:
            held, self._held_marks = list(self._held_marks.values()), {}
            self._marks_shown = now
            self.chart.refresh_tail()
            return others + held
        if not self._marks_due:
            self._marks_due = True

            def release() -> None:
                self._marks_due = False
                self._apply([])

            self._doc.add_timeout_callback(release, int(wait * 1000) + 1)
        return others

    def _resync(self) -> None:
        """After a reconnect: a fresh snapshot, folded like an event."""
        def done(fut: Future[StateView]) -> None:
            if not fut.cancelled() and fut.exception() is None:
                self.feed.send(Envelope(RESYNC, fut.result(), now_ms()))

        try:
            self.terminal.submit(self.terminal.state(recent_fills=0)).add_done_callback(done)
        except Exception:  # noqa: BLE001 - the terminal stopped
            return

    def _announce(self, notices: list[Notice]) -> None:
        """Show the notices a moment after the batch's figures went out: a Panel notification re-walks the
        whole document (~0.1 s here), which must not hold up the figures of this or another session."""
        area = self._notifications
        if area is None or not notices:
            return
        self._show(self.budget.admit(notices, now_ms()))

    def _show(self, admitted: list[Notice]) -> None:
        area = self._notifications

        def show() -> None:
            for notice in admitted:
                # the notification area shows its message as HTML: VP names and exchange messages are text
                getattr(area, notice.level)(html.escape(notice.text), duration=notice.duration)

        doc = self._doc
        if doc is None:
            show()
            return
        if admitted:
            doc.add_timeout_callback(show, ANNOUNCE_DELAY_MS)
        wait = self.budget.due(now_ms())
        if wait is not None and not self._summary_due:
            self._summary_due = True  # the held notices' summary, when the burst is over

            def summary() -> None:
                self._summary_due = False
                self._show(self.budget.admit([], now_ms()))

            doc.add_timeout_callback(summary, wait + 1)

    # -- session lifecycle -----------------------------------------------------------------------
    def _start(self, doc: Any | None) -> None:
        if self._started:
            return
        self._started = True
        self._notifications = pn.state.notifications
        self._doc = doc
        self.feed.attach(doc)
        if doc is None:  # inline: no server document to tick, drain on a short period
            self._callbacks.append(pn.state.add_periodic_callback(self.feed.drain, period=INLINE_DRAIN_MS))
        else:
            def destroyed(_ctx: Any, remove: Any = self._remove, callbacks: list[Any] = self._callbacks) -> None:
                remove()
                for cb in callbacks:
                    cb.stop()

            pn.state.on_session_destroyed(destroyed)
        self._callbacks.append(periodic(doc, self.chart.refresh_tail, int(REFRESH_S * 1000)))
        self.chart.load_candles()
        self.feed.flush()

    def close(self) -> None:
        """Stop this dashboard's updates (also done when its browser session ends)."""
        self._remove()
        for cb in self._callbacks:
            cb.stop()

    def _activate(self) -> None:
        """Start the updates once the page is loaded (served) or now (inline)."""
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            pn.state.onload(functools.partial(self._start, doc))
        else:
            self._start(None)

    def _on_tab(self, event: Any) -> None:
        names = ["positions", "open", "history", "fills", "reconcile"]
        name = names[event.new] if 0 <= event.new < len(names) else None
        self.orders.show_tab(name)
        self.reconcile.set_visible(name == "reconcile")

    # -- layout ----------------------------------------------------------------------------------
    def main(self) -> pn.viewable.Viewable:
        """Chart and ticket on top, the tabs under them."""
        if self._layout is not None:
            return self._layout
        positions = pn.Row(
            pn.Column(self.positions.toolbar(), self.positions, sizing_mode="stretch_both", margin=0,
                      min_width=560),
            self.actions, sizing_mode="stretch_both", margin=0, css_classes=["hs-positions-tab"],
            styles={"flex-wrap": "wrap"})
        self.tabs = pn.Tabs(("Positions", positions), ("Open orders", self.orders.open_tab()),
                            ("Order history", self.orders.history_tab()), ("Trade history", self.orders.fills_tab()),
                            ("Reconcile", self.reconcile), css_classes=["hs-tabs"], sizing_mode="stretch_both",
                            min_height=300, margin=(6, 0, 0, 0), dynamic=True)
        self.tabs.param.watch(self._on_tab, ["active"])
        self.reconcile.set_visible(False)
        top = pn.Row(self.chart, self.ticket, sizing_mode="stretch_width", margin=0, css_classes=["hs-top"])
        layout = pn.Column(top, self.tabs, sizing_mode="stretch_both", css_classes=["hs-dashboard"], margin=0)
        dress(layout)
        self.reconcile._input_css = [css.INPUT, css.TEXT]
        self._layout = layout
        return layout

    def __panel__(self) -> pn.viewable.Viewable:
        """Inline (a notebook): the header above the trading layout."""
        self._activate()
        header = pn.Row(pn.pane.HTML('<b class="hs-title">hedgestack</b>', margin=(6, 8)), self.header,
                        sizing_mode="stretch_width", css_classes=["hs-inline-header"])
        dress(header)
        layout = pn.Column(header, self.main(), sizing_mode="stretch_width", height=980,
                           styles={k: v for k, v in css.VARIABLES[self.theme].items()} | {"background": "var(--hs-bg)"},
                           stylesheets=[":host { --hs-font: system-ui, sans-serif; }"])
        layout._hooks.append(inline_stylesheets)
        return layout

    def template(self, title: str = "hedgestack") -> pn.template.BootstrapTemplate:
        """The served page: the header bar with the badges and figures, the trading layout below. Bootstrap's
        CSS/JS are bundled with Panel and served locally; it loads no web font (no off-site request)."""
        self._activate()
        header = pn.Row(self.header, ThemeToggle(self.theme), sizing_mode="stretch_width", margin=0)
        dress(header)
        # the page always has its notification area, whether or not the server ran
        # ``pn.extension(notifications=True)`` (``hedgestack serve``'s dashboard process does not)
        area = pn.state.notifications or NotificationArea()
        # over the chart's top, not the bottom right: there a toast covered the action card's Close/Transfer
        # buttons and took the click meant for them
        area.position = NOTICE_POSITION
        return pn.template.BootstrapTemplate(
            title=title, header=[header], main=[self.main()], notifications=area,
            theme="dark" if self.theme == "dark" else "default", raw_css=[css.page_css(self.theme)],
            main_max_width="", collapsed_sidebar=True)

    def servable(self, title: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        """Served (``panel serve``): the template page; inline: the layout (same code in both)."""
        if pn.state.served:
            return self.template(title or "hedgestack").servable(**kwargs)
        return self.__panel__().servable(title=title or "hedgestack", **kwargs)


class _DocTimer:
    """A periodic callback on a session's Bokeh document: unlike Panel's, it marks the page busy on no tick
    (Panel's spins the busy indicator and logs every run, which cost an idle page most of its CPU)."""

    def __init__(self, doc: Any, callback: Any, period_ms: int) -> None:
        self._doc = doc
        self._handle = doc.add_periodic_callback(callback, period_ms)

    def stop(self) -> None:
        try:
            self._doc.remove_periodic_callback(self._handle)
        except (ValueError, AttributeError):  # removed already: Bokeh drops a destroyed document's callbacks
            pass


def periodic(doc: Any | None, callback: Any, period_ms: int) -> Any:
    """Call ``callback`` every ``period_ms`` on the session's loop (inline: Panel's periodic callback)."""
    if doc is None:
        return pn.state.add_periodic_callback(callback, period=period_ms)
    return _DocTimer(doc, callback, period_ms)


def inline_stylesheets(viewable: Any, root: Any, changed: Any = None, old_models: Any = None) -> None:
    """A preprocessing hook: outside a server session with ``inline=True`` (a notebook, ``pn.ipywidget`` in VS
    Code or Voila), Panel's component stylesheets are inlined, not fetched from its CDN. Panel does this for its
    own notebook output but not for ``pn.ipywidget``, where the page would go to the CDN (and offline lose every
    widget's style)."""
    from bokeh.models.ui import UIElement
    from panel.io.notebook import patch_inline_stylesheets

    doc = root.document
    if not pn.config.inline or (doc is not None and doc.session_context is not None):
        return
    target = changed if changed is not None else viewable
    ref = root.ref["id"]
    models = [target._models[ref][0]] if ref in getattr(target, "_models", {}) else [root]
    for model in models:
        for sub in model.select({"type": UIElement}):
            patch_inline_stylesheets(sub)


def session_theme() -> str:
    """Served: the theme the page asks for (``?theme=light``), dark by default. Inline (a notebook): the
    notebook's Panel theme, so the dashboard's colours match Panel's widgets there."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return "dark" if pn.config.theme == "dark" else "light"
    args = pn.state.session_args if isinstance(pn.state.session_args, dict) else {}
    raw = (args.get("theme") or [b""])[0]
    wanted = raw.decode() if isinstance(raw, bytes) else str(raw)
    return "light" if wanted in ("light", "default") else "dark"


def dress(layout: pn.viewable.Viewable) -> None:
    """Give Panel's widgets and panes the screen's compact, themed look (their styles live in shadow roots)."""
    for obj in layout.select(pn.viewable.Viewable):
        extra: list[str] = []
        classes = set(getattr(obj, "css_classes", []) or [])
        if isinstance(obj, pn.widgets.Button) and "hs-ticket-submit" in classes:
            extra = [css.BUTTON, css.SUBMIT]
        elif isinstance(obj, pn.widgets.RadioButtonGroup) and "hs-ticket-side" in classes:
            extra = [css.BUTTON, css.SIDE]
        elif isinstance(obj, (pn.widgets.Button, pn.widgets.RadioButtonGroup, pn.widgets.FileDownload)):
            extra = [css.BUTTON]
        elif isinstance(obj, pn.widgets.Checkbox):
            extra = [css.CHECKBOX, css.TEXT]
        elif isinstance(obj, (pn.widgets.TextInput, pn.widgets.Select)):
            extra = [css.INPUT, css.TEXT]
        elif isinstance(obj, (pn.pane.HTML, TextHTML)):
            extra = [css.TEXT]
        elif isinstance(obj, pn.Tabs):
            extra = [css.TABS]
        if "hs-card" in classes:
            extra = [*extra, css.CARD]
        if "hs-confirm" in classes:
            extra = [*extra, css.CONFIRM]
        if extra:
            obj.stylesheets = [*obj.stylesheets, *extra]


def dashboard(terminal: Any, *, theme: str | None = None) -> Dashboard:
    """Build the trader's dashboard for a started terminal (a ``Terminal`` or a ``hedgestack.connect`` client)."""
    return Dashboard(terminal, theme=theme)


__all__ = ["Dashboard", "dashboard"]
