"""The Binance USDT-M venue on python-binance: one adapter for the simulator, testnet and live.

Only the URLs and the keys differ. REST goes through ``AsyncClient``; the user data stream and the market
streams through ``BinanceSocketManager`` (read in dedicated tasks by the caller, with a large queue).

Rate limits: every answer's ``X-MBX-USED-WEIGHT-1M`` is read; above ``slow_down_at`` of the limit the next
requests wait for the minute to roll over; a 429 (-1003) backs off exponentially and retries (Binance
rejects a 429'd request before executing it, so an order retried with the same clientOrderId cannot be
doubled); a 418 (IP ban) stops all requests and raises :class:`IpBanned`.

Errors: Binance's ``{"code", "msg"}`` becomes :class:`VenueRejected` (with ``binance_code``); a request whose
answer never arrived (dropped connection, timeout) becomes :class:`AnswerLost` — the request may or may
not have been executed, and the caller must find out (query by clientOrderId) rather than send it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from binance.async_client import AsyncClient
from binance.exceptions import BinanceAPIException, BinanceRequestException
from binance.ws.constants import WSListenerState
from binance.ws.streams import BinanceSocketManager

from hedgestack.domain.errors import IpBanned, RateLimited, VenueRejected, VenueUnavailable
from hedgestack.venue.binance.parse import (
    ListenKeyExpired,
    MarketMessage,
    StreamDown,
    UserMessage,
    parse_market_message,
    parse_user_message,
)

log = logging.getLogger("hedgestack.venue")

LIVE_REST = "https://fapi.binance.com"
#: python-binance's read loop waits up to TIMEOUT (10 s) on a silent socket before it sees a close request.
SOCKET_POLL_SECONDS = 0.5
LIVE_WS = "wss://fstream.binance.com/"


class AnswerLost(VenueUnavailable):
    """The request left, but no answer came back: it may have been executed."""

    code = "ANSWER_LOST"


@dataclass(frozen=True)
class Endpoints:
    """Where a venue is and how to sign for it. The secret never appears in ``repr``."""

    name: str  # sim | testnet | live
    api_key: str
    api_secret: str
    rest_url: str | None = None  # None: python-binance's own URL for live/testnet
    ws_url: str | None = None

    def __repr__(self) -> str:
        return f"Endpoints(name={self.name!r}, rest_url={self.rest_url!r}, ws_url={self.ws_url!r}, api_key=***)"

    @classmethod
    def sim(cls, url: str, api_key: str, api_secret: str) -> Endpoints:
        base = url.rstrip("/")
        return cls("sim", api_key, api_secret, base, base.replace("http://", "ws://", 1) + "/")

    @classmethod
    def live(cls, api_key: str, api_secret: str) -> Endpoints:
        return cls("live", api_key, api_secret)

    @classmethod
    def testnet(cls, api_key: str, api_secret: str) -> Endpoints:
        return cls("testnet", api_key, api_secret)


class BinanceVenue:
    """REST and streams of one Binance USDT-M account."""

    def __init__(self, endpoints: Endpoints, *, weight_limit: int = 2400, slow_down_at: float = 0.8,
                 max_retries: int = 6, request_timeout: float = 10.0,
                 on_rate_limit: Callable[[str], None] | None = None) -> None:
        self.endpoints = endpoints
        self.weight_limit = weight_limit
        self.slow_down_at = slow_down_at
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.used_weight = 0
        self.order_count = 0
        self.rate_limited = 0
        self.banned_until: float | None = None
        self._on_rate_limit = on_rate_limit
        self.client: AsyncClient | None = None
        self._sockets: set[Any] = set()

    # -- life cycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        ep = self.endpoints
        params = {"timeout": self.request_timeout}
        if ep.rest_url is not None:
            cls = type("HedgestackAsyncClient", (AsyncClient,),
                       {"API_URL": ep.rest_url + "/api", "FUTURES_URL": ep.rest_url + "/fapi"})
            self.client = await cls.create(ep.api_key, ep.api_secret, requests_params=params)
        else:
            self.client = await AsyncClient.create(ep.api_key, ep.api_secret, testnet=ep.name == "testnet",
                                                   requests_params=params)

    async def stop_streams(self) -> None:
        """Close the open sockets so their python-binance read loops end now, not after a receive timeout."""
        for socket in list(self._sockets):
            socket.ws_state = WSListenerState.EXITING
            ws = getattr(socket, "ws", None)
            if ws is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), timeout=1.0)

    async def close(self) -> None:
        await self.stop_streams()
        if self.client is not None:
            await self.client.close_connection()
            self.client = None

    def _client(self) -> AsyncClient:
        if self.client is None:
            raise VenueUnavailable("the venue is not started", code="VENUE_NOT_STARTED")
        return self.client

    # -- the one REST path ------------------------------------------------------------------------
    async def call(self, method: str, *, retry_lost: bool = False, **params: Any) -> Any:
        """Call ``AsyncClient.<method>(**params)`` with throttling, back-off and error mapping."""
        client = self._client()
        fn: Callable[..., Awaitable[Any]] = getattr(client, method)
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            await self._throttle()
            try:
                result = await fn(**params)
                self._read_headers(client.response)
                return result
            except BinanceAPIException as exc:
                self._read_headers(exc.response)
                if exc.status_code == 418:
                    self.banned_until = time.monotonic() + 120
                    raise IpBanned(f"Binance banned this IP ({exc.message}); requests are stopped",
                                   binance_code=exc.code) from None
                if exc.status_code == 429 or exc.code == -1003:
                    self.rate_limited += 1
                    if self._on_rate_limit is not None:
                        self._on_rate_limit(str(exc.message))
                    if attempt == self.max_retries:
                        raise RateLimited(f"rate limited after {attempt + 1} tries: {exc.message}") from None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                if exc.status_code >= 500 and exc.code in (0, None):
                    raise AnswerLost(f"{method}: server error {exc.status_code}; outcome unknown") from None
                raise VenueRejected(str(exc.message), binance_code=int(exc.code or 0)) from None
            except (TimeoutError, aiohttp.ClientError, BinanceRequestException, ConnectionError) as exc:
                if retry_lost and attempt < self.max_retries:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                raise AnswerLost(f"{method}: no answer ({type(exc).__name__}: {exc})") from None
        raise RateLimited("rate limited")  # pragma: no cover - the loop returns or raises

    async def _throttle(self) -> None:
        if self.banned_until is not None:
            if time.monotonic() < self.banned_until:
                raise IpBanned("requests are stopped while Binance bans this IP")
            self.banned_until = None
        if self.used_weight >= self.weight_limit * self.slow_down_at:
            wait = 60.5 - (time.time() % 60)
            log.warning("request weight %s of %s used: waiting %.1f s for the next minute", self.used_weight,
                        self.weight_limit, wait)
            await asyncio.sleep(wait)
            self.used_weight = 0

    def _read_headers(self, response: Any) -> None:
        headers = getattr(response, "headers", None)
        if not headers:
            return
        used = headers.get("X-MBX-USED-WEIGHT-1M") or headers.get("x-mbx-used-weight-1m")
        if used is not None and str(used).isdigit():
            self.used_weight = int(used)
        orders = headers.get("X-MBX-ORDER-COUNT-1M") or headers.get("x-mbx-order-count-1m")
        if orders is not None and str(orders).isdigit():
            self.order_count = int(orders)

    # -- REST endpoints (python-binance method names) -----------------------------------------------
    async def exchange_info(self) -> dict[str, Any]:
        return await self.call("futures_exchange_info", retry_lost=True)

    async def hedge_mode(self) -> bool:
        result = await self.call("futures_get_position_mode", retry_lost=True)
        return bool(result["dualSidePosition"])

    async def set_hedge_mode(self) -> None:
        await self.call("futures_change_position_mode", dualSidePosition="true")

    async def new_order(self, **params: Any) -> dict[str, Any]:
        return await self.call("futures_create_order", **params)

    async def new_algo_order(self, **params: Any) -> dict[str, Any]:
        return await self.call("futures_create_algo_order", algoType="CONDITIONAL", **params)

    async def cancel_order(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        return await self.call("futures_cancel_order", symbol=symbol, origClientOrderId=client_order_id)

    async def cancel_algo_order(self, client_algo_id: str) -> dict[str, Any]:
        return await self.call("futures_cancel_algo_order", clientAlgoId=client_algo_id)

    async def query_order(self, symbol: str, client_order_id: str) -> dict[str, Any] | None:
        """The order with this clientOrderId, or None when Binance does not know it (-2013)."""
        try:
            return await self.call("futures_get_order", symbol=symbol, origClientOrderId=client_order_id,
                                   retry_lost=True)
        except VenueRejected as exc:
            if exc.binance_code in (-2013, -2011):
                return None
            raise

    async def query_algo_order(self, client_algo_id: str) -> dict[str, Any] | None:
        try:
            return await self.call("futures_get_algo_order", clientAlgoId=client_algo_id, retry_lost=True)
        except VenueRejected as exc:
            if exc.binance_code in (-2013, -2011):
                return None
            raise

    async def open_orders(self) -> list[dict[str, Any]]:
        return await self.call("futures_get_open_orders", retry_lost=True)

    async def open_algo_orders(self) -> list[dict[str, Any]]:
        return await self.call("futures_get_open_algo_orders", retry_lost=True)

    async def all_orders(self, symbol: str, **params: Any) -> list[dict[str, Any]]:
        return await self.call("futures_get_all_orders", symbol=symbol, retry_lost=True, **params)

    async def all_algo_orders(self, symbol: str, **params: Any) -> list[dict[str, Any]]:
        return await self.call("futures_get_all_algo_orders", symbol=symbol, retry_lost=True, **params)

    async def user_trades(self, symbol: str, **params: Any) -> list[dict[str, Any]]:
        return await self.call("futures_account_trades", symbol=symbol, retry_lost=True, **params)

    async def position_risk(self) -> list[dict[str, Any]]:
        return await self.call("futures_position_information", retry_lost=True)

    async def income(self, **params: Any) -> list[dict[str, Any]]:
        return await self.call("futures_income_history", retry_lost=True, **params)

    async def premium_index(self, symbol: str) -> dict[str, Any]:
        return await self.call("futures_mark_price", symbol=symbol, retry_lost=True)

    async def klines(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[list[Any]]:
        return await self.call("futures_klines", symbol=symbol, interval=interval, limit=limit, retry_lost=True)

    async def account(self) -> dict[str, Any]:
        return await self.call("futures_account", retry_lost=True)

    # -- streams ----------------------------------------------------------------------------------
    def _socket_manager(self) -> BinanceSocketManager:
        bsm = BinanceSocketManager(self._client(), max_queue_size=100_000)
        if self.endpoints.ws_url is not None:
            bsm.FSTREAM_URL = self.endpoints.ws_url
        return bsm

    def backlog(self) -> int:
        """Messages received on our sockets and not yet taken by the caller (python-binance's queues)."""
        return sum(queue.qsize() for socket in list(self._sockets)
                   if (queue := getattr(socket, "_queue", None)) is not None)

    async def user_messages(self) -> AsyncIterator[UserMessage | list[UserMessage] | StreamUp]:
        """The user data stream forever: ``StreamUp`` on each (re)connect, then parsed messages — a list
        when several were already waiting (the caller appends them in one batch).

        On a disconnect, an ``{'e': 'error'}`` message or ``listenKeyExpired``, the socket is dropped, a
        ``StreamDown``/``ListenKeyExpired`` is yielded, and a new socket (with a new listenKey) is opened.
        Whatever Binance sent in between is lost: the caller backfills over REST after each ``StreamUp``.
        """
        backoff = 0.2
        while self.client is not None:
            try:
                socket = self._socket_manager().futures_user_socket()
                socket.TIMEOUT = SOCKET_POLL_SECONDS  # its read loop notices a close only between receives
                self._sockets.add(socket)
                async with _registered(self._sockets, socket) as stream:
                    backoff = 0.2
                    yield StreamUp("user")
                    while True:
                        raw = await stream.recv()
                        drained = [raw, *_drain(stream)]
                        messages = [parse_user_message(item) for item in drained]
                        yield messages if len(messages) > 1 else messages[0]
                        if any(isinstance(m, ListenKeyExpired) for m in messages):
                            break  # the key is dead: a new socket gets a new one
                        if any(isinstance(m, StreamDown) for m in messages):
                            # python-binance reconnects the socket itself (same listenKey); once it streams
                            # again the caller backfills what was sent meanwhile
                            if not await _reconnected(socket):
                                break
                            yield StreamUp("user")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any socket failure means: down, reconnect
                yield StreamDown(type(exc).__name__, str(exc))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def market_messages(self, symbols: list[str]) -> AsyncIterator[MarketMessage | StreamUp]:
        """markPrice@1s and kline_1m of ``symbols`` forever, reconnecting as the user stream does."""
        streams = [f"{s.lower()}@markPrice@1s" for s in symbols] + [f"{s.lower()}@kline_1m" for s in symbols]
        backoff = 0.2
        while self.client is not None:
            try:
                socket = self._socket_manager().futures_multiplex_socket(streams, category="market")
                socket.TIMEOUT = SOCKET_POLL_SECONDS
                self._sockets.add(socket)
                async with _registered(self._sockets, socket) as stream:
                    backoff = 0.2
                    yield StreamUp("market")
                    while True:
                        message = parse_market_message(await stream.recv())
                        yield message
                        if isinstance(message, StreamDown):
                            if not await _reconnected(socket):
                                break
                            yield StreamUp("market")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                yield StreamDown(type(exc).__name__, str(exc))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


@contextlib.asynccontextmanager
async def _registered(registry: set[Any], socket: Any) -> AsyncIterator[Any]:
    """Enter a python-binance socket, keeping it in ``registry`` (for stop_streams) while it is open."""
    try:
        async with socket as stream:
            yield stream
    finally:
        registry.discard(socket)


def _drain(stream: Any, limit: int = 1000) -> list[Any]:
    """Messages python-binance already holds for us: handled as one batch (one append, one commit)."""
    queue = getattr(stream, "_queue", None)
    items: list[Any] = []
    while queue is not None and not queue.empty() and len(items) < limit:
        items.append(queue.get_nowait())
    return items


async def _reconnected(socket: Any, timeout: float = 30.0) -> bool:
    """Wait until python-binance's socket streams again on an open connection (False: it gave up)."""
    from websockets.protocol import State

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if socket._handle_read_loop is None:  # read loop ended (BinanceWebsocketUnableToConnect)
            return False
        ws = socket.ws
        if socket.ws_state == WSListenerState.STREAMING and ws is not None and ws.state == State.OPEN:
            return True
        await asyncio.sleep(0.05)
    return False


@dataclass(frozen=True, slots=True)
class StreamUp:
    """A stream (re)connected."""

    stream: str
