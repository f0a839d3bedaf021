"""Analytics over the fill history as polars frames: live (owning process) or from published Parquet.

Both give the same surface: ``fills()``, ``orders()``, ``vp_history()`` and ``sql(query)``, where the query
sees views named ``fills``, ``orders``, ``vp_history`` and ``marks``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from hedgestack.domain.errors import ValidationError
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import PUBLISHED_DIR, manifest_files

# Columns of each published dataset, for empty views before anything was published.
_EMPTY = {
    "fills": "SELECT NULL::BIGINT seq, NULL::BIGINT ts, NULL::BIGINT trade_id, NULL::BIGINT order_id, "
             "NULL::VARCHAR client_order_id, NULL::VARCHAR vp_id, NULL::VARCHAR vp_name, NULL::VARCHAR symbol, "
             "NULL::VARCHAR side, NULL::VARCHAR position_side, NULL::DECIMAL(38,18) qty, "
             "NULL::DECIMAL(38,18) price, NULL::DECIMAL(38,18) commission, NULL::VARCHAR commission_asset, "
             "NULL::DECIMAL(38,18) realized_pnl, NULL::DECIMAL(38,18) exchange_rp, NULL::BOOLEAN maker, "
             "NULL::DATE date WHERE false",
    "vp_history": "SELECT NULL::BIGINT seq, NULL::BIGINT ts, NULL::VARCHAR vp_id, NULL::VARCHAR name, "
                  "NULL::VARCHAR symbol, NULL::VARCHAR position_side, NULL::VARCHAR event_kind, "
                  "NULL::VARCHAR net_qty, NULL::VARCHAR avg_entry, NULL::VARCHAR realized_pnl, "
                  "NULL::VARCHAR realized_delta, NULL::VARCHAR fees, NULL::VARCHAR funding, "
                  "NULL::BOOLEAN archived, NULL::DATE date WHERE false",
    "orders": "SELECT NULL::BIGINT created_at, NULL::VARCHAR client_order_id, NULL::BIGINT order_id, "
              "NULL::VARCHAR vp_id, NULL::VARCHAR symbol, NULL::VARCHAR position_side, NULL::VARCHAR side, "
              "NULL::VARCHAR order_type, NULL::VARCHAR role, NULL::DECIMAL(38,18) qty, "
              "NULL::DECIMAL(38,18) price, NULL::DECIMAL(38,18) mark_at_intent, "
              "NULL::DECIMAL(38,18) trigger_price, NULL::VARCHAR trigger_type, "
              "NULL::VARCHAR time_in_force, NULL::BOOLEAN is_algo, NULL::VARCHAR status, "
              "NULL::DECIMAL(38,18) filled_qty, NULL::BIGINT updated_at, NULL::VARCHAR reason, "
              "NULL::DATE date WHERE false",
    "marks": "SELECT NULL::VARCHAR symbol, NULL::BIGINT ts, NULL::VARCHAR mark, NULL::DATE date WHERE false",
}


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
    """Analytics on the owning process's live connection (a cursor of it)."""
    return Analytics(log.cursor())


def open_published(data_dir: str | Path) -> Analytics:
    """Analytics over the Parquet the terminal publishes in ``data_dir``, from any process."""
    root = Path(data_dir) / PUBLISHED_DIR
    con = duckdb.connect()

    def refresh() -> None:
        for name, empty in _EMPTY.items():
            files = [path for path in manifest_files(root / name) if path.exists()]
            if files:
                listed = ", ".join(f"'{path.as_posix()}'" for path in files)
                con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet([{listed}], "
                            f"hive_partitioning = true, union_by_name = true)")
            else:
                con.execute(f"CREATE OR REPLACE VIEW {name} AS {empty}")

    refresh()
    return Analytics(con, refresh=refresh)
