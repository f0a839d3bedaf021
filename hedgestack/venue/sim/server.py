"""The simulator's server: Binance REST + WebSocket + the control API on one loopback port (aiohttp).

Use it inside a running loop::

    async with SimServer(SimConfig(market="static")) as sim:
        client.FUTURES_URL = sim.url + "/fapi"

or from synchronous code (its own loop in a daemon thread)::

    sim = SimServer.start_in_thread(SimConfig())
    ...
    sim.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import msgspec
from aiohttp import web

from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim import wire
from hedgestack.venue.sim.auth import RateLimiter, check_api_key, check_timestamp, verify_signature
from hedgestack.venue.sim.config import SimConfig
from hedgestack.venue.sim.control import ControlApi
from hedgestack.venue.sim.errors import BinanceCodeError
from hedgestack.venue.sim.exchange import Exchange, fixed
from hedgestack.venue.sim.market import Candles, RandomWalk, ReplaySource, make_source
from hedgestack.venue.sim.rest import BinanceApi
from hedgestack.venue.sim.state import Snapshot
from hedgestack.venue.sim.streams import MarketStreams, UserStreams

log = logging.getLogger(__name__)
T = TypeVar("T")
_encoder = msgspec.json.Encoder()


def _now_ms() -> int:
    return int(time.time() * 1000)


class SimServer:
    """A simulated Binance USDT-M Futures exchange (Hedge Mode) served on 127.0.0.1."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        rng = random.Random(self.config.seed)
        self.source, prices = make_source(self.config, rng)
        self.config_prices = prices
        self.exchange = Exchange(self.config, clock=_now_ms)
        for symbol, price in prices.items():
            self.exchange.markets[symbol].last = price
            self.exchange.markets[symbol].mark = price
            self.exchange.markets[symbol].index = price
        self.candles = Candles()
        if isinstance(self.source, RandomWalk):
            for spec in self.config.symbols:
                self.candles.prefill(spec, prices[spec.symbol], _now_ms(), rng, self.config.volatility)
        self.users = UserStreams(self.config.listen_key_ttl)
        self.market_streams = MarketStreams()
        self.limiter = RateLimiter(self.config.rate_limits)
        self.api = BinanceApi(self)
        self.control = ControlApi(self)
        self.lose_responses: dict[str, int] = {}
        self.exchange.on_user_event = self.users.publish
        self.exchange.on_mark = self._push_mark
        self.exchange.on_change = self._changed
        self._dirty = False
        self._book_id = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        if self.config.persist:
            self._load(Path(self.config.persist))

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
            web.get("/private/ws", self._user_ws),
            web.get("/private/ws/{key}", self._user_ws),
            web.get("/market/ws/{streams:.*}", self._market_ws),
            web.get("/market/stream", self._market_ws),
            web.get("/public/ws/{streams:.*}", self._market_ws),
            web.get("/public/stream", self._market_ws),
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
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._tasks = [asyncio.create_task(self.source.run(self.apply_tick), name="sim-market"),
                       asyncio.create_task(self._mark_timer(), name="sim-mark"),
                       asyncio.create_task(self._key_timer(), name="sim-listenkey")]
        if self.config.auto_funding:
            self._tasks.append(asyncio.create_task(self._funding_timer(), name="sim-funding"))
        if self.config.persist:
            self._tasks.append(asyncio.create_task(self._persist_timer(), name="sim-persist"))
        return self

    async def aclose(self) -> None:
        """Stop the timers, close every socket, stop serving (and save state when persisting)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self.users.disconnect_all()
        await self.market_streams.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.config.persist:
            self._save(Path(self.config.persist))

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
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapped(), loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a simulator started with ``start_in_thread``."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    # == prices =================================================================================
    def apply_tick(self, symbol: str, last: Decimal, mark: Decimal | None, qty: Decimal,
                   buyer_maker: bool) -> None:
        """A market trade at ``last``: prices move, the book matches, market streams get the trade."""
        ex = self.exchange
        ex.set_prices(symbol, last, mark)
        now = _now_ms()
        agg_id = ex.counters.agg_id = ex.counters.agg_id + 1
        candle = self.candles.update(symbol, last, qty, now, taker_buy=not buyer_maker, trade_id=agg_id)
        spec = ex.specs[symbol]
        low = symbol.lower()
        if qty and self.market_streams.wants(f"{low}@aggtrade"):
            q = fixed(qty, spec.quantity_precision)
            self.market_streams.publish(f"{low}@aggtrade", w.AggTrade(
                E=now, s=symbol, a=agg_id, p=fixed(last, spec.price_precision), q=q, nq=q, f=agg_id * 3,
                l=agg_id * 3 + 2, T=now, m=buyer_maker))
        self._push_candle(symbol, candle, now)
        self._push_book(symbol, now)

    def apply_price(self, symbol: str, last: Decimal, mark: Decimal | None, *, from_control: bool) -> None:
        """Set prices from the control API: matching and triggers run, market events go out at once."""
        if isinstance(self.source, RandomWalk):
            self.source.sync(symbol, last)
        self.exchange.set_prices(symbol, last, mark)
        now = _now_ms()
        candle = self.candles.update(symbol, last, Decimal(0), now, taker_buy=False)
        self._push_mark(symbol)
        self._push_candle(symbol, candle, now)
        self._push_book(symbol, now)

    def _push_candle(self, symbol: str, candle: Any, now: int) -> None:
        low = symbol.lower()
        kline_name, cont_name = f"{low}@kline_1m", f"{low}_perpetual@continuouskline_1m"
        if not (self.market_streams.wants(kline_name) or self.market_streams.wants(cont_name)):
            return
        spec = self.exchange.specs[symbol]
        pp, qp = spec.price_precision, spec.quantity_precision
        data = w.KlineData(
            t=candle.open_time, T=candle.close_time, s=symbol, i="1m", f=candle.first_trade_id,
            L=candle.last_trade_id, o=fixed(candle.open, pp), c=fixed(candle.close, pp), h=fixed(candle.high, pp),
            l=fixed(candle.low, pp), v=fixed(candle.volume, qp), n=candle.trades, x=False,
            q=fixed(candle.quote_volume, 5), V=fixed(candle.taker_buy_volume, qp),
            Q=fixed(candle.taker_buy_quote, 5), B="0")
        self.market_streams.publish(kline_name, w.Kline(E=now, s=symbol, k=data))
        self.market_streams.publish(cont_name, w.ContinuousKline(E=now, ps=symbol, ct="PERPETUAL", k=data))

    def _push_book(self, symbol: str, now: int) -> None:
        name = f"{symbol.lower()}@bookticker"
        if not self.market_streams.wants(name):
            return
        spec = self.exchange.specs[symbol]
        last = self.exchange.markets[symbol].last
        tick = Decimal(spec.tick_size)
        self._book_id += 1
        pp = spec.price_precision
        self.market_streams.publish(name, w.BookTicker(
            u=self._book_id, E=now, T=now, s=symbol, b=fixed(last, pp), B="5.000", a=fixed(last + tick, pp),
            A="5.000"))

    def _push_mark(self, symbol: str, *, slow: bool = True) -> None:
        event = wire.mark_price_update(self.exchange, symbol)
        low = symbol.lower()
        self.market_streams.publish(f"{low}@markprice@1s", event)
        if slow:
            self.market_streams.publish(f"{low}@markprice", event)

    async def _mark_timer(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(self.config.mark_push_interval)
            n += 1
            events = [wire.mark_price_update(self.exchange, s) for s in self.exchange.markets]
            for event in events:
                self._push_mark(event.s, slow=n % 3 == 0)
            self.market_streams.publish("!markprice@arr@1s", events)
            if n % 3 == 0:
                self.market_streams.publish("!markprice@arr", events)

    async def _key_timer(self) -> None:
        period = min(1.0, max(0.05, self.config.listen_key_ttl / 10))
        while True:
            await asyncio.sleep(period)
            self.users.expire_due()

    async def _funding_timer(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = _now_ms()
            for symbol, market in self.exchange.markets.items():
                if now >= market.next_funding_time:
                    self.exchange.settle_funding(symbol, market.funding_rate)

    # == HTTP ===================================================================================
    @web.middleware
    async def _errors(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        try:
            return await handler(request)
        except BinanceCodeError as exc:
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
                return self._json(w.BinanceError(code=-1000, msg="Method not allowed."), 405)
            return self._json(w.BinanceError(code=-1000, msg=f"Not found: {request.path}"), 404)
        query = request.rel_url.raw_query_string
        body = await request.text() if request.can_read_body else ""
        params = dict(parse_qsl(body, keep_blank_values=True))
        params.update(parse_qsl(query, keep_blank_values=True))
        try:
            self.limiter.admit(endpoint.weight, order=endpoint.order, signed=endpoint.security == "SIGNED")
            if endpoint.security != "NONE":
                check_api_key(self.config.api_key, request.headers.get("X-MBX-APIKEY"))
            if endpoint.security == "SIGNED":
                check_timestamp(params, _now_ms())
                verify_signature(self.config.api_secret, query, body)
            payload, status = endpoint.handler(params), 200
        except BinanceCodeError as exc:
            payload, status = w.BinanceError(code=exc.code, msg=exc.msg), exc.status
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

    async def _user_ws(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info.get("key") or request.query.get("listenKey") or ""
        return await self.users.handle(request, key)

    async def _market_ws(self, request: web.Request) -> web.StreamResponse:
        route = request.path.split("/")[1]
        combined = request.path.endswith("/stream")
        raw = request.query.get("streams", "") if combined else request.match_info.get("streams", "")
        return await self.market_streams.handle(request, route, raw.split("/"), combined)

    # == control ================================================================================
    async def inject_fault(self, kind: str, data: dict[str, Any]) -> None:
        """Apply one fault of the control API (see control.py)."""
        if kind == "disconnect_user_stream":
            await self.users.disconnect_all()
        elif kind == "pause_user_stream":
            self.users.pause_until = self.users.clock() + float(data.get("seconds", 5))
        elif kind == "duplicate_events":
            self.users.duplicate = int(data.get("count", 1))
        elif kind == "lose_rest_response":
            path = str(data.get("path", "/fapi/v1/order"))
            self.lose_responses[path] = self.lose_responses.get(path, 0) + int(data.get("count", 1))
        elif kind == "rate_limit":
            self.limiter.forced = int(data.get("count", 1))
        elif kind == "expire_listen_key":
            self.users.expire_all()

    async def reset(self) -> None:
        """Fresh account (10,000 USDT by default, Hedge Mode); user streams closed, listenKeys invalid."""
        self.exchange.reset()
        await self.users.reset()
        self.users.pause_until = 0.0
        self.users.duplicate = 0
        self.lose_responses.clear()
        self.limiter.reset()

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
            row["clientOrderId"] = t.client_order_id
            trades.append(row)
        return {
            "wallet_balance": fixed(ex.account.wallet, 8),
            "positions": positions,
            "open_orders": [msgspec.to_builtins(wire.order(ex, o)) for o in ex.open_orders()],
            "open_algo_orders": [msgspec.to_builtins(wire.algo_order(ex, a)) for a in ex.open_algos()],
            "trades": trades,
        }

    # == persistence ============================================================================
    def _changed(self) -> None:
        self._dirty = True

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        snap = msgspec.json.decode(path.read_bytes(), type=Snapshot)
        self.exchange.restore(snap)
        if isinstance(self.source, RandomWalk):
            for symbol, market in self.exchange.markets.items():
                self.source.sync(symbol, market.last)

    def _save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(msgspec.json.encode(self.exchange.snapshot()))
        os.replace(tmp, path)
        self._dirty = False

    async def _persist_timer(self) -> None:
        assert self.config.persist
        path = Path(self.config.persist)
        while True:
            await asyncio.sleep(0.5)
            if self._dirty:
                try:
                    self._save(path)
                except OSError as exc:  # keep serving; report once per failure
                    log.warning("could not persist the simulator state to %s: %s", path, exc)


__all__ = ["ReplaySource", "SimServer"]
