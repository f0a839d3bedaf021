"""The order gateway: the one place orders leave the process (and are cancelled).

Flow of an order: the exchange's filters (tick, step, minimums, percent price) and the VP guard (invariant 3: a
VP's open closes plus max(TP, SL) never exceed its quantity) are checked; the intent is appended and durable
(invariant 5); the request is sent; the answer is recorded. An order is never sent twice:

- a refusal is recorded (REJECTED, with Binance's code and message) and raised as ``VenueRejected``;
- a lost answer (timeout, dropped connection) is resolved by asking for the clientOrderId. An order the exchange
  does not know is concluded "never received" only once no request for it can still arrive: python-binance
  signs with recvWindow = 10 s, so ``NEVER_RECEIVED_AFTER_MS`` after the last attempt (an intent an earlier
  process left: after this process started). Until then it stays PENDING and the resolver asks again.
- an order whose answer says it already traded is returned once its fills are in the book (briefly waited for),
  so a script's next command sees the VP as the exchange does.

The MISMATCH lock is not checked here: it stops the *user's* reducing commands (``commands.py``), never the
engine's own protection orders (``tpsl.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from hedgestack.domain.enums import OrderRole, OrderStatus, OrderType, Side, TimeInForce, TriggerType
from hedgestack.domain.errors import AnswerLost, LedgerRuleError, UnknownOrder, VenueRejected, VenueUnavailable
from hedgestack.domain.events import OrderIntent, OrderUpdate
from hedgestack.domain.ids import ClientOrderIdGenerator
from hedgestack.domain.rules import check_guard, open_tpsl_qty
from hedgestack.engine import answers
from hedgestack.engine.views import CancelAck, OrderAck, exchange_id
from hedgestack.venue.port import AlgoOrderRequest, OrderRequest, Venue

if TYPE_CHECKING:
    from collections.abc import Callable
    from decimal import Decimal

    from hedgestack.domain.ledger import OrderBook
    from hedgestack.engine.book import Book
    from hedgestack.engine.link import Stats
    from hedgestack.engine.market import Market

log = logging.getLogger("hedgestack.gateway")

#: python-binance's recvWindow (10 s) and a second: after that, an unknown order can no longer arrive
NEVER_RECEIVED_AFTER_MS = 11_000
#: how long an answer that says "traded" waits for its fills to reach the book before returning (s)
FILL_WAIT = 2.0
#: the resolver looks at PENDING orders this often (s), those older than PENDING_AFTER_MS
RESOLVE_EVERY = 2.0
PENDING_AFTER_MS = 3_000


class OrderGateway:
    def __init__(self, book: Book, market: Market, venue: Venue, stats: Stats, clock: Callable[[], int], *,
                 on_missing_fills: Callable[[str], None] = lambda reason: None) -> None:
        self.book = book
        self.market = market
        self.venue = venue
        self.stats = stats
        self.clock = clock
        last_ts = max((o.created_at for o in book.ledger.orders.values()), default=0)
        self._ids = ClientOrderIdGenerator(last_ts)
        self._started_ms = clock()
        self._in_flight: set[str] = set()  # clientOrderIds whose create request has not returned yet
        self._last_attempt: dict[str, int] = {}  # clientOrderId → when its create request gave up (answer lost)
        self._on_missing_fills = on_missing_fills
        self._filled = asyncio.Event()  # set after every append (the fill waiter re-checks)
        book.on_append(lambda _result: self._filled.set())

    # -- lookup -----------------------------------------------------------------------------------
    def find(self, order_ref: str | int) -> OrderBook:
        """Our order by clientOrderId, or by the exchange's orderId / algoId."""
        ledger = self.book.ledger
        ref = str(order_ref)
        if ref in ledger.orders:
            return ledger.orders[ref]
        if ref.isdigit():
            number = int(ref)
            for order in ledger.orders.values():
                if number in (order.order_id, order.algo_id):
                    return order
        raise UnknownOrder(f"no order of ours with id {ref!r}")

    def in_flight(self, cid: str) -> bool:
        return cid in self._in_flight

    # -- placing ----------------------------------------------------------------------------------
    async def place(self, vp_id: str, side: Side, order_type: OrderType, role: OrderRole, qty: Decimal,
                    price: Decimal | None = None, trigger_price: Decimal | None = None,
                    trigger_type: TriggerType | None = None, tif: TimeInForce | None = None, *,
                    replaces: str | None = None) -> OrderAck:
        """Check filters and the guard, store the intent, send, record the answer."""
        ledger = self.book.ledger
        vp = ledger.vps[vp_id]
        mark = self.market.mark(vp.symbol)
        self.market.rules(vp.symbol).check_order(side=side, order_type=order_type, qty=qty, price=price,
                                                 trigger_price=trigger_price, mark=mark, reduces=role.reduces)
        if role is OrderRole.CLOSE:
            check_guard(ledger, vp_id, new_close=qty, new_tpsl=open_tpsl_qty(ledger, vp_id))
        elif role in (OrderRole.TP, OrderRole.SL):
            check_guard(ledger, vp_id, new_tpsl=max(qty, open_tpsl_qty(ledger, vp_id)))
        now = self.clock()
        cid = self._ids.next(vp_id, now)
        intent = OrderIntent(ts=now, client_order_id=cid, vp_id=vp_id, symbol=vp.symbol,
                             position_side=vp.position_side, side=side, order_type=order_type, role=role, qty=qty,
                             price=price, trigger_price=trigger_price, trigger_type=trigger_type, time_in_force=tif,
                             is_algo=order_type.is_conditional, replaces=replaces, mark=mark)
        await self.book.append_durable([intent])  # invariant 5: durable before the request leaves
        self._in_flight.add(cid)
        try:
            update = await self._send(cid, intent)
        finally:
            self._in_flight.discard(cid)
        if update is None:
            return OrderAck(order_id=None, client_order_id=cid, status=OrderStatus.PENDING)
        self.book.append([update])
        if update.executed_qty:
            await self._wait_fills(cid, update.executed_qty)
        order = self.book.ledger.orders[cid]
        return OrderAck(order_id=exchange_id(order), client_order_id=cid, status=order.status)

    async def _send(self, cid: str, intent: OrderIntent) -> OrderUpdate | None:
        try:
            if intent.is_algo:
                assert intent.trigger_price is not None
                algo = await self.venue.new_algo_order(AlgoOrderRequest(
                    symbol=intent.symbol, side=intent.side, position_side=intent.position_side,
                    order_type=intent.order_type, qty=intent.qty, client_algo_id=cid,
                    trigger_price=intent.trigger_price,
                    working_type=(intent.trigger_type or TriggerType.MARK_PRICE).working_type, price=intent.price,
                    time_in_force=intent.time_in_force))
                return answers.from_algo(cid, algo, self.clock())
            order = await self.venue.new_order(OrderRequest(
                symbol=intent.symbol, side=intent.side, position_side=intent.position_side,
                order_type=intent.order_type, qty=intent.qty, client_order_id=cid, price=intent.price,
                time_in_force=intent.time_in_force))
            return answers.from_order(cid, order, self.clock())
        except VenueRejected as exc:
            self.book.append([OrderUpdate(ts=self.clock(), client_order_id=cid, status=OrderStatus.REJECTED,
                                          reason=f"Binance {exc.binance_code}: {exc.message}")])
            raise
        except AnswerLost:
            self._last_attempt[cid] = self.clock()
            return await self.resolve(cid)

    async def _wait_fills(self, cid: str, executed: Decimal) -> None:
        """Wait (up to FILL_WAIT) until the book holds the fills the answer reported."""
        deadline = asyncio.get_running_loop().time() + FILL_WAIT
        while self.book.ledger.orders[cid].filled < executed:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                log.warning("order %s: the exchange says %s traded, no fill arrived on the stream in %g s", cid,
                            executed, FILL_WAIT)
                self._on_missing_fills(f"order {cid} traded {executed}, no fill on the user stream in {FILL_WAIT:g} s")
                return
            self._filled.clear()
            try:
                await asyncio.wait_for(self._filled.wait(), remaining)
            except TimeoutError:
                pass

    # -- lost answers -----------------------------------------------------------------------------
    async def resolve(self, cid: str) -> OrderUpdate | None:
        """Ask the exchange what became of an order whose answer was lost (None: still unknown, stay PENDING)."""
        order = self.book.ledger.orders[cid]
        now = self.clock()
        try:
            if order.is_algo:
                algo = await self.venue.query_algo_order(cid)
                update = None if algo is None else answers.from_algo(cid, algo, now)
            else:
                found = await self.venue.query_order(order.symbol, cid)
                update = None if found is None else answers.from_order(cid, found, now)
        except VenueUnavailable:
            log.warning("order %s: answer lost and the query failed too; left PENDING for the resolver", cid)
            return None
        if update is None:
            if not self.may_conclude_never_received(order):
                return None  # unknown so far, but a request for it may still arrive: ask again later
            update = answers.never_received(cid, self.clock())
        self._last_attempt.pop(cid, None)
        self.stats.lost_answers_resolved += 1
        return update

    def may_conclude_never_received(self, order: OrderBook) -> bool:
        """True when an order the exchange does not know can no longer reach it (never while in flight)."""
        cid = order.client_order_id
        if cid in self._in_flight:
            return False
        attempt = self._last_attempt.get(cid)
        if attempt is None:  # an intent an earlier process left: it signed every attempt before we started
            attempt = min(max(order.created_at, self._started_ms), self.clock())
        return self.clock() - attempt >= NEVER_RECEIVED_AFTER_MS

    async def resolve_pending(self) -> None:
        """Orders left PENDING (answer lost, query failed) are resolved as soon as the venue answers (a task)."""
        while True:
            await asyncio.sleep(RESOLVE_EVERY)
            now = self.clock()
            stale = [o.client_order_id for o in self.book.ledger.open_orders()
                     if o.status is OrderStatus.PENDING and now - o.created_at > PENDING_AFTER_MS
                     and o.client_order_id not in self._in_flight]
            for cid in stale:
                try:
                    update = await self.resolve(cid)
                except VenueUnavailable as exc:
                    log.warning("resolving %s failed: %s", cid, exc)
                    continue
                if update is not None:
                    self.book.append([update])

    # -- cancelling -------------------------------------------------------------------------------
    async def cancel(self, order: OrderBook) -> CancelAck:
        """Cancel one of our open orders; an order already gone is looked up for its final state."""
        cid = order.client_order_id
        if not order.is_open:
            raise LedgerRuleError(f"order {cid} is {order.status}: nothing to cancel", code="ORDER_NOT_OPEN")
        update: OrderUpdate | None
        try:
            if order.is_algo:
                await self.venue.cancel_algo_order(cid)
                update = OrderUpdate(ts=self.clock(), client_order_id=cid, status=OrderStatus.CANCELED)
            else:
                update = answers.from_order(cid, await self.venue.cancel_order(order.symbol, cid), self.clock())
        except VenueRejected as exc:
            if exc.binance_code not in (-2011, -2013):
                raise
            update = await self.resolve(cid)  # already gone: learn its final state
            if update is None:
                raise
        except AnswerLost:
            update = await self.resolve(cid)
            if update is None:
                raise
        self.book.append([update])
        return CancelAck(order_id=exchange_id(order), status=self.book.ledger.orders[cid].status)


__all__ = ["NEVER_RECEIVED_AFTER_MS", "OrderGateway"]
