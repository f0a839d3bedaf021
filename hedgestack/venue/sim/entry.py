"""Order entry parameters, read and checked the way Binance does before an order reaches the book.

Everything here depends only on the request and the account's position mode; checks that need the account's
state (duplicate client ids, what a closing order may close, margin) are the exchange's.

Rules (reference/binance-usdm.md §2, §3 and the error-code page):
- ``symbol``/``side``/``type`` mandatory (-1102), an unknown side -1117, type -1116; a conditional type on
  ``/fapi/v1/order`` -4120; ``positionSide`` required in Hedge Mode (-4061), ``reduceOnly`` refused there
  whatever its value (-1106 ``'reduceonly'``).
- LIMIT needs timeInForce, quantity and price; MARKET needs quantity and refuses a price (-1106).
- ``timeInForce`` GTC IOC FOK GTX GTD (-1115); GTD needs ``goodTillDate`` more than 600 s ahead and before
  253402300799000 (-5040), kept at second precision.
- ``selfTradePreventionMode`` NONE EXPIRE_TAKER EXPIRE_MAKER EXPIRE_BOTH (-5039), default EXPIRE_MAKER.
- ``priceMatch`` OPPONENT[_5] / QUEUE[_5] for LIMIT only (-5038), not with a price (-1106); the _10/_20
  variants were switched off on 2025-10-23 (-5037).
- ``newOrderRespType`` ACK (default) or RESULT (-1136); client ids ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$`` (-4015).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from hedgestack.domain.errors import ValidationError
from hedgestack.domain.numbers import D
from hedgestack.venue.sim import errors as e
from hedgestack.venue.sim.errors import BinanceCodeError

if TYPE_CHECKING:
    from collections.abc import Mapping

CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
REGULAR_TYPES = frozenset({"LIMIT", "MARKET"})
CONDITIONAL_TYPES = frozenset({"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"})
ALL_TYPES = REGULAR_TYPES | CONDITIONAL_TYPES
TIFS = frozenset({"GTC", "IOC", "FOK", "GTX", "GTD"})
STP_MODES = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"})
PRICE_MATCHES = frozenset({"NONE", "OPPONENT", "OPPONENT_5", "QUEUE", "QUEUE_5"})
RETIRED_PRICE_MATCHES = frozenset({"OPPONENT_10", "OPPONENT_20", "QUEUE_10", "QUEUE_20"})
DEFAULT_STP = "EXPIRE_MAKER"
MAX_GOOD_TILL = 253402300799000


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new regular order, as sent (prices and quantities exact)."""

    symbol: str
    side: str
    position_side: str
    type: str
    time_in_force: str
    qty: Decimal
    price: Decimal | None
    client_id: str | None
    resp_type: str
    stp: str
    price_match: str
    good_till: int
    reduce_only: bool

    @property
    def closes(self) -> bool:
        """Reduces a position: SELL+LONG, BUY+SHORT, or reduceOnly in one-way mode."""
        if self.position_side == "BOTH":
            return self.reduce_only
        return self.side == ("SELL" if self.position_side == "LONG" else "BUY")


def decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return D(raw, field=name)
    except ValidationError:
        raise e.mandatory(name) from None


def integer(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise e.mandatory(name) from None


def boolean(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in ("true", "false"):
        raise e.invalid(name)
    return raw.lower() == "true"


def check_client_id(client_id: str) -> None:
    if len(client_id) > 36:
        raise e.err(e.CLIENT_ID_TOO_LONG)
    if not CLIENT_ID_RE.match(client_id):
        raise e.err(e.INVALID_CLIENT_ID)


def common(params: Mapping[str, str], *, dual_side: bool, algo: bool) -> tuple[str, str, str, str, bool]:
    """(symbol, side, type, positionSide, reduceOnly) of an order or algo order."""
    symbol = params.get("symbol") or ""
    if not symbol:
        raise e.mandatory("symbol")
    side = params.get("side") or ""
    if not side:
        raise e.mandatory("side")
    if side not in ("BUY", "SELL"):
        raise e.err(e.INVALID_SIDE)
    otype = params.get("type") or ""
    if not otype:
        raise e.mandatory("type")
    if otype not in ALL_TYPES:
        raise e.err(e.INVALID_TYPE)
    if not algo and otype in CONDITIONAL_TYPES:
        raise e.err(e.STOP_ORDER_SWITCH_ALGO)
    if algo and otype not in CONDITIONAL_TYPES:
        raise e.err(e.INVALID_TYPE)
    ps = params.get("positionSide") or "BOTH"
    if ps not in ("BOTH", "LONG", "SHORT"):
        raise e.err(e.INVALID_POSITION_SIDE)
    reduce_only = False
    if dual_side:
        if ps == "BOTH":
            raise e.err(e.POSITION_SIDE_NOT_MATCH)
        if "reduceOnly" in params:
            raise BinanceCodeError(-1106, "Parameter 'reduceonly' sent when not required.")
    else:
        if ps != "BOTH":
            raise e.err(e.POSITION_SIDE_NOT_MATCH)
        reduce_only = boolean(params, "reduceOnly")
    return symbol, side, otype, ps, reduce_only


def stp_mode(params: Mapping[str, str], default: str) -> str:
    mode = params.get("selfTradePreventionMode") or default
    if mode not in STP_MODES:
        raise e.err(e.INVALID_STP)
    return mode


def good_till(params: Mapping[str, str], tif: str, now: int) -> int:
    if tif != "GTD":
        return 0
    value = integer(params, "goodTillDate")
    if value is None:
        raise e.mandatory("goodTillDate")
    value -= value % 1000
    if value <= now + 600_000 or value >= MAX_GOOD_TILL:
        raise e.err(e.GOOD_TILL_DATE)
    return value


def parse_order(params: Mapping[str, str], *, dual_side: bool, now: int) -> OrderRequest:
    """Read a ``POST /fapi/v1/order`` (or a batch element, or an order test)."""
    symbol, side, otype, ps, reduce_only = common(params, dual_side=dual_side, algo=False)
    resp = params.get("newOrderRespType") or "ACK"
    if resp not in ("ACK", "RESULT"):
        raise e.err(e.INVALID_RESP_TYPE)
    client_id = params.get("newClientOrderId") or None
    if client_id is not None:
        check_client_id(client_id)
    qty = decimal(params, "quantity")
    if qty is None:
        raise e.mandatory("quantity")
    price = decimal(params, "price")
    match = params.get("priceMatch") or "NONE"
    if match in RETIRED_PRICE_MATCHES or match not in PRICE_MATCHES:
        raise e.err(e.INVALID_PRICE_MATCH)
    tif = "GTC"
    if otype == "LIMIT":
        tif = params.get("timeInForce") or ""
        if not tif:
            raise e.mandatory("timeInForce")
        if tif not in TIFS:
            raise e.err(e.INVALID_TIF)
        if match != "NONE":
            if price is not None:
                raise e.not_required("price")
        elif price is None:
            raise e.mandatory("price")
    else:
        if price is not None:
            raise e.not_required("price")
        if match != "NONE":
            raise e.err(e.PRICE_MATCH_TYPE)
    return OrderRequest(symbol=symbol, side=side, position_side=ps, type=otype, time_in_force=tif, qty=qty,
                        price=price, client_id=client_id, resp_type=resp, stp=stp_mode(params, DEFAULT_STP),
                        price_match=match, good_till=good_till(params, tif, now), reduce_only=reduce_only)


__all__ = ["ALL_TYPES", "CONDITIONAL_TYPES", "CLIENT_ID_RE", "OrderRequest", "boolean", "check_client_id", "common",
           "decimal", "integer", "parse_order", "stp_mode"]
