"""Analytics over the fill history as polars frames: live (owning process) or from published Parquet.

Both give the same surface: ``fills()``, ``orders()``, ``vp_history()`` and ``sql(query)``, where the query
sees views named ``fills``, ``orders``, ``vp_history``, ``marks``, ``marks_eod`` (the last mark per symbol per
UTC day), ``vp_eod_current`` (the last state of each VP per UTC day, from the rollup the log keeps
incrementally) and ``vp_equity`` (each VP's equity at each mark sample, the log's other rollup; published, it is
as of the publication that wrote it). :mod:`hedgestack.store.metrics` adds its ``metric_*`` views.

One meaning of a fill everywhere. Every fills frame and view (``fills()``, the ``fills`` view of ``sql()``, the
published Parquet, ``Terminal.fills()``, ``/v1/fills?format=parquet|arrow``) has the same snake_case columns
with the same meanings:

==================  ==========================================================================================
``seq``             the event's position in the log (unique, increasing)
``ts``              the trade time, Unix ms (published readers add ``date``, its UTC date)
``trade_id``        the exchange's trade id (unique per symbol)
``order_id``        the exchange's order id
``client_order_id`` the clientOrderId (``VP-...`` for our orders; the Binance app's or NULL for foreign fills)
``vp_id``           the VP the fill was booked to (the ``UNASSIGNED`` VP of its side for a foreign fill)
``vp_name``         that VP's name when the fill was booked
``symbol``          e.g. ``BTCUSDT``
``side``            ``BUY`` or ``SELL``
``position_side``   ``LONG`` or ``SHORT``
``qty``, ``price``  exact decimals (DECIMAL(38, 10) and DECIMAL(38, 18))
``commission``      the fee, in ``commission_asset`` (USDT, or BNB when BNB-burn is on)
``realized_pnl``    **the VP's realized PnL from this fill**, as our ledger books it against the VP's own
                    average entry (0 for a fill that opens or adds; ``d x qty x (price - avg_entry)`` for one
                    that reduces), gross of fees; summed over a VP's fills it is the VP's realized PnL
``exchange_rp``     **the exchange's own realized PnL** for the fill (Binance's ``rp``), computed against the
                    whole side's average entry: it differs from ``realized_pnl`` whenever several VPs share a
                    side; summed over a side's fills it is what Binance reports
``maker``           whether the fill was a maker fill
==================  ==========================================================================================

In JSON (the stream's ``FILL``, ``/v1/state.fills``, ``/v1/fills?format=json``) the same two figures are
``realizedPnl`` (the VP's) and ``exchange_rp`` (the exchange's).

Money and quantities stay exact: DECIMAL columns live and published, polars ``Decimal`` in frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from hedgestack.domain.errors import ValidationError
from hedgestack.store.publish import DATASETS, PUBLISHED_DIR, manifest_files, read_manifest
from hedgestack.store.schema import EOD_COLUMNS, EQUITY_COLUMNS, eod_current

if TYPE_CHECKING:
    from hedgestack.store.eventlog import EventLog

_DEC = "DECIMAL(38,18)"
_QTY = "DECIMAL(38,10)"
_EQ = "DECIMAL(38,28)"
_FILL_COLUMNS = ("seq BIGINT, ts BIGINT, trade_id BIGINT, order_id BIGINT, client_order_id VARCHAR, vp_id VARCHAR, "
                 "vp_name VARCHAR, symbol VARCHAR, side VARCHAR, position_side VARCHAR, qty {q}, price {d}, "
                 "commission {d}, commission_asset VARCHAR, realized_pnl {d}, exchange_rp {d}, maker BOOLEAN")
# Columns of each published dataset (the files' columns, then the hive ``date``): empty views before anything
# was published.
_EMPTY_COLUMNS = {
    "fills": _FILL_COLUMNS + ", vp_net_qty {q}, vp_avg_entry {d}, vp_realized {d}, vp_fees {d}, vp_funding {d}, "
                             "vp_archived BOOLEAN, date DATE",
    "vp_changes": "seq BIGINT, ts BIGINT, vp_id VARCHAR, name VARCHAR, symbol VARCHAR, position_side VARCHAR, "
                  "event_kind VARCHAR, net_qty {q}, avg_entry {d}, realized_pnl {d}, realized_delta {d}, fees {d}, "
                  "funding {d}, archived BOOLEAN, date DATE",
    "orders": "created_at BIGINT, client_order_id VARCHAR, order_id BIGINT, vp_id VARCHAR, symbol VARCHAR, "
              "position_side VARCHAR, side VARCHAR, order_type VARCHAR, role VARCHAR, qty {d}, price {d}, "
              "mark_at_intent {d}, trigger_price {d}, trigger_type VARCHAR, time_in_force VARCHAR, is_algo BOOLEAN, "
              "status VARCHAR, filled_qty {d}, updated_at BIGINT, reason VARCHAR, date DATE",
    "marks": "symbol VARCHAR, ts BIGINT, mark {d}, date DATE",
    "marks_eod": "symbol VARCHAR, day DATE, ts BIGINT, mark {d}",
    "vp_equity": "vp_id VARCHAR, vp_name VARCHAR, symbol VARCHAR, position_side VARCHAR, ts BIGINT, mark {d}, "
                 "net_qty {q}, avg_entry {d}, realized {d}, unrealized {e}, equity {e}, fees {d}, funding {d}, "
                 "net_equity {e}, date DATE",
    "vp_eod": "vp_id VARCHAR, day DATE, seq BIGINT, ts BIGINT, name VARCHAR, symbol VARCHAR, position_side VARCHAR, "
              "net_qty {q}, avg_entry {d}, realized_pnl {d}, fees {d}, funding {d}, archived BOOLEAN",
}


#: the datasets in the time layout, and the column their date comes from
_DATED = {"fills": "ts", "vp_changes": "ts", "marks": "ts", "orders": "created_at"}


def _empty(columns: str) -> str:
    typed = ", ".join(f"NULL::{kind} AS {name}" for name, kind in
                      (part.strip().split(" ", 1) for part in columns.format(d=_DEC, q=_QTY, e=_EQ).split(", ")))
    return f"SELECT {typed} WHERE false"


# The reader's views over the published datasets (``{fills}`` etc.: the dataset's files).
_FILLS_READER = ("SELECT seq, ts, trade_id, order_id, client_order_id, vp_id, vp_name, symbol, side, position_side, "
                 "qty, price, commission, commission_asset, realized_pnl, exchange_rp, maker, date FROM {fills}")
_VP_HISTORY_READER = (
    "SELECT seq, ts, vp_id, vp_name AS name, symbol, position_side, 'fill' AS event_kind, vp_net_qty AS net_qty, "
    "vp_avg_entry AS avg_entry, vp_realized AS realized_pnl, realized_pnl AS realized_delta, vp_fees AS fees, "
    "vp_funding AS funding, vp_archived AS archived, date FROM {fills} WHERE vp_net_qty IS NOT NULL "
    "UNION ALL SELECT * FROM {vp_changes}")


class Analytics:
    """Queries over one connection whose views are named fills, orders, vp_history, marks."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, *, refresh: Any = None) -> None:
        self._con = connection
        self._refresh = refresh

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The connection whose views the queries see (refreshed first for published data)."""
        self.refresh()
        return self._con

    def refresh(self) -> None:
        """Published data: point the views at the files the latest manifests list."""
        if self._refresh is not None:
            self._refresh()

    def _query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        self.refresh()
        relation = self._con.sql(sql, params=params or None)
        if relation is None:
            return pl.DataFrame()
        return relation.pl()

    def sql(self, query: str) -> pl.DataFrame:
        """Run any SQL over the views; return a polars frame."""
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("query must be a non-empty SQL string", code="INVALID_QUERY")
        try:
            return self._query(query)
        except duckdb.Error as exc:
            raise ValidationError(f"query failed: {exc}", code="INVALID_QUERY") from exc

    def fills(self, *, vp: str | None = None, symbol: str | None = None, since: int | None = None,
              until: int | None = None, limit: int | None = None) -> pl.DataFrame:
        """Fills in time order, optionally by VP id, symbol and [since, until) in Unix ms."""
        where, params = where_clause(vp=vp, symbol=symbol, since=since, until=until)
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        return self._query(f"SELECT * FROM fills{where} ORDER BY ts, seq{tail}", params)

    def recent_fills(self, count: int) -> pl.DataFrame:
        """The last ``count`` fills, newest first (reads only those)."""
        return self._query(f"SELECT * FROM fills ORDER BY ts DESC, seq DESC LIMIT {int(count)}")

    def orders(self, *, vp: str | None = None, symbol: str | None = None) -> pl.DataFrame:
        where, params = where_clause(vp=vp, symbol=symbol, time_column="created_at")
        return self._query(f"SELECT * FROM orders{where} ORDER BY created_at, client_order_id", params)

    def vp_history(self, *, vp: str | None = None) -> pl.DataFrame:
        where, params = where_clause(vp=vp)
        return self._query(f"SELECT * FROM vp_history{where} ORDER BY seq, vp_id", params)


def where_clause(*, vp: str | None = None, symbol: str | None = None, side: str | None = None,
                 since: int | None = None, until: int | None = None,
                 time_column: str = "ts") -> tuple[str, list[Any]]:
    """`` WHERE ...`` and its parameters for the usual filters: VP id, symbol, position side, [since, until)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("vp_id", vp), ("symbol", symbol), ("position_side", side)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(str(value))
    if since is not None:
        clauses.append(f"{time_column} >= ?")
        params.append(int(since))
    if until is not None:
        clauses.append(f"{time_column} < ?")
        params.append(int(until))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def live(log: EventLog) -> Analytics:
    """Analytics on the owning process's live connection (a cursor of it). Before each query the ``vp_eod``
    rollup takes in what was appended since the last one (cheap; the views are exact without it too)."""
    return Analytics(log.cursor(), refresh=log.refresh_rollups)


def open_published(data_dir: str | Path) -> Analytics:
    """Analytics over the Parquet the terminal publishes in ``data_dir``, from any process.

    Views: ``fills``, ``vp_history``, ``marks``, ``orders`` (as live, plus the hive ``date``), and
    ``vp_eod_current`` (the published rollup plus the history after its mark), ``vp_equity`` (the published
    equity rollup, as of the publication that wrote it)."""
    root = Path(data_dir) / PUBLISHED_DIR
    con = duckdb.connect()
    listed: dict[str, tuple[str, ...]] = {}

    def refresh() -> None:
        sources: dict[str, str] = {}
        changed = False
        for name in DATASETS:
            files = tuple(path.as_posix() for path in manifest_files(root / name) if path.exists())
            if listed.get(name) != files or name not in listed:
                changed = True
                listed[name] = files
                paths = ", ".join(f"'{path}'" for path in files)
                if not files:
                    body = _empty(_EMPTY_COLUMNS[name])
                elif name == "vp_equity" and all(Path(f).parent.name.startswith("vp_id=") for f in files):
                    # one schema, written by us: no by-name reconciliation; the VP is the directory (a filter on
                    # it skips the other VPs' files unopened), the date the ts's
                    body = (f"SELECT {', '.join(EQUITY_COLUMNS)}, CAST(epoch_ms(ts) AS DATE) AS date "
                            f"FROM read_parquet([{paths}], hive_partitioning = true, "
                            "hive_types = {'vp_id': VARCHAR})")
                elif name == "vp_equity":  # files of an older layout (by date, the VP a column): until rewritten
                    body = (f"SELECT {', '.join(EQUITY_COLUMNS)}, CAST(epoch_ms(ts) AS DATE) AS date "
                            f"FROM read_parquet([{paths}], hive_partitioning = false, union_by_name = true)")
                elif name in _DATED:  # month and day files: a row's date is its time's, not its directory's
                    body = (f"SELECT *, CAST(epoch_ms({_DATED[name]}) AS DATE) AS date "
                            f"FROM read_parquet([{paths}], hive_partitioning = false, union_by_name = true)")
                else:
                    body = f"SELECT * FROM read_parquet([{paths}], hive_partitioning = false, union_by_name = true)"
                con.execute(f"CREATE OR REPLACE VIEW published_{name} AS {body}")
            sources[name] = f"published_{name}"
        if not changed:
            return
        eod_mark = int(read_manifest(root / "vp_eod")["mark"]) if listed["vp_eod"] else 0
        history_mark = max(int(read_manifest(root / name)["mark"]) for name in ("fills", "vp_changes"))
        marks_eod_mark = int(read_manifest(root / "marks_eod")["mark"]) if listed["marks_eod"] else -1
        marks_mark = int(read_manifest(root / "marks")["mark"])
        con.execute(f"CREATE OR REPLACE VIEW fills AS {_FILLS_READER.format(**sources)}")
        con.execute(f"CREATE OR REPLACE VIEW vp_history AS {_VP_HISTORY_READER.format(**sources)}")
        con.execute(f"CREATE OR REPLACE VIEW marks AS SELECT * FROM {sources['marks']}")
        con.execute(f"CREATE OR REPLACE VIEW orders AS SELECT * FROM {sources['orders']}")
        con.execute(f"CREATE OR REPLACE VIEW vp_equity AS SELECT * FROM {sources['vp_equity']}")
        if eod_mark >= history_mark:  # the rollup covers all the history listed: nothing to add
            current = f"SELECT {', '.join(EOD_COLUMNS)} FROM {sources['vp_eod']}"
        else:
            current = eod_current(sources["vp_eod"], "vp_history", str(max(eod_mark, 0)))
        con.execute(f"CREATE OR REPLACE VIEW vp_eod_current AS {current}")
        marks_eod = f"SELECT symbol, day, ts, mark FROM {sources['marks_eod']}"
        if marks_eod_mark < marks_mark:  # marks published after the rollup's publication: their days on top
            marks_eod = (f"SELECT symbol, day, max(ts) AS ts, arg_max(mark, ts) AS mark FROM ({marks_eod} UNION ALL "
                         f"SELECT symbol, CAST(epoch_ms(ts // 86400000 * 86400000) AS DATE) AS day, ts, mark "
                         f"FROM {sources['marks']} WHERE ts > {max(marks_eod_mark, 0)}) GROUP BY symbol, day")
        con.execute(f"CREATE OR REPLACE VIEW marks_eod AS {marks_eod}")

    refresh()
    return Analytics(con, refresh=refresh)
