"""Request security the Binance way: API key, HMAC-SHA256 signature, timestamp window, rate limits.

- ``X-MBX-APIKEY`` missing → -2014, wrong → -2015 (HTTP 401).
- ``signature`` = hex HMAC-SHA256(secret, totalParams), totalParams = query string concatenated with the
  body, the ``signature`` parameter itself left out (reference §1.3). A client that signs the values before
  URL-encoding them (python-binance does for ``:``, ``/``) is accepted too: the percent-decoded form is
  tried as well. Bad → -1022.
- ``timestamp`` required; accepted iff ``timestamp < now + 1000`` and ``now - timestamp <= recvWindow``
  (default 5000, max 60000) → else -1021.
- Weight per minute (``X-MBX-USED-WEIGHT-1M``) and orders per minute / 10 s (``X-MBX-ORDER-COUNT-*``);
  over the limit → 429 -1003; continuing after repeated 429s → 418 (banned for ``ban_seconds``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import deque
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from hedgestack.venue.sim.errors import BinanceCodeError

if TYPE_CHECKING:
    from collections.abc import Callable

    from hedgestack.venue.sim.config import RateLimits


def strip_signature(raw: str) -> tuple[str, str | None]:
    """Remove the ``signature`` parameter from a raw query/body string; return (rest, signature)."""
    if not raw:
        return raw, None
    parts = raw.split("&")
    kept, signature = [], None
    for part in parts:
        if part.startswith("signature="):
            signature = part.removeprefix("signature=")
        else:
            kept.append(part)
    return "&".join(kept), signature


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify_signature(secret: str, query: str, body: str) -> None:
    """Raise -1022 unless the request's signature matches (or -1102 when it is missing)."""
    q, sig_q = strip_signature(query)
    b, sig_b = strip_signature(body)
    signature = sig_q or sig_b
    if not signature:
        raise BinanceCodeError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    given = unquote_plus(signature).lower()
    for total in (q + b, unquote_plus(q) + unquote_plus(b)):
        if hmac.compare_digest(sign(secret, total), given):
            return
    raise BinanceCodeError(-1022, "Signature for this request is not valid.")


def check_api_key(expected: str, given: str | None) -> None:
    if not given:
        raise BinanceCodeError(-2014, "API-key format invalid.", status=401)
    if given != expected:
        raise BinanceCodeError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)


def check_timestamp(params: dict[str, str], now_ms: int) -> None:
    raw = params.get("timestamp")
    if not raw:
        raise BinanceCodeError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    try:
        ts = int(raw)
        window = int(params.get("recvWindow") or 5000)
    except ValueError:
        raise BinanceCodeError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or "
                                      "malformed.") from None
    if window > 60000 or window <= 0:
        raise BinanceCodeError(-1131, "recvWindow must be less than 60000")
    if ts >= now_ms + 1000:
        raise BinanceCodeError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - ts > window:
        raise BinanceCodeError(-1021, "Timestamp for this request is outside of the recvWindow.")


class RateLimiter:
    """Sliding one-minute windows of request weight and orders; 429 then 418."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.weights: deque[tuple[float, int]] = deque()
        self.orders: deque[float] = deque()
        self.rejections: deque[float] = deque()
        self.banned_until = 0.0
        self.forced = 0  # the rate_limit fault: the next N signed requests get 429

    def _trim(self, now: float) -> None:
        while self.weights and self.weights[0][0] <= now - 60:
            self.weights.popleft()
        while self.orders and self.orders[0] <= now - 60:
            self.orders.popleft()
        while self.rejections and self.rejections[0] <= now - 60:
            self.rejections.popleft()

    def used_weight(self) -> int:
        self._trim(self.clock())
        return sum(w for _, w in self.weights)

    def order_counts(self) -> tuple[int, int]:
        now = self.clock()
        self._trim(now)
        return len(self.orders), sum(1 for t in self.orders if t > now - 10)

    def admit(self, weight: int, *, order: bool, signed: bool) -> None:
        """Count a request; raise 429/418 when a limit is broken."""
        now = self.clock()
        self._trim(now)
        if now < self.banned_until:
            raise BinanceCodeError(-1003, f"Way too many requests; IP banned until {self._ban_epoch_ms(now)}."
                                          " Please use the websocket for live updates to avoid bans.", status=418)
        self.weights.append((now, weight))
        if signed and self.forced > 0:
            self.forced -= 1
            self._reject(now)
        if sum(w for _, w in self.weights) > self.limits.weight_per_minute:
            self._reject(now)
        if order:
            self.orders.append(now)
            per_10s = sum(1 for t in self.orders if t > now - 10)
            if len(self.orders) > self.limits.orders_per_minute or per_10s > self.limits.orders_per_10s:
                raise BinanceCodeError(-1015, f"Too many new orders; current limit is "
                                              f"{self.limits.orders_per_minute} orders per MINUTE.", status=429)

    def _reject(self, now: float) -> None:
        self.rejections.append(now)
        if len(self.rejections) > self.limits.rejections_before_ban:
            self.banned_until = now + self.limits.ban_seconds
            self.rejections.clear()
            raise BinanceCodeError(-1003, f"Way too many requests; IP banned until "
                                          f"{self._ban_epoch_ms(now)}. Please use the websocket for live "
                                          "updates to avoid bans.", status=418)
        raise BinanceCodeError(-1003, f"Too many requests; current limit is {self.limits.weight_per_minute} "
                                      "requests per minute. Please use the websocket for live updates to avoid "
                                      "polling the API.", status=429)

    def _ban_epoch_ms(self, now: float) -> int:
        return int((time.time() + self.banned_until - now) * 1000)

    def reset(self) -> None:
        self.weights.clear()
        self.orders.clear()
        self.rejections.clear()
        self.banned_until = 0.0
        self.forced = 0
