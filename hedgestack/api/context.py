"""What every handler shares: the terminal (or how to get it), the token, allowed origins, LIVE confirmation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hedgestack.api.errors import ApiError
from hedgestack.engine.terminal import Terminal

COOKIE = "hedgestack_session"
CONFIRM_HEADER = "X-Hedgestack-Confirm-Live"
VENUE_HEADER = "X-Hedgestack-Venue"


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
    live_confirmed: bool = False
    _confirm_lock: asyncio.Lock | None = field(default=None, repr=False)

    @classmethod
    def build(cls, terminal: Terminal | Callable[[], Awaitable[Terminal]], token: str | None = None,
              allowed_origins: Iterable[str] = (), stream_queue: int = 1000) -> ApiContext:
        origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        return cls(terminal, token or None, origins, stream_queue)

    async def terminal(self) -> Terminal:
        source = self.terminal_source
        if callable(source):
            return await source()
        return source

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
    def check_live(self, venue: str, confirm: str | None) -> None:
        """On the LIVE venue the first order-sending request of the server session needs the header."""
        if venue != "live" or self.live_confirmed:
            return
        if (confirm or "").strip().lower() != "yes":
            raise ApiError(428, "LIVE_CONFIRMATION_REQUIRED", "this terminal trades on the LIVE Binance account: "
                           f"send the first order of the session with header '{CONFIRM_HEADER}: yes'")
        self.live_confirmed = True
