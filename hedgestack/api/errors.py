"""HTTP status of every hedgestack error, and the API's own request errors.

The envelope is always the seed's ``{"error": CODE, "message": "..."}``; nothing else is added, so a client
can rely on exactly those two keys. Binance's code, where there is one, is inside the message. The status of
each code comes from the one table in :mod:`hedgestack.domain.errors` (``ERROR_CODES``), which the remote
client (``hedgestack.connect``) reads back to raise the class the local terminal raises.
"""

from __future__ import annotations

from hedgestack.domain.errors import FilterViolation, HedgestackError
from hedgestack.domain.errors import status_of as _table_status


class ApiError(HedgestackError):
    """A refusal of the API layer itself (auth, origin, media type, LIVE confirmation, unknown route).

    ``status`` is the one the code has in ``ERROR_CODES`` (``ApiError`` is only the way handlers raise it)."""

    code = "API_ERROR"

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


def status_of(exc: HedgestackError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return _table_status(exc)


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

__all__ = ["ApiError", "HTTP_CODES", "envelope", "envelope_of", "status_of"]
