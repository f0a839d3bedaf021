"""The trader's verbs: typed arguments in, typed views out, every refusal a typed error with nothing sent.

Each command validates its input (strings are accepted wherever an enum or a Decimal is; a float is refused),
checks the pre-trade rules of ``domain/rules.py`` and, for a *user's* reducing command (close, amend of a close,
TP/SL set), the MISMATCH lock of its side; then it acts through the order gateway, the TP/SL manager or the book,
and answers with the views the presenter builds. They run on the terminal's loop (the facade sees to it).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from hedgestack.domain.enums import OrderRole, OrderType, PositionSide, Side, TimeInForce, TriggerType
from hedgestack.domain.errors import HedgestackError, LedgerRuleError, SideLocked, ValidationError
from hedgestack.domain.events import Reconcile, TpSlSet, Transfer, VpArchived, VpCreated, VpRenamed
from hedgestack.domain.ids import new_vp_id, short_id
from hedgestack.domain.numbers import ZERO, D
from hedgestack.domain.rules import (
    check_archive,
    check_guard,
    check_name,
    check_order_matches_vp,
    check_order_shape,
    check_reconcile,
    check_rename,
    check_transfer,
    close_quantity,
    live_vp,
    open_close_qty,
    open_tpsl_qty,
    role_of,
)
from hedgestack.engine.views import CancelAck, OrderAck, ReconcileResult, TransferResult, VirtualPositionView

if TYPE_CHECKING:
    from collections.abc import Callable

    from hedgestack.engine.book import Book
    from hedgestack.engine.consistency import ConsistencyWatch
    from hedgestack.engine.gateway import OrderGateway
    from hedgestack.engine.market import Market
    from hedgestack.engine.presenter import Presenter
    from hedgestack.engine.tpsl import TpSlManager
    from hedgestack.engine.truth import ExchangeTruth

E = TypeVar("E")


def enum_of(kind: type[E], value: Any, field: str) -> E:
    """``kind(value)`` for an enum, accepting any case; INVALID_<FIELD> otherwise."""
    try:
        return kind(str(value).upper())  # type: ignore[call-arg]
    except ValueError:
        allowed = ", ".join(m.value for m in kind)  # type: ignore[attr-defined]
        raise ValidationError(f"{field} must be one of {allowed}, got {value!r}",
                              code=f"INVALID_{field.upper()}") from None


def position_side_of(value: str | PositionSide) -> PositionSide:
    return enum_of(PositionSide, value, "positionSide")


class Commands:
    def __init__(self, book: Book, market: Market, truth: ExchangeTruth, gateway: OrderGateway, tpsl: TpSlManager,
                 watch: ConsistencyWatch, presenter: Presenter, clock: Callable[[], int]) -> None:
        self.book = book
        self.market = market
        self.truth = truth
        self.gateway = gateway
        self.tpsl = tpsl
        self.watch = watch
        self.presenter = presenter
        self.clock = clock

    def _unlocked(self, symbol: str, side: PositionSide) -> None:
        if self.truth.locked(symbol, side):
            raise SideLocked(f"{symbol} {side} is in MISMATCH: reducing and TP/SL commands are locked until it is "
                             "reconciled", symbol=symbol)

    # -- VPs --------------------------------------------------------------------------------------
    async def create_vp(self, name: str, symbol: str, position_side: str | PositionSide) -> VirtualPositionView:
        self.market.rules(symbol)
        side = position_side_of(position_side)
        ledger = self.book.ledger
        clean = check_name(ledger, name, symbol, side)
        live_short = {short_id(v.vp_id) for v in ledger.vps.values() if not v.archived}
        vp_id = new_vp_id(os.urandom, live_short)
        await self.book.append_durable([VpCreated(ts=self.clock(), vp_id=vp_id, name=clean, symbol=symbol,
                                                  position_side=side)])
        return self.presenter.vp(vp_id)

    async def rename_vp(self, vp_id: str, name: str) -> VirtualPositionView:
        clean = check_rename(self.book.ledger, vp_id, name)
        await self.book.append_durable([VpRenamed(ts=self.clock(), vp_id=vp_id, name=clean)])
        return self.presenter.vp(vp_id)

    async def archive_vp(self, vp_id: str) -> VirtualPositionView:
        check_archive(self.book.ledger, vp_id)
        await self.book.append_durable([VpArchived(ts=self.clock(), vp_id=vp_id)])
        return self.presenter.vp(vp_id)

    # -- orders -----------------------------------------------------------------------------------
    async def place_order(self, vp_id: str, side: str | Side, order_type: str | OrderType, qty: str | Decimal,
                          price: str | Decimal | None = None, *, time_in_force: str | None = None,
                          trigger_price: str | Decimal | None = None, trigger_type: str | None = None,
                          reduce_only: bool = False, symbol: str | None = None,
                          position_side: str | None = None) -> OrderAck:
        """Place an order into a VP. ``reduce_only`` asks the VP guard to check that it reduces the VP; it is never
        sent to Binance (Hedge Mode refuses it). ``time_in_force`` GTX = post-only."""
        vp = live_vp(self.book.ledger, vp_id)
        if vp.system:
            raise LedgerRuleError("orders go into your own VPs; UNASSIGNED is filled only by foreign fills "
                                  "(transfer from it instead)", code="SYSTEM_VP", vp_id=vp_id)
        check_order_matches_vp(vp, symbol or vp.symbol, position_side_of(position_side or vp.position_side))
        side_e = enum_of(Side, side, "side")
        type_e = enum_of(OrderType, order_type, "type")
        qty_d = D(qty, field="qty")
        price_d = None if price is None else D(price, field="price")
        trigger_d = None if trigger_price is None else D(trigger_price, field="trigger_price")
        tif = None if time_in_force is None else enum_of(TimeInForce, time_in_force, "timeInForce")
        if type_e in (OrderType.LIMIT, OrderType.STOP) and tif is None:
            tif = TimeInForce.GTC
        if tif is TimeInForce.GTX and type_e is not OrderType.LIMIT:
            raise ValidationError("post-only (GTX) is for LIMIT orders", code="INVALID_TIF")
        check_order_shape(type_e, price_d, trigger_d, tif)
        role = role_of(vp.position_side, side_e)
        if reduce_only and role is not OrderRole.CLOSE:
            raise ValidationError(f"reduceOnly: {side_e} on a {vp.position_side} VP does not reduce it",
                                  code="REDUCE_ONLY_OPENS", vp_id=vp_id)
        trig = TriggerType.parse(trigger_type) if trigger_type else (
            TriggerType.MARK_PRICE if type_e.is_conditional else None)
        return await self._send(vp_id, side_e, type_e, role, qty_d, price_d, trigger_d, trig, tif)

    async def _send(self, vp_id: str, side: Side, order_type: OrderType, role: OrderRole, qty: Decimal,
                    price: Decimal | None, trigger_price: Decimal | None, trigger_type: TriggerType | None,
                    tif: TimeInForce | None, *, replaces: str | None = None) -> OrderAck:
        """A user's order: the lock for a reducing one, room made among its TP/SL legs for a close."""
        ledger = self.book.ledger
        vp = ledger.vps[vp_id]
        if role.reduces:
            self._unlocked(vp.symbol, vp.position_side)
        if role is OrderRole.CLOSE:
            check_guard(ledger, vp_id, new_close=qty,
                        excluding=[replaces] if replaces else ())  # closes alone must fit
            room = vp.qty - open_close_qty(ledger, vp_id) - qty
            if open_tpsl_qty(ledger, vp_id) > room:
                self.market.rules(vp.symbol).check_order(side=side, order_type=order_type, qty=qty, price=price,
                                                         trigger_price=trigger_price, mark=self.market.mark(vp.symbol),
                                                         reduces=True)  # a bad close must not shrink the legs
                await self.tpsl.make_room(vp_id, room)
        ack = await self.gateway.place(vp_id, side, order_type, role, qty, price, trigger_price, trigger_type, tif,
                                       replaces=replaces)
        if role is OrderRole.CLOSE:
            self.tpsl.request(vp_id)
        return ack

    async def cancel_order(self, order_ref: str | int) -> CancelAck:
        """Cancel by exchange orderId (or algoId) or by clientOrderId."""
        order = self.gateway.find(order_ref)
        if order.role in (OrderRole.TP, OrderRole.SL):
            raise LedgerRuleError("TP/SL legs follow the VP: change or clear the VP's TP/SL instead",
                                  code="TPSL_MANAGED")
        ack = await self.gateway.cancel(order)
        self.tpsl.request(order.vp_id)
        return ack

    async def amend_order(self, order_ref: str | int, *, price: str | Decimal | None = None,
                          qty: str | Decimal | None = None) -> OrderAck:
        """Amend = cancel + new (seed): the new order keeps VP, side, type and time in force."""
        order = self.gateway.find(order_ref)
        if order.role in (OrderRole.TP, OrderRole.SL):
            raise LedgerRuleError("TP/SL legs follow the VP: change the VP's TP/SL instead", code="TPSL_MANAGED")
        if price is None and qty is None:
            raise ValidationError("give a new price or qty", code="AMEND_NOTHING")
        if order.order_type is OrderType.MARKET:
            raise ValidationError("a MARKET order cannot be amended", code="AMEND_MARKET")
        if not order.is_open:
            raise LedgerRuleError(f"order {order.client_order_id} is {order.status}: nothing to amend",
                                  code="ORDER_NOT_OPEN")
        new_price = order.price if price is None else D(price, field="price")
        new_qty = (order.qty - order.filled) if qty is None else D(qty, field="qty")
        self.market.rules(order.symbol).check_order(side=order.side, order_type=order.order_type, qty=new_qty,
                                                    price=new_price, trigger_price=order.trigger_price,
                                                    mark=self.market.mark(order.symbol), reduces=order.role.reduces)
        if order.role is OrderRole.CLOSE:
            self._unlocked(order.symbol, order.position_side)
            check_guard(self.book.ledger, order.vp_id, new_close=new_qty, excluding=[order.client_order_id])
        await self.gateway.cancel(order)
        return await self._send(order.vp_id, order.side, order.order_type, order.role, new_qty, new_price,
                                order.trigger_price, order.trigger_type, order.time_in_force,
                                replaces=order.client_order_id)

    async def close_vp(self, vp_id: str, order_type: str = "MARKET", *, percent: str | Decimal | None = None,
                       qty: str | Decimal | None = None, price: str | Decimal | None = None,
                       time_in_force: str | None = None) -> OrderAck:
        """Close 25/50/75/100 % (of net_qty) or a quantity of a VP, MARKET or LIMIT, rounded down to the step."""
        vp = live_vp(self.book.ledger, vp_id)
        type_e = enum_of(OrderType, order_type, "type")
        if type_e not in (OrderType.MARKET, OrderType.LIMIT):
            raise ValidationError("a close is MARKET or LIMIT", code="INVALID_ORDER_TYPE")
        pct = None if percent is None else D(percent, field="percent")
        amount = None if qty is None else D(qty, field="qty")
        if pct is None and amount is None:
            pct = Decimal(100)
        self._unlocked(vp.symbol, vp.position_side)
        close_qty = close_quantity(self.book.ledger, vp_id, self.market.rules(vp.symbol), percent=pct, qty=amount,
                                   order_type=type_e)
        price_d = None if price is None else D(price, field="price")
        tif = None if type_e is OrderType.MARKET else enum_of(TimeInForce, time_in_force or "GTC", "timeInForce")
        check_order_shape(type_e, price_d, None, tif)
        return await self._send(vp_id, vp.position_side.closing_side, type_e, OrderRole.CLOSE, close_qty, price_d,
                                None, None, tif)

    # -- TP/SL ------------------------------------------------------------------------------------
    async def set_tpsl(self, vp_id: str, *, tp_price: str | Decimal | None = None, tp_trigger_type: str | None = None,
                       sl_price: str | Decimal | None = None, sl_trigger_type: str | None = None,
                       qty: str | Decimal | None = None) -> VirtualPositionView:
        """Set or change the VP's TP and/or SL (a leg not given keeps its setting); legs follow by cancel + create."""
        vp = live_vp(self.book.ledger, vp_id)
        if vp.system:
            raise LedgerRuleError("the UNASSIGNED VP has no TP/SL: transfer its quantity to a VP first",
                                  code="SYSTEM_VP", vp_id=vp_id)
        self._unlocked(vp.symbol, vp.position_side)
        tp = None if tp_price is None else D(tp_price, field="tp_price")
        sl = None if sl_price is None else D(sl_price, field="sl_price")
        if tp is None and sl is None:
            raise ValidationError("give tp_price and/or sl_price (use clear_tpsl to remove both)", code="TPSL_EMPTY")
        tp_trigger = TriggerType.parse(tp_trigger_type) if tp_trigger_type else (
            vp.tp_trigger if vp.tp_price is not None else TriggerType.LAST_PRICE)
        sl_trigger = TriggerType.parse(sl_trigger_type) if sl_trigger_type else (
            vp.sl_trigger if vp.sl_price is not None else TriggerType.MARK_PRICE)
        tp = vp.tp_price if tp is None and vp.tp_price is not None else tp
        sl = vp.sl_price if sl is None and vp.sl_price is not None else sl
        if vp.qty == 0:
            raise LedgerRuleError(f"{vp.name} is flat: TP/SL needs a position", code="VP_FLAT", vp_id=vp_id)
        if qty is not None:
            wanted = D(qty, field="qty")
            target = self.tpsl.target_qty(vp_id)
            if wanted != target:
                raise ValidationError(f"TP/SL quantity follows the VP ({target} now, its net_qty less open closes); "
                                      "partial TP/SL is not supported", code="TPSL_QTY", vp_id=vp_id)
        rules = self.market.rules(vp.symbol)
        for leg, value, trigger in (("tp", tp, tp_trigger), ("sl", sl, sl_trigger)):
            if value is None:
                continue
            rules.check_price(value, what=f"{leg}_price")
            reference = self.market.mark(vp.symbol) if trigger is TriggerType.MARK_PRICE else \
                self.market.last_or_mark(vp.symbol)
            if reference is not None:
                wants_above = (leg == "tp") == (vp.position_side is PositionSide.LONG)
                if (value > reference) != wants_above:
                    where = "above" if wants_above else "below"
                    raise ValidationError(f"{leg.upper()} {value} would trigger at once: for a {vp.position_side} "
                                          f"it must be {where} the current {trigger.working_type} {reference}",
                                          code="TPSL_WOULD_TRIGGER", vp_id=vp_id)
        await self.book.append_durable([TpSlSet(ts=self.clock(), vp_id=vp_id, tp_price=tp, tp_trigger=tp_trigger,
                                                sl_price=sl, sl_trigger=sl_trigger)])
        await self.tpsl.sync_now(vp_id)
        return self.presenter.vp(vp_id)

    async def clear_tpsl(self, vp_id: str) -> VirtualPositionView:
        """Remove the VP's TP and SL (their legs are cancelled)."""
        vp = live_vp(self.book.ledger, vp_id)
        await self.book.append_durable([TpSlSet(ts=self.clock(), vp_id=vp_id, tp_price=None, tp_trigger=vp.tp_trigger,
                                  sl_price=None, sl_trigger=vp.sl_trigger)])
        await self.tpsl.sync_now(vp_id)
        return self.presenter.vp(vp_id)

    # -- transfer, reconcile ----------------------------------------------------------------------
    async def transfer(self, from_vp: str, to_vp: str, qty: str | Decimal) -> TransferResult:
        """Move quantity between two VPs of one side at the source's average cost (nothing is sent)."""
        amount = D(qty, field="qty")
        ledger = self.book.ledger
        check_transfer(ledger, from_vp, to_vp, amount)
        src = ledger.vps[from_vp]
        room = src.qty - amount - open_close_qty(ledger, from_vp)
        with self.tpsl.hold((from_vp, to_vp)):  # legs are sized once the quantity has moved
            if open_tpsl_qty(ledger, from_vp) > room:
                await self.tpsl.make_room(from_vp, room)
            await self.book.append_durable([Transfer(ts=self.clock(), transfer_id=os.urandom(8).hex(),
                                                     from_vp=from_vp, to_vp=to_vp, qty=amount)])
        return TransferResult(from_vp=self.presenter.vp(from_vp), to_vp=self.presenter.vp(to_vp))

    async def reconcile(self, symbol: str, position_side: str | PositionSide,
                        assignments: dict[str, str | Decimal] | list[dict[str, Any]]) -> ReconcileResult:
        """Assign the exchange quantity of one side to VPs (the rest to UNASSIGNED), restarting at the exchange's
        entry price; realized history is kept. The exchange figures are read over REST first."""
        self.market.rules(symbol)
        side = position_side_of(position_side)
        pairs = _assignments(assignments)
        await self.watch.refresh()
        truth = self.truth.sides[(symbol, side)]
        check_reconcile(self.book.ledger, symbol, side, truth.qty, pairs)
        # no leg is sized on the old quantities while the VPs' orders are fitted one after another
        with self.tpsl.hold(vp.vp_id for vp in list(self.book.ledger.vps_of(symbol, side))):
            for vp in list(self.book.ledger.vps_of(symbol, side)):
                if not vp.system:
                    await self._fit_orders(vp.vp_id, pairs.get(vp.vp_id, ZERO))
            await self.book.append_durable([Reconcile(
                ts=self.clock(), reconcile_id=os.urandom(8).hex(), symbol=symbol, position_side=side,
                exchange_qty=truth.qty, exchange_entry=truth.entry, assignments=tuple(sorted(pairs.items())))])
        self.watch.evaluate()
        return ReconcileResult(
            symbol=symbol, position_side=side, status=self.truth.status(symbol, side).seed_status,
            virtual_positions=tuple(self.presenter.vp(v.vp_id) for v in self.book.ledger.vps_of(symbol, side)
                                    if not v.archived))

    async def _fit_orders(self, vp_id: str, qty: Decimal) -> None:
        """Invariant 3 across a reset of the VP's quantity to ``qty``: cancel its newest closing orders, then
        shrink its TP/SL legs, until they cover no more than ``qty`` (cancels are allowed on a locked side)."""
        ledger = self.book.ledger
        closes = sorted((o for o in ledger.open_orders(vp_id) if o.role is OrderRole.CLOSE),
                        key=lambda o: o.created_at, reverse=True)
        for order in closes:
            if open_close_qty(ledger, vp_id) <= qty:
                break
            try:
                await self.gateway.cancel(order)
            except HedgestackError:  # filled or gone meanwhile: the ledger has its final state
                pass
        allowed = qty - open_close_qty(ledger, vp_id)
        if open_tpsl_qty(ledger, vp_id) > allowed:
            await self.tpsl.make_room(vp_id, allowed if allowed > 0 else ZERO)


def _assignments(assignments: dict[str, str | Decimal] | list[dict[str, Any]]) -> dict[str, Decimal]:
    if isinstance(assignments, dict):
        return {str(k): D(v, field="qty") for k, v in assignments.items()}
    pairs: dict[str, Decimal] = {}
    for item in assignments:
        if not isinstance(item, dict) or "virtual_position_id" not in item or "qty" not in item:
            raise ValidationError("each assignment is {virtual_position_id, qty}", code="INVALID_ASSIGNMENT")
        key = str(item["virtual_position_id"])
        pairs[key] = pairs.get(key, ZERO) + D(item["qty"], field="qty")
    return pairs


__all__ = ["Commands", "SideLocked", "enum_of", "position_side_of"]
