"""Fill attribution: the product's core promise, written once.

Every trade is booked to exactly one VP. The rule, used by live intake, REST backfill, ``rebuild`` and the audit:

1. find our order: by clientOrderId (every order we send carries one that names its VP), else by the exchange's
   orderId (a triggered algo order's child in the matching engine has its own id, mapped to the algo order by
   ``actualOrderId``; an order whose answer named its orderId);
2. it is ours only if it is of the trade's symbol and position side;
3. the trade goes to that order's VP; anything else (the Binance app ``web_…``/``ios_…``, liquidation
   ``autoclose-…``, ADL, settlement, an order we never sent) goes to the side's UNASSIGNED VP.

The order index is whatever knows our orders: the live ledger, or the ledger a rebuild is writing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from hedgestack.domain.ids import unassigned_vp_id

if TYPE_CHECKING:
    from hedgestack.domain.enums import PositionSide
    from hedgestack.domain.ledger import OrderBook


class OrderIndex(Protocol):
    """Our orders by clientOrderId, and by the exchange's order ids (regular orders and algo children)."""

    @property
    def orders(self) -> dict[str, OrderBook]: ...

    def order_for_exchange_id(self, order_id: int) -> OrderBook | None: ...


def find_order(index: OrderIndex, symbol: str, client_order_id: str | None, order_id: int | None) -> OrderBook | None:
    """Our order behind an exchange report (None when it is not ours)."""
    order = index.orders.get(client_order_id) if client_order_id else None
    if order is None and order_id is not None:
        order = index.order_for_exchange_id(order_id)
    if order is not None and order.symbol != symbol:
        return None
    return order


def attribute(index: OrderIndex, *, symbol: str, client_order_id: str | None, order_id: int | None,
              position_side: PositionSide) -> str:
    """The VP a trade of (symbol, position_side) belongs to."""
    order = find_order(index, symbol, client_order_id, order_id)
    if order is not None and order.position_side is position_side:
        return order.vp_id
    return unassigned_vp_id(symbol, position_side)


__all__ = ["OrderIndex", "attribute", "find_order"]
