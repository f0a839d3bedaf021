"""A log file opened to publish it, without folding it into a ledger.

A terminal publishes its own log. When none is running, ``hedgestack export --publish`` (and the analytics
benchmark) publish a data directory's log through :class:`StoredLog`: the journal a dead process left is
moved into the log, the rollups are brought up to date, and a :class:`~hedgestack.store.publish.Publisher`
reads the rest; no replay (which the 10 M-fill log would make a matter of seconds). It holds the file's lock
while open, like any owner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hedgestack.domain.ledger import Ledger
from hedgestack.store.database import Database
from hedgestack.store.log import AppendLog
from hedgestack.store.rollups import Rollups, equity_mark_from

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb


class StoredLog:
    """The log of one DuckDB file, opened to publish it (a :class:`~hedgestack.store.publish.PublishedLog`)."""

    def __init__(self, path: str | Path) -> None:
        self.db = Database(path)
        self.path = self.db.path
        self.rollups = Rollups(self.db)
        AppendLog(self.db, Ledger(), 0).recover()  # what a dead process journaled: into the log first
        self.last_seq = self._last_seq()

    def _last_seq(self) -> int:
        return int(self.db.scalar("SELECT coalesce(max(seq), 0) FROM (SELECT seq FROM events UNION ALL "
                                  "SELECT seq FROM vp_changes)"))

    def reread(self) -> int:
        """Read the log's last seq again (after rows were loaded by other means); return it."""
        self.last_seq = self._last_seq()
        return self.last_seq

    # -- what a publisher and live analytics read -------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.db.cursor()

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params or [])

    def refresh_rollups(self, upto_seq: int | None = None) -> int:
        return self.rollups.refresh(self.last_seq if upto_seq is None else min(int(upto_seq), self.last_seq))

    @staticmethod
    def equity_mark_from(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        return equity_mark_from(cur)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> StoredLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
