"""The simulator's server: Binance REST + WebSocket + the control API on one loopback port (aiohttp).

It owns the parts and their timing: the exchange (matching, margin, funding), the price source that moves the
market, candles and trades per symbol, the WebSocket streams, persistence. Use it inside a running loop::

    async with SimServer(SimConfig(market="static")) as sim:
        client.FUTURES_URL = sim.url + "/fapi"

or from synchronous code (its own loop in a daemon thread)::

    sim = SimServer.start_in_thread(SimConfig())
    ...
    sim.stop()

Everything runs on the server's event loop; every request, market step and timer that changes state commits
it (persist.py) before its answer or its events leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

import msgspec
from aiohttp import web

from hedgestack.domain.numbers import ZERO
from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim import replay, wire
from hedgestack.venue.sim.auth import RateLimiter, check_api_key, check_timestamp, verify_signature
from hedgestack.venue.sim.book import ASK, BID, level_rows
from hedgestack.venue.sim.config import SimConfig
from hedgestack.venue.sim.control import ControlApi
from hedgestack.venue.sim.errors import BinanceCodeError
from hedgestack.venue.sim.exchange import Exchange, fixed, money
from hedgestack.venue.sim.funding import FundingRow, impact_notional, premium_index
from hedgestack.venue.sim.history import INTERVALS, Candle, PublicTrade, SymbolHistory, bucket_end, bucket_start
from hedgestack.venue.sim.market import MarkModel, RandomWalk, ReplaySource, Step, make_source
from hedgestack.venue.sim.persist import Identity, Store
from hedgestack.venue.sim.rest import BinanceApi
from hedgestack.venue.sim.streams import Streams

if TYPE_CHECKING:
    from collections.abc import Callable

    from hedgestack.venue.sim.state import SimOrder

log = logging.getLogger(__name__)
T = TypeVar("T")
_encoder = msgspec.json.Encoder()
DEPTH_SPEEDS = {"@100ms": 2, "": 5, "@250ms": 5, "@500ms": 10}  # in 50 ms beats
PAST_FUNDINGS = 200


def _now_ms() -> int:
    return int(time.time() * 1000)


class SimServer:
    """A simulated Binance USDT-M Futures exchange (Hedge Mode) served on 127.0.0.1."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.started_ms = _now_ms()
        rng = random.Random(self.config.seed)
        self.seed = self.config.seed if self.config.seed is not None else random.randrange(2**31)
        self.source, prices = make_source(self.config, rng)
        self.store = Store(self.config.persist) if self.config.persist else None
        self.identity = self.store.identity if self.store is not None else Identity.draw()
        self.exchange = Exchange(self.config, clock=_now_ms, journal=self.store)
        for symbol, price in prices.items():
            market = self.exchange.markets[symbol]
            market.last = market.mark = market.index = price
            book = self.exchange.books[symbol]
            book.move_to(book.t(price))
        if self.store is not None and self.store.load(self.exchange):
            self.exchange.restore_books()
            for symbol, market in self.exchange.markets.items():
                book = self.exchange.books[symbol]
                book.move_to(book.t(market.last) - (book.spread // 2 if not self.exchange.book_on[symbol] else 0))
                if isinstance(self.source, RandomWalk):
                    self.source.sync(symbol, market.last)
        self.streams = Streams(self.exchange.markets, self.config.listen_key_ttl)
        self.users = self.streams  # the former name (faults, tests)
        self.limiter = RateLimiter(self.config.rate_limits)
        self.api = BinanceApi(self)
        self.control = ControlApi(self)
        self.lose_responses: dict[str, int] = {}
        self._histories: dict[str, SymbolHistory] = {}
        self._marks: dict[str, MarkModel] = {s: MarkModel() for s in self.exchange.markets}
        self._tops: dict[str, tuple[Any, Any]] = {}
        self._depth_sent: dict[str, int] = {}
        self._kline_sent: dict[str, tuple[int, int, int, int]] = {}
        self._past_funding: dict[str, list[FundingRow]] = {}
        self._mark_from_file: set[str] = set()
        self.exchange.on_user_event = self.streams.publish_user
        self.exchange.on_public_trade = self._public_trade
        self.exchange.on_force_order = self._force_order
        self.exchange.on_mark = self.push_mark
        self.exchange.on_book = self._book_changed
        self.exchange.on_change = self._changed
        self.streams.on_subscribe = self._subscribed
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.commit()

    # == addresses ==============================================================================
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not running")
        return self._port

    @property
    def url(self) -> str:
        """Base URL: ``FUTURES_URL = url + "/fapi"``, ``API_URL = url + "/api"``."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base for ``BinanceSocketManager.FSTREAM_URL`` (ends with a slash)."""
        return f"ws://{self.config.host}:{self.port}/"

    # == lifecycle ==============================================================================
    def _app(self) -> web.Application:
        app = web.Application()
        app.add_routes(self.control.routes())
        app.add_routes([
            web.get("/private/ws", self._ws),
            web.get("/private/ws/{names:.*}", self._ws),
            web.get("/private/stream", self._ws),
            web.get("/market/ws", self._ws),
            web.get("/market/ws/{names:.*}", self._ws),
            web.get("/market/stream", self._ws),
            web.get("/public/ws", self._ws),
            web.get("/public/ws/{names:.*}", self._ws),
            web.get("/public/stream", self._ws),
            web.get("/ws", self._ws),
            web.get("/ws/{names:.*}", self._ws),
            web.get("/stream", self._ws),
            web.route("*", "/{tail:.*}", self._dispatch),
        ])
        app.middlewares.append(self._errors)
        return app

    async def astart(self) -> SimServer:
        """Bind and start serving (port 0 → a free port), then start the market and timers."""
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self._tasks = [asyncio.create_task(self.source.run(self), name="sim-market"),
                       asyncio.create_task(self._mark_timer(), name="sim-mark"),
                       asyncio.create_task(self._key_timer(), name="sim-listenkey"),
                       asyncio.create_task(self._second_timer(), name="sim-expiry"),
                       asyncio.create_task(self._stream_timer(), name="sim-streams")]
        if self.config.funding_scheduled:
            self._tasks.append(asyncio.create_task(self._funding_timer(), name="sim-funding"))
        return self

    async def aclose(self) -> None:
        """Stop the timers, close every socket, stop serving (state is already committed)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self.streams.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.commit()
        if self.store is not None:
            self.store.close()

    async def __aenter__(self) -> SimServer:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @classmethod
    def start_in_thread(cls, config: SimConfig | None = None) -> SimServer:
        """Start a simulator on its own event loop in a daemon thread; ``stop()`` ends it."""
        server = cls(config)
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.astart())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        server._thread = threading.Thread(target=run, name="hedgestack-sim", daemon=True)
        server._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return server

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` on the simulator's loop (thread mode) and return its result."""
        loop = self._loop
        assert loop is not None

        async def wrapped() -> T:
            result = fn()
            self.commit()
            return result

        return asyncio.run_coroutine_threadsafe(wrapped(), loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a simulator started with ``start_in_thread``."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    # == persistence =============================================================================
    def _changed(self) -> None:
        if self.store is not None:
            self.store.touch()

    def commit(self) -> None:
        if self.store is None:
            return
        try:
            self.store.commit(self.exchange)
        except Exception:  # noqa: BLE001 - keep serving; the next commit retries
            log.exception("could not persist the simulator state to %s", self.store.path)

    # == market data =============================================================================
    def history(self, symbol: str) -> SymbolHistory:
        history = self._histories.get(symbol)
        if history is None:
            spec = self.exchange.specs[symbol]
            start_price = self.exchange.markets[symbol].last
            history = SymbolHistory(
                symbol=symbol, tick=spec.tick, step=spec.step, start_price=start_price, start_ms=self.started_ms,
                volatility=self.config.volatility, trades_per_second=spec.trades_per_second,
                trade_notional=spec.trade_notional, seed=self.seed + sum(map(ord, symbol)),
                min_ticks=max(1, int(Decimal(spec.min_price) / spec.tick)),
                max_ticks=int(Decimal(spec.max_price) / spec.tick))
            self._histories[symbol] = history
        return history

    def funding_history(self, symbol: str) -> list[FundingRow]:
        """Settled funding: generated past settlements (the model's rate, the candles' close), then this run's."""
        state = self.exchange.funding[symbol]
        past = self._past_funding.get(symbol)
        if past is None:
            interval = state.interval_ms
            first = state.next_time - (PAST_FUNDINGS + 1) * interval
            rows = []
            history = self.history(symbol)
            for k in range(PAST_FUNDINGS):
                when = first + k * interval
                if when >= self.started_ms:
                    break
                candles = history.candles("1h", None, when, 1, when)
                mark = candles[-1].c * self.exchange.specs[symbol].tick if candles else self.exchange.markets[
                    symbol].mark
                rows.append(FundingRow(symbol=symbol, rate=state.interest, time=when, mark=mark))
            persisted_first = state.history[0].time if state.history else None
            past = [r for r in rows if persisted_first is None or r.time < persisted_first]
            self._past_funding[symbol] = past
        return past + state.history

    def _public_trade(self, symbol: str, price: Decimal, qty: Decimal, buyer_maker: bool, ts: int,
                      trade_id: int) -> None:
        trade = PublicTrade(id=trade_id, price=price, qty=qty, time=ts, buyer_maker=buyer_maker)
        self.history(symbol).record(trade, taker_buy=not buyer_maker)
        low = symbol.lower()
        spec = self.exchange.specs[symbol]
        if self.streams.wants(f"{low}@trade"):
            self.streams.publish_market(f"{low}@trade", w.TradeEvent(
                E=ts, T=ts, s=symbol, t=trade_id, p=fixed(price, spec.price_precision),
                q=fixed(qty, spec.quantity_precision), X="MARKET", m=buyer_maker))
        if self.streams.wants(f"{low}@aggtrade"):
            q = fixed(qty, spec.quantity_precision)
            self.streams.publish_market(f"{low}@aggtrade", w.AggTrade(
                E=ts, s=symbol, a=trade_id, p=fixed(price, spec.price_precision), q=q, nq=q, f=trade_id,
                l=trade_id, T=ts, m=buyer_maker, st=1))

    def _force_order(self, order: SimOrder) -> None:
        event = wire.force_order_event(self.exchange, order)
        self.streams.publish_market(f"{order.symbol.lower()}@forceorder", event)
        self.streams.publish_market("!forceorder@arr", event)

    def depth_snapshot(self, symbol: str, limit: int) -> w.Depth:
        book = self.exchange.books[symbol]
        spec = self.exchange.specs[symbol]
        bids, asks = book.depth(limit)
        now = _now_ms()
        return w.Depth(lastUpdateId=book.update_id, E=now, T=now,
                       bids=[[fixed(book.price(t), spec.price_precision), fixed(q, spec.quantity_precision)]
                             for t, q in bids],
                       asks=[[fixed(book.price(t), spec.price_precision), fixed(q, spec.quantity_precision)]
                             for t, q in asks])

    def _top(self, symbol: str) -> tuple[Any, Any]:
        book = self.exchange.books[symbol]
        return book.best(BID), book.best(ASK)

    def book_ticker(self, symbol: str) -> w.BookTickerRest:
        spec = self.exchange.specs[symbol]
        book = self.exchange.books[symbol]
        bid, ask = self._top(symbol)
        pp, qp = spec.price_precision, spec.quantity_precision
        return w.BookTickerRest(
            symbol=symbol, bidPrice=fixed(book.price(bid[0]), pp) if bid else "0", bidQty=fixed(bid[1], qp) if bid
            else "0", askPrice=fixed(book.price(ask[0]), pp) if ask else "0",
            askQty=fixed(ask[1], qp) if ask else "0", time=_now_ms(), lastUpdateId=book.update_id)

    def _book_ticker_event(self, symbol: str) -> w.BookTicker:
        rest = self.book_ticker(symbol)
        now = _now_ms()
        return w.BookTicker(u=self.exchange.books[symbol].update_id, E=now, T=now, s=symbol, b=rest.bidPrice,
                            B=rest.bidQty, a=rest.askPrice, A=rest.askQty, ps=symbol, st=1)

    def _book_changed(self, symbol: str) -> None:
        key = f"{symbol.lower()}@bookticker"
        if not self.streams.wants(key):
            return
        top = self._top(symbol)
        if self._tops.get(symbol) == top:
            return
        self._tops[symbol] = top
        self.streams.publish_market(key, self._book_ticker_event(symbol))

    def ticker(self, symbol: str) -> w.Ticker24h:
        now = _now_ms()
        spec = self.exchange.specs[symbol]
        tick, step = spec.tick, spec.step
        pp, qp = spec.price_precision, spec.quantity_precision
        history = self.history(symbol)
        s = history.stats(now)
        last = self.exchange.markets[symbol].last
        open_ = s.o * tick
        change = last - open_
        volume = s.v * step
        quote = money(Decimal(s.q) * tick * step)
        trades = history.trades
        last_qty = trades[-1].qty if trades else ZERO
        first_id = trades[0].id if trades else (s.f if s.f >= 0 else 0)
        last_id = trades[-1].id if trades else (s.L if s.L >= 0 else 0)
        return w.Ticker24h(
            symbol=symbol, priceChange=fixed(change, pp),
            priceChangePercent=fixed((change / open_ * 100).quantize(Decimal("0.001")) if open_ else ZERO, 3),
            weightedAvgPrice=fixed((quote / volume).quantize(tick) if volume else last, pp),
            lastPrice=fixed(last, pp), lastQty=fixed(last_qty, qp), openPrice=fixed(open_, pp),
            highPrice=fixed(max(s.h * tick, last), pp), lowPrice=fixed(min(s.l * tick, last), pp),
            volume=fixed(volume, qp), quoteVolume=fixed(quote, 2), openTime=s.t, closeTime=now, firstId=first_id,
            lastId=last_id, count=s.n)

    def open_interest(self, symbol: str) -> Decimal:
        """The market's open interest (model: about 30 % of a day's volume) plus the account's positions."""
        spec = self.exchange.specs[symbol]
        price = self.exchange.markets[symbol].mark
        base = spec.trade_notional * Decimal(str(spec.trades_per_second)) * 86_400 * Decimal("0.3") / price
        base = (base / spec.step).to_integral_value() * spec.step
        own = sum((abs(p.amount) for p in self.exchange.account.positions.values() if p.symbol == symbol), ZERO)
        return base + own

    # == the market ==============================================================================
    def random_step(self, step: Step, seconds: float) -> None:
        """One step of the random market for one symbol (market.py)."""
        ex = self.exchange
        symbol = step.symbol
        book = ex.books[symbol]
        old_bid = book.bid_t
        if step.bid_t != old_bid:
            ex.market_move(symbol, step.bid_t)
            if step.sweep is not None:
                aggressor, qty = step.sweep
                t = book.ask_t - 1 if step.bid_t > old_bid else book.bid_t + 1
                ex.print_trade(symbol, book.price(t), qty, buyer_maker=step.bid_t < old_bid)
        for aggressor, qty in step.trades:
            ex.market_trade(symbol, aggressor, qty)
        ex.refill(symbol, seconds)
        self._reprice(symbol, step.index)
        self.commit()

    def _reprice(self, symbol: str, index: Decimal) -> None:
        """Mark price by Binance's rule, a premium-index sample for funding, triggers and liquidation."""
        ex = self.exchange
        book = ex.books[symbol]
        market = ex.markets[symbol]
        state = ex.funding[symbol]
        now = _now_ms()
        bid, ask = book.best(BID), book.best(ASK)
        mid = (book.price(bid[0]) + book.price(ask[0])) / 2 if bid and ask else None
        if symbol in self._mark_from_file:
            mark = None
        else:
            mark = self._marks[symbol].mark(now=now, index=index, mid=mid, last=market.last, rate=state.rate,
                                            until_funding_ms=state.next_time - now, interval_ms=state.interval_ms)
        notional = impact_notional(ex.specs[symbol].max_leverage)
        ex.sample_premium(symbol, premium_index(index, book.impact_price(BID, notional),
                                                book.impact_price(ASK, notional)))
        ex.market_prices(symbol, mark=mark, index=index)

    def replay_event(self, event: replay.Event) -> None:
        """One event of the replayed files (replay.py)."""
        ex = self.exchange
        symbol = event.symbol
        if isinstance(event, replay.Trade):
            ex.external_trade(symbol, event.price, event.qty, "SELL" if event.buyer_maker else "BUY")
            self._reprice(symbol, event.price)
        elif isinstance(event, replay.Quote):
            ex.external_quote(symbol, event.bid, event.ask)
            self._reprice(symbol, (event.bid + event.ask) / 2)
        elif isinstance(event, replay.Mark):
            self._mark_from_file.add(symbol)
            ex.market_prices(symbol, mark=event.mark)
            self.push_mark(symbol)
        elif isinstance(event, replay.Funding):
            ex.settle_funding(symbol, event.rate)
        self.commit()

    def apply_price(self, symbol: str, last: Decimal, mark: Decimal | None, *, qty: Decimal = ZERO) -> None:
        """Set prices from the control API: fills, triggers and liquidation happen before this returns."""
        if isinstance(self.source, RandomWalk):
            self.source.sync(symbol, last)
        self.exchange.set_prices(symbol, last, mark, qty=qty)
        self.history(symbol).update(last, ZERO, _now_ms())
        self.push_mark(symbol)
        self.commit()

    # == timers and pushes =======================================================================
    def push_mark(self, symbol: str, *, slow: bool = True) -> None:
        event = wire.mark_price_update(self.exchange, symbol)
        low = symbol.lower()
        self.streams.publish_market(f"{low}@markprice@1s", event)
        if slow:
            self.streams.publish_market(f"{low}@markprice", event)

    async def _mark_timer(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(self.config.mark_push_interval)
            n += 1
            slow = n % 3 == 0
            if any(k.endswith("@markprice@1s") or (slow and k.endswith("@markprice")) or k.startswith("!markprice")
                   for k in self.streams.by_key):
                events = [wire.mark_price_update(self.exchange, s) for s in self.exchange.markets]
                for event in events:
                    self.push_mark(event.s, slow=slow)
                self.streams.publish_market("!markprice@arr@1s", events)
                if slow:
                    self.streams.publish_market("!markprice@arr", events)

    async def _key_timer(self) -> None:
        period = min(1.0, max(0.05, self.config.listen_key_ttl / 10))
        while True:
            await asyncio.sleep(period)
            self.streams.expire_due()

    async def _second_timer(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.exchange.expire_due(_now_ms())
            self.commit()

    async def _funding_timer(self) -> None:
        skip = self.source.funded_symbols if isinstance(self.source, ReplaySource) else set()
        while True:
            intervals = [f.interval_ms for f in self.exchange.funding.values()]
            await asyncio.sleep(max(0.05, min(1.0, min(intervals) / 20_000)))
            now = _now_ms()
            for symbol in self.exchange.funding_due(now):
                if symbol in skip:
                    continue
                when = self.exchange.funding[symbol].next_time
                self.exchange.settle_funding(symbol, when=when)
            self.commit()

    def _subscribed(self, key: str) -> None:
        """A stream gained a subscriber: the book keeps a journal for diff depth; baselines are set."""
        head, _, tail = key.partition("@")
        if tail.startswith("depth") and head.upper() in self.exchange.books:
            book = self.exchange.books[head.upper()]
            book.journal = True
            self._depth_sent.setdefault(key, book.update_id)

    async def _stream_timer(self) -> None:
        beat = 0
        while True:
            await asyncio.sleep(0.05)
            beat += 1
            try:
                self._push_depth(beat)
                if beat % 5 == 0:
                    self._push_klines()
                if beat % 20 == 0:
                    self._push_tickers(every=beat % 40 == 0)
                if beat % 100 == 0:
                    if self.streams.wants("!bookticker"):
                        for symbol in self.exchange.markets:
                            self.streams.publish_market("!bookticker", self._book_ticker_event(symbol))
            except Exception:  # noqa: BLE001 - one bad push must not stop the streams
                log.exception("stream push failed")

    def _push_depth(self, beat: int) -> None:
        now = _now_ms()
        for key in [k for k in self.streams.by_key if "@depth" in k]:
            head, _, tail = key.partition("@")
            symbol = head.upper()
            book = self.exchange.books.get(symbol)
            if book is None:
                continue
            levels = tail[5:].split("@")[0]
            speed = "@" + tail.split("@")[1] if "@" in tail else ""
            if beat % DEPTH_SPEEDS.get(speed, 5):
                continue
            spec = self.exchange.specs[symbol]
            pp, qp = spec.price_precision, spec.quantity_precision
            last = self._depth_sent.get(key, book.update_id)
            if levels:  # partial book: the top N every period
                bids, asks = book.depth(int(levels))
            else:
                changes = book.changes_since(last)
                if not changes:
                    continue
                bids, asks = level_rows(book, sorted(changes))
            u = book.update_id
            event = w.DepthUpdate(
                E=now, T=now, s=symbol, U=last + 1, u=u, pu=last,
                b=[[fixed(book.price(t), pp), fixed(q, qp)] for t, q in bids],
                a=[[fixed(book.price(t), pp), fixed(q, qp)] for t, q in asks], st=1)
            self._depth_sent[key] = u
            self.streams.publish_market(key, event)
        for symbol, book in self.exchange.books.items():
            if book.journal:
                low = symbol.lower()
                readers = [v for k, v in self._depth_sent.items() if k.startswith(low + "@depth")
                           and self.streams.wants(k)]
                if readers:
                    book.trim_journal(min(readers))
                else:
                    book.journal = False
                    book.trim_journal(book.update_id)

    def _push_klines(self) -> None:
        now = _now_ms()
        for key in [k for k in self.streams.by_key if "kline_" in k]:
            head, _, tail = key.partition("@")
            continuous = tail.startswith("continuouskline_")
            interval = tail.split("_", 1)[1]
            symbol = (head.split("_")[0] if continuous else head).upper()
            if symbol not in self.exchange.markets or interval not in INTERVALS:
                continue
            history = self.history(symbol)
            rows = history.candles(interval, None, now, 1, now)
            if not rows:
                continue
            current = rows[-1]
            sent = self._kline_sent.get(key)
            signature = (current.t, current.v, current.c, current.n)
            if sent is not None and sent[0] < current.t:
                closed = history.candles(interval, sent[0], bucket_end(sent[0], interval), 1, now)
                if closed:
                    self._publish_kline(key, symbol, interval, closed[0], closed=True, continuous=continuous)
            if sent == signature:
                continue
            self._kline_sent[key] = signature
            self._publish_kline(key, symbol, interval, current, closed=False, continuous=continuous)

    def _publish_kline(self, key: str, symbol: str, interval: str, candle: Candle, *, closed: bool,
                       continuous: bool) -> None:
        data = wire.kline_data(self.exchange, symbol, interval, candle, bucket_end(candle.t, interval), closed)
        now = _now_ms()
        if continuous:
            self.streams.publish_market(key, w.ContinuousKline(E=now, ps=symbol, ct="PERPETUAL", k=data))
        else:
            self.streams.publish_market(key, w.Kline(E=now, s=symbol, k=data))

    def _push_tickers(self, *, every: bool) -> None:
        everything = self.streams.wants("!ticker@arr") or self.streams.wants("!miniticker@arr")
        tickers: list[w.TickerEvent] = []
        minis: list[w.MiniTicker] = []
        for symbol in self.exchange.markets:
            low = symbol.lower()
            one = every and (self.streams.wants(f"{low}@ticker") or self.streams.wants(f"{low}@miniticker"))
            if not (one or everything):
                continue
            t = self.ticker(symbol)
            now = _now_ms()
            event = w.TickerEvent(E=now, s=symbol, p=t.priceChange, P=t.priceChangePercent, w=t.weightedAvgPrice,
                                  c=t.lastPrice, Q=t.lastQty, o=t.openPrice, h=t.highPrice, l=t.lowPrice, v=t.volume,
                                  q=t.quoteVolume, O=t.openTime, C=t.closeTime, F=t.firstId, L=t.lastId, n=t.count)
            mini = w.MiniTicker(E=now, s=symbol, c=t.lastPrice, o=t.openPrice, h=t.highPrice, l=t.lowPrice,
                                v=t.volume, q=t.quoteVolume)
            tickers.append(event)
            minis.append(mini)
            if one:
                self.streams.publish_market(f"{low}@ticker", event)
                self.streams.publish_market(f"{low}@miniticker", mini)
        if tickers:
            self.streams.publish_market("!ticker@arr", tickers)
            self.streams.publish_market("!miniticker@arr", minis)

    # == HTTP ===================================================================================
    @web.middleware
    async def _errors(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        try:
            return await handler(request)
        except BinanceCodeError as exc:
            if exc.detail:
                log.info("%s %s refused %s: %s", request.method, request.path, exc.code, exc.detail)
            self.commit()
            return self._json(w.BinanceError(code=exc.code, msg=exc.msg), exc.status)

    @staticmethod
    def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=_encoder.encode(payload), status=status, content_type="application/json",
                            headers=headers)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        endpoint = self.api.table.get((request.method, request.path))
        if endpoint is None:
            known = any(path == request.path for _, path in self.api.table)
            if known:
                return self._json(w.BinanceError(code=-1000, msg="An unknown error occured while processing the "
                                                 "request."), 405)
            log.info("no such endpoint: %s %s", request.method, request.path)
            return self._json(w.BinanceError(code=-1000, msg="An unknown error occured while processing the "
                                             "request."), 404)
        query = request.rel_url.raw_query_string
        body = await request.text() if request.can_read_body else ""
        params = dict(parse_qsl(body, keep_blank_values=True))
        params.update(parse_qsl(query, keep_blank_values=True))
        try:
            self.limiter.admit(endpoint.cost(params), order=endpoint.order, signed=endpoint.security == "SIGNED")
            if endpoint.security != "NONE":
                check_api_key(self.config.api_key, request.headers.get("X-MBX-APIKEY"))
            if endpoint.security == "SIGNED":
                check_timestamp(params, _now_ms())
                verify_signature(self.config.api_secret, query, body)
            payload, status = endpoint.handler(params), 200
        except BinanceCodeError as exc:
            if exc.detail:
                log.info("%s %s refused %s: %s", request.method, request.path, exc.code, exc.detail)
            payload, status = w.BinanceError(code=exc.code, msg=exc.msg), exc.status
        self.commit()
        headers = {"X-MBX-USED-WEIGHT-1M": str(self.limiter.used_weight())}
        if endpoint.order:
            per_min, per_10s = self.limiter.order_counts()
            headers["X-MBX-ORDER-COUNT-1M"] = str(per_min)
            headers["X-MBX-ORDER-COUNT-10S"] = str(per_10s)
        if self._take_loss(request.path):
            # the request was executed; the connection drops before the answer
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        return self._json(payload, status, headers)

    def _take_loss(self, path: str) -> bool:
        left = self.lose_responses.get(path, 0)
        if left <= 0:
            return False
        self.lose_responses[path] = left - 1
        return True

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")
        route = parts[0] if parts[0] in ("public", "market", "private") else "legacy"
        mode = parts[1] if route != "legacy" and len(parts) > 1 else parts[0]
        combined = mode == "stream"
        if combined:
            names = [n for n in request.query.get("streams", "").split("/") if n]
        else:
            names = [n for n in request.match_info.get("names", "").split("/") if n]
        keys = [k for k in request.query.getall("listenKey", []) if k]
        events_raw = request.query.get("events")
        events = [e for e in events_raw.split("/") if e] if events_raw else None
        if route == "private" and not combined:
            keys += names
            names = []
        return await self.streams.handle(request, route=route, combined=combined, names=names, keys=keys,
                                         events=events)

    # == control ================================================================================
    async def inject_fault(self, kind: str, data: dict[str, Any]) -> None:
        """Apply one fault of the control API (see control.py)."""
        if kind == "disconnect_user_stream":
            await self.streams.disconnect_users()
        elif kind == "pause_user_stream":
            self.streams.pause_until = self.streams.clock() + float(data.get("seconds", 5))
        elif kind == "duplicate_events":
            self.streams.duplicate = int(data.get("count", 1))
        elif kind == "lose_rest_response":
            path = str(data.get("path", "/fapi/v1/order"))
            self.lose_responses[path] = self.lose_responses.get(path, 0) + int(data.get("count", 1))
        elif kind == "rate_limit":
            self.limiter.forced = int(data.get("count", 1))
        elif kind == "expire_listen_key":
            self.streams.expire_all()

    async def reset(self) -> None:
        """Fresh account (the --balance wallet, Hedge Mode, cross); user streams closed, listenKeys invalid; ids
        keep counting and the identity stays."""
        self.exchange.reset()
        await self.streams.reset()
        self.streams.pause_until = 0.0
        self.streams.duplicate = 0
        self.lose_responses.clear()
        self.limiter.reset()
        self.commit()

    def truth(self) -> dict[str, Any]:
        """The exchange's truth, in the control API's ``/sim/v1/account`` shape."""
        ex = self.exchange
        positions = []
        for pos in ex.positions():
            row = wire.position_v3(ex, pos)
            positions.append({"symbol": row.symbol, "positionSide": row.positionSide,
                              "positionAmt": row.positionAmt, "entryPrice": row.entryPrice,
                              "unrealizedProfit": row.unRealizedProfit, "markPrice": row.markPrice})
        trades = []
        for t in ex.account.trades:
            row = msgspec.to_builtins(wire.user_trade(ex, t))
            for extra in ("marginAsset", "baseQty", "pair"):
                row.pop(extra, None)
            row["clientOrderId"] = t.client_order_id
            trades.append(row)
        return {
            "wallet_balance": fixed(ex.account.wallet, 8),
            "positions": positions,
            "open_orders": [{k: v for k, v in msgspec.to_builtins(wire.order(ex, o)).items() if k != "pair"}
                            for o in ex.open_orders()],
            "open_algo_orders": [msgspec.to_builtins(wire.algo_order(ex, a)) for a in ex.open_algos()],
            "trades": trades,
        }


__all__ = ["ReplaySource", "SimServer", "bucket_start"]
