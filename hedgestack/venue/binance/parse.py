"""Binance's wire → the Venue port's records (``venue/port.py``): REST rows and stream messages alike.

There is one schema set: the msgspec Structs of ``schemas.py``, with which the simulator encodes what it sends.
Decoding uses *tolerant* twins of those Structs, derived from them at import (same names, same types): a field
the engine needs stays required, every other field may be absent. A payload that lacks an unneeded field, or
carries a new one, is still read; one that lacks a needed field, or has the wrong type, becomes
:class:`~hedgestack.venue.port.Malformed` (stream) or a :class:`~hedgestack.domain.errors.VenueError` (REST).
Nulls are accepted where Binance sends them (liquidation/ADL/settlement shapes): a null or empty decimal is None.

A fill is an ORDER_TRADE_UPDATE whose execution type is TRADE or CALCULATED (liquidation) with a positive
last-filled quantity and a trade id.
"""

from __future__ import annotations

import typing
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET

from hedgestack.domain.enums import OrderStatus, PositionSide, Side
from hedgestack.domain.errors import VenueError
from hedgestack.domain.filters import SymbolFilters
from hedgestack.venue.binance import schemas as w
from hedgestack.venue.port import (
    Account,
    AccountConfigUpdate,
    AccountUpdate,
    AlgoUpdate,
    Candle,
    ExchangeAlgoOrder,
    ExchangeOrder,
    ExchangeRules,
    FundingIncome,
    Kline,
    ListenKeyExpired,
    Malformed,
    MarketMessage,
    MarkPrice,
    OrderTradeUpdate,
    Other,
    Position,
    PositionUpdate,
    Premium,
    StreamDown,
    SymbolSettings,
    Trade,
    TradeLite,
    UserMessage,
)

if typing.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

S = TypeVar("S", bound=msgspec.Struct)
_STATUS = {s.value: s for s in OrderStatus}


# == tolerant twins of the schema Structs ============================================================
@cache
def tolerant(cls: type[S], required: frozenset[str] = frozenset()) -> type[S]:
    """A decoding twin of ``cls``: the same fields and types, every field but ``required`` optional (UNSET when
    absent), nested Structs tolerant too, unknown fields ignored."""
    hints = typing.get_type_hints(cls)
    spec: list[tuple[str, Any, Any]] = []
    for name in cls.__struct_fields__:
        hint = _tolerant_type(hints[name])
        if name in required:
            spec.append((name, hint, msgspec.NODEFAULT))
        else:
            spec.append((name, hint | msgspec.UnsetType, UNSET))
    return msgspec.defstruct(f"Tolerant{cls.__name__}", spec, kw_only=True, frozen=True)  # type: ignore[return-value]


#: the fields a nested Struct must carry to be read at all
_NESTED_REQUIRED: dict[type, frozenset[str]] = {
    w.AccountUpdatePosition: frozenset({"s", "pa", "ps"}),
    w.AccountUpdateBalance: frozenset({"a"}),
    w.AccountUpdateData: frozenset({"m"}),
    w.KlineData: frozenset({"t", "T", "o", "h", "l", "c", "v"}),
    w.AccountConfigLeverage: frozenset({"s", "l"}),
    w.AccountConfigMultiAssets: frozenset({"j"}),
}


def _tolerant_type(hint: Any) -> Any:
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return tolerant(hint, _NESTED_REQUIRED.get(hint, frozenset()))
    origin = typing.get_origin(hint)
    if origin is list:
        return list[_tolerant_type(typing.get_args(hint)[0])]  # type: ignore[misc]
    return hint


def _decode(cls: type[S], data: Any, *required: str) -> Any:
    return msgspec.convert(data, tolerant(cls, frozenset(required)), strict=False)


def _has(value: Any) -> bool:
    return value is not UNSET and value is not None and value != ""


def _dec(value: Any) -> Decimal | None:
    """A decimal from a wire string; None for null, empty or absent."""
    if not _has(value):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a decimal: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return result


def _dec0(value: Any) -> Decimal:
    result = _dec(value)
    return Decimal(0) if result is None else result


def _int(value: Any) -> int | None:
    if not _has(value) or value in (0, "0"):
        return None
    return int(value)


def _opt(value: Any) -> Any:
    return None if value is UNSET else value


def _side(value: str) -> Side:
    return Side(value)


def _pside(value: Any) -> PositionSide | None:
    """LONG / SHORT; None for BOTH (one-way accounts) or absent."""
    return PositionSide(value) if value in ("LONG", "SHORT") else None


def _status(value: Any) -> OrderStatus | None:
    return _STATUS.get(value) if isinstance(value, str) else None


# == REST ===========================================================================================
def order(row: Mapping[str, Any]) -> ExchangeOrder:
    """A /fapi/v1/order answer (new, query, cancel, openOrders, allOrders row)."""
    o = _decode(w.Order, row, "orderId", "symbol", "status", "clientOrderId", "side", "executedQty")
    return ExchangeOrder(
        symbol=o.symbol, order_id=int(o.orderId), client_order_id=o.clientOrderId, status=_status(o.status),
        side=_side(o.side), position_side=_pside(_opt(o.positionSide)), order_type=str(_opt(o.type) or ""),
        orig_type=str(_opt(o.origType) or _opt(o.type) or ""), qty=_dec0(o.origQty), executed_qty=_dec0(o.executedQty),
        price=_dec0(o.price), avg_price=_dec0(o.avgPrice), time_in_force=str(_opt(o.timeInForce) or ""),
        time=_int(o.time), update_time=int(_opt(o.updateTime) or 0))


def algo_order(row: Mapping[str, Any]) -> ExchangeAlgoOrder:
    """A /fapi/v1/algoOrder answer (new, query, openAlgoOrders, allAlgoOrders row)."""
    a = _decode(w.AlgoOrder, row, "algoId", "clientAlgoId", "symbol", "side", "algoStatus")
    return ExchangeAlgoOrder(
        symbol=a.symbol, algo_id=int(a.algoId), client_algo_id=a.clientAlgoId,
        status=_status(a.algoStatus) or (OrderStatus.NEW if a.algoStatus is UNSET else None), side=_side(a.side),
        position_side=_pside(_opt(a.positionSide)), order_type=str(_opt(a.orderType) or ""), qty=_dec0(a.quantity),
        trigger_price=_dec0(a.triggerPrice), price=_dec0(a.price), working_type=str(_opt(a.workingType) or ""),
        actual_order_id=_int(a.actualOrderId), create_time=int(_opt(a.createTime) or 0),
        update_time=int(_opt(a.updateTime) or 0))


def trade(row: Mapping[str, Any]) -> Trade:
    """A userTrades row."""
    t = _decode(w.UserTrade, row, "id", "orderId", "symbol", "side", "qty", "price")
    return Trade(
        symbol=t.symbol, trade_id=int(t.id), order_id=int(t.orderId), side=_side(t.side),
        position_side=_pside(_opt(t.positionSide)), qty=_dec0(t.qty), price=_dec0(t.price),
        commission=_dec0(t.commission), commission_asset=str(_opt(t.commissionAsset) or "USDT"),
        realized_pnl=_dec0(t.realizedPnl), maker=bool(_opt(t.maker)), time=int(_opt(t.time) or 0))


def position(row: Mapping[str, Any]) -> Position | None:
    """A positionRisk (v3, or v2) row: None for a BOTH row (one-way mode)."""
    p = _decode(w.PositionRiskV3, row, "symbol", "positionAmt")
    side = _pside(_opt(p.positionSide))
    if side is None:
        return None
    return Position(
        symbol=p.symbol, position_side=side, amount=abs(_dec0(p.positionAmt)), entry_price=_dec0(p.entryPrice),
        break_even_price=_dec(p.breakEvenPrice), mark_price=_dec(p.markPrice), unrealized=_dec0(p.unRealizedProfit),
        liquidation_price=_dec(p.liquidationPrice), notional=_dec(p.notional), initial_margin=_dec(p.initialMargin),
        maint_margin=_dec(p.maintMargin), update_time=int(_opt(p.updateTime) or 0))


def symbol_settings(row: Mapping[str, Any]) -> SymbolSettings:
    """A symbolConfig row."""
    return SymbolSettings(symbol=str(row["symbol"]), leverage=int(row["leverage"]),
                          margin_type="isolated" if str(row.get("marginType", "")).upper().startswith("ISO")
                          else "cross")


def account(row: Mapping[str, Any]) -> Account:
    """/fapi/v3/account (or v2): the USDT totals (single-asset mode)."""
    a = _decode(w.AccountV3, row, "totalWalletBalance")
    return Account(wallet_balance=_dec0(a.totalWalletBalance), available_balance=_dec0(a.availableBalance),
                   margin_balance=_dec0(a.totalMarginBalance), maintenance_margin=_dec0(a.totalMaintMargin),
                   unrealized=_dec0(a.totalUnrealizedProfit))


def funding_income(row: Mapping[str, Any]) -> FundingIncome:
    i = _decode(w.IncomeRow, row, "symbol", "income", "time")
    return FundingIncome(symbol=i.symbol, amount=_dec0(i.income), asset=str(_opt(i.asset) or "USDT"),
                         time=int(i.time))


def premium(row: Mapping[str, Any]) -> Premium:
    p = _decode(w.PremiumIndex, row, "symbol", "markPrice")
    return Premium(symbol=p.symbol, mark_price=_dec0(p.markPrice), last_funding_rate=_dec0(p.lastFundingRate),
                   next_funding_time=_int(p.nextFundingTime))


def candle(row: list[Any]) -> Candle:
    return Candle(open_time=int(row[0]), open=Decimal(str(row[1])), high=Decimal(str(row[2])),
                  low=Decimal(str(row[3])), close=Decimal(str(row[4])), volume=Decimal(str(row[5])),
                  close_time=int(row[6]))


def exchange_rules(info: Mapping[str, Any], symbols: Iterable[str]) -> ExchangeRules:
    """The filters of ``symbols`` and the request-weight limit per minute from exchangeInfo."""
    wanted = set(symbols)
    filters = {s["symbol"]: SymbolFilters.from_exchange_info(s) for s in info.get("symbols", [])
               if s.get("symbol") in wanted}
    weight = None
    for limit in info.get("rateLimits", []):
        if limit.get("rateLimitType") == "REQUEST_WEIGHT" and limit.get("interval") == "MINUTE":
            weight = int(limit["limit"]) // max(1, int(limit.get("intervalNum", 1)))
    return ExchangeRules(filters=filters, weight_per_minute=weight)


def rows(parse: Callable[[Mapping[str, Any]], Any], data: Any) -> list[Any]:
    """Parse every row of a list answer (a malformed row is an error: nothing is silently dropped)."""
    if not isinstance(data, list):
        raise VenueError(f"expected a list, got {type(data).__name__}", code="VENUE_PAYLOAD")
    return [parse(row) for row in data]


def checked(parse: Callable[..., Any], data: Any) -> Any:
    """``parse(data)``, a payload it cannot read becoming a VenueError with the reason."""
    try:
        return parse(data)
    except (msgspec.ValidationError, KeyError, TypeError, ValueError) as exc:
        raise VenueError(f"unreadable answer from the exchange: {exc}", code="VENUE_PAYLOAD") from None


# == streams ========================================================================================
def _unwrap(message: Any) -> Any:
    if isinstance(message, dict) and "data" in message and "e" not in message:
        return message["data"]
    return message


def parse_user_message(message: Any) -> UserMessage:
    """One user-data-stream message (never raises: a bad one is Malformed)."""
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
        if event == "ACCOUNT_CONFIG_UPDATE":
            c = _decode(w.AccountConfigUpdate, data)
            lev = c.ac if c.ac is not UNSET else None
            multi = c.ai if c.ai is not UNSET else None
            return AccountConfigUpdate(event_time=int(_opt(c.E) or 0), symbol=None if lev is None else lev.s,
                                       leverage=None if lev is None else int(lev.l),
                                       multi_assets=None if multi is None else bool(multi.j))
        if event == "listenKeyExpired":
            return ListenKeyExpired(int(data.get("E", 0)))
        if event == "TRADE_LITE":
            t = _decode(w.TradeLite, data, "s", "t", "i")
            return TradeLite(int(_opt(t.E) or 0), t.s, int(t.t), int(t.i), _opt(t.c))
        if event == "error":
            return StreamDown(str(data.get("type", "error")), str(data.get("m", data.get("message", ""))))
        if isinstance(event, str):
            return Other(event)
        return Malformed("no event type", message)
    except (KeyError, TypeError, ValueError, msgspec.ValidationError) as exc:
        return Malformed(f"{event}: {exc}", message)


def _order_update(data: dict[str, Any]) -> OrderTradeUpdate:
    o = _decode(w.OrderUpdate, data["o"], "s", "S", "o", "x", "X", "i")
    return OrderTradeUpdate(
        event_time=int(data.get("E") or 0), symbol=o.s, client_order_id=_opt(o.c) or None, side=_side(o.S),
        order_type=o.o, orig_type=_opt(o.ot), position_side=_pside(_opt(o.ps)), exec_type=o.x, status=_status(o.X),
        order_id=int(o.i), orig_qty=_dec(o.q), price=_dec(o.p), avg_price=_dec(o.ap), cum_qty=_dec(o.z),
        last_qty=_dec(o.l), last_price=_dec(o.L), commission=_dec(o.n), commission_asset=_opt(o.N),
        trade_time=_opt(o.T), trade_id=_opt(o.t), maker=bool(_opt(o.m)), realized_pnl=_dec(o.rp),
        expiry_reason=_opt(o.er))


def _algo_update(data: dict[str, Any]) -> AlgoUpdate:
    o = _decode(w.AlgoUpdateOrder, data["o"], "caid", "aid", "s", "S", "X")
    return AlgoUpdate(
        event_time=int(data.get("E") or 0), client_algo_id=o.caid, algo_id=int(o.aid), symbol=o.s, side=_side(o.S),
        position_side=_pside(_opt(o.ps)), order_type=str(_opt(o.o) or ""), status=_status(o.X), qty=_dec(o.q),
        actual_order_id=_int(o.ai), avg_price=_dec(o.ap), executed_qty=_dec(o.aq), trigger_price=_dec(o.tp),
        reason=_opt(o.rm) or None)


def _account_update(data: dict[str, Any]) -> AccountUpdate:
    u = _decode(w.AccountUpdate, data, "a")
    a = u.a
    balances = [] if a.B is UNSET else a.B
    usdt = next((b for b in balances if _opt(b.a) == "USDT"), None)
    positions = tuple(
        PositionUpdate(symbol=p.s, position_side=_pside(_opt(p.ps)), amount=abs(_dec0(p.pa)), entry_price=_dec(p.ep),
                       break_even_price=_dec(p.bep), unrealized=_dec(p.up), margin_type=_opt(p.mt))
        for p in ([] if a.P is UNSET else a.P))
    return AccountUpdate(event_time=int(_opt(u.E) or 0), reason=str(_opt(a.m) or ""),
                         wallet_balance=None if usdt is None else _dec(usdt.wb),
                         balance_change=None if usdt is None else _dec(usdt.bc), positions=positions,
                         symbol=_opt(a.S))


def parse_market_message(message: Any) -> MarketMessage:
    """One market-stream message (markPriceUpdate, kline); never raises."""
    data = _unwrap(message)
    if not isinstance(data, dict):
        return Malformed("not an object", message)
    event = data.get("e")
    try:
        if event == "markPriceUpdate":
            m = _decode(w.MarkPriceUpdate, data, "s", "p")
            mark = _dec(m.p)
            if mark is None:
                raise ValueError("no mark price")
            return MarkPrice(int(_opt(m.E) or 0), m.s, mark, _dec(m.i), _dec(m.r), _int(m.T))
        if event == "kline":
            k = _decode(w.Kline, data, "s", "k").k
            return Kline(data["s"], int(k.t), int(k.T), _dec0(k.o), _dec0(k.h), _dec0(k.l), _dec0(k.c), _dec0(k.v),
                         bool(_opt(k.x)))
        if event == "error":
            return StreamDown(str(data.get("type", "error")), str(data.get("m", "")))
        if isinstance(event, str):
            return Other(event)
        return Malformed("no event type", message)
    except (KeyError, TypeError, ValueError, msgspec.ValidationError) as exc:
        return Malformed(f"{event}: {exc}", message)


__all__ = [
    "account", "algo_order", "candle", "checked", "exchange_rules", "funding_income", "order",
    "parse_market_message", "parse_user_message", "position", "premium", "rows", "symbol_settings", "tolerant",
    "trade",
]
