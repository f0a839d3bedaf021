"""The streaming pump: engine bus events → each browser session, coalesced on the session's own loop.

One ``Pump`` per terminal lives in ``pn.state.cache``; it holds one bus listener (called on the terminal's
thread, inside the engine's loop) that only appends the envelope to each session's ``SessionFeed``. The
sessions are woken once per engine step: the listener asks the engine's loop to call ``_kick`` *after* the
step that published (``call_soon``), so everything one engine action publishes together (a fill's FILL,
ORDER_UPSERT and VIRTUAL_POSITION_UPDATE) goes out as one batch without waiting a fixed time. ``_kick``
asks each woken session's Bokeh document for a tick (``add_next_tick_callback``, the one thread-safe
document call). On the session's loop the feed then flushes at once (1 ms) when it has been quiet for
``MIN_INTERVAL``, else when ``MIN_INTERVAL`` has passed since its last batch, so bursts never back the
browser up (stack-notes: one update per fill at 100 fills/s backs the browser up by seconds). Without a
server document (inline in a notebook) a periodic callback drains the feed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import panel as pn

if TYPE_CHECKING:
    from collections.abc import Callable

Envelope = dict[str, Any]

#: at most one batch per session this often (seconds) while events keep coming; the first after a quiet
#: spell goes at once
MIN_INTERVAL = 0.1


class SessionFeed:
    """The queue of one session; ``push``/``send`` from any thread, ``flush`` runs on the session's loop."""

    def __init__(self, apply: Callable[[list[Envelope]], None], doc: Any | None) -> None:
        self._apply = apply
        self._doc = doc
        self._lock = threading.Lock()
        self._queue: list[Envelope] = []
        self._scheduled = False
        self._last_flush = 0.0
        self.closed = False
        #: batches applied and envelopes in them (for benchmarks and tests)
        self.batches = 0
        self.envelopes = 0

    @property
    def server_mode(self) -> bool:
        return self._doc is not None

    def attach(self, doc: Any | None) -> None:
        """Bind to the session's document (None inline); queued envelopes wait for ``flush``/``drain``."""
        with self._lock:
            self._doc = doc
            self._scheduled = False

    def push(self, envelope: Envelope) -> bool:
        """Queue ``envelope``; True when the session needs a ``kick`` (nothing was scheduled yet)."""
        with self._lock:
            if self.closed:
                return False
            self._queue.append(envelope)
            if self._scheduled or self._doc is None:
                return False
            self._scheduled = True
            return True

    def send(self, envelope: Envelope) -> None:
        """Queue ``envelope`` and wake the session (for envelopes that do not come through the bus)."""
        if self.push(envelope):
            self.kick()

    def kick(self) -> None:
        """Ask the session's document for a tick (thread-safe)."""
        doc = self._doc
        if doc is None:
            return
        try:
            doc.add_next_tick_callback(self._tick)
        except Exception:  # noqa: BLE001 - the session is gone
            self.close()

    def _tick(self) -> None:
        wait = self._last_flush + MIN_INTERVAL - time.monotonic()
        if self._doc is not None:
            # always through a timeout callback, even when quiet (1 ms): applying the batch inside this
            # next-tick callback loses what an async widget callback changed in the same loop iteration
            # (seen: a command's result text that never reached the browser)
            self._doc.add_timeout_callback(self.flush, max(1, int(wait * 1000) + 1))
            return
        self.flush()

    def flush(self) -> None:
        """Apply everything queued (on the session's loop)."""
        with self._lock:
            batch, self._queue = self._queue, []
            self._scheduled = False
        if batch and not self.closed:
            self._last_flush = time.monotonic()
            self.batches += 1
            self.envelopes += len(batch)
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
        self._woken: list[SessionFeed] = []
        self._kick_scheduled = False
        self._remove = terminal.add_listener(self._on_event)

    @classmethod
    def for_terminal(cls, terminal: Any) -> Pump:
        key = f"hedgestack-pump-{id(terminal)}"
        with _CACHE_LOCK:
            pump = pn.state.cache.get(key)
            if pump is None:
                pump = pn.state.cache[key] = cls(terminal)
        return pump

    def _on_event(self, typed: Any) -> None:  # on the terminal's thread: never block
        envelope = typed.to_json()
        woken = [feed for feed in self._feeds if feed.push(envelope)]
        if not woken:
            return
        with self._lock:
            self._woken.extend(woken)
            if self._kick_scheduled:
                return
            self._kick_scheduled = True
        try:
            asyncio.get_running_loop().call_soon(self._kick)  # after the engine step that published
        except RuntimeError:  # published outside a loop: wake the sessions now
            self._kick()

    def _kick(self) -> None:
        with self._lock:
            woken, self._woken = self._woken, []
            self._kick_scheduled = False
        for feed in woken:
            feed.kick()

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
