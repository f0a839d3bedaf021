"""WebSocket streams on Binance's routes: market streams, user data (listenKeys, faults), live subscriptions.

Routes (reference/binance-usdm.md §1.1, risk-market §4): ``/public`` (``@bookTicker``, ``!bookTicker``,
``@depth…``, ``@trade``), ``/market`` (``@aggTrade``, ``@markPrice[@1s]``, ``!markPrice@arr[@1s]``,
``@kline_<interval>``, ``_perpetual@continuousKline_<interval>``, ``@miniTicker``, ``!miniTicker@arr``,
``@ticker``, ``!ticker@arr``, ``@forceOrder``, ``!forceOrder@arr``, ``!contractInfo``), ``/private`` (user data)
and the legacy unrouted ``/ws`` and ``/stream``, which carry every stream (as Binance's did) and user data
by ``/ws/<listenKey>``. Each route has a raw mode (``/<route>/ws/<a>/<b>``, payloads as they are) and a stream
mode (``/<route>/stream?streams=a/b``, payloads wrapped ``{"stream": name, "data": payload}``).

User data: ``/private/ws/<listenKey>``, ``/private/ws?listenKey=K&events=A/B``, ``/private/stream?listenKey=K``
(stream name = the listenKey), or a ``SUBSCRIBE`` of listenKeys on ``/private/stream`` (the official SDK). A
listenKey lives ``listen_key_ttl`` seconds after its last POST/PUT; on expiry its sockets receive
``listenKeyExpired`` and nothing more. Faults act here: ``pause_user_stream`` drops every event in the window
(never delivered, as on Binance), ``duplicate_events`` sends the next N events twice, ``disconnect_user_stream``
closes the sockets.

Live requests (any route): ``SUBSCRIBE`` / ``UNSUBSCRIBE`` → ``{"result": null, "id": n}``; ``LIST_SUBSCRIPTIONS``
→ ``{"result": [names], "id": n}``; ``SET_PROPERTY ["combined", bool]`` / ``GET_PROPERTY ["combined"]``. Errors
answer ``{"error": {"code": c, "msg": m}, "id": n}``: 0 unknown property, 1 not a boolean, 2 invalid request
(an unknown stream name, an id that is neither an unsigned integer nor a string, an unknown method),
3 invalid JSON. A valid stream subscribed on the wrong
route is acknowledged and stays silent, as on Binance (the simulator logs a warning).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import WSMsgType, web

from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim.errors import LISTEN_KEY

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
KLINE_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
MAX_STREAMS = 1024
_DEPTH = re.compile(r"^depth(5|10|20)?(@(100|250|500)ms)?$")


def normalize(name: str) -> str:
    """The key of a stream name: lower case, except a kline interval (``1M`` is a month, ``1m`` a minute)."""
    head, sep, tail = name.partition("@")
    low = tail.lower()
    for prefix in ("kline_", "continuouskline_"):
        if low.startswith(prefix):
            return f"{head.lower()}{sep}{low[:len(prefix)]}{tail[len(prefix):]}"
    return f"{head.lower()}{sep}{low}"


def classify(key: str, symbols: set[str]) -> str | None:
    """The route of a (normalized) market stream name, or None when it is not a stream this exchange has."""
    if key in ("!bookticker",):
        return "public"
    if key in ("!markprice@arr", "!markprice@arr@1s", "!miniticker@arr", "!ticker@arr", "!forceorder@arr",
               "!contractinfo"):
        return "market"
    head, sep, tail = key.partition("@")
    if not sep:
        return None
    if tail.startswith("continuouskline_"):
        pair, _, contract = head.partition("_")
        if pair.upper() in symbols and contract == "perpetual" and tail[16:] in KLINE_INTERVALS:
            return "market"
        return None
    if head.upper() not in symbols:
        return None
    if tail in ("bookticker", "trade") or _DEPTH.match(tail):
        return "public"
    if tail in ("aggtrade", "markprice", "markprice@1s", "miniticker", "ticker", "forceorder"):
        return "market"
    if tail.startswith("kline_") and tail[6:] in KLINE_INTERVALS:
        return "market"
    return None


@dataclass(slots=True, eq=False)
class Conn:
    """One socket: its route, mode, subscriptions and the listenKeys it listens to."""

    ws: web.WebSocketResponse
    route: str  # public | market | private | legacy
    combined: bool
    subs: dict[str, str] = field(default_factory=dict)  # key → name as given
    keys: dict[str, str] = field(default_factory=dict)  # listenKey → name as given
    events: frozenset[str] | None = None  # user event types wanted (None = all)
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)

    def deliverable(self, route: str) -> bool:
        return self.route == "legacy" or self.route == route


async def _pump(conn: Conn) -> None:
    while True:
        item = await conn.queue.get()
        if item is None or conn.ws.closed:
            return
        try:
            await conn.ws.send_str(item.decode())
        except (ConnectionError, RuntimeError):
            return


def _error(code: int, msg: str, ident: Any) -> bytes:
    return _encoder.encode({"error": {"code": code, "msg": msg}, "id": ident})


class Streams:
    """Every WebSocket of one simulator (see the module text)."""

    def __init__(self, symbols: Iterable[str], ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.symbols = set(symbols)
        self.ttl = ttl
        self.clock = clock
        self.keys: dict[str, float] = {}  # active listenKey → expiry (monotonic)
        self.conns: set[Conn] = set()
        self.by_key: dict[str, set[Conn]] = {}  # market stream key → sockets subscribed (deliverable)
        self.pause_until = 0.0
        self.duplicate = 0
        self.delivered = 0
        self.on_subscribe: Callable[[str], None] = lambda key: None

    # == listenKeys ======================================================================================
    def create_key(self) -> str:
        """POST: the active key, extended, or a new one."""
        self.expire_due()
        for key in self.keys:
            self.keys[key] = self.clock() + self.ttl
            return key
        key = secrets.token_urlsafe(48)[:64]
        self.keys[key] = self.clock() + self.ttl
        return key

    def keepalive(self, key: str | None) -> str | None:
        """PUT: extend the key (the given one, or the active one); None if there is none."""
        self.expire_due()
        if key is None:
            key = next(iter(self.keys), None)
        if key is None or key not in self.keys:
            return None
        self.keys[key] = self.clock() + self.ttl
        return key

    def close_key(self, key: str | None) -> None:
        if key is None:
            self.keys.clear()
        else:
            self.keys.pop(key, None)

    def expire_due(self) -> None:
        now = self.clock()
        for key, until in list(self.keys.items()):
            if until <= now:
                self.expire(key)

    def expire(self, key: str) -> None:
        """The key dies now: its sockets get listenKeyExpired and nothing after it."""
        self.keys.pop(key, None)
        event = w.ListenKeyExpired(E=int(time.time() * 1000), listenKey=key)
        for conn in self.conns:
            if key in conn.keys:
                conn.queue.put_nowait(self._frame(conn, conn.keys[key], event))

    def expire_all(self) -> None:
        for key in list(self.keys):
            self.expire(key)

    # == publishing ======================================================================================
    @staticmethod
    def _frame(conn: Conn, name: str, payload: Any, raw: bytes | None = None) -> bytes:
        body = raw if raw is not None else _encoder.encode(payload)
        if conn.combined:
            return b'{"stream":' + _encoder.encode(name) + b',"data":' + body + b"}"
        return body

    def publish_user(self, event: msgspec.Struct) -> None:
        """Send one user event to every socket listening to a live key (faults applied)."""
        if self.clock() < self.pause_until:
            return
        raw = _encoder.encode(event)
        kind = event.__struct_config__.tag
        copies = 1
        if self.duplicate > 0:
            self.duplicate -= 1
            copies = 2
        for conn in self.conns:
            if conn.events is not None and kind not in conn.events:
                continue
            for key, name in conn.keys.items():
                if key in self.keys:
                    frame = self._frame(conn, name, None, raw)
                    for _ in range(copies):
                        conn.queue.put_nowait(frame)
                    break
        self.delivered += 1

    # the old name, used by the exchange's callback wiring and tests
    publish = publish_user

    def wants(self, key: str) -> bool:
        return bool(self.by_key.get(key))

    def publish_market(self, key: str, payload: Any) -> None:
        """Send a market payload to the sockets subscribed to stream ``key`` on its route."""
        conns = self.by_key.get(key)
        if not conns:
            return
        raw = _encoder.encode(payload)
        for conn in conns:
            conn.queue.put_nowait(self._frame(conn, conn.subs.get(key, key), None, raw))

    # == sockets =========================================================================================
    def _subscribe(self, conn: Conn, names: list[str]) -> str | None:
        """Add streams (or listenKeys on /private and legacy routes); an error message or None."""
        adds: list[tuple[str, str, str | None]] = []
        for name in names:
            if not isinstance(name, str) or not name:
                return "Invalid request: invalid stream"
            if conn.route in ("private", "legacy") and name in self.keys:
                adds.append((name, name, "key"))
                continue
            key = normalize(name)
            route = classify(key, self.symbols)
            if route is None:
                return "Invalid request: invalid stream"
            adds.append((key, name, route))
        if len(conn.subs) + len(conn.keys) + len(adds) > MAX_STREAMS:
            return f"Invalid request: too many streams (at most {MAX_STREAMS})"
        for key, name, route in adds:
            if route == "key":
                conn.keys[key] = name
                continue
            conn.subs[key] = name
            if conn.deliverable(route or ""):
                self.by_key.setdefault(key, set()).add(conn)
                self.on_subscribe(key)
            else:
                log.warning("stream %s subscribed on /%s: Binance serves it on /%s only; it stays silent here",
                            name, conn.route, route)
        return None

    def _unsubscribe(self, conn: Conn, names: list[str]) -> None:
        for name in names:
            if not isinstance(name, str):
                continue
            if name in conn.keys:
                del conn.keys[name]
                continue
            key = normalize(name)
            conn.subs.pop(key, None)
            subscribed = self.by_key.get(key)
            if subscribed is not None:
                subscribed.discard(conn)
                if not subscribed:
                    del self.by_key[key]

    def _on_text(self, conn: Conn, text: str) -> None:
        try:
            msg = json.loads(text)
        except json.JSONDecodeError as exc:
            conn.queue.put_nowait(_error(3, f"Invalid JSON: expected value at line {exc.lineno} column "
                                            f"{exc.colno}", None))
            return
        if not isinstance(msg, dict):
            conn.queue.put_nowait(_error(2, "Invalid request: expected a JSON object", None))
            return
        ident = msg.get("id")
        # an unsigned integer, or a string (Binance's own SDK sends UUIDs on the USDⓈ-M streams)
        valid_int = isinstance(ident, int) and not isinstance(ident, bool) and ident >= 0
        if not valid_int and not (isinstance(ident, str) and 0 < len(ident) <= 64):
            conn.queue.put_nowait(_error(2, "Invalid request: request ID must be an unsigned integer", None))
            return
        method = msg.get("method")
        if method not in METHODS:
            if method is None:
                conn.queue.put_nowait(_error(2, "Invalid request: missing field `method`", ident))
            else:
                conn.queue.put_nowait(_error(
                    2, f"Invalid request: unknown variant `{method}`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, "
                       "`LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`", ident))
            return
        params = msg.get("params") or []
        if not isinstance(params, list):
            conn.queue.put_nowait(_error(2, "Invalid request: params must be a list", ident))
            return
        result: Any = None
        if method == "SUBSCRIBE":
            problem = self._subscribe(conn, params)
            if problem is not None:
                conn.queue.put_nowait(_error(2, problem, ident))
                return
        elif method == "UNSUBSCRIBE":
            self._unsubscribe(conn, params)
        elif method == "LIST_SUBSCRIPTIONS":
            result = sorted(set(conn.subs.values()) | set(conn.keys.values()))
        elif method in ("SET_PROPERTY", "GET_PROPERTY"):
            if not params or not isinstance(params[0], str):
                conn.queue.put_nowait(_error(2, "Invalid request: property name must be a string", ident))
                return
            if params[0] != "combined":
                conn.queue.put_nowait(_error(0, "Unknown property", ident))
                return
            if method == "SET_PROPERTY":
                if len(params) < 2 or not isinstance(params[1], bool):
                    conn.queue.put_nowait(_error(1, "Invalid value type: expected Boolean", ident))
                    return
                conn.combined = params[1]
            else:
                result = conn.combined
        conn.queue.put_nowait(_encoder.encode({"result": result, "id": ident}))

    async def handle(self, request: web.Request, *, route: str, combined: bool, names: list[str],
                     keys: Iterable[str] = (), events: list[str] | None = None) -> web.StreamResponse:
        """Serve one socket until it closes (a listenKey in the URL must be alive: else HTTP 400 -1125)."""
        self.expire_due()
        keys = list(keys)
        for key in keys:
            if key not in self.keys:
                body = _encoder.encode(w.BinanceError(code=LISTEN_KEY[0], msg=LISTEN_KEY[1]))
                return web.Response(status=400, body=body, content_type="application/json")
        ws = web.WebSocketResponse(heartbeat=180.0)
        await ws.prepare(request)
        conn = Conn(ws=ws, route=route, combined=combined,
                    events=frozenset(events) if events else None)
        for key in keys:
            conn.keys[key] = key
        market_names = [n for n in names if n and n not in self.keys]
        conn.keys.update({n: n for n in names if n in self.keys})
        if market_names:
            valid = [n for n in market_names if classify(normalize(n), self.symbols) is not None]
            for bad in set(market_names) - set(valid):
                log.warning("stream %s in the URL is not a stream of this exchange: ignored", bad)
            self._subscribe(conn, valid)
        self.conns.add(conn)
        writer = asyncio.create_task(_pump(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.conns.discard(conn)
            for key in list(conn.subs):
                self._unsubscribe(conn, [conn.subs[key]])
            conn.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        return ws

    async def disconnect_users(self) -> None:
        """Close every socket that listens to user data."""
        for conn in list(self.conns):
            if conn.keys or conn.route == "private":
                await self._close(conn, 1001, b"disconnected")

    async def close_all(self) -> None:
        for conn in list(self.conns):
            await self._close(conn, 1001, b"server closed")

    @staticmethod
    async def _close(conn: Conn, code: int, message: bytes) -> None:
        conn.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code, message=message)

    async def reset(self) -> None:
        self.keys.clear()
        await self.disconnect_users()


__all__ = ["Conn", "Streams", "classify", "normalize"]
