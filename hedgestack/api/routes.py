"""``api_routes(terminal, ...)``: the tornado routes of ``/v1`` for ``pn.serve(extra_patterns=...)`` or a
plain ``tornado.web.Application``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hedgestack.api import exports, handlers
from hedgestack.api.auth import LoginHandler, LogoutHandler
from hedgestack.api.base import ApiHandler, NotFoundHandler
from hedgestack.api.context import ApiContext
from hedgestack.api.openapi import document
from hedgestack.api.stream import StreamHandler

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from hedgestack.engine.terminal import Terminal

Route = tuple[str, type, dict[str, Any]]

_ID = r"([^/]+)"


class OpenApiHandler(ApiHandler):
    async def get(self) -> None:
        self.no_query()
        self.reply(document())


def api_routes(terminal: Terminal | Callable[[], Awaitable[Terminal]], token: str | None = None,
               allowed_origins: Iterable[str] = (), *, stream_queue: int = 1000,
               context: ApiContext | None = None) -> list[Route]:
    """The routes of ``/v1``. ``terminal`` is a Terminal or an async callable returning one.

    ``token`` (HEDGESTACK_TOKEN): required from every client when set; without it only loopback clients are
    served. ``allowed_origins``: browser origins allowed besides the server's own (WebSocket and writes).
    """
    ctx = context or ApiContext.build(terminal, token, allowed_origins, stream_queue)
    kw = {"ctx": ctx}
    table: list[tuple[str, type]] = [
        (r"/v1/state", handlers.StateHandler),
        (r"/v1/virtual-positions", handlers.VirtualPositionsHandler),
        (rf"/v1/virtual-positions/{_ID}", handlers.VirtualPositionHandler),
        (rf"/v1/virtual-positions/{_ID}/close", handlers.CloseHandler),
        (rf"/v1/virtual-positions/{_ID}/tpsl", handlers.TpSlHandler),
        (r"/v1/orders", handlers.OrdersHandler),
        (r"/v1/orders/history", exports.OrderHistoryHandler),
        (rf"/v1/orders/{_ID}/cancel", handlers.CancelHandler),
        (rf"/v1/orders/{_ID}/amend", handlers.AmendHandler),
        (r"/v1/reconcile", handlers.ReconcileHandler),
        (r"/v1/transfers", handlers.TransfersHandler),
        (r"/v1/fills", exports.FillsHandler),
        (r"/v1/vp-history", exports.VpHistoryHandler),
        (r"/v1/sql", exports.SqlHandler),
        (r"/v1/instruments", handlers.InstrumentsHandler),
        (r"/v1/candles", handlers.CandlesHandler),
        (r"/v1/health", handlers.HealthHandler),
        (r"/v1/openapi.json", OpenApiHandler),
        (r"/v1/stream", StreamHandler),
        (r"/v1/login", LoginHandler),
        (r"/v1/logout", LogoutHandler),
        (r"/v1(?:/.*)?", NotFoundHandler),
    ]
    return [(pattern, handler, kw) for pattern, handler in table]


def context_of(routes: list[Route]) -> ApiContext:
    """The shared context of routes built by :func:`api_routes` (tests, auth provider)."""
    return routes[0][2]["ctx"]
