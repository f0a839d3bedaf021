"""SQL for the risk figures of :mod:`hedgestack.store.metrics`: drawdown, risk-adjusted return, the per-VP report.

Every query reads the views the metrics install (``metric_vps``, ``metric_daily_pnl``, ``metric_round_trips``,
``vp_history``, ``vp_equity``, ``marks``), so it runs on the live connection and on the published Parquet alike.
A *scope* groups VPs: one VP, a symbol, a position side, a symbol and side, or everything; a group's series is
the sum of its VPs' (a VP counts from its first day or sample on, with zero before).

Definitions (the functions' docstrings give worked examples):

- equity: net equity ``realized + unrealized - fees + funding``, at the end of each UTC day (``freq="day"``:
  the running sum of ``metric_daily_pnl.net_pnl``) or at each kept mark sample (``freq="sample"``: the
  ``vp_equity`` curve), starting from 0 before the first point.
- drawdown at a point: the running peak of equity (0 included) minus equity. An underwater period starts at a
  peak and ends at the first point back at or above it (still open when none). Its duration is end - start.
- Sharpe and Sortino of daily net PnL, annualised with sqrt(365) (crypto trades every day): mean / sample
  standard deviation, and mean / downside deviation ``sqrt(mean(min(0, pnl)^2))`` over every day.
- time in market: the share of the scope's time (from its first history row to the end of the data) during
  which it held a position (any of its VPs with ``net_qty > 0``).
- margin used: the largest cost basis (``net_qty x avg_entry``) the scope held at once, divided by the leverage;
  return on margin = net PnL / that.
- losing streaks: the most consecutive days with a negative net PnL, and the most consecutive closed round trips
  that lost (in the order they closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

#: the scopes a risk figure can be grouped by, and their key columns
SCOPES: dict[str, tuple[str, ...]] = {"vp": ("vp_id",), "symbol": ("symbol",), "side": ("position_side",),
                                      "symbol_side": ("symbol", "position_side"), "all": ("scope",)}
FREQS = ("day", "sample")
DAY_MS = 86_400_000
_DEC = "DECIMAL(38, 18)"
_EQ = "DECIMAL(38, 28)"


@dataclass(frozen=True)
class Scope:
    """The key columns of a grouping (``scope`` is the constant ``'ALL'`` for ``all``)."""

    keys: tuple[str, ...]

    @property
    def select(self) -> str:
        """The key columns as selected from a relation holding a VP's symbol and side."""
        return ", ".join("'ALL' AS scope" if key == "scope" else key for key in self.keys)

    @property
    def names(self) -> str:
        return ", ".join(self.keys)

    def prefixed(self, alias: str) -> str:
        return ", ".join(f"{alias}.{key}" for key in self.keys)

    def join(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{key} = {right}.{key}" for key in self.keys)


def scope(by: str) -> Scope:
    if by not in SCOPES:
        raise ValueError(f"by must be one of {tuple(SCOPES)}, not {by!r}")
    return Scope(SCOPES[by])


def leverage_table(leverage: Decimal | int | str | Mapping[str, Decimal | int | str]) -> str:
    """SQL: a relation (symbol, leverage) from one leverage for every symbol or a mapping symbol -> leverage
    (symbols not in the mapping: 1). Leverages must be positive."""
    if isinstance(leverage, Mapping):
        pairs = {str(symbol): Decimal(str(value)) for symbol, value in leverage.items()}
        default = Decimal(1)
    else:
        pairs, default = {}, Decimal(str(leverage))
    for value in (*pairs.values(), default):
        if not value.is_finite() or value <= 0:
            raise ValueError(f"leverage must be positive, not {value}")
    rows = ", ".join(f"('{symbol.replace(chr(39), '')}', CAST('{value}' AS {_DEC}))" for symbol, value in pairs.items())
    listed = f"SELECT * FROM (VALUES {rows}) l(symbol, leverage)" if rows else \
        f"SELECT CAST(NULL AS VARCHAR) AS symbol, CAST(NULL AS {_DEC}) AS leverage WHERE false"
    return (f"(SELECT v.symbol, coalesce(l.leverage, CAST('{default}' AS {_DEC})) AS leverage "
            f"FROM (SELECT DISTINCT symbol FROM metric_vps) v LEFT JOIN ({listed}) l USING (symbol))")


# -- series ------------------------------------------------------------------------------------------------
def series_sql(s: Scope, freq: str) -> str:
    """SQL: the scope's equity series ``(keys..., t, equity)``: ``t`` the day number (days since 1970-01-01, the
    end of that day) or the sample's Unix ms."""
    if freq == "day":
        return f"""
SELECT {s.names}, t, sum(net_pnl) OVER (PARTITION BY {s.names} ORDER BY t) AS equity
FROM (SELECT {s.select}, day - DATE '1970-01-01' AS t, CAST(sum(net_pnl) AS {_DEC}) AS net_pnl
      FROM metric_daily_pnl GROUP BY ALL)"""
    if freq != "sample":
        raise ValueError(f"freq must be one of {FREQS}, not {freq!r}")
    if s.keys == ("vp_id",):
        return "SELECT vp_id, ts AS t, net_equity AS equity FROM vp_equity"
    # a group: each VP's changes at its samples, summed per time, then run up (a VP's last value holds between
    # its samples, so VPs of symbols sampled at different times add up exactly)
    return f"""
SELECT {s.names}, t, sum(change) OVER (PARTITION BY {s.names} ORDER BY t) AS equity
FROM (SELECT {s.names}, t, CAST(sum(change) AS {_EQ}) AS change
      FROM (SELECT {s.select}, ts AS t,
                   net_equity - coalesce(lag(net_equity) OVER (PARTITION BY vp_id ORDER BY ts), 0) AS change
            FROM vp_equity)
      GROUP BY ALL)"""


def curve_sql(s: Scope, freq: str) -> str:
    """SQL: the scope's equity series with its running peak and drawdown at each point ``(keys..., t, equity,
    peak, drawdown)``, the zero before the first point included (``t`` as :func:`series_sql`)."""
    unit = 1 if freq == "day" else 0
    return f"""
WITH series AS ({series_sql(s, freq)}
), points AS (
    SELECT {s.names}, t, 1 AS o, equity FROM series
    UNION ALL
    SELECT {s.names}, min(t) - {unit} AS t, 0 AS o, 0 AS equity FROM series GROUP BY {s.names}
)
SELECT {s.names}, t, o, CAST(equity AS {_EQ if freq == "sample" else _DEC}) AS equity,
       CAST(max(equity) OVER w AS {_EQ if freq == "sample" else _DEC}) AS peak,
       CAST(max(equity) OVER w - equity AS {_EQ if freq == "sample" else _DEC}) AS drawdown
FROM points WINDOW w AS (PARTITION BY {s.names} ORDER BY t, o ROWS UNBOUNDED PRECEDING)"""


def drawdown_sql(s: Scope, freq: str) -> str:
    """SQL: per scope, the drawdown figures of its equity series (see the module docstring)."""
    unit = 1 if freq == "day" else 0  # the zero before the first point: the day before, or the first sample
    when = ("CAST(epoch_ms({t} * 86400000) AS DATE)" if freq == "day" else "{t}")
    span = "_days" if freq == "day" else "_ms"
    moment = "" if freq == "day" else "_ts"
    return f"""
WITH series AS ({series_sql(s, freq)}
), points AS (
    SELECT {s.names}, t, 1 AS o, equity FROM series
    UNION ALL
    SELECT {s.names}, min(t) - {unit} AS t, 0 AS o, 0 AS equity FROM series GROUP BY {s.names}
), run AS (
    SELECT *, max(equity) OVER w AS peak FROM points
    WINDOW w AS (PARTITION BY {s.names} ORDER BY t, o ROWS UNBOUNDED PRECEDING)
), marked AS (
    SELECT *, peak - equity AS dd,
           sum(CASE WHEN equity >= peak THEN 1 ELSE 0 END) OVER w AS island,
           last_value(t) OVER (PARTITION BY {s.names} ORDER BY t, o ROWS BETWEEN UNBOUNDED PRECEDING
                               AND UNBOUNDED FOLLOWING) AS end_t
    FROM run
    WINDOW w AS (PARTITION BY {s.names} ORDER BY t, o ROWS UNBOUNDED PRECEDING)
), islands AS (
    SELECT {s.names}, island, min(t) AS start_t, arg_min(equity, (t, o)) AS peak_equity, max(dd) AS depth,
           arg_max(t, dd) AS trough_t, count(*) - 1 AS under, any_value(end_t) AS end_t
    FROM marked GROUP BY {s.names}, island
), periods AS (
    SELECT *, lead(start_t) OVER (PARTITION BY {s.names} ORDER BY island) AS recovery_t,
           coalesce(lead(start_t) OVER (PARTITION BY {s.names} ORDER BY island), end_t) - start_t AS length
    FROM islands
), last_point AS (
    SELECT {s.names}, arg_max(dd, (t, o)) AS current_dd, max(t) AS last_t FROM marked GROUP BY {s.names}
), worst AS (
    SELECT {s.names}, arg_max_null(depth, (depth, -island)) AS depth,
           arg_max_null(peak_equity, (depth, -island)) AS peak, arg_max_null(start_t, (depth, -island)) AS start_t,
           arg_max_null(trough_t, (depth, -island)) AS trough_t,
           arg_max_null(recovery_t, (depth, -island)) AS recovery_t
    FROM periods WHERE under > 0 GROUP BY {s.names}
), longest AS (
    SELECT {s.names}, max(length) AS length, arg_max_null(start_t, (length, -island)) AS start_t,
           arg_max_null(recovery_t, (length, -island)) AS recovery_t,
           count(*) AS periods
    FROM periods WHERE under > 0 GROUP BY {s.names}
)
SELECT {s.prefixed('l')},
       CAST(coalesce(w.depth, 0) AS {_DEC}) AS max_drawdown,
       CAST(w.peak AS {_DEC}) AS max_drawdown_peak,
       {when.format(t='w.start_t')} AS max_drawdown_start{moment},
       {when.format(t='w.trough_t')} AS max_drawdown_trough{moment},
       {when.format(t='w.recovery_t')} AS max_drawdown_recovered{moment},
       coalesce(g.length, 0) AS longest_drawdown{span},
       {when.format(t='g.start_t')} AS longest_drawdown_start{moment},
       {when.format(t='g.recovery_t')} AS longest_drawdown_recovered{moment},
       coalesce(g.periods, 0) AS drawdown_periods,
       CAST(l.current_dd AS {_DEC}) AS current_drawdown
FROM last_point l LEFT JOIN worst w ON {s.join('w', 'l')} LEFT JOIN longest g ON {s.join('g', 'l')}"""


def risk_sql(s: Scope, leverage: str, trips: str = "metric_round_trips") -> str:
    """SQL: per scope, the risk-adjusted figures (see the module docstring); ``leverage`` is a relation
    (symbol, leverage), ``trips`` the round trips (``metric_round_trips``, or a materialized copy of it)."""
    return f"""
WITH rt AS MATERIALIZED (  -- the round trips, read once for the streaks and the time in market
    SELECT vp_id, symbol, position_side, trip_no, open_ts, close_ts, closed, result FROM {trips}
), daily AS (
    SELECT {s.names}, day, CAST(sum(net_pnl) AS {_DEC}) AS net_pnl
    FROM (SELECT {s.select}, day, net_pnl FROM metric_daily_pnl) GROUP BY ALL
), stats AS (
    SELECT {s.names}, count(*) AS days, CAST(sum(net_pnl) AS {_DEC}) AS net_pnl,
           avg(CAST(net_pnl AS DOUBLE)) AS mean_daily_pnl, stddev_samp(CAST(net_pnl AS DOUBLE)) AS stdev_daily_pnl,
           sqrt(avg(least(CAST(net_pnl AS DOUBLE), 0) ^ 2)) AS downside_deviation,
           count(*) FILTER (WHERE net_pnl > 0) AS winning_days, count(*) FILTER (WHERE net_pnl < 0) AS losing_days
    FROM daily GROUP BY {s.names}
), day_runs AS (
    SELECT {s.names}, count(*) AS length
    FROM (SELECT *, row_number() OVER (PARTITION BY {s.names} ORDER BY day)
                    - row_number() OVER (PARTITION BY {s.names}, net_pnl < 0 ORDER BY day) AS run
          FROM daily)
    WHERE net_pnl < 0 GROUP BY {s.names}, run
), trip_runs AS (
    SELECT {s.names}, count(*) AS length
    FROM (SELECT *, row_number() OVER (PARTITION BY {s.names} ORDER BY close_ts, vp, trip_no)
                    - row_number() OVER (PARTITION BY {s.names}, result = 'LOSS' ORDER BY close_ts, vp, trip_no)
                    AS run
          FROM (SELECT {s.select}, vp_id AS vp, trip_no, close_ts, result FROM rt WHERE closed))
    WHERE result = 'LOSS' GROUP BY {s.names}, run
), history AS (
    SELECT {s.select}, h.vp_id AS vp, h.ts, h.seq, l.leverage,
           CAST(h.net_qty AS DECIMAL(38, 10)) * h.avg_entry AS basis  -- the cost basis held, exact
    FROM vp_history h JOIN {leverage} l USING (symbol)
), data_end AS (
    SELECT greatest((SELECT max(ts) FROM vp_history), coalesce((SELECT max(ts) FROM marks), 0)) AS ts
), edges AS (  -- each round trip holds a position from its open to its close (or the end of the data)
    SELECT {s.select}, open_ts AS ts, 1 AS held FROM rt
    UNION ALL
    SELECT {s.select}, coalesce(close_ts, (SELECT ts FROM data_end)), -1 FROM rt
), held AS (
    SELECT {s.names}, sum(CASE WHEN holding > 0 THEN coalesce(next_ts, ts) - ts ELSE 0 END) AS held_ms
    FROM (SELECT {s.names}, ts, sum(held) OVER w AS holding, lead(ts) OVER w AS next_ts
          FROM edges WINDOW w AS (PARTITION BY {s.names} ORDER BY ts, held DESC ROWS UNBOUNDED PRECEDING))
    GROUP BY {s.names}
), margins AS ({_margins_sql(s)}
), market AS (
    SELECT {s.prefixed('m')}, m.first_ts, coalesce(h.held_ms, 0) AS held_ms,
           (SELECT ts FROM data_end) - m.first_ts AS span_ms, m.peak_margin
    FROM margins m LEFT JOIN held h ON {s.join('h', 'm')}
), day_streak AS (
    SELECT {s.names}, max(length) AS length FROM day_runs GROUP BY {s.names}
), trip_streak AS (
    SELECT {s.names}, max(length) AS length FROM trip_runs GROUP BY {s.names}
)
SELECT {s.prefixed('m')}, m.first_ts, st.days, st.net_pnl, st.mean_daily_pnl, st.stdev_daily_pnl,
       st.downside_deviation,
       CASE WHEN st.stdev_daily_pnl > 0 THEN st.mean_daily_pnl / st.stdev_daily_pnl * sqrt(365) END AS sharpe,
       CASE WHEN st.downside_deviation > 0 THEN st.mean_daily_pnl / st.downside_deviation * sqrt(365) END
           AS sortino,
       st.winning_days, st.losing_days,
       coalesce(ds.length, 0) AS losing_streak_days, coalesce(ts.length, 0) AS losing_streak_trips,
       CAST(m.held_ms AS BIGINT) AS time_in_market_ms,
       CASE WHEN m.span_ms > 0 THEN m.held_ms / m.span_ms END AS time_in_market,
       CAST(m.peak_margin AS {_DEC}) AS peak_margin,
       CASE WHEN m.peak_margin > 0 THEN CAST(st.net_pnl AS DOUBLE) / CAST(m.peak_margin AS DOUBLE) END
           AS return_on_margin
FROM market m LEFT JOIN stats st ON {s.join('st', 'm')} LEFT JOIN day_streak ds ON {s.join('ds', 'm')}
LEFT JOIN trip_streak ts ON {s.join('ts', 'm')}"""


def _margins_sql(s: Scope) -> str:
    """SQL (over the CTE ``history``): per scope, its first time and the largest margin it held at once. One VP:
    the largest of its rows; a group: the running sum of its VPs' changes (a window over every history row)."""
    if s.keys == ("vp_id",):  # the largest basis, then over the leverage (a division: rounded to 1e-18)
        return (f"SELECT vp_id, min(ts) AS first_ts, CASE WHEN any_value(leverage) = 1 THEN CAST(max(basis) AS {_DEC}) "
                f"ELSE CAST(max(basis) / any_value(leverage) AS {_DEC}) END AS peak_margin FROM history GROUP BY vp_id")
    return f"""
    SELECT {s.names}, min(ts) AS first_ts, max(margin) AS peak_margin
    FROM (SELECT {s.names}, ts, sum(margin_change) OVER (PARTITION BY {s.names} ORDER BY ts, seq
                                                        ROWS UNBOUNDED PRECEDING) AS margin
          FROM (SELECT {s.names}, ts, seq, margin - coalesce(lag(margin) OVER (PARTITION BY vp ORDER BY seq), 0)
                           AS margin_change
                FROM (SELECT *, CASE WHEN leverage = 1 THEN CAST(basis AS {_DEC})
                                     ELSE CAST(basis / leverage AS {_DEC}) END AS margin FROM history)))
    GROUP BY {s.names}"""


def named(sql: str) -> str:
    """SQL: a per-VP result (keyed by vp_id) with the VP's name, symbol and side first."""
    return (f"SELECT v.vp_id, v.vp_name, v.symbol, v.position_side, r.* EXCLUDE (vp_id) "
            f"FROM metric_vps v JOIN ({sql}) r USING (vp_id)")


def report_sql(leverage: str) -> str:
    """SQL: the per-VP report, one row per VP (every VP), ``leverage`` a relation (symbol, leverage). The round
    trips and the fills are read once (materialized) for the figures that use them."""
    vp = scope("vp")
    return f"""
WITH trips AS MATERIALIZED (
    SELECT * FROM metric_round_trips
), trip_figures AS (
    SELECT vp_id, count(*) FILTER (WHERE closed) AS trips, bool_or(NOT closed) AS open_trip,
           count(*) FILTER (WHERE result = 'WIN') / count(*) FILTER (WHERE closed) AS win_rate,
           CAST(avg(net_pnl) FILTER (WHERE result = 'WIN') / abs(avg(net_pnl) FILTER (WHERE result = 'LOSS'))
                AS DOUBLE) AS payoff_ratio,
           CAST(sum(net_pnl) FILTER (WHERE result = 'WIN') / abs(sum(net_pnl) FILTER (WHERE result = 'LOSS'))
                AS DOUBLE) AS profit_factor,
           CAST(avg(net_pnl) FILTER (WHERE closed) AS DOUBLE) AS expectancy,
           avg(holding_ms) FILTER (WHERE closed) AS avg_holding_ms
    FROM trips GROUP BY vp_id
), last_day AS (
    SELECT vp_id, arg_max_null(mark, day) AS mark, arg_max_null(unrealized_eod, day) AS unrealized,
           arg_max_null(net_equity_eod, day) AS net_equity, max(day) AS last_day
    FROM metric_daily_pnl GROUP BY vp_id
), fill_figures AS (
    SELECT vp_id, count(*) AS fills, count(*) FILTER (WHERE maker) / count(*) AS maker_share
    FROM fills GROUP BY vp_id
), slip AS (
    SELECT vp_id, CAST(sum(slippage_cost) AS DOUBLE)
                  / CAST(sum(CAST(qty AS DECIMAL(38, 10)) * mark_at_intent) AS DOUBLE) * 10000 AS slippage_bps
    FROM metric_slippage GROUP BY vp_id
), dd AS ({drawdown_sql(vp, "day")}
), risk AS ({risk_sql(vp, leverage, "trips")}
)
SELECT v.vp_id, v.vp_name, v.symbol, v.position_side, v.archived, v.first_day, d.last_day,
       v.net_qty, v.avg_entry, d.mark, CAST(d.unrealized AS {_DEC}) AS unrealized,
       v.realized, v.fees, v.funding, CAST(v.realized - v.fees + v.funding AS {_DEC}) AS net_pnl,
       CAST(d.net_equity AS {_DEC}) AS net_equity,
       coalesce(f.fills, 0) AS fills, f.maker_share, s.slippage_bps,
       coalesce(t.trips, 0) AS trips, coalesce(t.open_trip, false) AS open_trip, t.win_rate, t.payoff_ratio,
       t.profit_factor, t.expectancy, t.avg_holding_ms,
       dd.max_drawdown, dd.max_drawdown_start, dd.max_drawdown_trough, dd.max_drawdown_recovered,
       dd.longest_drawdown_days, dd.current_drawdown,
       r.time_in_market, r.peak_margin, r.return_on_margin, r.sharpe, r.sortino,
       r.losing_streak_days, r.losing_streak_trips, r.days
FROM metric_vps v
LEFT JOIN last_day d USING (vp_id) LEFT JOIN trip_figures t USING (vp_id) LEFT JOIN slip s USING (vp_id)
LEFT JOIN fill_figures f USING (vp_id) LEFT JOIN dd USING (vp_id) LEFT JOIN risk r USING (vp_id)"""
