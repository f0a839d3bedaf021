"""The HTTP server of ``hedgestack serve``'s engine process: ``/v1`` and ``/v1/stream`` on the public address, the
dashboard process behind the same address (:mod:`hedgestack.api.frontdoor`), and a loopback-only listener the
dashboard process itself uses to reach the API.

It runs on the engine's own loop: a REST command or a stream event crosses no thread (the handler awaits the
terminal's coroutine directly, the stream hub gets each event from the bus without a hand-off), and nothing else
runs in this process but the engine and this thin layer (the dashboard's sessions live in their own process).
Exports, SQL and Parquet/Arrow encoding run on worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Coroutine
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.routing
import tornado.web

from hedgestack.api.context import ApiContext
from hedgestack.api.frontdoor import DashboardBackend, dashboard_rules
from hedgestack.api.routes import api_routes

log = logging.getLogger("hedgestack.serve")

#: Bokeh's messages (a session's first document) can be large
MAX_MESSAGE = 64 * 1024 * 1024
#: the largest request body (the API checks its own bodies at 64 KiB)
MAX_BODY = 16 * 1024 * 1024


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Only failures are logged: no line per request or static file (nor the 503s of a starting engine)."""
    status = handler.get_status()
    if status >= 500 and status != 503:
        log.warning("%d %s %s", status, handler.request.method, handler.request.path[:200])


def application(ctx: ApiContext, backend: DashboardBackend | None) -> tornado.web.Application:
    rules: list[Any] = [tornado.routing.Rule(tornado.routing.PathMatches(pattern), handler, kw)
                        for pattern, handler, kw in api_routes(ctx.terminal_source, context=ctx)]
    if backend is not None:
        rules.extend(dashboard_rules(ctx, backend))
    return tornado.web.Application(rules, log_function=_log_request, websocket_max_message_size=MAX_MESSAGE,
                                   compress_response=False)


class FrontDoor:
    """The engine process's HTTP server on ``loop`` (the engine's): public ``address:port`` and an internal
    loopback port (``internal_url``) for the dashboard process."""

    def __init__(self, ctx: ApiContext, backend: DashboardBackend | None, loop: asyncio.AbstractEventLoop) -> None:
        self.ctx = ctx
        self.backend = backend
        self.loop = loop
        self._server: tornado.httpserver.HTTPServer | None = None
        self.port: int | None = None
        self.internal_port: int | None = None

    def _on_loop(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def listen(self, port: int, address: str) -> None:
        """Bind both listeners (OSError when the public port is taken) and start serving."""
        public = tornado.netutil.bind_sockets(port, address, family=socket.AF_UNSPEC)
        try:
            internal = tornado.netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        except OSError:
            for sock in public:
                sock.close()
            raise
        self.port = int(public[0].getsockname()[1])
        self.internal_port = int(internal[0].getsockname()[1])

        async def start() -> None:
            server = tornado.httpserver.HTTPServer(application(self.ctx, self.backend), xheaders=False,
                                                   max_body_size=MAX_BODY, idle_connection_timeout=300)
            server.add_sockets([*public, *internal])
            self._server = server

        self._on_loop(start())

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"

    def stop(self) -> None:
        """Stop listening and close every connection (stream clients, relayed dashboard sessions)."""
        server = self._server
        if server is None or self.loop.is_closed():
            return
        self._server = None

        async def stop() -> None:
            server.stop()
            if self.ctx.hub is not None:
                self.ctx.hub.close_all()
            try:
                await asyncio.wait_for(server.close_all_connections(), 5)
            except TimeoutError:
                log.warning("connections still open after 5 s")
            if self.backend is not None:
                await self.backend.close()

        try:
            self._on_loop(stop(), 10)
        except Exception:  # noqa: BLE001 - stopping anyway
            log.debug("front door stop", exc_info=True)
