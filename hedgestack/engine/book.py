"""The book: the only writer of the ledger. Append (durable, deduplicated) → fold → announce.

Every change of the ledger goes through :meth:`Book.append`: the store appends the events to the log and folds
them into the ledger, and the book hands the result to its listeners. Durability has two speeds:

- what only this terminal knows — order intents (invariant 5: durable before the order leaves), VPs, transfers,
  reconciles, TP/SL settings, fills fetched over REST (the fill watermark moves after them) — is committed before
  the call returns;
- what the exchange can tell again — fills and order updates from the user stream, order answers, TP/SL
  statuses — is group-committed within ``DEFER_MS`` (``defer=True``) and published at once: a crash in between
  loses nothing, since the catch-up after the restart fetches those trades again from the gap-free watermark
  and queries those orders.

The book then hands the result to its listeners (the presenter publishes the changed views; the TP/SL manager
re-syncs the touched VPs). One writer, one loop: nothing else mutates the ledger.
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
        self._deferred_write_due = False
        # group commits run here, off the loop: a slow disk never holds up folding and publishing
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hedgestack-commit")

    @property
    def ledger(self) -> Ledger:
        return self.store.ledger

    def on_append(self, listener: AppendListener) -> Callable[[], None]:
        """Call ``listener(result)`` after every append that changed something (in order of registration)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def append(self, events: Iterable[Event], *, defer: bool = False) -> AppendResult:
        """Append, fold and announce. ``defer``: group-commit (an exchange answer or a TP/SL status): written with
        the next append or within DEFER_MS."""
        batch = list(events)
        result = self.store.append(batch, defer=defer)
        if defer and result.appended and not self._deferred_write_due:
            try:
                asyncio.get_running_loop().call_later(DEFER_MS / 1000, self._write_deferred)
                self._deferred_write_due = True
            except RuntimeError:  # not on a loop: no group to wait for
                self.store.write_deferred()
        self._stats.duplicates += len(batch) - len(result.appended)
        for anomaly in result.anomalies:
            log.warning("ledger anomaly %s: %s", anomaly.kind, anomaly.message)
        if result.appended:
            for listener in list(self._listeners):
                listener(result)
        return result

    def _write_deferred(self) -> None:
        self._deferred_write_due = False
        self._writer.submit(self._commit)

    def _commit(self) -> None:
        try:
            self.store.write_deferred()
        except Exception:  # noqa: BLE001 - the next append writes them, or the store replays on failure
            log.exception("writing deferred events failed")

    def close(self) -> None:
        """Wait for the commits under way and commit what is still deferred (before the store closes)."""
        self._writer.shutdown(wait=True)
        self.store.write_deferred()


__all__ = ["DEFER_MS", "Book"]
