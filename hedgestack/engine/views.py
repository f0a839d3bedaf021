"""JSON views of the state with the seed's field names (used by the API, the UI and the bus).

Money and quantities are unrounded decimal strings; times are Unix ms; ids are strings where the seed
shows strings (``orderId``, ``tp_order_id``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hedgestack.domain.enums import OrderRole, PositionSide, TriggerType
from hedgestack.domain.events import Fill
from hedgestack.domain.ledger import Ledger, OrderBook, VpView
from hedgestack.domain.numbers import ZERO, to_str


def _s(value: Decimal | None) -> str | None:
    return None if value is None else to_str(value)


def tpsl_json(ledger: Ledger, view: VpView) -> dict[str, Any] | None:
    legs = {OrderRole.TP: None, OrderRole.SL: None}
    for order in ledger.open_orders(view.vp_id):
        if order.role in legs:
            legs[order.role] = order
    if view.tp_price is None and view.sl_price is None and not any(legs.values()):
        return None

    def leg_id(order: OrderBook | None) -> str | None:
        if order is None:
            return None
        ident = order.algo_id if order.algo_id is not None else order.order_id
        return None if ident is None else str(ident)

    return {
        "tp_price": _s(view.tp_price), "tp_trigger_type": str(view.tp_trigger),
        "sl_price": _s(view.sl_price), "sl_trigger_type": str(view.sl_trigger),
        "tp_order_id": leg_id(legs[OrderRole.TP]), "sl_order_id": leg_id(legs[OrderRole.SL]),
        "tp_client_order_id": legs[OrderRole.TP].client_order_id if legs[OrderRole.TP] else None,
        "sl_client_order_id": legs[OrderRole.SL].client_order_id if legs[OrderRole.SL] else None,
        "tp_qty": _s(legs[OrderRole.TP].remaining) if legs[OrderRole.TP] else None,
        "sl_qty": _s(legs[OrderRole.SL].remaining) if legs[OrderRole.SL] else None,
        "sync_status": str(view.sync_status) if view.sync_status is not None else "OK",
        "sync_reason": view.sync_reason,
    }


def vp_json(ledger: Ledger, view: VpView, mark: Decimal | None) -> dict[str, Any]:
    unrealized = view.unrealized_pnl(mark)
    return {
        "id": view.vp_id, "name": view.name, "symbol": view.symbol, "positionSide": str(view.position_side),
        "net_qty": to_str(view.net_qty), "avg_entry": to_str(view.avg_entry),
        "unrealized_pnl": to_str(unrealized), "realized_pnl": to_str(view.realized_pnl),
        "tpsl": tpsl_json(ledger, view), "created_at": view.created_at,
        "fees": to_str(view.fees), "fees_by_asset": {k: to_str(v) for k, v in sorted(view.fees_by_asset.items())},
        "funding": to_str(view.funding), "net_pnl": to_str(view.net_pnl), "reset_at": view.reset_at,
        "mark_price": _s(mark), "archived": view.archived, "system": view.system,
    }


def order_json(order: OrderBook) -> dict[str, Any]:
    """The seed's OrderRecord (+ role, filled qty, trigger and algo fields)."""
    ident = order.order_id if order.order_id is not None else order.algo_id
    return {
        "orderId": None if ident is None else str(ident), "clientOrderId": order.client_order_id,
        "virtual_position_id": order.vp_id, "symbol": order.symbol, "side": str(order.side),
        "positionSide": str(order.position_side), "type": str(order.order_type), "qty": to_str(order.qty),
        "price": _s(order.price), "status": str(order.status), "reduceOnly": order.role.reduces,
        "created_at": order.created_at, "role": str(order.role), "filled_qty": to_str(order.filled),
        "trigger_price": _s(order.trigger_price),
        "trigger_type": str(order.trigger_type) if order.trigger_type else None,
        "timeInForce": str(order.time_in_force) if order.time_in_force else None, "is_algo": order.is_algo,
        "algo_id": None if order.algo_id is None else str(order.algo_id),
        "actual_order_id": None if order.actual_order_id is None else str(order.actual_order_id),
        "updated_at": order.updated_at, "reason": order.reason, "replaces": order.replaces,
    }


def fill_json(fill: Fill, vp_name: str | None = None) -> dict[str, Any]:
    return {
        "tradeId": str(fill.trade_id), "orderId": str(fill.order_id), "clientOrderId": fill.client_order_id,
        "virtual_position_id": fill.vp_id, "vp_name": vp_name, "symbol": fill.symbol, "side": str(fill.side),
        "positionSide": str(fill.position_side), "qty": to_str(fill.qty), "price": to_str(fill.price),
        "commission": to_str(fill.commission), "commissionAsset": fill.commission_asset,
        "realizedPnl": to_str(fill.exchange_rp), "maker": fill.maker, "time": fill.ts,
    }


def external_json(symbol: str, side: PositionSide, qty: Decimal, entry: Decimal | None,
                  unrealized: Decimal | None) -> dict[str, Any]:
    return {"symbol": symbol, "positionSide": str(side), "qty": to_str(qty), "avgEntryPrice": _s(entry or ZERO),
            "unrealizedPnl": _s(unrealized or ZERO)}


__all__ = ["TriggerType", "external_json", "fill_json", "order_json", "tpsl_json", "vp_json"]
