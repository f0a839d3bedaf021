"""Safe reconcile: the plan a trader reviews before one side's VP quantities are rewritten.

A reconcile (``TerminalApi.reconcile``) assigns the exchange's quantity of one side to its VPs: the listed VPs get
what is assigned, the others 0, the rest goes to UNASSIGNED, and every VP of the side restarts at the exchange's
entry price (realized PnL is kept). That rewrites positions, so the screen makes it deliberate:

- the inputs start from each VP's *current* quantity, and are put back there whenever the side changes, the form
  is opened again, or the quantities move while the trader has not edited them (a changed quantity under an
  edited form is flagged, never overwritten silently);
- on a side the engine calls OK (or SYNCING/STALE) the form is read-only unless the trader opens "reassign";
- :func:`plan` gives the before/after of every VP (quantity and entry, and who is reset), and the command is
  sent only after a confirmation of that plan.

The plan shows what the engine's reconcile does (DESIGN.md, "Reconcile"); the result shown afterwards is the
engine's own answer.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import panel as pn
import param

from hedgestack.domain.enums import PositionSide
from hedgestack.engine.views import ExternalPositionView, SideStatus, VirtualPositionView
from hedgestack.ui import format as fmt
from hedgestack.ui.commands import Commands, Feedback
from hedgestack.ui.grid import Column, DataGrid, row, text
from hedgestack.ui.models import POSITION_SIDES, AccountModel
from hedgestack.ui.ticket import decimal_or_none
from hedgestack.ui.widgets import ConfirmBar, TextHTML, feedback_pane, set_options

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PlanRow:
    vp_id: str
    name: str
    system: bool
    before_qty: Decimal
    before_entry: Decimal
    after_qty: Decimal
    after_entry: Decimal

    @property
    def changes(self) -> bool:
        return self.before_qty != self.after_qty or self.before_entry != self.after_entry


@dataclass(frozen=True, slots=True)
class Plan:
    rows: tuple[PlanRow, ...]
    exchange_qty: Decimal
    exchange_entry: Decimal
    assigned: Decimal
    error: str | None = None

    @property
    def unassigned(self) -> Decimal:
        return self.exchange_qty - self.assigned

    @property
    def changes(self) -> bool:
        return any(row.changes for row in self.rows)


def plan(vps: Sequence[VirtualPositionView], exchange: ExternalPositionView,
         inputs: Mapping[str, Decimal | None], step: Decimal) -> Plan:
    """The before/after of reconciling one side with ``inputs`` (VP id → assigned qty; missing or None = 0)."""
    error = None
    assigned = ZERO
    for vp in vps:
        if vp.system:
            continue
        qty = inputs.get(vp.id)
        if qty is None:
            continue
        if qty < 0:
            error = f"{vp.name}: a quantity cannot be negative"
        elif step > 0 and qty % step != 0:
            error = f"{vp.name}: {qty} is not a multiple of the step {step.normalize()}"
        assigned += qty
    if error is None and assigned > exchange.qty:
        error = (f"the assignments total {fmt.qty(assigned, step)} exceed the exchange's "
                 f"{fmt.qty(exchange.qty, step)}")
    entry = exchange.avg_entry_price
    rows = []
    for vp in vps:
        if vp.system:
            after = exchange.qty - assigned if error is None else vp.net_qty
        else:
            after = inputs.get(vp.id) or ZERO
        rows.append(PlanRow(vp_id=vp.id, name=vp.name, system=vp.system, before_qty=vp.net_qty,
                            before_entry=vp.avg_entry, after_qty=after, after_entry=entry if after != 0 else ZERO))
    if not any(row.system for row in rows) and error is None and exchange.qty - assigned != 0:
        rows.append(PlanRow(vp_id="UNASSIGNED", name="UNASSIGNED", system=True, before_qty=ZERO, before_entry=ZERO,
                            after_qty=exchange.qty - assigned, after_entry=entry))
    return Plan(tuple(rows), exchange.qty, entry, assigned, error)


PLAN_COLUMNS = (Column("vp", "VP", "left"), Column("before", "Now"), Column("after", "After"),
                Column("change", "Change", "left"))


def plan_rows(p: Plan, tick: Decimal, step: Decimal) -> list[dict[str, Any]]:
    rows = []
    for r in p.rows:
        before = f"{fmt.qty(r.before_qty, step)} @ {fmt.price(r.before_entry, tick)}"
        after = f"{fmt.qty(r.after_qty, step)} @ {fmt.price(r.after_entry, tick)}"
        if r.before_qty != r.after_qty:
            delta = r.after_qty - r.before_qty
            change = text(("+" if delta > 0 else "") + fmt.qty(delta, step).text + " · entry reset", "", "warn")
        elif r.before_entry != r.after_entry and r.after_qty != 0:
            change = text("entry reset", "the VP restarts at the exchange's entry; realized PnL is kept", "warn")
        else:
            change = text("—", "", "dim")
        rows.append(row(r.vp_id, {"vp": text(r.name, r.vp_id, "name"), "before": text(before),
                                  "after": text(after), "change": change}, cls="muted" if r.system else ""))
    return rows


class ReconcileModel(Feedback):
    side_key: param.Selector[str | None] = param.Selector(default=None, objects=[], allow_None=True, check_on_set=False)
    reassign = param.Boolean(default=False, label="Reassign this side (it is not in MISMATCH)")
    warning = param.String(default="", constant=True)


class ReconcileView(pn.viewable.Viewer):
    """Reconcile one side from the screen: current quantities in, a before/after plan, a confirmation."""

    def __init__(self, model: AccountModel, terminal: Any, commands: Commands, **params: Any) -> None:
        super().__init__(**params)
        self.model, self.terminal, self.commands = model, terminal, commands
        self.rec = ReconcileModel()
        self.side_select = pn.widgets.Select.from_param(self.rec.param.side_key, label="", width=260,
                                                        css_classes=["hs-rec-side"], margin=(2, 4))
        self.reassign = pn.widgets.Checkbox.from_param(self.rec.param.reassign, css_classes=["hs-rec-reassign"],
                                                       margin=(10, 6))
        self.summary = TextHTML("", css_classes=["hs-rec-summary"], sizing_mode="stretch_width", margin=(2, 6))
        self.inputs = pn.Row(css_classes=["hs-rec-inputs"], margin=0, sizing_mode="stretch_width")
        self.preview = DataGrid(PLAN_COLUMNS, css_classes=["hs-rec-preview"], sizing_mode="stretch_width",
                                height=150)
        self.review = pn.widgets.Button(label="Review and reconcile…", color="warning", width=190,
                                        css_classes=["hs-rec-submit"], margin=(2, 4))
        self.reset = pn.widgets.Button(label="Reset to current", width=130, css_classes=["hs-rec-reset"],
                                       margin=(2, 4), color="light")
        self.warning = TextHTML("", css_classes=["hs-rec-warning"], margin=(2, 6))
        self.confirm = ConfirmBar(css="hs-rec-confirm")
        self._widgets: dict[str, pn.widgets.TextInput] = {}
        self._pool: dict[tuple[str, str], pn.widgets.TextInput] = {}
        self._input_css: list[str] = []  # the dashboard's look for boxes made later (set by the dashboard)
        self._filling = False
        self._baseline: dict[str, str] = {}
        self._members: tuple[str, ...] = ()
        #: refreshed only while shown (the dashboard says when); stale until then
        self.shown = True
        self._stale = False
        self.review.on_click(self.ask)
        self.reset.on_click(lambda _e: self.fill_current())
        self.rec.param.watch(lambda _e: self.fill_current(), ["side_key"])
        self.rec.param.watch(lambda _e: self.refresh(), ["reassign"])
        model.param.watch(lambda *_e: self.refresh(), ["positions_version"])
        self.refresh()

    # -- the side --------------------------------------------------------------------------------
    def _side(self) -> tuple[str, PositionSide] | None:
        if not self.rec.side_key:
            return None
        symbol, side = self.rec.side_key.split(":")
        return symbol, PositionSide(side)

    def _members_of(self, symbol: str, side: PositionSide) -> list[VirtualPositionView]:
        return self.model.live_vps(symbol, side, include_system=True)

    def editable(self) -> bool:
        key = self._side()
        if key is None:
            return False
        detail = self.model.side_status(*key)
        return (detail is not None and detail.status is SideStatus.MISMATCH) or self.rec.reassign

    def _options(self) -> dict[str, str]:
        m = self.model
        options: list[tuple[int, str, str]] = []
        for symbol in m.symbols:
            for side in POSITION_SIDES:
                detail = m.side_status(symbol, side)
                ext = m.externals.get((symbol, side))
                members = [v for v in self._members_of(symbol, side) if not v.system or v.net_qty != 0]
                if not members and (ext is None or ext.qty == 0):
                    continue
                status = detail.status.value if detail is not None else "—"
                rank = 0 if detail is not None and detail.status is SideStatus.MISMATCH else 1
                options.append((rank, f"{symbol} {side.value} · {status}", f"{symbol}:{side.value}"))
        return {label: key for _, label, key in sorted(options, key=lambda o: o[0])}

    # -- inputs ----------------------------------------------------------------------------------
    def fill_current(self) -> None:
        """Put every VP's current quantity in its box (the start of every reconcile). The boxes are reused
        while the side's VPs stay the same (a new Bokeh model per refresh would cost the whole page a
        re-layout)."""
        key = self._side()
        wanted: dict[str, tuple[str, str]] = {}
        if key is not None:
            inst = self.model.instruments[key[0]]
            for vp in self._members_of(*key):
                if not vp.system:
                    wanted[vp.id] = (vp.name, fmt.plain(vp.net_qty, fmt.places_of(inst.step_size), grouping=False))
            self._members = tuple(v.id for v in self._members_of(*key))
        self._filling = True
        try:
            widgets: dict[str, pn.widgets.TextInput] = {}
            for vp_id, (name, value) in wanted.items():
                w = self._pool.get((vp_id, name))
                if w is None:
                    w = pn.widgets.TextInput(label=f"{name} gets", value=value, width=130, margin=(2, 4),
                                             css_classes=["hs-rec-input", f"hs-rec-input-{name}"],
                                             stylesheets=self._input_css)
                    w.param.watch(self._on_input, ["value"])
                    self._pool[(vp_id, name)] = w
                elif w.value != value:
                    w.value = value
                widgets[vp_id] = w
            self._baseline = {vp_id: value for vp_id, (_name, value) in wanted.items()}
            if list(widgets.values()) != list(self._widgets.values()):
                self.inputs.objects = list(widgets.values())
            self._widgets = widgets
        finally:
            self._filling = False
        with param.edit_constant(self.rec):
            self.rec.warning = ""
        self.confirm.cancel()
        self.refresh(rebuild=False)

    def _on_input(self, _event: Any) -> None:
        if not self._filling:
            self.refresh(rebuild=False)

    def dirty(self) -> bool:
        return any((w.value or "").strip() != self._baseline.get(vp_id) for vp_id, w in self._widgets.items())

    def current_plan(self) -> Plan | None:
        key = self._side()
        if key is None:
            return None
        m = self.model
        ext = m.externals.get(key) or ExternalPositionView(symbol=key[0], position_side=key[1], qty=ZERO,
                                                           avg_entry_price=ZERO, unrealized_pnl=ZERO)
        inputs: dict[str, Decimal | None] = {}
        for vp_id, w in self._widgets.items():
            try:
                inputs[vp_id] = decimal_or_none(w.value)
            except ValueError as exc:
                return Plan((), ext.qty, ext.avg_entry_price, ZERO, f"{m.vp_name(vp_id)}: {exc}")
        return plan(self._members_of(*key), ext, inputs, m.instruments[key[0]].step_size)

    def set_visible(self, shown: bool) -> None:
        self.shown = shown
        if shown and self._stale:
            self.refresh()

    def refresh(self, rebuild: bool = True) -> None:
        if not self.shown:
            self._stale = True
            return
        self._stale = False
        m = self.model
        set_options(self.side_select, self._options())
        if self.rec.side_key not in self.side_select.options.values():
            self.rec.side_key = next(iter(self.side_select.options.values()), None)  # fills the inputs
            return
        key = self._side()
        if key is None:
            self.summary.object = "No position to reconcile."
            self.preview.set_rows([])
            self.review.disabled = True
            return
        if rebuild:
            members = tuple(v.id for v in self._members_of(*key))
            current = {vp.id: vp for vp in self._members_of(*key)}
            moved = any(fmt.plain(current[i].net_qty, 8, grouping=False) != fmt.plain(
                Decimal(self._baseline[i]), 8, grouping=False) for i in self._baseline if i in current)
            if members != self._members or (moved and not self.dirty()):
                self.fill_current()
                return
            if moved:
                with param.edit_constant(self.rec):
                    self.rec.warning = ("The VP quantities changed while you were editing: review the plan or "
                                        "reset to the current quantities.")
        symbol, side = key
        inst = m.instruments[symbol]
        tick, step = inst.tick_size, inst.step_size
        detail = m.side_status(symbol, side)
        ext = m.externals.get(key)
        status = detail.status if detail is not None else None
        vp_total = sum((v.net_qty for v in self._members_of(symbol, side)), ZERO)
        diff = (ext.qty if ext else ZERO) - vp_total
        tone = "bad" if status is SideStatus.MISMATCH else "good" if status is SideStatus.OK else "warn"
        self.summary.object = (
            f'<span class="hs-rec-status {tone}">{status.value if status else "—"}</span> · exchange '
            f'<b class="hs-rec-exchange">{fmt.qty(ext.qty if ext else ZERO, step)}</b> @ '
            f'{fmt.price(ext.avg_entry_price if ext else None, tick)} · VPs Σ {fmt.qty(vp_total, step)} · '
            f'difference <b class="hs-rec-diff">{fmt.qty(diff, step)}</b>')
        editable = self.editable()
        self.reassign.visible = status is not SideStatus.MISMATCH
        for w in self._widgets.values():
            w.disabled = not editable
        p = self.current_plan()
        self.preview.set_rows(plan_rows(p, tick, step) if p is not None else [])
        self.warning.object = f'<span class="bad">{html.escape(p.error)}</span>' if p is not None and p.error else (
            f'<span class="warn">{html.escape(self.rec.warning)}</span>' if self.rec.warning else (
                "" if editable else '<span class="hs-dim">This side is not in MISMATCH: its quantities are '
                                    'read-only. Tick "Reassign" to move quantities between its VPs on purpose.</span>'))
        self.review.disabled = not editable or p is None or p.error is not None or not p.changes
        self.reset.disabled = not editable

    # -- the command -----------------------------------------------------------------------------
    def ask(self, _event: Any = None) -> None:
        key, p = self._side(), self.current_plan()
        if key is None or p is None or p.error is not None or not self.editable():
            return
        symbol, side = key
        inst = self.model.instruments[symbol]
        moves = ", ".join(f"{r.name} {fmt.qty(r.before_qty, inst.step_size)} → {fmt.qty(r.after_qty, inst.step_size)}"
                          for r in p.rows)
        assignments = [{"virtual_position_id": vp_id, "qty": fmt.exact(qty)}
                       for vp_id, qty in ((i, decimal_or_none(w.value) or ZERO) for i, w in self._widgets.items())]
        question = (f"Reconcile {symbol} {side.value}: {moves}. Every VP of the side restarts at "
                    f"{fmt.price(p.exchange_entry, inst.tick_size)} (realized PnL is kept). Write it?")

        def send() -> None:
            def done(result: Any) -> str:
                self.rec.reassign = False
                self.fill_current()
                return (f"Reconciled {symbol} {side.value}: {result.status.value} · " + ", ".join(
                    f"{v.name} {fmt.qty(v.net_qty, inst.step_size)}" for v in result.virtual_positions))

            self.commands.run(self.rec, lambda: self.terminal.reconcile(symbol, side.value, assignments), done)

        self.confirm.ask(question, send)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.side_select, self.reassign, margin=0), self.summary,
            pn.pane.HTML('<span class="hs-dim">Assign the exchange quantity to the VPs (the rest goes to '
                         'UNASSIGNED):</span>', margin=(0, 6)),
            self.inputs, self.warning, self.preview, pn.Row(self.review, self.reset, margin=0), self.confirm,
            feedback_pane(self.rec, "hs-rec-feedback"), sizing_mode="stretch_both", margin=0, scroll=True,
            css_classes=["hs-reconcile"])


__all__ = ["Plan", "PlanRow", "ReconcileView", "plan", "plan_rows"]
