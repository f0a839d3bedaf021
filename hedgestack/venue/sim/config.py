"""Simulator configuration (the contracts themselves come from symbols.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hedgestack.domain.numbers import D
from hedgestack.venue.sim.symbols import Bracket, SymbolSpec, bundled_symbols

DEFAULT_API_KEY = "hedgestack-sim"
DEFAULT_API_SECRET = "hedgestack-sim-secret"  # noqa: S105 - the simulator's published default
#: The file an embedded simulator keeps its state in, inside the terminal's data directory.
EMBEDDED_STATE_FILE = "simulator.sqlite"
DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = bundled_symbols()
MARKETS = ("random", "static")


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-minute limits (exchangeInfo ``rateLimits``) and the ban after continued abuse."""

    weight_per_minute: int = 2400
    orders_per_minute: int = 1200
    orders_per_10s: int = 300
    # this many 429 answers inside one minute, and the next request gets 418 for ban_seconds
    rejections_before_ban: int = 10
    ban_seconds: float = 120.0


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything a simulator needs to start. ``port=0`` takes a free port.

    ``market``: ``"random"`` (seeded walk, the default), ``"static"`` (prices move only through the control
    API: tests and demos) or ``"replay:PATH[,PATH...]"`` (Binance's public data files as downloaded, see
    replay.py). ``replay_speed`` plays them at that many times real time.

    ``book``: ``"auto"`` (an order book in the random and replay markets, today's one-price fills in the static
    market), ``"on"`` or ``"off"`` everywhere. ``book_refill_seconds``: the time constant with which the book's
    own liquidity comes back after takers consumed it (random and replay markets).

    ``funding``: ``"auto"`` (settlements on Binance's schedule in the random and replay markets; in the static
    market only through ``POST /sim/v1/funding``, so tests are deterministic), ``"schedule"`` or ``"manual"``.
    ``funding_speed`` divides the funding interval (480 settles every minute, still aligned on the epoch).
    ``auto_funding`` (old flag) means ``funding="schedule"``. ``funding_rate`` is the rate shown before any
    premium sample (and in the static market).

    ``child_client_id``: the clientOrderId of a triggered algo order's child: ``"algo"`` reuses the
    clientAlgoId (what nautilus_trader observes, reference §3.4), ``"generated"`` makes a fresh 22-char id.
    ``trade_lite``: send TRADE_LITE before each fill's ORDER_TRADE_UPDATE, as Binance does; None (default) =
    in the random and replay markets only: the static market keeps today's event sequence (a client that
    trades again right after an order's answer sees its fill a little earlier without it).
    ``persist``: the file the account, its identity and its ids are kept in (SQLite; an older JSON state file
    there is migrated). Without it the simulator starts a fresh account with a fresh identity.
    """

    host: str = "127.0.0.1"
    port: int = 0
    market: str = "random"
    seed: int | None = None
    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS
    start_prices: dict[str, Decimal] = field(default_factory=dict)
    maker_fee: Decimal = D("0.0002")
    taker_fee: Decimal = D("0.0005")
    leverage: int = 20
    starting_balance: Decimal = D("10000")
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    rate_limits: RateLimits = field(default_factory=RateLimits)
    liquidity: dict[str, Decimal] = field(default_factory=dict)
    listen_key_ttl: float = 3600.0
    child_client_id: str = "algo"
    funding_rate: Decimal = D("0.0001")
    funding_interval_ms: int = 8 * 3600 * 1000  # kept for callers; the interval is the symbol's
    auto_funding: bool = False
    funding: str = "auto"
    funding_speed: float = 1.0
    book: str = "auto"
    book_refill_seconds: float = 2.0
    premium_volatility: float = 0.00005
    tick_interval: float = 0.25
    replay_speed: float = 1.0
    volatility: float = 0.6
    mark_push_interval: float = 1.0
    persist: str | None = None
    trade_lite: bool | None = None
    show_progress: bool | None = None

    def __post_init__(self) -> None:
        if self.market not in MARKETS and not self.market.startswith("replay:"):
            raise ValueError(f"unknown market {self.market!r}: use static, random or replay:PATH[,PATH...]")
        if self.book not in ("auto", "on", "off"):
            raise ValueError(f"book must be auto, on or off, not {self.book!r}")
        if self.funding not in ("auto", "schedule", "manual"):
            raise ValueError(f"funding must be auto, schedule or manual, not {self.funding!r}")
        if self.funding_speed <= 0:
            raise ValueError("funding_speed must be positive")
        if self.replay_speed <= 0:
            raise ValueError("the replay speed must be positive")
        if not self.symbols:
            raise ValueError("the simulator needs at least one symbol")

    def __repr__(self) -> str:
        return (f"SimConfig(host={self.host!r}, port={self.port}, market={self.market!r}, seed={self.seed}, "
                f"symbols={len(self.symbols)}, api_key={self.api_key!r}, api_secret='***')")

    @property
    def book_enabled(self) -> bool:
        """Whether symbols start with an order book."""
        if self.book == "auto":
            return self.market != "static"
        return self.book == "on"

    @property
    def sends_trade_lite(self) -> bool:
        return self.trade_lite if self.trade_lite is not None else self.market != "static"

    @property
    def funding_scheduled(self) -> bool:
        """Whether funding settles by itself on the schedule."""
        if self.auto_funding or self.funding == "schedule":
            return True
        if self.funding == "manual":
            return False
        return self.market != "static"

    def start_price(self, spec: SymbolSpec) -> Decimal:
        return self.start_prices.get(spec.symbol, spec.start_price)

    @classmethod
    def embedded(cls, data_dir: str | Path, **kwargs: Any) -> SimConfig:
        """The simulator a terminal embeds: its state in ``data_dir/simulator.sqlite``, so a restart continues
        the same account (identity, ids, orders, positions, balance)."""
        return cls(persist=str(Path(data_dir) / EMBEDDED_STATE_FILE), **kwargs)


__all__ = ["DEFAULT_API_KEY", "DEFAULT_API_SECRET", "DEFAULT_SYMBOLS", "EMBEDDED_STATE_FILE", "Bracket",
           "RateLimits", "SimConfig", "SymbolSpec"]
