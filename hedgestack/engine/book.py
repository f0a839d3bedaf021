"""The book: the only writer of the ledger. Fold → announce → commit.

Every change of the ledger goes through the book. :meth:`Book.append` folds the events into the ledger at once (the
store appends them after the log's last seq and deduplicates), hands the result to the listeners (the presenter
publishes the changed views; the TP/SL manager re-syncs the touched VPs) and has the batch committed to the log
by a writer thread within ``DEFER_MS``: a DuckDB commit (milliseconds, tens of them on a busy disk) never holds up
the loop. :meth:`Book.append_durable` does the same and waits until the batch, and everything folded before it,
is committed — for what only this terminal knows and must never lose:

- an order intent, before the order leaves (invariant 5: the clientOrderId → VP mapping is durable first);
- a VP created, renamed or archived, a transfer, a reconcile, a TP/SL setting, before the command answers;
- fills fetched over REST, before the fill watermark moves past them.

Durable means in the store's sync journal (a plain file, fsync'd); DuckDB's own commit of the batch follows with
the deferred ones, off the path of whoever waited (:mod:`hedgestack.store.syncjournal`).

What the exchange can tell again — fills and order updates from the user stream, order answers, TP/SL statuses —
is appended without waiting: a crash before its commit loses nothing, since the catch-up after the restart
fetches those trades again from the gap-free watermark and queries those orders. One writer, one loop: nothing
else mutates the ledger, and the log keeps fold order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from hedgestack.store.eventlog import AppendResult, EventLog

if TYPE_CHECKING:
    from hedgestack.domain.events import Event
    from hedgestack.domain.ledger import Ledger
    from hedgestack.engine.link import Stats

log = logging.getLogger("hedgestack.engine")

#: deferred appends (exchange answers, TP/SL statuses) are committed at the latest this long after (ms)
DEFER_MS = 20

AppendListener = Callable[[AppendResult], None]


class Book:
    def __init__(self, store: EventLog, stats: Stats) -> None:
        self.store = store
        self._stats = stats
        self._listeners: list[AppendListener] = []
        self._deferred_write: asyncio.TimerHandle | None = None
        self._closed = False
        # group commits run here, off the loop: a slow disk never holds up folding and publishing
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hedgestack-commit")

    @property
    def ledger(self) -> Ledger:
        return self.store.ledger

    def on_append(self, listener: AppendListener) -> Callable[[], None]:
        """Call ``listener(result)`` after every append that changed something (in order of registration)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def append(self, events: Iterable[Event]) -> AppendResult:
        """Fold and announce now; committed by the writer thread within DEFER_MS (group commit)."""
        result = self._fold(events)
        if result.appended:
            self._schedule_write()
        return result

    def _schedule_write(self) -> None:
        if self._deferred_write is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on a loop: commit now
            self.store.write_deferred()
            return
        if self._closed:  # stopping: nothing will commit later
            self.store.write_deferred()
        else:
            self._deferred_write = loop.call_later(DEFER_MS / 1000, self._write_deferred)

    async def append_durable(self, events: Iterable[Event]) -> AppendResult:
        """Fold and announce now, and return once the batch (and all folded before it) is durable. A failed write
        raises (the events stay folded and are committed with the next batch)."""
        result = self._fold(events)
        if self._closed:  # stopping: the writer thread is gone
            self.store.write_deferred()
            return result
        await asyncio.get_running_loop().run_in_executor(self._writer, self._make_durable)
        self._schedule_write()  # DuckDB's own commit of the batch, within DEFER_MS
        return result

    def _make_durable(self) -> None:
        """On the writer thread: the folded batches durable in the store's sync journal (~0.5 ms; DuckDB's commit
        ~2 ms follows within DEFER_MS, off the path of whoever waits), or committed when there is none."""
        if not self.store.sync_deferred():
            self.store.write_deferred()

    def _fold(self, events: Iterable[Event]) -> AppendResult:
        batch = list(events)
        result = self.store.append(batch, defer=True)
        self._stats.duplicates += len(batch) - len(result.appended)
        for anomaly in result.anomalies:
            log.warning("ledger anomaly %s: %s", anomaly.kind, anomaly.message)
        if result.appended:
            for listener in list(self._listeners):
                listener(result)
        return result

    def _write_deferred(self) -> None:
        self._deferred_write = None
        if not self._closed:
            self._writer.submit(self._commit)

    def _commit(self) -> None:
        try:
            self.store.write_deferred()
        except Exception:  # noqa: BLE001 - the next append writes them, or the store replays on failure
            log.exception("writing deferred events failed")

    def close(self) -> None:
        """Wait for the commits under way and commit what is still folded (before the store closes)."""
        self._closed = True
        if self._deferred_write is not None:
            self._deferred_write.cancel()
            self._deferred_write = None
        self._writer.shutdown(wait=True)
        self.store.write_deferred()


__all__ = ["DEFER_MS", "Book"]
