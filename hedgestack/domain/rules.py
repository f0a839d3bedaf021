"""Pre-trade rules: what the terminal checks before it appends an intent or sends anything.

Each check raises a typed error (code + message) and changes nothing. The rules:

- **VP guard (invariant 3).** No order of ours may reduce another VP's quantity. For each VP, the remaining
  quantity of its open closing orders plus max(TP qty, SL qty) never exceeds its net_qty. Hedge Mode refuses
  ``reduceOnly`` and the exchange guards only the whole side, so this guard is ours. A new close is checked
  against the closes already open (the TP/SL legs are shrunk by the terminal before it is sent); the TP/SL
  quantity of a VP is ``net_qty − open closes``.
- **Close amounts.** 25/50/75/100 % (of net_qty) or a quantity, rounded *down* to the step size; closing a
  flat VP, or an amount that rounds to 0, is refused.
- **Names.** 1–64 printable characters, unique per symbol + side among live VPs, ``UNASSIGNED`` reserved.
- **Transfers** move quantity between two VPs of one side; **reconcile** refuses assignments above the
  exchange quantity; **archive** only when flat with nothing open.

Worked example: VP a holds 0.010 BTC with a LIMIT close of 0.004 open. Closing 75 % asks 0.0075 → rounded
down to 0.007; 0.004 + 0.007 = 0.011 > 0.010 → refused (VP_GUARD). Closing 50 % (0.005) is fine; its TP/SL
legs then cover 0.010 − 0.004 − 0.005 = 0.001.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hedgestack.domain.enums import OrderRole, OrderType, PositionSide, Side, TimeInForce
from hedgestack.domain.errors import (
    LedgerRuleError,
    ReconcileError,
    UnknownVp,
    ValidationError,
    VpGuardViolation,
)
from hedgestack.domain.ids import UNASSIGNED_NAME, unassigned_vp_id
from hedgestack.domain.numbers import HUNDRED, ZERO, to_str

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from decimal import Decimal

    from hedgestack.domain.filters import SymbolFilters
    from hedgestack.domain.ledger import Ledger, VpBook

MAX_NAME = 64


def live_vp(ledger: Ledger, vp_id: str) -> VpBook:
    vp = ledger.vps.get(vp_id)
    if vp is None or vp.archived:
        raise UnknownVp(f"no live virtual position {vp_id!r}", vp_id=vp_id)
    return vp


def check_name(ledger: Ledger, name: str, symbol: str, position_side: PositionSide,
               *, renaming: str | None = None) -> str:
    """Validate a VP name; return it stripped."""
    if not isinstance(name, str):
        raise ValidationError("name must be a string", code="INVALID_NAME")
    text = name.strip()
    if not 1 <= len(text) <= MAX_NAME or not text.isprintable():
        raise ValidationError(f"name must be 1–{MAX_NAME} printable characters", code="INVALID_NAME")
    if text.upper() == UNASSIGNED_NAME:
        raise ValidationError(f"{UNASSIGNED_NAME} is reserved for the system's VP", code="NAME_RESERVED")
    for vp in ledger.vps_of(symbol, position_side):
        if not vp.archived and vp.vp_id != renaming and vp.name == text:
            raise LedgerRuleError(f"a live VP named {text!r} already exists on {symbol} {position_side}",
                                  code="NAME_TAKEN", vp_id=vp.vp_id)
    return text


def open_close_qty(ledger: Ledger, vp_id: str, *, excluding: Iterable[str] = ()) -> Decimal:
    """What the VP's closing orders will still take from it: the remaining quantity of its open CLOSE orders, and
    what its finished CLOSE orders executed on the exchange whose fills are not booked yet (a stream that lost them,
    a backfill on its way). Without the latter, a close whose answer said FILLED but whose fills are late would
    leave its quantity free for the next close. (Algo legs are not counted so: their child's fills may be booked
    to the VP by orderId without reaching the leg.)"""
    skip = set(excluding)
    total = ZERO
    for o in ledger.live_orders(vp_id):
        if o.client_order_id in skip:
            continue
        if o.is_open:
            if o.role is OrderRole.CLOSE:
                total += o.remaining
        elif o.role is OrderRole.CLOSE and not o.is_algo and o.executed > o.filled:
            total += o.executed - o.filled
    return total


def open_tpsl_qty(ledger: Ledger, vp_id: str, *, excluding: Iterable[str] = ()) -> Decimal:
    """max(TP qty, SL qty) over the VP's open TP/SL orders."""
    skip = set(excluding)
    legs = {OrderRole.TP: ZERO, OrderRole.SL: ZERO}
    for order in ledger.open_orders(vp_id):
        if order.role in legs and order.client_order_id not in skip:
            legs[order.role] += order.remaining
    return max(legs.values())


def tpsl_target_qty(ledger: Ledger, vp_id: str) -> Decimal:
    """The quantity a VP's TP and SL should carry: net_qty less what its open closes cover."""
    vp = ledger.vps[vp_id]
    rest = vp.qty - open_close_qty(ledger, vp_id)
    return rest if rest > 0 else ZERO


def check_guard(ledger: Ledger, vp_id: str, *, new_close: Decimal = ZERO, new_tpsl: Decimal | None = None,
                excluding: Iterable[str] = ()) -> None:
    """Refuse unless open closes (+ new_close) + max(TP, SL) (or new_tpsl) ≤ net_qty."""
    vp = ledger.vps[vp_id]
    skip = tuple(excluding)
    closes = open_close_qty(ledger, vp_id, excluding=skip) + new_close
    tpsl = ZERO if new_tpsl is None else new_tpsl
    total = closes + tpsl
    if total > vp.qty:
        raise VpGuardViolation(
            f"{vp.name} holds {to_str(vp.qty)}; its closing orders would cover {to_str(closes)}"
            + (f" plus TP/SL {to_str(tpsl)}" if tpsl else "")
            + " — an order may never reduce another VP's quantity", vp_id=vp_id)


def check_order_matches_vp(vp: VpBook, symbol: str, position_side: PositionSide) -> None:
    if vp.symbol != symbol or vp.position_side != position_side:
        raise ValidationError(f"VP {vp.name} is {vp.symbol} {vp.position_side}, not {symbol} {position_side}",
                              code="VP_MISMATCH", vp_id=vp.vp_id)


def role_of(position_side: PositionSide, side: Side) -> OrderRole:
    """In Hedge Mode BUY+LONG/SELL+SHORT open; SELL+LONG/BUY+SHORT close."""
    return OrderRole.ENTRY if position_side.increases(side) else OrderRole.CLOSE


def check_order_shape(order_type: OrderType, price: Decimal | None, trigger_price: Decimal | None,
                      time_in_force: TimeInForce | None) -> None:
    """Which fields each order type needs (the seed's MARKET / LIMIT / STOP_MARKET / STOP)."""
    allowed = {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_MARKET, OrderType.STOP,
               OrderType.TAKE_PROFIT_MARKET, OrderType.TAKE_PROFIT}
    if order_type not in allowed:
        raise ValidationError(f"order type {order_type} is not supported", code="INVALID_ORDER_TYPE")
    if order_type.has_limit_price and price is None:
        raise ValidationError(f"{order_type} needs a price", code="PRICE_REQUIRED")
    if not order_type.has_limit_price and price is not None:
        raise ValidationError(f"{order_type} takes no price", code="PRICE_NOT_ALLOWED")
    if order_type.is_conditional and trigger_price is None:
        raise ValidationError(f"{order_type} needs a trigger price", code="TRIGGER_PRICE_REQUIRED")
    if not order_type.is_conditional and trigger_price is not None:
        raise ValidationError(f"{order_type} takes no trigger price", code="TRIGGER_PRICE_NOT_ALLOWED")
    if order_type is OrderType.MARKET and time_in_force is not None:
        raise ValidationError("MARKET orders take no timeInForce", code="TIF_NOT_ALLOWED")


def close_quantity(ledger: Ledger, vp_id: str, filters: SymbolFilters, *, percent: Decimal | None = None,
                   qty: Decimal | None = None, order_type: OrderType = OrderType.MARKET) -> Decimal:
    """The quantity of a close of ``percent`` % (of net_qty) or ``qty``, rounded down to the step."""
    vp = live_vp(ledger, vp_id)
    if (percent is None) == (qty is None):
        raise ValidationError("give either percent or qty (percent defaults to 100 when neither is given)",
                              code="CLOSE_AMOUNT")
    if vp.qty == 0:
        raise LedgerRuleError(f"{vp.name} is flat: nothing to close", code="VP_FLAT", vp_id=vp_id)
    if percent is not None:
        if not ZERO < percent <= HUNDRED:
            raise ValidationError(f"percent must be in (0, 100], got {to_str(percent)}", code="INVALID_PERCENT")
        wanted = vp.qty * percent / HUNDRED
    else:
        assert qty is not None
        if qty <= 0:
            raise ValidationError(f"qty must be positive, got {to_str(qty)}", code="INVALID_QTY")
        if qty > vp.qty:
            raise VpGuardViolation(f"{vp.name} holds {to_str(vp.qty)}; cannot close {to_str(qty)}",
                                   vp_id=vp_id)
        wanted = qty
    rounded = filters.round_qty_down(wanted, order_type)
    if rounded <= 0:
        raise LedgerRuleError(f"{to_str(wanted)} rounds down to 0 at step "
                              f"{to_str(filters.lot.step_size)}: nothing to close",
                              code="CLOSE_QTY_ZERO", vp_id=vp_id)
    return rounded


def check_transfer(ledger: Ledger, from_vp: str, to_vp: str, qty: Decimal) -> None:
    src = ledger.vps.get(from_vp)
    dst = ledger.vps.get(to_vp)
    if src is None or (src.archived and not src.system):
        raise UnknownVp(f"no live virtual position {from_vp!r}", vp_id=from_vp)
    if dst is None or (dst.archived and not dst.system):
        raise UnknownVp(f"no live virtual position {to_vp!r}", vp_id=to_vp)
    if src is dst:
        raise ValidationError("a transfer needs two different VPs", code="TRANSFER_SAME_VP")
    if src.symbol != dst.symbol or src.position_side != dst.position_side:
        raise ValidationError(f"both VPs must be on one side: {src.symbol} {src.position_side} vs "
                              f"{dst.symbol} {dst.position_side}", code="TRANSFER_SIDE_MISMATCH")
    if qty <= 0:
        raise ValidationError(f"transfer qty must be positive, got {to_str(qty)}", code="INVALID_QTY")
    if qty > src.qty:
        raise LedgerRuleError(f"{src.name} holds {to_str(src.qty)}; cannot transfer {to_str(qty)}",
                              code="TRANSFER_EXCEEDS", vp_id=from_vp)
    closes = open_close_qty(ledger, from_vp)
    if closes > src.qty - qty:
        raise VpGuardViolation(f"{src.name}'s open closing orders cover {to_str(closes)}; after the transfer "
                               f"it would hold {to_str(src.qty - qty)}", vp_id=from_vp)


def check_reconcile(ledger: Ledger, symbol: str, position_side: PositionSide, exchange_qty: Decimal,
                    assignments: Mapping[str, Decimal]) -> None:
    allowed = {vp.vp_id for vp in ledger.vps_of(symbol, position_side) if not vp.archived or vp.system}
    allowed.add(unassigned_vp_id(symbol, position_side))
    total = ZERO
    for vp_id, qty in assignments.items():
        if vp_id not in allowed:
            raise UnknownVp(f"{vp_id!r} is not a live VP of {symbol} {position_side}", vp_id=vp_id)
        if qty < 0:
            raise ValidationError(f"assigned qty must not be negative: {to_str(qty)}", code="INVALID_QTY")
        total += qty
    if total > exchange_qty:
        raise ReconcileError(f"assignments total {to_str(total)} exceed the exchange quantity "
                             f"{to_str(exchange_qty)} of {symbol} {position_side}", code="OVER_ASSIGNED")
    late = [o.client_order_id for o in ledger.live_orders()
            if o.symbol == symbol and o.position_side is position_side and not o.is_algo and o.executed > o.filled]
    if late:
        # the exchange's quantity already holds those trades: assigning it now and booking their fills later
        # would count them twice
        raise ReconcileError(f"the exchange reported trades of {', '.join(late[:3])} whose fills are not booked "
                             f"yet: reconcile {symbol} {position_side} once they are (a few seconds)",
                             code="RECONCILE_FILLS_PENDING")


def check_archive(ledger: Ledger, vp_id: str) -> None:
    vp = live_vp(ledger, vp_id)
    if vp.system:
        raise LedgerRuleError("the UNASSIGNED VP cannot be archived", code="SYSTEM_VP", vp_id=vp_id)
    if vp.qty != 0:
        raise LedgerRuleError(f"{vp.name} holds {to_str(vp.qty)}: close or transfer it first",
                              code="VP_NOT_FLAT", vp_id=vp_id)
    if ledger.open_orders(vp_id):
        raise LedgerRuleError(f"{vp.name} has open orders: cancel them first", code="VP_HAS_ORDERS",
                              vp_id=vp_id)


def check_rename(ledger: Ledger, vp_id: str, name: str) -> str:
    vp = live_vp(ledger, vp_id)
    if vp.system:
        raise LedgerRuleError("the UNASSIGNED VP cannot be renamed", code="SYSTEM_VP", vp_id=vp_id)
    return check_name(ledger, name, vp.symbol, vp.position_side, renaming=vp_id)
