"""nautilus_trader ``Position.apply`` throughput on the same fill stream as ``hedgestack bench ledger``.

    python benchmarks/nautilus_position.py --input FILE.parquet [--json] [--repeat N]

Input columns: ts (int64 ms), vp, symbol, side (BUY|SELL), position_side (LONG|SHORT), qty, price, fee (decimal
strings). One nautilus ``Position`` is kept per distinct (vp, symbol, position_side), as hedgestack keeps one VP
ledger entry. Reading the file is not timed. Timed, per row: parse qty/price/fee into nautilus fixed-point values,
build an ``OrderFilled`` (unique ``TradeId``, fresh ``UUID4`` event id, one ``PositionId`` per VP, ``OrderSide`` from
``side`` -- a SHORT VP opens with SELL and closes with BUY) and apply it (``Position(instrument, fill)`` for the first
fill of a VP, ``Position.apply(fill)`` afterwards). Requires the ``bench`` extra: ``pip install -e ".[bench]"``.

Note: nautilus ``Position.apply`` scans every fill applied since the position was last flat for a duplicate
``TradeId`` (``Position._check_duplicate_trade_id``), so a position that never goes flat costs O(n) per fill and the
stream O(n^2) overall; fills/s therefore falls as the stream gets longer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from decimal import Decimal
from typing import Any

import nautilus_trader
import polars as pl
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.enums import LiquiditySide, OrderSide, OrderType, PositionSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    PositionId,
    StrategyId,
    Symbol,
    TradeId,
    TraderId,
    Venue,
    VenueOrderId,
)
from nautilus_trader.model.instruments import CryptoPerpetual, Instrument
from nautilus_trader.model.objects import Currency, Money, Price, Quantity
from nautilus_trader.model.position import Position
from nautilus_trader.test_kit.providers import TestInstrumentProvider

COLUMNS = ("ts", "vp", "symbol", "side", "position_side", "qty", "price", "fee")
KNOWN = {"BTCUSDT": TestInstrumentProvider.btcusdt_perp_binance, "ETHUSDT": TestInstrumentProvider.ethusdt_perp_binance}
SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}


def load(path: str) -> dict[str, list[Any]]:
    frame = pl.read_parquet(path, columns=list(COLUMNS))
    return {name: frame[name].to_list() for name in COLUMNS}


def decimals(values: list[str]) -> int:
    return max((len(v) - v.index(".") - 1 for v in set(values) if "." in v), default=0)


def instruments(columns: dict[str, list[Any]]) -> dict[str, Instrument]:
    """A nautilus instrument per symbol whose price/size precision covers every price/qty string in the file."""
    by_symbol: dict[str, tuple[list[str], list[str]]] = {}
    for symbol, price, qty in zip(columns["symbol"], columns["price"], columns["qty"], strict=True):
        prices, qtys = by_symbol.setdefault(symbol, ([], []))
        prices.append(price)
        qtys.append(qty)
    result: dict[str, Instrument] = {}
    for symbol, (prices, qtys) in by_symbol.items():
        price_dp, size_dp = decimals(prices), max(3, decimals(qtys))
        known = KNOWN.get(symbol)
        instrument = known() if known else None
        if instrument is None or instrument.price_precision < price_dp or instrument.size_precision < size_dp:
            price_dp = max(price_dp, instrument.price_precision if instrument else 0)
            base = symbol.removesuffix("USDT") or symbol
            instrument = CryptoPerpetual(
                instrument_id=InstrumentId(Symbol(f"{symbol}-PERP"), Venue("BINANCE")),
                raw_symbol=Symbol(symbol),
                base_currency=Currency.from_str(base),
                quote_currency=USDT,
                settlement_currency=USDT,
                is_inverse=False,
                price_precision=price_dp,
                size_precision=size_dp,
                price_increment=Price(10.0**-price_dp, price_dp),
                size_increment=Quantity(10.0**-size_dp, size_dp),
                ts_event=0,
                ts_init=0,
            )
        result[symbol] = instrument
    return result


def plain(value: Decimal) -> str:
    """Plain decimal string without trailing zeros (as hedgestack renders its numbers)."""
    if value == 0:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def run(columns: dict[str, list[Any]], by_symbol: dict[str, Instrument]) -> dict[str, Any]:
    keys = sorted(set(zip(columns["vp"], columns["symbol"], columns["position_side"], strict=True)))
    names = [key[0] for key in keys]
    ambiguous = len(set(names)) != len(names)
    label = {key: (f"{key[0]}/{key[1]}/{key[2]}" if ambiguous else key[0]) for key in keys}
    trader_id, strategy_id, account_id = TraderId("BENCH-001"), StrategyId("S-001"), AccountId("BINANCE-001")
    # Per VP, not timed: the constant parts of its fills. Order ids are reused per VP (hedgestack's Fill gets plain
    # ints for them); the trade id, the event id and all values are built per fill.
    static = {
        key: (by_symbol[key[1]], PositionId(f"{key[0]}-{key[1]}-{key[2]}"), ClientOrderId(f"O-{key[0]}"),
              VenueOrderId(f"V-{key[0]}"))
        for key in keys
    }
    positions: dict[tuple[str, str, str], Position] = {}
    taker, market = LiquiditySide.TAKER, OrderType.MARKET
    n = len(columns["ts"])

    start = time.perf_counter()
    for index, (ts, vp, symbol, side, pside, qty, price, fee) in enumerate(zip(
            columns["ts"], columns["vp"], columns["symbol"], columns["side"], columns["position_side"],
            columns["qty"], columns["price"], columns["fee"], strict=True)):
        key = (vp, symbol, pside)
        instrument, position_id, client_order_id, venue_order_id = static[key]
        currency = instrument.quote_currency
        ts_ns = ts * 1_000_000
        fill = OrderFilled(
            trader_id=trader_id,
            strategy_id=strategy_id,
            instrument_id=instrument.id,
            client_order_id=client_order_id,
            venue_order_id=venue_order_id,
            account_id=account_id,
            trade_id=TradeId(str(index)),
            position_id=position_id,
            order_side=SIDES[side],
            order_type=market,
            last_qty=Quantity.from_str(qty),
            last_px=Price.from_str(price),
            currency=currency,
            # Money has no precision-inferring from_str without a currency suffix; its constructor goes through a
            # double and rounds to the currency precision (USDT: 8), which is exact for fees with <= 8 decimals.
            commission=Money(fee, currency),
            liquidity_side=taker,
            event_id=UUID4(),
            ts_event=ts_ns,
            ts_init=ts_ns,
        )
        position = positions.get(key)
        if position is None:
            positions[key] = Position(instrument, fill)
        else:
            position.apply(fill)
    seconds = time.perf_counter() - start

    final = {}
    for key, position in sorted(positions.items()):
        flat = position.side == PositionSide.FLAT
        # nautilus' realized PnL already has the commissions subtracted (and is kept as a double rounded to the
        # settlement currency) and restarts it when a flat position reopens, while hedgestack reports realized and
        # fees separately and cumulatively: compare net_qty/avg_entry across engines, not realized_pnl.
        # avg_px_open is a double as well.
        realized = position.realized_pnl.as_decimal() if position.realized_pnl is not None else Decimal(0)
        final[label[key]] = {
            "net_qty": plain(position.quantity.as_decimal()),
            "avg_entry": "0" if flat else repr(position.avg_px_open),
            "realized_pnl": plain(realized),
        }
    return {"fills": n, "seconds": seconds, "final": final}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="nautilus_trader Position.apply throughput on a Parquet fill stream")
    parser.add_argument("--input", required=True, help="Parquet file (hedgestack bench ledger input format)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=1, help="run N times, report the median")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")

    columns = load(args.input)
    by_symbol = instruments(columns)
    runs = [run(columns, by_symbol) for _ in range(args.repeat)]
    seconds = statistics.median(r["seconds"] for r in runs)
    n = runs[0]["fills"]
    result = {
        "engine": "nautilus_trader",
        "version": nautilus_trader.__version__,
        "fills": n,
        "seconds": round(seconds, 6),
        "fills_per_s": round(n / seconds, 1) if seconds else None,
        "runs_seconds": [round(r["seconds"], 6) for r in runs],
        "final": runs[-1]["final"],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"nautilus_trader {result['version']}: {n} fills in {seconds:.3f} s (median of {args.repeat}) "
              f"= {result['fills_per_s']} fills/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
