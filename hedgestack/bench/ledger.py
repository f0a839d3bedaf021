"""``hedgestack bench ledger``: fills/s of the domain ledger on a Parquet fill stream.

Input columns: ts (int64 ms), vp (str), symbol (str), side (BUY|SELL), position_side (LONG|SHORT),
qty (str decimal), price (str decimal), fee (str decimal). Reading the file is not timed; building a Fill
event per row (decimal parsing included) and applying it is.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from hedgestack.domain.enums import PositionSide, Side
from hedgestack.domain.events import Fill, VpCreated
from hedgestack.domain.ledger import Ledger, average
from hedgestack.domain.numbers import to_str

if TYPE_CHECKING:
    from pathlib import Path

COLUMNS = ("ts", "vp", "symbol", "side", "position_side", "qty", "price", "fee")


def load(path: str | Path) -> dict[str, list[Any]]:
    frame = pl.read_parquet(path, columns=list(COLUMNS))
    return {name: frame[name].to_list() for name in COLUMNS}


def run(columns: dict[str, list[Any]]) -> dict[str, Any]:
    """Apply every row; return {"fills", "seconds", "fills_per_s", "final"}."""
    keys = sorted(set(zip(columns["vp"], columns["symbol"], columns["position_side"], strict=True)))
    names = [k[0] for k in keys]
    ambiguous = len(set(names)) != len(names)
    internal = {key: (f"{key[0]}/{key[1]}/{key[2]}" if ambiguous else key[0]) for key in keys}
    ledger = Ledger()
    ledger.apply_all(VpCreated(ts=0, vp_id=vp_id, name=key[0], symbol=key[1], position_side=PositionSide(key[2]))
                     for key, vp_id in internal.items())
    sides = {"BUY": Side.BUY, "SELL": Side.SELL}
    psides = {"LONG": PositionSide.LONG, "SHORT": PositionSide.SHORT}
    zero = Decimal(0)
    n = len(columns["ts"])
    start = time.perf_counter()
    ledger.apply_all(
        Fill(ts=ts, symbol=symbol, trade_id=index, order_id=index, client_order_id=None,
             vp_id=internal[(vp, symbol, pside)], side=sides[side], position_side=psides[pside], qty=Decimal(qty),
             price=Decimal(price), commission=Decimal(fee), commission_asset="USDT", exchange_rp=zero, maker=False)
        for index, (ts, vp, symbol, side, pside, qty, price, fee) in enumerate(zip(
            columns["ts"], columns["vp"], columns["symbol"], columns["side"], columns["position_side"],
            columns["qty"], columns["price"], columns["fee"], strict=True)))
    seconds = time.perf_counter() - start
    final = {}
    for vp_id in internal.values():
        book = ledger.vps[vp_id]
        final[vp_id] = {"net_qty": to_str(book.qty), "avg_entry": to_str(average(book.cost, book.qty)),
                        "realized_pnl": to_str(book.realized), "fees": to_str(book.fees.get("USDT", zero))}
    return {"fills": n, "seconds": round(seconds, 6), "fills_per_s": round(n / seconds, 1) if seconds else None,
            "anomalies": len(ledger.anomalies), "final": final}
