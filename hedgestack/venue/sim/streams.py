"""WebSocket fan-out: the user data stream (listenKeys, faults) and the market streams.

User data (``/private/ws?listenKey=K``): a listenKey lives ``listen_key_ttl`` seconds after its last
POST/PUT; on expiry its sockets receive ``listenKeyExpired`` and nothing more. Faults act here:
``pause_user_stream`` drops every event in the window (never delivered, as on Binance),
``duplicate_events`` sends the next N events twice, ``disconnect_user_stream`` closes the sockets.

Market (``/market/ws/<s1>/<s2>``, ``/market/stream?streams=a/b``, same under ``/public``): stream names
``<symbol>@markPrice[@1s]``, ``!markPrice@arr[@1s]``, ``<symbol>@aggTrade``, ``<symbol>@kline_1m``,
``<pair>_perpetual@continuousKline_1m`` on /market, ``<symbol>@bookTicker`` on /public. Stream mode wraps
each payload as ``{"stream": name, "data": payload}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
from aiohttp import WSMsgType, web

from hedgestack.venue.binance import schemas as w

_encoder = msgspec.json.Encoder()


@dataclass(slots=True, eq=False)
class _Conn:
    ws: web.WebSocketResponse
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)


async def _pump(conn: _Conn) -> None:
    while True:
        item = await conn.queue.get()
        if item is None or conn.ws.closed:
            return
        try:
            await conn.ws.send_str(item.decode())
        except (ConnectionError, RuntimeError):
            return


async def _serve(conn: _Conn, on_text: Callable[[str], None] | None = None) -> None:
    """Run the writer and read until the socket closes."""
    writer = asyncio.create_task(_pump(conn))
    try:
        async for msg in conn.ws:
            if msg.type == WSMsgType.TEXT and on_text is not None:
                on_text(msg.data)
            elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
    finally:
        conn.queue.put_nowait(None)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer


class UserStreams:
    """listenKeys and the user-data sockets."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.keys: dict[str, float] = {}  # active listenKey → expiry (monotonic)
        self.conns: dict[_Conn, str] = {}
        self.pause_until = 0.0
        self.duplicate = 0
        self.delivered = 0

    # -- listenKeys --------------------------------------------------------------------------
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
        payload = _encoder.encode(w.ListenKeyExpired(E=int(time.time() * 1000), listenKey=key))
        for conn, k in self.conns.items():
            if k == key:
                conn.queue.put_nowait(payload)

    def expire_all(self) -> None:
        for key in list(self.keys):
            self.expire(key)

    # -- events ------------------------------------------------------------------------------
    def publish(self, event: msgspec.Struct) -> None:
        """Send one user event to every socket whose key is alive (faults applied)."""
        if self.clock() < self.pause_until:
            return
        payload = _encoder.encode(event)
        copies = 1
        if self.duplicate > 0:
            self.duplicate -= 1
            copies = 2
        for conn, key in self.conns.items():
            if key in self.keys:
                for _ in range(copies):
                    conn.queue.put_nowait(payload)
        self.delivered += 1

    async def handle(self, request: web.Request, key: str) -> web.StreamResponse:
        self.expire_due()
        if key not in self.keys:
            body = _encoder.encode(w.BinanceError(code=-1125, msg="This listenKey does not exist."))
            return web.Response(status=400, body=body, content_type="application/json")
        ws = web.WebSocketResponse(heartbeat=180.0)
        await ws.prepare(request)
        conn = _Conn(ws)
        self.conns[conn] = key
        try:
            await _serve(conn)
        finally:
            self.conns.pop(conn, None)
        return ws

    async def disconnect_all(self) -> None:
        for conn in list(self.conns):
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"disconnected")

    async def reset(self) -> None:
        self.keys.clear()
        await self.disconnect_all()


_MARKET_SUFFIXES = ("@markprice", "@markprice@1s", "@aggtrade", "@kline_1m", "@continuouskline_1m")
_PUBLIC_SUFFIXES = ("@bookticker",)


class MarketStreams:
    """Market sockets and their subscriptions."""

    def __init__(self) -> None:
        self.conns: dict[_Conn, tuple[str, bool, dict[str, str]]] = {}  # route, combined, lower → given

    def publish(self, stream: str, event: msgspec.Struct | list[msgspec.Struct]) -> None:
        """Send to every socket subscribed to ``stream`` (lower-case name)."""
        raw: bytes | None = None
        for conn, (_route, combined, names) in self.conns.items():
            given = names.get(stream)
            if given is None:
                continue
            if combined:
                conn.queue.put_nowait(b'{"stream":' + _encoder.encode(given) + b',"data":'
                                      + _encoder.encode(event) + b"}")
            else:
                raw = raw if raw is not None else _encoder.encode(event)
                conn.queue.put_nowait(raw)

    def wants(self, stream: str) -> bool:
        return any(stream in names for _r, _c, names in self.conns.values())

    @staticmethod
    def _allowed(route: str, name: str) -> bool:
        suffixes = _PUBLIC_SUFFIXES if route == "public" else _MARKET_SUFFIXES
        return name.endswith(suffixes) or (route == "market" and name.startswith("!markprice@arr"))

    async def handle(self, request: web.Request, route: str, streams: list[str],
                     combined: bool) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=180.0)
        await ws.prepare(request)
        conn = _Conn(ws)
        names = {s.lower(): s for s in streams if s and self._allowed(route, s.lower())}
        self.conns[conn] = (route, combined, names)

        def on_text(text: str) -> None:
            try:
                msg = msgspec.json.decode(text)
            except msgspec.DecodeError:
                return
            if not isinstance(msg, dict):
                return
            method, params = msg.get("method"), msg.get("params") or []
            if method == "SUBSCRIBE":
                names.update({s.lower(): s for s in params if self._allowed(route, s.lower())})
            elif method == "UNSUBSCRIBE":
                for s in params:
                    names.pop(s.lower(), None)
            result = sorted(names.values()) if method == "LIST_SUBSCRIPTIONS" else None
            conn.queue.put_nowait(_encoder.encode({"result": result, "id": msg.get("id")}))

        try:
            await _serve(conn, on_text)
        finally:
            self.conns.pop(conn, None)
        return ws

    async def close_all(self) -> None:
        for conn in list(self.conns):
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await conn.ws.close()
