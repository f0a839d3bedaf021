"""The HTTP server of ``hedgestack serve``'s engine process: ``/v1`` and ``/v1/stream`` on the public address, the
dashboard process behind the same address (:mod:`hedgestack.api.frontdoor`), and a loopback-only listener the
dashboard process itself uses to reach the API.

It runs on a loop of its own, in a thread of its own (:meth:`FrontDoor.on_own_thread`), not on the engine's: the
engine's loop spends much of its time waiting in DuckDB with the GIL released (measured: about half of it at
200 fills/s), and meanwhile this thread parses requests, serializes the stream's events and relays the dashboard's
messages on the other core, instead of queueing that work behind the engine's (measured on the engine's loop: ~17 %
of its busy time with two dashboards open). A command crosses one thread hop each way (``Terminal`` methods run on
the engine's loop from any loop). Exports, SQL and Parquet/Arrow encoding run on worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

import tornado.httpserver
import tornado.netutil
import tornado.routing
import tornado.web

from hedgestack.api.frontdoor import DashboardBackend, dashboard_rules
from hedgestack.api.routes import api_routes

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from hedgestack.api.context import ApiContext

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
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        self.internal_port: int | None = None

    @classmethod
    def on_own_thread(cls, ctx: ApiContext, backend: DashboardBackend | None) -> FrontDoor:
        """A front door on a new loop in a daemon thread ``hedgestack-api`` (stopped with :meth:`stop`)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="hedgestack-api", daemon=True)
        thread.start()
        ready.wait()
        front = cls(ctx, backend, loop)
        front._thread = thread
        return front

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
            if self._thread is not None and not self.loop.is_closed():
                self._close_loop()
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
        if self._thread is not None:
            self._close_loop()

    def _close_loop(self) -> None:
        """Cancel what still runs on our own loop, stop it and join its thread."""
        loop, thread = self.loop, self._thread
        self._thread = None

        async def drain() -> None:
            current = asyncio.current_task()
            others = [t for t in asyncio.all_tasks() if t is not current]
            for task in others:
                task.cancel()
            if others:
                await asyncio.wait(others, timeout=3)

        try:
            asyncio.run_coroutine_threadsafe(drain(), loop).result(5)
        except Exception:  # noqa: BLE001 - stopping anyway
            log.debug("front door drain", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(5)
        if not loop.is_running():
            loop.close()
