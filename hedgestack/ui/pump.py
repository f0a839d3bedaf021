"""The streaming pump: engine bus events → each browser session, coalesced on the session's own loop.

One ``Pump`` per terminal lives in ``pn.state.cache``; it holds one bus listener (called on the terminal's
thread) that only appends the envelope to each session's ``SessionFeed`` and asks that session's Bokeh
document for a tick (``add_next_tick_callback`` is the one thread-safe document call). The feed then flushes
on the session's loop: at once after a quiet spell, else at most one batch every ``MIN_INTERVAL`` seconds,
so bursts never back the browser up (stack-notes: p99 ~220 ms at 200 fills/s, one update per fill backs
up to seconds). Without a server document (inline in a notebook) a periodic callback drains the feed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import panel as pn

Envelope = dict[str, Any]

#: at most one batch per session this often (seconds) while events keep coming
MIN_INTERVAL = 0.1
#: after a quiet spell, wait this long (seconds) before flushing: one engine action publishes a few envelopes
#: within ~1 ms (a fill: FILL, VIRTUAL_POSITION_UPDATE, EXTERNAL_POSITION_UPDATE), which then go out as one
#: batch instead of a batch and a second one MIN_INTERVAL later
GATHER = 0.004


class SessionFeed:
    """The queue of one session; ``push`` from any thread, ``apply`` runs on the session's loop."""

    def __init__(self, apply: Callable[[list[Envelope]], None], doc: Any | None) -> None:
        self._apply = apply
        self._doc = doc
        self._lock = threading.Lock()
        self._queue: list[Envelope] = []
        self._scheduled = False
        self._last_flush = 0.0
        self.closed = False

    @property
    def server_mode(self) -> bool:
        return self._doc is not None

    def attach(self, doc: Any | None) -> None:
        """Bind to the session's document (None inline); queued envelopes wait for ``flush``/``drain``."""
        with self._lock:
            self._doc = doc
            self._scheduled = False

    def push(self, envelope: Envelope) -> None:
        with self._lock:
            if self.closed:
                return
            self._queue.append(envelope)
            if self._scheduled:
                return
            self._scheduled = True
        if self._doc is not None:
            try:
                self._doc.add_next_tick_callback(self._tick)
            except Exception:  # noqa: BLE001 - the session is gone
                self.close()

    def _tick(self) -> None:
        wait = max(GATHER, self._last_flush + MIN_INTERVAL - time.monotonic())
        if self._doc is not None:
            self._doc.add_timeout_callback(self.flush, int(wait * 1000) + 1)
            return
        self.flush()

    def flush(self) -> None:
        """Apply everything queued (on the session's loop)."""
        with self._lock:
            batch, self._queue = self._queue, []
            self._scheduled = False
        self._last_flush = time.monotonic()
        if batch and not self.closed:
            self._apply(batch)

    def drain(self) -> None:
        """Periodic flush for sessions without a server document (inline in a notebook)."""
        with self._lock:
            if not self._queue:
                return
        self.flush()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._queue = []


class Pump:
    """The one bus listener of a terminal, fanning envelopes out to the session feeds."""

    def __init__(self, terminal: Any) -> None:
        self._feeds: list[SessionFeed] = []
        self._lock = threading.Lock()
        self._remove = terminal.bus.add_listener(self._on_event)

    @classmethod
    def for_terminal(cls, terminal: Any) -> Pump:
        key = f"hedgestack-pump-{id(terminal)}"
        with _CACHE_LOCK:
            pump = pn.state.cache.get(key)
            if pump is None:
                pump = pn.state.cache[key] = cls(terminal)
        return pump

    def _on_event(self, envelope: Envelope) -> None:  # on the terminal's thread: never block
        for feed in self._feeds:
            feed.push(envelope)

    def add(self, feed: SessionFeed) -> Callable[[], None]:
        with self._lock:
            self._feeds = [*self._feeds, feed]

        def remove() -> None:
            feed.close()
            with self._lock:
                self._feeds = [f for f in self._feeds if f is not feed]

        return remove

    @property
    def sessions(self) -> int:
        return len(self._feeds)

    def close(self) -> None:
        self._remove()
        for feed in self._feeds:
            feed.close()
        self._feeds = []


_CACHE_LOCK = threading.Lock()
