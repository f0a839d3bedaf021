"""The order ticket's logic: sizing, the instant local check, and the command an order becomes.

A trader sizes an order four ways (``SizeUnit``):

- ``QTY``: contracts, in the base asset (BTC for BTCUSDT);
- ``USDT``: a notional: qty = notional ÷ price;
- ``PCT``: opening, a share of the available balance at the side's leverage: qty = available × % × leverage ÷
  price; closing, a share of the VP (sent as ``close_vp(percent=...)``, rounded down by the engine);
- ``RISK``: the USDT lost if the stop-loss is hit: qty = risk ÷ |price − stop| (needs the SL).

Every quantity is rounded *down* to the symbol's step (a sized order never exceeds what was asked). The price is
the limit price (LIMIT, STOP), the trigger (STOP_MARKET) or the mark (MARKET).

Worked example (BTCUSDT, step 0.001, mark 95,000, leverage 20, available 1,000 USDT):
USDT 1,000 → 0.010; PCT 50 → 1,000 × 0.5 × 20 ÷ 95,000 = 0.10526 → 0.105; RISK 50 with SL 94,000 →
50 ÷ 1,000 = 0.050.

The local check is the engine's own pre-trade filter check (``InstrumentView.filters().check_order``): a bad
tick, step, minimum or notional is refused on the screen at once, with the same code the engine (and Binance)
would give, and nothing is sent. Everything else (the VP guard, the MISMATCH lock, the exchange) answers through
the command, verbatim.
"""

from __future__ import annotations

import enum
import functools
import html
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import panel as pn
import param
from panel.custom import JSComponent

from hedgestack.domain.enums import OrderStatus, OrderType, PositionSide, Side, TimeInForce
from hedgestack.domain.errors import HedgestackError
from hedgestack.ui import format as fmt
from hedgestack.ui.commands import Commands, Feedback
from hedgestack.ui.widgets import ConfirmBar, TextHTML, set_options

if TYPE_CHECKING:
    from collections.abc import Callable

    from hedgestack.engine.views import InstrumentView, OrderView, VirtualPositionView
    from hedgestack.ui.models import AccountModel, Selection

HUNDRED = Decimal(100)


@enum.unique
class SizeUnit(enum.StrEnum):
    QTY = "QTY"
    USDT = "USDT"
    PCT = "PCT"
    RISK = "RISK"


#: the ticket's order types (label → type)
ORDER_TYPES = {"Market": OrderType.MARKET, "Limit": OrderType.LIMIT, "Stop market": OrderType.STOP_MARKET,
               "Stop limit": OrderType.STOP}


@dataclass(frozen=True, slots=True)
class Sizing:
    """The quantity an input sizes to, or why it cannot."""

    qty: Decimal | None
    reference: Decimal | None  # the price the size was computed at
    error: str | None = None
    percent: Decimal | None = None  # PCT on a close: sent as close_vp(percent=...)

    @property
    def notional(self) -> Decimal | None:
        return None if self.qty is None or self.reference is None else self.qty * self.reference


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What submitting the ticket sends: ``command`` is a TerminalApi method name, ``args``/``kwargs`` its
    arguments; ``tpsl`` the TP/SL to set on the VP once the entry is accepted."""

    command: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    tpsl: dict[str, Any] | None = None
    summary: str = ""


def decimal_or_none(text: str | None) -> Decimal | None:
    """A typed number, or None for an empty box; ValueError for anything else."""
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a number: {text!r}")
    return value


def size_order(*, unit: SizeUnit, amount: Decimal | None, order_type: OrderType, reference: Decimal | None,
               instrument: InstrumentView, closing: bool, vp_qty: Decimal, available: Decimal | None,
               leverage: Decimal | None, stop: Decimal | None) -> Sizing:
    """The quantity of an order sized in ``unit`` (see the module's rules)."""
    if amount is None:
        return Sizing(None, reference, "enter a size")
    if amount <= 0:
        return Sizing(None, reference, "the size must be positive")
    filters = instrument.filters()
    if unit is SizeUnit.QTY:
        return Sizing(amount, reference)
    if unit is SizeUnit.PCT and closing:
        if amount > HUNDRED:
            return Sizing(None, reference, "at most 100 % of the VP")
        return Sizing(filters.round_qty_down(vp_qty * amount / HUNDRED, order_type), reference, percent=amount)
    if reference is None or reference <= 0:
        return Sizing(None, reference, "no price to size at yet (no mark, or no limit/stop price)")
    if unit is SizeUnit.USDT:
        return Sizing(filters.round_qty_down(amount / reference, order_type), reference)
    if unit is SizeUnit.PCT:
        if amount > HUNDRED:
            return Sizing(None, reference, "at most 100 % of the available balance")
        if available is None:
            return Sizing(None, reference, "the available balance is not known yet")
        lev = leverage if leverage is not None and leverage > 0 else Decimal(1)
        return Sizing(filters.round_qty_down(available * amount / HUNDRED * lev / reference, order_type), reference)
    # RISK
    if closing:
        return Sizing(None, reference, "risk sizing is for entries (closing reduces the risk)")
    if stop is None:
        return Sizing(None, reference, "risk sizing needs a stop-loss price (tick SL)")
    distance = abs(reference - stop)
    if distance == 0:
        return Sizing(None, reference, "the stop-loss is at the entry price")
    return Sizing(filters.round_qty_down(amount / distance, order_type), reference)


def check_stop_side(position_side: PositionSide, reference: Decimal | None, tp: Decimal | None,
                    sl: Decimal | None) -> str | None:
    """A TP/SL on the wrong side of the entry (a LONG's TP below it, its SL above) would fire at once."""
    if reference is None:
        return None
    sign = position_side.sign
    if tp is not None and (tp - reference) * sign <= 0:
        return f"TP {fmt.exact(tp)} is not {'above' if sign > 0 else 'below'} the entry price {fmt.exact(reference)}"
    if sl is not None and (reference - sl) * sign <= 0:
        return f"SL {fmt.exact(sl)} is not {'below' if sign > 0 else 'above'} the entry price {fmt.exact(reference)}"
    return None


class TicketModel(param.Parameterized):
    """The ticket's inputs (as typed) and its outputs (the sizing, the local refusal, the answer)."""

    side: param.Selector[str] = param.Selector(default=Side.BUY.value, objects=[Side.BUY.value, Side.SELL.value])
    order_type: param.Selector[str] = param.Selector(default="Market", objects=list(ORDER_TYPES))
    price = param.String(default="", doc="limit price (Limit, Stop limit)")
    trigger = param.String(default="", doc="stop price (Stop market, Stop limit)")
    size = param.String(default="")
    unit: param.Selector[str] = param.Selector(default=SizeUnit.QTY.value, objects=[u.value for u in SizeUnit])
    tpsl = param.Boolean(default=False, doc="attach a TP/SL to this entry")
    tp = param.String(default="")
    sl = param.String(default="")
    post_only = param.Boolean(default=False)
    tif: param.Selector[str] = param.Selector(default=TimeInForce.GTC.value, objects=["GTC", "IOC", "FOK"])
    confirm = param.Boolean(default=False, doc="ask before sending")
    # outputs
    preview = param.String(default="", constant=True)
    local_error = param.String(default="", constant=True)
    error = param.String(default="", constant=True)
    result = param.String(default="", constant=True)
    pending_cid = param.String(default=None, allow_None=True, constant=True)

    @property
    def type(self) -> OrderType:
        return ORDER_TYPES[self.order_type]

    def clear(self) -> None:
        """Esc: empty the boxes (the side, type and options stay)."""
        self.param.update(price="", trigger="", size="", tp="", sl="")
        with param.edit_constant(self):
            self.param.update(local_error="", error="", result="", preview="")

    # -- computation -----------------------------------------------------------------------------
    def closing(self, vp: VirtualPositionView | None) -> bool:
        return vp is not None and not vp.position_side.increases(Side(self.side))

    def reference(self, mark: Decimal | None) -> Decimal | None:
        t = self.type
        if t.has_limit_price:
            return decimal_or_none(self.price)
        if t.is_conditional:
            return decimal_or_none(self.trigger)
        return mark

    def sizing(self, vp: VirtualPositionView | None, instrument: InstrumentView, mark: Decimal | None,
               available: Decimal | None, leverage: Decimal | None) -> Sizing:
        try:
            reference = self.reference(mark)
            sl = decimal_or_none(self.sl) if self.tpsl else None
            amount = decimal_or_none(self.size)
        except ValueError as exc:
            return Sizing(None, None, str(exc))
        return size_order(unit=SizeUnit(self.unit), amount=amount, order_type=self.type, reference=reference,
                          instrument=instrument, closing=self.closing(vp), vp_qty=vp.net_qty if vp else Decimal(0),
                          available=available, leverage=leverage, stop=sl)

    def build(self, vp: VirtualPositionView | None, instrument: InstrumentView, mark: Decimal | None,
              available: Decimal | None, leverage: Decimal | None) -> OrderRequest:
        """The command for the ticket as it stands; ``ValueError`` with the local refusal (nothing to send)."""
        if vp is None:
            raise ValueError("NO_VP: select or create a virtual position of this symbol first")
        if vp.system:
            raise ValueError("SYSTEM_VP: orders go into your own VPs (transfer from UNASSIGNED instead)")
        sized = self.sizing(vp, instrument, mark, available, leverage)
        if sized.error is not None or sized.qty is None:
            raise ValueError(f"SIZE: {sized.error}")
        if sized.qty == 0:
            raise ValueError("SIZE: the size rounds down to 0 at this symbol's step "
                             f"({fmt.exact(instrument.step_size)})")
        t, side, closing = self.type, Side(self.side), self.closing(vp)
        try:
            price = decimal_or_none(self.price) if t.has_limit_price else None
            trigger = decimal_or_none(self.trigger) if t.is_conditional else None
            tp = decimal_or_none(self.tp) if self.tpsl and not closing else None
            sl = decimal_or_none(self.sl) if self.tpsl and not closing else None
        except ValueError as exc:
            raise ValueError(f"INVALID_NUMBER: {exc}") from None
        try:
            instrument.filters().check_order(side=side, order_type=t, qty=sized.qty, price=price,
                                             trigger_price=trigger, mark=mark, reduces=closing)
            for value in (tp, sl):
                if value is not None:
                    instrument.filters().check_price(value, what="TP" if value is tp else "SL")
        except HedgestackError as exc:
            raise ValueError(f"{exc.code}: {exc.message}") from None
        if self.tpsl and not closing:
            if tp is None and sl is None:
                raise ValueError("TPSL: enter a TP or an SL price, or untick TP/SL")
            wrong = check_stop_side(vp.position_side, sized.reference, tp, sl)
            if wrong is not None:
                raise ValueError(f"TPSL_SIDE: {wrong}")
        tif: str | None = None
        if t is OrderType.LIMIT:
            tif = TimeInForce.GTX.value if self.post_only else self.tif
        elif t is OrderType.STOP:
            tif = self.tif
        qty_text = fmt.qty(sized.qty, instrument.step_size).text
        where = "" if t is OrderType.MARKET else f" @ {fmt.exact(price if price is not None else trigger)}"
        verb = "close" if closing else "open"
        summary = (f"{side.value} {qty_text} {vp.symbol} {vp.position_side.value} {t.value}{where}"
                   f"{' post-only' if tif == 'GTX' else ''} · {verb} {vp.name}")
        if closing and sized.percent is not None and t in (OrderType.MARKET, OrderType.LIMIT):
            kwargs: dict[str, Any] = {"percent": fmt.exact(sized.percent)}
            if t is OrderType.LIMIT:
                kwargs.update(price=fmt.exact(price), time_in_force=tif)
            return OrderRequest("close_vp", (vp.id, t.value), kwargs,
                                summary=f"{summary} ({fmt.exact(sized.percent)} %)")
        kwargs = {"time_in_force": tif, "reduce_only": closing}
        if trigger is not None:
            kwargs["trigger_price"] = fmt.exact(trigger)
        request_tpsl = None
        if self.tpsl and not closing:
            request_tpsl = {"tp_price": None if tp is None else fmt.exact(tp),
                            "sl_price": None if sl is None else fmt.exact(sl)}
            summary += " + TP/SL"
        return OrderRequest("place_order", (vp.id, side.value, t.value, fmt.exact(sized.qty),
                                            None if price is None else fmt.exact(price)), kwargs,
                            tpsl=request_tpsl, summary=summary)


__all__ = ["ORDER_TYPES", "OrderRequest", "SizeUnit", "Sizing", "TicketModel", "check_stop_side", "decimal_or_none",
           "size_order"]


# == the view ==============================================================================================
class Hotkeys(JSComponent):
    """B / S choose the side (not while typing), Enter in the ticket submits (or confirms), Esc clears (or
    cancels a confirmation): keys reach Python as messages, after every keystroke typed before them."""

    _esm = """
export function render({ model, el }) {
  const handler = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const path = event.composedPath();
    const target = path[0] || null;
    const tag = target && target.tagName ? target.tagName : "";
    const typing = tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
    const inTicket = path.some((n) => n.classList && n.classList.contains("hs-ticket"));
    if (event.key === "Enter") {
      if (inTicket && tag !== "BUTTON") {
        event.preventDefault();
        model.send_msg({ key: "Enter" });
      }
      return;
    }
    if (event.key === "Escape") {
      model.send_msg({ key: "Escape" });
      return;
    }
    if (typing) return;
    const key = event.key.toUpperCase();
    if (key === "B" || key === "S") {
      event.preventDefault();
      model.send_msg({ key });
    }
  };
  document.addEventListener("keydown", handler, true);
  model.on("remove", () => document.removeEventListener("keydown", handler, true));
  el.style.display = "none";
}
"""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._handlers: list[Callable[[str], None]] = []

    def on_key(self, callback: Callable[[str], None]) -> None:
        self._handlers.append(callback)

    def _handle_msg(self, msg: Any) -> None:
        if isinstance(msg, dict) and isinstance(msg.get("key"), str):
            for handler in self._handlers:
                handler(msg["key"])


UNIT_LABELS = {"QTY": "Qty", "USDT": "USDT", "PCT": "%", "RISK": "Risk $"}


class TicketView(pn.viewable.Viewer):
    """The order ticket of one session: follows the selection; sends ``place_order`` / ``close_vp``, then the
    attached TP/SL once the entry fills; shows the local refusal at once, the engine's verbatim, and the order's
    final status."""

    def __init__(self, model: AccountModel, selection: Selection, terminal: Any, commands: Commands,
                 **params: Any) -> None:
        super().__init__(**params)
        self.model, self.selection, self.terminal, self.commands = model, selection, terminal, commands
        self.t = TicketModel()
        self.feedback = Feedback()
        self.confirm = ConfirmBar(css="hs-ticket-confirm")
        self.hotkeys = Hotkeys()
        self.hotkeys.on_key(self.on_key)
        self._attach: dict[str, tuple[str, dict[str, Any]]] = {}  # cid -> (vp id, set_tpsl kwargs)
        self.vp_select = pn.widgets.Select(label="", options={}, css_classes=["hs-ticket-vp"], margin=(2, 4),
                                           sizing_mode="stretch_width")
        self.symbol_select = pn.widgets.Select(label="", options=list(model.symbols), value=selection.symbol,
                                               width=110, css_classes=["hs-ticket-symbol"], margin=(2, 4))
        self.hint = TextHTML("", css_classes=["hs-ticket-hint"], margin=(0, 6), sizing_mode="stretch_width")
        self.preview = TextHTML("", css_classes=["hs-ticket-preview"], margin=(0, 6), sizing_mode="stretch_width")
        self.status = TextHTML("", css_classes=["hs-ticket-status"], margin=(0, 6), sizing_mode="stretch_width")
        self.submit_button = pn.widgets.Button(label="BUY", css_classes=["hs-ticket-submit", "hs-buy"],
                                               sizing_mode="stretch_width", margin=(4, 4), height=38)
        self.submit_button.on_click(lambda _e: self.submit())
        self._inputs: dict[str, pn.widgets.TextInput] = {}
        self._layout: pn.viewable.Viewable | None = None
        self.vp_select.param.watch(self._on_vp_select, ["value"])
        self.symbol_select.param.watch(lambda e: setattr(self.selection, "symbol", e.new), ["value"])
        selection.param.watch(lambda *_e: self.refresh(), ["vp_id", "symbol"])
        model.param.watch(lambda *_e: self.refresh(), ["positions_version", "account"])
        model.param.watch(lambda *_e: self._preview(), ["marks_version"])
        model.param.watch(lambda *_e: self.on_orders(), ["orders_version"])
        self.t.param.watch(lambda *_e: self.refresh(), ["side", "order_type", "unit", "tpsl", "post_only"])
        self.t.param.watch(lambda *_e: self._preview(), ["price", "trigger", "size", "tp", "sl"])
        self.feedback.param.watch(lambda *_e: self._show_feedback(), ["error", "result"])
        self.t.param.watch(lambda *_e: self._show_feedback(), ["local_error"])
        self.refresh()

    # -- what the ticket acts on ------------------------------------------------------------------
    @property
    def vp(self) -> VirtualPositionView | None:
        vp = self.selection.vp
        return vp if vp is not None and vp.symbol == self.selection.symbol else None

    def _context(self) -> tuple[InstrumentView, Decimal | None, Decimal | None, Decimal | None]:
        symbol = self.selection.symbol
        inst = self.model.instruments[symbol]
        vp = self.vp
        leverage = None
        if vp is not None:
            ext = self.model.externals.get((symbol, vp.position_side))
            leverage = ext.leverage if ext is not None else None
        return inst, self.model.marks.get(symbol), self.model.account.available_balance, leverage

    def _on_vp_select(self, event: param.parameterized.Event) -> None:
        if event.new and event.new != self.selection.vp_id:
            self.selection.vp_id = event.new

    def refresh(self) -> None:
        m, s, t = self.model, self.selection, self.t
        if self.symbol_select.value != s.symbol:
            self.symbol_select.value = s.symbol
        options = {f"{vp.name} · {vp.position_side.value}": vp.id for vp in m.live_vps(s.symbol)}
        set_options(self.vp_select, options)
        vp = self.vp
        if vp is not None and self.vp_select.value != vp.id:
            self.vp_select.value = vp.id
        side = Side(t.side)
        inst = m.instruments[s.symbol]
        if vp is None:
            self.hint.object = (f'<span class="hs-dim">No VP of {s.symbol} selected: create one in the Positions '
                                "tab.</span>")
            verb = "open"
        else:
            opening = vp.position_side.opening_side
            closing = vp.position_side.closing_side
            verb = "open" if vp.position_side.increases(side) else "close"
            self.hint.object = (f"{vp.position_side.value} VP <b>{html.escape(vp.name)}</b> holds "
                                f"<b>{fmt.qty(vp.net_qty, inst.step_size)}</b>: {opening.value} opens, "
                                f"{closing.value} closes. This {side.value} <b>{verb}s</b> it.")
            if vp.locked and verb == "close":
                self.hint.object += ' <span class="bad">Locked: the side is in MISMATCH.</span>'
        self.submit_button.label = f"{side.value} · {verb} {vp.name if vp else ''}".strip()
        self.submit_button.css_classes = ["hs-ticket-submit", "hs-buy" if side is Side.BUY else "hs-sell"]
        self.submit_button.disabled = vp is None
        t_type = t.type
        for key, visible in (("price", t_type.has_limit_price), ("trigger", t_type.is_conditional)):
            if key in self._inputs:
                self._inputs[key].visible = visible
        for key in ("tp", "sl"):
            if key in self._inputs:
                self._inputs[key].visible = t.tpsl
        if "tif" in self._inputs:
            self._inputs["tif"].visible = t_type in (OrderType.LIMIT, OrderType.STOP) and not (
                t.post_only and t_type is OrderType.LIMIT)
        if "post_only" in self._inputs:
            self._inputs["post_only"].visible = t_type is OrderType.LIMIT
        self._preview()

    def _preview(self) -> None:
        t, vp = self.t, self.vp
        inst, mark, available, leverage = self._context()
        base = self.selection.symbol.removesuffix("USDT")
        sized = t.sizing(vp, inst, mark, available, leverage)
        if sized.error is not None or sized.qty is None:
            text_ = f'<span class="hs-dim">{html.escape(sized.error or "")}</span>' if t.size.strip() else ""
        else:
            parts = [f"= <b>{fmt.qty(sized.qty, inst.step_size)}</b> {base}"]
            if sized.notional is not None:
                parts.append(f"≈ {fmt.money(sized.notional)} USDT")
                if leverage:
                    parts.append(f"margin ≈ {fmt.money(sized.notional / leverage)} at {fmt.leverage(leverage)}")
            if sized.percent is not None:
                parts.append(f"({fmt.exact(sized.percent)} % of {vp.name if vp else 'the VP'})")
            text_ = " ".join(parts)
        avail = fmt.money(available)
        lev = f" · {fmt.leverage(leverage)}" if leverage else ""
        self.preview.object = (f'{text_}<div class="hs-dim">available {avail.text} USDT{lev} · mark '
                               f'{fmt.price(mark, inst.tick_size).text}</div>')

    # -- actions ---------------------------------------------------------------------------------
    def set_price(self, price: str) -> None:
        """A price clicked on the chart: into the limit price (a Market ticket becomes Limit) or the stop."""
        t = self.t
        if t.type is OrderType.MARKET:
            t.order_type = "Limit"
        if t.type.has_limit_price:
            t.price = price
        else:
            t.trigger = price

    def on_key(self, key: str) -> None:
        if key == "B":
            self.t.side = Side.BUY.value
        elif key == "S":
            self.t.side = Side.SELL.value
        elif key == "Enter":
            if self.confirm.open:
                self.confirm.confirm()
            else:
                self.submit()
        elif key == "Escape":
            if self.confirm.open:
                self.confirm.cancel()
            else:
                self.t.clear()
                self.feedback.show()
                self.status.object = ""

    def submit(self) -> None:
        """Check locally (instantly) and send, or ask first when confirmations are on."""
        t = self.t
        inst, mark, available, leverage = self._context()
        try:
            request = t.build(self.vp, inst, mark, available, leverage)
        except ValueError as exc:
            with param.edit_constant(t):
                t.local_error = str(exc)
            self.feedback.show()
            return
        with param.edit_constant(t):
            t.local_error = ""
        if t.confirm:
            self.confirm.ask(f"{request.summary}?", lambda: self.send(request))
        else:
            self.send(request)

    def send(self, request: OrderRequest) -> None:
        method = getattr(self.terminal, request.command)
        self.status.object = ""

        def done(ack: Any) -> str:
            with param.edit_constant(self.t):
                self.t.pending_cid = ack.client_order_id
            if request.tpsl is not None:
                self._attach[ack.client_order_id] = (request.args[0], request.tpsl)
            self.on_orders()
            return f"{ack.status.value} · {request.summary}"

        self.commands.run(self.feedback, lambda: method(*request.args, **request.kwargs), done, orders=True)

    def on_orders(self) -> None:
        """Show the final status of the ticket's last order; attach its TP/SL once it has filled."""
        cid = self.t.pending_cid
        order = self.model.orders.get(cid or "")
        if order is not None:
            self.status.object = self._status_html(order)
        for attach_cid, (vp_id, kwargs) in list(self._attach.items()):
            o = self.model.orders.get(attach_cid)
            if o is None:
                continue
            if o.filled_qty > 0:
                del self._attach[attach_cid]
                self.commands.run(self.feedback, functools.partial(self.terminal.set_tpsl, vp_id, **kwargs),
                                  "TP/SL attached (the entry filled)", orders=True)
            elif not o.is_open:
                del self._attach[attach_cid]
                self.feedback.show(error=f"TP/SL not attached: the entry ended {o.status.value} without a fill")

    def _status_html(self, o: OrderView) -> str:
        inst = self.model.instruments[o.symbol]
        tick, step = inst.tick_size, inst.step_size
        what = f"{o.side.value} {fmt.qty(o.qty, step)} {o.symbol}"
        if o.status is OrderStatus.FILLED:
            return (f'<span class="good"><b>FILLED</b></span> · {what} @ <b>{fmt.price(o.avg_price, tick)}</b> avg')
        if o.status is OrderStatus.PARTIALLY_FILLED:
            return (f'<span class="warn"><b>PARTIALLY FILLED</b></span> {fmt.qty(o.filled_qty, step)} of {what} @ '
                    f'{fmt.price(o.avg_price, tick)} avg')
        if o.status is OrderStatus.NEW:
            at = o.price if o.price is not None else o.trigger_price
            return f'<b>NEW</b> · resting {what} @ {fmt.price(at, tick)}'
        if o.status in (OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.EXPIRED_IN_MATCH,
                        OrderStatus.CANCELED):
            reason = f" — {html.escape(o.reason)}" if o.reason else ""
            return f'<span class="bad"><b>{o.status.value}</b></span> · {what}{reason}'
        return f"<b>{o.status.value}</b> · {what}"

    def _show_feedback(self) -> None:
        error = self.t.local_error or self.feedback.error
        # the exchange's message is text, never markup
        self.error_pane.object = f'<div class="hs-fb hs-fb-error">{html.escape(error)}</div>' if error else ""
        result = self.feedback.result if not error else ""
        self.result_pane.object = f'<div class="hs-fb hs-fb-result">{html.escape(result)}</div>' if result else ""

    # -- layout ----------------------------------------------------------------------------------
    def _text(self, key: str, placeholder: str, width: int | None = None) -> pn.widgets.TextInput:
        """A box that updates the model on every keystroke (Enter must see what was typed)."""
        kw: dict[str, Any] = {"width": width} if width else {"sizing_mode": "stretch_width"}
        w = pn.widgets.TextInput(label="", placeholder=placeholder, css_classes=[f"hs-ticket-{key}"],
                                 margin=(2, 4), **kw)
        w.param.watch(lambda e: setattr(self.t, key, e.new), ["value_input"])

        def show(event: param.parameterized.Event) -> None:
            # both: the browser only reports ``value_input`` when it differs from what it last held, so after
            # Esc cleared "94000.05" only in ``value``, typing "94000.05" again reached nobody (PRICE_REQUIRED)
            if w.value_input != event.new or w.value != event.new:
                w.param.update(value=event.new, value_input=event.new)

        self.t.param.watch(show, [key])
        self._inputs[key] = w
        return w

    def __panel__(self) -> pn.viewable.Viewable:
        if self._layout is not None:
            return self._layout
        t = self.t
        self.error_pane = TextHTML("", css_classes=["hs-ticket-error"], margin=(0, 6), sizing_mode="stretch_width")
        self.result_pane = TextHTML("", css_classes=["hs-ticket-result"], margin=(0, 6),
                                    sizing_mode="stretch_width")
        side = pn.widgets.RadioButtonGroup.from_param(t.param.side, label="", css_classes=["hs-ticket-side"],
                                                      sizing_mode="stretch_width", margin=(2, 4), height=34)
        order_type = pn.widgets.RadioButtonGroup.from_param(t.param.order_type, label="",
                                                            css_classes=["hs-ticket-type"],
                                                            sizing_mode="stretch_width", margin=(2, 4))
        unit = pn.widgets.Select.from_param(t.param.unit, label="", options={v: k for k, v in UNIT_LABELS.items()},
                                            width=80, css_classes=["hs-ticket-unit"], margin=(2, 4))

        def pct_button(p: str) -> pn.widgets.Button:
            b = pn.widgets.Button(label=f"{p}%", css_classes=[f"hs-ticket-pct-{p}"], color="light",
                                  sizing_mode="stretch_width", margin=(2, 3), height=26)
            def choose(_event: Any) -> None:
                t.param.update(unit=SizeUnit.PCT.value, size=p)

            b.on_click(choose)
            return b

        tpsl = pn.widgets.Checkbox.from_param(t.param.tpsl, label="TP/SL", css_classes=["hs-ticket-tpsl"],
                                              margin=(8, 4), width=70)
        post = pn.widgets.Checkbox.from_param(t.param.post_only, label="Post-only", css_classes=["hs-ticket-post"],
                                              margin=(8, 4), width=86)
        tif = pn.widgets.Select.from_param(t.param.tif, label="", width=70, css_classes=["hs-ticket-tif"],
                                           margin=(2, 4))
        self._inputs["post_only"] = post  # type: ignore[assignment]
        self._inputs["tif"] = tif  # type: ignore[assignment]
        confirm = pn.widgets.Checkbox.from_param(t.param.confirm, label="Confirm orders",
                                                 css_classes=["hs-ticket-confirm-orders"], margin=(8, 4))
        live = pn.widgets.Checkbox(label="Trade on the LIVE account (real money)", value=False,
                                   visible=self.commands.needs_live_confirmation, css_classes=["hs-live-confirm"])
        live.param.watch(lambda e: setattr(self.commands, "live_confirmed", bool(e.new)), ["value"])
        self._layout = pn.Column(
            live,
            pn.Row(self.symbol_select, self.vp_select, margin=0, sizing_mode="stretch_width"),
            side, self.hint, order_type,
            self._text("price", "limit price"), self._text("trigger", "stop (trigger) price"),
            pn.Row(self._text("size", "size"), unit, margin=0, sizing_mode="stretch_width"),
            pn.Row(*(pct_button(p) for p in ("25", "50", "75", "100")), margin=0, sizing_mode="stretch_width"),
            self.preview,
            pn.Row(tpsl, self._text("tp", "TP price"), self._text("sl", "SL price"), margin=0,
                   sizing_mode="stretch_width"),
            pn.Row(post, tif, confirm, margin=0, sizing_mode="stretch_width"),
            self.submit_button, self.confirm, self.error_pane, self.result_pane, self.status, self.hotkeys,
            css_classes=["hs-ticket", "hs-card"], width=330, margin=(0, 0, 0, 6))
        self.refresh()
        self._show_feedback()
        return self._layout


__all__ += ["Hotkeys", "TicketView"]
