"""The Terminal: owns the event log and the ledger, turns commands into orders and exchange events into
ledger events, and never loses, doubles or misattributes a fill.

Threading: the terminal runs its own asyncio loop in a daemon thread, so the same object works inside a
Jupyter kernel (whose loop is busy running cells), inside the Panel server and in plain scripts. Every
command is a coroutine that runs on the terminal's loop; ``await t.place_order(...)`` from any loop and
``t.sync.place_order(...)`` from synchronous code both work. All state changes happen on that one loop.

Flow of a command: validate (VP, filters, VP guard, MISMATCH lock) → append the order intent to the log
(invariant 5) → send → record the answer. A lost answer is resolved by querying the clientOrderId; an
order is never sent twice. Flow of an exchange event: parse → attribute → append (deduplicated) → fold →
publish on the bus → TP/SL and consistency follow-ups.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from hedgestack.domain.enums import (
    ConsistencyStatus,
    OrderRole,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
    TriggerType,
)
from hedgestack.domain.errors import (
    HedgeModeRequired,
    HedgestackError,
    LedgerRuleError,
    SideLocked,
    UnknownOrder,
    ValidationError,
    VenueRejected,
    VenueUnavailable,
)
from hedgestack.domain.events import (
    Event,
    Fill,
    Funding,
    OrderIntent,
    OrderUpdate,
    Reconcile,
    TpSlSet,
    Transfer,
    VpArchived,
    VpCreated,
    VpRenamed,
)
from hedgestack.domain.filters import SymbolFilters
from hedgestack.domain.funding import split_funding
from hedgestack.domain.ids import ClientOrderIdGenerator, new_vp_id, short_id, unassigned_vp_id
from hedgestack.domain.invariants import check_invariants
from hedgestack.domain.ledger import Ledger, OrderBook
from hedgestack.domain.numbers import ZERO, D
from hedgestack.domain.rules import (
    check_archive,
    check_guard,
    check_name,
    check_order_matches_vp,
    check_order_shape,
    check_reconcile,
    check_rename,
    check_transfer,
    close_quantity,
    live_vp,
    open_close_qty,
    open_tpsl_qty,
    role_of,
)
from hedgestack.engine import answers
from hedgestack.engine.bus import EventBus
from hedgestack.engine.views import (
    ALL_EVENT_TYPES,
    EVENT_TYPES,
    AccountView,
    CancelAck,
    CandleView,
    ConnectionView,
    ConsistencyView,
    Envelope,
    ExternalPositionView,
    InstrumentView,
    MarkView,
    OrderAck,
    OrderView,
    ReconcileResult,
    ReconnectView,
    SideStatus,
    SideStatusView,
    StateView,
    TransferResult,
    VirtualPositionView,
    VpMarkView,
    exchange_id,
    fill_view,
    fill_view_from_row,
    frame,
    instrument_view,
    order_view,
    vp_view,
)
from hedgestack.store.analytics import Analytics, live
from hedgestack.store.eventlog import AppendResult, EventLog
from hedgestack.store.publish import Publisher
from hedgestack.venue.binance.adapter import AnswerLost, BinanceVenue, Endpoints, StreamUp
from hedgestack.venue.binance.parse import (
    AccountUpdate,
    AlgoUpdate,
    Kline,
    ListenKeyExpired,
    Malformed,
    MarkPrice,
    OrderTradeUpdate,
    StreamDown,
)

log = logging.getLogger("hedgestack.engine")
T = TypeVar("T")

_STATUS = {s.value: s for s in OrderStatus}
#: how long stop() waits for the stream tasks to end
SHUTDOWN_WAIT = 3.0
#: a symbol's MARK_PRICE event goes out at most this often (seconds); the latest mark is sent last
MARK_EVENT_INTERVAL = 0.5
#: the candle intervals Binance serves
CANDLE_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
                    "1M")
#: every this many position polls, also catch up orders, fills and funding over REST
CATCH_UP_EVERY = 12


def now_ms() -> int:
    return time.time_ns() // 1_000_000


#: An order the exchange does not know is concluded "never received" only once no request for it can still
#: arrive: python-binance signs with recvWindow = 10 s, so 10 s after our last attempt (plus a second). For an
#: intent an earlier process left PENDING, every attempt was signed before this process started: 11 s after
#: the start.
NEVER_RECEIVED_AFTER_MS = 11_000
#: Deferred appends (exchange answers, TP/SL statuses) are committed at the latest this long after.
DEFER_MS = 5
#: At start, the log is published before the terminal reports itself started when its backlog is this small.
START_PUBLISH_MAX = 100_000


@dataclass
class ExternalPosition:
    qty: Decimal  # absolute
    entry: Decimal | None
    unrealized: Decimal | None
    updated_at: int


@dataclass
class Stats:
    fills: int = 0
    duplicates: int = 0
    malformed: int = 0
    reconnects: int = 0
    backfilled_fills: int = 0
    lost_answers_resolved: int = 0
    mismatches_raised: int = 0
    mismatches_healed: int = 0


class _SyncProxy:
    """``t.sync.<command>(...)`` runs the command on the terminal's loop and blocks for its result."""

    def __init__(self, terminal: Terminal) -> None:
        self._terminal = terminal

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._terminal, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if asyncio.iscoroutine(result):
                return self._terminal.run_sync(result)
            return result

        return call


class Terminal:
    """The service that owns hedgestack's state for one account."""

    def __init__(self, venue: BinanceVenue, *, data_dir: str | Path = "./data", db_file: str | Path | None = None,
                 symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"), poll_interval: float = 5.0,
                 mismatch_grace: float = 3.0, publish_interval: float = 2.0, sim: Any = None,
                 check_invariants_live: bool = False, mark_event_interval: float = MARK_EVENT_INTERVAL) -> None:
        self.venue = venue
        self.venue_name = venue.endpoints.name
        self.data_dir = Path(data_dir)
        self.db_file = Path(db_file) if db_file is not None else self.data_dir / "hedgestack.duckdb"
        self.symbols = tuple(symbols)
        self.poll_interval = poll_interval
        self.mismatch_grace = mismatch_grace
        self.publish_interval = publish_interval
        self.check_invariants_live = check_invariants_live
        self.mark_event_interval = mark_event_interval
        self.sim = sim  # an embedded SimServer this terminal started (stopped with it)
        self.bus = EventBus()
        self.sync = _SyncProxy(self)
        self.stats = Stats()
        self.filters: dict[str, SymbolFilters] = {}
        self.marks: dict[str, Decimal] = {}
        self.last_prices: dict[str, Decimal] = {}
        self.funding_rates: dict[str, Decimal] = {}
        self.external: dict[tuple[str, PositionSide], ExternalPosition] = {}
        self.consistency: dict[tuple[str, PositionSide], ConsistencyStatus] = {}
        self._diverged_since: dict[tuple[str, PositionSide], float] = {}
        self.wallet_balance: Decimal | None = None
        self._connection = "STOPPED"
        self.klines: dict[str, list[Kline]] = {}
        self.log_store: EventLog | None = None
        self._publisher: Publisher | None = None
        self._ids = ClientOrderIdGenerator()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._mark_buffer: list[tuple[str, int, Decimal]] = []
        self._in_flight: set[str] = set()  # clientOrderIds whose create request has not returned yet
        self._deferred_write_due = False
        self._started_ms = now_ms()  # set again when the terminal starts
        self._last_attempt: dict[str, int] = {}  # clientOrderId → when its create request gave up (answer lost)
        self._last_mark_sample: dict[str, int] = {}
        self._mark_sent: dict[str, tuple[float, Decimal, Decimal | None]] = {}  # loop time, mark, rate
        self._mark_due: set[str] = set()
        self._live_event: asyncio.Event | None = None
        self._sync_lock: asyncio.Lock | None = None
        from hedgestack.engine.tpsl import TpSlManager

        self.tpsl = TpSlManager(self)

    # == construction ===============================================================================
    @classmethod
    def sim(cls, data_dir: str | Path = "./data", *, sim_url: str | None = None,
            symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"), market: str = "random", seed: int | None = None,
            api_key: str | None = None, api_secret: str | None = None, persist: bool = True,
            **kwargs: Any) -> Terminal:
        """A terminal on the simulator: attach to ``sim_url`` or start an embedded one on a free port, which
        keeps its account in ``data_dir`` (``persist``; ``simulator.sqlite``) so a restart continues it."""
        from hedgestack.venue.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimConfig, SimServer

        key = api_key or DEFAULT_API_KEY
        secret = api_secret or DEFAULT_API_SECRET
        server = None
        if sim_url is None:
            options: dict[str, Any] = {"port": 0, "market": market, "seed": seed, "api_key": key,
                                       "api_secret": secret}
            # the embedded simulator keeps its account in the data directory: a restart continues it
            config = SimConfig.embedded(data_dir, **options) if persist else SimConfig(**options)
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            server = SimServer.start_in_thread(config)
            sim_url = server.url
        venue = BinanceVenue(Endpoints.sim(sim_url, key, secret))
        return cls(venue, data_dir=data_dir, symbols=symbols, sim=server, **kwargs)

    @classmethod
    def from_env(cls, data_dir: str | Path | None = None, **kwargs: Any) -> Terminal:
        """Build from BINANCE_API_KEY / BINANCE_API_SECRET / BINANCE_TESTNET / SYMBOLS / DB_PATH (and .env):
        the simulator when no key is set."""
        from hedgestack.engine.config import Settings

        return cls.from_settings(Settings(), data_dir=data_dir, **kwargs)

    @classmethod
    def from_settings(cls, settings: Any, *, venue: str | None = None, sim_url: str | None = None,
                      data_dir: str | Path | None = None, **kwargs: Any) -> Terminal:
        """Build from :class:`~hedgestack.engine.config.Settings`; ``venue``/``sim_url`` override them."""
        root = Path(data_dir) if data_dir is not None else settings.data_dir
        venue_name = venue or settings.resolved_venue
        db_file = settings.db_file if settings.db_path else None
        if venue_name == "sim":
            return cls.sim(root, sim_url=sim_url or settings.sim_url, symbols=settings.symbols, db_file=db_file,
                           **kwargs)
        if settings.binance_api_key is None or settings.binance_api_secret is None:
            raise ValidationError(f"venue {venue_name} needs BINANCE_API_KEY and BINANCE_API_SECRET "
                                  "(environment or .env)", code="KEYS_REQUIRED")
        key, secret = settings.binance_api_key.get_secret_value(), settings.binance_api_secret.get_secret_value()
        endpoints = Endpoints.testnet(key, secret) if venue_name == "testnet" else Endpoints.live(key, secret)
        return cls(BinanceVenue(endpoints), data_dir=root, symbols=settings.symbols, db_file=db_file, **kwargs)

    # == the loop thread =============================================================================
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                ready.set()
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="hedgestack-terminal", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
        return self._loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._ensure_loop()

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule a coroutine on the terminal's loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run a coroutine on the terminal's loop and block for its result (not from the terminal's loop)."""
        if self._on_loop():
            coro.close()
            raise RuntimeError("run_sync called on the terminal's own loop: await the coroutine instead")
        return self.submit(coro).result(timeout)

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the terminal's loop, awaited from whatever loop the caller is on."""
        if self._on_loop():
            return await fn(*args, **kwargs)
        return await asyncio.wrap_future(self.submit(fn(*args, **kwargs)))

    # == start / stop ===============================================================================
    async def start(self) -> Terminal:
        """Open the log (replaying it), connect, check Hedge Mode, load filters, start the streams."""
        await self._call(self._start)
        return self

    def start_sync(self, timeout: float = 60.0) -> Terminal:
        self.run_sync(self._start(), timeout)
        return self

    async def _start(self) -> None:
        if self.log_store is not None:
            return
        self.connection = "STARTING"
        self._started_ms = now_ms()
        self._live_event = asyncio.Event()
        self._sync_lock = asyncio.Lock()
        self.log_store = EventLog(self.db_file)
        self._publisher = Publisher(self.log_store, self.data_dir)
        last_ts = max((o.created_at for o in self.ledger.orders.values()), default=0)
        self._ids = ClientOrderIdGenerator(last_ts)
        try:
            await self.venue.start()
            if not await self.venue.hedge_mode():
                raise HedgeModeRequired(
                    "the account is in One-way Mode; hedgestack trades only in Hedge Mode. "
                    + ("It has no position: call enable_hedge_mode() to switch."
                       if await self._account_is_empty() else "Close its positions first, then switch."))
            info = await self.venue.exchange_info()
            for symbol_info in info["symbols"]:
                if symbol_info["symbol"] in self.symbols:
                    self.filters[symbol_info["symbol"]] = SymbolFilters.from_exchange_info(symbol_info)
            missing = set(self.symbols) - set(self.filters)
            if missing:
                raise ValidationError(f"unknown symbols: {sorted(missing)}", code="UNKNOWN_SYMBOL")
            for limit in info.get("rateLimits", []):
                if limit.get("rateLimitType") == "REQUEST_WEIGHT" and limit.get("interval") == "MINUTE":
                    self.venue.weight_limit = int(limit["limit"]) // max(1, int(limit.get("intervalNum", 1)))
            await self._refresh_wallet()
            for symbol in self.symbols:
                premium = await self.venue.premium_index(symbol)
                self.marks[symbol] = D(premium["markPrice"])
                self.funding_rates[symbol] = D(premium["lastFundingRate"])
        except BaseException:
            await self._shutdown()
            raise
        self.connection = "SYNCING"
        self._tasks = [asyncio.create_task(coro, name=name) for name, coro in (
            ("user-stream", self._user_stream()), ("market-stream", self._market_stream()),
            ("consistency", self._poll_positions()), ("publisher", self._publish_loop()),
            ("tpsl", self.tpsl.run()), ("pending", self._resolve_pending_loop()))]
        await asyncio.wait_for(self._live_event.wait(), timeout=30)
        if self._publisher.backlog() <= START_PUBLISH_MAX:
            # publish now, so other processes see the log as the terminal goes live and the first publication's
            # one-time costs (imports, DuckDB's Parquet writer) are paid before trading, not during it; a big
            # backlog is published by the loop in the background instead
            await asyncio.get_running_loop().run_in_executor(None, self._publisher.publish)

    async def _refresh_wallet(self) -> None:
        """USDT wallet balance from /fapi/v2/account (ACCOUNT_UPDATE keeps it current afterwards)."""
        account = await self.venue.account()
        if "totalWalletBalance" in account:
            self.wallet_balance = D(account["totalWalletBalance"])

    async def _account_is_empty(self) -> bool:
        positions = await self.venue.position_risk()
        return all(D(p["positionAmt"]) == 0 for p in positions)

    async def enable_hedge_mode(self) -> None:
        """Switch the account to Hedge Mode (only when it holds no position)."""
        await self.venue.start() if self.venue.client is None else None
        if not await self._account_is_empty():
            raise HedgeModeRequired("the account holds positions: close them before switching to Hedge Mode")
        await self.venue.set_hedge_mode()

    async def stop(self) -> None:
        """Stop streams and tasks, publish and snapshot, close the log (and an embedded simulator)."""
        if self._loop is None:
            return
        await self._call(self._shutdown)
        loop, thread = self._loop, self._thread
        self._loop = None
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        if self.sim is not None:
            self.sim.stop()
            self.sim = None

    def stop_sync(self) -> None:
        if self._loop is None:
            return
        self.run_sync(self._shutdown())
        loop, thread = self._loop, self._thread
        self._loop = None
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        if self.sim is not None:
            self.sim.stop()
            self.sim = None

    async def _shutdown(self) -> None:
        await self.venue.stop_streams()
        pending = set(self._tasks)
        deadline = time.monotonic() + SHUTDOWN_WAIT
        while pending and time.monotonic() < deadline:
            # cancel again each round: asyncio.wait_for in Python 3.11 (used by python-binance's recv) can
            # swallow a cancellation that races with a message arriving
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.25)
        if pending:
            log.warning("tasks still stopping after %.1f s: %s", SHUTDOWN_WAIT, sorted(t.get_name() for t in pending))
        self._tasks = []
        await self.venue.close()
        if self.log_store is not None:
            self._flush_marks()
            if self._publisher is not None:
                try:
                    self._publisher.publish()
                except Exception:  # noqa: BLE001
                    log.exception("final publication failed")
            self.log_store.close()
            self.log_store = None
        self.connection = "STOPPED"

    # == accessors ==================================================================================
    @property
    def connection(self) -> str:
        """STOPPED, STARTING, SYNCING (start-up or reconnect backfill) or CONNECTED; each change is published
        as CONNECTION_STATE."""
        return self._connection

    @connection.setter
    def connection(self, state: str) -> None:
        previous, self._connection = self._connection, state
        if state != previous:
            self.bus.publish("CONNECTION_STATE", ConnectionView(state=state, previous=previous,
                                                                reconnects=self.stats.reconnects))

    @property
    def ledger(self) -> Ledger:
        if self.log_store is None:
            raise VenueUnavailable("the terminal is not started", code="NOT_STARTED")
        return self.log_store.ledger

    def _store(self) -> EventLog:
        if self.log_store is None:
            raise VenueUnavailable("the terminal is not started", code="NOT_STARTED")
        return self.log_store

    def _filters(self, symbol: str) -> SymbolFilters:
        try:
            return self.filters[symbol]
        except KeyError:
            raise ValidationError(f"symbol {symbol!r} is not traded here; symbols: {list(self.symbols)}",
                                  code="UNKNOWN_SYMBOL") from None

    def _append(self, events: list[Event], *, defer: bool = False) -> AppendResult:
        """Append, fold and announce. ``defer``: group-commit these (an exchange answer or a TP/SL status, which
        the exchange can tell again): they are written with the next append or within DEFER_MS."""
        result = self._store().append(events, defer=defer)
        if defer and result.appended and not self._deferred_write_due:
            try:
                asyncio.get_running_loop().call_later(DEFER_MS / 1000, self._write_deferred)
                self._deferred_write_due = True
            except RuntimeError:  # not on a loop: no group to wait for
                self._store().write_deferred()
        skipped = len(events) - len(result.appended)
        if skipped:
            self.stats.duplicates += skipped
        self._announce(result)
        if self.check_invariants_live and self.tpsl.idle():
            in_flight = {vp_id for vp_id in self.ledger.vps if self.tpsl.legs_in_flight(vp_id)}
            problems = [p for p in check_invariants(self.ledger) if not p.startswith("1:")
                        and not any(vp_id in p for vp_id in in_flight)]
            if problems:
                log.error("invariants broken: %s", problems)
        return result

    def _write_deferred(self) -> None:
        self._deferred_write_due = False
        if self.log_store is None:
            return
        try:
            self.log_store.write_deferred()
        except Exception:  # noqa: BLE001 - the next append writes them, or the store replays on failure
            log.exception("writing deferred events failed")

    def _announce(self, result: AppendResult) -> None:
        """Publish what an append changed, on the bus."""
        ledger = self.ledger
        orders: set[str] = set()
        for _, event in result.appended:
            if isinstance(event, Fill):
                self.stats.fills += 1
                vp = ledger.vps.get(event.vp_id)
                self.bus.publish("FILL", fill_view(event, vp.name if vp else None, None))
                if event.client_order_id in ledger.orders:
                    orders.add(event.client_order_id)
            elif isinstance(event, (OrderIntent, OrderUpdate)):
                orders.add(event.client_order_id)
        for cid in sorted(orders):
            self.bus.publish("ORDER_UPSERT", order_view(ledger.orders[cid]))
        for vp_id in sorted(result.touched):
            self.bus.publish("VIRTUAL_POSITION_UPDATE", self._vp_view(vp_id))
        for anomaly in result.anomalies:
            log.warning("ledger anomaly %s: %s", anomaly.kind, anomaly.message)

    # == state for the API and UI ====================================================================
    async def state(self, *, recent_fills: int = 50) -> StateView:
        """The seed's ``GET /v1/state`` snapshot (typed; ``views.to_json`` gives its JSON)."""
        return await self._call(self._state, recent_fills)

    def _vp_view(self, vp_id: str) -> VirtualPositionView:
        vp = self.ledger.vps[vp_id]
        return vp_view(self.ledger, vp_id, self.marks.get(vp.symbol),
                       locked=self.consistency.get((vp.symbol, vp.position_side)) is ConsistencyStatus.MISMATCH)

    async def _state(self, recent_fills: int = 50) -> StateView:
        ledger = self.ledger
        vps = tuple(self._vp_view(view.vp_id)
                    for view in ledger.views() if not (view.system and view.net_qty == 0 and view.fill_count == 0
                                                       and view.funding == 0))
        orders = tuple(order_view(o) for o in ledger.orders.values() if o.is_open)
        reconcile = {symbol: {str(side): self.consistency.get((symbol, side), ConsistencyStatus.OK)
                              for side in PositionSide} for symbol in self.symbols}
        detail = {symbol: {str(side): self._side_detail(symbol, side) for side in PositionSide}
                  for symbol in self.symbols}
        fills = live(self._store()).fills(limit=None).tail(recent_fills) if recent_fills else pl.DataFrame()
        recent = tuple(fill_view_from_row(r) for r in fills.iter_rows(named=True))
        return StateView(
            external_positions=tuple(self._external_view(symbol, side) for symbol in self.symbols
                                     for side in PositionSide),
            virtual_positions=vps, open_orders=orders, fills=recent[::-1], reconcile=reconcile,
            reconcile_detail=detail, account=AccountView(wallet_balance=self.wallet_balance),
            venue=self.venue_name, connection=self.connection, wallet_balance=self.wallet_balance,
            marks=dict(self.marks))

    def _external_view(self, symbol: str, side: PositionSide) -> ExternalPositionView:
        ext = self.external.get((symbol, side))
        if ext is None:
            return ExternalPositionView(symbol=symbol, position_side=side, qty=ZERO, avg_entry_price=ZERO,
                                        unrealized_pnl=ZERO)
        return ExternalPositionView(symbol=symbol, position_side=side, qty=ext.qty, avg_entry_price=ext.entry or ZERO,
                                    unrealized_pnl=ext.unrealized or ZERO)

    def _side_detail(self, symbol: str, side: PositionSide) -> SideStatusView:
        ext = self.external.get((symbol, side))
        status = self.consistency.get((symbol, side), ConsistencyStatus.OK)
        return SideStatusView(
            status=SideStatus.MISMATCH if status is ConsistencyStatus.MISMATCH else SideStatus.OK,
            confirmed_at=None if ext is None else ext.updated_at, confirmed_by=None,
            exchange_qty=ZERO if ext is None else ext.qty, vp_qty=self.ledger.side_qty(symbol, side), reason=None)

    async def vp(self, vp_id: str) -> VirtualPositionView:
        async def read() -> VirtualPositionView:
            return self._vp_view(live_vp(self.ledger, vp_id).vp_id)

        return await self._call(read)

    # analytics (a cursor of the owning connection: safe from any thread)
    def analytics(self) -> Analytics:
        return live(self._store())

    def fills(self, **filters: Any) -> pl.DataFrame:
        return self.analytics().fills(**filters)

    async def order_history(self, *, vp: str | None = None, symbol: str | None = None) -> list[OrderView]:
        """Every order of ours (open and done) in creation order, optionally of one VP or symbol."""
        async def read() -> list[OrderView]:
            orders = sorted(self.ledger.orders.values(), key=lambda o: (o.created_at, o.client_order_id))
            return [order_view(o) for o in orders if (vp is None or o.vp_id == vp)
                    and (symbol is None or o.symbol == symbol)]

        return await self._call(read)

    def orders(self, *, vp: str | None = None, symbol: str | None = None) -> pl.DataFrame:
        """:meth:`order_history` as a polars frame (one column per ``OrderView`` attribute)."""
        if self._on_loop():
            raise RuntimeError("orders() blocks: from the terminal's loop, await order_history() instead")
        return frame(self.run_sync(self.order_history(vp=vp, symbol=symbol)), OrderView)

    def vp_history(self, **filters: Any) -> pl.DataFrame:
        return self.analytics().vp_history(**filters)

    def sql(self, query: str) -> pl.DataFrame:
        return self.analytics().sql(query)

    # == what front-ends use (the same on hedgestack.connect) =========================================
    def add_listener(self, listener: Callable[[Envelope], None],
                     types: Iterable[str] = ALL_EVENT_TYPES) -> Callable[[], None]:
        """Call ``listener(envelope)`` for every event of ``types`` (on the terminal's thread: be quick and
        hand work to your own loop); returns a function that removes it."""
        return self.bus.add_listener(listener, types)

    async def events(self, types: Iterable[str] = EVENT_TYPES, *, maxsize: int = 10_000) -> AsyncIterator[Envelope]:
        """The events of ``types`` (the seed's seven by default) as they happen, on the caller's loop. A
        caller that falls ``maxsize`` events behind is cut off (``StopAsyncIteration``)."""
        sub = self.bus.subscribe(maxsize, types)
        try:
            while (envelope := await sub.get()) is not None:
                yield envelope
        finally:
            sub.close()

    def instrument(self, symbol: str) -> InstrumentView:
        """The trading rules of ``symbol`` (tick, step, minimums), loaded at start."""
        return instrument_view(self._filters(symbol))

    async def candles(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[CandleView]:
        """Klines of ``symbol`` from the venue (oldest first), for charts."""
        self._filters(symbol)
        if interval not in CANDLE_INTERVALS:
            raise ValidationError(f"interval must be one of {', '.join(CANDLE_INTERVALS)}", code="INVALID_INTERVAL")
        if not 1 <= limit <= 1500:
            raise ValidationError("limit must be in [1, 1500]", code="INVALID_LIMIT")

        async def fetch() -> list[CandleView]:
            rows = await self.venue.klines(symbol, interval=interval, limit=limit)
            now = now_ms()
            return [CandleView(open_time=int(r[0]), open=D(r[1]), high=D(r[2]), low=D(r[3]), close=D(r[4]),
                               volume=D(r[5]), closed=int(r[6]) < now) for r in rows]

        return await self._call(fetch)

    # == commands: VPs ==============================================================================
    async def create_vp(self, name: str, symbol: str, position_side: str | PositionSide) -> VirtualPositionView:
        return await self._call(self._create_vp, name, symbol, position_side)

    async def _create_vp(self, name: str, symbol: str, position_side: str | PositionSide) -> VirtualPositionView:
        self._filters(symbol)
        side = _position_side(position_side)
        clean = check_name(self.ledger, name, symbol, side)
        live_short = {short_id(v.vp_id) for v in self.ledger.vps.values() if not v.archived}
        vp_id = new_vp_id(os.urandom, live_short)
        self._append([VpCreated(ts=now_ms(), vp_id=vp_id, name=clean, symbol=symbol, position_side=side)])
        return self._vp_view(vp_id)

    async def rename_vp(self, vp_id: str, name: str) -> VirtualPositionView:
        async def run() -> VirtualPositionView:
            clean = check_rename(self.ledger, vp_id, name)
            self._append([VpRenamed(ts=now_ms(), vp_id=vp_id, name=clean)])
            return self._vp_view(vp_id)

        return await self._call(run)

    async def archive_vp(self, vp_id: str) -> VirtualPositionView:
        async def run() -> VirtualPositionView:
            check_archive(self.ledger, vp_id)
            self._append([VpArchived(ts=now_ms(), vp_id=vp_id)])
            return self._vp_view(vp_id)

        return await self._call(run)

    # == commands: orders ===========================================================================
    async def place_order(self, vp_id: str, side: str | Side, order_type: str | OrderType, qty: str | Decimal,
                          price: str | Decimal | None = None, *, time_in_force: str | None = None,
                          trigger_price: str | Decimal | None = None, trigger_type: str | None = None,
                          reduce_only: bool = False, symbol: str | None = None,
                          position_side: str | None = None) -> OrderAck:
        """Place an order into a VP: {orderId, clientOrderId, status}. ``reduce_only`` asks the VP guard to
        check that it reduces the VP; it is never sent to Binance (Hedge Mode refuses it)."""
        return await self._call(self._place_order, vp_id, side, order_type, qty, price, time_in_force,
                                trigger_price, trigger_type, reduce_only, symbol, position_side)

    async def _place_order(self, vp_id: str, side: str | Side, order_type: str | OrderType, qty: str | Decimal,
                           price: str | Decimal | None, time_in_force: str | None,
                           trigger_price: str | Decimal | None, trigger_type: str | None, reduce_only: bool,
                           symbol: str | None, position_side: str | None) -> OrderAck:
        vp = live_vp(self.ledger, vp_id)
        if vp.system:
            raise LedgerRuleError("orders go into your own VPs; UNASSIGNED is filled only by foreign fills "
                                  "(transfer from it instead)", code="SYSTEM_VP", vp_id=vp_id)
        check_order_matches_vp(vp, symbol or vp.symbol, _position_side(position_side or vp.position_side))
        side_e = _enum(Side, side, "side")
        type_e = _enum(OrderType, order_type, "type")
        qty_d = D(qty, field="qty")
        price_d = None if price is None else D(price, field="price")
        trigger_d = None if trigger_price is None else D(trigger_price, field="trigger_price")
        tif = None if time_in_force is None else _enum(TimeInForce, time_in_force, "timeInForce")
        if type_e in (OrderType.LIMIT, OrderType.STOP) and tif is None:
            tif = TimeInForce.GTC
        if tif is TimeInForce.GTX:
            raise ValidationError("timeInForce must be GTC, IOC or FOK", code="INVALID_TIF")
        check_order_shape(type_e, price_d, trigger_d, tif)
        role = role_of(vp.position_side, side_e)
        if reduce_only and role is not OrderRole.CLOSE:
            raise ValidationError(f"reduceOnly: {side_e} on a {vp.position_side} VP does not reduce it",
                                  code="REDUCE_ONLY_OPENS", vp_id=vp_id)
        trig = TriggerType.parse(trigger_type) if trigger_type else (
            TriggerType.MARK_PRICE if type_e.is_conditional else None)
        return await self._submit(vp_id, side_e, type_e, role, qty_d, price_d, trigger_d, trig, tif)

    async def _submit(self, vp_id: str, side: Side, order_type: OrderType, role: OrderRole, qty: Decimal,
                      price: Decimal | None, trigger_price: Decimal | None, trigger_type: TriggerType | None,
                      tif: TimeInForce | None, *, replaces: str | None = None,
                      skip_tpsl_shrink: bool = False) -> OrderAck:
        """Validate against filters, guard and lock, store the intent, send, record the answer."""
        ledger = self.ledger
        vp = ledger.vps[vp_id]
        filters = self._filters(vp.symbol)
        mark = self.marks.get(vp.symbol)
        filters.check_order(side=side, order_type=order_type, qty=qty, price=price, trigger_price=trigger_price,
                            mark=mark, reduces=role.reduces)
        if role.reduces:
            self._check_unlocked(vp.symbol, vp.position_side)
        if role is OrderRole.CLOSE:
            check_guard(ledger, vp_id, new_close=qty)
            if not skip_tpsl_shrink and open_close_qty(ledger, vp_id) + qty + open_tpsl_qty(ledger, vp_id) > vp.qty:
                await self.tpsl.make_room(vp_id, vp.qty - open_close_qty(ledger, vp_id) - qty)
        elif role in (OrderRole.TP, OrderRole.SL):
            check_guard(ledger, vp_id, new_tpsl=max(qty, open_tpsl_qty(ledger, vp_id)))
        cid = self._ids.next(vp_id, now_ms())
        intent = OrderIntent(ts=now_ms(), client_order_id=cid, vp_id=vp_id, symbol=vp.symbol,
                             position_side=vp.position_side, side=side, order_type=order_type, role=role, qty=qty,
                             price=price, trigger_price=trigger_price, trigger_type=trigger_type, time_in_force=tif,
                             is_algo=order_type.is_conditional, replaces=replaces, mark=mark)
        self._append([intent])  # invariant 5: durable before the request leaves
        self._in_flight.add(cid)
        try:
            return await self._send(vp_id, role, cid, side, order_type, qty, price, trigger_price, trigger_type,
                                    tif)
        finally:
            self._in_flight.discard(cid)

    async def _send(self, vp_id: str, role: OrderRole, cid: str, side: Side, order_type: OrderType, qty: Decimal,
                    price: Decimal | None, trigger_price: Decimal | None, trigger_type: TriggerType | None,
                    tif: TimeInForce | None) -> OrderAck:
        """Send the order whose intent is stored; record the answer (or resolve a lost one)."""
        vp = self.ledger.vps[vp_id]
        params: dict[str, Any] = {"symbol": vp.symbol, "side": str(side), "positionSide": str(vp.position_side),
                                  "type": str(order_type), "quantity": _wire(qty)}
        if price is not None:
            params["price"] = _wire(price)
        if tif is not None:
            params["timeInForce"] = str(tif)
        try:
            if order_type.is_conditional:
                params.update(triggerPrice=_wire(trigger_price), clientAlgoId=cid,
                              workingType=(trigger_type or TriggerType.MARK_PRICE).working_type)
                update = answers.from_algo_row(cid, await self.venue.new_algo_order(**params))
            else:
                params["newClientOrderId"] = cid
                update = answers.from_order_row(cid, await self.venue.new_order(**params))
        except VenueRejected as exc:
            self._append([OrderUpdate(ts=now_ms(), client_order_id=cid, status=OrderStatus.REJECTED,
                                      reason=f"Binance {exc.binance_code}: {exc.message}")], defer=True)
            raise
        except AnswerLost:
            self._last_attempt[cid] = now_ms()
            update = await self._resolve_lost(cid)
            if update is None:
                return OrderAck(order_id=None, client_order_id=cid, status=OrderStatus.PENDING)
        self._append([update], defer=True)
        order = self.ledger.orders[cid]
        if role is OrderRole.CLOSE or order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
            self.tpsl.request(vp_id)
        return OrderAck(order_id=exchange_id(order), client_order_id=cid, status=order.status)

    async def _resolve_lost(self, cid: str) -> OrderUpdate | None:
        """The answer to an order request was lost: ask Binance what became of the clientOrderId."""
        order = self.ledger.orders[cid]
        try:
            if order.is_algo:
                found = await self.venue.query_algo_order(cid)
                update = None if found is None else answers.from_algo_row(cid, found)
            else:
                found = await self.venue.query_order(order.symbol, cid)
                update = None if found is None else answers.from_order_row(cid, found)
        except (AnswerLost, VenueUnavailable):
            log.warning("order %s: answer lost and the query failed too; left PENDING for recovery", cid)
            return None
        if update is None:
            if not self.may_conclude_never_received(order):
                return None  # unknown so far, but a request for it may still arrive: stay PENDING, ask again
            update = answers.never_received(cid)
        self._last_attempt.pop(cid, None)
        self.stats.lost_answers_resolved += 1
        return update

    def may_conclude_never_received(self, order: OrderBook) -> bool:
        """True when an order the exchange does not know can no longer reach it (see NEVER_RECEIVED_AFTER_MS):
        never while its create request is in flight."""
        cid = order.client_order_id
        if cid in self._in_flight:
            return False
        attempt = self._last_attempt.get(cid)
        if attempt is None:  # an intent an earlier process left: it signed every attempt before we started
            attempt = min(max(order.created_at, self._started_ms), now_ms())
        return now_ms() - attempt >= NEVER_RECEIVED_AFTER_MS

    async def _resolve_pending_loop(self) -> None:
        """Orders left PENDING (answer lost, query failed) are resolved as soon as the venue answers."""
        while True:
            await asyncio.sleep(2.0)
            stale = [o.client_order_id for o in self.ledger.orders.values()
                     if o.status is OrderStatus.PENDING and now_ms() - o.created_at > 3000
                     and o.client_order_id not in self._in_flight]  # in flight: its request answers itself
            for cid in stale:
                try:
                    update = await self._resolve_lost(cid)
                except Exception:  # noqa: BLE001
                    log.exception("resolving %s failed", cid)
                    continue
                if update is not None:
                    self._append([update])

    async def cancel_order(self, order_ref: str | int) -> CancelAck:
        """Cancel by exchange orderId (or algoId) or by clientOrderId: {orderId, status}."""
        return await self._call(self._cancel_order, order_ref)

    def _find_order(self, order_ref: str | int) -> OrderBook:
        ledger = self.ledger
        ref = str(order_ref)
        if ref in ledger.orders:
            return ledger.orders[ref]
        if ref.isdigit():
            number = int(ref)
            for order in ledger.orders.values():
                if number in (order.order_id, order.algo_id):
                    return order
        raise UnknownOrder(f"no order of ours with id {ref!r}")

    async def _cancel_order(self, order_ref: str | int, *, internal: bool = False) -> CancelAck:
        order = self._find_order(order_ref)
        if not order.is_open:
            raise LedgerRuleError(f"order {order.client_order_id} is {order.status}: nothing to cancel",
                                  code="ORDER_NOT_OPEN")
        if order.role in (OrderRole.TP, OrderRole.SL) and not internal:
            raise LedgerRuleError("TP/SL legs follow the VP: change or clear the VP's TP/SL instead",
                                  code="TPSL_MANAGED")
        try:
            if order.is_algo:
                await self.venue.cancel_algo_order(order.client_order_id)
                update = OrderUpdate(ts=now_ms(), client_order_id=order.client_order_id, status=OrderStatus.CANCELED)
            else:
                update = answers.from_order_row(order.client_order_id,
                                                await self.venue.cancel_order(order.symbol, order.client_order_id))
        except VenueRejected as exc:
            if exc.binance_code not in (-2011, -2013):
                raise
            update = await self._resolve_lost(order.client_order_id)  # already gone: learn its final state
            if update is None:
                raise
        except AnswerLost:
            update = await self._resolve_lost(order.client_order_id)
            if update is None:
                raise
        self._append([update], defer=True)
        self.tpsl.request(order.vp_id)
        return CancelAck(order_id=exchange_id(order), status=self.ledger.orders[order.client_order_id].status)

    async def amend_order(self, order_ref: str | int, *, price: str | Decimal | None = None,
                          qty: str | Decimal | None = None) -> OrderAck:
        """Amend = cancel + new (seed): the new order keeps VP, side, type and time in force."""
        return await self._call(self._amend_order, order_ref, price, qty)

    async def _amend_order(self, order_ref: str | int, price: str | Decimal | None,
                           qty: str | Decimal | None) -> OrderAck:
        order = self._find_order(order_ref)
        if order.role in (OrderRole.TP, OrderRole.SL):
            raise LedgerRuleError("TP/SL legs follow the VP: change the VP's TP/SL instead", code="TPSL_MANAGED")
        if price is None and qty is None:
            raise ValidationError("give a new price or qty", code="AMEND_NOTHING")
        new_price = order.price if price is None else D(price, field="price")
        new_qty = (order.qty - order.filled) if qty is None else D(qty, field="qty")
        if order.order_type is OrderType.MARKET:
            raise ValidationError("a MARKET order cannot be amended", code="AMEND_MARKET")
        filters = self._filters(order.symbol)
        filters.check_order(side=order.side, order_type=order.order_type, qty=new_qty, price=new_price,
                            trigger_price=order.trigger_price, mark=self.marks.get(order.symbol),
                            reduces=order.role.reduces)
        if order.role is OrderRole.CLOSE:
            check_guard(self.ledger, order.vp_id, new_close=new_qty, excluding=[order.client_order_id])
        await self._cancel_order(order.client_order_id)
        return await self._submit(order.vp_id, order.side, order.order_type, order.role, new_qty, new_price,
                                  order.trigger_price, order.trigger_type, order.time_in_force,
                                  replaces=order.client_order_id)

    async def close_vp(self, vp_id: str, order_type: str = "MARKET", *, percent: str | Decimal | None = None,
                       qty: str | Decimal | None = None, price: str | Decimal | None = None,
                       time_in_force: str | None = None) -> OrderAck:
        """Close 25/50/75/100 % (of net_qty) or a quantity of a VP, MARKET or LIMIT, rounded down to the step."""
        return await self._call(self._close_vp, vp_id, order_type, percent, qty, price, time_in_force)

    async def _close_vp(self, vp_id: str, order_type: str, percent: str | Decimal | None,
                        qty: str | Decimal | None, price: str | Decimal | None,
                        time_in_force: str | None) -> OrderAck:
        vp = live_vp(self.ledger, vp_id)
        type_e = _enum(OrderType, order_type, "type")
        if type_e not in (OrderType.MARKET, OrderType.LIMIT):
            raise ValidationError("a close is MARKET or LIMIT", code="INVALID_ORDER_TYPE")
        pct = None if percent is None else D(percent, field="percent")
        amount = None if qty is None else D(qty, field="qty")
        if pct is None and amount is None:
            pct = Decimal(100)
        self._check_unlocked(vp.symbol, vp.position_side)
        close_qty = close_quantity(self.ledger, vp_id, self._filters(vp.symbol), percent=pct, qty=amount,
                                   order_type=type_e)
        price_d = None if price is None else D(price, field="price")
        tif = None if type_e is OrderType.MARKET else _enum(TimeInForce, time_in_force or "GTC", "timeInForce")
        check_order_shape(type_e, price_d, None, tif)
        return await self._submit(vp_id, vp.position_side.closing_side, type_e, OrderRole.CLOSE, close_qty,
                                  price_d, None, None, tif)

    # == commands: TP/SL ============================================================================
    async def set_tpsl(self, vp_id: str, *, tp_price: str | Decimal | None = None, tp_trigger_type: str | None = None,
                       sl_price: str | Decimal | None = None, sl_trigger_type: str | None = None,
                       qty: str | Decimal | None = None) -> VirtualPositionView:
        """Set or change the VP's TP and/or SL; legs are synced by cancel + create (TPSL_SYNC_STATUS)."""
        return await self._call(self._set_tpsl, vp_id, tp_price, tp_trigger_type, sl_price, sl_trigger_type, qty)

    async def _set_tpsl(self, vp_id: str, tp_price: str | Decimal | None, tp_trigger_type: str | None,
                        sl_price: str | Decimal | None, sl_trigger_type: str | None,
                        qty: str | Decimal | None) -> VirtualPositionView:
        vp = live_vp(self.ledger, vp_id)
        if vp.system:
            raise LedgerRuleError("the UNASSIGNED VP has no TP/SL: transfer its quantity to a VP first",
                                  code="SYSTEM_VP", vp_id=vp_id)
        self._check_unlocked(vp.symbol, vp.position_side)
        tp = None if tp_price is None else D(tp_price, field="tp_price")
        sl = None if sl_price is None else D(sl_price, field="sl_price")
        if tp is None and sl is None:
            raise ValidationError("give tp_price and/or sl_price (use clear_tpsl to remove both)",
                                  code="TPSL_EMPTY")
        tp_trigger = TriggerType.parse(tp_trigger_type) if tp_trigger_type else (
            vp.tp_trigger if vp.tp_price is not None else TriggerType.LAST_PRICE)
        sl_trigger = TriggerType.parse(sl_trigger_type) if sl_trigger_type else (
            vp.sl_trigger if vp.sl_price is not None else TriggerType.MARK_PRICE)
        # a leg not given keeps its current setting
        tp = vp.tp_price if tp is None and tp_price is None and vp.tp_price is not None else tp
        sl = vp.sl_price if sl is None and sl_price is None and vp.sl_price is not None else sl
        if vp.qty == 0:
            raise LedgerRuleError(f"{vp.name} is flat: TP/SL needs a position", code="VP_FLAT", vp_id=vp_id)
        if qty is not None:
            wanted = D(qty, field="qty")
            target = self.tpsl.target_qty(vp_id)
            if wanted != target:
                raise ValidationError(f"TP/SL quantity follows the VP ({target} now, its net_qty less open closes); "
                                      "partial TP/SL is not supported", code="TPSL_QTY", vp_id=vp_id)
        filters = self._filters(vp.symbol)
        for leg, value, trigger in (("tp", tp, tp_trigger), ("sl", sl, sl_trigger)):
            if value is None:
                continue
            filters.check_price(value, what=f"{leg}_price")
            reference = self.marks.get(vp.symbol) if trigger is TriggerType.MARK_PRICE else \
                self.last_prices.get(vp.symbol, self.marks.get(vp.symbol))
            if reference is not None:
                above = value > reference
                wants_above = (leg == "tp") == (vp.position_side is PositionSide.LONG)
                if above != wants_above:
                    where = "above" if wants_above else "below"
                    raise ValidationError(f"{leg.upper()} {value} would trigger at once: for a {vp.position_side} "
                                          f"it must be {where} the current {trigger.working_type} {reference}",
                                          code="TPSL_WOULD_TRIGGER", vp_id=vp_id)
        self._append([TpSlSet(ts=now_ms(), vp_id=vp_id, tp_price=tp, tp_trigger=tp_trigger, sl_price=sl,
                              sl_trigger=sl_trigger)])
        await self.tpsl.sync_now(vp_id)
        return self._vp_view(vp_id)

    async def clear_tpsl(self, vp_id: str) -> VirtualPositionView:
        async def run() -> VirtualPositionView:
            vp = live_vp(self.ledger, vp_id)
            self._append([TpSlSet(ts=now_ms(), vp_id=vp_id, tp_price=None, tp_trigger=vp.tp_trigger, sl_price=None,
                                  sl_trigger=vp.sl_trigger)])
            await self.tpsl.sync_now(vp_id)
            return self._vp_view(vp_id)

        return await self._call(run)

    # == commands: transfer, reconcile ==============================================================
    async def transfer(self, from_vp: str, to_vp: str, qty: str | Decimal) -> TransferResult:
        """Move quantity between two VPs of one side at the source's average cost (nothing is sent)."""
        async def run() -> TransferResult:
            amount = D(qty, field="qty")
            check_transfer(self.ledger, from_vp, to_vp, amount)
            src = self.ledger.vps[from_vp]
            if open_tpsl_qty(self.ledger, from_vp) > src.qty - amount - open_close_qty(self.ledger, from_vp):
                await self.tpsl.make_room(from_vp, src.qty - amount - open_close_qty(self.ledger, from_vp))
            self._append([Transfer(ts=now_ms(), transfer_id=os.urandom(8).hex(), from_vp=from_vp, to_vp=to_vp,
                                   qty=amount)])
            self.tpsl.request(from_vp)
            self.tpsl.request(to_vp)
            return TransferResult(from_vp=self._vp_view(from_vp), to_vp=self._vp_view(to_vp))

        return await self._call(run)

    async def _fit_orders(self, vp_id: str, qty: Decimal) -> None:
        """Invariant 3 across a reset of the VP's quantity to ``qty``: cancel its newest closing orders, then
        shrink its TP/SL legs, until they cover no more than ``qty`` (cancels are allowed on a locked side)."""
        ledger = self.ledger
        closes = sorted((o for o in ledger.open_orders(vp_id) if o.role is OrderRole.CLOSE),
                        key=lambda o: o.created_at, reverse=True)
        for order in closes:
            if open_close_qty(ledger, vp_id) <= qty:
                break
            try:
                await self._cancel_order(order.client_order_id, internal=True)
            except HedgestackError as exc:  # filled or gone meanwhile: the ledger has its final state
                log.info("reconcile: cancel of %s: %s", order.client_order_id, exc)
        allowed = qty - open_close_qty(ledger, vp_id)
        if open_tpsl_qty(ledger, vp_id) > allowed:
            await self.tpsl.make_room(vp_id, allowed if allowed > 0 else ZERO)

    async def reconcile(self, symbol: str, position_side: str | PositionSide,
                        assignments: dict[str, str | Decimal] | list[dict[str, Any]]) -> ReconcileResult:
        """Assign the exchange quantity of one side to VPs (the rest to UNASSIGNED), restarting at the
        exchange entry price; realized history is kept. Confirms the exchange figures over REST first."""
        return await self._call(self._reconcile, symbol, position_side, assignments)

    async def _reconcile(self, symbol: str, position_side: str | PositionSide,
                         assignments: dict[str, str | Decimal] | list[dict[str, Any]]) -> ReconcileResult:
        self._filters(symbol)
        side = _position_side(position_side)
        if isinstance(assignments, list):
            pairs: dict[str, Decimal] = {}
            for item in assignments:
                if not isinstance(item, dict) or "virtual_position_id" not in item or "qty" not in item:
                    raise ValidationError("each assignment is {virtual_position_id, qty}", code="INVALID_ASSIGNMENT")
                vp_key = str(item["virtual_position_id"])
                pairs[vp_key] = pairs.get(vp_key, ZERO) + D(item["qty"], field="qty")
        else:
            pairs = {k: D(v, field="qty") for k, v in assignments.items()}
        await self._refresh_positions()
        ext = self.external.get((symbol, side)) or ExternalPosition(ZERO, ZERO, ZERO, now_ms())
        check_reconcile(self.ledger, symbol, side, ext.qty, pairs)
        for vp in list(self.ledger.vps_of(symbol, side)):
            if not vp.system:
                await self._fit_orders(vp.vp_id, pairs.get(vp.vp_id, ZERO))
        self._append([Reconcile(ts=now_ms(), reconcile_id=os.urandom(8).hex(), symbol=symbol, position_side=side,
                                exchange_qty=ext.qty, exchange_entry=ext.entry or ZERO,
                                assignments=tuple(sorted(pairs.items())))])
        for vp in list(self.ledger.vps_of(symbol, side)):
            self.tpsl.request(vp.vp_id)
        self._check_consistency(confirmed=True)
        return ReconcileResult(
            symbol=symbol, position_side=side, status=self.consistency.get((symbol, side), ConsistencyStatus.OK),
            virtual_positions=tuple(self._vp_view(v.vp_id) for v in self.ledger.vps_of(symbol, side)
                                    if not v.archived))

    # == consistency ================================================================================
    def _check_unlocked(self, symbol: str, side: PositionSide) -> None:
        if self.consistency.get((symbol, side)) is ConsistencyStatus.MISMATCH:
            raise SideLocked(f"{symbol} {side} is in MISMATCH: reduce and TP/SL actions are locked until it is "
                             "reconciled", symbol=symbol)

    async def _refresh_positions(self) -> None:
        rows = await self.venue.position_risk()
        seen = set()
        for row in rows:
            side_text = row.get("positionSide")
            if side_text not in ("LONG", "SHORT") or row["symbol"] not in self.symbols:
                continue
            side = PositionSide(side_text)
            seen.add((row["symbol"], side))
            self._set_external(row["symbol"], side, abs(D(row["positionAmt"])), D(row["entryPrice"]),
                               D(row.get("unRealizedProfit") or "0"))
        for key in list(self.external):
            if key not in seen and self.external[key].qty != 0:  # v3 omits flat sides
                self._set_external(key[0], key[1], ZERO, ZERO, ZERO)

    def _set_external(self, symbol: str, side: PositionSide, qty: Decimal, entry: Decimal | None,
                      unrealized: Decimal | None) -> None:
        old = self.external.get((symbol, side))
        self.external[(symbol, side)] = ExternalPosition(qty, entry, unrealized, now_ms())
        if old is None or old.qty != qty or old.entry != entry:
            self.bus.publish("EXTERNAL_POSITION_UPDATE", self._external_view(symbol, side))

    def _check_consistency(self, *, confirmed: bool) -> None:
        """Compare Σ VP with the exchange per side; MISMATCH only after the grace period and a REST confirm."""
        if self.connection == "SYNCING":
            return
        now = time.monotonic()
        for symbol in self.symbols:
            for side in PositionSide:
                theirs = self.external.get((symbol, side))
                ours = self.ledger.side_qty(symbol, side)
                key = (symbol, side)
                status = self.consistency.get(key, ConsistencyStatus.OK)
                if theirs is None or ours == theirs.qty:
                    self._diverged_since.pop(key, None)
                    if status is ConsistencyStatus.MISMATCH:
                        self.stats.mismatches_healed += 1
                        self._set_consistency(symbol, side, ConsistencyStatus.OK)
                    continue
                since = self._diverged_since.setdefault(key, now)
                if status is ConsistencyStatus.OK and confirmed and now - since >= self.mismatch_grace:
                    self.stats.mismatches_raised += 1
                    log.warning("%s %s MISMATCH: VPs hold %s, the exchange %s", symbol, side, ours, theirs.qty)
                    self._set_consistency(symbol, side, ConsistencyStatus.MISMATCH)

    def _set_consistency(self, symbol: str, side: PositionSide, status: ConsistencyStatus) -> None:
        self.consistency[(symbol, side)] = status
        detail = self._side_detail(symbol, side)
        self.bus.publish("CONSISTENCY_STATUS", ConsistencyView(
            symbol=symbol, position_side=side, status=status, exchange_qty=detail.exchange_qty,
            vp_qty=detail.vp_qty, detail=detail))
        for vp in self.ledger.vps_of(symbol, side):  # their ``locked`` follows the side
            if not vp.archived:
                self.bus.publish("VIRTUAL_POSITION_UPDATE", self._vp_view(vp.vp_id))

    async def _poll_positions(self) -> None:
        """positionRisk every ``poll_interval``: even an event lost without a disconnect is noticed."""
        polls = 0
        while True:
            await asyncio.sleep(self.poll_interval)
            if self.connection != "CONNECTED":
                continue
            polls += 1
            try:
                if polls % CATCH_UP_EVERY == 0:  # order states lost in a silent gap change no position
                    from hedgestack.engine.recovery import catch_up

                    await catch_up(self)
                await self._refresh_positions()
                self._check_consistency(confirmed=True)
                pending = [k for k, since in self._diverged_since.items()
                           if self.consistency.get(k) is not ConsistencyStatus.MISMATCH]
                if pending:
                    # an event may have been lost without a disconnect: catch up over REST first, then
                    # re-check right after the grace period rather than a full interval later
                    from hedgestack.engine.recovery import catch_up

                    await catch_up(self)
                    await asyncio.sleep(self.mismatch_grace)
                    await self._refresh_positions()
                    self._check_consistency(confirmed=True)
            except HedgestackError as exc:
                log.warning("position poll failed: %s", exc)

    # == intake: user stream ========================================================================
    async def _user_stream(self) -> None:
        async for item in self.venue.user_messages():
            messages = item if isinstance(item, list) else [item]
            batch: list[tuple[list[Event], OrderBook | None]] = []
            for message in messages:
                try:
                    if isinstance(message, OrderTradeUpdate):
                        batch.append(self._order_events(message))
                        continue
                    if isinstance(message, AccountUpdate) and message.reason != "FUNDING_FEE":
                        # exchange figures only: no need to cut the batch (one commit for a burst)
                        self._on_positions(message)
                        continue
                    self._flush_order_events(batch)
                    batch = []
                    await self._on_user_message(message)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - one bad event must not stop the intake
                    self.stats.malformed += 1
                    log.exception("failed to process %r", message)
            try:
                self._flush_order_events(batch)
                self._check_consistency(confirmed=False)
            except Exception:  # noqa: BLE001
                log.exception("failed to append a batch of %s order updates", len(batch))

    async def _on_user_message(self, message: Any) -> None:
        from hedgestack.engine.recovery import backfill

        if isinstance(message, StreamUp):
            await backfill(self, reason="start" if self.stats.reconnects == 0 else "reconnect")
            assert self._live_event is not None
            self._live_event.set()
        elif isinstance(message, AlgoUpdate):
            self._on_algo_update(message)
        elif isinstance(message, AccountUpdate):
            await self._on_account_update(message)
        elif isinstance(message, (StreamDown, ListenKeyExpired)):
            self.stats.reconnects += 1
            self.connection = "SYNCING"
            reason = "listenKeyExpired" if isinstance(message, ListenKeyExpired) else \
                f"{message.kind}: {message.message}"
            self.bus.publish("WS_RECONNECT", ReconnectView(reason=reason, state="SYNCING"))
        elif isinstance(message, Malformed):
            self.stats.malformed += 1
            log.warning("malformed user message (%s): %.300r", message.reason, message.raw)

    def _attribute(self, symbol: str, client_order_id: str | None, order_id: int | None) -> OrderBook | None:
        ledger = self.ledger
        order = ledger.orders.get(client_order_id) if client_order_id else None
        if order is None and order_id is not None:
            order = ledger.order_for_exchange_id(order_id)
        if order is not None and order.symbol != symbol:
            return None
        return order

    def fill_event(self, *, symbol: str, position_side: str, side: str, trade_id: int, order_id: int,
                   client_order_id: str | None, qty: Decimal, price: Decimal, commission: Decimal | None,
                   commission_asset: str | None, realized: Decimal | None, maker: bool, ts: int) -> Fill:
        """Build the Fill event of one trade, attributed to its VP (UNASSIGNED when foreign)."""
        pside = _position_side(position_side)
        order = self._attribute(symbol, client_order_id, order_id)
        if order is not None and order.position_side is pside:
            vp_id = order.vp_id
        else:
            vp_id = unassigned_vp_id(symbol, pside)
        return Fill(ts=ts, symbol=symbol, trade_id=trade_id, order_id=order_id, client_order_id=client_order_id,
                    vp_id=vp_id, side=Side(side), position_side=pside, qty=qty, price=price,
                    commission=commission or ZERO, commission_asset=commission_asset or "USDT",
                    exchange_rp=realized or ZERO, maker=maker)

    def _order_events(self, msg: OrderTradeUpdate) -> tuple[list[Event], OrderBook | None]:
        """The Fill and/or OrderUpdate events one ORDER_TRADE_UPDATE brings."""
        events: list[Event] = []
        order = self._attribute(msg.symbol, msg.client_order_id, msg.order_id)
        if msg.is_fill and msg.position_side in ("LONG", "SHORT"):
            assert msg.trade_id is not None and msg.last_qty is not None and msg.last_price is not None
            events.append(self.fill_event(
                symbol=msg.symbol, position_side=msg.position_side, side=msg.side, trade_id=msg.trade_id,
                order_id=msg.order_id, client_order_id=msg.client_order_id, qty=msg.last_qty,
                price=msg.last_price, commission=msg.commission, commission_asset=msg.commission_asset,
                realized=msg.realized_pnl, maker=msg.maker, ts=msg.trade_time or msg.event_time))
        if order is not None and not order.is_algo and msg.status in _STATUS:
            events.append(OrderUpdate(ts=msg.event_time, client_order_id=order.client_order_id,
                                      status=_STATUS[msg.status], order_id=msg.order_id, executed_qty=msg.cum_qty,
                                      reason=f"expiry reason {msg.expiry_reason}" if msg.expiry_reason not in
                                      (None, "0") else None))
        return events, order

    def _on_order_update(self, msg: OrderTradeUpdate) -> None:
        self._flush_order_events([self._order_events(msg)])

    def _flush_order_events(self, batch: list[tuple[list[Event], OrderBook | None]]) -> None:
        """Append the events of several ORDER_TRADE_UPDATEs in one batch (one commit), then follow up."""
        events = [event for group, _ in batch for event in group]
        if not events:
            return
        # order updates alone are group-committed; a batch with a fill is durable before it is published
        result = self._append(events, defer=not any(type(e) is Fill for e in events))
        for vp_id in result.touched:
            self.tpsl.request(vp_id)
        for _, order in batch:
            if order is not None and order.role is not OrderRole.ENTRY:
                self.tpsl.request(order.vp_id)

    def _on_algo_update(self, msg: AlgoUpdate) -> None:
        order = self.ledger.orders.get(msg.client_algo_id)
        if order is None:
            return  # not ours (an algo order from the Binance app): its fills arrive as foreign
        status = _STATUS.get(msg.status)
        if status is None:
            log.warning("unknown algo status %s", msg.status)
            return
        self._append([OrderUpdate(ts=msg.event_time, client_order_id=order.client_order_id, status=status,
                                  algo_id=msg.algo_id, actual_order_id=msg.actual_order_id,
                                  executed_qty=msg.executed_qty, reason=msg.reason)], defer=True)
        if order.role in (OrderRole.TP, OrderRole.SL):
            self.tpsl.on_leg_update(order, status, msg.executed_qty or ZERO)

    def _on_positions(self, msg: AccountUpdate) -> None:
        """The wallet and position sides an ACCOUNT_UPDATE reports (the exchange's figures)."""
        if msg.wallet_balance is not None:
            self.wallet_balance = msg.wallet_balance
        for pos in msg.positions:
            if pos.position_side in ("LONG", "SHORT") and pos.symbol in self.symbols:
                self._set_external(pos.symbol, PositionSide(pos.position_side), abs(pos.amount), pos.entry_price,
                                   pos.unrealized)

    async def _on_account_update(self, msg: AccountUpdate) -> None:
        self._on_positions(msg)
        if msg.reason == "FUNDING_FEE":
            from hedgestack.engine.recovery import fetch_funding

            await fetch_funding(self, since=msg.event_time - 60_000, live=True)
        self._check_consistency(confirmed=False)

    def funding_event(self, symbol: str, funding_time: int, amount: Decimal, asset: str, *,
                      live_rate: bool) -> Funding:
        rate = self.funding_rates.get(symbol) if live_rate else None
        mark = self.marks.get(symbol) if live_rate else None
        allocations = split_funding(self.ledger, symbol, amount, rate, mark)
        return Funding(ts=funding_time, symbol=symbol, funding_time=funding_time, amount=amount, asset=asset,
                       rate=rate, mark=mark, allocations=allocations)

    # == intake: market stream ======================================================================
    async def _market_stream(self) -> None:
        async for message in self.venue.market_messages(list(self.symbols)):
            if isinstance(message, MarkPrice):
                self.marks[message.symbol] = message.mark
                if message.funding_rate is not None:
                    self.funding_rates[message.symbol] = message.funding_rate
                self._mark_moved(message.symbol)
                last = self._last_mark_sample.get(message.symbol, 0)
                if message.event_time - last >= 1000:
                    self._last_mark_sample[message.symbol] = message.event_time
                    self._mark_buffer.append((message.symbol, message.event_time, message.mark))
            elif isinstance(message, Kline):
                self.last_prices[message.symbol] = message.close
                bars = self.klines.setdefault(message.symbol, [])
                if bars and bars[-1].open_time == message.open_time:
                    bars[-1] = message
                else:
                    bars.append(message)
                    del bars[:-1000]
            elif isinstance(message, Malformed):
                self.stats.malformed += 1

    def _mark_moved(self, symbol: str) -> None:
        """Publish MARK_PRICE now, or once ``mark_event_interval`` has passed since the last (throttled)."""
        if symbol in self._mark_due:
            return  # already scheduled: it will carry the latest mark
        loop = asyncio.get_running_loop()
        sent_at = self._mark_sent[symbol][0] if symbol in self._mark_sent else None
        wait = 0.0 if sent_at is None else sent_at + self.mark_event_interval - loop.time()
        if wait <= 0:
            self._publish_mark(symbol)
        else:
            self._mark_due.add(symbol)
            loop.call_later(wait, self._publish_mark, symbol)

    def _publish_mark(self, symbol: str) -> None:
        self._mark_due.discard(symbol)
        mark, rate = self.marks.get(symbol), self.funding_rates.get(symbol)
        last = self._mark_sent.get(symbol)
        if mark is None or self.log_store is None or (last is not None and last[1:] == (mark, rate)):
            return
        self._mark_sent[symbol] = (asyncio.get_running_loop().time(), mark, rate)
        ledger = self.ledger
        vps = tuple(VpMarkView(id=view.vp_id, mark_price=mark, unrealized_pnl=view.unrealized_pnl(mark))
                    for view in ledger.views() if view.symbol == symbol and view.net_qty != 0)
        self.bus.publish("MARK_PRICE", MarkView(symbol=symbol, mark_price=mark, funding_rate=rate,
                                                virtual_positions=vps))

    def _flush_marks(self) -> None:
        if self._mark_buffer and self.log_store is not None:
            rows, self._mark_buffer = self._mark_buffer, []
            self.log_store.append_marks(rows)

    async def _publish_loop(self) -> None:
        """Publish Parquet for other processes (and flush sampled marks) every ``publish_interval``."""
        while True:
            await asyncio.sleep(self.publish_interval)
            try:
                marks, self._mark_buffer = self._mark_buffer, []
                # off the loop thread: DuckDB's inserts and Parquet writing must not hold up the intake
                await asyncio.get_running_loop().run_in_executor(None, self._publish_step, marks)
            except Exception:  # noqa: BLE001
                log.exception("publication failed")

    def _publish_step(self, marks: list[tuple[str, int, Decimal]]) -> None:
        assert self.log_store is not None and self._publisher is not None
        if marks:
            self.log_store.append_marks(marks)
        self._publisher.publish()

    # == checks for tests and soak ==================================================================
    async def invariants(self, exchange: dict[tuple[str, PositionSide], Decimal] | None = None) -> list[str]:
        async def run() -> list[str]:
            return check_invariants(self.ledger, exchange)

        return await self._call(run)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until TP/SL work is done and no order of ours is PENDING (for tests and scripts)."""
        async def run() -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.tpsl.idle() and self.connection == "CONNECTED" and not any(
                        o.status is OrderStatus.PENDING for o in self.ledger.orders.values()):
                    return
                await asyncio.sleep(0.02)
            raise TimeoutError("terminal not idle in time")

        await self._call(run)


def _position_side(value: str | PositionSide) -> PositionSide:
    return _enum(PositionSide, value, "positionSide")


def _enum(kind: type[T], value: Any, field: str) -> T:
    try:
        return kind(str(value).upper())  # type: ignore[call-arg]
    except ValueError:
        allowed = ", ".join(m.value for m in kind)  # type: ignore[attr-defined]
        raise ValidationError(f"{field} must be one of {allowed}, got {value!r}", code=f"INVALID_{field.upper()}") \
            from None


def _wire(value: Decimal | None) -> str:
    assert value is not None
    text = format(value.normalize(), "f")
    return text
