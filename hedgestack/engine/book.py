"""The book: the only writer of the ledger. Append (durable, deduplicated) → fold → announce.

Every change of the ledger goes through :meth:`Book.append`: the store appends the events to the log (intents and
fills are durable before the call returns; exchange answers and TP/SL statuses, which the exchange can tell
again, may be group-committed within ``DEFER_MS``), folds them into the ledger, and the book hands the result to
its listeners (the presenter publishes the changed views; the TP/SL manager re-syncs the touched VPs). One
writer, one loop: nothing else mutates the ledger.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from hedgestack.domain.events import Event
from hedgestack.domain.ledger import Ledger
from hedgestack.engine.link import Stats
from hedgestack.store.eventlog import AppendResult, EventLog

log = logging.getLogger("hedgestack.engine")

#: deferred appends (exchange answers, TP/SL statuses) are committed at the latest this long after (ms)
DEFER_MS = 5

AppendListener = Callable[[AppendResult], None]


class Book:
    def __init__(self, store: EventLog, stats: Stats) -> None:
        self.store = store
        self._stats = stats
        self._listeners: list[AppendListener] = []
        self._deferred_write_due = False

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
        try:
            self.store.write_deferred()
        except Exception:  # noqa: BLE001 - the next append writes them, or the store replays on failure
            log.exception("writing deferred events failed")

    def flush_deferred(self) -> None:
        if self.store is not None:
            self.store.write_deferred()


__all__ = ["DEFER_MS", "Book"]
