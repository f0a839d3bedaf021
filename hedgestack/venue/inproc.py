"""The in-process venue: the Venue port over a simulator's exchange in the same process, with no socket and no HTTP.

Engine tests where the wire is not the point run on it. What it shares with the python-binance adapter
(``venue/binance/adapter.py``), so that both venues are one exchange seen through one mapping:

- **REST**: each call runs the simulator's own route (:meth:`SimServer.rest_answer`: the handler of ``rest.py``
  behind its request weight, rate limits and REST faults) with the parameters python-binance would send, and the
  schema Struct it answers, encoded as the HTTP server encodes it, is read by the same ``parse.py`` functions as
  the adapter's answers.
- **Errors**, as the adapter maps python-binance's: Binance's ``{"code", "msg"}`` becomes
  :class:`~hedgestack.domain.errors.VenueRejected` with the code; a 429 (or -1003) is backed off and retried with the
  same clientOrderId, then :class:`~hedgestack.domain.errors.RateLimited`; a 418 stops every request for two
  minutes (:class:`~hedgestack.domain.errors.IpBanned`); an answer that never came back (the simulator's
  ``lose_rest_response`` fault; no answer within ``request_timeout``; a simulator that is gone) is
  :class:`~hedgestack.domain.errors.AnswerLost`, retried for reads as the adapter retries them.
- **Request weight**: ``used_weight`` is the simulator's ``X-MBX-USED-WEIGHT-1M`` after each answer; above
  ``slow_down_at`` of ``weight_limit`` requests wait until the simulator's one-minute window has room again.
- **Streams**: the user data stream (a listenKey from ``POST /fapi/v1/listenKey``, kept alive every five minutes as
  python-binance does) and the market streams (``<symbol>@markPrice@1s``, ``<symbol>@kline_1m``) come from
  :meth:`Streams.subscribe`: the frames a socket with the same route, mode and subscriptions gets, in the same
  order, the stream faults included, parsed by ``parse_user_message`` / ``parse_market_message``. The messages
  yielded follow the adapter's contract: ``StreamUp`` on every (re)connect, a list when several were waiting,
  ``StreamDown`` when the simulator drops the stream (then, after python-binance's reconnect wait, a new
  subscription on the same listenKey while it lives: what was sent meanwhile is lost, as on a socket),
  ``ListenKeyExpired`` then a new subscription with a new key.

What the wire would add is left out: signatures and timestamps (the caller holds the simulator itself), HTTP and
websocket framing, and transport errors.

Threads: the simulator runs on its own loop (``SimServer.start_in_thread``) and the engine on another. Every call is
marshalled onto the simulator's loop (:meth:`SimServer.run`) and awaited on the caller's; stream frames cross in the
subscription's thread-safe bounded buffer.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from hedgestack.domain.errors import AnswerLost, IpBanned, RateLimited, VenueRejected, VenueUnavailable
from hedgestack.venue.binance import parse
from hedgestack.venue.binance.adapter import wire_decimal
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
from hedgestack.venue.sim.errors import LISTEN_KEY, BinanceCodeError
from hedgestack.venue.sim.streams import CLOSED, Subscription

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    from hedgestack.venue.sim.server import SimServer

log = logging.getLogger("hedgestack.venue")

#: python-binance renews the user stream's listenKey this often (binance.ws.constants.KEEPALIVE_TIMEOUT), seconds
KEEPALIVE_SECONDS = 300.0
#: while above the weight threshold, the simulator's count is read again this often (s)
WEIGHT_POLL_SECONDS = 1.0
#: a stream the simulator dropped is subscribed again after this long (s): python-binance's first reconnect of a
#: dropped socket waits 1–2 s, and what is sent meanwhile is lost, so a disconnect stays a real gap
RECONNECT_SECONDS = 1.0
#: a new subscription (after listenKeyExpired, a reader that fell behind, a failed attempt) waits this long first (s):
#: the adapter's back-off before a new socket
NEW_SOCKET_SECONDS = 0.2
#: messages read from a stream in one batch at most (the adapter's drain limit)
BATCH = 1000
#: the one-minute window of request weight: never wait longer than it for room (s)
WEIGHT_WINDOW_SECONDS = 60.0
#: Binance's IP ban after continued 429s, as the adapter assumes it (s)
BAN_SECONDS = 120.0

# Binance's REST paths, as python-binance's AsyncClient methods the adapter calls reach them
PING = "/fapi/v1/ping"
EXCHANGE_INFO = "/fapi/v1/exchangeInfo"
POSITION_MODE = "/fapi/v1/positionSide/dual"
ORDER = "/fapi/v1/order"
ALGO_ORDER = "/fapi/v1/algoOrder"
OPEN_ORDERS = "/fapi/v1/openOrders"
OPEN_ALGO_ORDERS = "/fapi/v1/openAlgoOrders"
ALL_ORDERS = "/fapi/v1/allOrders"
ALL_ALGO_ORDERS = "/fapi/v1/allAlgoOrders"
USER_TRADES = "/fapi/v1/userTrades"
POSITION_RISK = "/fapi/v3/positionRisk"
SYMBOL_CONFIG = "/fapi/v1/symbolConfig"
ACCOUNT = "/fapi/v2/account"
INCOME = "/fapi/v1/income"
PREMIUM_INDEX = "/fapi/v1/premiumIndex"
KLINES = "/fapi/v1/klines"
LISTEN_KEY_PATH = "/fapi/v1/listenKey"

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class _Reply:
    """One REST answer as it leaves the simulator: status, headers, the encoded body; ``lost`` when it never does."""

    status: int
    headers: dict[str, str]
    body: bytes
    lost: bool


class InProcessVenue:
    """The Venue port over ``server``'s exchange, in this process (see the module text)."""

    def __init__(self, server: SimServer, *, weight_limit: int = 2400, slow_down_at: float = 0.8,
                 max_retries: int = 6, request_timeout: float = 10.0, backoff: float = 0.5,
                 queue_size: int = 100_000, reconnect_delay: float = RECONNECT_SECONDS,
                 on_rate_limit: Callable[[str], None] | None = None) -> None:
        self.server = server
        self.weight_limit = weight_limit
        self.slow_down_at = slow_down_at
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.backoff = backoff
        self.queue_size = queue_size
        self.reconnect_delay = reconnect_delay
        self.used_weight = 0
        self.order_count = 0
        self.rate_limited = 0
        self.banned_until: float | None = None
        self._on_rate_limit = on_rate_limit
        self._started = False
        self._streaming = False
        self._subscriptions: set[Subscription] = set()
        self._user: Subscription | None = None
        self._listen_key: str | None = None

    # -- life cycle -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return "sim"

    @property
    def started(self) -> bool:
        return self._started

    @property
    def listen_key(self) -> str | None:
        """The user stream's listenKey in use (None before the first subscription, or once it expired)."""
        return self._listen_key

    async def start(self) -> None:
        """Check the simulator answers (``/fapi/v1/ping``, as the adapter does): a simulator that is not running is
        one VenueUnavailable."""
        self._started = True
        try:
            await self.call("GET", PING)
        except VenueUnavailable as exc:
            self._started = False
            raise VenueUnavailable(f"cannot reach the in-process simulator: {exc.message}",
                                   code="VENUE_UNREACHABLE") from None
        self._streaming = True

    async def stop_streams(self) -> None:
        """End the stream subscriptions: the readers see their end now, the simulator forgets them."""
        self._streaming = False
        for subscription in list(self._subscriptions):
            self._release(subscription, "closed by the venue")

    async def close(self) -> None:
        await self.stop_streams()
        self._started = False

    def backlog(self) -> int:
        """Messages the simulator sent and the caller has not taken yet."""
        return sum(s.qsize() for s in list(self._subscriptions))

    def restart_user_stream(self) -> None:
        """Drop the user-stream subscription (a stalled stream): the reader sees it end, subscribes again and the
        terminal catches up over REST."""
        if self._user is not None:
            self._release(self._user, "dropped by the venue to reconnect")

    # -- the one REST path ------------------------------------------------------------------------
    async def call(self, method: str, path: str, params: dict[str, Any] | None = None, *,
                   retry_lost: bool = False) -> Any:
        """One REST route of the simulator with the adapter's throttling, back-off and error mapping; the decoded
        JSON body (what python-binance hands the adapter). Requests on the order routes are trading requests
        (:func:`~hedgestack.venue.port.weight_allows`)."""
        if not self._started:
            raise VenueUnavailable("the venue is not started", code="VENUE_NOT_STARTED")
        wire = {k: v if isinstance(v, str) else str(v) for k, v in (params or {}).items() if v is not None}
        label = f"{method} {path}"
        delay = self.backoff
        trading = path in (ORDER, ALGO_ORDER)
        for attempt in range(self.max_retries + 1):
            await self._throttle(trading=trading)
            try:
                async with asyncio.timeout(self.request_timeout):
                    reply = await self.server.run(lambda: self._serve(method, path, wire))
            except (TimeoutError, RuntimeError, ConnectionError) as exc:
                lost: str | None = f"no answer ({type(exc).__name__}: {exc})"
            else:
                self._read_headers(reply.headers)
                lost = "no answer (the connection dropped before it)" if reply.lost else None
            if lost is not None:
                if retry_lost and attempt < self.max_retries:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                raise AnswerLost(f"{label}: {lost}")
            data = _decoder.decode(reply.body)
            if reply.status < 300:
                return data
            code, message = _binance_error(data)
            if reply.status == 418:
                self.banned_until = time.monotonic() + BAN_SECONDS
                raise IpBanned(f"Binance banned this IP ({message}); requests are stopped", binance_code=code)
            if reply.status == 429 or code == -1003:
                self.rate_limited += 1
                if self._on_rate_limit is not None:
                    self._on_rate_limit(message)
                if attempt == self.max_retries:
                    raise RateLimited(f"rate limited after {attempt + 1} tries: {message}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if reply.status >= 500 and not code:
                raise AnswerLost(f"{label}: server error {reply.status}; outcome unknown")
            raise VenueRejected(message, binance_code=code)
        raise RateLimited("rate limited")  # pragma: no cover - the loop returns or raises

    def _serve(self, method: str, path: str, params: dict[str, str]) -> _Reply:
        """On the simulator's loop: the route's answer, encoded as the HTTP server encodes it."""
        try:
            answer = self.server.rest_answer(method, path, params)
        except Exception:
            # what the HTTP server answers an unexpected failure with: a 500 without Binance's code
            log.exception("the simulator failed on %s %s", method, path)
            return _Reply(500, {}, _encoder.encode({"code": 0, "msg": "internal error"}), lost=False)
        return _Reply(answer.status, answer.headers, _encoder.encode(answer.payload), answer.lost)

    async def _throttle(self, *, trading: bool) -> None:
        if self.banned_until is not None:
            if time.monotonic() < self.banned_until:
                raise IpBanned("requests are stopped while Binance bans this IP")
            self.banned_until = None

        def allowed() -> bool:
            return weight_allows(self.used_weight, self.weight_limit, self.slow_down_at, trading=trading)

        if allowed():
            return
        log.warning("request weight %s of %s used: waiting for room in the minute", self.used_weight,
                    self.weight_limit)
        deadline = time.monotonic() + WEIGHT_WINDOW_SECONDS
        while not allowed() and time.monotonic() < deadline:
            await asyncio.sleep(WEIGHT_POLL_SECONDS)
            self.used_weight = await self._weight_now()

    async def _weight_now(self) -> int:
        try:
            async with asyncio.timeout(self.request_timeout):
                return await self.server.run(self.server.limiter.used_weight)
        except (TimeoutError, RuntimeError):
            return 0  # the simulator is gone: the next request says so

    def _read_headers(self, headers: dict[str, str]) -> None:
        used = headers.get("X-MBX-USED-WEIGHT-1M")
        if used is not None and used.isdigit():
            self.used_weight = int(used)
        orders = headers.get("X-MBX-ORDER-COUNT-1M")
        if orders is not None and orders.isdigit():
            self.order_count = int(orders)

    # -- the port's REST calls (the parameters python-binance sends for the adapter's calls) -----------
    async def identity(self) -> VenueIdentity:
        """The simulator's instance id (what ``GET /sim/v1/identity`` answers) and the fingerprint of its API key:
        the identity the adapter reports for the same simulator."""
        key = hashlib.sha256(self.server.config.api_key.encode()).hexdigest()[:16]
        try:
            async with asyncio.timeout(self.request_timeout):
                data = await self.server.run(self.server.control.identity_record)
        except (TimeoutError, RuntimeError) as exc:
            raise VenueUnavailable(f"the in-process simulator gives no identity ({type(exc).__name__}: {exc})",
                                   code="VENUE_IDENTITY") from None
        if not data.get("id"):
            raise VenueUnavailable("the in-process simulator gives no identity", code="VENUE_IDENTITY")
        return VenueIdentity("sim", str(data["id"]), key)

    async def hedge_mode(self) -> bool:
        result = await self.call("GET", POSITION_MODE, retry_lost=True)
        return bool(result["dualSidePosition"])

    async def set_hedge_mode(self) -> None:
        await self.call("POST", POSITION_MODE, {"dualSidePosition": "true"})

    async def exchange_rules(self, symbols: Iterable[str] = ()) -> ExchangeRules:
        info = await self.call("GET", EXCHANGE_INFO, retry_lost=True)
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
        return parse.checked(parse.order, await self.call("POST", ORDER, params))

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
        return parse.checked(parse.algo_order, await self.call("POST", ALGO_ORDER, params))

    async def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        row = await self.call("DELETE", ORDER, {"symbol": symbol, "origClientOrderId": client_order_id})
        return parse.checked(parse.order, row)

    async def cancel_algo_order(self, client_algo_id: str) -> None:
        await self.call("DELETE", ALGO_ORDER, {"clientAlgoId": client_algo_id})

    async def _query(self, path: str, params: dict[str, Any]) -> Any:
        """A query whose "unknown order" (-2013, -2011) is None."""
        try:
            return await self.call("GET", path, params, retry_lost=True)
        except VenueRejected as exc:
            if exc.binance_code in (-2013, -2011):
                return None
            raise

    async def query_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        """The order with this clientOrderId, or None when the exchange does not know it (-2013)."""
        row = await self._query(ORDER, {"symbol": symbol, "origClientOrderId": client_order_id})
        return None if row is None else parse.checked(parse.order, row)

    async def query_order_id(self, symbol: str, order_id: int) -> ExchangeOrder | None:
        row = await self._query(ORDER, {"symbol": symbol, "orderId": order_id})
        return None if row is None else parse.checked(parse.order, row)

    async def query_algo_order(self, client_algo_id: str) -> ExchangeAlgoOrder | None:
        row = await self._query(ALGO_ORDER, {"clientAlgoId": client_algo_id})
        return None if row is None else parse.checked(parse.algo_order, row)

    async def open_orders(self, symbol: str) -> list[ExchangeOrder]:
        """One symbol's open orders (weight 1; 40 without a symbol)."""
        data = await self.call("GET", OPEN_ORDERS, {"symbol": symbol}, retry_lost=True)
        return parse.checked(lambda d: parse.rows(parse.order, d), data)

    async def open_algo_orders(self, symbol: str) -> list[ExchangeAlgoOrder]:
        data = await self.call("GET", OPEN_ALGO_ORDERS, {"symbol": symbol}, retry_lost=True)
        return parse.checked(lambda d: parse.rows(parse.algo_order, d), data)

    async def all_orders(self, symbol: str, *, start: int, end: int, limit: int = 1000) -> list[ExchangeOrder]:
        data = await self.call("GET", ALL_ORDERS, {"symbol": symbol, "startTime": start, "endTime": end,
                                                   "limit": limit}, retry_lost=True)
        return parse.checked(lambda d: parse.rows(parse.order, d), data)

    async def all_algo_orders(self, symbol: str, *, start: int, end: int | None = None,
                              limit: int = 1000) -> list[ExchangeAlgoOrder]:
        data = await self.call("GET", ALL_ALGO_ORDERS, {"symbol": symbol, "startTime": start, "endTime": end,
                                                        "limit": limit}, retry_lost=True)
        return parse.checked(lambda d: parse.rows(parse.algo_order, d), data)

    async def user_trades(self, symbol: str, *, from_id: int | None = None, start: int | None = None,
                          end: int | None = None, limit: int = 1000) -> list[Trade]:
        data = await self.call("GET", USER_TRADES, {"symbol": symbol, "limit": limit, "fromId": from_id,
                                                    "startTime": start, "endTime": end}, retry_lost=True)
        return parse.checked(lambda d: parse.rows(parse.trade, d), data)

    async def positions(self) -> list[Position]:
        data = await self.call("GET", POSITION_RISK, retry_lost=True)
        return [p for p in parse.checked(lambda d: parse.rows(parse.position, d), data) if p is not None]

    async def symbol_settings(self) -> list[SymbolSettings]:
        data = await self.call("GET", SYMBOL_CONFIG, retry_lost=True)
        return parse.checked(lambda d: parse.rows(parse.symbol_settings, d), data)

    async def account(self) -> Account:
        return parse.checked(parse.account, await self.call("GET", ACCOUNT, retry_lost=True))

    async def funding_income(self, *, start: int, end: int | None = None, limit: int = 1000) -> list[FundingIncome]:
        data = await self.call("GET", INCOME, {"incomeType": "FUNDING_FEE", "startTime": start, "endTime": end,
                                               "limit": limit}, retry_lost=True)
        return parse.checked(lambda d: parse.rows(parse.funding_income, d), data)

    async def premium(self, symbol: str) -> Premium:
        return parse.checked(parse.premium, await self.call("GET", PREMIUM_INDEX, {"symbol": symbol},
                                                            retry_lost=True))

    async def klines(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[Candle]:
        data = await self.call("GET", KLINES, {"symbol": symbol, "interval": interval, "limit": limit},
                               retry_lost=True)
        return parse.checked(lambda d: [parse.candle(row) for row in d], data)

    # -- streams ----------------------------------------------------------------------------------
    async def _user_key(self) -> str:
        """The listenKey to listen with: the one in use while it lives (a dropped stream comes back on it, as
        python-binance's socket does), else a new one (``POST /fapi/v1/listenKey``)."""
        if self._listen_key is None:
            data = await self.call("POST", LISTEN_KEY_PATH)
            self._listen_key = str(data["listenKey"])
        return self._listen_key

    async def _keepalive(self, key: str) -> bool:
        """python-binance's keepalive: ``POST`` (the active key, extended) and, when it is still ours, ``PUT``.
        False when the key changed (the stream must follow it)."""
        data = await self.call("POST", LISTEN_KEY_PATH)
        current = str(data["listenKey"])
        if current != key:
            self._listen_key = current
            return False
        await self.call("PUT", LISTEN_KEY_PATH, {"listenKey": key})
        return True

    async def _subscribe(self, subscription: Subscription, **where: Any) -> None:
        streams = self.server.streams
        async with asyncio.timeout(self.request_timeout):
            await self.server.run(lambda: streams.subscribe(subscription, **where))

    def _release(self, subscription: Subscription, reason: str) -> None:
        """End a subscription now and detach it on the simulator's loop (after its attachment, if that is still on
        its way: both run there in order)."""
        subscription.end(CLOSED, reason)
        self._subscriptions.discard(subscription)
        if self._user is subscription:
            self._user = None
        streams = self.server.streams
        try:
            self.server.loop.call_soon_threadsafe(streams.unsubscribe, subscription)
        except RuntimeError:  # the simulator's loop is closed: nothing to detach from
            pass

    async def user_messages(self) -> AsyncIterator[UserMessage | list[UserMessage]]:
        """The user data stream until the venue stops: ``StreamUp`` on each (re)connect, then parsed messages — a
        list when several were already waiting (the caller appends them in one batch).

        When the simulator drops the stream (``disconnect_user_stream``, a reset, a reader that fell behind) a
        ``StreamDown`` is yielded and a new subscription follows on the same listenKey while it lives; after
        ``listenKeyExpired`` a new key is taken. Whatever was sent in between is lost, as on a socket: the caller
        backfills over REST after each ``StreamUp``.
        """
        backoff = NEW_SOCKET_SECONDS
        while self._streaming:
            subscription = Subscription(self.queue_size)
            self._subscriptions.add(subscription)
            try:
                try:
                    key = await self._user_key()
                    await self._subscribe(subscription, route="private", keys=[key])
                except BinanceCodeError as exc:
                    if exc.code == LISTEN_KEY[0]:
                        self._listen_key = None  # it died meanwhile: the next round takes a new one
                    yield StreamDown(type(exc).__name__, str(exc))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                except (VenueUnavailable, RateLimited, IpBanned, TimeoutError, RuntimeError) as exc:
                    yield StreamDown(type(exc).__name__, str(exc))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = NEW_SOCKET_SECONDS
                self._user = subscription
                yield StreamUp("user")
                renew_at = time.monotonic() + KEEPALIVE_SECONDS
                while True:
                    try:
                        raw = await subscription.get(timeout=max(0.0, renew_at - time.monotonic()))
                    except TimeoutError:
                        renew_at = time.monotonic() + KEEPALIVE_SECONDS
                        try:
                            if not await self._keepalive(key):
                                self._release(subscription, "the listenKey changed")
                        except (VenueUnavailable, RateLimited, IpBanned, VenueRejected) as exc:
                            log.warning("listenKey keepalive failed: %s", exc)
                        continue
                    if raw is None:
                        if not self._streaming:
                            return  # the venue stops: no reconnect to announce
                        kind, reason = subscription.ended or (CLOSED, "the stream ended")
                        yield StreamDown(kind, reason)
                        await asyncio.sleep(self.reconnect_delay if kind == CLOSED else NEW_SOCKET_SECONDS)
                        break
                    frames = [raw, *subscription.drain(BATCH - 1)]
                    messages = [parse_user_message(_decoder.decode(frame)) for frame in frames]
                    yield messages if len(messages) > 1 else messages[0]
                    if any(isinstance(m, ListenKeyExpired) for m in messages):
                        self._listen_key = None  # the key is dead: the next subscription gets a new one
                        await asyncio.sleep(NEW_SOCKET_SECONDS)
                        break
            finally:
                self._release(subscription, "the reader left")

    async def market_messages(self, symbols: Iterable[str]) -> AsyncIterator[MarketMessage]:
        """markPrice@1s and kline_1m of ``symbols`` until the venue stops (the adapter's combined market socket),
        subscribing again when the simulator drops them."""
        names = list(symbols)
        streams = [f"{s.lower()}@markPrice@1s" for s in names] + [f"{s.lower()}@kline_1m" for s in names]
        backoff = NEW_SOCKET_SECONDS
        while self._streaming:
            subscription = Subscription(self.queue_size)
            self._subscriptions.add(subscription)
            try:
                try:
                    await self._subscribe(subscription, route="market", names=streams, combined=True)
                except (TimeoutError, RuntimeError) as exc:
                    yield StreamDown(type(exc).__name__, str(exc))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = NEW_SOCKET_SECONDS
                yield StreamUp("market")
                while True:
                    raw = await subscription.get()
                    if raw is None:
                        if not self._streaming:
                            return
                        kind, reason = subscription.ended or (CLOSED, "the stream ended")
                        yield StreamDown(kind, reason)
                        await asyncio.sleep(self.reconnect_delay if kind == CLOSED else NEW_SOCKET_SECONDS)
                        break
                    yield parse_market_message(_decoder.decode(raw))
            finally:
                self._release(subscription, "the reader left")


def _binance_error(data: Any) -> tuple[int, str]:
    """Binance's ``{"code", "msg"}`` of an error answer (code 0 when there is none)."""
    if isinstance(data, dict):
        try:
            code = int(data.get("code") or 0)
        except (TypeError, ValueError):
            code = 0
        return code, str(data.get("msg", ""))
    return 0, str(data)


__all__ = ["KEEPALIVE_SECONDS", "NEW_SOCKET_SECONDS", "RECONNECT_SECONDS", "InProcessVenue"]
