"""Identifiers: VP ids and the clientOrderId codec.

VP id: ``vp_`` + 8 base-36 characters (``[0-9a-z]``); its *short id* is the first 6 of those 8 and must be
unique among live VPs, because the clientOrderId carries only the short id.

clientOrderId (seed): ``VP-{vpShortId}-{ts}-{nonce}``, e.g. ``VP-abc123-1708700123456-001``: 27 characters,
inside Binance's ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$``. ``nonce`` is 3 digits, unique within one millisecond; the
generator moves to the next millisecond when 1000 ids were issued in one. Anything not of this form parses
as :class:`Foreign` (Binance app ``web_``/``ios_``/``android_``, liquidation ``autoclose-``, ADL
``adl_autoclose``, ``settlement_autoclose-``, or other).

The UNASSIGNED VP of a (symbol, side) has a stable id derived from the pair, so every replay and every
process gives it the same id.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hedgestack.domain.errors import ValidationError

if TYPE_CHECKING:
    from hedgestack.domain.enums import PositionSide

BINANCE_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
VP_ID = re.compile(r"^vp_[0-9a-z]{8}$")
_OURS = re.compile(r"^VP-([0-9a-z]{6})-(\d{13})-(\d{3})$")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

UNASSIGNED_NAME = "UNASSIGNED"


def _base36(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def vp_id_from_entropy(entropy: bytes) -> str:
    """Build a VP id from random bytes (the caller supplies them: the domain has no randomness)."""
    if len(entropy) < 6:
        raise ValueError("need at least 6 bytes of entropy")
    return "vp_" + _base36(int.from_bytes(entropy, "big"), 8)


def new_vp_id(entropy_source: object, live_short_ids: set[str] | frozenset[str]) -> str:
    """Draw VP ids from ``entropy_source(n) -> bytes`` until the short id is unused among live VPs."""
    for _ in range(100):
        vp_id = vp_id_from_entropy(entropy_source(8))  # type: ignore[operator]
        if short_id(vp_id) not in live_short_ids:
            return vp_id
    raise RuntimeError("could not draw a unique VP short id in 100 tries")


def unassigned_vp_id(symbol: str, position_side: PositionSide) -> str:
    """The stable id of the UNASSIGNED VP of (symbol, side)."""
    digest = hashlib.sha256(f"UNASSIGNED/{symbol}/{position_side}".encode()).digest()
    return vp_id_from_entropy(digest[:8])


def check_vp_id(vp_id: str) -> str:
    if not isinstance(vp_id, str) or not VP_ID.match(vp_id):
        raise ValidationError(f"not a VP id: {vp_id!r} (expected vp_ + 8 characters [0-9a-z])",
                              code="INVALID_VP_ID")
    return vp_id


def short_id(vp_id: str) -> str:
    """The 6 characters a clientOrderId carries."""
    return check_vp_id(vp_id)[3:9]


@dataclass(frozen=True, slots=True)
class OurOrderId:
    """A clientOrderId of ours, parsed."""

    vp_short_id: str
    ts: int
    nonce: int


@dataclass(frozen=True, slots=True)
class Foreign:
    """A clientOrderId not of our form; ``kind`` says where it came from."""

    kind: str  # web | ios | android | liquidation | adl | settlement | other


def encode_client_order_id(vp_id: str, ts: int, nonce: int) -> str:
    if not 0 <= nonce <= 999:
        raise ValueError(f"nonce {nonce} outside 0..999")
    if not 0 <= ts < 10**13:
        raise ValueError(f"timestamp {ts} is not a 13-digit ms time")
    text = f"VP-{short_id(vp_id)}-{ts:013d}-{nonce:03d}"
    assert BINANCE_CLIENT_ID.match(text)
    return text


def parse_client_order_id(text: str | None) -> OurOrderId | Foreign:
    """Parse a clientOrderId; never returns None."""
    if text:
        match = _OURS.match(text)
        if match:
            return OurOrderId(match.group(1), int(match.group(2)), int(match.group(3)))
        lowered = text.lower()
        for prefix, kind in (("web_", "web"), ("ios_", "ios"), ("android_", "android"),
                             ("autoclose-", "liquidation"), ("adl_autoclose", "adl"),
                             ("settlement_autoclose", "settlement")):
            if lowered.startswith(prefix):
                return Foreign(kind)
    return Foreign("other")


class ClientOrderIdGenerator:
    """Issues unique clientOrderIds for one process; time is passed in (the domain reads no clock).

    Timestamps never go backwards: an earlier or equal clock reading continues the last millisecond, and
    after nonce 999 the generator moves to the next millisecond.
    """

    def __init__(self, last_ts: int = 0) -> None:
        self._ts = last_ts
        self._nonce = 999  # so the first id of last_ts moves on

    def next(self, vp_id: str, now_ms: int) -> str:
        if now_ms > self._ts:
            self._ts, self._nonce = now_ms, 0
        elif self._nonce < 999:
            self._nonce += 1
        else:
            self._ts, self._nonce = self._ts + 1, 0
        return encode_client_order_id(vp_id, self._ts, self._nonce)
