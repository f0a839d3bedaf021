"""Simulator configuration and the exchangeInfo seed data (reference/binance-usdm.md §5.3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hedgestack.domain.numbers import D

DEFAULT_API_KEY = "hedgestack-sim"
DEFAULT_API_SECRET = "hedgestack-sim-secret"  # noqa: S105 - the simulator's published default


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One tradable symbol: filter values as Binance's exchangeInfo gives them, and a start price."""

    symbol: str
    base_asset: str
    start_price: Decimal
    tick_size: str
    min_price: str
    max_price: str
    step_size: str
    min_qty: str
    max_qty: str
    market_max_qty: str
    min_notional: str
    multiplier_up: str
    multiplier_down: str
    price_precision: int
    quantity_precision: int
    trigger_protect: str = "0.0500"
    market_take_bound: str = "0.05"

    def exchange_info(self) -> dict[str, Any]:
        """Return this symbol's element of exchangeInfo ``symbols``."""
        return {
            "symbol": self.symbol, "pair": self.symbol, "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
            "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
            "baseAsset": self.base_asset, "quoteAsset": "USDT", "marginAsset": "USDT",
            "pricePrecision": self.price_precision, "quantityPrecision": self.quantity_precision,
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
            "underlyingSubType": [], "settlePlan": 0, "triggerProtect": self.trigger_protect,
            "liquidationFee": "0.012500", "marketTakeBound": self.market_take_bound,
            "maxMoveOrderLimit": 10000,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": self.min_price, "maxPrice": self.max_price,
                 "tickSize": self.tick_size},
                {"filterType": "LOT_SIZE", "minQty": self.min_qty, "maxQty": self.max_qty,
                 "stepSize": self.step_size},
                {"filterType": "MARKET_LOT_SIZE", "minQty": self.min_qty, "maxQty": self.market_max_qty,
                 "stepSize": self.step_size},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MIN_NOTIONAL", "notional": self.min_notional},
                {"filterType": "PERCENT_PRICE", "multiplierUp": self.multiplier_up,
                 "multiplierDown": self.multiplier_down, "multiplierDecimal": "4"},
            ],
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                           "TRAILING_STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        }


BTCUSDT = SymbolSpec(
    symbol="BTCUSDT", base_asset="BTC", start_price=D("95000"), tick_size="0.10", min_price="556.80",
    max_price="4529764", step_size="0.001", min_qty="0.001", max_qty="1000", market_max_qty="120",
    min_notional="100", multiplier_up="1.0500", multiplier_down="0.9500", price_precision=2,
    quantity_precision=3)

ETHUSDT = SymbolSpec(
    symbol="ETHUSDT", base_asset="ETH", start_price=D("3500"), tick_size="0.01", min_price="39.86",
    max_price="306177", step_size="0.001", min_qty="0.001", max_qty="10000", market_max_qty="10000",
    min_notional="20", multiplier_up="1.0500", multiplier_down="0.9500", price_precision=2,
    quantity_precision=3, market_take_bound="0.10")

DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (BTCUSDT, ETHUSDT)


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

    ``market``: ``"random"`` (seeded walk), ``"static"`` (control API only) or ``"replay:PATH"``
    (klines or aggTrades CSV/Parquet in Binance's public-data layout; several paths comma-separated).
    ``child_client_id``: the clientOrderId of a triggered algo order's child: ``"algo"`` reuses the
    clientAlgoId (what nautilus_trader observes, reference §3.4), ``"generated"`` makes a fresh 22-char id.
    ``persist``: a JSON file the account state is saved to and restored from.
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
    funding_interval_ms: int = 8 * 3600 * 1000
    auto_funding: bool = False
    tick_interval: float = 0.25
    replay_speed: float = 1.0
    volatility: float = 0.6
    mark_push_interval: float = 1.0
    persist: str | None = None

    def __repr__(self) -> str:
        return (f"SimConfig(host={self.host!r}, port={self.port}, market={self.market!r}, seed={self.seed}, "
                f"symbols={[s.symbol for s in self.symbols]}, api_key={self.api_key!r}, api_secret='***')")

    def start_price(self, spec: SymbolSpec) -> Decimal:
        return self.start_prices.get(spec.symbol, spec.start_price)
