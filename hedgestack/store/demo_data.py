"""``hedgestack demo-data``: a realistic synthetic fill history in the published Parquet layout.

Writes ``<out>/published/{fills,vp_changes,marks,orders,vp_eod,marks_eod,vp_equity}/`` in the layouts of
:mod:`hedgestack.store.layout` (through the same writer), with each dataset's manifest and the columns, types and
marks :class:`~hedgestack.store.publish.Publisher` writes, so ``hedgestack.analytics.open(out)`` reads it as it
reads a terminal's data directory.

What it contains: 8 VPs (trend and swing on LONG, hedge and scalp on SHORT, for BTCUSDT and ETHUSDT), each
trading round trips flat → flat (scale in over 1-5 fills, scale out over 1-5 fills), one order per fill with
the mark at intent (taker orders pay 0-3 bps of slippage, maker limit orders sit 0-1.5 bps better than the
mark), maker 0.02 % / taker 0.05 % fees in USDT, funding every 8 h split over the VPs holding quantity, and a
mark price per symbol per minute (a random walk, ~60 % annualised volatility).

How it stays fast and exact: every figure the ledger would compute is computed vectorised with integers. A
trip's cumulative quantity after each opening fill is a divisor of 10^5 lots, so ``avg = cost / qty`` is an
exact decimal (no rounding anywhere) and closing fills release cost at that average exactly: the
``vp_history`` figures are exactly what :class:`~hedgestack.domain.ledger.Ledger` gives for the same fills (a
test folds a small history through the ledger and compares). 10 M fills: ~1 min on 2 cores (see the report
of the analytics benchmark).
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import polars as pl

from hedgestack.progress import progress as progress_bar
from hedgestack.store.layout import (
    PUBLISHED_DIR,
    equity_parts,
    month_parts,
    month_start,
    save_manifest,
    time_parts,
    write_parts,
)
from hedgestack.store.publish import EQUITY_FILE_COLUMNS
from hedgestack.store.schema import MARKS_EOD_SELECT, eod_rows, equity_from_scratch

if TYPE_CHECKING:
    import argparse

DAY_MS = 86_400_000
MINUTE_MS = 60_000
FUNDING_EVERY_MS = 8 * 3_600_000
START_MS = 1_735_689_600_000  # 2025-01-01 00:00 UTC
#: the cumulative quantities (in lots) a trip passes through while scaling in: divisors of 10^5
LADDER = np.array([1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 40, 50, 80, 100, 125, 160, 200, 250, 400, 500])
SCALE = 100_000  # avg_entry is kept in units of tick / 10^5: exact because every ladder step divides 10^5


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    start_price: float
    tick_decimals: int  # price tick = 10^-tick_decimals
    lot_decimals: int  # quantity lot = 10^-lot_decimals


SYMBOLS = (SymbolSpec("BTCUSDT", 95_000.0, 1, 3), SymbolSpec("ETHUSDT", 3_500.0, 2, 2))
VPS = (  # (vp_id, name, symbol index, position side)
    ("vp_dm1btl00", "trend", 0, "LONG"), ("vp_dm2btl00", "swing", 0, "LONG"),
    ("vp_dm3bts00", "hedge", 0, "SHORT"), ("vp_dm4bts00", "scalp", 0, "SHORT"),
    ("vp_dm5etl00", "trend", 1, "LONG"), ("vp_dm6etl00", "swing", 1, "LONG"),
    ("vp_dm7ets00", "hedge", 1, "SHORT"), ("vp_dm8ets00", "scalp", 1, "SHORT"),
)
# common output scales (decimal places) per figure
QTY_DP, PRICE_DP, AVG_DP, PNL_DP, FEE_DP = 3, 2, 7, 9, 8


def default_days(fills: int) -> int:
    """7 days for small histories, one more day per ~27 k fills, at most a year."""
    return max(7, min(365, math.ceil(fills / 27_400)))


# -- trip templates ---------------------------------------------------------------------------------------
def _templates(rng: np.random.Generator, count: int = 4096) -> dict[str, np.ndarray]:
    """Round-trip shapes: cumulative lots while scaling in (ladder steps), then closing lot sizes."""
    dq: list[int] = []
    opening: list[bool] = []
    held: list[int] = []
    starts, lengths, totals = [], [], []
    weights = 1.0 / np.sqrt(LADDER)
    weights /= weights.sum()
    for _ in range(count):
        top = int(rng.choice(LADDER[1:], p=weights[1:] / weights[1:].sum()))
        below = LADDER[LADDER < top]
        n_open = int(rng.integers(1, min(5, len(below) + 1) + 1))
        path = sorted(rng.choice(below, size=n_open - 1, replace=False).tolist()) + [top]
        n_close = int(rng.integers(1, min(5, top) + 1))
        cuts = sorted(rng.choice(np.arange(1, top), size=n_close - 1, replace=False).tolist()) if n_close > 1 else []
        closes = np.diff([0, *cuts, top]).tolist()
        starts.append(len(dq))
        previous = 0
        for q in path:
            dq.append(q - previous)
            opening.append(True)
            held.append(q)
            previous = q
        for c in closes:
            previous -= c
            dq.append(c)
            opening.append(False)
            held.append(previous)
        lengths.append(len(path) + len(closes))
        totals.append(top)
    return {"dq": np.array(dq, np.int64), "opening": np.array(opening), "held": np.array(held, np.int64),
            "start": np.array(starts, np.int64), "length": np.array(lengths, np.int64),
            "total": np.array(totals, np.int64)}


def _mark_paths(rng: np.random.Generator, minutes: int) -> list[np.ndarray]:
    """Per symbol, the mark in ticks at each minute from START_MS (log random walk)."""
    sigma = 0.6 / math.sqrt(525_600)
    paths = []
    for spec in SYMBOLS:
        steps = rng.normal(0.0, sigma, minutes)
        steps[0] = 0.0
        prices = spec.start_price * np.exp(np.cumsum(steps))
        paths.append(np.rint(prices * 10 ** spec.tick_decimals).astype(np.int64))
    return paths


def _vp_fills(rng: np.random.Generator, k: int, n: int, span_ms: int, tmpl: dict[str, np.ndarray],
              marks: np.ndarray) -> dict[str, np.ndarray]:
    """The n fills of VP k with every ledger figure, in the symbol's own integer units."""
    _, _, sym_index, pside = VPS[k]
    sign = 1 if pside == "LONG" else -1
    mean_len = float(tmpl["length"].mean())
    trips = rng.integers(0, len(tmpl["length"]), int(n / mean_len * 1.3) + 10)
    lengths = tmpl["length"][trips]
    ends = np.cumsum(lengths)
    used = int(np.searchsorted(ends, n)) + 1
    trips, lengths, ends = trips[:used], lengths[:used], ends[:used]
    trip_of = np.repeat(np.arange(used), lengths)[:n]
    offset = np.arange(n) - np.repeat(ends - lengths, lengths)[:n]
    flat = tmpl["start"][trips][trip_of] + offset
    dq = tmpl["dq"][flat]
    opening = tmpl["opening"][flat]
    held = tmpl["held"][flat]
    trip_start = offset == 0

    # times: gaps of at least 500 ms, longer while flat between trips
    raw = rng.exponential(1.0, n) * np.where(trip_start, 4.0, 1.0)
    room = max(span_ms - MINUTE_MS - 500 * n, n)
    gaps = (raw / raw.sum() * room).astype(np.int64) + 500
    ts = START_MS + MINUTE_MS + np.cumsum(gaps)
    latency = rng.integers(5, 400, n)
    intent_ts = ts - latency

    # mark at intent (interpolated between minute marks), then the fill price with slippage
    pos = (intent_ts - START_MS) / MINUTE_MS
    base = pos.astype(np.int64)
    frac = pos - base
    mark_at_intent = np.rint(marks[base] + (marks[base + 1] - marks[base]) * frac).astype(np.int64)
    maker = rng.random(n) < np.where(opening, 0.45, 0.3)
    slip_bps = np.where(maker, -rng.uniform(0.0, 1.5, n), rng.uniform(0.0, 3.0, n))
    slip = np.rint(mark_at_intent * slip_bps * 1e-4).astype(np.int64)
    buying = opening == (sign == 1)
    price = mark_at_intent + np.where(buying, slip, -slip)

    # the ledger, exactly, in integers: cost in lot x tick, avg in tick / 10^5, realized in lot x tick / 10^5
    notional = dq * price
    open_cost = np.where(opening, notional, 0)
    cum_cost = np.cumsum(open_cost)
    starts_idx = np.flatnonzero(trip_start)
    trip_base = np.concatenate(([0], cum_cost[starts_idx[1:] - 1])) if len(starts_idx) else np.zeros(0, np.int64)
    cost_in_trip = cum_cost - trip_base[np.cumsum(trip_start) - 1]
    total_q = tmpl["total"][trips][trip_of]
    avg = np.where(opening, cost_in_trip * (SCALE // np.maximum(held, 1)),
                   np.where(held > 0, cost_in_trip * (SCALE // total_q), 0))
    trip_avg = np.where(opening, 0, cost_in_trip * (SCALE // total_q))  # closes come after all opens
    realized_delta = np.where(opening, 0, sign * dq * (price * SCALE - trip_avg))
    fee = notional * np.where(maker, 2, 5)  # lot x tick x 10^-4: 10^-8 USDT for both symbols
    return {"ts": ts, "intent_ts": intent_ts, "dq": dq, "opening": opening, "held": held, "price": price,
            "mark_at_intent": mark_at_intent, "maker": maker, "avg": avg, "realized_delta": realized_delta,
            "realized": np.cumsum(realized_delta), "fee": fee, "fees": np.cumsum(fee),
            "vp": np.full(n, k, np.int8)}


def _fmt(column: str, decimals: int, alias: str | None = None) -> pl.Expr:
    """An integer scaled by 10^decimals as the ledger's decimal string (``to_str``: no trailing zeros)."""
    x = pl.col(column)
    magnitude = x.abs()
    whole = (magnitude // 10 ** decimals).cast(pl.Utf8)
    frac = (magnitude % 10 ** decimals).cast(pl.Utf8).str.zfill(decimals).str.strip_chars_end("0")
    text = pl.concat_str([pl.when(x < 0).then(pl.lit("-")).otherwise(pl.lit("")), whole,
                          pl.when(frac != "").then(pl.lit(".") + frac).otherwise(pl.lit(""))])
    return text.alias(alias or column)


def _rescale(values: np.ndarray, sym: np.ndarray, decimals_of: list[int], target: int) -> np.ndarray:
    """Per-symbol integer units → one common scale of ``target`` decimals."""
    factor = np.array([10 ** (target - d) for d in decimals_of], np.int64)
    return values * factor[sym]


def generate(out_dir: str | Path, fills: int = 10_000_000, seed: int = 1, progress: bool | None = None, *,
             days: int | None = None) -> dict[str, Any]:
    """Write a synthetic published dataset of ``fills`` fills under ``out_dir``; return a summary."""
    started = time.perf_counter()
    out = Path(out_dir)
    days = default_days(fills) if days is None else days
    span_ms = days * DAY_MS
    rng = np.random.default_rng(seed)
    with progress_bar(progress) as bar:
        task = bar.add_task("demo data", total=8 + 8)
        tmpl = _templates(rng)
        minutes = span_ms // MINUTE_MS + 2
        marks = _mark_paths(rng, minutes)
        counts = np.full(len(VPS), fills // len(VPS))
        counts[: fills % len(VPS)] += 1
        parts = []
        for k, n in enumerate(counts):
            parts.append(_vp_fills(rng, k, int(n), span_ms, tmpl, marks[VPS[k][2]]))
            bar.advance(task)
        frame, history = _assemble(rng, parts, marks, span_ms)
        del parts
        bar.advance(task)
        root = out / PUBLISHED_DIR
        root.mkdir(parents=True, exist_ok=True)
        last_seq = max(int(frame["seq"].max()), int(history["seq"].max()))  # type: ignore[arg-type]
        marks_frame = _marks_frame(marks, minutes)
        marks_mark = int(marks_frame["ts"].max())  # type: ignore[arg-type]
        queries = _dataset_queries()
        con = duckdb.connect()
        try:
            con.register("fills_src", frame)
            con.register("history_src", history)
            con.register("marks_src", marks_frame)
            con.execute(f"CREATE TEMP TABLE vp_history AS SELECT * FROM ({queries['vp_history']})")
            con.execute(f"CREATE TEMP TABLE marks AS SELECT * FROM ({queries['marks']}) ORDER BY ts")
            for dataset, layout, mark in (("fills", "time", last_seq), ("orders", "created", last_seq),
                                          ("vp_changes", "time", last_seq), ("marks", "time", marks_mark),
                                          ("vp_eod", "month", last_seq), ("marks_eod", "month", marks_mark)):
                _write(con, root / dataset, queries[dataset], layout, mark)
                bar.advance(task)
            # vp_equity: the equity curve computed once from scratch, as the terminal's first refresh would
            con.execute(f"CREATE TEMP TABLE vp_equity AS SELECT * FROM ({equity_from_scratch()}) ORDER BY vp_id, ts")
            _write(con, root / "vp_equity", "SELECT * FROM vp_equity", "equity", 1)
            bar.advance(task)
        finally:
            con.close()
    return {"fills": fills, "days": days, "vp_history_rows": history.height, "out": str(out),
            "seconds": round(time.perf_counter() - started, 3)}


def _assemble(rng: np.random.Generator, parts: list[dict[str, np.ndarray]], marks: list[np.ndarray],
              span_ms: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Merge the VPs in time order, add funding, number the events; return (fills+orders frame, history)."""
    cols = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    order = np.lexsort((cols["vp"], cols["ts"]))
    cols = {name: values[order] for name, values in cols.items()}
    n = len(order)
    vp = cols["vp"].astype(np.int64)
    sym = np.array([v[2] for v in VPS], np.int64)[vp]
    sign = np.array([1 if v[3] == "LONG" else -1 for v in VPS], np.int64)

    # funding: every 8 h per symbol; each VP holding quantity gets -d * q * mark * rate (rounded to 1e-8)
    times = np.arange(START_MS + FUNDING_EVERY_MS, START_MS + span_ms + 1, FUNDING_EVERY_MS)
    rates = np.rint(rng.normal(100, 80, (len(SYMBOLS), len(times)))).astype(np.int64)  # 1e-6 units
    fund_rows: list[dict[str, np.ndarray]] = []
    fund_cum_at_fill = np.zeros(n, np.int64)
    for k in range(len(VPS)):
        mine = np.flatnonzero(vp == k)
        ts_k = cols["ts"][mine]
        s = VPS[k][2]
        last = np.searchsorted(ts_k, times, side="right") - 1
        held = np.where(last >= 0, cols["held"][mine][np.maximum(last, 0)], 0)
        mark_f = marks[s][(times - START_MS) // MINUTE_MS]
        raw = -sign[k] * held * mark_f * rates[s]  # lot x tick x 1e-6 = 1e-10 USDT
        alloc = np.sign(raw) * ((np.abs(raw) + 50) // 100)  # to 1e-8, half away from zero
        keep = held > 0
        cum = np.cumsum(alloc[keep])
        t_keep = times[keep]
        j = np.searchsorted(t_keep, ts_k, side="left") - 1  # funding strictly before the fill
        fund_cum_at_fill[mine] = np.where(j >= 0, cum[np.maximum(j, 0)] if len(cum) else 0, 0)
        idx = mine[last[keep]]
        fund_rows.append({"ts": t_keep, "vp": np.full(len(t_keep), k, np.int64), "alloc": alloc[keep],
                          "funding": cum, "fill_index": idx})
    fund = {name: np.concatenate([r[name] for r in fund_rows]) for name in fund_rows[0]}

    # sequence numbers: 8 vp_created, then per fill 3 (intent, update, fill), per funding settlement 1;
    # a settlement comes after the fills of its millisecond
    fund_key = fund["ts"] * 4 + sym[fund["fill_index"]]
    ev_key = np.unique(fund_key)  # one settlement per (funding time, symbol), in time then symbol order
    ev_ts = ev_key // 4
    fills_before_event = np.searchsorted(cols["ts"], ev_ts, side="right")
    ev_seq = 8 + 3 * fills_before_event + np.arange(len(ev_ts)) + 1
    events_before_fill = np.searchsorted(ev_ts, cols["ts"], side="left")
    seq = 8 + 3 * (np.arange(n) + 1) + events_before_fill
    fund_seq = ev_seq[np.searchsorted(ev_key, fund_key)]

    lots = [s.lot_decimals for s in SYMBOLS]
    ticks = [s.tick_decimals for s in SYMBOLS]
    avg_decimals = [t + 5 for t in ticks]
    trade_no = np.zeros(n, np.int64)
    for s in range(len(SYMBOLS)):
        mask = sym == s
        trade_no[mask] = np.arange(1, int(mask.sum()) + 1)
    short_ids = np.array([v[0][3:9] for v in VPS])
    fills = pl.DataFrame({
        "seq": seq, "ts": cols["ts"], "intent_ts": cols["intent_ts"], "trade_id": 5_000_000_000 + trade_no,
        "order_id": 8_000_000_000 + np.arange(n), "vp": vp, "sym": sym,
        "opening": cols["opening"], "maker": cols["maker"],
        "buy": cols["opening"] == (sign[vp] == 1),
        "qty": _rescale(cols["dq"], sym, lots, QTY_DP), "price": _rescale(cols["price"], sym, ticks, PRICE_DP),
        "mark": _rescale(cols["mark_at_intent"], sym, ticks, PRICE_DP),
        "commission": cols["fee"], "realized_delta": cols["realized_delta"], "realized": cols["realized"],
        "held": _rescale(cols["held"], sym, lots, QTY_DP), "avg": _rescale(cols["avg"], sym, avg_decimals, AVG_DP),
        "fees": cols["fees"], "funding": fund_cum_at_fill,
    }).with_columns(
        vp_id=pl.col("vp").replace_strict(list(range(len(VPS))), [v[0] for v in VPS], return_dtype=pl.Utf8),
        vp_name=pl.col("vp").replace_strict(list(range(len(VPS))), [v[1] for v in VPS], return_dtype=pl.Utf8),
        symbol=pl.col("sym").replace_strict(list(range(len(SYMBOLS))), [s.symbol for s in SYMBOLS],
                                            return_dtype=pl.Utf8),
        position_side=pl.col("vp").replace_strict(list(range(len(VPS))), [v[3] for v in VPS],
                                                  return_dtype=pl.Utf8),
        side=pl.when(pl.col("buy")).then(pl.lit("BUY")).otherwise(pl.lit("SELL")),
        client_order_id=pl.concat_str([pl.lit("VP-"), pl.col("vp").replace_strict(
            list(range(len(VPS))), short_ids.tolist(), return_dtype=pl.Utf8), pl.lit("-"),
            pl.col("intent_ts").cast(pl.Utf8), pl.lit("-"), (pl.col("seq") % 1000).cast(pl.Utf8).str.zfill(3)]),
    ).with_columns(_fmt("qty", QTY_DP), _fmt("price", PRICE_DP), _fmt("mark", PRICE_DP),
                   _fmt("commission", FEE_DP), _fmt("realized_delta", PNL_DP))

    f_idx = fund["fill_index"]
    fund_frame = pl.DataFrame({
        "seq": fund_seq, "ts": fund["ts"], "vp": fund["vp"], "event_kind": np.full(len(f_idx), "funding"),
        "held": fills["held"].to_numpy()[f_idx], "avg": fills["avg"].to_numpy()[f_idx],
        "realized": cols["realized"][f_idx], "realized_delta": np.zeros(len(f_idx), np.int64),
        "fees": cols["fees"][f_idx], "funding": fund["funding"]})
    created = pl.DataFrame({
        "seq": np.arange(1, 9), "ts": np.full(8, START_MS), "vp": np.arange(8),
        "event_kind": np.full(8, "vp_created"), "held": np.zeros(8, np.int64), "avg": np.zeros(8, np.int64),
        "realized": np.zeros(8, np.int64), "realized_delta": np.zeros(8, np.int64),
        "fees": np.zeros(8, np.int64), "funding": np.zeros(8, np.int64)})
    fill_rows = fills.select("seq", "ts", "vp", pl.lit("fill").alias("event_kind"), "held", "avg", "realized",
                             pl.col("realized_delta").alias("rd_text"), "fees", "funding")
    history = pl.concat([
        created.with_columns(_fmt("realized_delta", PNL_DP, "rd_text")).drop("realized_delta"),
        fund_frame.with_columns(_fmt("realized_delta", PNL_DP, "rd_text")).drop("realized_delta"),
        fill_rows.with_columns(pl.col("vp").cast(pl.Int64)),
    ], how="diagonal_relaxed").sort("seq", "vp").with_columns(
        vp_id=pl.col("vp").replace_strict(list(range(len(VPS))), [v[0] for v in VPS], return_dtype=pl.Utf8),
        name=pl.col("vp").replace_strict(list(range(len(VPS))), [v[1] for v in VPS], return_dtype=pl.Utf8),
        symbol=pl.col("vp").replace_strict(list(range(len(VPS))), [SYMBOLS[v[2]].symbol for v in VPS],
                                           return_dtype=pl.Utf8),
        position_side=pl.col("vp").replace_strict(list(range(len(VPS))), [v[3] for v in VPS],
                                                  return_dtype=pl.Utf8),
    ).select("seq", "ts", "vp_id", "name", "symbol", "position_side", "event_kind",
             _fmt("held", QTY_DP, "net_qty"), _fmt("avg", AVG_DP, "avg_entry"),
             _fmt("realized", PNL_DP, "realized_pnl"), pl.col("rd_text").alias("realized_delta"),
             _fmt("fees", FEE_DP), _fmt("funding", FEE_DP), pl.lit(False).alias("archived"))
    fills = fills.with_columns(_fmt("held", QTY_DP, "vp_net_qty"), _fmt("avg", AVG_DP, "vp_avg_entry"),
                               _fmt("realized", PNL_DP, "vp_realized"), _fmt("fees", FEE_DP, "vp_fees"),
                               _fmt("funding", FEE_DP, "vp_funding"))
    return fills, history


def _marks_frame(marks: list[np.ndarray], minutes: int) -> pl.DataFrame:
    frames = []
    for spec, path in zip(SYMBOLS, marks, strict=True):
        frames.append(pl.DataFrame({"ts": START_MS + np.arange(minutes) * MINUTE_MS, "mark": path})
                      .with_columns(_fmt("mark", spec.tick_decimals), symbol=pl.lit(spec.symbol)))
    return pl.concat(frames).select("symbol", "ts", "mark")


def _dataset_queries() -> dict[str, str]:
    """Per published dataset, the query giving exactly the publisher's columns and types: over ``fills_src``
    (fills and their orders), ``history_src`` (the vp_history rows), ``marks_src``, and the temporary tables
    ``vp_history`` and ``marks`` made from them."""
    dec = "DECIMAL(38, 18)"
    qty = "DECIMAL(38, 10)"
    history = (f"(SELECT seq, ts, vp_id, name, symbol, position_side, event_kind, CAST(net_qty AS {qty}) AS net_qty, "
               f"CAST(avg_entry AS {dec}) AS avg_entry, CAST(realized_pnl AS {dec}) AS realized_pnl, "
               f"CAST(realized_delta AS {dec}) AS realized_delta, CAST(fees AS {dec}) AS fees, "
               f"CAST(funding AS {dec}) AS funding, archived FROM history_src)")
    return {
        "fills": f"""SELECT seq, ts, trade_id, order_id, client_order_id, vp_id, vp_name, symbol, side,
                        position_side, CAST(qty AS {qty}) AS qty, CAST(price AS {dec}) AS price,
                        CAST(commission AS {dec}) AS commission, 'USDT' AS commission_asset,
                        CAST(realized_delta AS {dec}) AS realized_pnl, CAST(realized_delta AS {dec}) AS exchange_rp,
                        maker, CAST(vp_net_qty AS {qty}) AS vp_net_qty, CAST(vp_avg_entry AS {dec}) AS vp_avg_entry,
                        CAST(vp_realized AS {dec}) AS vp_realized, CAST(vp_fees AS {dec}) AS vp_fees,
                        CAST(vp_funding AS {dec}) AS vp_funding, false AS vp_archived
                     FROM fills_src""",
        "vp_changes": f"SELECT * FROM {history} WHERE event_kind <> 'fill'",
        "marks": f"SELECT symbol, ts, CAST(mark AS {dec}) AS mark FROM marks_src",
        "orders": f"""SELECT intent_ts AS created_at, client_order_id, order_id, vp_id, symbol, position_side, side,
                         CASE WHEN maker THEN 'LIMIT' ELSE 'MARKET' END AS order_type,
                         CASE WHEN opening THEN 'ENTRY' ELSE 'CLOSE' END AS role, CAST(qty AS {dec}) AS qty,
                         CASE WHEN maker THEN CAST(price AS {dec}) END AS price,
                         CAST(mark AS {dec}) AS mark_at_intent, CAST(NULL AS {dec}) AS trigger_price,
                         CAST(NULL AS VARCHAR) AS trigger_type,
                         CASE WHEN maker THEN 'GTC' END AS time_in_force, false AS is_algo, 'FILLED' AS status,
                         CAST(qty AS {dec}) AS filled_qty, ts AS updated_at, CAST(NULL AS VARCHAR) AS reason
                      FROM fills_src""",
        "vp_eod": f"SELECT * FROM ({eod_rows(history)})",
        "marks_eod": f"{MARKS_EOD_SELECT} GROUP BY symbol, day",
        "vp_history": history[1:-1],
    }


_ORDERS = {"fills": "seq", "orders": "created_at, client_order_id", "vp_changes": "seq, vp_id",
           "marks": "symbol, ts", "vp_eod": "vp_id, day", "marks_eod": "symbol, day", "vp_equity": "ts"}


def _write(con: duckdb.DuckDBPyConnection, base: Path, query: str, layout: str, mark: int) -> None:
    """Write ``query`` in the publisher's layout (``time``, ``created`` (by order time), ``month`` or
    ``equity``), replacing what is there, then the dataset's manifest (its files, and ``mark``: the seq, ts or
    refresh it is published up to)."""
    shutil.rmtree(base, ignore_errors=True)
    # materialized in time order first: each file's COPY then reads only the row groups of its period
    time_column = {"created": "created_at", "month": "day", "equity": "vp_id, ts"}.get(layout, "ts")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _out AS SELECT * FROM ({query}) ORDER BY {time_column}")
    source = "SELECT * FROM _out"
    manifest: dict[str, Any] = {"mark": mark, "retired": []}
    try:
        if layout == "month":
            parts = month_parts(con, source, "data")
        else:
            ts = "created_at" if layout == "created" else "ts"
            current = month_start(int(con.execute(f"SELECT max({ts}) FROM _out").fetchall()[0][0]))
            if layout == "equity":
                parts = equity_parts(con, source, "data", current)
            else:
                parts = time_parts(con, source, "data", current, ts=ts)
                manifest["current"] = current
        columns = EQUITY_FILE_COLUMNS if layout == "equity" else "*"
        names = write_parts(con, base, source, parts, columns=columns, order=_ORDERS[base.name])
    finally:
        con.execute("DROP TABLE IF EXISTS _out")
    save_manifest(base, {"files": sorted(names), **manifest})


# -- CLI ----------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``hedgestack demo-data --fills N --out DIR [--seed N] [--days N] [--json]``."""
    parser.add_argument("--fills", type=int, default=10_000_000, help="number of fills (default 10 000 000)")
    parser.add_argument("--out", required=True, help="data directory to write (its published/ folder)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=None, help="history length (default: by the fill count)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout (no progress bar)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from rich.console import Console

    summary = generate(args.out, fills=args.fills, seed=args.seed, days=args.days,
                       progress=getattr(args, "progress", None))
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        Console(stderr=True).print(f"{summary['fills']:,} fills over {summary['days']} days written to "
                                   f"{summary['out']}/{PUBLISHED_DIR} in {summary['seconds']:.1f} s")
    return 0
