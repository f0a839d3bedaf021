"""Exchange answers about one of our orders → OrderUpdate events (one place for REST order rows)."""

from __future__ import annotations

import time
from typing import Any

from hedgestack.domain.enums import OrderStatus
from hedgestack.domain.events import OrderUpdate
from hedgestack.domain.numbers import D

STATUS = {s.value: s for s in OrderStatus}
NEVER_RECEIVED = "the exchange never received it (answer lost, order unknown)"


def _now() -> int:
    return time.time_ns() // 1_000_000


def actual_order_id(row: dict[str, Any]) -> int | None:
    """An algo order's child in the matching engine ("" or 0 until triggered)."""
    actual = row.get("actualOrderId")
    return int(actual) if actual not in (None, "", 0, "0") else None


def from_order_row(cid: str, row: dict[str, Any], ts: int | None = None) -> OrderUpdate:
    """A /fapi/v1/order (or openOrders, allOrders, cancel) row."""
    return OrderUpdate(ts=_now() if ts is None else ts, client_order_id=cid, status=STATUS[row["status"]],
                       order_id=int(row["orderId"]), executed_qty=D(row["executedQty"]))


def from_algo_row(cid: str, row: dict[str, Any], ts: int | None = None) -> OrderUpdate:
    """A /fapi/v1/algoOrder (or openAlgoOrders, allAlgoOrders) row."""
    return OrderUpdate(ts=_now() if ts is None else ts, client_order_id=cid,
                       status=STATUS.get(row["algoStatus"], OrderStatus.NEW), algo_id=int(row["algoId"]),
                       actual_order_id=actual_order_id(row))


def never_received(cid: str) -> OrderUpdate:
    return OrderUpdate(ts=_now(), client_order_id=cid, status=OrderStatus.REJECTED, reason=NEVER_RECEIVED)
