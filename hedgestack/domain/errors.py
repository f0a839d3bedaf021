"""The error tree of hedgestack.

Every refusal is a typed error with a stable ``code`` (the REST envelope's ``error`` field) and a
human-readable ``message``. Errors carry optional context (``vp_id``, ``client_order_id``, ``symbol``)
attached by :func:`error_context`.

    HedgestackError
    ├── DomainError                 refused by one of our rules (nothing was sent)
    │   ├── ValidationError         bad input: wrong type, malformed id, float where Decimal is required
    │   ├── UnknownVp / UnknownOrder
    │   ├── VpGuardViolation        invariant 3 would break
    │   ├── FilterViolation         an exchange filter (tick, step, min qty, notional, percent price)
    │   ├── ReconcileError          over-assignment and other reconcile refusals
    │   ├── LedgerRuleError         transfer/archive/rename refusals and the like
    │   ├── SideLocked              a MISMATCH side refuses reducing and TP/SL commands
    │   └── HedgeModeRequired       the account is in One-way Mode
    ├── VenueError                  the exchange side
    │   ├── VenueRejected           Binance answered with {"code", "msg"}
    │   ├── RateLimited / IpBanned
    │   └── VenueUnavailable        unreachable, or not started yet
    │       └── AnswerLost          a request left, its answer did not come back (outcome unknown)
    ├── StoreError                  the event log
    │   └── LedgerOfAnotherVenue    the data directory belongs to another venue or account
    └── RequestRefused              a server refused the request itself (front-ends of ``hedgestack serve``)
        ├── AccessDenied            token missing or wrong, origin not allowed
        └── LiveConfirmationRequired  an order on the LIVE account before the client session confirmed

:data:`ERROR_CODES` is the one table from a code to its class and the HTTP status the REST API answers it with:
the API maps errors to statuses with it (:func:`status_of`), and ``hedgestack.connect``'s client turns an
envelope back into the class the local terminal raises (:func:`error_from_envelope`).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


class HedgestackError(Exception):
    """Root of every error hedgestack raises on purpose."""

    code: str = "HEDGESTACK_ERROR"

    def __init__(self, message: str, *, code: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.context: dict[str, Any] = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        if not self.context:
            return f"{self.code}: {self.message}"
        ctx = ", ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        return f"{self.code}: {self.message} ({ctx})"

    def to_envelope(self) -> dict[str, str]:
        """Return the seed's REST error envelope ``{"error": CODE, "message": ...}``."""
        return {"error": self.code, "message": self.message}


class DomainError(HedgestackError):
    code = "DOMAIN_ERROR"


class ValidationError(DomainError):
    code = "VALIDATION_ERROR"


class UnknownVp(DomainError):
    code = "UNKNOWN_VP"


class UnknownOrder(DomainError):
    code = "UNKNOWN_ORDER"


class VpGuardViolation(DomainError):
    code = "VP_GUARD"


class FilterViolation(DomainError):
    """An exchange filter refuses the order; ``binance_code`` is the code Binance would answer."""

    code = "FILTER_VIOLATION"

    def __init__(self, message: str, *, code: str | None = None, binance_code: int | None = None,
                 **context: Any) -> None:
        super().__init__(message, code=code, **context)
        self.binance_code = binance_code


class ReconcileError(DomainError):
    code = "RECONCILE_ERROR"


class LedgerRuleError(DomainError):
    code = "LEDGER_RULE"


class SideLocked(DomainError):
    """A MISMATCH on this side locks reduce and TP/SL actions until it is reconciled."""

    code = "MISMATCH_LOCK"


class HedgeModeRequired(DomainError):
    code = "HEDGE_MODE_REQUIRED"


class VenueError(HedgestackError):
    code = "VENUE_ERROR"


class VenueRejected(VenueError):
    """The exchange refused a request with Binance's ``{"code", "msg"}``."""

    code = "EXCHANGE_REJECTED"

    def __init__(self, message: str, *, binance_code: int, **context: Any) -> None:
        super().__init__(message, **context)
        self.binance_code = binance_code

    def to_envelope(self) -> dict[str, str]:
        return {"error": self.code, "message": f"Binance {self.binance_code}: {self.message}"}


class RateLimited(VenueError):
    code = "RATE_LIMITED"


class IpBanned(VenueError):
    code = "IP_BANNED"


class VenueUnavailable(VenueError):
    code = "VENUE_UNAVAILABLE"


class AnswerLost(VenueUnavailable):
    """A request left but no answer came back: it may have been executed (find out; never send it again)."""

    code = "ANSWER_LOST"


class StoreError(HedgestackError):
    code = "STORE_ERROR"


class LedgerOfAnotherVenue(StoreError):
    """The data directory's log belongs to another venue or account (see ``hedgestack.engine.identity``)."""

    code = "LEDGER_OF_ANOTHER_VENUE"


class RequestRefused(HedgestackError):
    """A server refused the request itself (unknown route, media type, protocol): a client's mistake."""

    code = "REQUEST_REFUSED"


class AccessDenied(RequestRefused):
    """No token, a wrong token, or a browser origin the server does not allow."""

    code = "UNAUTHORIZED"


class LiveConfirmationRequired(RequestRefused):
    """On the LIVE venue, a client session sends its first order only after confirming (the
    ``X-Hedgestack-Confirm-Live: yes`` header; ``hedgestack.connect(..., confirm_live=True)``)."""

    code = "LIVE_CONFIRMATION_REQUIRED"


# == the code table =================================================================================
class ErrorCode(NamedTuple):
    """What one code means: the class raised with it and the HTTP status the REST API answers."""

    cls: type[HedgestackError]
    status: int


def _codes(cls: type[HedgestackError], status: int, *codes: str) -> dict[str, list[ErrorCode]]:
    return {code: [ErrorCode(cls, status)] for code in (cls.code, *codes)}


def _table(*parts: dict[str, list[ErrorCode]]) -> dict[str, tuple[ErrorCode, ...]]:
    merged: dict[str, list[ErrorCode]] = {}
    for part in parts:
        for code, kinds in part.items():
            merged.setdefault(code, []).extend(kinds)
    return {code: tuple(kinds) for code, kinds in merged.items()}


#: Every code raised on purpose, with its class and REST status. A code may stand for two classes only with two
#: different statuses (``PRICE_REQUIRED``: a command's shape, 400, or an exchange filter, 422): the status decides.
#: Codes built at run time (``INVALID_<FIELD>``) follow :data:`CODE_PATTERNS`. tests/api/test_error_codes.py
#: checks that every ``code=`` in the package is listed here with the class it is raised with.
ERROR_CODES: Mapping[str, tuple[ErrorCode, ...]] = _table(
    _codes(ValidationError, 400,
           "AMEND_MARKET", "AMEND_NOTHING", "BODY_NOT_OBJECT", "BODY_TOO_LARGE", "CLOSE_AMOUNT",
           "DECIMAL_STRING_REQUIRED", "INVALID_ASSIGNMENT", "INVALID_FIELD", "INVALID_FORMAT", "INVALID_INTERVAL",
           "INVALID_JSON", "INVALID_LIMIT", "INVALID_NAME", "INVALID_NUMBER", "INVALID_ORDER_TYPE",
           "INVALID_PARAMETER", "INVALID_PERCENT", "INVALID_QTY", "INVALID_QUERY", "INVALID_SYMBOL", "INVALID_TIF",
           "INVALID_TRIGGER_TYPE", "INVALID_VP_ID", "KEYS_REQUIRED", "MISSING_FIELD", "NAME_RESERVED",
           "PRICE_NOT_ALLOWED", "PRICE_REQUIRED", "QUERY_TIMEOUT", "REDUCE_ONLY_OPENS", "RESULT_TOO_LARGE",
           "TIF_NOT_ALLOWED", "TPSL_EMPTY", "TPSL_QTY", "TPSL_WOULD_TRIGGER", "TRANSFER_SAME_VP",
           "TRANSFER_SIDE_MISMATCH", "TRIGGER_PRICE_NOT_ALLOWED", "TRIGGER_PRICE_REQUIRED", "UNKNOWN_FIELD",
           "UNKNOWN_PARAMETER", "UNKNOWN_SYMBOL", "VP_MISMATCH"),
    _codes(UnknownVp, 404),
    _codes(UnknownOrder, 404),
    _codes(FilterViolation, 422,
           "MIN_NOTIONAL", "PERCENT_PRICE", "PRECISION", "PRICE_ABOVE_MAX", "PRICE_BELOW_MIN", "PRICE_NOT_POSITIVE",
           "PRICE_REQUIRED", "PRICE_TICK_SIZE", "QTY_ABOVE_MAX", "QTY_BELOW_MIN", "QTY_NOT_POSITIVE",
           "QTY_STEP_SIZE", "TRIGGER_PRICE_REQUIRED"),
    _codes(VpGuardViolation, 409),
    _codes(LedgerRuleError, 409,
           "CLOSE_QTY_ZERO", "NAME_TAKEN", "ORDER_NOT_OPEN", "SYSTEM_VP", "TPSL_MANAGED", "TRANSFER_EXCEEDS",
           "VP_FLAT", "VP_HAS_ORDERS", "VP_NOT_FLAT"),
    _codes(ReconcileError, 409, "OVER_ASSIGNED", "RECONCILE_FILLS_PENDING"),
    _codes(SideLocked, 409),
    _codes(HedgeModeRequired, 409),
    _codes(DomainError, 409),
    _codes(VenueRejected, 502),
    _codes(RateLimited, 503),
    _codes(IpBanned, 503),
    _codes(AnswerLost, 503),
    _codes(VenueUnavailable, 503, "NOT_STARTED", "VENUE_NOT_STARTED", "ENGINE_STARTING", "ENGINE_STOPPED",
           "SERVE_UNREACHABLE", "SERVE_ERROR", "CLIENT_CLOSED", "STREAM_UNAVAILABLE", "VENUE_IDENTITY",
           "VENUE_UNREACHABLE", "DASHBOARD_STARTING", "UNAVAILABLE"),
    _codes(VenueError, 502, "VENUE_PAYLOAD"),
    _codes(LedgerOfAnotherVenue, 409),
    _codes(StoreError, 500, "STORE_EXISTS", "STORE_LOCKED", "STORE_SCHEMA", "STORE_WRITE"),
    _codes(AccessDenied, 401),
    {"TOKEN_REQUIRED": [ErrorCode(AccessDenied, 403)], "FORBIDDEN_ORIGIN": [ErrorCode(AccessDenied, 403)]},
    _codes(LiveConfirmationRequired, 428),
    _codes(RequestRefused, 400, "BAD_REQUEST", "HTTP_ERROR"),
    {code: [ErrorCode(RequestRefused, status)] for code, status in (
        ("FORBIDDEN", 403), ("NOT_FOUND", 404), ("METHOD_NOT_ALLOWED", 405), ("CONFLICT", 409),
        ("LENGTH_REQUIRED", 411), ("UNSUPPORTED_MEDIA_TYPE", 415), ("UNPROCESSABLE", 422),
        ("UPGRADE_REQUIRED", 426), ("PRECONDITION_REQUIRED", 428))},
    _codes(HedgestackError, 500, "INTERNAL_ERROR"),
    {"BAD_GATEWAY": [ErrorCode(HedgestackError, 502)]},
)
#: codes made at run time: ``INVALID_<FIELD>`` (an enum field of a command or a request body)
CODE_PATTERNS: tuple[tuple[re.Pattern[str], ErrorCode], ...] = (
    (re.compile(r"INVALID_[A-Z_]+"), ErrorCode(ValidationError, 400)),
)
#: the status of a class not listed with a code of its own (most specific first)
_CLASS_STATUS: tuple[tuple[type[HedgestackError], int], ...] = (
    (ValidationError, 400), (UnknownVp, 404), (UnknownOrder, 404), (FilterViolation, 422),
    (VpGuardViolation, 409), (LedgerRuleError, 409), (ReconcileError, 409), (SideLocked, 409),
    (HedgeModeRequired, 409), (DomainError, 409), (VenueRejected, 502), (RateLimited, 503), (IpBanned, 503),
    (AnswerLost, 503), (VenueUnavailable, 503), (VenueError, 502), (LedgerOfAnotherVenue, 409),
    (LiveConfirmationRequired, 428), (AccessDenied, 401), (RequestRefused, 400), (StoreError, 500),
)


def kinds_of(code: str) -> tuple[ErrorCode, ...]:
    """The classes (with their statuses) a code stands for; empty for an unknown code."""
    kinds = ERROR_CODES.get(code)
    if kinds:
        return kinds
    return tuple(kind for pattern, kind in CODE_PATTERNS if pattern.fullmatch(code))


def status_of(exc: HedgestackError) -> int:
    """The REST status of an error: its code's entry for its class, else its class's."""
    for kind in kinds_of(exc.code):
        if type(exc) is kind.cls:
            return kind.status
    for cls, status in _CLASS_STATUS:
        if isinstance(exc, cls):
            return status
    return 500


_BY_STATUS: dict[int, type[HedgestackError]] = {
    400: ValidationError, 401: AccessDenied, 403: AccessDenied, 404: RequestRefused, 405: RequestRefused,
    409: DomainError, 415: RequestRefused, 422: FilterViolation, 426: RequestRefused,
    428: LiveConfirmationRequired, 502: VenueError, 503: VenueUnavailable, 504: VenueUnavailable,
}
_BINANCE_CODE = re.compile(r"^Binance (-?\d+): (.*)$", re.S)
_WOULD_ANSWER = re.compile(r"^(.*) \(Binance would answer (-?\d+)\)$", re.S)


def error_from_envelope(code: str, message: str, status: int | None = None) -> HedgestackError:
    """The typed error an envelope ``{"error": code, "message": message}`` (answered with ``status``) stands for:
    the same class, code and message the terminal raised (a venue rejection gets its Binance code back)."""
    kinds = kinds_of(code)
    chosen = next((k.cls for k in kinds if k.status == status), None) or (kinds[0].cls if kinds else None)
    if chosen is None:
        chosen = _BY_STATUS.get(status or 500, HedgestackError if (status or 500) >= 500 else RequestRefused)
    if issubclass(chosen, VenueRejected):
        match = _BINANCE_CODE.match(message)
        if match:
            return chosen(match.group(2), binance_code=int(match.group(1)), code=code)
        return chosen(message, binance_code=0, code=code)
    if issubclass(chosen, FilterViolation):
        would = _WOULD_ANSWER.match(message)
        if would:
            return chosen(would.group(1), code=code, binance_code=int(would.group(2)))
    return chosen(message, code=code)


@contextmanager
def error_context(**context: Any) -> Iterator[None]:
    """Attach ``vp_id``, ``client_order_id``, ``symbol`` ... to any HedgestackError raised inside."""
    try:
        yield
    except HedgestackError as exc:
        for key, value in context.items():
            if value is not None:
                exc.context.setdefault(key, value)
        raise
