"""The presenter: the live state as typed views, and their publication on the bus.

It reads the ledger (through the book), the market and the exchange truth, builds views with the builders of
``views.py`` and publishes what changed: after an append the FILL / ORDER_UPSERT / VIRTUAL_POSITION_UPDATE of what
it touched (O(changes)); on a status change of a side its CONSISTENCY_STATUS, and its VPs when their view can have
changed: the side locked (MISMATCH) or unlocked, or the mark moved since they were last sent (building every VP of
a side again on each confirmation was an eighth of the engine's time at 200 fills/s); on a mark move MARK_PRICE
with the open VPs' uPnL and the EXTERNAL_POSITION_UPDATE of the open sides, throttled per symbol (at most once per
``mark_interval`` s, the latest value last); ACCOUNT_STATUS when the account block changes (at most every
``account_interval`` s, the latest last: every fill moves the wallet by its commission).

Only news is published: a VIRTUAL_POSITION_UPDATE, EXTERNAL_POSITION_UPDATE, CONSISTENCY_STATUS or ACCOUNT_STATUS
equal to the last one of its VP / side / account is not sent again (one fill used to send its VP three times, its
side three times and its status twice, as the fill, the ACCOUNT_UPDATE and the re-evaluation each told it). An
ORDER_UPSERT that differs from the last one of its order only in ``updated_at`` is not sent either: the stream's
NEW of a MARKET order arrives after the REST answer said FILLED, changes nothing, and used to reach every client
ahead of the fill. A CONSISTENCY_STATUS whose state is unchanged (only its figures or a newer confirmation) goes out
at most every CONFIRMATION_EVERY_MS, the latest last, so a client's figures and ``confirmed_at`` are never older
than that behind the engine's; a change of state goes out at once, but an OK side turns SYNCING on the stream only
once that has lasted SYNCING_NEWS_S (each trade makes a side wait a few ms for its fills or its ACCOUNT_UPDATE: two
events a trade, and a flicker on every screen, at 200 fills/s).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import polars as pl

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.events import Fill, OrderIntent, OrderUpdate
from hedgestack.domain.risk import vp_risk
from hedgestack.engine.views import (
    ConsistencyView,
    ExternalPositionView,
    MarkView,
    OrderView,
    SideStatus,
    SideStatusView,
    StateView,
    VirtualPositionView,
    VpMarkView,
    fill_view,
    fill_view_from_row,
    order_view,
    vp_view,
)
from hedgestack.store.analytics import live

if TYPE_CHECKING:
    from decimal import Decimal

    from hedgestack.engine.book import Book
    from hedgestack.engine.bus import EventBus
    from hedgestack.engine.link import Link
    from hedgestack.engine.market import Market
    from hedgestack.engine.truth import ExchangeTruth
    from hedgestack.store.eventlog import AppendResult

log = logging.getLogger("hedgestack.engine")

#: a symbol's MARK_PRICE event goes out at most this often (seconds); the latest mark is sent last
MARK_EVENT_INTERVAL = 0.5
#: ACCOUNT_STATUS goes out at most this often (seconds); the latest figures are sent last
ACCOUNT_EVENT_INTERVAL = 0.25
#: how many orders' last ORDER_UPSERT the presenter remembers (an order beyond that is simply sent again)
ORDER_MEMORY = 4_096
#: while a side's state stays the same, its CONSISTENCY_STATUS (figures, confirmation) goes out at most this often
#: (ms); the latest is sent last
CONFIRMATION_EVERY_MS = 1_000
#: an OK side is published SYNCING only once it has been SYNCING this long (seconds): every trade makes it wait a
#: few ms for the fills or the exchange's word on it
SYNCING_NEWS_S = 0.25


class Presenter:
    def __init__(self, book: Book, market: Market, truth: ExchangeTruth, link: Link, bus: EventBus, *,
                 venue_name: str, mark_interval: float = MARK_EVENT_INTERVAL,
                 account_interval: float = ACCOUNT_EVENT_INTERVAL) -> None:
        self.book = book
        self.market = market
        self.truth = truth
        self.link = link
        self.bus = bus
        self.venue_name = venue_name
        self.mark_interval = mark_interval
        self.account_interval = account_interval
        self._account_sent_at = float("-inf")
        self._account_due = False
        self._consistency_sent: dict[tuple[str, PositionSide], float] = {}  # loop time of the last one sent
        self._consistency_due: set[tuple[str, PositionSide]] = set()
        self._syncing_since: dict[tuple[str, PositionSide], float] = {}  # a side SYNCING while OK was last sent
        self._mark_sent: dict[str, tuple[float, Decimal, Decimal | None]] = {}
        self._mark_due: set[str] = set()
        self._published: dict[tuple[str, Any], Any] = {}  # (event type, VP id / side / None) → the last view sent
        self._orders_sent: OrderedDict[str, OrderView] = OrderedDict()  # clientOrderId → the last ORDER_UPSERT
        self._locked: dict[tuple[str, PositionSide], bool] = {}  # a side's ``locked`` as its VPs were last sent

    # -- views -------------------------------------------------------------------------------------
    def vp(self, vp_id: str) -> VirtualPositionView:
        ledger = self.book.ledger
        book = ledger.vps[vp_id]
        mark = self.market.mark(book.symbol)
        view = ledger.view(vp_id)
        unrealized = view.unrealized_pnl(mark)
        risk = vp_risk(net_qty=view.net_qty, cost=view.cost, unrealized=unrealized, net_pnl=view.net_pnl, mark=mark,
                       leverage=self.truth.leverage(book.symbol))
        return vp_view(ledger, vp_id, mark, locked=self.truth.locked(book.symbol, book.position_side), risk=risk)

    def external(self, symbol: str, side: PositionSide) -> ExternalPositionView:
        truth = self.truth.sides[(symbol, side)]
        settings = self.truth.settings.get(symbol)
        mark = truth.mark if truth.mark is not None else self.market.mark(symbol)
        return ExternalPositionView(
            symbol=symbol, position_side=side, qty=truth.qty, avg_entry_price=truth.entry,
            unrealized_pnl=truth.unrealized, leverage=self.truth.leverage(symbol), liquidation_price=truth.liquidation,
            break_even_price=truth.break_even, margin_type=None if settings is None else settings.margin_type,
            notional=None if mark is None else truth.qty * mark, mark_price=mark)

    def side_detail(self, symbol: str, side: PositionSide) -> SideStatusView:
        truth = self.truth.sides[(symbol, side)]
        state = self.truth.states[(symbol, side)]
        return SideStatusView(status=state.status, confirmed_at=truth.confirmed_at, confirmed_by=truth.confirmed_by,
                              exchange_qty=truth.qty, vp_qty=self.book.ledger.side_qty(symbol, side),
                              reason=state.reason)

    def consistency(self, symbol: str, side: PositionSide) -> ConsistencyView:
        detail = self.side_detail(symbol, side)
        return ConsistencyView(symbol=symbol, position_side=side, status=detail.status.seed_status,
                               exchange_qty=detail.exchange_qty, vp_qty=detail.vp_qty, detail=detail)

    def state(self, recent_fills: int = 50) -> StateView:
        """The seed's /v1/state (called on the engine's loop)."""
        ledger = self.book.ledger
        symbols = self.market.symbols
        vps = tuple(self.vp(view.vp_id) for view in ledger.views()
                    if not (view.system and view.net_qty == 0 and view.fill_count == 0 and view.funding == 0))
        orders = tuple(order_view(o) for o in ledger.open_orders())
        fills = live(self.book.store).recent_fills(recent_fills) if recent_fills else pl.DataFrame()
        return StateView(
            external_positions=tuple(self.external(symbol, side) for symbol in symbols for side in PositionSide),
            virtual_positions=vps, open_orders=orders,
            fills=tuple(fill_view_from_row(r) for r in fills.iter_rows(named=True)),
            reconcile={s: {str(side): self.truth.status(s, side).seed_status for side in PositionSide}
                       for s in symbols},
            reconcile_detail={s: {str(side): self.side_detail(s, side) for side in PositionSide} for s in symbols},
            account=self.truth.account, venue=self.venue_name, connection=self.link.state,
            wallet_balance=self.truth.account.wallet_balance, marks=dict(self.market.marks))

    # -- publication -------------------------------------------------------------------------------
    def appended(self, result: AppendResult) -> None:
        """Publish what an append changed."""
        ledger = self.book.ledger
        orders: set[str] = set()
        for _, event in result.appended:
            if type(event) is Fill:
                self.link.stats.fills += 1
                vp = ledger.vps.get(event.vp_id)
                self.bus.publish("FILL", fill_view(event, vp.name if vp else None, result.realized.get(event.key)))
                if event.client_order_id in ledger.orders:
                    orders.add(event.client_order_id)
            elif isinstance(event, OrderIntent | OrderUpdate):
                orders.add(event.client_order_id)
        for cid in sorted(orders):
            self.order_changed(order_view(ledger.orders[cid]))
        for vp_id in sorted(result.touched):
            self.vp_changed(vp_id)

    def order_changed(self, view: OrderView) -> None:
        """Publish the order's ORDER_UPSERT unless the last one sent says the same (``updated_at`` aside)."""
        cid = view.client_order_id
        last = self._orders_sent.get(cid)
        if last is not None and replace(last, updated_at=view.updated_at) == view:
            return
        self._orders_sent[cid] = view
        self._orders_sent.move_to_end(cid)
        if len(self._orders_sent) > ORDER_MEMORY:
            self._orders_sent.popitem(last=False)
        self.bus.publish("ORDER_UPSERT", view)

    def vp_changed(self, vp_id: str) -> None:
        """Publish the VP's VIRTUAL_POSITION_UPDATE if it differs from the last one sent."""
        self._publish_news("VIRTUAL_POSITION_UPDATE", vp_id, self.vp(vp_id))

    def side_changed(self, symbol: str, side: PositionSide, *, status: bool) -> None:
        """An exchange side changed (its figures; ``status``: its consistency state too)."""
        self._publish_news("EXTERNAL_POSITION_UPDATE", (symbol, side), self.external(symbol, side))
        if status:
            self._consistency_changed((symbol, side))
            # a VP's view follows its side in ``locked``, and shows its uPnL at the mark: built again when either
            # moved since it was last sent (its ledger figures and leverage send it on their own)
            locked = self.truth.locked(symbol, side)
            relock = self._locked.get((symbol, side)) != locked
            self._locked[(symbol, side)] = locked
            mark = self.market.mark(symbol)
            for vp in self.book.ledger.vps_of(symbol, side):
                if vp.archived:
                    continue
                last = self._published.get(("VIRTUAL_POSITION_UPDATE", vp.vp_id))
                if relock or not isinstance(last, VirtualPositionView) or last.mark_price != mark:
                    self.vp_changed(vp.vp_id)

    def _consistency_changed(self, key: tuple[str, PositionSide]) -> None:
        """Publish the side's CONSISTENCY_STATUS. A change of state goes out at once, but for OK → SYNCING: a side
        waits for a trade's fills (or its ACCOUNT_UPDATE) a few ms at every trade, which is news only once it
        lasts SYNCING_NEWS_S. While the state stays the same and only figures or the confirmation moved (every
        trade of a burst), at most every CONFIRMATION_EVERY_MS. A check that waits takes the latest view; a
        change of state that is news goes out at once even while one waits."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        last = self._published.get(("CONSISTENCY_STATUS", key))
        view = self.consistency(*key)
        status = view.detail.status
        if status is not SideStatus.SYNCING:
            self._syncing_since.pop(key, None)
        wait = 0.0
        if isinstance(last, ConsistencyView):
            if last.detail.status is SideStatus.OK and status is SideStatus.SYNCING:
                wait = self._syncing_since.setdefault(key, now) + SYNCING_NEWS_S - now
            elif last.detail.status is status:
                wait = self._consistency_sent.get(key, float("-inf")) + CONFIRMATION_EVERY_MS / 1000 - now
        if wait > 0:
            if key not in self._consistency_due:
                self._consistency_due.add(key)
                loop.call_later(wait, self._consistency_check, key)
            return
        self._publish_news("CONSISTENCY_STATUS", key, view)
        if self._published.get(("CONSISTENCY_STATUS", key)) is view:
            self._consistency_sent[key] = now

    def _consistency_check(self, key: tuple[str, PositionSide]) -> None:
        self._consistency_due.discard(key)
        self._consistency_changed(key)

    def account_changed(self) -> None:
        """Publish ACCOUNT_STATUS now, or once ``account_interval`` has passed since the last (the latest figures
        then): every fill moves the wallet by its commission, and a burst must not send the block per fill."""
        if self._account_due:
            return
        loop = asyncio.get_running_loop()
        wait = self._account_sent_at + self.account_interval - loop.time()
        if wait <= 0:
            self._publish_account()
        else:
            self._account_due = True
            loop.call_later(wait, self._publish_account)

    def _publish_account(self) -> None:
        self._account_due = False
        self._account_sent_at = asyncio.get_running_loop().time()
        self._publish_news("ACCOUNT_STATUS", None, self.truth.account)

    def _publish_news(self, event_type: str, key: object, view: Any) -> None:
        if self._published.get((event_type, key)) == view:
            return
        self._published[(event_type, key)] = view
        self.bus.publish(event_type, view)

    def mark_moved(self, symbol: str) -> None:
        """Publish MARK_PRICE (and the open sides' EXTERNAL_POSITION_UPDATE) now, or once ``mark_interval`` has
        passed since the last (throttled; the latest values then)."""
        if symbol in self._mark_due:
            return
        loop = asyncio.get_running_loop()
        sent_at = self._mark_sent[symbol][0] if symbol in self._mark_sent else None
        wait = 0.0 if sent_at is None else sent_at + self.mark_interval - loop.time()
        if wait <= 0:
            self._publish_mark(symbol)
        else:
            self._mark_due.add(symbol)
            loop.call_later(wait, self._publish_mark, symbol)

    def _publish_mark(self, symbol: str) -> None:
        self._mark_due.discard(symbol)
        mark, rate = self.market.mark(symbol), self.market.funding_rates.get(symbol)
        last = self._mark_sent.get(symbol)
        if mark is None or (last is not None and last[1:] == (mark, rate)):
            return
        self._mark_sent[symbol] = (asyncio.get_running_loop().time(), mark, rate)
        ledger = self.book.ledger
        rows = []
        for vp in ledger.vps.values():
            if vp.symbol == symbol and vp.qty != 0 and not vp.archived:
                view = self.vp(vp.vp_id)
                rows.append(VpMarkView(id=vp.vp_id, mark_price=mark, unrealized_pnl=view.unrealized_pnl,
                                       roe_pct=view.roe_pct))
        self.bus.publish("MARK_PRICE", MarkView(symbol=symbol, mark_price=mark, funding_rate=rate,
                                                virtual_positions=tuple(rows)))
        for _, side in self.truth.mark_moved(symbol, mark):
            self._publish_news("EXTERNAL_POSITION_UPDATE", (symbol, side), self.external(symbol, side))


__all__ = ["ACCOUNT_EVENT_INTERVAL", "CONFIRMATION_EVERY_MS", "MARK_EVENT_INTERVAL", "ORDER_MEMORY", "Presenter",
           "SYNCING_NEWS_S"]
