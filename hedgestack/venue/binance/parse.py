"""Wire → venue messages: tolerant typed parsing of Binance USDT-M user-stream and market payloads.

Every parser takes the decoded JSON (a dict, the ``data`` member of a combined-stream wrapper or the
whole message) and returns one typed message, or :class:`Malformed` with the reason: a bad payload is
counted and logged by the caller, it never raises. Nulls are accepted where Binance sends them
(liquidation/ADL/settlement shapes): a null or empty decimal is ``None``.

A fill is an ORDER_TRADE_UPDATE whose execution type is TRADE or CALCULATED (liquidation) with a
positive last-filled quantity and a trade id.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec


class _Wire(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    pass


class _OrderWire(_Wire, kw_only=True):
    s: str
    c: str | None = None
    S: str
    o: str
    f: str | None = None
    q: str | None = None
    p: str | None = None
    ap: str | None = None
    sp: str | None = None
    x: str
    X: str
    i: int
    l: str | None = None  # noqa: E741 - Binance's name
    z: str | None = None
    L: str | None = None
    N: str | None = None
    n: str | None = None
    T: int | None = None
    t: int | None = None
    m: bool | None = None
    R: bool | None = None
    wt: str | None = None
    ot: str | None = None
    ps: str | None = None
    rp: str | None = None
    er: str | None = None


class _AlgoWire(_Wire, kw_only=True):
    caid: str
    aid: int
    at: str | None = None
    o: str
    s: str
    S: str
    ps: str | None = None
    q: str | None = None
    X: str
    ai: str | int | None = None
    ap: str | None = None
    aq: str | None = None
    act: str | None = None
    tp: str | None = None
    p: str | None = None
    wt: str | None = None
    tt: int | None = None
    rm: str | None = None


class _BalanceWire(_Wire, kw_only=True):
    a: str
    wb: str | None = None
    cw: str | None = None
    bc: str | None = None


class _PositionWire(_Wire, kw_only=True):
    s: str
    pa: str
    ep: str | None = None
    cr: str | None = None
    up: str | None = None
    ps: str


class _AccountWire(_Wire, kw_only=True):
    m: str
    B: list[_BalanceWire] = []
    P: list[_PositionWire] = []
    S: str | None = None


@dataclass(frozen=True, slots=True)
class OrderTradeUpdate:
    event_time: int
    symbol: str
    client_order_id: str | None
    side: str
    order_type: str
    orig_type: str | None
    position_side: str | None
    exec_type: str
    status: str
    order_id: int
    orig_qty: Decimal | None
    price: Decimal | None
    cum_qty: Decimal | None
    last_qty: Decimal | None
    last_price: Decimal | None
    commission: Decimal | None
    commission_asset: str | None
    trade_time: int | None
    trade_id: int | None
    maker: bool
    realized_pnl: Decimal | None
    expiry_reason: str | None

    @property
    def is_fill(self) -> bool:
        return (self.exec_type in ("TRADE", "CALCULATED") and self.last_qty is not None and self.last_qty > 0
                and bool(self.trade_id))


@dataclass(frozen=True, slots=True)
class AlgoUpdate:
    event_time: int
    client_algo_id: str
    algo_id: int
    symbol: str
    side: str
    position_side: str | None
    order_type: str
    status: str
    qty: Decimal | None
    actual_order_id: int | None
    avg_price: Decimal | None
    executed_qty: Decimal | None
    trigger_price: Decimal | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    symbol: str
    position_side: str
    amount: Decimal  # signed as Binance sends it
    entry_price: Decimal | None
    unrealized: Decimal | None


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    event_time: int
    reason: str
    wallet_balance: Decimal | None  # USDT wb
    balance_change: Decimal | None  # USDT bc
    positions: tuple[PositionUpdate, ...]
    symbol: str | None  # a.S on FUNDING_FEE (2026-08)


@dataclass(frozen=True, slots=True)
class ListenKeyExpired:
    event_time: int


@dataclass(frozen=True, slots=True)
class TradeLite:
    event_time: int
    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str | None


@dataclass(frozen=True, slots=True)
class StreamDown:
    """python-binance's ``{'e': 'error', ...}``: the socket closed or could not connect."""

    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class MarkPrice:
    event_time: int
    symbol: str
    mark: Decimal
    index: Decimal | None
    funding_rate: Decimal | None
    next_funding_time: int | None


@dataclass(frozen=True, slots=True)
class Kline:
    symbol: str
    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool


@dataclass(frozen=True, slots=True)
class Other:
    """A well-formed message of a kind the terminal does not act on."""

    event: str


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str
    raw: Any


UserMessage = (OrderTradeUpdate | AlgoUpdate | AccountUpdate | ListenKeyExpired | TradeLite | StreamDown | Other
               | Malformed)
MarketMessage = MarkPrice | Kline | StreamDown | Other | Malformed


def _dec(text: str | int | None) -> Decimal | None:
    if text is None or text == "":
        return None
    try:
        return Decimal(str(text))
    except InvalidOperation:
        raise ValueError(f"not a decimal: {text!r}") from None


def _unwrap(message: Any) -> Any:
    if isinstance(message, dict) and "data" in message and "e" not in message:
        return message["data"]
    return message


def parse_user_message(message: Any) -> UserMessage:
    """Parse one user-data-stream message."""
    data = _unwrap(message)
    if not isinstance(data, dict):
        return Malformed("not an object", message)
    event = data.get("e")
    try:
        if event == "ORDER_TRADE_UPDATE":
            return _order_update(data)
        if event == "ALGO_UPDATE":
            return _algo_update(data)
        if event == "ACCOUNT_UPDATE":
            return _account_update(data)
        if event == "listenKeyExpired":
            return ListenKeyExpired(int(data.get("E", 0)))
        if event == "TRADE_LITE":
            return TradeLite(int(data["E"]), data["s"], int(data["t"]), int(data["i"]), data.get("c"))
        if event == "error":
            return StreamDown(str(data.get("type", "error")), str(data.get("m", data.get("message", ""))))
        if isinstance(event, str):
            return Other(event)
        return Malformed("no event type", message)
    except (KeyError, TypeError, ValueError, msgspec.ValidationError) as exc:
        return Malformed(f"{event}: {exc}", message)


def _order_update(data: dict[str, Any]) -> OrderTradeUpdate:
    o = msgspec.convert(data["o"], _OrderWire, strict=False)
    return OrderTradeUpdate(
        event_time=int(data.get("E", 0)), symbol=o.s, client_order_id=o.c, side=o.S, order_type=o.o,
        orig_type=o.ot, position_side=o.ps, exec_type=o.x, status=o.X, order_id=o.i, orig_qty=_dec(o.q),
        price=_dec(o.p), cum_qty=_dec(o.z), last_qty=_dec(o.l), last_price=_dec(o.L), commission=_dec(o.n),
        commission_asset=o.N, trade_time=o.T, trade_id=o.t, maker=bool(o.m), realized_pnl=_dec(o.rp),
        expiry_reason=o.er)


def _algo_update(data: dict[str, Any]) -> AlgoUpdate:
    o = msgspec.convert(data["o"], _AlgoWire, strict=False)
    actual = int(o.ai) if o.ai not in (None, "", 0, "0") else None
    return AlgoUpdate(
        event_time=int(data.get("E", 0)), client_algo_id=o.caid, algo_id=o.aid, symbol=o.s, side=o.S,
        position_side=o.ps, order_type=o.o, status=o.X, qty=_dec(o.q), actual_order_id=actual,
        avg_price=_dec(o.ap), executed_qty=_dec(o.aq), trigger_price=_dec(o.tp), reason=o.rm or None)


def _account_update(data: dict[str, Any]) -> AccountUpdate:
    a = msgspec.convert(data["a"], _AccountWire, strict=False)
    usdt = next((b for b in a.B if b.a == "USDT"), None)
    positions = tuple(PositionUpdate(p.s, p.ps, Decimal(p.pa), _dec(p.ep), _dec(p.up)) for p in a.P)
    return AccountUpdate(event_time=int(data.get("E", 0)), reason=a.m,
                         wallet_balance=None if usdt is None else _dec(usdt.wb),
                         balance_change=None if usdt is None else _dec(usdt.bc), positions=positions, symbol=a.S)


def parse_market_message(message: Any) -> MarketMessage:
    """Parse one market-stream message (markPriceUpdate, kline)."""
    data = _unwrap(message)
    if not isinstance(data, dict):
        return Malformed("not an object", message)
    event = data.get("e")
    try:
        if event == "markPriceUpdate":
            return MarkPrice(int(data["E"]), data["s"], Decimal(data["p"]), _dec(data.get("i")), _dec(data.get("r")),
                             int(data["T"]) if data.get("T") else None)
        if event == "kline":
            k = data["k"]
            return Kline(data["s"], int(k["t"]), int(k["T"]), Decimal(k["o"]), Decimal(k["h"]), Decimal(k["l"]),
                         Decimal(k["c"]), Decimal(k["v"]), bool(k["x"]))
        if event == "error":
            return StreamDown(str(data.get("type", "error")), str(data.get("m", "")))
        if isinstance(event, str):
            return Other(event)
        return Malformed("no event type", message)
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        return Malformed(f"{event}: {exc}", message)
