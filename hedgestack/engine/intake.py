"""Intake: the venue's stream messages → domain events → the book.

User stream: ORDER_TRADE_UPDATEs become Fill and OrderUpdate events (attributed by the one rule of
``attribution.py``; a burst already waiting is appended as one batch, one commit); ALGO_UPDATEs update our TP/SL
and other algo orders (the TP/SL manager hears about its legs); ACCOUNT_UPDATEs confirm the exchange's sides and
wallet (and a FUNDING_FEE fetches its settlement); ACCOUNT_CONFIG_UPDATE changes a symbol's leverage. Every
(re)connect — ``StreamUp`` — runs the catch-up: the truth is forgotten and read again, orders, fills and funding
are fetched over REST, and only then is the connection CONNECTED. Market stream: marks and candles.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from hedgestack.domain.enums import OrderRole, OrderStatus
from hedgestack.domain.errors import HedgestackError
from hedgestack.domain.events import Event, Fill, OrderUpdate
from hedgestack.domain.ledger import OrderBook
from hedgestack.domain.numbers import ZERO
from hedgestack.engine.attribution import attribute, find_order
from hedgestack.engine.views import ReconnectView
from hedgestack.venue.port import (
    AccountConfigUpdate,
    AccountUpdate,
    AlgoUpdate,
    Kline,
    ListenKeyExpired,
    Malformed,
    MarkPrice,
    OrderTradeUpdate,
    StreamDown,
    StreamUp,
    Venue,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from hedgestack.engine.book import Book
    from hedgestack.engine.consistency import ConsistencyWatch
    from hedgestack.engine.link import Link
    from hedgestack.engine.market import Market
    from hedgestack.engine.presenter import Presenter
    from hedgestack.engine.recovery import Recovery
    from hedgestack.engine.tpsl import TpSlManager
    from hedgestack.engine.truth import ExchangeTruth, Side

log = logging.getLogger("hedgestack.intake")

Batch = list[tuple[list[Event], OrderBook | None]]


class Intake:
    def __init__(self, book: Book, venue: Venue, market: Market, truth: ExchangeTruth, link: Link,
                 watch: ConsistencyWatch, recovery: Recovery, tpsl: TpSlManager, presenter: Presenter,
                 clock: Callable[[], int]) -> None:
        self.book = book
        self.venue = venue
        self.market = market
        self.truth = truth
        self.link = link
        self.watch = watch
        self.recovery = recovery
        self.tpsl = tpsl
        self.presenter = presenter
        self.clock = clock
        #: set once the first (re)connect's catch-up is done: the terminal is then started
        self.connected = asyncio.Event()

    # -- user stream ------------------------------------------------------------------------------
    async def user_stream(self) -> None:
        async for item in self.venue.user_messages():
            messages = item if isinstance(item, list) else [item]
            batch: Batch = []
            judge = False  # the sides are judged once the item's fills are folded
            confirmed: set[Side] = set()  # ... and those the exchange confirmed sent again
            for message in messages:
                try:
                    if isinstance(message, StreamUp | StreamDown | ListenKeyExpired):
                        judge |= self._flush(batch)
                        batch = []
                        await self._link_message(message)
                        continue
                    self.link.event_seen()
                    if isinstance(message, OrderTradeUpdate):
                        batch.append(self.order_events(message))
                        continue
                    if isinstance(message, AccountUpdate) and message.reason != "FUNDING_FEE":
                        # the sides and wallet it reports do not depend on the ledger: recorded now, judged with the
                        # item's fills (a trade's ACCOUNT_UPDATE comes before its ORDER_TRADE_UPDATE: judged
                        # between the two, the side read "waiting for the fills" for a moment at every trade)
                        confirmed.update(self.watch.stream_update(message, evaluate=False))
                        judge = True
                        continue
                    judge |= self._flush(batch)
                    batch = []
                    await self._account_message(message)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - one bad event must not stop the intake
                    self.link.stats.malformed += 1
                    log.exception("failed to process %r", message)
            try:
                judge |= self._flush(batch)
            except Exception:  # noqa: BLE001
                log.exception("failed to append a batch of %s order updates", len(batch))
            if judge:
                self.watch.evaluate(sorted(confirmed))

    async def _link_message(self, message: StreamUp | StreamDown | ListenKeyExpired) -> None:
        if isinstance(message, StreamUp):
            await self.sync_after_connect("start" if self.link.stats.reconnects == 0 and not self.connected.is_set()
                                          else "reconnect")
            return
        reason = "listenKeyExpired" if isinstance(message, ListenKeyExpired) else f"{message.kind}: {message.message}"
        self.link.reconnecting(reason)
        self.truth.invalidate()
        self.watch.evaluate()

    async def sync_after_connect(self, reason: str) -> None:
        """A (re)connect: forget the truth, catch up over REST, read the truth again, then CONNECTED."""
        started = self.clock()
        self.link.set("SYNCING", reason)
        self.truth.invalidate()
        self.watch.evaluate()
        self.presenter.bus.publish("WS_RECONNECT", ReconnectView(reason=reason, state="SYNCING"))
        try:
            await self.recovery.catch_up()
            await self.watch.settings()
            await self.watch.refresh()
        except HedgestackError as exc:
            # the sides stay unconfirmed (STALE): the poll reads them again
            log.error("catch-up after %s failed: %s; the poll retries", reason, exc)
        self.link.set("CONNECTED")
        log.info("%s catch-up took %s ms", reason, self.clock() - started)
        self.presenter.bus.publish("WS_RECONNECT", ReconnectView(reason=reason, state="CONNECTED"))
        self.tpsl.request_all()
        self.watch.evaluate()
        self.connected.set()

    async def _account_message(self, message: object) -> None:
        if isinstance(message, AlgoUpdate):
            self.algo_update(message)
        elif isinstance(message, AccountUpdate):
            self.watch.stream_update(message)
            if message.reason == "FUNDING_FEE":
                await self.recovery.funding(since=message.event_time - 60_000, live=True)
        elif isinstance(message, AccountConfigUpdate):
            if message.symbol is not None and message.leverage is not None and message.symbol in self.market.symbols:
                self.truth.record_leverage(message.symbol, message.leverage)
                for key in [k for k in self.truth.sides if k[0] == message.symbol]:
                    self.presenter.side_changed(*key, status=False)
                    for vp in self.book.ledger.vps_of(*key):
                        if vp.qty:
                            self.presenter.vp_changed(vp.vp_id)
        elif isinstance(message, Malformed):
            self.link.stats.malformed += 1
            log.warning("malformed user message (%s): %.300r", message.reason, message.raw)

    def order_events(self, msg: OrderTradeUpdate) -> tuple[list[Event], OrderBook | None]:
        """The Fill and/or OrderUpdate events one ORDER_TRADE_UPDATE brings."""
        events: list[Event] = []
        ledger = self.book.ledger
        order = find_order(ledger, msg.symbol, msg.client_order_id, msg.order_id)
        if msg.is_fill and msg.position_side is not None:
            assert msg.trade_id is not None and msg.last_qty is not None and msg.last_price is not None
            vp_id = attribute(ledger, symbol=msg.symbol, client_order_id=msg.client_order_id, order_id=msg.order_id,
                              position_side=msg.position_side)
            events.append(Fill(
                ts=msg.trade_time or msg.event_time, symbol=msg.symbol, trade_id=msg.trade_id, order_id=msg.order_id,
                client_order_id=msg.client_order_id, vp_id=vp_id, side=msg.side, position_side=msg.position_side,
                qty=msg.last_qty, price=msg.last_price, commission=msg.commission or ZERO,
                commission_asset=msg.commission_asset or "USDT", exchange_rp=msg.realized_pnl or ZERO,
                maker=msg.maker))
        if order is not None and not order.is_algo and msg.status is not None:
            events.append(OrderUpdate(ts=msg.event_time, client_order_id=order.client_order_id, status=msg.status,
                                      order_id=msg.order_id, executed_qty=msg.cum_qty,
                                      reason=f"expiry reason {msg.expiry_reason}"
                                      if msg.expiry_reason not in (None, "0") else None))
        return events, order

    def apply_order_updates(self, messages: list[OrderTradeUpdate]) -> None:
        """Take in ORDER_TRADE_UPDATEs as one batch (on the terminal's loop): what the stream does with a burst."""
        if self._flush([self.order_events(m) for m in messages]):
            self.watch.evaluate()

    def _flush(self, batch: Batch) -> bool:
        """Append the events of several ORDER_TRADE_UPDATEs in one batch (one commit), then follow up; returns
        whether VPs changed (their sides are then judged again)."""
        events = [event for group, _ in batch for event in group]
        if not events:
            return False
        # what the stream brings, the exchange can tell again (userTrades from the gap-free watermark, order
        # queries): group-committed within DEFER_MS, published at once
        result = self.book.append(events)
        for _, order in batch:
            if order is not None and order.role is not OrderRole.ENTRY:
                self.tpsl.request(order.vp_id)
        return bool(result.touched)

    def algo_update(self, msg: AlgoUpdate) -> None:
        order = self.book.ledger.orders.get(msg.client_algo_id)
        if order is None:
            return  # not ours (an algo order from the Binance app): its fills arrive as foreign
        if msg.status is None:
            log.warning("unknown algo status in %r", msg)
            return
        self.book.append([OrderUpdate(ts=msg.event_time, client_order_id=order.client_order_id, status=msg.status,
                                      algo_id=msg.algo_id, actual_order_id=msg.actual_order_id,
                                      executed_qty=msg.executed_qty, reason=msg.reason)])
        if order.role in (OrderRole.TP, OrderRole.SL):
            self.tpsl.leg_update(order, msg.status, msg.executed_qty or ZERO)
        elif msg.status in (OrderStatus.FINISHED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED):
            self.tpsl.request(order.vp_id)

    # -- market stream ----------------------------------------------------------------------------
    async def market_stream(self) -> None:
        async for message in self.venue.market_messages(list(self.market.symbols)):
            if isinstance(message, MarkPrice):
                self.market.mark_price(message)
            elif isinstance(message, Kline):
                self.market.kline(message)
            elif isinstance(message, Malformed):
                self.link.stats.malformed += 1


__all__ = ["Intake"]
