"""The base of every REST handler: auth, origin, JSON in and out, errors always in the seed's envelope."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import tornado.web

from hedgestack.api.context import CONFIRM_HEADER, COOKIE, LIVE_COOKIE, VENUE_HEADER, ApiContext
from hedgestack.api.errors import HTTP_CODES, ApiError, envelope, envelope_of, status_of
from hedgestack.api.validation import Body, parse_json
from hedgestack.domain.errors import HedgestackError, ValidationError
from hedgestack.engine.views import View, to_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hedgestack.engine.terminal import Terminal

log = logging.getLogger("hedgestack.api")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ApiHandler(tornado.web.RequestHandler):
    """JSON handler; subclasses implement get/post/... and may raise any HedgestackError."""

    ctx: ApiContext
    #: True on routes that send a new order to the exchange (LIVE confirmation applies)
    sends_orders = False
    authenticated = True

    def initialize(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self._terminal: Terminal | None = None
        self._live_cookie: str | None = None

    # == plumbing ===============================================================================
    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    async def prepare(self) -> None:
        if self.authenticated:
            self.ctx.authorize(self.request.headers.get("Authorization"), self.get_cookie(COOKIE),
                               self.request.remote_ip)
        origin = self.request.headers.get("Origin")
        if origin is not None and self.request.method not in SAFE_METHODS and \
                not self.ctx.origin_allowed(origin, self.request.host):
            raise ApiError(403, "FORBIDDEN_ORIGIN", f"origin {origin[:80]!r} is not allowed")
        if self.request.body and self.request.method not in SAFE_METHODS:
            ctype = self.request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if ctype != "application/json":
                raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as Content-Type: application/json")

    async def terminal(self) -> Terminal:
        if self._terminal is None:
            self._terminal = await self.ctx.terminal()
            self.set_header(VENUE_HEADER, self._terminal.venue_name)
        return self._terminal

    async def order_terminal(self) -> Terminal:
        """The terminal, for a request that sends an order: applies the LIVE confirmation of the client session
        (header, or the session's cookie; a new confirmation sets the cookie)."""
        t = await self.terminal()
        if self.sends_orders:
            cookie = self.ctx.check_live(t.venue_name, self.request.headers.get(CONFIRM_HEADER),
                                         self.get_cookie(LIVE_COOKIE))
            if cookie is not None:
                self._live_cookie = cookie
                self._set_live_cookie()
        return t

    def _set_live_cookie(self) -> None:
        if self._live_cookie is not None:
            self.set_cookie(LIVE_COOKIE, self._live_cookie, httponly=True, samesite="Strict", path="/v1",
                            secure=self.request.protocol == "https")

    def body(self, spec: Body) -> dict[str, Any]:
        return spec.check(parse_json(self.request.body))

    def no_body(self) -> None:
        data = parse_json(self.request.body)
        if data != {}:
            raise ValidationError("this request takes no body (or an empty JSON object)", code="UNKNOWN_FIELD")

    def no_query(self, *allowed: str) -> dict[str, str]:
        """The query arguments, refusing any not in ``allowed``."""
        args = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        unknown = sorted(set(args) - set(allowed))
        if unknown:
            raise ValidationError(f"unknown query parameter(s) {', '.join(repr(u[:40]) for u in unknown[:5])}; "
                                  f"allowed: {', '.join(allowed) or 'none'}", code="UNKNOWN_PARAMETER")
        return args

    def reply(self, data: View | Sequence[View] | Sequence[dict[str, Any]] | dict[str, Any],
              status: int = 200) -> None:
        """Answer with ``data``: a view (or views) through the one JSON mapping (``views.to_json``), or plain
        JSON (rows of a table, health)."""
        if isinstance(data, View):
            body: Any = to_json(data)
        elif isinstance(data, (list, tuple)):
            body = [to_json(item) if isinstance(item, View) else item for item in data]
        else:
            body = data
        self.set_status(status)
        self.finish(json.dumps(body, separators=(",", ":"), ensure_ascii=False))

    # == errors =================================================================================
    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, HedgestackError):
            if self._finished:
                return
            status = status_of(e)
            if status >= 500:
                log.warning("%s %s -> %s %s", self.request.method, self.request.path, status, e)
            self.clear()
            self.set_default_headers()
            if self._terminal is not None:
                self.set_header(VENUE_HEADER, self._terminal.venue_name)
            if status == 401:
                self.set_header("WWW-Authenticate", 'Bearer realm="hedgestack"')
            self._set_live_cookie()  # the session confirmed, even if this order was refused
            self.set_status(status)
            self.finish(json.dumps(envelope_of(e), ensure_ascii=False))
            return
        super()._handle_request_exception(e)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Anything not raised as a HedgestackError (tornado's own 4xx, an unexpected bug): the envelope,
        never a traceback."""
        self.set_header("Content-Type", "application/json; charset=utf-8")
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and status_code < 500:
            message = exc.log_message or self._reason
            self.finish(json.dumps(envelope(HTTP_CODES.get(status_code, "HTTP_ERROR"), message % exc.args
                                            if exc.args and exc.log_message else message)))
            return
        if status_code >= 500:
            self.finish(json.dumps(envelope("INTERNAL_ERROR", "internal error; see the server log")))
            return
        self.finish(json.dumps(envelope(HTTP_CODES.get(status_code, "HTTP_ERROR"), self._reason)))


class NotFoundHandler(ApiHandler):
    """Every other path under /v1: 404 in the envelope (after auth, so it does not reveal routes)."""

    async def prepare(self) -> None:
        await super().prepare()
        raise ApiError(404, "NOT_FOUND", f"no route {self.request.method} {self.request.path[:100]}")
