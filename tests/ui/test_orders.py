"""Order history: filters by VP, symbol and role, TP/SL churn hidden, paging; exports."""

from __future__ import annotations

import io

import polars as pl

from hedgestack.domain.enums import OrderRole, OrderStatus, Side
from hedgestack.ui.orders import export_bytes, filter_orders, is_churn, page_of
from tests.ui.fakes import T0, order

ORDERS = [
    order("e1", "a", created_at=T0 + 1, status=OrderStatus.FILLED, filled="0.010"),
    order("tp1", "a", side=Side.SELL, role=OrderRole.TP, status=OrderStatus.CANCELED, created_at=T0 + 2),
    order("tp2", "a", side=Side.SELL, role=OrderRole.TP, status=OrderStatus.NEW, created_at=T0 + 3),
    order("sl1", "a", side=Side.SELL, role=OrderRole.SL, status=OrderStatus.FILLED, filled="0.010",
          created_at=T0 + 4),
    order("e2", "b", created_at=T0 + 5, symbol="ETHUSDT"),
]


def test_churn_is_a_tp_sl_leg_that_ended_without_a_fill() -> None:
    assert [o.client_order_id for o in ORDERS if is_churn(o)] == ["tp1"]


def test_filters() -> None:
    ids = lambda orders: [o.client_order_id for o in orders]  # noqa: E731
    assert ids(filter_orders(ORDERS)) == ["e2", "sl1", "tp2", "e1"]
    assert ids(filter_orders(ORDERS, hide_churn=False)) == ["e2", "sl1", "tp2", "tp1", "e1"]
    assert ids(filter_orders(ORDERS, vp="a", role="TP", hide_churn=False)) == ["tp2", "tp1"]
    assert ids(filter_orders(ORDERS, symbol="ETHUSDT")) == ["e2"]


def test_paging_clamps() -> None:
    items = list(range(60))
    shown, page = page_of(items, 3, 25)
    assert shown == list(range(50, 60)) and (page.number, page.pages, page.total) == (3, 3, 60)
    shown, page = page_of(items, 9, 25)
    assert page.number == 3 and page.label("orders") == "page 3 of 3 · 60 orders"
    assert page_of([], 1)[1].label("fills") == "no fills"


def test_exports_round_trip() -> None:
    frame = pl.DataFrame({"trade_id": [1, 2], "qty": ["0.001", "0.002"]})
    assert pl.read_csv(export_bytes(frame, "csv")).shape == (2, 2)
    assert pl.read_parquet(io.BytesIO(export_bytes(frame, "parquet").read())).equals(frame)
