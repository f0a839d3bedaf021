"""The one address of ``hedgestack serve``: ``/v1`` (REST and the stream) served here, everything else (the
dashboard's page, its static files and its Bokeh WebSocket) passed to the dashboard process.

The dashboard runs in a process of its own (a Panel server on a Unix socket only its user can open, see
``hedgestack/serve.py``), so browser sessions never take the engine's CPU or GIL. This module is the thin
pass-through in front of it:

- the same auth as the API (token or login cookie; without a token, loopback clients only) and the same Origin
  rule for the WebSocket, checked here once; a browser without the login cookie is sent to ``/v1/login``;
- HTTP requests are streamed through with backpressure (one chunk in flight, ``WRITE_TIMEOUT`` per chunk);
- the WebSocket is relayed message by message, one message in flight each way: a browser that stops reading is
  disconnected when a message waits more than ``WRITE_TIMEOUT`` seconds or it stops answering pings
  (:mod:`hedgestack.api.keepalive`), instead of buffering without bound, and nothing it does reaches the engine or
  another session;
- while the dashboard process starts (or restarts), pages answer 503 with a page that reloads itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp
import tornado.routing
import tornado.web
import tornado.websocket

from hedgestack.api.auth import LOGIN_URL
from hedgestack.api.context import COOKIE, ApiContext
from hedgestack.api.errors import ApiError, envelope_of, status_of
from hedgestack.api.keepalive import Keepalive
from hedgestack.api.stream import retrieved

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

log = logging.getLogger("hedgestack.serve")

#: a chunk or message the browser has not taken within this many seconds: the browser is cut off
WRITE_TIMEOUT = 10.0
#: a dashboard request (a page builds a session: slow on a busy machine) fails after this many seconds
UPSTREAM_TIMEOUT = 120.0
#: the largest Bokeh message relayed (Bokeh's own default limit is 20 MiB)
MAX_MESSAGE = 64 * 1024 * 1024
CHUNK = 64 * 1024
#: the dashboard process's health is asked every few seconds, answered within PROBE_TIMEOUT; a process that is
#: listening but missed BUSY_PROBES answers in a row is taken as down
PROBE_TIMEOUT = 2.0
BUSY_PROBES = 5
#: request and response headers that belong to one hop, never passed on
HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                         "transfer-encoding", "upgrade", "proxy-connection"})
#: paths under the dashboard process that are for ``hedgestack serve`` itself, never passed on
PRIVATE_PREFIX = "/__hedgestack"
DASHBOARD_PATHS = r"/(?!v1(?:/|$)).*"

_STARTING_PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="1">
<title>hedgestack: starting</title></head><body style="font-family:system-ui,sans-serif;margin:4rem">
<h1>hedgestack</h1><p>{text}</p><p>This page reloads by itself. The REST API is at <code>/v1</code>.</p>
</body></html>"""


class DashboardBackend:
    """The dashboard process as seen from the front door: its Unix socket, whether it is up, its health."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.ready = False
        self.state = "starting"  # starting | up | restarting | stopped
        self.health: dict[str, Any] = {}
        self.relays = 0
        self.dropped_slow = 0
        self.slow_probes = 0  # consecutive probes the process took longer than PROBE_TIMEOUT to answer
        self.sockets: set[DashboardSocketProxy] = set()
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The HTTP session to the dashboard process (made on the front door's loop, on first use)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=self.socket_path, limit=0, force_close=False),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10), auto_decompress=False)
        return self._session

    async def close(self) -> None:
        for relay in list(self.sockets):
            relay.close(1001, "the server is stopping")
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def probe(self) -> dict[str, Any] | None:
        """The dashboard process's own health (None when it does not answer). A probe that times out on a process
        that accepted the connection counts in ``slow_probes`` (a busy process, not a dead one)."""
        try:
            async with self.session().get("http://dashboard" + PRIVATE_PREFIX + "/health",
                                           timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT)) as resp:
                if resp.status != 200:
                    return None
                data = await resp.json()
        except TimeoutError:
            self.slow_probes += 1
            return None
        except (aiohttp.ClientError, ValueError):
            self.slow_probes = BUSY_PROBES  # not listening (or not answering HTTP): down now
            return None
        self.slow_probes = 0
        return data if isinstance(data, dict) else None

    def report(self) -> dict[str, Any]:
        return {"state": self.state, "relayed_sockets": self.relays, "dropped_slow_browsers": self.dropped_slow,
                **self.health}


def refusal(ctx: ApiContext, handler: tornado.web.RequestHandler) -> ApiError | None:
    """Why the API's auth refuses this request (None when it may pass)."""
    try:
        ctx.authorize(handler.request.headers.get("Authorization"), handler.get_cookie(COOKIE),
                      handler.request.remote_ip)
    except ApiError as exc:
        return exc
    return None


def _send_envelope(handler: tornado.web.RequestHandler, exc: ApiError) -> None:
    handler.set_status(status_of(exc))
    handler.set_header("Content-Type", "application/json; charset=utf-8")
    handler.finish(json.dumps(envelope_of(exc)))


def _forward_headers(request: Any, *, drop: frozenset[str] = frozenset()) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.get_all():
        lower = name.lower()
        if lower in HOP_HEADERS or lower in drop or lower.startswith("sec-websocket-"):
            continue
        headers[name] = value if name not in headers else f"{headers[name]}, {value}"
    headers["X-Forwarded-For"] = str(request.remote_ip)
    headers["X-Forwarded-Proto"] = request.protocol
    return headers


class DashboardHttpProxy(tornado.web.RequestHandler):
    """Every non-/v1 HTTP request: to the dashboard process, streamed back with backpressure."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def initialize(self, ctx: ApiContext, backend: DashboardBackend) -> None:
        self.ctx = ctx
        self.backend = backend

    def compute_etag(self) -> str | None:
        return None  # the dashboard's own headers pass through

    async def prepare(self) -> None:
        refused = refusal(self.ctx, self)
        if refused is not None:
            if self.ctx.token is not None and self.request.method in ("GET", "HEAD") and refused.status == 401:
                self.redirect(f"{LOGIN_URL}?next={quote(self.request.uri or '/', safe='')}")
                return
            _send_envelope(self, refused)
            return
        if self.request.path.startswith(PRIVATE_PREFIX):
            _send_envelope(self, ApiError(404, "NOT_FOUND", f"no route {self.request.path[:100]}"))
            return
        if not self.backend.ready:
            self._starting()
            return
        await self._relay()

    async def get(self) -> None:  # every method is relayed by prepare()
        pass

    head = post = put = patch = delete = options = get

    def _starting(self, text: str | None = None) -> None:
        self.set_status(503)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Retry-After", "1")
        self.set_header("Cache-Control", "no-store")
        self.finish(_STARTING_PAGE.format(text=html.escape(text or "The dashboard is starting.")))

    async def _relay(self) -> None:
        request = self.request
        streaming = False
        try:
            async with self.backend.session().request(
                    request.method or "GET", "http://dashboard" + (request.uri or "/"),
                    headers=_forward_headers(request), data=request.body or None, allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT)) as resp:
                self.set_status(resp.status, resp.reason)
                for name in ("Content-Type", "Server", "Date"):
                    self.clear_header(name)
                for name, value in resp.headers.items():
                    if name.lower() not in HOP_HEADERS:
                        self.add_header(name, value)
                streaming = True
                async for chunk in resp.content.iter_chunked(CHUNK):
                    self.write(chunk)
                    await asyncio.wait_for(self.flush(), WRITE_TIMEOUT)
        except (aiohttp.ClientError, ConnectionError) as exc:
            if not streaming:
                self.clear()
                self._starting(f"The dashboard is not answering ({type(exc).__name__}); it is being restarted.")
                return
            raise tornado.web.HTTPError(502) from exc
        except TimeoutError:  # the browser took no chunk for WRITE_TIMEOUT: cut it off
            self.backend.dropped_slow += 1
            if self.request.connection is not None and self.request.connection.stream is not None:  # type: ignore[attr-defined]
                self.request.connection.stream.close()  # type: ignore[attr-defined]
            return
        self.finish()


class DashboardSocketProxy(tornado.websocket.WebSocketHandler):
    """The dashboard's Bokeh WebSocket, relayed one message at a time each way."""

    def initialize(self, ctx: ApiContext, backend: DashboardBackend) -> None:
        self.ctx = ctx
        self.backend = backend
        self._upstream: aiohttp.ClientWebSocketResponse | None = None
        self._pump: asyncio.Task[None] | None = None
        self._protocols: list[str] = []
        self._keepalive: Keepalive | None = None

    async def get(self, *args: Any, **kwargs: Any) -> None:
        refused = refusal(self.ctx, self)
        if refused is None and not self.backend.ready:
            refused = ApiError(503, "DASHBOARD_STARTING", "the dashboard is starting")
        if refused is not None:
            _send_envelope(self, refused)
            return
        await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:
        return self.ctx.origin_allowed(origin, self.request.host)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        self._protocols = list(subprotocols)
        return subprotocols[0] if subprotocols else None

    def get_compression_options(self) -> dict[str, Any] | None:
        return None

    async def open(self, *args: str, **kwargs: str) -> None:
        self.set_nodelay(True)  # each relayed message goes out at once (no Nagle wait for a delayed ACK)
        # the Origin was checked above, against this server's own address: the dashboard process need not
        headers = _forward_headers(self.request, drop=frozenset({"origin", "host"}))
        headers["Host"] = self.request.host
        try:
            self._upstream = await self.backend.session().ws_connect(
                "http://dashboard" + (self.request.uri or "/"), protocols=self._protocols, headers=headers,
                max_msg_size=MAX_MESSAGE, autoping=True, compress=0, timeout=aiohttp.ClientWSTimeout(ws_close=5))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("dashboard WebSocket not relayed: %s", exc)
            self.close(1011, "dashboard unavailable")
            return
        self.backend.relays += 1
        self.backend.sockets.add(self)
        self._pump = asyncio.create_task(self._downstream(self._upstream))
        self._keepalive = Keepalive(self, self._stalled)
        self._keepalive.start()

    def _stalled(self, silent: float) -> None:
        self.backend.dropped_slow += 1
        log.warning("dashboard session of %s dropped: no answer to pings for %.0f s", self.request.remote_ip, silent)
        self.close(1001, "no answer to pings")

    def on_pong(self, data: bytes) -> None:
        if self._keepalive is not None:
            self._keepalive.pong()

    async def _downstream(self, upstream: aiohttp.ClientWebSocketResponse) -> None:
        """Dashboard → browser: the next message is read only once the browser took this one."""
        try:
            async for message in upstream:
                if message.type is aiohttp.WSMsgType.TEXT:
                    sent = self.write_message(message.data)
                elif message.type is aiohttp.WSMsgType.BINARY:
                    sent = self.write_message(message.data, binary=True)
                else:
                    break
                sent.add_done_callback(retrieved)
                await asyncio.wait_for(sent, WRITE_TIMEOUT)
        except TimeoutError:
            self.backend.dropped_slow += 1
            log.warning("dashboard session of %s dropped: the browser took no message for %g s",
                        self.request.remote_ip, WRITE_TIMEOUT)
        except (tornado.websocket.WebSocketClosedError, asyncio.CancelledError):
            pass
        finally:
            self.backend.relays -= 1
            self.backend.sockets.discard(self)
            with contextlib.suppress(Exception):
                await upstream.close()
            if self.ws_connection is not None:
                self.close(1001, "dashboard closed the session")

    async def on_message(self, message: str | bytes) -> None:
        """Browser → dashboard (tornado reads the next message once this returns)."""
        upstream = self._upstream
        if upstream is None or upstream.closed:
            return
        try:
            if isinstance(message, bytes):
                await upstream.send_bytes(message)
            else:
                await upstream.send_str(message)
        except (aiohttp.ClientError, ConnectionError):
            self.close(1011, "dashboard unavailable")

    def on_close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.stop()
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
        elif self._upstream is not None and not self._upstream.closed:
            asyncio.ensure_future(self._upstream.close())


class WebSocketPath(tornado.routing.PathMatches):
    """Matches a path only for WebSocket upgrade requests."""

    def match(self, request: Any) -> dict[str, Any] | None:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return None
        return super().match(request)


def dashboard_rules(ctx: ApiContext, backend: DashboardBackend) -> list[tornado.routing.Rule]:
    """The front door's rules for every non-/v1 path (after the API's routes)."""
    kw = {"ctx": ctx, "backend": backend}
    return [tornado.routing.Rule(WebSocketPath(DASHBOARD_PATHS), DashboardSocketProxy, kw),
            tornado.routing.Rule(tornado.routing.PathMatches(DASHBOARD_PATHS), DashboardHttpProxy, kw)]


async def watch(backend: DashboardBackend, alive: Callable[[], bool], period: float = 2.0,
                on_change: Callable[[bool], Awaitable[None]] | None = None) -> None:
    """Keep ``backend.ready`` and its health current while ``alive()``."""
    while alive():
        started = time.monotonic()
        data = await backend.probe()
        # a process busy building a session may miss a probe or two: it stays up (relays wait for it) until it
        # missed BUSY_PROBES in a row; one that does not listen is down at once
        up = data is not None or (backend.ready and backend.slow_probes < BUSY_PROBES)
        if up != backend.ready:
            backend.ready = up
            if backend.state != "stopped":
                backend.state = "up" if up else "restarting"
            if on_change is not None:
                await on_change(up)
        if data is not None:
            backend.health = data
        await asyncio.sleep(max(0.05, (0.2 if not up else period) - (time.monotonic() - started)))
