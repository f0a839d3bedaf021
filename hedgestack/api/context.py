"""What every handler shares: the terminal (or how to get it), the token, allowed origins, LIVE confirmation."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hedgestack.api.errors import ApiError
from hedgestack.domain.errors import VenueUnavailable
from hedgestack.engine.terminal import Terminal

COOKIE = "hedgestack_session"
#: the LIVE confirmation of one client session (a cookie jar: a browser, a requests.Session, a connect() client)
LIVE_COOKIE = "hedgestack_live"
CONFIRM_HEADER = "X-Hedgestack-Confirm-Live"
VENUE_HEADER = "X-Hedgestack-Venue"

#: what the engine behind an API is doing: its routes answer only while it is ``live``
STARTING, LIVE, STOPPING, FAILED = "starting", "live", "stopping", "failed"


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@dataclass
class ApiContext:
    """``terminal`` is a Terminal, or an async callable returning one (the plugin resolves it lazily).

    ``token``: when set, every request needs ``Authorization: Bearer <token>`` or the session cookie the
    login page sets. When not set, only loopback clients are served (a request from any other address is
    refused with 403 TOKEN_REQUIRED), so an accidental wide bind exposes nothing.
    ``allowed_origins``: browser origins (``scheme://host[:port]``) allowed besides the server's own.
    """

    terminal_source: Terminal | Callable[[], Awaitable[Terminal]]
    token: str | None = None
    allowed_origins: frozenset[str] = frozenset()
    stream_queue: int = 1000
    #: STARTING while ``hedgestack serve`` starts the engine (routes answer 503 ENGINE_STARTING), LIVE once it
    #: is, STOPPING/FAILED after
    phase: str = LIVE
    #: the one-line reason the engine failed or stopped (shown by /v1/health)
    phase_reason: str | None = None
    #: client sessions that confirmed trading on the LIVE account (see :meth:`check_live`)
    live_sessions: int = 0
    #: parts that add to /v1/health: name → callable returning a JSON-able dict (stream hub, dashboard ...)
    health_parts: dict[str, Callable[[], Any]] = field(default_factory=dict, repr=False)
    #: the stream's fan-out (``stream.hub_of``) and the engine's probe (``health.probe_of``)
    hub: Any = field(default=None, repr=False)
    probe: Any = field(default=None, repr=False)
    _live_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    @classmethod
    def build(cls, terminal: Terminal | Callable[[], Awaitable[Terminal]], token: str | None = None,
              allowed_origins: Iterable[str] = (), stream_queue: int = 1000, phase: str = LIVE) -> ApiContext:
        origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        return cls(terminal, token or None, origins, stream_queue, phase)

    async def engine(self) -> Terminal:
        """The terminal object in whatever phase it is (health reads it while it starts)."""
        source = self.terminal_source
        if callable(source):
            return await source()
        return source

    async def terminal(self) -> Terminal:
        """The terminal, once it is live; 503 ENGINE_STARTING before, ENGINE_STOPPED after."""
        if self.phase == STARTING:
            raise VenueUnavailable("the engine is starting: retry in a moment (GET /v1/health says when it is "
                                   "live)", code="ENGINE_STARTING")
        if self.phase != LIVE:
            raise VenueUnavailable(f"the engine is not running: {self.phase_reason or self.phase}",
                                   code="ENGINE_STOPPED")
        return await self.engine()

    # == auth ===================================================================================
    def session_value(self) -> str:
        """The cookie value: an HMAC of the token, so the cookie never carries the token itself."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"hedgestack-session-v1", hashlib.sha256).hexdigest()

    def token_matches(self, candidate: str) -> bool:
        return self.token is not None and hmac.compare_digest(candidate.encode(), self.token.encode())

    def authorize(self, authorization: str | None, cookie: str | None, remote_ip: str | None) -> None:
        """Raise 401/403 unless the request may use the API."""
        if self.token is None:
            if not is_loopback(remote_ip):
                raise ApiError(403, "TOKEN_REQUIRED", "this server has no HEDGESTACK_TOKEN and serves only "
                               "loopback clients; set HEDGESTACK_TOKEN to serve other addresses")
            return
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and self.token_matches(value.strip()):
                return
            raise ApiError(401, "UNAUTHORIZED", "invalid bearer token")
        if cookie and hmac.compare_digest(cookie.encode(), self.session_value().encode()):
            return
        raise ApiError(401, "UNAUTHORIZED", "a token is required: send 'Authorization: Bearer <token>' or log in "
                       "at /v1/login")

    def origin_allowed(self, origin: str, host: str | None) -> bool:
        """The server's own origin (same host:port as the request) or one listed in ``allowed_origins``."""
        clean = origin.rstrip("/").lower()
        if clean in self.allowed_origins:
            return True
        parts = urlsplit(clean)
        return bool(host) and parts.scheme in ("http", "https") and parts.netloc == (host or "").lower()

    # == LIVE ===================================================================================
    def live_cookie(self) -> str:
        """A new confirmation cookie value: a random session nonce and its HMAC under this server's secret (a
        restart of the server asks every client session to confirm again)."""
        nonce = secrets.token_hex(16)
        return f"{nonce}.{hmac.new(self._live_secret, nonce.encode(), hashlib.sha256).hexdigest()}"

    def _cookie_valid(self, cookie: str | None) -> bool:
        if not cookie or "." not in cookie:
            return False
        nonce, _, mac = cookie.partition(".")
        expected = hmac.new(self._live_secret, nonce.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac.encode(), expected.encode())

    def check_live(self, venue: str, confirm: str | None, cookie: str | None = None) -> str | None:
        """On the LIVE venue, every client session confirms before its first order-sending request: the request
        carries ``X-Hedgestack-Confirm-Live: yes`` (the answer then sets the session's confirmation cookie, so
        later requests of the same session need nothing), or the session's cookie. Returns the cookie value to
        set, if any. Refuses with 428 LIVE_CONFIRMATION_REQUIRED otherwise."""
        if venue != "live" or self._cookie_valid(cookie):
            return None
        if (confirm or "").strip().lower() != "yes":
            raise ApiError(428, "LIVE_CONFIRMATION_REQUIRED", "this terminal trades on the LIVE Binance account: "
                           f"send this client session's first order with header '{CONFIRM_HEADER}: yes'")
        self.live_sessions += 1
        return self.live_cookie()

