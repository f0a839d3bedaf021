"""Sampled mark prices, kept for charts and analytics (market data, not ledger events)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from hedgestack.store.codec import stored

if TYPE_CHECKING:
    from collections.abc import Iterable
    from decimal import Decimal

    from hedgestack.store.database import Database


def append_marks(db: Database, rows: Iterable[tuple[str, int, Decimal]]) -> int:
    """Keep sampled mark prices ``(symbol, ts_ms, mark)``; return how many.

    One columnar INSERT for the whole batch. A mark with more than 18 decimals is rounded half-even to 1e-18
    (market data, not a ledger fact)."""
    symbols: list[str] = []
    times: list[int] = []
    values: list[str] = []
    for symbol, ts, mark in rows:
        symbols.append(symbol)
        times.append(int(ts))
        values.append(stored(mark))
    if not symbols:
        return 0
    table = pa.table({"symbol": pa.array(symbols, pa.string()), "ts": pa.array(times, pa.int64()),
                      "mark": pa.array(values, pa.string())})
    with db.lock:
        con = db.connection
        con.register("_marks_batch", table)
        try:
            con.execute("INSERT INTO marks SELECT symbol, ts, mark FROM _marks_batch")
        finally:
            con.unregister("_marks_batch")
    return len(symbols)
