"""The bundled USDT-M contracts: exchangeInfo elements, leverage brackets and market-model parameters.

The data file ``data/usdm_contracts.json`` names where every figure comes from (its ``sources`` member):
BTCUSDT/ETHUSDT keep the filters of reference/binance-usdm.md §5.3, the 19 others are copied from a live
exchangeInfo answer of 2024-03-28; brackets are Binance's tables for BTCUSDT/ETHUSDT and a labelled stand-in
for the others. The ``sim`` part of each entry (start price, book depth, trade flow) belongs to the
simulator's market model, not to Binance.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any

from hedgestack.domain.numbers import D


@dataclass(frozen=True, slots=True)
class Bracket:
    """One notional bracket: leverage up to ``initial_leverage`` for notionals in [floor, cap)."""

    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal

    def wire(self) -> dict[str, Any]:
        """The element of ``/fapi/v1/leverageBracket`` ``brackets`` (JSON numbers, as Binance sends them)."""
        return {"bracket": self.bracket, "initialLeverage": self.initial_leverage,
                "notionalCap": _number(self.notional_cap), "notionalFloor": _number(self.notional_floor),
                "maintMarginRatio": float(self.maint_margin_ratio), "cum": float(self.cum)}


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _default_brackets() -> tuple[Bracket, ...]:
    return load_brackets()["BTCUSDT"]


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One tradable symbol: filter values as Binance's exchangeInfo gives them, brackets, and model parameters."""

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
    liquidation_fee: str = "0.012500"
    underlying_sub_type: tuple[str, ...] = ()
    onboard_date: int = 1569398400000
    brackets: tuple[Bracket, ...] = field(default_factory=_default_brackets)
    funding_interval_hours: int = 8
    depth_usdt_per_bp: Decimal = D("100000")
    trades_per_second: float = 1.0
    trade_notional: Decimal = D("1000")

    @property
    def tick(self) -> Decimal:
        return Decimal(self.tick_size)

    @property
    def step(self) -> Decimal:
        return Decimal(self.step_size)

    @property
    def max_leverage(self) -> int:
        return max(b.initial_leverage for b in self.brackets)

    def exchange_info(self) -> dict[str, Any]:
        """Return this symbol's element of exchangeInfo ``symbols``."""
        return {
            "symbol": self.symbol, "pair": self.symbol, "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000, "onboardDate": self.onboard_date, "status": "TRADING",
            "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
            "baseAsset": self.base_asset, "quoteAsset": "USDT", "marginAsset": "USDT",
            "pricePrecision": self.price_precision, "quantityPrecision": self.quantity_precision,
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
            "underlyingSubType": list(self.underlying_sub_type), "settlePlan": 0,
            "triggerProtect": self.trigger_protect, "liquidationFee": self.liquidation_fee,
            "marketTakeBound": self.market_take_bound, "maxMoveOrderLimit": 10000,
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


def _read() -> dict[str, Any]:
    raw = resources.files("hedgestack.venue.sim").joinpath("data/usdm_contracts.json").read_text()
    data: dict[str, Any] = json.loads(raw)
    return data


@functools.cache
def load_brackets() -> dict[str, tuple[Bracket, ...]]:
    """Every bracket table of the data file, by name."""
    out: dict[str, tuple[Bracket, ...]] = {}
    for name, rows in _read()["brackets"].items():
        out[name] = tuple(Bracket(bracket=int(r["bracket"]), initial_leverage=int(r["initialLeverage"]),
                                  notional_floor=D(r["notionalFloor"]), notional_cap=D(r["notionalCap"]),
                                  maint_margin_ratio=D(r["maintMarginRatio"]), cum=D(r["cum"])) for r in rows)
    return out


@functools.cache
def bundled_symbols() -> tuple[SymbolSpec, ...]:
    """The bundled contracts, most traded first (BTCUSDT, ETHUSDT, ...)."""
    brackets = load_brackets()
    out = []
    for entry in _read()["symbols"]:
        info, sim = entry["exchangeInfo"], entry["sim"]
        f = {x["filterType"]: x for x in info["filters"]}
        out.append(SymbolSpec(
            symbol=info["symbol"], base_asset=info["baseAsset"], start_price=D(sim["start_price"]),
            tick_size=f["PRICE_FILTER"]["tickSize"], min_price=f["PRICE_FILTER"]["minPrice"],
            max_price=f["PRICE_FILTER"]["maxPrice"], step_size=f["LOT_SIZE"]["stepSize"],
            min_qty=f["LOT_SIZE"]["minQty"], max_qty=f["LOT_SIZE"]["maxQty"],
            market_max_qty=f["MARKET_LOT_SIZE"]["maxQty"], min_notional=f["MIN_NOTIONAL"]["notional"],
            multiplier_up=f["PERCENT_PRICE"]["multiplierUp"], multiplier_down=f["PERCENT_PRICE"]["multiplierDown"],
            price_precision=int(info["pricePrecision"]), quantity_precision=int(info["quantityPrecision"]),
            trigger_protect=info["triggerProtect"], market_take_bound=info["marketTakeBound"],
            liquidation_fee=info["liquidationFee"], underlying_sub_type=tuple(info["underlyingSubType"]),
            onboard_date=int(info["onboardDate"]), brackets=brackets[sim["brackets"]],
            funding_interval_hours=int(sim["funding_interval_hours"]),
            depth_usdt_per_bp=D(sim["depth_usdt_per_bp"]), trades_per_second=float(sim["trades_per_second"]),
            trade_notional=D(sim["trade_notional_usdt"])))
    return tuple(out)


def symbol_spec(symbol: str) -> SymbolSpec:
    """One bundled contract by name (KeyError when it is not bundled)."""
    for spec in bundled_symbols():
        if spec.symbol == symbol:
            return spec
    raise KeyError(symbol)


__all__ = ["Bracket", "SymbolSpec", "bundled_symbols", "load_brackets", "symbol_spec"]
