"""The Terminal: a small facade that builds the engine's parts, starts, supervises and stops them.

The parts, each with one job, wired through their constructors (none imports this module):

==============  =================================================================================================
runtime         the loop thread, the clock, supervised tasks (``runtime.py``)
book            the only writer: append → fold → announce (``book.py``, over the store's event log)
market          trading rules, marks, last prices, funding rates, candles (``market.py``)
truth           the exchange's positions per side, as confirmed, and the consistency state machine
                (``truth.py``); ``consistency.py`` keeps it fresh and publishes it
gateway         the one place orders leave: filters, guard, intent, send, lost answers, cancel (``gateway.py``)
tpsl            each VP's protection on the gateway's public calls (``tpsl.py``)
attribution     trade → VP, one function for intake, backfill, rebuild and audit (``attribution.py``)
intake          venue messages → domain events → the book (``intake.py``)
recovery        what the stream missed, over REST (``recovery.py``)
commands        the trader's verbs with typed results (``commands.py``)
presenter       the live state as typed views and their publication on the bus (``presenter.py``)
link            connection state and freshness (``link.py``); identity (``identity.py``) binds a data directory to
                one venue and account
==============  =================================================================================================

Threading: the terminal runs its own asyncio loop in a daemon thread, so the same object works inside a Jupyter
kernel, a web server and scripts. Every command is a coroutine that runs on that loop: ``await t.place_order(...)``
from any loop, ``t.sync.place_order(...)`` from synchronous code. The Python API (method names, positional
arguments) is :class:`~hedgestack.engine.facade.TerminalApi`; ``hedgestack.connect(url)`` offers the same.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hedgestack.domain.enums import OrderStatus, OrderType, PositionSide, Side
from hedgestack.domain.errors import HedgeModeRequired, ValidationError, VenueUnavailable
from hedgestack.domain.events import Fill, OrderIntent, OrderUpdate, Reconcile, Transfer
from hedgestack.domain.invariants import check_invariants
from hedgestack.domain.rules import live_vp
from hedgestack.engine.audit import AuditReport, audit, log_fill_rows
from hedgestack.engine.book import Book
from hedgestack.engine.bus import EventBus
from hedgestack.engine.commands import Commands, SideLocked
from hedgestack.engine.consistency import ConsistencyWatch
from hedgestack.engine.gateway import NEVER_RECEIVED_AFTER_MS, OrderGateway
from hedgestack.engine.identity import LedgerOfAnotherVenue, bind, move_aside, same_account, stored_identity
from hedgestack.engine.intake import Intake
from hedgestack.engine.link import Link, Stats
from hedgestack.engine.market import Market
from hedgestack.engine.presenter import MARK_EVENT_INTERVAL, Presenter
from hedgestack.engine.recovery import Recovery
from hedgestack.engine.runtime import Runtime, lower_priority, wall_ms
from hedgestack.engine.tpsl import TpSlManager
from hedgestack.engine.truth import ExchangeTruth
from hedgestack.engine.views import (
    ALL_EVENT_TYPES,
    EVENT_TYPES,
    CancelAck,
    CandleView,
    Envelope,
    InstrumentView,
    OrderAck,
    OrderView,
    ReconcileResult,
    StateView,
    TransferResult,
    VirtualPositionView,
    frame,
    instrument_view,
    order_view,
)
from hedgestack.store.analytics import Analytics, live
from hedgestack.store.eventlog import AppendResult, EventLog
from hedgestack.store.publish import PUBLISHED_DIR, Publisher
from hedgestack.venue.binance.adapter import BinanceVenue, Endpoints

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
    from concurrent.futures import Future
    from decimal import Decimal

    import polars as pl

    from hedgestack.domain.ledger import Ledger
    from hedgestack.venue.port import Venue

log = logging.getLogger("hedgestack.engine")
T = TypeVar("T")

#: the candle intervals Binance serves
CANDLE_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
#: at start, the log is published before the terminal reports itself started when its backlog is this small
START_PUBLISH_MAX = 100_000
#: publication may take at most this share of the time: a slow run defers the next one (see publish_wait)
PUBLISH_DUTY = 0.15
#: ... but the published Parquet is never more than this many seconds behind the log (plus a run's own time)
PUBLISH_MAX_WAIT = 10.0
#: how long start() waits for the first connect and catch-up (s): a catch-up may wait out a minute of request weight
START_TIMEOUT = 90.0


#: while the ledger takes in more than this many events a second (a burst of fills), a due publication waits
#: (at most PUBLISH_MAX_WAIT after the last one): its Python work holds the GIL the intake needs, and on a busy
#: machine its lower-priority thread may be descheduled while holding it (at 200 fills/s beside a browser, the
#: fills then reached the stream ~1 s late)
BUSY_EVENTS_PER_S = 50
#: how often a waiting publication looks again whether the burst is over (seconds)
BUSY_POLL = 0.25


class AppendRate:
    """Events the ledger appended over the last second (updated by the book's append hook on the loop's thread)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._recent: deque[tuple[float, int]] = deque()
        self._count = 0

    def appended(self, result: AppendResult) -> None:
        self.add(len(result.appended))

    def add(self, events: int) -> None:
        self._recent.append((self._clock(), events))
        self._count += events

    def per_second(self) -> int:
        since = self._clock() - 1.0
        while self._recent and self._recent[0][0] < since:
            self._count -= self._recent.popleft()[1]
        return self._count


def publication_waits(events_per_s: int, since_last: float) -> bool:
    """Whether a due publication waits: a burst is under way and the published Parquet is less than
    PUBLISH_MAX_WAIT behind."""
    return events_per_s >= BUSY_EVENTS_PER_S and since_last < PUBLISH_MAX_WAIT


def _shutting_down(executor: Executor) -> bool:
    """Whether ``executor`` refuses new work (shut down, or the interpreter is exiting)."""
    try:
        executor.submit(int)
    except RuntimeError:
        return True
    return False


def publish_wait(interval: float, took: float) -> float:
    """The pause before the next publication: ``interval``, or longer when the last one took ``took`` seconds, so
    that publishing stays under PUBLISH_DUTY of the time (at most PUBLISH_MAX_WAIT behind). A publication's cost is
    mostly per run (orders, rollups, manifests rewritten), so at 200 fills/s it took ~1 s of every 2 and its
    Python work held the GIL the intake needed; readers of the Parquet are then a few seconds more behind."""
    return max(interval, min(PUBLISH_MAX_WAIT, took * (1 - PUBLISH_DUTY) / PUBLISH_DUTY))


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


class _Parts:
    """The parts that need the open event log (built at start)."""

    def __init__(self, terminal: Terminal, store: EventLog) -> None:
        t = terminal
        clock = t.runtime.now_ms
        self.store = store
        self.book = Book(store, t.link.stats)
        self.presenter = Presenter(self.book, t.market, t.truth, t.link, t.bus, venue_name=t.venue_name,
                                   mark_interval=t.mark_event_interval)
        self.gateway = OrderGateway(self.book, t.market, t.venue, t.link.stats, clock,
                                    on_missing_fills=lambda reason: self.watch.suspect(reason))
        self.tpsl = TpSlManager(self.book, t.market, self.gateway, t.bus, clock)
        self.recovery = Recovery(self.book, t.venue, t.market, self.gateway, t.link.stats, clock)
        self.watch = ConsistencyWatch(t.truth, self.book, self.presenter, t.link, t.venue, self.recovery,
                                      poll_interval=t.poll_interval, clock=clock,
                                      restart_stream=t.venue_restart_user_stream)
        self.intake = Intake(self.book, t.venue, t.market, t.truth, t.link, self.watch, self.recovery, self.tpsl,
                             self.presenter, clock)
        self.commands = Commands(self.book, t.market, t.truth, self.gateway, self.tpsl, self.watch, self.presenter,
                                 clock)
        self.publisher = Publisher(store, t.data_dir)
        # publication runs here, at a lower CPU priority: its Parquet and rollups (~0.1 s of CPU every interval
        # while trading) must not take a core from an order in flight on a 2-core machine
        self.background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hedgestack-publish",
                                             initializer=lower_priority)
        # hooks, in order: publish the views, then re-sync the protection of what changed
        self.book.on_append(self.presenter.appended)
        self.book.on_append(self._protection_follows)
        self.append_rate = AppendRate()
        self.book.on_append(self.append_rate.appended)
        t.market.on_mark(self.presenter.mark_moved)
        if t.check_invariants_live:
            self.book.on_append(self._check_invariants)

    def _protection_follows(self, result: AppendResult) -> None:
        """A VP's legs follow its quantity and its closes: fills, transfers, reconciles and order changes."""
        ledger = self.book.ledger
        for _, event in result.appended:
            if isinstance(event, Fill):
                self.tpsl.request(event.vp_id)
            elif isinstance(event, Transfer):
                self.tpsl.request(event.from_vp)
                self.tpsl.request(event.to_vp)
            elif isinstance(event, Reconcile):
                for vp in ledger.vps_of(event.symbol, event.position_side):
                    self.tpsl.request(vp.vp_id)
            elif isinstance(event, OrderUpdate | OrderIntent):
                order = ledger.orders.get(event.client_order_id)
                if order is not None and order.role.reduces and not order.is_open:
                    self.tpsl.request(order.vp_id)

    def _check_invariants(self, _result: AppendResult) -> None:
        if not self.tpsl.idle():
            return
        ledger = self.book.ledger
        in_flight = {vp_id for vp_id in ledger.vps if self.tpsl.legs_in_flight(vp_id)}
        problems = [p for p in check_invariants(ledger) if not p.startswith("1:")
                    and not any(vp_id in p for vp_id in in_flight)]
        if problems:
            log.error("invariants broken: %s", problems)


class Terminal:
    """The service that owns hedgestack's state for one account (see the module doc for its parts)."""

    def __init__(self, venue: Venue, *, data_dir: str | Path = "./data", db_file: str | Path | None = None,
                 symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"), poll_interval: float = 5.0,
                 mismatch_grace: float = 3.0, publish_interval: float = 2.0, sim: Any = None,
                 check_invariants_live: bool = False, mark_event_interval: float = MARK_EVENT_INTERVAL,
                 other_ledger: str = "refuse", clock: Callable[[], int] = wall_ms) -> None:
        if other_ledger not in ("refuse", "rebind", "new-ledger"):
            raise ValidationError("other_ledger is refuse, rebind or new-ledger", code="INVALID_OPTION")
        self.venue = venue
        self.venue_name = venue.name
        self.data_dir = Path(data_dir)
        self.db_file = Path(db_file) if db_file is not None else self.data_dir / "hedgestack.duckdb"
        self.symbols = tuple(symbols)
        self.poll_interval = poll_interval
        self.publish_interval = publish_interval
        self.check_invariants_live = check_invariants_live
        self.mark_event_interval = mark_event_interval
        self.other_ledger = other_ledger
        self.simulator = sim  # an embedded SimServer this terminal started (stopped with it)
        self.runtime = Runtime(clock)
        self.bus = EventBus(clock)
        self.link = Link(self.bus, clock)
        self.market = Market(self.symbols)
        # "recent" = two position polls and a margin: a quiet, correct side stays OK
        self.truth = ExchangeTruth(self.symbols, clock, grace_ms=int(mismatch_grace * 1000),
                                   stale_ms=int((2 * poll_interval + 2) * 1000))
        self.sync = _SyncProxy(self)
        self._parts: _Parts | None = None

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
        db_file = settings.db_file if settings.db_path and data_dir is None else None
        if venue_name == "sim":
            return cls.sim(root, sim_url=sim_url or settings.sim_url, symbols=settings.symbols, db_file=db_file,
                           **kwargs)
        if settings.binance_api_key is None or settings.binance_api_secret is None:
            raise ValidationError(f"venue {venue_name} needs BINANCE_API_KEY and BINANCE_API_SECRET "
                                  "(environment or .env)", code="KEYS_REQUIRED")
        key, secret = settings.binance_api_key.get_secret_value(), settings.binance_api_secret.get_secret_value()
        endpoints = Endpoints.testnet(key, secret) if venue_name == "testnet" else Endpoints.live(key, secret)
        kwargs.pop("market", None)
        return cls(BinanceVenue(endpoints), data_dir=root, symbols=settings.symbols, db_file=db_file, **kwargs)

    # == the loop ===================================================================================
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.runtime.loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule a coroutine on the terminal's loop from any thread."""
        return self.runtime.submit(coro)

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run a coroutine on the terminal's loop and block for its result (not from the terminal's loop)."""
        return self.runtime.run_sync(coro, timeout)

    async def _call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        return await self.runtime.call(fn, *args, **kwargs)

    def _on_loop(self) -> bool:
        return self.runtime.on_loop()

    # == start / stop ===============================================================================
    async def start(self) -> Terminal:
        """Open the log (replaying it), connect, check the venue's identity and Hedge Mode, load the rules, read
        the exchange's truth, start the streams; returns once caught up."""
        await self._call(self._start)
        return self

    def start_sync(self, timeout: float = 120.0) -> Terminal:
        self.run_sync(self._start(), timeout)
        return self

    async def _start(self) -> None:
        if self._parts is not None:
            return
        self.link.set("STARTING")
        store: EventLog | None = None
        try:
            await self.venue.start()
            identity = await self.venue.identity()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            store = EventLog(self.db_file)
            stored = stored_identity(store)
            if self.other_ledger == "new-ledger" and stored is not None and not same_account(stored, identity):
                store.close()
                store = None
                move_aside(self.data_dir, self.db_file, self.data_dir / PUBLISHED_DIR)
                store = EventLog(self.db_file)
            bind(store, identity, data_dir=self.data_dir, mode=self.other_ledger)
            if not await self.venue.hedge_mode():
                empty = not any(p.amount for p in await self.venue.positions())
                raise HedgeModeRequired(
                    "the account is in One-way Mode; hedgestack trades only in Hedge Mode. " +
                    ("It has no position: call enable_hedge_mode() to switch." if empty else
                     "Close its positions first, then switch."))
            rules = await self.venue.exchange_rules(self.symbols)
            self.market.load(rules, [await self.venue.premium(symbol) for symbol in self.symbols])
            if rules.weight_per_minute:
                self.venue.weight_limit = rules.weight_per_minute
            self.truth.record_account(await self.venue.account())
            parts = self._parts = _Parts(self, store)
        except BaseException:
            if store is not None:
                store.close(snapshot=False)
            await self.venue.close()
            self.link.set("STOPPED")
            raise
        spawn = self.runtime.spawn
        spawn("user-stream", parts.intake.user_stream())
        spawn("market-stream", parts.intake.market_stream())
        spawn("consistency", parts.watch.run())
        spawn("publisher", self._publish_loop())
        spawn("tpsl", parts.tpsl.run())
        spawn("pending", parts.gateway.resolve_pending())
        try:
            await asyncio.wait_for(parts.intake.connected.wait(), timeout=START_TIMEOUT)
        except TimeoutError:
            await self._shutdown()
            raise VenueUnavailable(f"the {self.venue_name} venue's user stream did not connect within "
                                   f"{START_TIMEOUT:g} s", code="STREAM_UNAVAILABLE") from None
        if parts.publisher.backlog() <= START_PUBLISH_MAX:
            # publish now, so other processes see the log as the terminal goes live and the first publication's
            # one-time costs are paid before trading; a big backlog is published by the loop in the background
            await asyncio.get_running_loop().run_in_executor(None, parts.publisher.publish)
        # what start loaded (modules, the replayed ledger, the market's history) lives as long as the process: out
        # of the cyclic collector's generations, a full collection no longer walks it (a 40-65 ms pause of the
        # engine's loop in the middle of trading, now ~10 ms)
        gc.freeze()

    async def stop(self) -> None:
        """Stop streams and tasks, publish and snapshot, close the log (and an embedded simulator)."""
        if not self.runtime.running:
            return
        await self._call(self._shutdown)
        self._close_runtime()

    def stop_sync(self) -> None:
        if not self.runtime.running:
            return
        self.run_sync(self._shutdown())
        self._close_runtime()

    def _close_runtime(self) -> None:
        if self.runtime.on_loop():  # awaited from the terminal's own loop: close it from another thread
            import threading

            threading.Thread(target=self.runtime.close, daemon=True).start()
        else:
            self.runtime.close()
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None

    async def _shutdown(self) -> None:
        self.link.closing = True
        if self._parts is not None:
            self._parts.watch.close()
        await self.venue.stop_streams()
        await self.runtime.cancel_tasks()
        await self.venue.close()
        parts, self._parts = self._parts, None
        if parts is not None:
            samples = self.market.take_samples()
            if samples:
                parts.store.append_marks(samples)
            parts.book.close()
            parts.background.shutdown(wait=True)
            try:
                parts.publisher.publish()
            except Exception:  # noqa: BLE001
                log.exception("final publication failed")
            parts.store.close()
        self.link.set("STOPPED")
        self.link.closing = False

    async def _publish_loop(self) -> None:
        """Publish Parquet for other processes (and keep the sampled marks) every ``publish_interval``, less
        often while a publication takes long (:func:`publish_wait`) or while fills stream in
        (:func:`publication_waits`)."""
        wait = self.publish_interval
        last = time.monotonic()
        while True:
            await asyncio.sleep(wait)
            parts = self._parts
            if parts is None:
                return
            while publication_waits(parts.append_rate.per_second(), time.monotonic() - last):
                await asyncio.sleep(BUSY_POLL)
            parts = self._parts
            if parts is None:
                return
            samples = self.market.take_samples()
            try:
                # off the loop thread: DuckDB's inserts and Parquet writing must not hold up the intake
                step = asyncio.get_running_loop().run_in_executor(parts.background, self._publish_step, parts,
                                                                  samples)
            except RuntimeError as exc:  # the executor is shut down: the interpreter exits without a stop()
                log.warning("publication stopped: %s", exc)
                return
            started = time.monotonic()
            try:
                await step
            except RuntimeError as exc:
                if _shutting_down(parts.background):  # the exit began while the step ran (its own pools refused)
                    log.warning("publication stopped: %s", exc)
                    return
                log.exception("publication failed")
            except Exception:  # noqa: BLE001
                log.exception("publication failed")
            last = time.monotonic()
            wait = publish_wait(self.publish_interval, last - started)

    @staticmethod
    def _publish_step(parts: _Parts, samples: list[tuple[str, int, Decimal]]) -> None:
        if samples:
            parts.store.append_marks(samples)
        parts.publisher.publish()

    def venue_restart_user_stream(self) -> None:
        """Ask the venue for a new user-stream socket (a stalled stream)."""
        restart = getattr(self.venue, "restart_user_stream", None)
        if restart is not None:
            restart()

    async def enable_hedge_mode(self) -> None:
        """Switch the account to Hedge Mode (only when it holds no position)."""
        async def run() -> None:
            if getattr(self.venue, "client", None) is None:
                await self.venue.start()
            if any(p.amount for p in await self.venue.positions()):
                raise HedgeModeRequired("the account holds positions: close them before switching to Hedge Mode")
            await self.venue.set_hedge_mode()

        await self._call(run)

    # == parts and state ============================================================================
    def _running(self) -> _Parts:
        if self._parts is None:
            raise VenueUnavailable("the terminal is not started", code="NOT_STARTED")
        return self._parts

    @property
    def connection(self) -> str:
        """STARTING, SYNCING, CONNECTED, STALE, DISCONNECTED or STOPPED (CONNECTION_STATE on every change)."""
        return self.link.state

    @property
    def stats(self) -> Stats:
        return self.link.stats

    @property
    def ledger(self) -> Ledger:
        """The ledger (read it on the terminal's loop: ``await t.inspect(fn)``)."""
        return self._running().book.ledger

    @property
    def log_store(self) -> EventLog | None:
        return None if self._parts is None else self._parts.store

    @property
    def tpsl(self) -> TpSlManager:
        return self._running().tpsl

    @property
    def intake(self) -> Intake:
        return self._running().intake

    async def audit(self, truth: Mapping[str, Any], *, check_sides: bool = True) -> AuditReport:
        """The ledger and its log against the exchange's truth (``engine/audit.py``: invariants 1–5)."""
        async def run() -> AuditReport:
            parts = self._running()
            return audit(parts.book.ledger, log_fill_rows(parts.store), truth, check_sides=check_sides)

        return await self._call(run)

    async def replay_equal(self) -> bool:
        """Whether a replay of the log from zero gives the ledger the terminal holds."""
        async def run() -> bool:
            parts = self._running()
            return parts.store.replay(from_zero=True) == parts.book.ledger

        return await self._call(run)

    async def inspect(self, fn: Callable[[Ledger], T]) -> T:
        """Run ``fn(ledger)`` on the terminal's loop (a consistent read of the ledger, for tests and audits)."""
        async def run() -> T:
            return fn(self.ledger)

        return await self._call(run)

    async def state(self, *, recent_fills: int = 50) -> StateView:
        """The seed's ``GET /v1/state`` snapshot (typed; ``views.to_json`` gives its JSON)."""
        async def read() -> StateView:
            return self._running().presenter.state(recent_fills)

        return await self._call(read)

    async def vp(self, vp_id: str) -> VirtualPositionView:
        async def read() -> VirtualPositionView:
            parts = self._running()
            return parts.presenter.vp(live_vp(parts.book.ledger, vp_id).vp_id)

        return await self._call(read)

    async def order_history(self, *, vp: str | None = None, symbol: str | None = None) -> list[OrderView]:
        """Every order of ours (open and done) in creation order, optionally of one VP or symbol."""
        async def read() -> list[OrderView]:
            orders = sorted(self.ledger.orders.values(), key=lambda o: (o.created_at, o.client_order_id))
            return [order_view(o) for o in orders if (vp is None or o.vp_id == vp)
                    and (symbol is None or o.symbol == symbol)]

        return await self._call(read)

    def instrument(self, symbol: str) -> InstrumentView:
        """The trading rules of ``symbol`` (tick, step, minimums), loaded at start."""
        return instrument_view(self.market.rules(symbol))

    async def candles(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[CandleView]:
        """Klines of ``symbol`` from the venue (oldest first), for charts."""
        self.market.rules(symbol)
        if interval not in CANDLE_INTERVALS:
            raise ValidationError(f"interval must be one of {', '.join(CANDLE_INTERVALS)}", code="INVALID_INTERVAL")
        if not 1 <= limit <= 1500:
            raise ValidationError("limit must be in [1, 1500]", code="INVALID_LIMIT")

        async def fetch() -> list[CandleView]:
            now = self.runtime.now_ms()
            return [CandleView(open_time=c.open_time, open=c.open, high=c.high, low=c.low, close=c.close,
                               volume=c.volume, closed=c.close_time < now)
                    for c in await self.venue.klines(symbol, interval=interval, limit=limit)]

        return await self._call(fetch)

    # == events =====================================================================================
    def add_listener(self, listener: Callable[[Envelope], None],
                     types: Iterable[str] = ALL_EVENT_TYPES) -> Callable[[], None]:
        """Call ``listener(envelope)`` for every event of ``types`` (on the terminal's thread: be quick and hand
        work to your own loop); returns a function that removes it."""
        return self.bus.add_listener(listener, types)

    async def events(self, types: Iterable[str] = EVENT_TYPES, *, maxsize: int = 10_000) -> AsyncIterator[Envelope]:
        """The events of ``types`` (the seed's seven by default) as they happen, on the caller's loop. A caller
        that falls ``maxsize`` events behind is cut off (the iteration ends)."""
        sub = self.bus.subscribe(maxsize, types)
        try:
            while (envelope := await sub.get()) is not None:
                yield envelope
        finally:
            sub.close()

    # == analytics (a cursor of the owning connection: safe from any thread) ========================
    def analytics(self) -> Analytics:
        return live(self._running().store)

    def fills(self, **filters: Any) -> pl.DataFrame:
        return self.analytics().fills(**filters)

    def orders(self, *, vp: str | None = None, symbol: str | None = None) -> pl.DataFrame:
        """:meth:`order_history` as a polars frame (one column per ``OrderView`` attribute)."""
        if self._on_loop():
            raise RuntimeError("orders() blocks: from the terminal's loop, await order_history() instead")
        return frame(self.run_sync(self.order_history(vp=vp, symbol=symbol)), OrderView)

    def vp_history(self, **filters: Any) -> pl.DataFrame:
        return self.analytics().vp_history(**filters)

    def sql(self, query: str) -> pl.DataFrame:
        return self.analytics().sql(query)

    # == commands ===================================================================================
    async def create_vp(self, name: str, symbol: str, position_side: str | PositionSide) -> VirtualPositionView:
        return await self._call(lambda: self._running().commands.create_vp(name, symbol, position_side))

    async def rename_vp(self, vp_id: str, name: str) -> VirtualPositionView:
        return await self._call(lambda: self._running().commands.rename_vp(vp_id, name))

    async def archive_vp(self, vp_id: str) -> VirtualPositionView:
        return await self._call(lambda: self._running().commands.archive_vp(vp_id))

    async def place_order(self, vp_id: str, side: str | Side, order_type: str | OrderType, qty: str | Decimal,
                          price: str | Decimal | None = None, *, time_in_force: str | None = None,
                          trigger_price: str | Decimal | None = None, trigger_type: str | None = None,
                          reduce_only: bool = False, symbol: str | None = None,
                          position_side: str | None = None) -> OrderAck:
        """Place an order into a VP: the answer's {orderId, clientOrderId, status}."""
        return await self._call(lambda: self._running().commands.place_order(
            vp_id, side, order_type, qty, price, time_in_force=time_in_force, trigger_price=trigger_price,
            trigger_type=trigger_type, reduce_only=reduce_only, symbol=symbol, position_side=position_side))

    async def cancel_order(self, order_ref: str | int) -> CancelAck:
        """Cancel by exchange orderId (or algoId) or by clientOrderId."""
        return await self._call(lambda: self._running().commands.cancel_order(order_ref))

    async def amend_order(self, order_ref: str | int, *, price: str | Decimal | None = None,
                          qty: str | Decimal | None = None) -> OrderAck:
        """Amend = cancel + new (seed): the new order keeps VP, side, type and time in force."""
        return await self._call(lambda: self._running().commands.amend_order(order_ref, price=price, qty=qty))

    async def close_vp(self, vp_id: str, order_type: str = "MARKET", *, percent: str | Decimal | None = None,
                       qty: str | Decimal | None = None, price: str | Decimal | None = None,
                       time_in_force: str | None = None) -> OrderAck:
        """Close 25/50/75/100 % (of net_qty) or a quantity of a VP, MARKET or LIMIT, rounded down to the step."""
        return await self._call(lambda: self._running().commands.close_vp(
            vp_id, order_type, percent=percent, qty=qty, price=price, time_in_force=time_in_force))

    async def set_tpsl(self, vp_id: str, *, tp_price: str | Decimal | None = None, tp_trigger_type: str | None = None,
                       sl_price: str | Decimal | None = None, sl_trigger_type: str | None = None,
                       qty: str | Decimal | None = None) -> VirtualPositionView:
        """Set or change the VP's TP and/or SL; legs are synced by cancel + create (TPSL_SYNC_STATUS)."""
        return await self._call(lambda: self._running().commands.set_tpsl(
            vp_id, tp_price=tp_price, tp_trigger_type=tp_trigger_type, sl_price=sl_price,
            sl_trigger_type=sl_trigger_type, qty=qty))

    async def clear_tpsl(self, vp_id: str) -> VirtualPositionView:
        return await self._call(lambda: self._running().commands.clear_tpsl(vp_id))

    async def transfer(self, from_vp: str, to_vp: str, qty: str | Decimal) -> TransferResult:
        """Move quantity between two VPs of one side at the source's average cost (nothing is sent)."""
        return await self._call(lambda: self._running().commands.transfer(from_vp, to_vp, qty))

    async def reconcile(self, symbol: str, position_side: str | PositionSide,
                        assignments: dict[str, str | Decimal] | list[dict[str, Any]]) -> ReconcileResult:
        """Assign the exchange quantity of one side to VPs (the rest to UNASSIGNED), restarting at the exchange's
        entry price; realized history is kept. Confirms the exchange figures over REST first."""
        return await self._call(lambda: self._running().commands.reconcile(symbol, position_side, assignments))

    # == checks for tests, scripts and the soak =====================================================
    async def invariants(self, exchange: dict[tuple[str, PositionSide], Decimal] | None = None) -> list[str]:
        return await self.inspect(lambda ledger: check_invariants(ledger, exchange))

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until TP/SL work is done, the terminal is connected and no order of ours is PENDING."""
        async def run() -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while loop.time() < deadline:
                parts = self._parts
                if parts is not None and parts.tpsl.idle() and self.link.state == "CONNECTED" and not any(
                        o.status is OrderStatus.PENDING for o in parts.book.ledger.open_orders()):
                    return
                await asyncio.sleep(0.02)
            raise TimeoutError("terminal not idle in time")

        await self._call(run)


__all__ = ["BUSY_EVENTS_PER_S", "CANDLE_INTERVALS", "NEVER_RECEIVED_AFTER_MS", "PUBLISH_DUTY", "PUBLISH_MAX_WAIT",
           "AppendRate", "HedgeModeRequired", "LedgerOfAnotherVenue", "SideLocked", "Terminal", "publication_waits",
           "publish_wait"]
