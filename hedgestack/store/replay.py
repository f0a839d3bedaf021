"""Replay: the log folded back into a ledger, from its latest snapshot or from zero.

A snapshot is a serialized ledger at a seq (:mod:`hedgestack.domain.snapshot`): only a cache of the fold, so
opening a long log costs the tail after it. Replay from zero ignores them and must give the identical state
(the tests and ``hedgestack bench replay`` check it).

The scan streams the ``events`` table in Arrow batches, in the order the table holds its rows (the append path
writes them in seq order; each batch is checked, and an out-of-order table is read again sorted), and folds
each batch through :meth:`~hedgestack.domain.ledger.Ledger.apply_columns`: fills straight from their typed
columns in fixed point, other events from their JSON (:mod:`hedgestack.store.codec`).

Readers of the log call :meth:`Replayer.replay` only once the journal is flushed (the facade sees to it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hedgestack.domain.ledger import FillColumns, Ledger
from hedgestack.domain.snapshot import SnapshotOutdated, dump_ledger, load_ledger
from hedgestack.store.codec import columns_from_arrow, scan_select
from hedgestack.store.log import now_ms

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from hedgestack.domain.events import Event
    from hedgestack.store.database import Database

#: rows per scanned batch
BATCH = 200_000
#: snapshots kept (the newest ones)
KEEP_SNAPSHOTS = 2


class Snapshots:
    """The ``snapshots`` table: serialized ledgers by seq."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def write(self, seq: int, ledger: Ledger) -> None:
        """Store ``ledger`` as the state at ``seq`` (the caller holds the database lock and has made every
        event up to ``seq`` durable); keep the newest :data:`KEEP_SNAPSHOTS`."""
        con = self._db.connection
        con.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", [seq, now_ms(), dump_ledger(ledger)])
        con.execute(f"DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC "
                    f"LIMIT {KEEP_SNAPSHOTS})")

    def latest(self, upto_seq: int) -> tuple[int, Ledger] | None:
        """The newest snapshot at or before ``upto_seq``: (its seq, the ledger), or None."""
        rows = self._db.execute("SELECT seq, payload FROM snapshots WHERE seq <= ? ORDER BY seq DESC LIMIT 1",
                                [upto_seq])
        if not rows:
            return None
        seq, payload = rows[0]
        try:
            return int(seq), load_ledger(bytes(payload))
        except SnapshotOutdated:  # written by another version of the fold: replay from the log instead
            return None

    def last_seq(self) -> int:
        """The seq of the newest snapshot (0: none)."""
        return int(self._db.scalar("SELECT coalesce(max(seq), 0) FROM snapshots"))


class Replayer:
    """Folds the ``events`` table of a database into ledgers."""

    def __init__(self, db: Database, snapshots: Snapshots) -> None:
        self._db = db
        self._snapshots = snapshots

    def replay(self, upto_seq: int, *, from_zero: bool = False,
               progress: Callable[[int], None] | None = None) -> Ledger:
        """The fold of the log up to ``upto_seq``: from the latest snapshot at or before it unless ``from_zero``.
        ``progress(rows)`` is called after each batch folded."""
        ledger = Ledger()
        start = 0
        if not from_zero:
            found = self._snapshots.latest(upto_seq)
            if found is not None:
                start, ledger = found
        for _, columns in self.batches(start, upto_seq):
            ledger.apply_columns(columns)
            if progress is not None:
                progress(len(columns))
        return ledger

    def batches(self, after_seq: int, upto_seq: int) -> Iterator[tuple[np.ndarray, FillColumns]]:
        """The rows with ``after_seq < seq <= upto_seq`` as (seqs, columns) batches in seq order.

        The table is read in the order it holds its rows, which is seq order with no gap when the append path
        wrote it: each batch is checked to continue the seqs yielded so far one by one. At the first row that
        does not (a file written by other means), the rest is read again with an ORDER BY, from the last seq
        yielded: whatever was yielded is exactly the seqs up to it."""
        yielded = int(after_seq)
        cursor = self._db.new_cursor()
        try:
            in_order = True
            reader = cursor.sql(scan_select(f"seq > {yielded} AND seq <= {int(upto_seq)}", ordered=False)
                                ).to_arrow_reader(BATCH)
            for batch in reader:
                if batch.num_rows == 0:
                    continue
                seqs = batch.column("seq").to_numpy()
                if int(seqs[0]) != yielded + 1 or int(seqs[-1]) - int(seqs[0]) != len(seqs) - 1 or (
                        len(seqs) > 1 and not bool(np.all(np.diff(seqs) == 1))):
                    in_order = False
                    break
                yielded = int(seqs[-1])
                yield columns_from_arrow(batch)
            del reader
            if in_order:
                return
            cursor.close()
            cursor = self._db.new_cursor()
            for batch in cursor.sql(scan_select(f"seq > {yielded} AND seq <= {int(upto_seq)}", ordered=True)
                                    ).to_arrow_reader(BATCH):
                if batch.num_rows:
                    yield columns_from_arrow(batch)
        finally:
            cursor.close()

    def read(self, after_seq: int, upto_seq: int) -> Iterator[tuple[int, Event]]:
        """Yield (seq, event) in log order for ``after_seq < seq <= upto_seq``."""
        for seqs, columns in self.batches(after_seq, upto_seq):
            yield from zip(seqs.tolist(), columns.events_in_order(), strict=True)
