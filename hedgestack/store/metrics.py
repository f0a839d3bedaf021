"""Fill-history metrics: each one SQL view plus one function returning a polars frame.

The views read only ``fills``, ``orders``, ``vp_history``, ``marks`` and the rollups ``vp_eod_current`` and
``vp_equity`` (each VP's equity at each mark sample, kept incrementally by the log), so the same definitions run on the
terminal's live connection (the tables and views of :mod:`hedgestack.store.schema`) and on the published
Parquet (:func:`hedgestack.store.analytics.open_published`), and give identical frames on both.

Nothing WAC-dependent is recomputed here: ``vp_history`` already holds each VP's ``net_qty``, ``avg_entry``,
cumulative ``realized_pnl``, ``fees`` and ``funding`` after every change (the ledger writes them). Figures at a
point in time are that state *as of* the time (an ASOF join on ``(ts, seq)``), valued at the kept marks.

Money stays exact: ``DECIMAL(38, 18)``. Products of a quantity and a price are computed as
``DECIMAL(38, 10) x DECIMAL(38, 18)`` (quantities are stored as DECIMAL(38, 10)) and so hold up to
10^10 USDT per VP; the equity curve keeps them at their exact scale, ``DECIMAL(38, 28)`` (its ``unrealized``,
``equity`` and ``net_equity``), the other views round them to 1e-18. Ratios (shares, bps, payoff) are DOUBLE.

Sign conventions: ``d = +1`` for LONG, ``-1`` for SHORT; ``fees`` are a cost (positive = paid);
``funding`` is signed (positive = received); ``net = realized - fees + funding``.

The views are created as TEMP views (per connection, never persisted in the terminal's file) by
:func:`install_metric_views`; the functions install them on first use.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb

from hedgestack.store.analytics import where_clause
from hedgestack.store.risk_sql import (
    FREQS,
    curve_sql,
    drawdown_sql,
    leverage_table,
    named,
    report_sql,
    risk_sql,
    scope,
)
from hedgestack.store.schema import EQUITY_COLUMNS, unrealized_sql

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "METRIC_VIEWS",
    "daily_pnl",
    "drawdown",
    "drawdown_curve",
    "equity_curve",
    "exposure",
    "fee_funding_drag",
    "install_metric_views",
    "maker_taker",
    "mae_mfe",
    "report",
    "risk_adjusted",
    "round_trips",
    "slippage",
    "win_rate",
]

_DEC = "DECIMAL(38, 18)"
_QTY = "DECIMAL(38, 10)"
_SIGN = "(CASE position_side WHEN 'LONG' THEN 1 ELSE -1 END)"


def _unrealized(qty: str, mark: str, avg: str, sign: str) -> str:
    return unrealized_sql(qty, mark, avg, sign)


_EQUITY_SELECT = ", ".join(EQUITY_COLUMNS)


METRIC_VIEWS: dict[str, str] = {
    # -- every VP with its latest figures (the base of every per-VP summary: none drops a VP) ---------
    "metric_vps": f"""
SELECT vp_id, arg_max(name, day) AS vp_name, any_value(symbol) AS symbol, any_value(position_side) AS position_side,
       CAST(arg_max(net_qty, day) AS {_QTY}) AS net_qty, CAST(arg_max(avg_entry, day) AS {_DEC}) AS avg_entry,
       CAST(arg_max(realized_pnl, day) AS {_DEC}) AS realized, CAST(arg_max(fees, day) AS {_DEC}) AS fees,
       CAST(arg_max(funding, day) AS {_DEC}) AS funding, arg_max(archived, day) AS archived,
       min(day) AS first_day, max(ts) AS last_change_ts
FROM vp_eod_current GROUP BY vp_id
""",
    # -- per-VP equity curve at every mark sample since the VP's first history row ----------------
    "metric_equity_curve": f"SELECT {_EQUITY_SELECT} FROM vp_equity",
    # -- daily PnL per VP (UTC days) ----------------------------------------------------------------
    "metric_daily_pnl": f"""
WITH eod AS (
    SELECT vp_id, day - DATE '1970-01-01' AS day_no, symbol, position_side, name, net_qty, avg_entry,
           realized_pnl, fees, funding
    FROM vp_eod_current
), day_marks AS (
    SELECT symbol, day - DATE '1970-01-01' AS day_no, mark FROM marks_eod
), last_day AS (
    SELECT greatest((SELECT max(day_no) FROM eod), coalesce((SELECT max(day_no) FROM day_marks), 0)) AS day_no
), grid AS (
    SELECT s.vp_id, unnest(range(s.first_day, (SELECT day_no FROM last_day) + 1)) AS day_no
    FROM (SELECT vp_id, min(day_no) AS first_day FROM eod GROUP BY vp_id) s
), state AS (
    SELECT g.vp_id, g.day_no, e.symbol, e.position_side, e.name, e.net_qty, e.avg_entry,
           e.realized_pnl AS realized, e.fees, e.funding
    FROM grid g ASOF JOIN eod e ON g.vp_id = e.vp_id AND g.day_no >= e.day_no
), valued AS (
    SELECT s.*, m.mark,
           CASE WHEN s.net_qty = 0 THEN CAST(0 AS {_DEC})
                ELSE {_unrealized('s.net_qty', 'm.mark', 's.avg_entry',
                                  "(CASE s.position_side WHEN 'LONG' THEN 1 ELSE -1 END)")} END AS unrealized
    FROM state s ASOF LEFT JOIN day_marks m ON m.symbol = s.symbol AND s.day_no >= m.day_no
), deltas AS (
    SELECT vp_id, last_value(name) OVER w AS vp_name, symbol, position_side,
           CAST(epoch_ms(day_no * 86400000) AS DATE) AS day, mark, net_qty,
           CAST(realized - coalesce(lag(realized) OVER w, 0) AS {_DEC}) AS realized,
           CAST(unrealized - coalesce(lag(unrealized) OVER w, 0) AS {_DEC}) AS unrealized_change,
           CAST(fees - coalesce(lag(fees) OVER w, 0) AS {_DEC}) AS fees,
           CAST(funding - coalesce(lag(funding) OVER w, 0) AS {_DEC}) AS funding,
           CAST(unrealized AS {_DEC}) AS unrealized_eod,
           CAST(realized + unrealized - fees + funding AS {_DEC}) AS net_equity_eod
    FROM valued
    WINDOW w AS (PARTITION BY vp_id ORDER BY day_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT vp_id, vp_name, symbol, position_side, day, realized, unrealized_change, fees, funding,
       CAST(realized + unrealized_change - fees + funding AS {_DEC}) AS net_pnl,
       net_qty, mark, unrealized_eod, net_equity_eod
FROM deltas
""",
    # -- round trips (flat -> flat) per VP --------------------------------------------------------------
    "metric_round_trips": f"""
WITH h AS (
    SELECT vp_id, name, symbol, position_side, seq, ts, net_qty, realized_pnl, fees, funding,
           net_qty = 0 AS flat,
           coalesce(sum(CASE WHEN net_qty = 0 THEN 1 ELSE 0 END) OVER (
               PARTITION BY vp_id ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS trip_no,
           coalesce(lag(realized_pnl) OVER (PARTITION BY vp_id ORDER BY seq), 0) AS realized_before,
           coalesce(lag(fees) OVER (PARTITION BY vp_id ORDER BY seq), 0) AS fees_before,
           coalesce(lag(funding) OVER (PARTITION BY vp_id ORDER BY seq), 0) AS funding_before
    FROM vp_history
), trips AS (
    SELECT vp_id, trip_no, arg_max(name, seq) AS vp_name, any_value(symbol) AS symbol,
           any_value(position_side) AS position_side,
           min(ts) FILTER (WHERE NOT flat) AS open_ts, max(ts) FILTER (WHERE flat) AS close_ts,
           CAST(max(net_qty) AS {_DEC}) AS max_qty, count(*) FILTER (WHERE NOT flat) AS changes,
           CAST(arg_min(realized_before, seq) AS {_DEC}) AS realized_at_open,
           CAST(arg_max(realized_pnl, seq) AS {_DEC}) - CAST(arg_min(realized_before, seq) AS {_DEC}) AS realized,
           CAST(arg_max(fees, seq) AS {_DEC}) - CAST(arg_min(fees_before, seq) AS {_DEC}) AS fees,
           CAST(arg_max(funding, seq) AS {_DEC}) - CAST(arg_min(funding_before, seq) AS {_DEC}) AS funding
    FROM h GROUP BY vp_id, trip_no
    HAVING count(*) FILTER (WHERE NOT flat) > 0
)
SELECT vp_id, vp_name, symbol, position_side,
       row_number() OVER (PARTITION BY vp_id ORDER BY trip_no) AS trip_no, open_ts, close_ts,
       close_ts - open_ts AS holding_ms, close_ts IS NOT NULL AS closed, max_qty, changes,
       CAST(realized AS {_DEC}) AS realized, CAST(fees AS {_DEC}) AS fees, CAST(funding AS {_DEC}) AS funding,
       CAST(realized - fees + funding AS {_DEC}) AS net_pnl,
       CASE WHEN close_ts IS NULL THEN 'OPEN' WHEN realized - fees + funding > 0 THEN 'WIN'
            WHEN realized - fees + funding < 0 THEN 'LOSS' ELSE 'EVEN' END AS result,
       realized_at_open
FROM trips
""",
    # -- win rate and payoff per VP over closed round trips -------------------------------------------
    "metric_win_rate": f"""
WITH t AS (
    SELECT vp_id, count(*) AS trips, count(*) FILTER (WHERE result = 'WIN') AS wins,
           count(*) FILTER (WHERE result = 'LOSS') AS losses,
           CAST(coalesce(sum(net_pnl) FILTER (WHERE result = 'WIN'), 0) AS {_DEC}) AS gross_wins,
           CAST(coalesce(sum(net_pnl) FILTER (WHERE result = 'LOSS'), 0) AS {_DEC}) AS gross_losses,
           CAST(sum(net_pnl) AS {_DEC}) AS net_pnl,
           avg(net_pnl) FILTER (WHERE result = 'WIN') AS avg_win,
           avg(net_pnl) FILTER (WHERE result = 'LOSS') AS avg_loss,
           sum(net_pnl) FILTER (WHERE result = 'WIN') AS wins_sum,
           sum(net_pnl) FILTER (WHERE result = 'LOSS') AS losses_sum,
           avg(net_pnl) AS expectancy, avg(holding_ms) AS avg_holding_ms
    FROM metric_round_trips WHERE closed GROUP BY vp_id
)
SELECT v.vp_id, v.vp_name, v.symbol, v.position_side, coalesce(t.trips, 0) AS trips,
       coalesce(t.wins, 0) AS wins, coalesce(t.losses, 0) AS losses,
       t.wins / t.trips AS win_rate,
       coalesce(t.gross_wins, CAST(0 AS {_DEC})) AS gross_wins,
       coalesce(t.gross_losses, CAST(0 AS {_DEC})) AS gross_losses,
       coalesce(t.net_pnl, CAST(0 AS {_DEC})) AS net_pnl,
       CAST(t.avg_win AS DOUBLE) AS avg_win, CAST(t.avg_loss AS DOUBLE) AS avg_loss,
       CAST(t.avg_win / abs(t.avg_loss) AS DOUBLE) AS payoff_ratio,
       CAST(t.wins_sum / abs(t.losses_sum) AS DOUBLE) AS profit_factor,
       CAST(t.expectancy AS DOUBLE) AS expectancy, t.avg_holding_ms
FROM metric_vps v LEFT JOIN t USING (vp_id)
""",
    # -- MAE / MFE per round trip from the mark samples inside it ---------------------------------------
    "metric_mae_mfe": f"""
WITH samples AS (
    SELECT r.vp_id, r.trip_no, min(e.realized - r.realized_at_open + e.unrealized) AS worst,
           max(e.realized - r.realized_at_open + e.unrealized) AS best, count(*) AS samples
    FROM metric_round_trips r
    JOIN metric_equity_curve e ON e.vp_id = r.vp_id AND e.ts >= r.open_ts
         AND (r.close_ts IS NULL OR e.ts <= r.close_ts)
    GROUP BY r.vp_id, r.trip_no
)
SELECT r.vp_id, r.vp_name, r.symbol, r.position_side, r.trip_no, r.open_ts, r.close_ts, r.holding_ms,
       r.max_qty, r.realized, r.net_pnl, r.result,
       CAST(least(0, coalesce(s.worst, 0), CASE WHEN r.closed THEN r.realized ELSE 0 END) AS {_DEC}) AS mae,
       CAST(greatest(0, coalesce(s.best, 0), CASE WHEN r.closed THEN r.realized ELSE 0 END) AS {_DEC}) AS mfe,
       coalesce(s.samples, 0) AS samples
FROM metric_round_trips r LEFT JOIN samples s USING (vp_id, trip_no)
""",
    # -- fee and funding drag per VP --------------------------------------------------------------------
    "metric_fee_funding_drag": f"""
SELECT vp_id, vp_name, symbol, position_side, realized AS gross_realized, fees, funding,
       CAST(realized - fees + funding AS {_DEC}) AS net_pnl,
       CASE WHEN realized > 0 THEN CAST(fees AS DOUBLE) / CAST(realized AS DOUBLE) END AS fee_drag,
       CASE WHEN realized > 0 THEN -CAST(funding AS DOUBLE) / CAST(realized AS DOUBLE) END AS funding_drag,
       CASE WHEN realized > 0 THEN CAST(fees - funding AS DOUBLE) / CAST(realized AS DOUBLE) END AS total_drag
FROM metric_vps
""",
    # -- slippage per fill against the mark at order intent -------------------------------------------
    "metric_slippage": f"""
WITH s AS (
    SELECT f.seq, f.ts, f.trade_id, f.client_order_id, f.vp_id, f.vp_name, f.symbol, f.side, f.position_side,
           o.order_type, o.role, f.maker, f.qty, f.price, o.mark_at_intent,
           CAST(CASE f.side WHEN 'BUY' THEN f.price - o.mark_at_intent ELSE o.mark_at_intent - f.price END
                AS {_DEC}) AS slippage
    FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
    WHERE o.mark_at_intent IS NOT NULL AND o.mark_at_intent <> 0
)
SELECT *, CAST(CAST(qty AS {_QTY}) * slippage AS {_DEC}) AS slippage_cost,
       CAST(slippage AS DOUBLE) / CAST(mark_at_intent AS DOUBLE) * 10000 AS slippage_bps
FROM s
""",
    # -- maker / taker share per VP -----------------------------------------------------------------------
    "metric_maker_taker": f"""
WITH f AS (
    SELECT vp_id, maker, commission, commission_asset, CAST(CAST(qty AS {_QTY}) * price AS {_DEC}) AS notional
    FROM fills
), m AS (
    SELECT vp_id, count(*) AS fills, count(*) FILTER (WHERE maker) AS maker_fills,
           count(*) FILTER (WHERE NOT maker) AS taker_fills,
           CAST(coalesce(sum(notional) FILTER (WHERE maker), 0) AS {_DEC}) AS maker_notional,
           CAST(coalesce(sum(notional) FILTER (WHERE NOT maker), 0) AS {_DEC}) AS taker_notional,
           CAST(coalesce(sum(commission) FILTER (WHERE maker AND commission_asset = 'USDT'), 0) AS {_DEC})
               AS maker_fees,
           CAST(coalesce(sum(commission) FILTER (WHERE NOT maker AND commission_asset = 'USDT'), 0) AS {_DEC})
               AS taker_fees
    FROM f GROUP BY vp_id
)
SELECT v.vp_id, v.vp_name, v.symbol, v.position_side, coalesce(m.fills, 0) AS fills,
       coalesce(m.maker_fills, 0) AS maker_fills, coalesce(m.taker_fills, 0) AS taker_fills,
       m.maker_fills / m.fills AS maker_share,
       coalesce(m.maker_notional, CAST(0 AS {_DEC})) AS maker_notional,
       coalesce(m.taker_notional, CAST(0 AS {_DEC})) AS taker_notional,
       CAST(m.maker_notional AS DOUBLE) / nullif(CAST(m.maker_notional + m.taker_notional AS DOUBLE), 0)
           AS maker_notional_share,
       coalesce(m.maker_fees, CAST(0 AS {_DEC})) AS maker_fees, coalesce(m.taker_fees, CAST(0 AS {_DEC})) AS taker_fees
FROM metric_vps v LEFT JOIN m USING (vp_id)
""",
    # -- exposure over time per symbol + side ------------------------------------------------------------
    # -- drawdown, risk-adjusted figures and the report, per VP (other scopes: the functions) --------------
    "metric_drawdown": named(drawdown_sql(scope("vp"), "day")),
    "metric_risk_adjusted": named(risk_sql(scope("vp"), leverage_table(1))),
    "metric_report": report_sql(leverage_table(1)),
    "metric_exposure": f"""
SELECT symbol, position_side, ts, any_value(mark) AS mark, CAST(sum(net_qty) AS {_DEC}) AS net_qty,
       CAST(sum(CAST(net_qty AS {_QTY}) * mark) AS {_DEC}) AS notional,
       CAST(sum(CAST(net_qty AS {_QTY}) * mark) * (CASE position_side WHEN 'LONG' THEN 1 ELSE -1 END) AS {_DEC})
           AS signed_notional,
       count(*) FILTER (WHERE net_qty > 0) AS open_vps
FROM metric_equity_curve GROUP BY symbol, position_side, ts
""",
}

_installed: weakref.WeakSet[Any] = weakref.WeakSet()


def install_metric_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) every metric view as a TEMP view on ``con``.

    ``con`` must already see ``fills``, ``orders``, ``vp_history`` and ``marks`` (live or published).
    """
    for name, body in METRIC_VIEWS.items():
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {body}")
    try:
        _installed.add(con)
    except TypeError:  # pragma: no cover - a connection that cannot be weakly referenced
        pass


Source = Any  # an Analytics (live or published) or a DuckDB connection with the four views


def _connection(source: Source) -> duckdb.DuckDBPyConnection:
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source
    return source.connection  # an Analytics: refreshed, so the published views follow new files


def _query(source: Source, sql: str, params: list[Any]) -> pl.DataFrame:
    con = _connection(source)
    if con not in _installed:
        install_metric_views(con)
    return con.sql(sql, params=params or None).pl()


# ---------------------------------------------------------------------------------------------------------
def equity_curve(source: Source, *, vp: str | None = None, symbol: str | None = None,
                 since: int | None = None, until: int | None = None) -> pl.DataFrame:
    """Per-VP equity at every kept mark sample (view ``metric_equity_curve``).

    Definition: for each mark sample ``(symbol, ts, mark)`` at or after the VP's first history row, take the
    VP's state as of ``ts`` (its last ``vp_history`` row by ``(ts, seq)`` not after the sample) and value it:
    ``unrealized = d * net_qty * (mark - avg_entry)``, ``equity = realized + unrealized``,
    ``net_equity = equity - fees + funding`` (realized, fees and funding are the VP's cumulative figures).

    Example (LONG): buy 1 @ 100, buy 1 @ 110, then a mark of 125 → net_qty 2, avg 105, realized 0,
    unrealized 2 x (125 - 105) = 40, equity 40; with 0.1 of fees paid so far, net_equity 39.9.
    After sell 2 @ 120 a mark of 90 gives net_qty 0, unrealized 0, equity = realized = 30.

    Columns: vp_id, vp_name, symbol, position_side, ts, mark, net_qty, avg_entry, realized, unrealized, equity,
    fees, funding, net_equity (unrealized, equity, net_equity: exact DECIMAL(38, 28)). Ordered by vp_id, ts.

    Read from the ``vp_equity`` rollup, which the log computes once per mark sample
    (:meth:`~hedgestack.store.eventlog.EventLog.refresh_rollups`: live analytics refresh it before each query)
    and the publisher publishes sorted by (vp_id, ts): one VP's curve reads only its rows.
    """
    where, params = where_clause(vp=vp, symbol=symbol, since=since, until=until)
    curve = _query(source, f"SELECT {_EQUITY_SELECT} FROM vp_equity{where}", params)
    # each VP's rows come in time order (the rollup appends them so, the published files are sorted and listed
    # chronologically): checked here, and sorted only when they are not (~80 ms of DuckDB's ORDER BY saved on
    # half a million rows)
    if vp is not None and curve["ts"].is_sorted():
        return curve
    return curve.sort("vp_id", "ts")


def daily_pnl(source: Source, *, vp: str | None = None, symbol: str | None = None,
              since: str | None = None, until: str | None = None) -> pl.DataFrame:
    """Daily PnL per VP per UTC day (view ``metric_daily_pnl``).

    Definition: at the end of each UTC day from the VP's first day to the last day with history or marks,
    take the VP's state as of the day's last event and value it at the day's last mark. Then, against the
    previous day (zero before the first): ``realized`` = Δ cumulative realized, ``unrealized_change`` =
    Δ unrealized, ``fees`` = Δ fees, ``funding`` = Δ funding, and
    ``net_pnl = realized + unrealized_change - fees + funding``. Summed over the days, net_pnl equals the VP's
    ``net_equity_eod`` on the last day (nothing is lost between days).

    Example (LONG, one day then the next): day 1 buy 1 @ 100 and buy 1 @ 110 (fees 0.1), last mark 112 →
    realized 0, unrealized_change 2 x (112 - 105) = 14, fees 0.1, net_pnl 13.9. Day 2 sell 2 @ 120 (fees 0.05),
    last mark 118 → realized 30, unrealized_change 0 - 14 = -14, fees 0.05, net_pnl 15.95; 13.9 + 15.95 =
    29.85 = 30 - 0.15.

    ``since``/``until`` are dates (``YYYY-MM-DD``), ``until`` exclusive. Columns: vp_id, vp_name, symbol,
    position_side, day, realized, unrealized_change, fees, funding, net_pnl, net_qty, mark, unrealized_eod,
    net_equity_eod.
    """
    where, params = where_clause(vp=vp, symbol=symbol)
    clauses: list[str] = []
    if since is not None:
        clauses.append("day >= CAST(? AS DATE)")
        params.append(str(since))
    if until is not None:
        clauses.append("day < CAST(? AS DATE)")
        params.append(str(until))
    if clauses:
        where = (where + " AND " if where else " WHERE ") + " AND ".join(clauses)
    return _query(source, f"SELECT * FROM metric_daily_pnl{where} ORDER BY vp_id, day", params)


def round_trips(source: Source, *, vp: str | None = None, symbol: str | None = None,
                since: int | None = None, until: int | None = None) -> pl.DataFrame:
    """Round trips per VP, flat → flat (view ``metric_round_trips``).

    Definition: a trip starts with the first history row that leaves the VP with ``net_qty > 0`` after being
    flat and ends with the next row that leaves it flat (``close_ts``; NULL and ``result = 'OPEN'`` while it
    lasts). ``holding_ms = close_ts - open_ts``; ``realized``, ``fees`` and ``funding`` are the changes of the
    VP's cumulative figures over the trip (funding booked while open belongs to it);
    ``net_pnl = realized - fees + funding``; ``result`` is WIN (net > 0), LOSS (net < 0) or EVEN.
    ``realized_at_open`` is the VP's cumulative realized before the trip (used for MAE/MFE).

    Example (LONG): buy 1 @ 100 at t=1000 (fee 0.05), buy 1 @ 110 at t=2000 (fee 0.05), sell 2 @ 120 at
    t=5000 (fee 0.1) → one trip: open 1000, close 5000, holding 4000 ms, max_qty 2, realized
    2 x (120 - 105) = 30, fees 0.2, net 29.8, WIN.

    ``since``/``until`` filter on ``open_ts`` (Unix ms). Ordered by vp_id, trip_no.
    """
    where, params = where_clause(vp=vp, symbol=symbol, since=since, until=until, time_column="open_ts")
    return _query(source, f"SELECT * FROM metric_round_trips{where} ORDER BY vp_id, trip_no", params)


def win_rate(source: Source, *, vp: str | None = None, symbol: str | None = None) -> pl.DataFrame:
    """Win rate and payoff per VP over closed round trips (view ``metric_win_rate``).

    Definition: ``win_rate = wins / trips``; ``payoff_ratio = mean net of wins / |mean net of losses|``;
    ``profit_factor = Σ wins / |Σ losses|``; ``expectancy`` = mean net per trip. Sums are exact DECIMAL; the
    means and ratios are DOUBLE. EVEN trips count as trips but neither wins nor losses.

    Example: trips netting +30, -10, +20, -5 → win_rate 0.5, avg_win 25, avg_loss -7.5, payoff 3.333…,
    profit_factor 50 / 15 = 3.333…, expectancy 8.75, net 35.
    """
    where, params = where_clause(vp=vp, symbol=symbol)
    return _query(source, f"SELECT * FROM metric_win_rate{where} ORDER BY vp_id", params)


def mae_mfe(source: Source, *, vp: str | None = None, symbol: str | None = None,
            since: int | None = None, until: int | None = None) -> pl.DataFrame:
    """MAE/MFE per round trip from the kept mark samples (view ``metric_mae_mfe``).

    Definition: at each mark sample in ``[open_ts, close_ts]`` the trip's running PnL is
    ``(realized now - realized_at_open) + unrealized`` (gross of fees, the VP's state as of the sample).
    ``mae = min(0, samples, final realized)`` (≤ 0: the worst the trip stood), ``mfe = max(0, samples,
    final realized)`` (≥ 0: the best); an open trip uses 0 instead of a final realized. ``samples`` is the
    number of marks seen: a trip shorter than the sampling interval has only its end points.

    Example (LONG): buy 1 @ 100 at t=1000, buy 1 @ 110 at t=2000, sell 2 @ 120 at t=5000; marks 95 at
    t=1500 (1 x (95 - 100) = -5), 90 at t=3000 (2 x (90 - 105) = -30), 125 at t=4000 (2 x 20 = 40) →
    mae -30, mfe 40, realized 30, samples 3.
    """
    where, params = where_clause(vp=vp, symbol=symbol, since=since, until=until, time_column="open_ts")
    return _query(source, f"SELECT * FROM metric_mae_mfe{where} ORDER BY vp_id, trip_no", params)


def fee_funding_drag(source: Source, *, vp: str | None = None, symbol: str | None = None) -> pl.DataFrame:
    """Fee and funding drag per VP (view ``metric_fee_funding_drag``).

    Definition: from the VP's latest figures, ``fee_drag = fees / gross_realized``, ``funding_drag =
    -funding / gross_realized`` (positive = funding cost the VP), ``total_drag = (fees - funding) /
    gross_realized``: the share of the gross realized PnL that fees and funding took. NULL when the gross
    realized is not positive (no share of a loss). ``net_pnl = gross_realized - fees + funding`` (exact).

    Example: realized 30, fees 0.2, funding -0.1 (paid) → fee_drag 0.00667, funding_drag 0.00333,
    total_drag 0.01, net 29.7.
    """
    where, params = where_clause(vp=vp, symbol=symbol)
    return _query(source, f"SELECT * FROM metric_fee_funding_drag{where} ORDER BY vp_id", params)


def slippage(source: Source, *, vp: str | None = None, symbol: str | None = None, since: int | None = None,
             until: int | None = None, per: str = "fill") -> pl.DataFrame:
    """Slippage of fills against the mark at order intent (view ``metric_slippage``).

    Definition per fill whose order carries ``mark_at_intent``: ``slippage = price - mark`` for BUY and
    ``mark - price`` for SELL, so positive = worse for the trader; ``slippage_cost = qty x slippage`` (USDT),
    ``slippage_bps = slippage / mark x 10 000``. With ``per="vp"``: per VP, fills, qty, Σ slippage_cost
    (exact) and the notional-weighted ``slippage_bps = Σ cost / Σ (qty x mark) x 10 000``.

    Example: a BUY of 2 filled at 100.05 with mark 100.00 at intent → slippage 0.05, cost 0.10, 5 bps; a SELL
    of 1 at 120 with mark 120.06 → slippage 0.06, 5 bps. Together (per VP): cost 0.16 over notional
    320.06 → 4.999 bps.
    """
    where, params = where_clause(vp=vp, symbol=symbol, since=since, until=until)
    if per == "fill":
        return _query(source, f"SELECT * FROM metric_slippage{where} ORDER BY ts, seq", params)
    if per != "vp":
        raise ValueError("per must be 'fill' or 'vp'")
    vps, vp_params = where_clause(vp=vp, symbol=symbol)
    return _query(source, f"""
        WITH s AS (
            SELECT vp_id, count(*) AS fills, CAST(sum(qty) AS {_DEC}) AS qty,
                   CAST(sum(slippage_cost) AS {_DEC}) AS slippage_cost,
                   CAST(sum(slippage_cost) AS DOUBLE)
                       / CAST(sum(CAST(qty AS {_QTY}) * mark_at_intent) AS DOUBLE) * 10000 AS slippage_bps
            FROM metric_slippage{where} GROUP BY vp_id)
        SELECT v.vp_id, v.vp_name, v.symbol, v.position_side, coalesce(s.fills, 0) AS fills,
               coalesce(s.qty, CAST(0 AS {_DEC})) AS qty, coalesce(s.slippage_cost, CAST(0 AS {_DEC})) AS slippage_cost,
               s.slippage_bps
        FROM (SELECT * FROM metric_vps{vps}) v LEFT JOIN s USING (vp_id) ORDER BY v.vp_id""", params + vp_params)


def maker_taker(source: Source, *, vp: str | None = None, symbol: str | None = None) -> pl.DataFrame:
    """Maker/taker share per VP (view ``metric_maker_taker``).

    Definition: ``maker_share = maker fills / fills``; ``maker_notional_share = Σ maker qty x price /
    Σ qty x price``; maker and taker USDT fees apart (exact).

    Example: maker 1 @ 100 (fee 0.02) and taker 3 @ 100 (fee 0.15) → maker_share 0.25, notionals 100 and 300,
    maker_notional_share 0.25, maker_fees 0.02, taker_fees 0.15.
    """
    where, params = where_clause(vp=vp, symbol=symbol)
    return _query(source, f"SELECT * FROM metric_maker_taker{where} ORDER BY vp_id", params)


def exposure(source: Source, *, symbol: str | None = None, side: str | None = None, since: int | None = None,
             until: int | None = None) -> pl.DataFrame:
    """Exposure over time per symbol + position side (view ``metric_exposure``).

    Definition: at each mark sample, ``notional = Σ over the side's VPs of net_qty x mark`` (their state as
    of the sample), ``signed_notional = d x notional`` (shorts negative), ``open_vps`` = VPs holding
    quantity.

    Example: BTCUSDT LONG VPs holding 2 and 0.5 at mark 100 → net_qty 2.5, notional 250; a SHORT VP
    holding 1 → notional 100, signed -100.
    """
    where, params = where_clause(symbol=symbol, side=side, since=since, until=until)
    return _query(source, f"SELECT * FROM metric_exposure{where} ORDER BY symbol, position_side, ts", params)


# -- drawdown, risk-adjusted return, the per-VP report --------------------------------------------------------
Leverage = Decimal | int | str | Mapping[str, Decimal | int | str]


def drawdown(source: Source, *, by: str = "vp", freq: str = "day") -> pl.DataFrame:
    """Drawdown of net equity per scope (view ``metric_drawdown``: per VP, daily).

    ``by``: ``"vp"``, ``"symbol"``, ``"side"`` (LONG/SHORT across symbols), ``"symbol_side"`` or ``"all"``; a
    group's equity is the sum of its VPs'. ``freq``: ``"day"`` (net equity at the end of each UTC day, as
    :func:`daily_pnl` values it; times are dates, durations days) or ``"sample"`` (at each kept mark sample, as
    :func:`equity_curve`; times are Unix ms, durations ms).

    Definition: equity starts at 0 before the first point; the drawdown at a point is the running peak (0
    included) minus equity. ``max_drawdown`` is the largest (USDT, exact), with its peak equity, the peak's
    time (``max_drawdown_start``), the trough's, and when equity got back to the peak (``..._recovered``, NULL
    while it has not). An underwater period runs from a peak to the first point back at or above it (or to the
    last point while it lasts): ``longest_drawdown_days`` (or ``_ms``) is the longest, ``drawdown_periods`` how
    many there were, ``current_drawdown`` the drawdown at the last point.

    Example (daily net PnL +10, -4, -3, +5, +1 from day 1): equity 10, 6, 3, 8, 9 → peak 10 at day 1, trough 3
    at day 3: max_drawdown 7 (peak 10), never recovered (9 < 10): longest drawdown day 1 → day 5 = 4 days, one
    period, current drawdown 1.

    Columns: the scope's keys (``vp_id, vp_name, symbol, position_side`` per VP; ``scope = 'ALL'`` for
    ``all``), then the figures above. Every VP (or group) is listed, a VP that never fell below its peak
    with ``max_drawdown`` 0 and no dates.
    """
    group = scope(by)
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {FREQS}, not {freq!r}")
    sql = drawdown_sql(group, freq)
    if by == "vp":
        sql = named(sql)
    return _query(source, f"SELECT * FROM ({sql}) ORDER BY {group.names}", [])


def drawdown_curve(source: Source, *, by: str = "all", freq: str = "day") -> pl.DataFrame:
    """The equity series behind :func:`drawdown`, to plot it: per scope and point, ``equity``, its running
    ``peak`` and the ``drawdown`` (peak - equity), starting with the zero before the first point.

    ``freq="day"``: one row per UTC day (``day``, the equity at its end); ``"sample"``: one per kept mark sample
    (``ts``, Unix ms). Columns: the scope's keys, ``day`` or ``ts``, equity, peak, drawdown.

    Example (daily net PnL +10, -4, -3, +5, +1 from day 1): rows for day 0 (0, 0, 0), then equity 10, 6, 3, 8,
    9 with peak 10 and drawdown 0, 4, 7, 2, 1.
    """
    group = scope(by)
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {FREQS}, not {freq!r}")
    when = "CAST(epoch_ms(t * 86400000) AS DATE) AS day" if freq == "day" else "t AS ts"
    return _query(source, f"SELECT {group.names}, {when}, equity, peak, drawdown FROM ({curve_sql(group, freq)}) "
                          f"ORDER BY {group.names}, t, o", [])


def risk_adjusted(source: Source, *, by: str = "vp", leverage: Leverage = 1) -> pl.DataFrame:
    """Risk-adjusted figures per scope (view ``metric_risk_adjusted``: per VP, leverage 1).

    ``by`` as for :func:`drawdown`. Over the scope's UTC days (from its first to the last day of the data, as
    :func:`daily_pnl` gives them, summed over its VPs):

    - ``net_pnl`` (exact), ``mean_daily_pnl``, ``stdev_daily_pnl`` (sample), ``downside_deviation``
      (``sqrt(mean(min(0, pnl)^2))`` over every day), ``sharpe = mean / stdev x sqrt(365)``,
      ``sortino = mean / downside x sqrt(365)`` (NULL when the deviation is 0), ``winning_days``,
      ``losing_days``, ``losing_streak_days`` (most consecutive days with a negative net PnL) and
      ``losing_streak_trips`` (most consecutive closed round trips that lost, in the order they closed);
    - ``time_in_market``: the share of time from the scope's first history row to the end of the data during
      which it held a position (``time_in_market_ms`` the time itself);
    - ``peak_margin``: the largest cost basis (``net_qty x avg_entry``) the scope held at once, over
      ``leverage`` (one number for every symbol, or a mapping symbol -> leverage; 1 by default: the
      capital at cost); ``return_on_margin = net_pnl / peak_margin``.

    Example: daily net PnL +10, -4, -3, +5, +1 → mean 1.8, sample stdev sqrt(134.8 / 4) = 5.805, downside
    deviation sqrt((16 + 9) / 5) = 2.236 → Sharpe 1.8 / 5.805 x sqrt(365) = 5.92, Sortino 1.8 / 2.236 x 19.105
    = 15.38; losing streak 2 days. A VP that bought 2 @ 100 then 1 @ 110 held a cost basis of 310 at most: with net PnL
    +15.5 and leverage 10, return on margin 15.5 / 31 = 0.5.
    """
    group = scope(by)
    sql = risk_sql(group, leverage_table(leverage))
    if by == "vp":
        sql = named(sql)
    return _query(source, f"SELECT * FROM ({sql}) ORDER BY {group.names}", [])


def report(source: Source, *, vp: str | None = None, symbol: str | None = None,
           leverage: Leverage = 1) -> pl.DataFrame:
    """The per-VP report: one row per VP (every VP: open, flat, UNASSIGNED, archived), one frame for the
    dashboard's history area and the notebook (view ``metric_report``, leverage 1).

    Columns: who (``vp_id, vp_name, symbol, position_side, archived``, ``first_day``, ``last_day``); where it
    stands (``net_qty, avg_entry``, the last day's ``mark`` and ``unrealized``); what it made (``realized,
    fees, funding, net_pnl = realized - fees + funding``, ``net_equity`` = net_pnl + unrealized at the last
    mark, exact); how it trades (``fills, maker_share, slippage_bps``); its round trips (``trips`` closed,
    ``open_trip``, ``win_rate, payoff_ratio, profit_factor, expectancy, avg_holding_ms``); its risk
    (``max_drawdown`` and its dates, ``longest_drawdown_days, current_drawdown`` from :func:`drawdown`;
    ``time_in_market, peak_margin, return_on_margin, sharpe, sortino, losing_streak_days,
    losing_streak_trips, days`` from :func:`risk_adjusted`). A figure that does not apply is NULL (no closed
    trip: no win rate; no fill: no maker share).
    """
    where, params = where_clause(vp=vp, symbol=symbol)
    return _query(source, f"SELECT * FROM ({report_sql(leverage_table(leverage))}){where} ORDER BY vp_id", params)
