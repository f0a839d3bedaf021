"""The DuckDB file of one data directory, owned by this process: its connection, schema and bookkeeping.

DuckDB lets one process hold a file (every other process is refused, readers included), and within the process
wants one connection with a cursor per thread. :class:`Database` is that: the owning connection, a lock that
serializes the statements run on it directly, a cursor per thread (:meth:`cursor`), the schema created or
migrated on open (:mod:`hedgestack.store.schema`), and the ``meta`` key/value table. It knows nothing of
events: the log, replay and rollups are built on it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from hedgestack.domain.errors import StoreError
from hedgestack.store.schema import DDL, MIGRATIONS, SCHEMA_VERSION, VIEWS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class Database:
    """The owning connection of one DuckDB file, with its schema up to date."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            raise StoreError(f"cannot open {self.path}: {exc}", code="STORE_LOCKED") from exc
        #: serializes statements on the owning connection (re-entrant: a writer may read under it)
        self.lock = threading.RLock()
        self._cursors = threading.local()
        self._create_schema()

    # -- schema -----------------------------------------------------------------------------------
    def _create_schema(self) -> None:
        with self.lock:
            con = self._con
            con.execute(DDL[0])  # meta
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
            version = int(row[0][0]) if row else SCHEMA_VERSION
            if version != SCHEMA_VERSION and version not in MIGRATIONS:
                raise StoreError(f"{self.path} has schema version {version}, this hedgestack reads "
                                 f"{SCHEMA_VERSION} (and migrates {sorted(MIGRATIONS)})", code="STORE_SCHEMA")
            con.execute("BEGIN TRANSACTION")
            try:
                while version != SCHEMA_VERSION:  # one step at a time, all in one transaction
                    for statement in MIGRATIONS[version]:
                        con.execute(statement)
                    version += 1
                for statement in DDL:
                    con.execute(statement)
                for view in VIEWS:
                    con.execute(view)
                con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
                con.execute("COMMIT")
            except Exception as exc:
                con.execute("ROLLBACK")
                raise StoreError(f"cannot create or migrate the schema of {self.path}: {exc}",
                                 code="STORE_SCHEMA") from exc

    # -- statements -------------------------------------------------------------------------------
    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The owning connection (use it under :attr:`lock`)."""
        return self._con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on the owning connection; return its rows (fetched under the lock, so another
        thread's statement can never take them)."""
        with self.lock:
            return self._con.execute(sql, list(params)).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of one statement."""
        return self.execute(sql, params)[0][0]

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor of the owning connection.

        Created under the lock (the connection refuses a cursor() while busy in another thread) and kept for
        the thread, so repeated calls do not leak connections."""
        cursor = getattr(self._cursors, "cursor", None)
        if cursor is None:
            with self.lock:
                cursor = self._con.cursor()
            self._cursors.cursor = cursor
        return cursor

    def new_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own (for a long scan that holds it until read out); the caller closes it."""
        with self.lock:
            return self._con.cursor()

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str, cursor: duckdb.DuckDBPyConnection | None = None) -> str | None:
        """A value of the ``meta`` table (on ``cursor``, else on the owning connection)."""
        sql, params = "SELECT value FROM meta WHERE key = ?", [key]
        rows = cursor.execute(sql, params).fetchall() if cursor is not None else self.execute(sql, params)
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str, cursor: duckdb.DuckDBPyConnection | None = None) -> None:
        """Set a value of the ``meta`` table (on ``cursor``, else on the owning connection)."""
        sql, params = "INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value]
        if cursor is not None:
            cursor.execute(sql, params)
        else:
            self.execute(sql, params)

    def close(self) -> None:
        with self.lock:
            self._con.close()


def tracked(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | dict[str, Any] | None = None,
            progress: Callable[[float], None] | None = None, *, poll: float = 0.2) -> None:
    """Run one statement on ``cur``; with ``progress``, the statement runs on a thread of its own while this one
    reports DuckDB's own estimate of how far it is (0 to 100) every ``poll`` seconds (for a progress bar)."""
    if progress is None:
        cur.execute(sql, params)
        return
    cur.execute("SET enable_progress_bar = true")
    cur.execute("SET enable_progress_bar_print = false")
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            cur.execute(sql, params)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=run, name="duckdb-statement", daemon=True)
    worker.start()
    try:
        while not done.wait(poll):
            share = cur.query_progress()
            if share >= 0:
                progress(min(float(share), 100.0))
    except BaseException:
        cur.interrupt()  # Ctrl-C in the caller: the statement stops too
        worker.join()
        raise
    worker.join()
    cur.execute("SET enable_progress_bar = false")
    if failure:
        raise failure[0]
    progress(100.0)
