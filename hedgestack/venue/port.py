"""The Venue port: what the engine needs of an exchange account, with typed results.

The engine depends on this Protocol only. The python-binance adapter (``venue/binance``) implements it for the
simulator, testnet and live Binance; ``venue/inproc`` implements it over the simulator's exchange in the same
process (engine tests where the wire is not the point). Wire formats stop at the adapters: REST rows and stream
messages are decoded with the one schema set (``venue/binance/schemas.py``, shared with the simulator) and
mapped to the records below, with the domain's enums and exact Decimals.

Errors: a refusal is :class:`~hedgestack.domain.errors.VenueRejected` (with Binance's code); a request whose
answer never came back is :class:`~hedgestack.domain.errors.AnswerLost` (it may have been executed: find out,
never send it again); :class:`~hedgestack.domain.errors.RateLimited`, :class:`~hedgestack.domain.errors.IpBanned`
and :class:`~hedgestack.domain.errors.VenueUnavailable` as their names say.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from hedgestack.domain.enums import OrderStatus, OrderType, PositionSide, Side, TimeInForce
from hedgestack.domain.filters import SymbolFilters

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable


# == request weight ================================================================================
#: Trading requests (orders, cancels and the queries that resolve a lost answer: 0–1 weight each) go on until
#: this share of the weight limit; the others (positions, account, catch-ups) wait from the venue's
#: ``slow_down_at``. Reads that filled the minute must not hold up an order or a stop-loss's resize.
TRADING_WEIGHT_SHARE = 0.95


def weight_allows(used: int, limit: int, slow_down_at: float, *, trading: bool) -> bool:
    """Whether a request may go now, with ``used`` of the minute's ``limit`` spent."""
    share = max(slow_down_at, TRADING_WEIGHT_SHARE) if trading else slow_down_at
    return used < limit * share


# == identity =======================================================================================
@dataclass(frozen=True, slots=True)
class VenueIdentity:
    """Which exchange account a venue is: ``kind`` (sim | testnet | live) and ``account``, an identifier of the
    account (the simulator's instance id, Binance's account id where it gives one, else a fingerprint of the
    API key — never the key). ``key`` is a fingerprint of the API key in use (a key rotation changes it, not
    the account)."""

    kind: str
    account: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.account}"


# == REST records ===================================================================================
@dataclass(frozen=True, slots=True)
class ExchangeRules:
    """exchangeInfo, reduced to what the engine uses."""

    filters: dict[str, SymbolFilters]
    weight_per_minute: int | None


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A regular order (MARKET/LIMIT): never ``reduceOnly`` (Hedge Mode refuses it)."""

    symbol: str
    side: Side
    position_side: PositionSide
    order_type: OrderType
    qty: Decimal
    client_order_id: str
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None


@dataclass(frozen=True, slots=True)
class AlgoOrderRequest:
    """A conditional order (STOP/TAKE_PROFIT and their MARKET forms): ``/fapi/v1/algoOrder`` since 2025-12."""

    symbol: str
    side: Side
    position_side: PositionSide
    order_type: OrderType
    qty: Decimal
    client_algo_id: str
    trigger_price: Decimal
    working_type: str  # CONTRACT_PRICE | MARK_PRICE
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """A regular order as the exchange reports it (order answer, query, open/all orders, cancel)."""

    symbol: str
    order_id: int
    client_order_id: str
    status: OrderStatus | None  # None: a status this code does not know
    side: Side
    position_side: PositionSide | None
    order_type: str
    orig_type: str
    qty: Decimal
    executed_qty: Decimal
    price: Decimal
    avg_price: Decimal
    time_in_force: str
    time: int | None
    update_time: int


@dataclass(frozen=True, slots=True)
class ExchangeAlgoOrder:
    """A conditional (algo) order as the exchange reports it."""

    symbol: str
    algo_id: int
    client_algo_id: str
    status: OrderStatus | None
    side: Side
    position_side: PositionSide | None
    order_type: str
    qty: Decimal
    trigger_price: Decimal
    price: Decimal
    working_type: str
    actual_order_id: int | None  # its child in the matching engine, once triggered
    create_time: int
    update_time: int


@dataclass(frozen=True, slots=True)
class Trade:
    """One of the account's trades (``userTrades``)."""

    symbol: str
    trade_id: int
    order_id: int
    side: Side
    position_side: PositionSide | None
    qty: Decimal
    price: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    maker: bool
    time: int


@dataclass(frozen=True, slots=True)
class Position:
    """One position side (``positionRisk`` v3). A side the exchange does not list is flat."""

    symbol: str
    position_side: PositionSide
    amount: Decimal  # absolute
    entry_price: Decimal
    break_even_price: Decimal | None
    mark_price: Decimal | None
    unrealized: Decimal
    liquidation_price: Decimal | None
    notional: Decimal | None
    initial_margin: Decimal | None
    maint_margin: Decimal | None
    update_time: int


@dataclass(frozen=True, slots=True)
class SymbolSettings:
    """A symbol's leverage and margin type (``symbolConfig``; ACCOUNT_CONFIG_UPDATE changes them)."""

    symbol: str
    leverage: int
    margin_type: str  # cross | isolated


@dataclass(frozen=True, slots=True)
class Account:
    """The USDT account's risk block (``/fapi/v3/account``)."""

    wallet_balance: Decimal
    available_balance: Decimal
    margin_balance: Decimal
    maintenance_margin: Decimal
    unrealized: Decimal


@dataclass(frozen=True, slots=True)
class FundingIncome:
    """A FUNDING_FEE income row: one settlement of one symbol."""

    symbol: str
    amount: Decimal
    asset: str
    time: int


@dataclass(frozen=True, slots=True)
class Premium:
    symbol: str
    mark_price: Decimal
    last_funding_rate: Decimal
    next_funding_time: int | None


@dataclass(frozen=True, slots=True)
class Candle:
    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


# == stream messages ================================================================================
@dataclass(frozen=True, slots=True)
class OrderTradeUpdate:
    """ORDER_TRADE_UPDATE: a regular order changed, with a fill when ``is_fill``."""

    event_time: int
    symbol: str
    client_order_id: str | None
    side: Side
    order_type: str
    orig_type: str | None
    position_side: PositionSide | None
    exec_type: str
    status: OrderStatus | None
    order_id: int
    orig_qty: Decimal | None
    price: Decimal | None
    avg_price: Decimal | None
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
        """A trade (TRADE, or CALCULATED for a liquidation) with a positive quantity and a trade id."""
        return (self.exec_type in ("TRADE", "CALCULATED") and self.last_qty is not None and self.last_qty > 0
                and bool(self.trade_id))


@dataclass(frozen=True, slots=True)
class AlgoUpdate:
    event_time: int
    client_algo_id: str
    algo_id: int
    symbol: str
    side: Side
    position_side: PositionSide | None
    order_type: str
    status: OrderStatus | None
    qty: Decimal | None
    actual_order_id: int | None
    avg_price: Decimal | None
    executed_qty: Decimal | None
    trigger_price: Decimal | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    symbol: str
    position_side: PositionSide | None
    amount: Decimal  # absolute
    entry_price: Decimal | None
    break_even_price: Decimal | None
    unrealized: Decimal | None
    margin_type: str | None


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    event_time: int
    reason: str
    wallet_balance: Decimal | None  # USDT wb
    balance_change: Decimal | None  # USDT bc
    positions: tuple[PositionUpdate, ...]
    symbol: str | None  # a.S on FUNDING_FEE


@dataclass(frozen=True, slots=True)
class AccountConfigUpdate:
    """ACCOUNT_CONFIG_UPDATE: a symbol's leverage changed (``leverage``) or multi-assets mode (``multi_assets``)."""

    event_time: int
    symbol: str | None
    leverage: int | None
    multi_assets: bool | None


@dataclass(frozen=True, slots=True)
class TradeLite:
    event_time: int
    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str | None


@dataclass(frozen=True, slots=True)
class ListenKeyExpired:
    event_time: int


@dataclass(frozen=True, slots=True)
class StreamDown:
    """The socket closed or could not connect (python-binance's ``{'e': 'error'}``)."""

    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class StreamUp:
    """A stream (re)connected: whatever was sent while it was down must be fetched over REST."""

    stream: str


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
    """A well-formed message of a kind the engine does not act on."""

    event: str


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str
    raw: Any


UserMessage = (OrderTradeUpdate | AlgoUpdate | AccountUpdate | AccountConfigUpdate | ListenKeyExpired | TradeLite
               | StreamDown | StreamUp | Other | Malformed)
MarketMessage = MarkPrice | Kline | StreamDown | StreamUp | Other | Malformed


# == the port =======================================================================================
class Venue(Protocol):
    """One USDT-M account in Hedge Mode."""

    weight_limit: int
    used_weight: int

    @property
    def name(self) -> str: ...  # sim | testnet | live


    async def start(self) -> None: ...
    async def stop_streams(self) -> None: ...
    async def close(self) -> None: ...
    def backlog(self) -> int: ...

    async def identity(self) -> VenueIdentity: ...
    async def hedge_mode(self) -> bool: ...
    async def set_hedge_mode(self) -> None: ...
    async def exchange_rules(self, symbols: Iterable[str]) -> ExchangeRules: ...

    async def new_order(self, request: OrderRequest) -> ExchangeOrder: ...
    async def new_algo_order(self, request: AlgoOrderRequest) -> ExchangeAlgoOrder: ...
    async def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder: ...
    async def cancel_algo_order(self, client_algo_id: str) -> None: ...
    async def query_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None: ...
    async def query_order_id(self, symbol: str, order_id: int) -> ExchangeOrder | None: ...
    async def query_algo_order(self, client_algo_id: str) -> ExchangeAlgoOrder | None: ...
    async def open_orders(self, symbol: str) -> list[ExchangeOrder]: ...
    async def open_algo_orders(self, symbol: str) -> list[ExchangeAlgoOrder]: ...
    async def all_orders(self, symbol: str, *, start: int, end: int, limit: int = 1000) -> list[ExchangeOrder]: ...
    async def all_algo_orders(self, symbol: str, *, start: int, end: int | None = None,
                              limit: int = 1000) -> list[ExchangeAlgoOrder]: ...
    async def user_trades(self, symbol: str, *, from_id: int | None = None, start: int | None = None,
                          end: int | None = None, limit: int = 1000) -> list[Trade]: ...
    async def positions(self) -> list[Position]: ...
    async def symbol_settings(self) -> list[SymbolSettings]: ...
    async def account(self) -> Account: ...
    async def funding_income(self, *, start: int, end: int | None = None, limit: int = 1000) -> list[FundingIncome]: ...
    async def premium(self, symbol: str) -> Premium: ...
    async def klines(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[Candle]: ...

    def user_messages(self) -> AsyncIterator[UserMessage | list[UserMessage]]: ...
    def market_messages(self, symbols: Iterable[str]) -> AsyncIterator[MarketMessage]: ...


__all__ = [
    "Account", "AccountConfigUpdate", "AccountUpdate", "AlgoOrderRequest", "AlgoUpdate", "Candle", "ExchangeAlgoOrder",
    "ExchangeOrder", "ExchangeRules", "FundingIncome", "Kline", "ListenKeyExpired", "Malformed", "MarkPrice",
    "MarketMessage", "OrderRequest", "OrderTradeUpdate", "Other", "Position", "PositionUpdate", "Premium",
    "StreamDown", "StreamUp", "SymbolSettings", "Trade", "TradeLite", "UserMessage", "Venue", "VenueIdentity",
]
