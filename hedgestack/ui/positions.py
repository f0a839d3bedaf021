"""Positions: each exchange side (a group row with its leverage, liquidation price and the engine's consistency
status) with its VPs beneath; the action card of the selected VP; VP creation.

Rows are built by :func:`position_rows` from the engine's views only: the lock of a VP is
``VirtualPositionView.locked``, a side's status is the engine's ``SideStatusView``. Clicking a VP row selects it
everywhere (the session's :class:`~hedgestack.ui.models.Selection`).
"""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

import panel as pn
import param

from hedgestack.domain.enums import PositionSide, SyncStatus, TriggerType
from hedgestack.engine.views import SideStatus, VirtualPositionView
from hedgestack.ui import format as fmt
from hedgestack.ui.commands import Commands, Feedback
from hedgestack.ui.grid import Column, DataGrid, num, row, text
from hedgestack.ui.models import POSITION_SIDES, AccountModel, Selection
from hedgestack.ui.ticket import decimal_or_none
from hedgestack.ui.widgets import ConfirmBar, TextHTML, feedback_pane, set_options

POSITION_COLUMNS = (
    Column("pos", "Position / VP", "left"),
    Column("size", "Size"),
    Column("entry", "Entry"),
    Column("mark", "Mark"),
    Column("liq", "Liq. price", title="the exchange side's liquidation price"),
    Column("notional", "Notional"),
    Column("margin", "Margin", title="initial margin: notional ÷ the side's leverage"),
    Column("upnl", "uPnL (ROE)"),
    Column("realized", "Realized"),
    Column("net", "Net PnL", title="realized − fees + funding (hover for the parts)"),
    Column("tpsl", "TP / SL"),
    Column("status", "Status", "center"),
)
EMPTY = ("<b>No virtual position yet</b>: create a virtual position to start (above: a name, a symbol, LONG or "
         "SHORT), then trade it from the order ticket.")
STATUS_TONE = {SideStatus.OK: "good", SideStatus.SYNCING: "warn", SideStatus.STALE: "warn",
               SideStatus.MISMATCH: "bad"}


def _trigger(trigger: TriggerType) -> str:
    return "LAST" if trigger is TriggerType.LAST_PRICE else "MARK"


def side_status_cell(model: AccountModel, symbol: str, side: PositionSide) -> list[str]:
    detail = model.side_status(symbol, side)
    if detail is None:
        return text("—", "no status from the engine yet", "dim")
    inst = model.instruments.get(symbol)
    step = inst.step_size if inst else Decimal("0.001")
    parts = [f"exchange {fmt.qty(detail.exchange_qty, step)} · VPs {fmt.qty(detail.vp_qty, step)}"]
    if detail.confirmed_at:
        by = f" by {detail.confirmed_by}" if detail.confirmed_by else ""
        # the time, not the age: an age in a tooltip would re-render the row every second
        parts.append(f"confirmed at {fmt.clock(detail.confirmed_at)}{by}")
    if detail.reason:
        parts.append(detail.reason)
    return text(detail.status.value, " · ".join(parts), STATUS_TONE.get(detail.status, ""))


def _tpsl_cells(vp: VirtualPositionView, tick: Decimal, step: Decimal) -> tuple[list[str], list[str] | None]:
    """(TP / SL cell, the TP/SL status cell or None)."""
    t = vp.tpsl
    if t is None or (t.tp_price is None and t.sl_price is None):
        return text("—", "", "dim"), None
    legs = []
    hover = []
    for leg, price, trigger, order_id, qty in (("TP", t.tp_price, t.tp_trigger_type, t.tp_order_id, t.tp_qty),
                                               ("SL", t.sl_price, t.sl_trigger_type, t.sl_order_id, t.sl_qty)):
        if price is None:
            legs.append("—")
            continue
        legs.append(fmt.price(price, tick).text)
        live = f"live ({fmt.qty(qty, step)}, order {order_id})" if order_id else "no live order"
        hover.append(f"{leg} {fmt.exact(price)} on {_trigger(trigger)} · {live}")
    if t.sync_reason:
        hover.append(t.sync_reason)
    tone = {SyncStatus.OK: "", SyncStatus.SYNCING: "warn", SyncStatus.ERROR: "bad"}[t.sync_status]
    status_tone = {SyncStatus.OK: "good", SyncStatus.SYNCING: "warn", SyncStatus.ERROR: "bad"}[t.sync_status]
    status = text(f"TP/SL {t.sync_status.value}", t.sync_reason or "", status_tone)
    return text(" / ".join(legs), "\n".join(hover), tone), status


def position_rows(model: AccountModel) -> list[dict[str, Any]]:
    """The positions table: one group row per exchange side in use, its VPs beneath (UNASSIGNED when it holds
    something)."""
    rows: list[dict[str, Any]] = []
    for symbol in model.symbols:
        inst = model.instruments.get(symbol)
        if inst is None:
            continue
        tick, step = inst.tick_size, inst.step_size
        for side in POSITION_SIDES:
            vps = [vp for vp in model.live_vps(symbol, side, include_system=True)
                   if not vp.system or vp.net_qty != 0]
            ext = model.externals.get((symbol, side))
            detail = model.side_status(symbol, side)
            if not vps and (ext is None or ext.qty == 0) and (detail is None or detail.status is SideStatus.OK):
                continue
            side_status = detail.status if detail is not None else None
            cls = "group" + ("" if side_status is None else f" {side_status.value.lower()}")
            lev = fmt.leverage(ext.leverage) if ext is not None else ""
            label = f"{symbol} {side.value}"
            hover = []
            if lev:
                hover.append(f"leverage {lev}")
            if ext is not None and ext.margin_type:
                hover.append(f"{ext.margin_type} margin")
            if ext is not None and ext.break_even_price:
                hover.append(f"break-even {fmt.exact(ext.break_even_price)}")
            mark = (ext.mark_price if ext is not None and ext.mark_price else None) or model.marks.get(symbol)
            rows.append(row(f"side:{symbol}:{side.value}", {
                "pos": text(label, " · ".join(hover), "name"),
                "size": num(fmt.qty(ext.qty if ext else None, step)),
                "entry": num(fmt.price(ext.avg_entry_price if ext else None, tick)),
                "mark": num(fmt.price(mark, tick)),
                "liq": num(fmt.price(ext.liquidation_price if ext else None, tick),
                           "warn" if ext is not None and ext.liquidation_price else ""),
                "notional": num(fmt.money(ext.notional if ext else None)),
                # the side's leverage where its VPs show their margin (the label column stays narrow)
                "margin": text(lev, " · ".join(hover), "dim"),
                "upnl": num(fmt.pnl(ext.unrealized_pnl if ext else None)),
                "realized": text(""), "net": text(""), "tpsl": text(""),
                "status": side_status_cell(model, symbol, side),
            }, cls=cls))
            for vp in vps:
                tpsl, tpsl_status = _tpsl_cells(vp, tick, step)
                upnl = fmt.pnl(vp.unrealized_pnl)
                roe = fmt.pct(vp.roe_pct)
                upnl_text = upnl.text if vp.roe_pct is None else f"{upnl.text} ({roe.text})"
                net_hover = (f"realized {fmt.exact(vp.realized_pnl)} − fees {fmt.exact(vp.fees)} + funding "
                             f"{fmt.exact(vp.funding)} = {fmt.exact(vp.net_pnl)}")
                if len(vp.fees_by_asset) > 1 or (vp.fees_by_asset and "USDT" not in vp.fees_by_asset):
                    net_hover += " · fees by asset: " + ", ".join(
                        f"{fmt.exact(v)} {k}" for k, v in vp.fees_by_asset.items())
                if vp.pnl_pct is not None:
                    net_hover += f" · PnL {fmt.exact(vp.pnl_pct)} % of the entry cost"
                if vp.locked:
                    status = text("locked", "the side is in MISMATCH: reducing commands and TP/SL changes are "
                                            "refused until it is reconciled", "bad")
                elif vp.system:
                    status = text("foreign", "fills from other apps (Binance app, liquidation, ADL) land here: "
                                             "transfer them to a VP", "dim")
                else:
                    status = tpsl_status or text("")
                vp_cls = "vp" + (" mismatch" if vp.locked else "") + (" muted" if vp.net_qty == 0 else "")
                if vp.reset_at:
                    reset = f"reset by a reconcile at {fmt.clock(vp.reset_at)}"
                else:
                    reset = ""
                rows.append(row(vp.id, {
                    "pos": text(vp.name, " · ".join(x for x in (vp.id, reset) if x), "name sub"),
                    "size": num(fmt.qty(vp.net_qty, step)),
                    "entry": num(fmt.price(vp.avg_entry, tick)),
                    "mark": num(fmt.price(vp.mark_price, tick)),
                    "liq": text(""),
                    "notional": num(fmt.money(vp.notional)),
                    "margin": num(fmt.money(vp.initial_margin)),
                    "upnl": text(upnl_text, f"uPnL {upnl.title} · ROE {roe.title or '—'}", upnl.tone),
                    "realized": num(fmt.pnl(vp.realized_pnl)),
                    "net": text(fmt.pnl(vp.net_pnl).text, net_hover, fmt.pnl(vp.net_pnl).tone),
                    "tpsl": tpsl,
                    "status": status,
                }, cls=vp_cls, selectable=True))
    return rows


# == the table and VP creation ===========================================================================
class CreateVpModel(Feedback):
    vp_name = param.String(default="", label="Name")
    symbol: param.Selector[str] = param.Selector(default="BTCUSDT", objects=["BTCUSDT"])
    position_side: param.Selector[str] = param.Selector(default="LONG", objects=["LONG", "SHORT"], label="Side")


class PositionsView(pn.viewable.Viewer):
    """The positions grid (click a VP to select it) and, above it, the line that creates a VP."""

    def __init__(self, model: AccountModel, selection: Selection, terminal: Any, commands: Commands,
                 **params: Any) -> None:
        super().__init__(**params)
        self.model, self.selection, self.terminal, self.commands = model, selection, terminal, commands
        self.grid = DataGrid(POSITION_COLUMNS, empty=EMPTY, css_classes=["hs-positions"], sizing_mode="stretch_both",
                             min_height=150)
        self.creator = CreateVpModel(symbol=model.symbols[0])
        self.creator.param.symbol.objects = list(model.symbols)
        self.grid.param.watch(self._on_click, ["selected"])
        model.param.watch(lambda *_e: self.refresh(), ["positions_version"])
        selection.param.watch(lambda *_e: self._sync_selection(), ["vp_id"])
        self.refresh()

    def refresh(self) -> None:
        self.grid.set_rows(position_rows(self.model))
        self._sync_selection()

    def _sync_selection(self) -> None:
        if self.grid.selected != self.selection.vp_id:
            self.grid.selected = self.selection.vp_id

    def _on_click(self, event: param.parameterized.Event) -> None:
        if event.new and event.new in self.model.vps and event.new != self.selection.vp_id:
            self.selection.vp_id = event.new

    def create(self, _event: Any = None) -> None:
        c = self.creator
        name = c.vp_name.strip()

        def done(vp: VirtualPositionView) -> str:
            self.selection.symbol = vp.symbol
            self.selection.vp_id = vp.id
            with param.edit_constant(c):
                c.vp_name = ""
            return f"created {vp.name} ({vp.symbol} {vp.position_side.value})"

        self.commands.run(c, lambda: self.terminal.create_vp(name, c.symbol, c.position_side), done)

    def toolbar(self) -> pn.viewable.Viewable:
        c = self.creator
        name = pn.widgets.TextInput.from_param(c.param.vp_name, placeholder="new VP name (e.g. Trend)", label="",
                                               width=190, css_classes=["hs-create-name"], margin=(2, 4))
        symbol = pn.widgets.Select.from_param(c.param.symbol, label="", width=110, css_classes=["hs-create-symbol"],
                                              margin=(2, 4))
        side = pn.widgets.RadioButtonGroup.from_param(c.param.position_side, label="", width=130,
                                                      css_classes=["hs-create-side"], margin=(2, 4))
        button = pn.widgets.Button(label="+ Create VP", color="primary", css_classes=["hs-create-submit"],
                                   width=110, margin=(2, 4))
        button.on_click(self.create)
        name.param.watch(lambda _e: self.create(), ["enter_pressed"])
        # beside the controls while 240 px are left, else on a line of its own (not squeezed at 1024 px)
        feedback = feedback_pane(c, "hs-create-feedback", sizing_mode=None, styles={"flex": "1 1 240px"})
        return pn.FlexBox(name, symbol, side, button, feedback, flex_wrap="wrap", align_items="center",
                          sizing_mode="stretch_width", css_classes=["hs-toolbar"], margin=0)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.grid


# == the action card of the selected VP ====================================================================
class ActionsModel(Feedback):
    close_type: param.Selector[str] = param.Selector(default="Market", objects=["Market", "Limit"])
    close_price = param.String(default="")
    close_qty = param.String(default="")
    tp_price = param.String(default="")
    tp_trigger: param.Selector[str] = param.Selector(default="LAST", objects=["LAST", "MARK"])
    sl_price = param.String(default="")
    sl_trigger: param.Selector[str] = param.Selector(default="MARK", objects=["LAST", "MARK"])
    transfer_to: param.Selector[str | None] = param.Selector(default=None, objects=[], allow_None=True,
                                                             check_on_set=False)
    transfer_qty = param.String(default="")
    new_name = param.String(default="")


class ActionsCard(pn.viewable.Viewer):
    """Close (25/50/75/100 % or a quantity, market or limit), TP/SL, transfer, rename and archive of the selected
    VP. Its title names the VP; its TP/SL boxes hold that VP's own TP/SL."""

    def __init__(self, model: AccountModel, selection: Selection, terminal: Any, commands: Commands,
                 confirm_orders: Any, **params: Any) -> None:
        super().__init__(**params)
        self.model, self.selection, self.terminal, self.commands = model, selection, terminal, commands
        self.confirm_orders = confirm_orders  # a callable: does the trader want confirmations?
        self.inputs = ActionsModel()
        self.confirm = ConfirmBar(css="hs-actions-confirm")
        self.title = TextHTML("", css_classes=["hs-actions-title"], margin=(2, 6), sizing_mode="stretch_width")
        self.lock_note = TextHTML("", css_classes=["hs-lock-note"], margin=(0, 6), sizing_mode="stretch_width")
        self.transfer_select = pn.widgets.Select.from_param(self.inputs.param.transfer_to, label="", width=150,
                                                            css_classes=["hs-transfer-to"], margin=(2, 4))
        self._loaded: tuple[str | None, str, str, str, str] | None = None
        self._buttons: dict[str, pn.widgets.Button] = {}
        self._layout: pn.viewable.Viewable | None = None
        selection.param.watch(lambda *_e: self.refresh(load=True), ["vp_id"])
        model.param.watch(lambda *_e: self.refresh(), ["positions_version"])

    @property
    def vp(self) -> VirtualPositionView | None:
        return self.selection.vp

    # -- state -----------------------------------------------------------------------------------
    def refresh(self, load: bool = False) -> None:
        vp, m = self.vp, self.model
        if vp is None:
            self.title.object = '<span class="hs-dim">Select a VP in the table</span>'
        else:
            inst = m.instruments.get(vp.symbol)
            step = inst.step_size if inst else Decimal("0.001")
            name = html.escape(vp.name)
            self.title.object = (f'<b class="hs-actions-vp">{name}</b> · {vp.symbol} {vp.position_side.value} · '
                                 f'holds <b>{fmt.qty(vp.net_qty, step)}</b>')
        locked = vp is not None and vp.locked
        self.lock_note.object = ("<b>MISMATCH</b>: closing and TP/SL changes are locked until this side is "
                                 "reconciled (Reconcile tab)." if locked else "")
        system = vp is not None and vp.system
        for key, b in self._buttons.items():
            if key.startswith("close") or key in ("set_tpsl", "clear_tpsl"):
                b.disabled = vp is None or locked or system
            elif key in ("rename", "archive"):
                b.disabled = vp is None or system
            else:
                b.disabled = vp is None
        targets: dict[str, str] = {}
        if vp is not None:
            targets = {m.vp_label(v): v.id for v in m.live_vps(vp.symbol, vp.position_side, include_system=True)
                       if v.id != vp.id}
        set_options(self.transfer_select, targets)
        if self.inputs.transfer_to not in targets.values():
            self.inputs.transfer_to = next(iter(targets.values()), None)
        self._load_tpsl(force=load)

    def _load_tpsl(self, *, force: bool) -> None:
        """Put the selected VP's own TP/SL in the boxes: on selection, and when it changes while untouched."""
        vp, a = self.vp, self.inputs
        t = vp.tpsl if vp is not None else None
        values = (vp.id if vp else None,
                  fmt.exact(t.tp_price) if t and t.tp_price is not None else "",
                  _trigger(t.tp_trigger_type) if t else "LAST",
                  fmt.exact(t.sl_price) if t and t.sl_price is not None else "",
                  _trigger(t.sl_trigger_type) if t else "MARK")
        shown = (self._loaded[0] if self._loaded else None, a.tp_price, a.tp_trigger, a.sl_price, a.sl_trigger)
        untouched = self._loaded is not None and shown == self._loaded
        if force or untouched or self._loaded is None:
            a.param.update(tp_price=values[1], tp_trigger=values[2], sl_price=values[3], sl_trigger=values[4])
            if force:
                a.param.update(close_price="", close_qty="", transfer_qty="", new_name="")
                a.show()
            self._loaded = values

    # -- commands --------------------------------------------------------------------------------
    def _order(self, summary: str, send: Any) -> None:
        if self.confirm_orders():
            self.confirm.ask(f"{summary}?", send)
        else:
            send()

    def close(self, percent: str | None) -> None:
        vp, a = self.vp, self.inputs
        if vp is None:
            return
        kwargs: dict[str, Any] = {"percent": percent} if percent else {"qty": a.close_qty.strip() or None}
        order_type = "LIMIT" if a.close_type == "Limit" else "MARKET"
        if order_type == "LIMIT":
            kwargs["price"] = a.close_price.strip() or None
        how = f"{percent} %" if percent else f"{a.close_qty.strip() or '?'}"
        at = f" @ {kwargs.get('price')}" if order_type == "LIMIT" else ""
        vp_id = vp.id

        def send() -> None:
            self.commands.run(a, lambda: self.terminal.close_vp(vp_id, order_type, **kwargs),
                              lambda r: f"close {how}: {r.status.value} ({r.client_order_id})", orders=True)

        self._order(f"Close {how} of {vp.name} ({order_type}{at})", send)

    def set_tpsl(self, _event: Any = None) -> None:
        vp, a = self.vp, self.inputs
        if vp is None:
            return
        vp_id = vp.id
        tp, sl = a.tp_price.strip() or None, a.sl_price.strip() or None
        try:
            for value in (tp, sl):
                if value is not None:
                    decimal_or_none(value)
        except ValueError as exc:
            a.show(error=f"INVALID_NUMBER: {exc}")
            return

        def done(result: VirtualPositionView) -> str:
            self._loaded = None  # take the engine's answer into the boxes
            return "TP/SL sent"

        # the canonical names (LAST_PRICE / MARK_PRICE): every TerminalApi accepts them (a hedgestack.connect
        # client refuses the short LAST / MARK a local Terminal also takes)
        tp_trigger = TriggerType.parse(a.tp_trigger).value
        sl_trigger = TriggerType.parse(a.sl_trigger).value
        self.commands.run(a, lambda: self.terminal.set_tpsl(
            vp_id, tp_price=tp, tp_trigger_type=tp_trigger, sl_price=sl, sl_trigger_type=sl_trigger), done,
            orders=True)

    def clear_tpsl(self, _event: Any = None) -> None:
        vp = self.vp
        if vp is not None:
            vp_id = vp.id
            self._loaded = None
            self.commands.run(self.inputs, lambda: self.terminal.clear_tpsl(vp_id), "TP/SL cleared")

    def transfer(self, _event: Any = None) -> None:
        vp, a = self.vp, self.inputs
        if vp is None or a.transfer_to is None:
            a.show(error="NO_TARGET: there is no other VP on this side to transfer to")
            return
        src, dst, qty = vp.id, a.transfer_to, a.transfer_qty.strip()
        name = self.model.vp_name(dst)
        self.commands.run(a, lambda: self.terminal.transfer(src, dst, qty), f"transferred {qty} to {name}")

    def rename(self, _event: Any = None) -> None:
        vp, a = self.vp, self.inputs
        if vp is not None:
            vp_id, name = vp.id, a.new_name.strip()
            self.commands.run(a, lambda: self.terminal.rename_vp(vp_id, name), f"renamed to {name}")

    def archive(self, _event: Any = None) -> None:
        vp = self.vp
        if vp is not None:
            vp_id, name = vp.id, vp.name
            self.commands.run(self.inputs, lambda: self.terminal.archive_vp(vp_id), f"archived {name}")

    # -- layout ----------------------------------------------------------------------------------
    def _button(self, key: str, label: str, handler: Any, kind: str = "default", width: int = 70,
                **kw: Any) -> pn.widgets.Button:
        b = pn.widgets.Button(label=label, color=kind, css_classes=[f"hs-{key.replace('_', '-')}"], width=width,
                              margin=(2, 3), **kw)
        b.on_click(handler)
        self._buttons[key] = b
        return b

    def __panel__(self) -> pn.viewable.Viewable:
        if self._layout is not None:
            return self._layout
        a = self.inputs

        def closer(pct: str) -> pn.widgets.Button:
            return self._button(f"close_{pct}", f"{pct} %", lambda _e, p=pct: self.close(p), "light", width=54)

        def box(param_: Any, css: str, width: int, placeholder: str) -> pn.widgets.TextInput:
            return pn.widgets.TextInput.from_param(param_, label="", placeholder=placeholder, width=width,
                                                   css_classes=[css], margin=(2, 3))

        def label(txt: str) -> pn.pane.HTML:
            return pn.pane.HTML(f'<span class="hs-label">{txt}</span>', width=52, margin=(8, 2, 0, 6))

        close_type = pn.widgets.RadioButtonGroup.from_param(a.param.close_type, label="", width=120,
                                                            css_classes=["hs-close-type"], margin=(2, 3))
        tp_trigger = pn.widgets.Select.from_param(a.param.tp_trigger, label="", width=70,
                                                  css_classes=["hs-tp-trigger"], margin=(2, 3))
        sl_trigger = pn.widgets.Select.from_param(a.param.sl_trigger, label="", width=70,
                                                  css_classes=["hs-sl-trigger"], margin=(2, 3))
        self._layout = pn.Column(
            self.title, self.lock_note,
            pn.Row(label("Close"), *(closer(p) for p in ("25", "50", "75", "100")), margin=0),
            pn.Row(label(""), close_type, box(a.param.close_price, "hs-close-price", 90, "limit price"), margin=0),
            pn.Row(label(""), box(a.param.close_qty, "hs-close-qty", 90, "qty"),
                   self._button("close_custom", "Close qty", lambda _e: self.close(None), "light", width=84),
                   margin=0),
            pn.Row(label("TP"), box(a.param.tp_price, "hs-tp-price", 110, "take-profit"), tp_trigger, margin=0),
            pn.Row(label("SL"), box(a.param.sl_price, "hs-sl-price", 110, "stop-loss"), sl_trigger, margin=0),
            pn.Row(label(""), self._button("set_tpsl", "Set TP/SL", self.set_tpsl, "primary", width=90),
                   self._button("clear_tpsl", "Clear", self.clear_tpsl, "light", width=64), margin=0),
            pn.Row(label("Move"), self.transfer_select, box(a.param.transfer_qty, "hs-transfer-qty", 70, "qty"),
                   self._button("transfer", "Transfer", self.transfer, "light", width=76), margin=0),
            pn.Row(label("Name"), box(a.param.new_name, "hs-new-name", 150, "new name"),
                   self._button("rename", "Rename", self.rename, "light", width=72),
                   self._button("archive", "Archive", self.archive, "light", width=72), margin=0),
            self.confirm, feedback_pane(a, "hs-actions-feedback"), sizing_mode="stretch_both", margin=0, scroll=True)
        # the card's background is painted by a box that does not scroll: a scroll container's own background is
        # repainted whole whenever its content's extent changes (a figure in the title), the whole card each time
        self._layout = pn.Column(self._layout, css_classes=["hs-actions", "hs-card"], width=400,
                                 sizing_mode="stretch_height", margin=(0, 0, 0, 6))
        self.refresh(load=True)
        return self._layout


__all__ = ["ActionsCard", "CreateVpModel", "POSITION_COLUMNS", "PositionsView", "position_rows"]
