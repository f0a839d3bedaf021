"""Recovery: what the user stream may have missed, fetched over REST and applied exactly once (the log dedupes).

Run after every (re)connect of the user stream (start, disconnect, listenKey expiry, a stalled stream) and
periodically by the consistency watch:

1. **Orders.** Our open orders are compared with ``openOrders``/``openAlgoOrders``: those no longer open are
   queried for their final state; PENDING ones (lost answers) are resolved by clientOrderId (or concluded never
   received once no request can arrive). An order of ours (``VP-…``) open on the exchange that the ledger held
   as closed before the snapshot was read, or that the ledger does not know at all, is cancelled with an error in
   the log: nothing the ledger does not hold open may reduce a VP (a finished order is never reopened by the fold).
   An order the stream closes while the snapshot is read keeps the stream's word.
2. **Fills.** ``userTrades`` per symbol from a gap-free watermark (the highest trade id up to which every trade
   of the account was fetched over REST; fills seen on the stream do not move it, so a fill lost in a gap is
   fetched again). Each trade is attributed by the one rule (``attribution.py``); unknown orderIds are resolved
   first (our pending orders, algo children via ``actualOrderId``, then a query by orderId).
3. **Funding.** ``income`` FUNDING_FEE rows, one settlement per (symbol, time).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from hedgestack.domain.enums import OrderStatus
from hedgestack.domain.errors import HedgestackError
from hedgestack.domain.events import Event, Fill, Funding, OrderUpdate
from hedgestack.domain.funding import split_funding
from hedgestack.domain.ids import OurOrderId, parse_client_order_id
from hedgestack.engine import answers
from hedgestack.engine.attribution import attribute

if TYPE_CHECKING:
    from collections.abc import Callable
    from decimal import Decimal

    from hedgestack.engine.book import Book
    from hedgestack.engine.gateway import OrderGateway
    from hedgestack.engine.link import Stats
    from hedgestack.engine.market import Market
    from hedgestack.venue.port import Trade, Venue

log = logging.getLogger("hedgestack.recovery")

WEEK_MS = 7 * 24 * 3600 * 1000
PAGE = 1000
#: the income history (weight 30) is read by a catch-up at most this often (ms)
FUNDING_EVERY_MS = 300_000


def fill_of(trade: Trade, vp_id: str, client_order_id: str | None) -> Fill:
    """The Fill event of a REST trade booked to ``vp_id``."""
    assert trade.position_side is not None
    return Fill(ts=trade.time, symbol=trade.symbol, trade_id=trade.trade_id, order_id=trade.order_id,
                client_order_id=client_order_id, vp_id=vp_id, side=trade.side, position_side=trade.position_side,
                qty=trade.qty, price=trade.price, commission=trade.commission,
                commission_asset=trade.commission_asset, exchange_rp=trade.realized_pnl, maker=trade.maker)


class Recovery:
    def __init__(self, book: Book, venue: Venue, market: Market, gateway: OrderGateway, stats: Stats,
                 clock: Callable[[], int]) -> None:
        self.book = book
        self.venue = venue
        self.market = market
        self.gateway = gateway
        self.stats = stats
        self.clock = clock
        self._lock = asyncio.Lock()
        self._funding_at = 0

    async def catch_up(self) -> None:
        """Orders, fills and funding the stream may have missed (one catch-up at a time). Funding is read at
        most every FUNDING_EVERY_MS here (settlements come three times a day; each one's ACCOUNT_UPDATE also
        fetches it)."""
        async with self._lock:
            await self.orders()
            for symbol in self.market.symbols:
                await self.trades(symbol)
            now = self.clock()
            if now - self._funding_at >= FUNDING_EVERY_MS:
                self._funding_at = now
                await self.funding(since=None, live=False)

    # -- orders -----------------------------------------------------------------------------------
    async def orders(self) -> None:
        ledger = self.book.ledger
        # orders open before the snapshot is read: if the stream closes one while the reads run (a cancel, a
        # trigger), the snapshot is older than the ledger and must not reopen it; the next round decides
        open_orders = ledger.open_orders()
        open_before = {o.client_order_id for o in open_orders}
        regular = {o.client_order_id: o for symbol in self.market.symbols for o in await self.venue.open_orders(symbol)}
        algo = {a.client_algo_id: a for symbol in self.market.symbols
                for a in await self.venue.open_algo_orders(symbol)}
        events: list[Event] = []
        now = self.clock()
        for order in open_orders:
            cid = order.client_order_id
            if not order.is_open:
                continue  # closed by the stream while the snapshot was read
            if self.gateway.in_flight(cid):
                continue  # its create request is still running: its answer says where it is
            update: OrderUpdate | None
            if order.is_algo:
                found_algo = algo.get(cid) or await self.venue.query_algo_order(cid)
                update = None if found_algo is None else answers.from_algo(cid, found_algo, now)
            else:
                found = regular.get(cid) or await self.venue.query_order(order.symbol, cid)
                update = None if found is None else answers.from_order(cid, found, now)
            if update is not None:
                events.append(update)
            elif order.status is OrderStatus.PENDING and self.gateway.may_conclude_never_received(order):
                events.append(answers.never_received(cid, now))  # else: its request may still arrive
        # ours on the exchange but closed in the ledger before the snapshot was read (the trader was told it is
        # gone), or never written by this ledger: cancelled, so that nothing the ledger does not hold open can
        # reduce a VP. An order the stream closed while the snapshot was read keeps the stream's word.
        stale = [(row.symbol, cid, False) for cid, row in regular.items()]
        stale += [(arow.symbol, cid, True) for cid, arow in algo.items()]
        for symbol, cid, is_algo in stale:
            mine = ledger.orders.get(cid)
            if mine is not None and not mine.is_open and cid not in open_before:
                await self._cancel_stray(symbol, cid, algo=is_algo,
                                         why=f"is open on the exchange but {mine.status} in the ledger")
            elif mine is None and isinstance(parse_client_order_id(cid), OurOrderId) and \
                    symbol in self.market.symbols:
                await self._cancel_stray(symbol, cid, algo=is_algo,
                                         why="carries a VP clientOrderId this ledger never wrote")
        # the queries above awaited too: an order the stream closed meanwhile keeps the stream's word
        events = [e for e in events if not (isinstance(e, OrderUpdate) and e.status.is_open
                                            and not ledger.orders[e.client_order_id].is_open)]
        if events:
            self.book.append(events)

    async def _cancel_stray(self, symbol: str, cid: str, *, algo: bool, why: str) -> None:
        """An order with our prefix that the ledger does not hold open (another terminal's, a log that lost it, a
        cancel the exchange did not carry out): it could reduce a VP unseen, so it is cancelled."""
        log.error("order %s (%s) %s: cancelling it", cid, symbol, why)
        try:
            if algo:
                await self.venue.cancel_algo_order(cid)
            else:
                await self.venue.cancel_order(symbol, cid)
        except HedgestackError as exc:
            log.warning("cancelling stray order %s failed: %s", cid, exc)

    # -- fills ------------------------------------------------------------------------------------
    async def trades(self, symbol: str) -> None:
        store = self.book.store
        key = f"watermark:{symbol}"
        mark = store.get_meta(key)
        watermark = int(mark) if mark is not None else 0
        from_id: int | None = watermark + 1 if watermark else None
        start: int | None = None if watermark else self.clock() - WEEK_MS + 60_000
        highest = watermark
        while True:
            page = await self.venue.user_trades(symbol, from_id=from_id, start=start, limit=PAGE)
            ledger = self.book.ledger
            new = [t for t in page if not ledger.has_trade(symbol, t.trade_id) and t.position_side is not None]
            if new:
                await self._resolve_order_ids(symbol, {t.order_id for t in new})
                events: list[Event] = []
                for t in new:
                    assert t.position_side is not None
                    order = ledger.order_for_exchange_id(t.order_id)
                    cid = None if order is None else order.client_order_id
                    vp_id = attribute(ledger, symbol=symbol, client_order_id=cid, order_id=t.order_id,
                                      position_side=t.position_side)
                    events.append(fill_of(t, vp_id, cid))
                result = await self.book.append_durable(events)  # durable before the watermark moves
                self.stats.backfilled_fills += len(result.appended)
            if page:
                highest = max(highest, max(t.trade_id for t in page))
            if len(page) < PAGE:
                break
            from_id, start = highest + 1, None
        if highest != watermark:
            store.set_meta(key, str(highest))

    async def _resolve_order_ids(self, symbol: str, order_ids: set[int]) -> None:
        """Map exchange orderIds that trades name to our orders, when they are ours."""
        ledger = self.book.ledger
        unknown = {oid for oid in order_ids if ledger.order_for_exchange_id(oid) is None}
        if not unknown:
            return
        events: list[Event] = []
        now = self.clock()
        algos = await self.venue.open_algo_orders(symbol) + await self.venue.all_algo_orders(
            symbol, start=now - WEEK_MS + 60_000)
        for algo in algos:  # algo children: actualOrderId → clientAlgoId
            if algo.actual_order_id in unknown and algo.client_algo_id in ledger.orders:
                events.append(answers.from_algo(algo.client_algo_id, algo, now))
                unknown.discard(algo.actual_order_id)
        for oid in sorted(unknown):
            try:
                row = await self.venue.query_order_id(symbol, oid)
            except HedgestackError as exc:
                log.warning("cannot query order %s: %s (its fills go to UNASSIGNED)", oid, exc)
                continue
            order = None if row is None else ledger.orders.get(row.client_order_id)
            if row is None or order is None:
                continue
            if not order.is_algo:
                events.append(answers.from_order(order.client_order_id, row, now))
            else:
                events.append(OrderUpdate(ts=now, client_order_id=order.client_order_id, status=order.status,
                                          actual_order_id=oid))
        if events:
            self.book.append(events)

    # -- funding ----------------------------------------------------------------------------------
    async def funding(self, *, since: int | None, live: bool) -> None:
        """Apply FUNDING_FEE income rows not yet in the log (one Funding event per symbol + time)."""
        store = self.book.store
        key = "watermark:funding"
        now = self.clock()
        start = since if since is not None else int(store.get_meta(key) or now - WEEK_MS + 60_000)
        rows = await self.venue.funding_income(start=start, limit=PAGE)
        events: list[Event] = []
        latest = start
        for row in rows:
            if row.symbol not in self.market.symbols:
                continue
            latest = max(latest, row.time)
            if f"funding:{row.symbol}:{row.time}" in self.book.ledger.keys:
                continue
            events.append(self.funding_event(row.symbol, row.time, row.amount, row.asset,
                                             live_rate=live and now - row.time < 120_000))
        if events:
            await self.book.append_durable(events)  # durable before the funding watermark moves
        if since is None or live:
            store.set_meta(key, str(latest))

    def funding_event(self, symbol: str, funding_time: int, amount: Decimal, asset: str, *,
                      live_rate: bool) -> Funding:
        """One settlement, split over the symbol's VPs as they stand (the rate and mark when just settled)."""
        rate = self.market.funding_rates.get(symbol) if live_rate else None
        mark = self.market.mark(symbol) if live_rate else None
        allocations = split_funding(self.book.ledger, symbol, amount, rate, mark)
        return Funding(ts=funding_time, symbol=symbol, funding_time=funding_time, amount=amount, asset=asset,
                       rate=rate, mark=mark, allocations=allocations)


__all__ = ["Recovery", "fill_of"]
