"""``GET /v1/stream``: the seed's event envelope over a WebSocket.

On connect: one ``SNAPSHOT`` (``/v1/state``), then every bus event as ``{"type", "payload", "ts"}``: the seed's
seven types, plus the extension types ``?types=MARK_PRICE,CONNECTION_STATE,ACCOUNT_STATUS`` names
(``views.EXTENSION_EVENT_TYPES``). The subscription is taken before the snapshot is read, so no event is lost
between the two (an event may repeat what the snapshot already shows). Auth and Origin are checked before the
upgrade.

One :class:`StreamHub` per API takes the engine's events through one bus subscription and serializes each once
(``views.to_json``), whatever the number of clients: the engine's cost per event does not grow with them. Each
client has a bounded queue of serialized messages and a writer task of its own; a client that falls behind by
more than the queue, or does not take a message within ``WRITE_TIMEOUT``, is closed with code 4008 and a reason
saying so; one that stops answering pings (:mod:`hedgestack.api.keepalive`) too. The engine never waits for a
client.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import tornado.websocket

from hedgestack.api.context import COOKIE, VENUE_HEADER, ApiContext
from hedgestack.api.errors import ApiError, envelope_of, status_of
from hedgestack.api.keepalive import Keepalive
from hedgestack.domain.errors import HedgestackError
from hedgestack.engine.views import ALL_EVENT_TYPES, EVENT_TYPES, EXTENSION_EVENT_TYPES, Envelope

if TYPE_CHECKING:
    from collections.abc import Callable

    from hedgestack.engine.terminal import Terminal

log = logging.getLogger("hedgestack.api.stream")

CLOSE_SLOW = 4008
CLOSE_TERMINAL = 1011
CLOSE_GOING_AWAY = 1001
#: a write the client has not taken within this many seconds counts as falling behind
WRITE_TIMEOUT = 10.0
#: the hub's own subscription to the bus: it serializes and fans out at once, so it only backs up when the
#: server's loop is stalled
HUB_QUEUE = 100_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a write's outcome as seen (its error, if any, was handled where it was awaited, or did not matter)."""
    if not future.cancelled():
        future.exception()


def parse_types(text: str | None) -> frozenset[str]:
    """The event types of ``?types=A,B``: the seed's seven plus the extension types named (400 otherwise)."""
    wanted = set(EVENT_TYPES)
    if text is None:
        return frozenset(wanted)
    for name in (part.strip().upper() for part in text.split(",")):
        if not name:
            continue
        if name not in ALL_EVENT_TYPES:
            raise ApiError(400, "INVALID_PARAMETER", f"types: unknown event type {name[:40]!r}; extension types: "
                           f"{', '.join(EXTENSION_EVENT_TYPES)} (the seed's seven are always sent)")
        wanted.add(name)
    return frozenset(wanted)


class Client:
    """One stream client's bounded queue of serialized messages."""

    def __init__(self, types: frozenset[str], maxsize: int, remote: str,
                 close: Callable[[int, str], None] | None = None) -> None:
        self.types = types
        self.close = close or (lambda code, reason: None)
        self.maxsize = maxsize
        self.remote = remote
        self.queue: collections.deque[tuple[str, int]] = collections.deque()
        self.ready = asyncio.Event()
        self.dropped: str | None = None
        self.sent = 0
        self.last_lag_ms = 0
        self.max_lag_ms = 0

    def offer(self, kind: str, text: str, ts: int) -> None:
        if self.dropped is not None or kind not in self.types:
            return
        if len(self.queue) >= self.maxsize:
            self.drop(f"slow consumer: fell behind by more than {self.maxsize} events")
            return
        self.queue.append((text, ts))
        self.ready.set()

    def drop(self, reason: str) -> None:
        if self.dropped is None:
            self.dropped = reason
            self.queue.clear()
            self.ready.set()

    async def next(self) -> tuple[str, int] | None:
        """The next message, or None once dropped."""
        while not self.queue:
            if self.dropped is not None:
                return None
            self.ready.clear()
            await self.ready.wait()
        if self.dropped is not None:
            return None
        return self.queue.popleft()

    def take_waiting(self) -> list[tuple[str, int]]:
        """Every message already queued (none once dropped): a burst is written at once."""
        if self.dropped is not None:
            return []
        waiting = list(self.queue)
        self.queue.clear()
        return waiting


class StreamHub:
    """The API's one subscription to the engine's events, fanned out to the stream clients (on the API's loop)."""

    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.events = 0
        self.dropped_clients = 0
        self.restarts = 0

    def ensure_running(self, terminal: Terminal) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop = loop
            self._task = loop.create_task(self._run(terminal), name="stream-hub")

    def add(self, client: Client) -> None:
        self.clients.add(client)

    def remove(self, client: Client) -> None:
        self.clients.discard(client)

    async def _run(self, terminal: Terminal) -> None:
        async for envelope in terminal.events(ALL_EVENT_TYPES, maxsize=HUB_QUEUE):
            self.publish(envelope)
        # the hub itself fell behind (the server's loop stalled): every client starts again from a SNAPSHOT
        self.restarts += 1
        for client in list(self.clients):
            client.drop("slow server: the stream fell behind the engine; reconnect for a new SNAPSHOT")

    def publish(self, envelope: Envelope) -> None:
        """Serialize once, offer to every client that asked for this type."""
        self.events += 1
        text = json.dumps(envelope.to_json(), separators=(",", ":"))
        for client in list(self.clients):
            client.offer(envelope.type, text, envelope.ts)

    def close_all(self, reason: str = "the server is stopping") -> None:
        """Close every client's WebSocket (going away)."""
        for client in list(self.clients):
            client.drop(reason)
            client.close(CLOSE_GOING_AWAY, reason)
        self.clients.clear()
        if self._task is not None:
            self._task.cancel()

    def health(self) -> dict[str, Any]:
        depths = sorted((len(c.queue) for c in self.clients), reverse=True)
        return {"clients": len(self.clients), "queue_depths": depths[:20], "queue_limit": max(
                    (c.maxsize for c in self.clients), default=None),
                "max_lag_ms": max((c.max_lag_ms for c in self.clients), default=0),
                "events": self.events, "dropped_clients": self.dropped_clients, "hub_restarts": self.restarts}


def hub_of(ctx: ApiContext) -> StreamHub:
    """The context's hub (made on first use; its figures join /v1/health)."""
    if ctx.hub is None:
        ctx.hub = StreamHub()
        ctx.health_parts["stream"] = ctx.hub.health
    hub: StreamHub = ctx.hub
    return hub


class StreamHandler(tornado.websocket.WebSocketHandler):
    def initialize(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self._pump: asyncio.Task[None] | None = None
        self._client: Client | None = None
        self._types: frozenset[str] = frozenset(EVENT_TYPES)
        self._keepalive: Keepalive | None = None
        self._closed = False

    async def get(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.ctx.authorize(self.request.headers.get("Authorization"), self.get_cookie(COOKIE),
                               self.request.remote_ip)
            if self.request.headers.get("Upgrade", "").lower() != "websocket":
                raise ApiError(426, "UPGRADE_REQUIRED", "/v1/stream is a WebSocket: connect with Upgrade: websocket")
            unknown = set(self.request.query_arguments) - {"types"}
            if unknown:
                raise ApiError(400, "UNKNOWN_PARAMETER", f"unknown query parameter(s) "
                               f"{', '.join(repr(u[:40]) for u in sorted(unknown)[:5])}; allowed: types")
            self._types = parse_types(self.get_query_argument("types", None))
            self.terminal = await self.ctx.terminal()
        except HedgestackError as exc:
            self.set_status(status_of(exc))
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps(envelope_of(exc)))
            return
        self.set_header(VENUE_HEADER, self.terminal.venue_name)
        await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:
        return self.ctx.origin_allowed(origin, self.request.host)

    def get_compression_options(self) -> dict[str, Any] | None:
        return None  # local clients: compressing costs the server more than it saves

    async def open(self, *args: str, **kwargs: str) -> None:
        # tornado leaves Nagle's algorithm on for WebSockets: the second event of a burst would wait for the
        # client's delayed ACK of the first (~40 ms on Linux)
        self.set_nodelay(True)
        hub = hub_of(self.ctx)
        hub.ensure_running(self.terminal)
        self._client = Client(self._types, self.ctx.stream_queue, str(self.request.remote_ip), self.close)
        hub.add(self._client)
        try:
            state = await self.terminal.state()
        except HedgestackError as exc:
            hub.remove(self._client)
            self.close(CLOSE_TERMINAL, f"{exc.code}: {exc.message}"[:120])
            return
        snapshot = json.dumps(Envelope("SNAPSHOT", state, now_ms()).to_json(), separators=(",", ":"))
        self._pump = asyncio.create_task(self._forward(snapshot))
        self._keepalive = Keepalive(self, lambda silent: self._drop(f"no answer to pings for {silent:.0f} s"))
        self._keepalive.start()

    def on_pong(self, data: bytes) -> None:
        if self._keepalive is not None:
            self._keepalive.pong()

    async def _send(self, text: str) -> bool:
        return await self._send_all([text])

    async def _send_all(self, texts: list[str]) -> bool:
        """Write a burst of messages, then wait (at most WRITE_TIMEOUT) until the socket has taken the last: one
        wait per burst, not per message; the socket's buffer holds at most one burst (≤ the client's queue)."""
        try:
            sent: asyncio.Future[None] | None = None
            for text in texts:
                sent = self.write_message(text)
                sent.add_done_callback(retrieved)  # a write the close overtook must not log "never retrieved"
            if sent is not None:
                await asyncio.wait_for(sent, WRITE_TIMEOUT)
        except (tornado.websocket.WebSocketClosedError, asyncio.CancelledError):
            return False
        except TimeoutError:
            self._drop(f"slow consumer: a message was not taken within {WRITE_TIMEOUT:g} s")
            return False
        return True

    async def _forward(self, snapshot: str) -> None:
        client = self._client
        assert client is not None
        if not await self._send(snapshot):
            return
        while True:
            item = await client.next()
            if item is None:
                if self.ws_connection is not None and not self._closed:  # not the client's own close
                    self._drop(f"{client.dropped or 'subscription closed'}; reconnect for a new SNAPSHOT")
                return
            burst = [item, *client.take_waiting()]
            lag = now_ms() - burst[0][1]  # the oldest message's wait
            client.last_lag_ms = lag
            client.max_lag_ms = max(client.max_lag_ms, lag)
            if not await self._send_all([text for text, _ in burst]):
                return
            client.sent += len(burst)

    def _drop(self, reason: str) -> None:
        log.warning("stream client %s dropped: %s", self.request.remote_ip, reason)
        hub = hub_of(self.ctx)
        hub.dropped_clients += 1
        if self._client is not None:
            hub.remove(self._client)
        # the reason travels in the close frame (at most 123 bytes)
        self.close(CLOSE_SLOW, reason.encode()[:120].decode(errors="ignore"))

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen; anything they send is ignored."""

    def on_close(self) -> None:
        self._closed = True
        if self._keepalive is not None:
            self._keepalive.stop()
        if self._client is not None:
            hub_of(self.ctx).remove(self._client)
            self._client.drop("closed")
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
