"""A small hand-built history whose metrics are computed by hand in the tests.

Day 1 = 2025-11-25 (UTC), T0 its midnight; D2 the next midnight.

VP_A "Trend", BTCUSDT LONG:
  T0+1000  BUY 1 @ 100  fee 0.05 maker   order c1, mark at intent 99.95
  T0+2000  BUY 1 @ 110  fee 0.05 taker   order c2, mark at intent 109.9
  T0+8h    funding: VP_A -0.1, VP_B +0.05 (rate 0.0005, mark 100)
  D2+5000  SELL 2 @ 120 fee 0.1 taker    order c3, mark at intent 120.06  → realized 30, trip 1 closed
  D2+7000  BUY 1 @ 130  no fee, no order
  D2+8000  SELL 1 @ 125 no fee, no order                                 → realized -5, trip 2 closed
VP_B "Hedge", BTCUSDT SHORT:
  T0+3500  SELL 1 @ 115 fee 0 taker      order c4, mark at intent 115.1  (still open)
Marks (BTCUSDT): T0+1500 95, T0+3000 90, T0+4000 125, T0+50 000 000 112, D2+6000 118.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from hedgestack.domain.enums import OrderRole, OrderType, PositionSide, Side
from hedgestack.domain.events import Event, Fill, Funding, OrderIntent, VpCreated
from hedgestack.store.analytics import Analytics, live, open_published
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import Publisher

D = Decimal
DAY = 86_400_000
T0 = 20_417 * DAY  # 2025-11-25 00:00 UTC
D2 = T0 + DAY
VP_A = "vp_aaaaaaaa"
VP_B = "vp_bbbbbbbb"
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
MARKS = [("BTCUSDT", T0 + 1500, D(95)), ("BTCUSDT", T0 + 3000, D(90)), ("BTCUSDT", T0 + 4000, D(125)),
         ("BTCUSDT", T0 + 50_000_000, D(112)), ("BTCUSDT", D2 + 6000, D(118))]


def _intent(cid: str, vp_id: str, side: Side, pside: PositionSide, qty: str, mark: str, ts: int,
            order_type: OrderType = OrderType.MARKET) -> OrderIntent:
    role = OrderRole.ENTRY if side == pside.opening_side else OrderRole.CLOSE
    return OrderIntent(ts=ts, client_order_id=cid, vp_id=vp_id, symbol="BTCUSDT", position_side=pside, side=side,
                       order_type=order_type, role=role, qty=D(qty), mark=D(mark),
                       price=D(mark) if order_type == OrderType.LIMIT else None)


def _fill(trade_id: int, vp_id: str, side: Side, pside: PositionSide, qty: str, price: str, fee: str, ts: int,
          *, maker: bool = False, cid: str | None = None) -> Fill:
    return Fill(ts=ts, symbol="BTCUSDT", trade_id=trade_id, order_id=1000 + trade_id, client_order_id=cid,
                vp_id=vp_id, side=side, position_side=pside, qty=D(qty), price=D(price), commission=D(fee),
                commission_asset="USDT", exchange_rp=D(0), maker=maker)


def history() -> list[Event]:
    buy, sell = Side.BUY, Side.SELL
    return [
        VpCreated(ts=T0, vp_id=VP_A, name="Trend", symbol="BTCUSDT", position_side=LONG),
        VpCreated(ts=T0, vp_id=VP_B, name="Hedge", symbol="BTCUSDT", position_side=SHORT),
        _intent("c1", VP_A, buy, LONG, "1", "99.95", T0 + 900, OrderType.LIMIT),
        _fill(1, VP_A, buy, LONG, "1", "100", "0.05", T0 + 1000, maker=True, cid="c1"),
        _intent("c2", VP_A, buy, LONG, "1", "109.9", T0 + 1900),
        _fill(2, VP_A, buy, LONG, "1", "110", "0.05", T0 + 2000, cid="c2"),
        _intent("c4", VP_B, sell, SHORT, "1", "115.1", T0 + 3400),
        _fill(3, VP_B, sell, SHORT, "1", "115", "0", T0 + 3500, cid="c4"),
        Funding(ts=T0 + 8 * 3_600_000, symbol="BTCUSDT", funding_time=T0 + 8 * 3_600_000, amount=D("-0.05"),
                asset="USDT", rate=D("0.0005"), mark=D(100), allocations=((VP_A, D("-0.1")), (VP_B, D("0.05")))),
        _intent("c3", VP_A, sell, LONG, "2", "120.06", D2 + 4900),
        _fill(4, VP_A, sell, LONG, "2", "120", "0.1", D2 + 5000, cid="c3"),
        _fill(5, VP_A, buy, LONG, "1", "130", "0", D2 + 7000),
        _fill(6, VP_A, sell, LONG, "1", "125", "0", D2 + 8000),
    ]


@pytest.fixture
def log(tmp_path: Path):
    with EventLog(tmp_path / "data" / "hedgestack.duckdb") as event_log:
        for event in history():  # one event per batch, as the terminal appends them
            event_log.append([event])
        event_log.append_marks(MARKS)
        yield event_log


@pytest.fixture
def live_source(log: EventLog) -> Analytics:
    return live(log)


@pytest.fixture
def published_source(log: EventLog, tmp_path: Path) -> Analytics:
    Publisher(log, tmp_path / "data").publish()
    return open_published(tmp_path / "data")


@pytest.fixture(params=["live", "published"])
def source(request: pytest.FixtureRequest, log: EventLog, tmp_path: Path) -> Analytics:
    if request.param == "live":
        return live(log)
    Publisher(log, tmp_path / "data").publish()
    return open_published(tmp_path / "data")
