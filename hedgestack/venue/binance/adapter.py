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
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from binance.async_client import AsyncClient
from binance.exceptions import BinanceAPIException, BinanceRequestException
from binance.ws.constants import WSListenerState
from binance.ws.streams import BinanceSocketManager

from hedgestack.domain.errors import AnswerLost, IpBanned, RateLimited, VenueRejected, VenueUnavailable
from hedgestack.venue.binance import parse
from hedgestack.venue.binance.parse import parse_market_message, parse_user_message
from hedgestack.venue.port import (
    Account,
    AlgoOrderRequest,
    Candle,
    ExchangeAlgoOrder,
    ExchangeOrder,
    ExchangeRules,
    FundingIncome,
    ListenKeyExpired,
    MarketMessage,
    OrderRequest,
    Position,
    Premium,
    StreamDown,
    StreamUp,
    SymbolSettings,
    Trade,
    UserMessage,
    VenueIdentity,
    weight_allows,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
    from decimal import Decimal

log = logging.getLogger("hedgestack.venue")

LIVE_REST = "https://fapi.binance.com"
#: while above the weight threshold, requests pause this long (at most) before the count is read again (s)
THROTTLE_STEP = 10.0
#: python-binance's read loop waits up to TIMEOUT (10 s) on a silent socket before it sees a close request.
SOCKET_POLL_SECONDS = 0.5
LIVE_WS = "wss://fstream.binance.com/"


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
        self._user_socket: Any = None

    # -- life cycle -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.endpoints.name

    @property
    def where(self) -> str:
        """The REST base URL this venue talks to (for messages)."""
        if self.endpoints.rest_url is not None:
            return self.endpoints.rest_url
        return "https://testnet.binancefuture.com" if self.endpoints.name == "testnet" else LIVE_REST

    async def start(self) -> None:
        """Open the HTTP session and check the venue answers (``/fapi/v1/ping``). An unreachable venue (offline,
        DNS, refused) is one VenueUnavailable naming it, with no session left open."""
        ep = self.endpoints
        params = {"timeout": self.request_timeout}
        if ep.rest_url is not None:
            cls = type("HedgestackAsyncClient", (AsyncClient,),
                       {"API_URL": ep.rest_url + "/api", "FUTURES_URL": ep.rest_url + "/fapi"})
            client = cls(ep.api_key, ep.api_secret, requests_params=params)
        else:
            client = AsyncClient(ep.api_key, ep.api_secret, testnet=ep.name == "testnet", requests_params=params)
        try:
            await client.futures_ping()
        except (TimeoutError, aiohttp.ClientError, BinanceRequestException, BinanceAPIException, OSError) as exc:
            await client.close_connection()
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise VenueUnavailable(f"cannot reach the {ep.name} venue at {self.where}: {reason}",
                                   code="VENUE_UNREACHABLE") from None
        self.client = client

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
    async def call(self, method: str, *, retry_lost: bool = False, trading: bool = False, **params: Any) -> Any:
        """Call ``AsyncClient.<method>(**params)`` with throttling (``trading``: an order, a cancel or its query,
        which waits only near the limit, see :func:`~hedgestack.venue.port.weight_allows`), back-off and error
        mapping."""
        client = self._client()
        fn: Callable[..., Awaitable[Any]] = getattr(client, method)
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            await self._throttle(trading=trading)
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

    async def _throttle(self, *, trading: bool) -> None:
        if self.banned_until is not None:
            if time.monotonic() < self.banned_until:
                raise IpBanned("requests are stopped while Binance bans this IP")
            self.banned_until = None
        if not weight_allows(self.used_weight, self.weight_limit, self.slow_down_at, trading=trading):
            # Binance counts weight per minute: wait for the next one, but look again every THROTTLE_STEP s (the
            # next answer's header says where the count stands)
            wait = min(60.5 - (time.time() % 60), THROTTLE_STEP)
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

    # -- the port's REST calls (python-binance method names stay in this file) ----------------------
    async def identity(self) -> VenueIdentity:
        """The simulator's instance id (``GET /sim/v1/identity``); on Binance, the environment and a fingerprint of
        the API key (fapi names no account id; the key's fingerprint stands for the account)."""
        key = hashlib.sha256(self.endpoints.api_key.encode()).hexdigest()[:16]
        if self.endpoints.name != "sim":
            return VenueIdentity(self.endpoints.name, key, key)
        assert self.endpoints.rest_url is not None
        try:
            async with aiohttp.ClientSession() as session, session.get(
                    self.endpoints.rest_url + "/sim/v1/identity",
                    timeout=aiohttp.ClientTimeout(total=self.request_timeout)) as response:
                data = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise VenueUnavailable(f"the simulator at {self.endpoints.rest_url} gives no identity "
                                   f"({type(exc).__name__}: {exc})", code="VENUE_IDENTITY") from None
        if not isinstance(data, dict) or not data.get("id"):
            raise VenueUnavailable(f"the simulator at {self.endpoints.rest_url} gives no identity",
                                   code="VENUE_IDENTITY")
        return VenueIdentity("sim", str(data["id"]), key)

    async def hedge_mode(self) -> bool:
        result = await self.call("futures_get_position_mode", retry_lost=True)
        return bool(result["dualSidePosition"])

    async def set_hedge_mode(self) -> None:
        await self.call("futures_change_position_mode", dualSidePosition="true")

    async def exchange_rules(self, symbols: Iterable[str] = ()) -> ExchangeRules:
        info = await self.call("futures_exchange_info", retry_lost=True)
        return parse.checked(lambda d: parse.exchange_rules(d, symbols), info)

    async def new_order(self, request: OrderRequest) -> ExchangeOrder:
        params: dict[str, Any] = {"symbol": request.symbol, "side": str(request.side),
                                  "positionSide": str(request.position_side), "type": str(request.order_type),
                                  "quantity": wire_decimal(request.qty), "newClientOrderId": request.client_order_id,
                                  "newOrderRespType": "RESULT"}
        if request.price is not None:
            params["price"] = wire_decimal(request.price)
        if request.time_in_force is not None:
            params["timeInForce"] = str(request.time_in_force)
        return parse.checked(parse.order, await self.call("futures_create_order", trading=True, **params))

    async def new_algo_order(self, request: AlgoOrderRequest) -> ExchangeAlgoOrder:
        params: dict[str, Any] = {"algoType": "CONDITIONAL", "symbol": request.symbol, "side": str(request.side),
                                  "positionSide": str(request.position_side), "type": str(request.order_type),
                                  "quantity": wire_decimal(request.qty), "clientAlgoId": request.client_algo_id,
                                  "triggerPrice": wire_decimal(request.trigger_price),
                                  "workingType": request.working_type}
        if request.price is not None:
            params["price"] = wire_decimal(request.price)
        if request.time_in_force is not None:
            params["timeInForce"] = str(request.time_in_force)
        return parse.checked(parse.algo_order, await self.call("futures_create_algo_order", trading=True, **params))

    async def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        row = await self.call("futures_cancel_order", symbol=symbol, origClientOrderId=client_order_id,
                              trading=True)
        return parse.checked(parse.order, row)

    async def cancel_algo_order(self, client_algo_id: str) -> None:
        await self.call("futures_cancel_algo_order", clientAlgoId=client_algo_id, trading=True)

    async def query_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        """The order with this clientOrderId, or None when Binance does not know it (-2013)."""
        try:
            row = await self.call("futures_get_order", symbol=symbol, origClientOrderId=client_order_id,
                                  retry_lost=True, trading=True)
        except VenueRejected as exc:
            if exc.binance_code in (-2013, -2011):
                return None
            raise
        return parse.checked(parse.order, row)

    async def query_order_id(self, symbol: str, order_id: int) -> ExchangeOrder | None:
        try:
            row = await self.call("futures_get_order", symbol=symbol, orderId=order_id, retry_lost=True)
        except VenueRejected as exc:
            if exc.binance_code in (-2013, -2011):
                return None
            raise
        return parse.checked(parse.order, row)

    async def query_algo_order(self, client_algo_id: str) -> ExchangeAlgoOrder | None:
        try:
            row = await self.call("futures_get_algo_order", clientAlgoId=client_algo_id, retry_lost=True,
                                  trading=True)
        except VenueRejected as exc:
            if exc.binance_code in (-2013, -2011):
                return None
            raise
        return parse.checked(parse.algo_order, row)

    async def open_orders(self, symbol: str) -> list[ExchangeOrder]:
        """One symbol's open orders (weight 1; 40 without a symbol)."""
        return parse.checked(lambda d: parse.rows(parse.order, d),
                             await self.call("futures_get_open_orders", symbol=symbol, retry_lost=True))

    async def open_algo_orders(self, symbol: str) -> list[ExchangeAlgoOrder]:
        return parse.checked(lambda d: parse.rows(parse.algo_order, d),
                             await self.call("futures_get_open_algo_orders", symbol=symbol, retry_lost=True))

    async def all_orders(self, symbol: str, *, start: int, end: int, limit: int = 1000) -> list[ExchangeOrder]:
        data = await self.call("futures_get_all_orders", symbol=symbol, startTime=start, endTime=end, limit=limit,
                               retry_lost=True)
        return parse.checked(lambda d: parse.rows(parse.order, d), data)

    async def all_algo_orders(self, symbol: str, *, start: int, end: int | None = None,
                              limit: int = 1000) -> list[ExchangeAlgoOrder]:
        params: dict[str, Any] = {"symbol": symbol, "startTime": start, "limit": limit}
        if end is not None:
            params["endTime"] = end
        data = await self.call("futures_get_all_algo_orders", retry_lost=True, **params)
        return parse.checked(lambda d: parse.rows(parse.algo_order, d), data)

    async def user_trades(self, symbol: str, *, from_id: int | None = None, start: int | None = None,
                          end: int | None = None, limit: int = 1000) -> list[Trade]:
        params: dict[str, Any] = {"symbol": symbol, "limit": limit}
        if from_id is not None:
            params["fromId"] = from_id
        if start is not None:
            params["startTime"] = start
        if end is not None:
            params["endTime"] = end
        data = await self.call("futures_account_trades", retry_lost=True, **params)
        return parse.checked(lambda d: parse.rows(parse.trade, d), data)

    async def positions(self) -> list[Position]:
        data = await self.call("futures_position_information", retry_lost=True)
        return [p for p in parse.checked(lambda d: parse.rows(parse.position, d), data) if p is not None]

    async def symbol_settings(self) -> list[SymbolSettings]:
        data = await self.call("futures_symbol_config", retry_lost=True)
        return parse.checked(lambda d: parse.rows(parse.symbol_settings, d), data)

    async def account(self) -> Account:
        return parse.checked(parse.account, await self.call("futures_account", retry_lost=True))

    async def funding_income(self, *, start: int, end: int | None = None, limit: int = 1000) -> list[FundingIncome]:
        params: dict[str, Any] = {"incomeType": "FUNDING_FEE", "startTime": start, "limit": limit}
        if end is not None:
            params["endTime"] = end
        data = await self.call("futures_income_history", retry_lost=True, **params)
        return parse.checked(lambda d: parse.rows(parse.funding_income, d), data)

    async def premium(self, symbol: str) -> Premium:
        return parse.checked(parse.premium, await self.call("futures_mark_price", symbol=symbol, retry_lost=True))

    async def klines(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[Candle]:
        data = await self.call("futures_klines", symbol=symbol, interval=interval, limit=limit, retry_lost=True)
        return parse.checked(lambda d: [parse.candle(row) for row in d], data)

    # -- streams ----------------------------------------------------------------------------------
    def _socket_manager(self) -> BinanceSocketManager:
        bsm = BinanceSocketManager(self._client(), max_queue_size=100_000)
        if self.endpoints.ws_url is not None:
            bsm.FSTREAM_URL = self.endpoints.ws_url
        return bsm

    def restart_user_stream(self) -> None:
        """Drop the user-stream socket (a stalled stream): the reader sees it close, reconnects and the terminal
        catches up over REST."""
        socket = self._user_socket
        ws = None if socket is None else getattr(socket, "ws", None)
        if ws is not None:
            asyncio.get_running_loop().create_task(ws.close())

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
                self._user_socket = socket
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

    async def market_messages(self, symbols: Iterable[str]) -> AsyncIterator[MarketMessage]:
        """markPrice@1s and kline_1m of ``symbols`` forever, reconnecting as the user stream does."""
        names = list(symbols)
        streams = [f"{s.lower()}@markPrice@1s" for s in names] + [f"{s.lower()}@kline_1m" for s in names]
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


def wire_decimal(value: Decimal) -> str:
    """A Decimal as Binance takes it: plain notation, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text


class _QuietReconnects(logging.Filter):
    """python-binance logs every socket close and reconnect as ERROR; hedgestack reports connection state itself
    (CONNECTION_STATE, WS_RECONNECT), so those records are lowered to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


for _name in ("binance.ws.reconnecting_websocket", "binance.ws.keepalive_websocket", "binance.ws.streams"):
    logging.getLogger(_name).addFilter(_QuietReconnects())


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
