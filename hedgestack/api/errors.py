"""HTTP status of every hedgestack error, and the API's own request errors.

The envelope is always the seed's ``{"error": CODE, "message": "..."}``; nothing else is added, so a client
can rely on exactly those two keys. Binance's code, where there is one, is inside the message.
"""

from __future__ import annotations

from hedgestack.domain.errors import (
    DomainError,
    FilterViolation,
    HedgestackError,
    IpBanned,
    LedgerRuleError,
    RateLimited,
    ReconcileError,
    UnknownOrder,
    UnknownVp,
    ValidationError,
    VenueError,
    VenueRejected,
    VenueUnavailable,
    VpGuardViolation,
)
from hedgestack.engine.terminal import HedgeModeRequired, SideLocked


class ApiError(HedgestackError):
    """A refusal of the API layer itself (auth, origin, media type, LIVE confirmation, unknown route)."""

    code = "API_ERROR"

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


#: most specific first; the first isinstance match wins
_STATUS: tuple[tuple[type[HedgestackError], int], ...] = (
    (ValidationError, 400),
    (UnknownVp, 404),
    (UnknownOrder, 404),
    (FilterViolation, 422),
    (VpGuardViolation, 409),
    (LedgerRuleError, 409),
    (ReconcileError, 409),
    (SideLocked, 409),
    (HedgeModeRequired, 409),
    (DomainError, 409),
    (VenueRejected, 502),
    (RateLimited, 503),
    (IpBanned, 503),
    (VenueUnavailable, 503),
    (VenueError, 502),
)


def status_of(exc: HedgestackError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def envelope_of(exc: HedgestackError) -> dict[str, str]:
    """The seed's envelope; a filter refusal names the Binance code the exchange would have answered."""
    env = exc.to_envelope()
    if isinstance(exc, FilterViolation) and exc.binance_code is not None:
        env = {"error": env["error"], "message": f"{env['message']} (Binance would answer {exc.binance_code})"}
    return {"error": str(env["error"]), "message": str(env["message"])}


def envelope(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


#: HTTP reasons tornado produces by itself (bad method, malformed request ...), as envelope codes
HTTP_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT", 411: "LENGTH_REQUIRED", 413: "BODY_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE", 426: "UPGRADE_REQUIRED", 428: "PRECONDITION_REQUIRED", 500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "UNAVAILABLE",
}
