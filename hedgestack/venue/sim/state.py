"""The simulated account's state: plain dataclasses, serialisable with msgspec (what persistence stores)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, TypeVar

from hedgestack.domain.numbers import ZERO

if TYPE_CHECKING:
    from collections.abc import Callable

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
OPEN_ALGO_STATUSES = frozenset({"NEW"})

K = TypeVar("K")
V = TypeVar("V")


class OpenIndex(Generic[K, V]):
    """The open entries of a dict that only grows (orders by id), in insertion order, without a scan of every
    entry per read: new keys are taken in from the dict's end, closed entries are pruned as they are read (a
    finished order never opens again). A dict replaced (a reset, a load) is taken in afresh."""

    def __init__(self, is_open: Callable[[V], bool]) -> None:
        self._is_open = is_open
        self._source: dict[K, V] | None = None
        self._seen = 0
        self._open: dict[K, V] = {}

    def read(self, source: dict[K, V]) -> list[V]:
        if source is not self._source or len(source) < self._seen:
            self._source, self._seen, self._open = source, 0, {}
        if len(source) > self._seen:
            added = list(zip(range(len(source) - self._seen), reversed(source.items()), strict=False))
            for _, (key, value) in reversed(added):
                self._open[key] = value
            self._seen = len(source)
        found: list[V] = []
        gone: list[K] = []
        for key, value in self._open.items():
            if self._is_open(value):
                found.append(value)
            else:
                gone.append(key)
        for key in gone:
            del self._open[key]
        return found


@dataclass(slots=True)
class SimOrder:
    """A regular order in the matching engine (LIMIT or MARKET; a triggered algo's child; a liquidation)."""

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
    reduce_only: bool = False
    stp: str = "EXPIRE_MAKER"
    price_match: str = "NONE"
    good_till: int = 0
    priority: int = 0  # queue priority: the order id, renewed by an amendment (the queue is lost)
    queue_ahead: Decimal = ZERO  # the market's quantity ahead of it at its price (book markets)
    amendments: int = 0
    liquidation: bool = False

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
    reduce_only: bool = False
    stp: str = "NONE"
    good_till: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ALGO_STATUSES


@dataclass(slots=True)
class SimPosition:
    """One side of one symbol: unsigned amount (signed for BOTH), weighted-average entry, accumulated realized,
    and the commission paid on the fills that built the current position (for the break-even price)."""

    symbol: str
    position_side: str
    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized: Decimal = ZERO
    update_time: int = 0
    open_fees: Decimal = ZERO


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
class SimAmendment:
    """One accepted ``PUT /fapi/v1/order`` (``GET /fapi/v1/orderAmendment`` row)."""

    amendment_id: int
    symbol: str
    order_id: int
    client_order_id: str
    time: int
    price_before: Decimal
    price_after: Decimal
    qty_before: Decimal
    qty_after: Decimal
    count: int


@dataclass(slots=True)
class SimMarket:
    """Prices of one symbol (``funding_rate`` is the rate shown; the funding schedule lives in funding.py)."""

    symbol: str
    last: Decimal
    mark: Decimal
    index: Decimal
    funding_rate: Decimal
    next_funding_time: int
    max_fill_qty: Decimal | None = None


@dataclass(slots=True)
class Counters:
    """Ids are never reused within one identity: a reset keeps counting, persistence keeps them."""

    order_id: int = 8_389_765_000
    algo_id: int = 1_000_000_033_000_000
    trade_id: int = 4_467_432_000
    tran_id: int = 9_689_322_000
    agg_id: int = 2_100_000_000
    amendment_id: int = 5_363_000


@dataclass(slots=True)
class AccountState:
    """Everything that a reset wipes (ids and identity excepted)."""

    wallet: Decimal
    dual_side: bool = True
    positions: dict[str, SimPosition] = field(default_factory=dict)
    orders: dict[int, SimOrder] = field(default_factory=dict)
    algos: dict[int, SimAlgo] = field(default_factory=dict)
    trades: list[SimTrade] = field(default_factory=list)
    income: list[SimIncome] = field(default_factory=list)
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, str] = field(default_factory=dict)  # CROSSED (ISOLATED is refused)
    multi_assets: bool = False
    amendments: list[SimAmendment] = field(default_factory=list)
    force_orders: list[int] = field(default_factory=list)  # order ids of liquidation orders
    countdowns: dict[str, list[int]] = field(default_factory=dict)  # symbol → [deadline ms, countdown ms]
    config_time: int = 0


@dataclass(slots=True)
class Snapshot:
    """The old ``--persist`` JSON file (read once to migrate it): the account, the ids and the prices."""

    account: AccountState
    counters: Counters
    markets: dict[str, SimMarket]
