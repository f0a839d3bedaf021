"""What ``POST /v1/sql`` accepts: one read-only query over the analytics views, nothing else.

A local ``Terminal.sql(query)`` runs anything on the owner's own connection; over the network the same call
must not reach files, settings or the log's raw tables. The query is parsed by DuckDB itself
(``json_serialize_sql``, which serializes SELECT statements only) and its syntax tree is walked:

- exactly one statement, and it is a SELECT (``WITH ... SELECT``, ``FROM x``, set operations, ``DESCRIBE`` /
  ``SUMMARIZE`` of a view included);
- every table it reads is one of :data:`ANALYTICS_VIEWS` (or a CTE it defines, in scope), unqualified or in
  ``main``: no file path (``FROM 'x.csv'``), no other table, no other catalog;
- no table function at all (``read_csv``, ``read_text``, ``glob``, ``query``, ``duckdb_settings`` ...).

Anything else is refused with ``INVALID_QUERY`` before it runs.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import duckdb

from hedgestack.domain.errors import ValidationError

#: the views ``Terminal.sql`` documents (hedgestack/store/analytics.py)
ANALYTICS_VIEWS = frozenset({"fills", "orders", "vp_history", "marks", "vp_eod_current", "vp_equity"})
MAX_QUERY = 20_000

_parser = duckdb.connect()  # parsing only: it never sees a table
_lock = threading.Lock()


def _bad(message: str) -> ValidationError:
    return ValidationError(message, code="INVALID_QUERY")


def check_query(query: Any) -> str:
    """The query, if it is one read-only SELECT over the analytics views; else ValidationError INVALID_QUERY."""
    if not isinstance(query, str) or not query.strip():
        raise _bad("query must be a non-empty SQL string")
    if len(query) > MAX_QUERY:
        raise _bad(f"query longer than {MAX_QUERY} characters")
    with _lock:
        try:
            statements = duckdb.extract_statements(query)
        except duckdb.Error as exc:
            raise _bad(f"query does not parse: {str(exc)[:200]}") from None
        if len(statements) != 1:
            raise _bad(f"one statement only, got {len(statements)}")
        if statements[0].type != duckdb.StatementType.SELECT:
            raise _bad(f"only SELECT (or WITH ... SELECT) queries are allowed, got {statements[0].type.name}")
        row = _parser.execute("SELECT json_serialize_sql(?)", [query]).fetchone()
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise _bad(f"only SELECT queries are allowed: {str(tree.get('error_message', ''))[:200]}")
    for statement in tree["statements"]:
        _walk(statement, frozenset())
    return query


def _walk(node: Any, ctes: frozenset[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, ctes)
        return
    if not isinstance(node, dict):
        return
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        names = [entry.get("key") for entry in cte_map.get("map", []) if isinstance(entry, dict)]
        ctes = ctes | {str(n).lower() for n in names if n}
    kind = node.get("type")
    if kind == "TABLE_FUNCTION":
        function = node.get("function") or {}
        raise _bad(f"table functions are not allowed ({str(function.get('function_name', '?'))[:40]}); query "
                   f"the views {', '.join(sorted(ANALYTICS_VIEWS))}")
    if kind == "BASE_TABLE":
        name = str(node.get("table_name", "")).lower()
        schema = str(node.get("schema_name", "")).lower()
        catalog = str(node.get("catalog_name", ""))
        if catalog or schema not in ("", "main") or (name not in ANALYTICS_VIEWS and
                                                        (schema or name not in ctes)):
            shown = ".".join(part for part in (catalog, schema, name) if part)
            raise _bad(f"{shown[:60]!r} is not one of the views {', '.join(sorted(ANALYTICS_VIEWS))}")
    for value in node.values():
        if isinstance(value, (dict, list)):
            _walk(value, ctes)
