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
    │   └── LedgerRuleError         transfer/archive/rename refusals and the like
    ├── VenueError                  the exchange side
    │   ├── VenueRejected           Binance answered with {"code", "msg"}
    │   ├── RateLimited / IpBanned
    │   └── VenueUnavailable
    │       └── AnswerLost      a request left, its answer did not come back (outcome unknown)
    └── StoreError                  the event log
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator


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
