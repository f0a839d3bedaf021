"""The dashboard's views: ``pn.viewable.Viewer``s over the view-models; commands go to the terminal.

Every view takes ``model`` (the shared ``TerminalModel``) and, where it acts, ``terminal``. No view holds a
business rule: closes, TP/SL, transfers and reconciles are engine commands whose refusals (``code`` and
``message``) are shown inline next to the control that caused them.
"""

from __future__ import annotations

import functools
import heapq
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource, DatetimeTickFormatter, Span
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from hedgestack.domain.errors import HedgestackError
from hedgestack.ui.models import (
    POSITION_SIDES,
    CreateVpModel,
    OrderTicketModel,
    TerminalModel,
    VpActionsModel,
    dec,
    fmt,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from concurrent.futures import Future

LIVE_CONFIRMATION = "LIVE_CONFIRMATION_REQUIRED"


class Commands:
    """Runs the engine commands of one session without awaiting them on the session's loop.

    ``run`` is called from a widget callback: it shows "…", submits the command to the terminal's loop and
    returns. The answer comes back through the session's feed (``deliver``) as a ``COMMAND_DONE`` envelope
    and is shown when the feed applies its batch, with the engine's updates, on the same path. (Awaiting
    the engine inside an async widget callback lost document updates now and then: a result text or a table
    change that never reached the browser, when the callback resumed while the feed applied a batch.)
    A refusal is shown as ``code: message`` next to the control that caused it.

    On the LIVE venue, a command that sends an order (``orders=True``) is refused until the session has
    confirmed trading on the real account (``live_confirmed``, the ticket's checkbox), as the REST API asks
    for its confirmation header: nothing is sent before."""

    def __init__(self, terminal: Any, deliver: Callable[[dict[str, Any]], None]) -> None:
        self.terminal = terminal
        self.deliver = deliver
        self.live_confirmed = False

    @property
    def needs_live_confirmation(self) -> bool:
        return getattr(self.terminal, "venue_name", "sim") == "live" and not self.live_confirmed

    def run(self, target: param.Parameterized, call: Callable[[], Coroutine[Any, Any, Any]],
            done: str | Callable[[Any], str] = "done", *, orders: bool = False) -> None:
        if orders and self.needs_live_confirmation:
            with param.edit_constant(target):
                target.param.update(error=f"{LIVE_CONFIRMATION}: this session trades on the LIVE Binance account; "
                                    "tick 'Trade on the LIVE account' in the order ticket first", result="")
            return
        with param.edit_constant(target):
            target.param.update(error="", result="…")
        try:
            future = self.terminal.submit(call())
        except Exception as exc:  # noqa: BLE001 - shown, never swallowed silently
            show_outcome(target, None, exc, done)
            return

        def answered(fut: Future[Any]) -> None:
            exc = fut.exception() if not fut.cancelled() else RuntimeError("cancelled")
            result = None if exc is not None else fut.result()
            self.deliver({"type": "COMMAND_DONE", "ts": 0,
                          "payload": functools.partial(show_outcome, target, result, exc, done)})

        future.add_done_callback(answered)


def show_outcome(target: param.Parameterized, result: Any, exc: BaseException | None,
                 done: str | Callable[[Any], str]) -> None:
    """Put a command's refusal (code: message) or a short result on ``target``."""
    with param.edit_constant(target):
        if isinstance(exc, HedgestackError):
            target.param.update(error=f"{exc.code}: {exc.message}", result="")
        elif exc is not None:
            target.param.update(error=f"{type(exc).__name__}: {exc}", result="")
        else:
            target.result = done(result) if callable(done) else done


def error_pane(model: param.Parameterized, css: str) -> pn.pane.Alert:
    return pn.pane.Alert(model.param.error, alert_type="danger", visible=model.param.error.rx.bool(),
                         css_classes=[css], margin=(2, 5))


def result_pane(model: param.Parameterized, css: str) -> pn.pane.Markdown:
    return pn.pane.Markdown(model.param.result, css_classes=[css], margin=(0, 5))


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A pandas frame with explicit string dtypes (Tabulator wants pandas; empty frames need dtypes)."""
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype="str") for c in columns})
    return pd.DataFrame(rows, columns=columns).fillna("").astype("str")


class TextHTML(pn.pane.HTML):
    """An HTML pane whose updates send only the new text: on every ``object`` change Panel's HTML pane
    re-sends all of its properties (stylesheets, styles, classes), and the browser re-applies them."""

    def _update(self, ref: str, model: Any) -> None:
        model.update(text=self._transform_object(self.object)["object"])


class TextMarkdown(pn.pane.Markdown):
    """The same for Markdown panes whose text follows the engine (e.g. the ticket's hint)."""

    def _update(self, ref: str, model: Any) -> None:
        model.update(text=self._transform_object(self.object)["object"])


def set_options(select: pn.widgets.Select, options: dict[str, Any]) -> None:
    """Assign a Select's options only when they differ (an equal assignment still costs a round of events)."""
    if select.options != options:
        select.options = options


class Table(pn.widgets.Tabulator):
    """A Tabulator fed with rows (dicts of display strings) through ``show``, which sends nothing when nothing
    changed and otherwise the whole (small) value.

    Not a ``patch`` of the changed cells: in the browser Panel's Tabulator re-renders the whole table on a
    patch anyway (``setData`` of every row), and patched updates were lost now and then (a transfer's
    second VP row kept its old quantity: tests/e2e/test_controls.py), which a replacement never was."""

    def __init__(self, columns: list[str], **params: Any) -> None:
        super().__init__(frame([], columns), **params)
        self._columns = columns
        self._rows: list[dict[str, str]] = []

    def show(self, rows: list[dict[str, Any]]) -> bool:
        """Bring the table to ``rows``; False when they equal what it shows (nothing sent)."""
        new = [{c: _cell(row.get(c)) for c in self._columns} for row in rows]
        if new == self._rows:
            return False
        self._rows = new
        self.value = frame(new, self._columns)
        return True


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


# == header ==============================================================================================
_HEADER_CSS = """
.hs-badge {padding: 2px 10px; border-radius: 4px; font-weight: 700; color: white; margin-right: 8px}
.hs-venue-sim {background: #6c757d} .hs-venue-testnet {background: #d39e00} .hs-venue-live {background: #c82333}
.hs-conn-CONNECTED {background: #28a745} .hs-conn-SYNCING, .hs-conn-STARTING {background: #e0a800}
.hs-conn-STOPPED {background: #6c757d}
.hs-spin {display: inline-block; width: 10px; height: 10px; border: 2px solid white; border-top-color: transparent;
          border-radius: 50%; animation: hs-spin 0.8s linear infinite; margin-right: 4px}
@keyframes hs-spin {to {transform: rotate(360deg)}}
.hs-fig {margin-right: 18px} .hs-pos {color: #1e8e3e} .hs-neg {color: #d93025}
"""


def _signed(value: str) -> str:
    cls = "hs-neg" if value.startswith("-") else "hs-pos"
    return f'<span class="{cls}">{value}</span>'


class Header(pn.viewable.Viewer):
    """Venue badge, connection state (with a spinner while syncing), wallet balance, total uPnL / net PnL.

    ``in_bar``: shown in a template's dark header bar (no title of its own, light text)."""

    model = param.ClassSelector(class_=TerminalModel)
    in_bar = param.Boolean(default=False)

    def _html(self, venue: str, connection: str, wallet: str, upnl: str, net: str) -> str:
        syncing = connection in ("SYNCING", "STARTING")
        conn = (f'<span class="hs-badge hs-conn-{connection}" data-state="{connection}">'
                + ('<span class="hs-spin"></span>syncing… ' if syncing else "") + connection + "</span>")
        return (f'<span class="hs-badge hs-venue-{venue}">{venue.upper()}</span>{conn}'
                f'<span class="hs-fig">Wallet <b>{wallet or "—"}</b> USDT</span>'
                f'<span class="hs-fig">uPnL <b>{_signed(upnl)}</b></span>'
                f'<span class="hs-fig">Net PnL <b>{_signed(net)}</b></span>')

    def __panel__(self) -> pn.viewable.Viewable:
        m = self.model
        body = pn.bind(self._html, m.param.venue, m.param.connection, m.param.wallet_balance, m.param.total_upnl,
                       m.param.total_net)
        if self.in_bar:
            return TextHTML(body, stylesheets=[_HEADER_CSS, _HEADER_BAR_CSS], css_classes=["hs-header"],
                            margin=(14, 5), sizing_mode="stretch_width")
        return pn.Row(pn.pane.Markdown("### hedgestack", margin=(0, 20, 0, 5)),
                      TextHTML(body, stylesheets=[_HEADER_CSS], css_classes=["hs-header"], margin=(12, 5)),
                      sizing_mode="stretch_width")


_HEADER_BAR_CSS = """
:host {color: #f3f4f6; font-size: 15px} .hs-pos {color: #7ee787} .hs-neg {color: #ff7b72}
"""


# == positions ===========================================================================================
POSITION_COLUMNS = ["id", "kind", "status", "Position", "VP", "Qty", "Avg entry", "Mark", "uPnL", "Realized",
                    "Fees", "Funding", "Net", "TP", "SL", "Sync"]


def _leg(tpsl: dict[str, Any] | None, which: str) -> str:
    if not tpsl or not tpsl.get(f"{which}_price"):
        return ""
    trigger = str(tpsl.get(f"{which}_trigger_type") or "").replace("_PRICE", "")
    live = "" if tpsl.get(f"{which}_order_id") else " (no order)"
    return f'{fmt(tpsl[f"{which}_price"])} {trigger}{live}'


def _row_style(row: pd.Series) -> list[str]:
    if row["kind"] == "group" and row["status"] == "MISMATCH":
        css = "background-color: #f8d7da; color: #842029; font-weight: bold"
    elif row["kind"] == "group":
        css = "background-color: #e9ecef; font-weight: bold"
    elif row["status"] == "MISMATCH":
        css = "background-color: #fdf0f1"
    else:
        css = ""
    return [css] * len(row)


class PositionsView(pn.viewable.Viewer):
    """Real positions as group rows (with consistency badge), their VPs beneath; click a VP to act on it."""

    model = param.ClassSelector(class_=TerminalModel)
    actions = param.ClassSelector(class_=VpActionsModel)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.table = Table(
            POSITION_COLUMNS, show_index=False, disabled=True, selectable=1, sortable=False,
            hidden_columns=["id", "kind", "status"], sizing_mode="stretch_width", css_classes=["hs-positions"],
            layout="fit_data_stretch", header_align="right", text_align={c: "right" for c in POSITION_COLUMNS[5:]},
            widths={"Position": 160}, name="Positions")
        self.table.style.apply(_row_style, axis=1)
        self.table.param.watch(self._on_select, "selection")
        self.model.param.watch(lambda *_e: self.refresh(), ["positions_version", "marks_version"])
        self.refresh()

    def rows(self) -> list[dict[str, Any]]:
        m = self.model
        rows: list[dict[str, Any]] = []
        for symbol in m.symbols:
            for side in POSITION_SIDES:
                vps = [vp for vp in m.live_vps(symbol, include_system=True) if vp["positionSide"] == side
                       and (not vp["system"] or dec(vp["net_qty"]) != 0)]
                ext = m.externals.get((symbol, side), {})
                status = m.side_status(symbol, side)
                if not vps and dec(ext.get("qty")) == 0 and status == "OK":
                    continue
                badge = "⚠ MISMATCH" if status == "MISMATCH" else "✓ OK"
                rows.append({"id": f"{symbol}:{side}", "kind": "group", "status": status,
                             "Position": f"{symbol} {side}", "VP": badge, "Qty": fmt(ext.get("qty")),
                             "Avg entry": fmt(ext.get("avgEntryPrice")), "Mark": fmt(m.marks.get(symbol)),
                             "uPnL": fmt(ext.get("unrealizedPnl"), 2)})
                for vp in vps:
                    tpsl = vp.get("tpsl")
                    rows.append({
                        "id": vp["id"], "kind": "vp", "status": status, "Position": "", "VP": vp["name"],
                        "Qty": fmt(vp["net_qty"]), "Avg entry": fmt(vp["avg_entry"]),
                        "Mark": fmt(vp.get("mark_price")), "uPnL": fmt(vp["unrealized_pnl"], 2),
                        "Realized": fmt(vp["realized_pnl"], 4), "Fees": fmt(vp["fees"], 4),
                        "Funding": fmt(vp["funding"], 4), "Net": fmt(vp["net_pnl"], 4),
                        "TP": _leg(tpsl, "tp"), "SL": _leg(tpsl, "sl"),
                        "Sync": (tpsl or {}).get("sync_status") or "" if tpsl else ""})
        return rows

    def refresh(self) -> None:
        self.table.show(self.rows())

    def _on_select(self, event: param.parameterized.Event) -> None:
        if not event.new:
            return
        row = self.table.value.iloc[event.new[0]]
        if row["kind"] == "vp" and self.actions is not None:
            self.actions.vp_id = row["id"]

    def __panel__(self) -> pn.viewable.Viewable:
        return self.table


# == per-VP actions ======================================================================================
class VpActionsView(pn.viewable.Viewer):
    """Close 25/50/75/100 %/custom (market or limit), TP/SL editor, transfer, rename, archive for one VP."""

    model = param.ClassSelector(class_=TerminalModel)
    actions = param.ClassSelector(class_=VpActionsModel)
    terminal = param.Parameter()
    commands = param.ClassSelector(class_=Commands)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        a = self.actions
        self.vp_select = pn.widgets.Select.from_param(a.param.vp_id, css_classes=["hs-vp-select"])
        self.transfer_select = pn.widgets.Select.from_param(a.param.transfer_to, css_classes=["hs-transfer-to"])
        self.model.param.watch(lambda *_e: self.refresh(), ["positions_version"])
        a.param.watch(lambda *_e: self.refresh(), ["vp_id"])
        self.refresh()

    def refresh(self) -> None:
        m, a = self.model, self.actions
        options = {m.vp_label(vp): vp["id"] for vp in m.live_vps(include_system=True)
                   if not vp["system"] or dec(vp["net_qty"]) != 0}
        set_options(self.vp_select, options)
        if a.vp_id not in options.values():
            a.vp_id = next(iter(options.values()), None)
        vp = m.vps.get(a.vp_id or "")
        targets = {m.vp_label(v): v["id"] for v in m.live_vps(include_system=True)
                   if vp is not None and v["id"] != vp["id"] and v["symbol"] == vp["symbol"]
                   and v["positionSide"] == vp["positionSide"]}
        set_options(self.transfer_select, targets)
        if a.transfer_to not in targets.values():
            a.transfer_to = next(iter(targets.values()), None)
        with param.edit_constant(a):
            a.locked = m.locked(a.vp_id)

    def _close(self, percent: str | None) -> None:
        a = self.actions
        if a.vp_id is None:
            return
        kwargs: dict[str, Any] = {"percent": percent} if percent else {"qty": a.close_qty.strip() or None}
        if a.close_type == "LIMIT":
            kwargs["price"] = a.close_price.strip() or None
        self.commands.run(a, lambda: self.terminal.close_vp(a.vp_id, a.close_type, **kwargs),
                          lambda r: f'close order {r.status} ({r.client_order_id})', orders=True)

    def _set_tpsl(self, _event: Any = None) -> None:
        a = self.actions
        self.commands.run(a, lambda: self.terminal.set_tpsl(
            a.vp_id, tp_price=a.tp_price.strip() or None, tp_trigger_type=a.tp_trigger,
            sl_price=a.sl_price.strip() or None, sl_trigger_type=a.sl_trigger), "TP/SL sent", orders=True)

    def _clear_tpsl(self, _event: Any = None) -> None:
        self.commands.run(self.actions, lambda: self.terminal.clear_tpsl(self.actions.vp_id), "TP/SL cleared")

    def _transfer(self, _event: Any = None) -> None:
        a = self.actions
        self.commands.run(a, lambda: self.terminal.transfer(a.vp_id, a.transfer_to, a.transfer_qty.strip()),
                          "transferred")

    def _rename(self, _event: Any = None) -> None:
        a = self.actions
        self.commands.run(a, lambda: self.terminal.rename_vp(a.vp_id, a.new_name), "renamed")

    def _archive(self, _event: Any = None) -> None:
        self.commands.run(self.actions, lambda: self.terminal.archive_vp(self.actions.vp_id), "archived")

    def __panel__(self) -> pn.viewable.Viewable:
        a = self.actions
        locked = a.param.locked

        def closer(pct: str) -> pn.widgets.Button:
            button = pn.widgets.Button(name=f"{pct} %", disabled=locked, css_classes=[f"hs-close-{pct}"],
                                       button_type="warning", width=60)
            def click(_event: Any, pct: str = pct) -> None:
                self._close(pct)

            button.on_click(click)
            return button

        def button(name: str, css: str, handler: Callable[..., Any], lockable: bool = False,
                   kind: str = "default") -> pn.widgets.Button:
            b = pn.widgets.Button(name=name, css_classes=[css], button_type=kind,
                                  **({"disabled": locked} if lockable else {}))
            b.on_click(handler)
            return b

        def close_custom(_event: Any) -> None:
            self._close(None)

        custom = button("Close qty", "hs-close-custom", close_custom, True, "warning")
        lock_note = pn.pane.Markdown(
            pn.bind(lambda lk: "**MISMATCH**: reduce and TP/SL actions are locked until this side is reconciled."
                    if lk else "", locked), css_classes=["hs-lock-note"], styles={"color": "#842029"})
        return pn.Card(
            self.vp_select, lock_note,
            pn.pane.Markdown("**Close**", margin=(0, 5)),
            pn.Row(*(closer(p) for p in ("25", "50", "75", "100"))),
            pn.Row(pn.widgets.Select.from_param(a.param.close_type, width=100),
                   pn.widgets.TextInput.from_param(a.param.close_price, width=110, css_classes=["hs-close-price"]),
                   pn.widgets.TextInput.from_param(a.param.close_qty, width=100, css_classes=["hs-close-qty"])),
            custom,
            pn.pane.Markdown("**TP / SL**", margin=(0, 5)),
            pn.Row(pn.widgets.TextInput.from_param(a.param.tp_price, width=120, css_classes=["hs-tp-price"]),
                   pn.widgets.Select.from_param(a.param.tp_trigger, width=90, css_classes=["hs-tp-trigger"])),
            pn.Row(pn.widgets.TextInput.from_param(a.param.sl_price, width=120, css_classes=["hs-sl-price"]),
                   pn.widgets.Select.from_param(a.param.sl_trigger, width=90, css_classes=["hs-sl-trigger"])),
            pn.Row(button("Set TP/SL", "hs-set-tpsl", self._set_tpsl, True, "primary"),
                   button("Clear TP/SL", "hs-clear-tpsl", self._clear_tpsl, True)),
            pn.pane.Markdown("**Transfer / rename / archive**", margin=(0, 5)),
            pn.Row(self.transfer_select,
                   pn.widgets.TextInput.from_param(a.param.transfer_qty, width=100, css_classes=["hs-transfer-qty"])),
            button("Transfer", "hs-transfer", self._transfer),
            pn.Row(pn.widgets.TextInput.from_param(a.param.new_name, width=150, css_classes=["hs-new-name"]),
                   button("Rename", "hs-rename", self._rename)),
            button("Archive", "hs-archive", self._archive, kind="danger"),
            error_pane(a, "hs-actions-error"), result_pane(a, "hs-actions-result"),
            title="Virtual position", width=420, collapsible=False, css_classes=["hs-actions"])


# == order ticket ========================================================================================
class OrderTicket(pn.viewable.Viewer):
    """VP selector (VPs of the chosen symbol), BUY/SELL as open/close for the VP's side, type, qty or % of VP
    (closes), price, time in force; the engine's refusals inline."""

    model = param.ClassSelector(class_=TerminalModel)
    ticket = param.ClassSelector(class_=OrderTicketModel)
    terminal = param.Parameter()
    commands = param.ClassSelector(class_=Commands)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        tk = self.ticket
        self.vp_select = pn.widgets.Select.from_param(tk.param.vp_id, css_classes=["hs-ticket-vp"])
        self.model.param.watch(lambda *_e: self.refresh(), ["positions_version"])
        tk.param.watch(lambda *_e: self.refresh(), ["symbol", "vp_id", "action"])
        self.refresh()

    def refresh(self) -> None:
        m, tk = self.model, self.ticket
        options = {m.vp_label(vp): vp["id"] for vp in m.live_vps(tk.symbol)}
        set_options(self.vp_select, options)
        if tk.vp_id not in options.values():
            tk.vp_id = next(iter(options.values()), None)
        vp = m.vps.get(tk.vp_id or "")
        hint = ""
        if vp is not None:
            opening = "BUY" if vp["positionSide"] == "LONG" else "SELL"
            closing = "SELL" if opening == "BUY" else "BUY"
            what = "opens (adds to)" if tk.action == opening else "closes (reduces)"
            hint = (f'{vp["positionSide"]} VP holding {fmt(vp["net_qty"])}: {opening} opens, {closing} closes. '
                    f"This {tk.action} {what} it.")
        with param.edit_constant(tk):
            tk.hint = hint

    def _closing(self) -> bool:
        vp = self.model.vps.get(self.ticket.vp_id or "")
        return vp is not None and (vp["positionSide"] == "LONG") == (self.ticket.action == "SELL")

    def submit(self, _event: Any = None) -> None:
        tk, t = self.ticket, self.terminal
        if tk.vp_id is None:
            with param.edit_constant(tk):
                tk.error = "NO_VP: create a virtual position for this symbol first"
            return
        price = tk.price.strip() or None
        tif = tk.time_in_force if tk.order_type == "LIMIT" else None
        if tk.percent and self._closing() and tk.order_type in ("MARKET", "LIMIT"):
            call = lambda: t.close_vp(tk.vp_id, tk.order_type, percent=tk.percent, price=price,  # noqa: E731
                                      time_in_force=tif)
        else:
            call = lambda: t.place_order(  # noqa: E731
                tk.vp_id, tk.action, tk.order_type, tk.qty.strip(),
                price if tk.order_type == "LIMIT" else None, time_in_force=tif,
                trigger_price=price if tk.order_type == "STOP_MARKET" else None, reduce_only=self._closing())
        self.commands.run(tk, call, lambda r: f'{r.status} · {r.client_order_id}', orders=True)

    def __panel__(self) -> pn.viewable.Viewable:
        tk = self.ticket
        submit = pn.widgets.Button(name="Place order", button_type="primary", css_classes=["hs-ticket-submit"])
        submit.on_click(self.submit)
        live = pn.widgets.Checkbox(name="Trade on the LIVE account (real money)", value=False,
                                   visible=self.commands.needs_live_confirmation, css_classes=["hs-live-confirm"])

        def confirm(event: Any) -> None:
            self.commands.live_confirmed = bool(event.new)

        live.param.watch(confirm, "value")
        return pn.Card(live,
            pn.widgets.Select.from_param(tk.param.symbol, css_classes=["hs-ticket-symbol"]), self.vp_select,
            pn.widgets.RadioButtonGroup.from_param(tk.param.action, button_type="success",
                                                   css_classes=["hs-ticket-action"]),
            TextMarkdown(tk.param.hint, css_classes=["hs-ticket-hint"], margin=(0, 5)),
            pn.widgets.Select.from_param(tk.param.order_type, css_classes=["hs-ticket-type"]),
            pn.Row(pn.widgets.TextInput.from_param(tk.param.qty, width=130, css_classes=["hs-ticket-qty"]),
                   pn.widgets.Select.from_param(tk.param.percent, width=110, css_classes=["hs-ticket-percent"])),
            pn.Row(pn.widgets.TextInput.from_param(tk.param.price, width=130, css_classes=["hs-ticket-price"]),
                   pn.widgets.Select.from_param(tk.param.time_in_force, width=110)),
            submit, error_pane(tk, "hs-ticket-error"), result_pane(tk, "hs-ticket-result"),
            title="Order ticket", width=300, collapsible=False, css_classes=["hs-ticket"])


def time_axis() -> DatetimeTickFormatter:
    """Clock time on a chart's x axis whatever the zoom (Bokeh's default shows µs offsets on short spans).
    One per figure: a Bokeh model belongs to one document."""
    return DatetimeTickFormatter(microseconds="%H:%M:%S.%3N", milliseconds="%H:%M:%S.%3N", seconds="%H:%M:%S",
                                 minsec="%H:%M:%S", minutes="%H:%M", hourmin="%H:%M", hours="%H:%M",
                                 days="%d %b", context=None)


# == price chart =========================================================================================
class PriceChart(pn.viewable.Viewer):
    """Candles from the terminal's klines, the live mark, and the selected VP's entry, TP and SL lines."""

    model = param.ClassSelector(class_=TerminalModel)
    actions = param.ClassSelector(class_=VpActionsModel)
    ticket = param.ClassSelector(class_=OrderTicketModel)
    terminal = param.Parameter()

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.symbol = ""
        self.candles = ColumnDataSource(data={k: [] for k in ("t", "open", "high", "low", "close", "color")})
        self.mark_line = ColumnDataSource(data={"t": [], "mark": []})
        fig = figure(x_axis_type="datetime", height=330, sizing_mode="stretch_width", tools="pan,wheel_zoom,reset",
                     title="", toolbar_location="right")
        fig.segment("t", "high", "t", "low", source=self.candles, color="color")
        fig.vbar("t", 45_000, "open", "close", source=self.candles, fill_color="color", line_color="color")
        fig.line("t", "mark", source=self.mark_line, color="#555", line_dash="dotted", legend_label="mark")
        fig.legend.location = "top_left"
        fig.xaxis.formatter = time_axis()
        self.spans = {name: Span(dimension="width", line_color=color, line_width=2, line_dash=dash, visible=False)
                      for name, color, dash in (("mark", "#555", "dashed"), ("entry", "#1f77b4", "solid"),
                                                ("tp", "#2ca02c", "dashed"), ("sl", "#d62728", "dashed"))}
        for span in self.spans.values():
            fig.add_layout(span)
        self.fig = fig
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width", css_classes=["hs-chart"])
        # a mark (or the symbol / selected VP) changes candles, mark line and lines; a VP update only the lines
        self.model.param.watch(lambda *_e: self._schedule_update(), ["marks_version"])
        self.model.param.watch(lambda *_e: self._schedule_update(market=False), ["positions_version"])
        self.actions.param.watch(lambda *_e: self._schedule_update(), ["vp_id"])
        self.ticket.param.watch(lambda *_e: self._schedule_update(), ["symbol"])
        self._pending: bool | None = None  # a scheduled update: with the market part (True) or lines only
        self.update()

    def _schedule_update(self, market: bool = True) -> None:
        """Change the raw Bokeh models on the session's next tick, under its document lock: changing them
        from inside a widget event's callback chain fails in a served session ("_pending_writes ...").
        Several requests before that tick make one update."""
        doc = self.fig.document  # the session that owns the figure (pn.state.curdoc may be another one's)
        if doc is None or doc.session_context is None:
            self.update(market)
            return
        scheduled = self._pending is not None
        self._pending = bool(self._pending) or market
        if not scheduled:
            doc.add_next_tick_callback(self._run_pending)

    def _run_pending(self) -> None:
        market, self._pending = bool(self._pending), None
        self.update(market)

    def _current_symbol(self) -> str:
        vp = self.model.vps.get(self.actions.vp_id or "")
        return vp["symbol"] if vp is not None else self.ticket.symbol

    def update(self, market: bool = True) -> None:
        symbol = self._current_symbol()
        if symbol != self.symbol:
            self.symbol, market = symbol, True
            self.mark_line.data = {"t": [], "mark": []}
            self.fig.title.text = symbol
        if market:
            self._update_market(symbol)
        self._update_lines(symbol)

    def _update_market(self, symbol: str) -> None:
        """Candles (only the changed cells of the last bars) and the mark line."""
        bars = list((getattr(self.terminal, "klines", {}) or {}).get(symbol, []))[-120:]
        if bars:
            data = {
                "t": [b.open_time for b in bars], "open": [float(b.open) for b in bars],
                "high": [float(b.high) for b in bars], "low": [float(b.low) for b in bars],
                "close": [float(b.close) for b in bars],
                "color": ["#26a69a" if b.close >= b.open else "#ef5350" for b in bars]}
            current = self.candles.data
            if len(current["t"]) == len(data["t"]) and list(current["t"]) == data["t"]:
                # same bars: send only the columns' changed cells (usually the last bar), nothing if none
                patch = {k: [(i, v) for i, (a, v) in enumerate(zip(current[k], data[k], strict=True)) if a != v]
                         for k in data if k != "t"}
                patch = {k: v for k, v in patch.items() if v}
                if patch:
                    self.candles.patch(patch)
            else:
                self.candles.data = data
        mark = self.model.marks.get(symbol)
        if mark:
            now = time.time() * 1000
            marks = self.mark_line.data["t"]
            if not marks or now - marks[-1] >= 900:
                self.mark_line.stream({"t": [now], "mark": [float(mark)]}, rollover=3600)
            self.spans["mark"].update(location=float(mark), visible=True)

    def _update_lines(self, symbol: str) -> None:
        """The selected VP's entry, TP and SL."""
        vp = self.model.vps.get(self.actions.vp_id or "")
        tpsl = (vp or {}).get("tpsl") or {}
        for name, value in (("entry", (vp or {}).get("avg_entry") if vp and dec(vp["net_qty"]) else None),
                            ("tp", tpsl.get("tp_price")), ("sl", tpsl.get("sl_price"))):
            span = self.spans[name]
            if value and dec(value) != 0 and vp is not None and vp["symbol"] == symbol:
                span.update(location=float(value), visible=True)
            else:
                span.visible = False

    def __panel__(self) -> pn.viewable.Viewable:
        return self.pane


# == live PnL ============================================================================================
class PnlPlot(pn.viewable.Viewer):
    """Net PnL (realized − fees + funding + unrealized) per VP over time, streamed."""

    model = param.ClassSelector(class_=TerminalModel)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.fig = figure(x_axis_type="datetime", height=260, sizing_mode="stretch_width",
                          title="Net PnL per VP (incl. uPnL, USDT)", tools="pan,wheel_zoom,reset")
        self.fig.xaxis.formatter = time_axis()
        self.sources: dict[str, ColumnDataSource] = {}
        self.pane = pn.pane.Bokeh(self.fig, sizing_mode="stretch_width", css_classes=["hs-pnl"])
        self.model.param.watch(lambda *_e: self.update(), ["positions_version"])
        self.update()

    def update(self) -> None:
        points, self.model.pnl_points = self.model.pnl_points, []
        batch: dict[str, dict[str, list[Any]]] = {}
        for vp_id, name, ts, value in points:
            if vp_id not in self.sources:
                source = ColumnDataSource(data={"t": [], "pnl": []})
                color = Category10_10[len(self.sources) % 10]
                self.fig.step("t", "pnl", source=source, color=color, legend_label=name, mode="after")
                self.sources[vp_id] = source
            rows = batch.setdefault(vp_id, {"t": [], "pnl": []})
            rows["t"].append(ts)
            rows["pnl"].append(value)
        for vp_id, rows in batch.items():
            self.sources[vp_id].stream(rows, rollover=5000)
        if batch and self.fig.legend:
            self.fig.legend.location = "top_left"

    def __panel__(self) -> pn.viewable.Viewable:
        return self.pane


# == orders and history ==================================================================================
ORDER_COLUMNS = ["id", "Time", "VP", "Symbol", "Side", "Pos side", "Type", "Role", "Qty", "Filled", "Price",
                 "Trigger", "TIF", "Status", "Reason"]
#: rows kept in the order-history and trade-history tables (newest first)
HISTORY_ROWS = 100
FILL_COLUMNS = ["Time", "VP", "Symbol", "Side", "Pos side", "Qty", "Price", "Fee", "Fee asset", "Realized",
                "Maker", "Trade id"]


def _time(ms: Any) -> str:
    if not ms:
        return ""
    return time.strftime("%H:%M:%S", time.gmtime(int(ms) / 1000)) + f".{int(ms) % 1000:03d}"


class OrdersView(pn.viewable.Viewer):
    """Open orders (filter by VP, cancel, amend price/qty), order history and trade history."""

    model = param.ClassSelector(class_=TerminalModel)
    terminal = param.Parameter()
    commands = param.ClassSelector(class_=Commands)
    vp_filter = param.Selector(default="", objects=[""], check_on_set=False, label="Filter by VP")
    amend_price = param.String(default="", label="New price")
    amend_qty = param.String(default="", label="New qty")
    error = param.String(default="", constant=True)
    result = param.String(default="", constant=True)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        opts = {"show_index": False, "disabled": True, "sizing_mode": "stretch_width", "layout": "fit_data_stretch",
                "height": 260}
        self.open_table = Table(ORDER_COLUMNS, selectable=1, hidden_columns=["id"], css_classes=["hs-open-orders"],
                                **opts)
        self.history_table = Table(ORDER_COLUMNS, hidden_columns=["id"], css_classes=["hs-order-history"],
                                   pagination="local", page_size=50, **opts)
        self.fills_table = Table(FILL_COLUMNS, css_classes=["hs-trade-history"], pagination="local", page_size=50,
                                 **opts)
        self.filter_select = pn.widgets.Select.from_param(self.param.vp_filter, css_classes=["hs-order-filter"])
        self.tabs: pn.Tabs | None = None
        self._vp_names: dict[str, str] = {}
        # history tables are rebuilt only while their tab is visible (else marked stale until it is shown)
        self._stale = {"orders": True, "fills": True}
        self.model.param.watch(lambda *_e: self.refresh_orders(), ["orders_version"])
        self.model.param.watch(self._on_positions, ["positions_version"])
        self.model.param.watch(lambda *_e: self.refresh_fills(), ["fills_version"])
        self.param.watch(lambda *_e: self.refresh_orders(), ["vp_filter"])
        self.refresh_orders()
        self.refresh_fills()

    def _on_positions(self, *_events: Any) -> None:
        """VP updates matter to the orders tables only through the VP names (filter options, VP column)."""
        names = {vp_id: vp["name"] for vp_id, vp in self.model.vps.items() if not vp.get("archived")}
        if names != self._vp_names:
            self._vp_names = names
            self.refresh_orders()

    def _visible(self, which: str) -> bool:
        return self.tabs is not None and self.tabs.active == (1 if which == "orders" else 2)

    def _order_row(self, o: dict[str, Any]) -> dict[str, Any]:
        vp = self.model.vps.get(o.get("virtual_position_id") or "")
        return {"id": o["clientOrderId"], "Time": _time(o.get("created_at")), "VP": vp["name"] if vp else "",
                "Symbol": o["symbol"], "Side": o["side"], "Pos side": o["positionSide"], "Type": o["type"],
                "Role": o.get("role") or "", "Qty": fmt(o["qty"]), "Filled": fmt(o.get("filled_qty")),
                "Price": fmt(o.get("price")), "Trigger": fmt(o.get("trigger_price")),
                "TIF": o.get("timeInForce") or "", "Status": o["status"], "Reason": o.get("reason") or ""}

    def refresh_orders(self) -> None:
        m = self.model
        set_options(self.filter_select, {"All": "", **{m.vp_label(vp): vp["id"] for vp in m.live_vps()}})
        wanted = self.vp_filter
        open_orders = sorted((o for o in m.open_orders() if not wanted or o.get("virtual_position_id") == wanted),
                             key=lambda o: -(o.get("created_at") or 0))
        self.open_table.show([self._order_row(o) for o in open_orders])
        self._stale["orders"] = True
        if self._visible("orders"):
            self._refresh_order_history()

    def _refresh_order_history(self) -> None:
        self._stale["orders"] = False
        history = heapq.nsmallest(HISTORY_ROWS, self.model.orders.values(),
                                  key=lambda o: -(o.get("updated_at") or o.get("created_at") or 0))
        self.history_table.show([self._order_row(o) for o in history])

    def refresh_fills(self) -> None:
        self._stale["fills"] = True
        if self._visible("fills"):
            self._refresh_fills()

    def _refresh_fills(self) -> None:
        self._stale["fills"] = False
        fills = heapq.nsmallest(HISTORY_ROWS, self.model.fills.values(), key=lambda f: -(f.get("time") or 0))
        self.fills_table.show([{
            "Time": _time(f.get("time")), "VP": f.get("vp_name") or "", "Symbol": f["symbol"], "Side": f["side"],
            "Pos side": f["positionSide"], "Qty": fmt(f["qty"]), "Price": fmt(f["price"]),
            "Fee": fmt(f.get("commission")), "Fee asset": f.get("commissionAsset") or "",
            "Realized": fmt(f.get("realizedPnl")), "Maker": "yes" if f.get("maker") else "no",
            "Trade id": str(f["tradeId"])} for f in fills])

    def _on_tab(self, *_events: Any) -> None:
        if self._visible("orders") and self._stale["orders"]:
            self._refresh_order_history()
        if self._visible("fills") and self._stale["fills"]:
            self._refresh_fills()

    def _selected(self) -> str | None:
        sel = self.open_table.selection
        if not sel or sel[0] >= len(self.open_table.value):
            with param.edit_constant(self):
                self.error = "NO_ORDER: select an open order first"
            return None
        return str(self.open_table.value.iloc[sel[0]]["id"])

    def cancel(self, _event: Any = None) -> None:
        ref = self._selected()
        if ref is not None:
            self.commands.run(self, lambda: self.terminal.cancel_order(ref), "cancel sent")

    def amend(self, _event: Any = None) -> None:
        ref = self._selected()
        if ref is not None:
            self.commands.run(self, lambda: self.terminal.amend_order(
                ref, price=self.amend_price.strip() or None, qty=self.amend_qty.strip() or None), "amended",
                orders=True)

    def __panel__(self) -> pn.viewable.Viewable:
        cancel = pn.widgets.Button(name="Cancel selected", css_classes=["hs-cancel"], button_type="danger")
        cancel.on_click(self.cancel)
        amend = pn.widgets.Button(name="Amend selected", css_classes=["hs-amend"])
        amend.on_click(self.amend)
        open_tab = pn.Column(
            pn.Row(self.filter_select, cancel,
                   pn.widgets.TextInput.from_param(self.param.amend_price, width=120, css_classes=["hs-amend-price"]),
                   pn.widgets.TextInput.from_param(self.param.amend_qty, width=100, css_classes=["hs-amend-qty"]),
                   amend),
            error_pane(self, "hs-orders-error"), result_pane(self, "hs-orders-result"), self.open_table,
            sizing_mode="stretch_width")
        if self.tabs is None:
            self.tabs = pn.Tabs(("Open orders", open_tab), ("Order history", self.history_table),
                                ("Trade history", self.fills_table), sizing_mode="stretch_width",
                                css_classes=["hs-orders"])
            self.tabs.param.watch(self._on_tab, ["active"])
        return self.tabs


# == reconcile ===========================================================================================
class ReconcileModel(param.Parameterized):
    side_key = param.Selector(default="BTCUSDT:LONG", objects=["BTCUSDT:LONG"], check_on_set=False,
                              label="Real position")
    error = param.String(default="", constant=True)
    result = param.String(default="", constant=True)


class ReconcileView(pn.viewable.Viewer):
    """Exchange qty and entry of one side, each VP's qty and the difference; assign and submit."""

    model = param.ClassSelector(class_=TerminalModel)
    terminal = param.Parameter()
    commands = param.ClassSelector(class_=Commands)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.rec = ReconcileModel()
        keys = {f"{s} {side}": f"{s}:{side}" for s in self.model.symbols for side in POSITION_SIDES}
        self.side_select = pn.widgets.Select.from_param(self.rec.param.side_key, options=keys,
                                                        css_classes=["hs-rec-side"])
        self.summary = TextHTML("", css_classes=["hs-rec-summary"], sizing_mode="stretch_width")
        self.inputs = pn.Column(css_classes=["hs-rec-inputs"])
        self._input_ids: tuple[str, ...] = ()
        self._widgets: dict[str, pn.widgets.TextInput] = {}
        self.model.param.watch(lambda *_e: self.refresh(), ["positions_version"])
        self.rec.param.watch(lambda *_e: self.refresh(rebuild=True), ["side_key"])
        self.refresh(rebuild=True)

    def _side(self) -> tuple[str, str]:
        symbol, side = self.rec.side_key.split(":")
        return symbol, side

    def refresh(self, rebuild: bool = False) -> None:
        m = self.model
        symbol, side = self._side()
        vps = [vp for vp in m.live_vps(symbol, include_system=True) if vp["positionSide"] == side]
        ext = m.externals.get((symbol, side), {})
        total = sum((dec(vp["net_qty"]) for vp in vps), Decimal(0))
        diff = dec(ext.get("qty")) - total
        status = m.side_status(symbol, side)
        color = "#842029" if status == "MISMATCH" else "#1e8e3e"
        rows = "".join(f'<tr><td>{vp["name"]}</td><td style="text-align:right">{fmt(vp["net_qty"])}</td>'
                       f'<td style="text-align:right">{fmt(vp["avg_entry"])}</td></tr>' for vp in vps)
        self.summary.object = (
            f'<b style="color:{color}" class="hs-rec-status">{status}</b> · exchange qty '
            f'<b class="hs-rec-exchange">{fmt(ext.get("qty")) or "0"}</b> @ {fmt(ext.get("avgEntryPrice")) or "—"}'
            f' · VPs Σ {fmt(total)} · difference <b class="hs-rec-diff">{fmt(diff)}</b>'
            f'<table style="width:100%"><tr><th align="left">VP</th><th align="right">qty</th>'
            f'<th align="right">avg entry</th></tr>{rows}</table>')
        ids = tuple(vp["id"] for vp in vps if not vp["system"])
        if rebuild or ids != self._input_ids:
            self._input_ids = ids
            self._widgets = {vp["id"]: pn.widgets.TextInput(name=f'{vp["name"]} gets', value=fmt(vp["net_qty"]),
                                                            width=140, css_classes=[f"hs-rec-input-{vp['name']}"])
                             for vp in vps if not vp["system"]}
            self.inputs.objects = list(self._widgets.values())

    def submit(self, _event: Any = None) -> None:
        symbol, side = self._side()
        assignments = [{"virtual_position_id": vp_id, "qty": w.value.strip() or "0"}
                       for vp_id, w in self._widgets.items()]
        self.commands.run(self.rec, lambda: self.terminal.reconcile(symbol, side, assignments),
                          lambda r: f'Reconciled {symbol} {side}: **{r.status}** · ' + ", ".join(
                              f'{v.name} {fmt(v.net_qty)} @ {fmt(v.avg_entry)}' for v in r.virtual_positions))

    def __panel__(self) -> pn.viewable.Viewable:
        submit = pn.widgets.Button(name="Reconcile", button_type="primary", css_classes=["hs-rec-submit"])
        submit.on_click(self.submit)
        return pn.Card(self.side_select, self.summary,
                       pn.pane.Markdown("Assign the exchange quantity (the rest goes to UNASSIGNED):", margin=(0, 5)),
                       self.inputs, submit, error_pane(self.rec, "hs-rec-error"),
                       result_pane(self.rec, "hs-rec-result"),
                       title="Reconcile", width=360, collapsible=False, css_classes=["hs-reconcile"])


# == VP creation =========================================================================================
class CreateVpView(pn.viewable.Viewer):
    model = param.ClassSelector(class_=CreateVpModel)
    terminal = param.Parameter()
    commands = param.ClassSelector(class_=Commands)

    def create(self, _event: Any = None) -> None:
        m = self.model
        self.commands.run(m, lambda: self.terminal.create_vp(m.vp_name.strip(), m.symbol, m.position_side),
                          lambda r: f'created **{r.name}** ({r.id})')

    def __panel__(self) -> pn.viewable.Viewable:
        m = self.model
        button = pn.widgets.Button(name="Create VP", button_type="primary", css_classes=["hs-create-submit"])
        button.on_click(self.create)
        return pn.Card(pn.widgets.TextInput.from_param(m.param.vp_name, css_classes=["hs-create-name"]),
                       pn.widgets.Select.from_param(m.param.symbol, css_classes=["hs-create-symbol"]),
                       pn.widgets.Select.from_param(m.param.position_side, css_classes=["hs-create-side"]),
                       button, error_pane(m, "hs-create-error"), result_pane(m, "hs-create-result"),
                       title="New virtual position", width=300, collapsible=False, css_classes=["hs-create"])
