"""The simulated account's state: plain dataclasses, serialisable with msgspec (for ``--persist``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from hedgestack.domain.numbers import ZERO

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
OPEN_ALGO_STATUSES = frozenset({"NEW"})


@dataclass(slots=True)
class SimOrder:
    """A regular order in the matching engine (LIMIT or MARKET; a triggered algo's child too)."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str
    position_side: str
    type: str
    orig_type: str
    time_in_force: str
    qty: Decimal
    price: Decimal
    stop_price: Decimal
    working_type: str
    status: str
    time: int
    update_time: int
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    close_position: bool = False
    price_protect: bool = False
    algo_id: int | None = None
    expire_reason: str = "0"

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed if self.executed else ZERO


@dataclass(slots=True)
class SimAlgo:
    """A conditional order in the Algo Service."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    position_side: str
    order_type: str
    time_in_force: str
    qty: Decimal
    price: Decimal
    trigger_price: Decimal
    working_type: str
    status: str
    create_time: int
    update_time: int
    trigger_time: int = 0
    close_position: bool = False
    price_protect: bool = False
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None
    activated: bool = False
    extreme: Decimal | None = None
    actual_order_id: int | None = None
    reject_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ALGO_STATUSES


@dataclass(slots=True)
class SimPosition:
    """One side of one symbol: unsigned amount, weighted-average entry, accumulated realized."""

    symbol: str
    position_side: str
    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized: Decimal = ZERO
    update_time: int = 0


@dataclass(slots=True)
class SimTrade:
    trade_id: int
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    position_side: str
    price: Decimal
    qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    maker: bool
    time: int

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


@dataclass(slots=True)
class SimIncome:
    symbol: str
    income_type: str
    income: Decimal
    time: int
    tran_id: int
    trade_id: str
    info: str


@dataclass(slots=True)
class SimMarket:
    """Prices and funding of one symbol."""

    symbol: str
    last: Decimal
    mark: Decimal
    index: Decimal
    funding_rate: Decimal
    next_funding_time: int
    max_fill_qty: Decimal | None = None


@dataclass(slots=True)
class Counters:
    """Ids are never reused in a simulator's life: a reset keeps counting."""

    order_id: int = 8_389_765_000
    algo_id: int = 1_000_000_033_000_000
    trade_id: int = 4_467_432_000
    tran_id: int = 9_689_322_000
    agg_id: int = 2_100_000_000


@dataclass(slots=True)
class AccountState:
    """Everything that a reset wipes (ids excepted)."""

    wallet: Decimal
    dual_side: bool = True
    positions: dict[str, SimPosition] = field(default_factory=dict)
    orders: dict[int, SimOrder] = field(default_factory=dict)
    algos: dict[int, SimAlgo] = field(default_factory=dict)
    trades: list[SimTrade] = field(default_factory=list)
    income: list[SimIncome] = field(default_factory=list)


@dataclass(slots=True)
class Snapshot:
    """What ``--persist`` writes: the account, the ids and the prices."""

    account: AccountState
    counters: Counters
    markets: dict[str, SimMarket]
