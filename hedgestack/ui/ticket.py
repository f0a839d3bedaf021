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
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import param

from hedgestack.domain.enums import OrderType, PositionSide, Side, TimeInForce
from hedgestack.domain.errors import HedgestackError
from hedgestack.engine.views import InstrumentView, VirtualPositionView
from hedgestack.ui import format as fmt

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


def decimal_or_none(text: str) -> Decimal | None:
    """A typed number, or None for an empty box; ValueError for anything else."""
    text = text.strip().replace(",", "")
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

    side = param.Selector(default=Side.BUY.value, objects=[Side.BUY.value, Side.SELL.value])
    order_type = param.Selector(default="Market", objects=list(ORDER_TYPES))
    price = param.String(default="", doc="limit price (Limit, Stop limit)")
    trigger = param.String(default="", doc="stop price (Stop market, Stop limit)")
    size = param.String(default="")
    unit = param.Selector(default=SizeUnit.QTY.value, objects=[u.value for u in SizeUnit])
    tpsl = param.Boolean(default=False, doc="attach a TP/SL to this entry")
    tp = param.String(default="")
    sl = param.String(default="")
    post_only = param.Boolean(default=False)
    tif = param.Selector(default=TimeInForce.GTC.value, objects=["GTC", "IOC", "FOK"])
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
