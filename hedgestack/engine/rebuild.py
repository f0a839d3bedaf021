"""``hedgestack rebuild --since DATE``: reconstruct the ledger from the exchange's own history alone.

The disaster-recovery path when the local event log is lost. Binance keeps what is needed: ``allOrders``
and ``allAlgoOrders`` give the clientOrderIds that name VPs (``VP-{short}-...``), ``userTrades`` the fills
(joined by orderId; an algo child by ``actualOrderId``), ``income`` the funding. The original VP ids and
names are not on the exchange: each VP short id found becomes a VP ``vp_{short}rb`` named
``rebuilt-{short}`` (rename them afterwards); its symbol and side come from its orders. Foreign fills go to
UNASSIGNED as usual. Events are appended in time order, so funding is split over the VPs as they stood.
History windows: Binance serves at most 7 days per request, so the span is walked in 7-day windows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hedgestack.domain.enums import OrderRole, OrderType, PositionSide, Side, TimeInForce, TriggerType
from hedgestack.domain.errors import StoreError
from hedgestack.domain.events import Event, Fill, Funding, OrderIntent, VpCreated
from hedgestack.domain.funding import split_funding
from hedgestack.domain.ids import OurOrderId, parse_client_order_id, unassigned_vp_id
from hedgestack.domain.numbers import ZERO, D
from hedgestack.domain.rules import role_of
from hedgestack.engine import answers
from hedgestack.store.eventlog import EventLog
from hedgestack.venue.binance.adapter import BinanceVenue

log = logging.getLogger("hedgestack.rebuild")
WINDOW_MS = 7 * 24 * 3600 * 1000 - 60_000


@dataclass
class RebuildReport:
    vps: int = 0
    orders: int = 0
    fills: int = 0
    foreign_fills: int = 0
    funding: int = 0
    symbols: list[str] = field(default_factory=list)


def _windows(since: int, until: int) -> list[tuple[int, int]]:
    out = []
    start = since
    while start < until:
        end = min(start + WINDOW_MS, until)
        out.append((start, end))
        start = end + 1
    return out


async def _paged(fetch: Any, since: int, until: int, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Everything in [since, until]: 7-day windows, a full page (1000 rows) splits its window in two."""
    rows: list[dict[str, Any]] = []
    for start, end in _windows(since, until):
        rows.extend(await _window(fetch, start, end, args, kwargs))
    return rows


async def _window(fetch: Any, start: int, end: int, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    page = await fetch(*args, startTime=start, endTime=end, limit=1000, **kwargs)
    if len(page) < 1000 or end - start < 1000:
        return list(page)
    middle = (start + end) // 2
    return await _window(fetch, start, middle, args, kwargs) + await _window(fetch, middle + 1, end, args, kwargs)


async def rebuild(venue: BinanceVenue, symbols: list[str], db_file: str | Path, since_ms: int,
                  until_ms: int) -> RebuildReport:
    """Write a fresh event log at ``db_file`` (which must not exist) from the exchange's history."""
    path = Path(db_file)
    if path.exists():
        raise StoreError(f"{path} exists: rebuild writes a fresh log (move the old one away first)",
                         code="STORE_EXISTS")
    report = RebuildReport(symbols=list(symbols))
    timeline: list[tuple[int, int, Any]] = []  # (time, order-of-kind, item)
    vp_ids: dict[str, tuple[str, str, PositionSide, int]] = {}  # short → (vp_id, symbol, side, created)
    by_order_id: dict[tuple[str, int], str] = {}
    for symbol in symbols:
        orders = await _paged(venue.all_orders, since_ms, until_ms, symbol)
        algos = await _paged(venue.all_algo_orders, since_ms, until_ms, symbol)
        for row in orders:
            timeline.append((int(row["time"]), 1, ("order", symbol, row)))
            by_order_id[(symbol, int(row["orderId"]))] = row["clientOrderId"]
        for row in algos:
            timeline.append((int(row["createTime"]), 1, ("algo", symbol, row)))
            actual = answers.actual_order_id(row)
            if actual is not None:
                by_order_id[(symbol, actual)] = row["clientAlgoId"]
        for row in orders + algos:
            cid = row.get("clientOrderId") or row.get("clientAlgoId")
            parsed = parse_client_order_id(cid)
            if isinstance(parsed, OurOrderId) and parsed.vp_short_id not in vp_ids:
                side = PositionSide(row["positionSide"])
                created = int(row.get("time") or row.get("createTime"))
                vp_ids[parsed.vp_short_id] = (f"vp_{parsed.vp_short_id}rb", symbol, side, created)
        trades = await _paged(venue.user_trades, since_ms, until_ms, symbol)
        for row in trades:
            timeline.append((int(row["time"]), 2, ("trade", symbol, row)))
    income = await _paged(venue.income, since_ms, until_ms, incomeType="FUNDING_FEE")
    for row in income:
        if row.get("symbol") in symbols:
            timeline.append((int(row["time"]), 3, ("funding", row["symbol"], row)))
    # a triggered algo order's child is listed by allOrders under the clientAlgoId: it is not an order of
    # its own (its fills belong to the algo order, as on the live stream)
    algo_ids = {row["clientAlgoId"] for _, _, (kind, _, row) in timeline if kind == "algo"}
    timeline = [item for item in timeline
                if not (item[2][0] == "order" and item[2][2]["clientOrderId"] in algo_ids)]
    timeline.sort(key=lambda item: (item[0], item[1]))

    log_store = EventLog(path)
    try:
        log_store.append([VpCreated(ts=created, vp_id=vp_id, name=f"rebuilt-{short}", symbol=symbol,
                                    position_side=side)
                          for short, (vp_id, symbol, side, created) in sorted(vp_ids.items())])
        report.vps = len(vp_ids)
        for when, _, (kind, symbol, row) in timeline:
            events: list[Event] = []
            if kind in ("order", "algo"):
                events = _order_events(kind, symbol, row, vp_ids)
                report.orders += 1 if events else 0
            elif kind == "trade":
                cid = by_order_id.get((symbol, int(row["orderId"])))
                parsed = parse_client_order_id(cid)
                side = PositionSide(row["positionSide"])
                if isinstance(parsed, OurOrderId) and parsed.vp_short_id in vp_ids:
                    vp_id = vp_ids[parsed.vp_short_id][0]
                else:
                    vp_id = unassigned_vp_id(symbol, side)
                    report.foreign_fills += 1
                events = [Fill(ts=when, symbol=symbol, trade_id=int(row["id"]), order_id=int(row["orderId"]),
                               client_order_id=cid, vp_id=vp_id, side=Side(row["side"]), position_side=side,
                               qty=D(row["qty"]), price=D(row["price"]), commission=D(row["commission"]),
                               commission_asset=row["commissionAsset"], exchange_rp=D(row["realizedPnl"]),
                               maker=bool(row["maker"]))]
                report.fills += 1
            else:
                amount = D(row["income"])
                events = [Funding(ts=when, symbol=symbol, funding_time=when, amount=amount,
                                  asset=row.get("asset", "USDT"), rate=None, mark=None,
                                  allocations=split_funding(log_store.ledger, symbol, amount, None, None))]
                report.funding += 1
            if events:
                log_store.append(events)
        for symbol in symbols:
            trade_ids = [int(r[2][2]["id"]) for r in timeline if r[2][0] == "trade" and r[2][1] == symbol]
            if trade_ids:
                log_store.set_meta(f"watermark:{symbol}", str(max(trade_ids)))
    finally:
        log_store.close()
    return report


def _order_events(kind: str, symbol: str, row: dict[str, Any],
                  vp_ids: dict[str, tuple[str, str, PositionSide, int]]) -> list[Event]:
    cid = row["clientOrderId"] if kind == "order" else row["clientAlgoId"]
    parsed = parse_client_order_id(cid)
    if not isinstance(parsed, OurOrderId) or parsed.vp_short_id not in vp_ids:
        return []
    vp_id = vp_ids[parsed.vp_short_id][0]
    pside = PositionSide(row["positionSide"])
    side = Side(row["side"])
    if kind == "order":
        order_type = OrderType(row.get("origType") or row["type"])
        role = role_of(pside, side)
        created = int(row["time"])
        intent = OrderIntent(ts=created, client_order_id=cid, vp_id=vp_id, symbol=symbol, position_side=pside,
                             side=side, order_type=order_type, role=role, qty=D(row["origQty"]),
                             price=D(row["price"]) if D(row["price"]) != 0 else None,
                             time_in_force=TimeInForce(row["timeInForce"]) if row.get("timeInForce") in
                             TimeInForce._value2member_map_ and order_type is not OrderType.MARKET else None)
        update = answers.from_order_row(cid, row, ts=int(row["updateTime"]))
        return [intent, update]
    order_type = OrderType(row["orderType"])
    increases = pside.increases(side)
    role = OrderRole.ENTRY if increases else (
        OrderRole.TP if order_type in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET) else OrderRole.SL)
    working = TriggerType.LAST_PRICE if row.get("workingType") == "CONTRACT_PRICE" else TriggerType.MARK_PRICE
    price = D(row["price"]) if row.get("price") not in (None, "", "0") and D(row["price"]) != ZERO else None
    intent = OrderIntent(ts=int(row["createTime"]), client_order_id=cid, vp_id=vp_id, symbol=symbol,
                         position_side=pside, side=side, order_type=order_type, role=role, qty=D(row["quantity"]),
                         price=price if order_type.has_limit_price else None,
                         trigger_price=D(row["triggerPrice"]), trigger_type=working, is_algo=True)
    update = answers.from_algo_row(cid, row, ts=int(row["updateTime"]))
    return [intent, update]


__all__ = ["Decimal", "RebuildReport", "rebuild"]
