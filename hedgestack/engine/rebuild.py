"""``hedgestack rebuild --since DATE``: reconstruct the ledger from the exchange's own history alone.

The disaster-recovery path when the local event log is lost. Binance keeps what is needed: ``allOrders`` and
``allAlgoOrders`` give the clientOrderIds that name VPs (``VP-{short}-...``), ``userTrades`` the fills, ``income``
the funding. The original VP ids and names are not on the exchange: each VP short id found becomes a VP
``vp_{short}rb`` named ``rebuilt-{short}`` (rename them afterwards); its symbol and side come from its orders.
Events are appended in time order, orders before the trades of the same instant, so each trade is attributed by
the one rule (``attribution.py``) against the ledger being rebuilt, and funding is split over the VPs as they
stood. Binance serves at most 7 days per request: the span is walked in 7-day windows (a progress bar per
window in a terminal).

What cannot come back, and the report says so per side at the end: transfers and reconciles are not on the
exchange (a side that was reconciled or had quantity moved between VPs is rebuilt as its trades say), and a
foreign fill that UNASSIGNED could not absorb leaves the side short. The report compares each side's rebuilt VP
total with the exchange's position: OK, or MISMATCH with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hedgestack.domain.enums import OrderRole, OrderType, PositionSide, Side, TimeInForce, TriggerType
from hedgestack.domain.errors import StoreError
from hedgestack.domain.events import Event, Funding, OrderIntent, VpCreated
from hedgestack.domain.funding import split_funding
from hedgestack.domain.ids import OurOrderId, parse_client_order_id
from hedgestack.domain.numbers import ZERO
from hedgestack.domain.rules import role_of
from hedgestack.engine import answers
from hedgestack.engine.attribution import attribute
from hedgestack.engine.recovery import fill_of
from hedgestack.progress import progress
from hedgestack.store.eventlog import EventLog

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hedgestack.venue.port import ExchangeAlgoOrder, ExchangeOrder, FundingIncome, Trade, Venue

log = logging.getLogger("hedgestack.rebuild")
WINDOW_MS = 7 * 24 * 3600 * 1000 - 60_000
PAGE = 1000
R = TypeVar("R")


@dataclass
class SideReport:
    symbol: str
    position_side: PositionSide
    vp_qty: Decimal
    exchange_qty: Decimal
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.vp_qty == self.exchange_qty

    def line(self) -> str:
        status = "OK" if self.ok else f"MISMATCH: {self.reason}"
        return f"{self.symbol} {self.position_side}: rebuilt VPs {self.vp_qty}, exchange {self.exchange_qty} — {status}"


@dataclass
class RebuildReport:
    vps: int = 0
    orders: int = 0
    fills: int = 0
    foreign_fills: int = 0
    funding: int = 0
    symbols: list[str] = field(default_factory=list)
    sides: list[SideReport] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(side.ok for side in self.sides)


async def _all_orders(venue: Venue, symbol: str, start: int, end: int) -> list[ExchangeOrder]:
    return await venue.all_orders(symbol, start=start, end=end, limit=PAGE)


async def _all_algo_orders(venue: Venue, symbol: str, start: int, end: int) -> list[ExchangeAlgoOrder]:
    return await venue.all_algo_orders(symbol, start=start, end=end, limit=PAGE)


async def _user_trades(venue: Venue, symbol: str, start: int, end: int) -> list[Trade]:
    return await venue.user_trades(symbol, start=start, end=end, limit=PAGE)


async def _funding(venue: Venue, start: int, end: int) -> list[FundingIncome]:
    return await venue.funding_income(start=start, end=end, limit=PAGE)


def windows(since: int, until: int) -> list[tuple[int, int]]:
    out = []
    start = since
    while start < until:
        end = min(start + WINDOW_MS, until)
        out.append((start, end))
        start = end + 1
    return out


async def _window(fetch: Callable[[int, int], Awaitable[list[R]]], start: int, end: int) -> list[R]:
    """Everything in [start, end]: a full page splits the window in two."""
    page = await fetch(start, end)
    if len(page) < PAGE or end - start < 1000:
        return list(page)
    middle = (start + end) // 2
    return await _window(fetch, start, middle) + await _window(fetch, middle + 1, end)


async def rebuild(venue: Venue, symbols: list[str], db_file: str | Path, since_ms: int, until_ms: int, *,
                  show_progress: bool | None = None) -> RebuildReport:
    """Write a fresh event log at ``db_file`` (which must not exist) from the exchange's history."""
    path = Path(db_file)
    if path.exists():
        raise StoreError(f"{path} exists: rebuild writes a fresh log (move the old one away first)",
                         code="STORE_EXISTS")
    report = RebuildReport(symbols=list(symbols))
    timeline: list[tuple[int, int, tuple[str, str, Any]]] = []  # (time, kind order, (kind, symbol, row))
    vp_ids: dict[str, tuple[str, str, PositionSide, int]] = {}  # short → (vp_id, symbol, side, created)
    spans = windows(since_ms, until_ms)
    with progress(show_progress) as bar:
        task = bar.add_task("reading the exchange's history", total=len(spans) * (len(symbols) + 1))
        for start, end in spans:
            for symbol in symbols:
                orders = await _window(partial(_all_orders, venue, symbol), start, end)
                algos = await _window(partial(_all_algo_orders, venue, symbol), start, end)
                trades = await _window(partial(_user_trades, venue, symbol), start, end)
                algo_ids = {a.client_algo_id for a in algos}
                for order in orders:
                    # a triggered algo order's child is listed by allOrders under the clientAlgoId: not an order
                    # of its own (its fills belong to the algo order, as on the live stream)
                    if order.client_order_id not in algo_ids:
                        created = order.time or order.update_time
                        timeline.append((created, 1, ("order", symbol, order)))
                        _note_vp(vp_ids, order.client_order_id, symbol, order.position_side, created)
                for arow in algos:
                    timeline.append((arow.create_time, 1, ("algo", symbol, arow)))
                    _note_vp(vp_ids, arow.client_algo_id, symbol, arow.position_side, arow.create_time)
                for trade in trades:
                    timeline.append((trade.time, 2, ("trade", symbol, trade)))
                bar.advance(task)
            income = await _window(partial(_funding, venue), start, end)
            for funding in income:
                if funding.symbol in symbols:
                    timeline.append((funding.time, 3, ("funding", funding.symbol, funding)))
            bar.advance(task)
    timeline.sort(key=lambda item: (item[0], item[1]))

    store = EventLog(path)
    try:
        store.append([VpCreated(ts=created, vp_id=vp_id, name=f"rebuilt-{short}", symbol=symbol, position_side=side)
                      for short, (vp_id, symbol, side, created) in sorted(vp_ids.items())])
        report.vps = len(vp_ids)
        for when, _, (kind, symbol, row) in timeline:
            events: list[Event] = []
            if kind in ("order", "algo"):
                events = _order_events(kind, symbol, row, vp_ids)
                report.orders += 1 if events else 0
            elif kind == "trade":
                if row.position_side is None:
                    report.anomalies.append(f"trade {row.trade_id} of {symbol} has no hedge-mode side: skipped")
                    continue
                ledger = store.ledger
                ours = ledger.order_for_exchange_id(row.order_id)
                cid = None if ours is None else ours.client_order_id
                vp_id = attribute(ledger, symbol=symbol, client_order_id=cid, order_id=row.order_id,
                                  position_side=row.position_side)
                if ours is None or ours.vp_id != vp_id:
                    report.foreign_fills += 1
                events = [fill_of(row, vp_id, cid)]
                report.fills += 1
            else:
                events = [Funding(ts=when, symbol=symbol, funding_time=when, amount=row.amount, asset=row.asset,
                                  rate=None, mark=None,
                                  allocations=split_funding(store.ledger, symbol, row.amount, None, None))]
                report.funding += 1
            if events:
                result = store.append(events)
                report.anomalies.extend(f"{a.kind}: {a.message}" for a in result.anomalies)
        for symbol in symbols:
            trade_ids = [r[2][2].trade_id for r in timeline if r[2][0] == "trade" and r[2][1] == symbol]
            if trade_ids:
                store.set_meta(f"watermark:{symbol}", str(max(trade_ids)))
        exchange = {(p.symbol, p.position_side): p.amount for p in await venue.positions()}
        for symbol in symbols:
            for side in PositionSide:
                held = store.ledger.side_qty(symbol, side)
                theirs = exchange.get((symbol, side), ZERO)
                report.sides.append(SideReport(symbol, side, held, theirs, None if held == theirs else _why(
                    held, theirs, since_ms)))
    finally:
        store.close()
    return report


def _why(ours: Decimal, theirs: Decimal, since_ms: int) -> str:
    if ours > theirs:
        return ("the rebuilt VPs hold more than the exchange: a foreign reduction UNASSIGNED could not absorb, "
                "or history before --since is missing")
    return ("the exchange holds more than the rebuilt VPs: trades before --since, or transfers/reconciles that "
            "are not on the exchange")


def _note_vp(vp_ids: dict[str, tuple[str, str, PositionSide, int]], cid: str, symbol: str,
             side: PositionSide | None, created: int) -> None:
    parsed = parse_client_order_id(cid)
    if isinstance(parsed, OurOrderId) and side is not None:
        known = vp_ids.get(parsed.vp_short_id)
        if known is None or created < known[3]:
            vp_ids[parsed.vp_short_id] = (f"vp_{parsed.vp_short_id}rb", symbol, side, created)


def _order_events(kind: str, symbol: str, row: Any,
                  vp_ids: dict[str, tuple[str, str, PositionSide, int]]) -> list[Event]:
    cid = row.client_order_id if kind == "order" else row.client_algo_id
    parsed = parse_client_order_id(cid)
    if not isinstance(parsed, OurOrderId) or parsed.vp_short_id not in vp_ids or row.position_side is None:
        return []
    vp_id = vp_ids[parsed.vp_short_id][0]
    pside: PositionSide = row.position_side
    side: Side = row.side
    if kind == "order":
        order: ExchangeOrder = row
        order_type = OrderType(order.orig_type or order.order_type)
        created = order.time or order.update_time
        intent = OrderIntent(
            ts=created, client_order_id=cid, vp_id=vp_id, symbol=symbol, position_side=pside, side=side,
            order_type=order_type, role=role_of(pside, side), qty=order.qty,
            price=order.price if order.price != 0 else None,
            time_in_force=TimeInForce(order.time_in_force) if order.time_in_force in
            TimeInForce._value2member_map_ and order_type is not OrderType.MARKET else None)
        return [intent, answers.from_order(cid, order, order.update_time)]
    algo: ExchangeAlgoOrder = row
    order_type = OrderType(algo.order_type)
    role = OrderRole.ENTRY if pside.increases(side) else (
        OrderRole.TP if order_type in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET) else OrderRole.SL)
    working = TriggerType.LAST_PRICE if algo.working_type == "CONTRACT_PRICE" else TriggerType.MARK_PRICE
    intent = OrderIntent(ts=algo.create_time, client_order_id=cid, vp_id=vp_id, symbol=symbol, position_side=pside,
                         side=side, order_type=order_type, role=role, qty=algo.qty,
                         price=algo.price if order_type.has_limit_price and algo.price != 0 else None,
                         trigger_price=algo.trigger_price, trigger_type=working, is_algo=True)
    return [intent, answers.from_algo(cid, algo, algo.update_time)]


__all__ = ["RebuildReport", "SideReport", "rebuild", "windows"]
