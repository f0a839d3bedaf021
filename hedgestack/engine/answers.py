"""What the exchange says about one of our orders → OrderUpdate events (the one place for order answers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hedgestack.domain.enums import OrderStatus
from hedgestack.domain.events import OrderUpdate

if TYPE_CHECKING:
    from hedgestack.venue.port import ExchangeAlgoOrder, ExchangeOrder

NEVER_RECEIVED = "the exchange never received it (answer lost, order unknown)"


def from_order(cid: str, order: ExchangeOrder, ts: int) -> OrderUpdate:
    """A regular order's state (answer, query, open/all orders, cancel)."""
    return OrderUpdate(ts=ts, client_order_id=cid, status=order.status or OrderStatus.NEW, order_id=order.order_id,
                       executed_qty=order.executed_qty)


def from_algo(cid: str, algo: ExchangeAlgoOrder, ts: int) -> OrderUpdate:
    """An algo order's state (answer, query, open/all algo orders)."""
    return OrderUpdate(ts=ts, client_order_id=cid, status=algo.status or OrderStatus.NEW, algo_id=algo.algo_id,
                       actual_order_id=algo.actual_order_id)


def never_received(cid: str, ts: int) -> OrderUpdate:
    return OrderUpdate(ts=ts, client_order_id=cid, status=OrderStatus.REJECTED, reason=NEVER_RECEIVED)


__all__ = ["NEVER_RECEIVED", "from_algo", "from_order", "never_received"]
