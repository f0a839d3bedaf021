"""The streaming pump: the terminal's events → each browser session, coalesced on the session's own loop.

One ``Pump`` per terminal lives in ``pn.state.cache``; it holds one listener (``TerminalApi.add_listener``,
called on a thread that is not the session's: the local terminal's loop thread, or the remote client's stream
thread) that only appends the typed envelope to each session's ``SessionFeed``. The sessions are woken once per
engine step: when the listener runs inside an event loop it asks that loop to call ``_kick`` *after* the step
that published (``call_soon``), so everything one engine action publishes together (a fill's FILL, ORDER_UPSERT
and VIRTUAL_POSITION_UPDATE) goes out as one batch without waiting a fixed time. ``_kick`` asks each woken
session's Bokeh document for a tick (``add_next_tick_callback``, the one thread-safe document call). On the
session's loop the feed then flushes at once (1 ms) when it has been quiet, else once a pause as long as its last
batch took to apply has passed since that batch ended (at least ``MIN_GAP``, at most ``MAX_INTERVAL``): a
lone change (a click's fill) goes out at once, while a burst is coalesced into batches that leave the server's
loop at least half free, so bursts never back the browser up (one update per fill at 100 fills/s backs a
browser up by seconds). Without a server document (inline in a notebook) a periodic callback
drains the feed.

Besides envelopes a feed carries *callbacks* (``send_call``): a command's answer, shown after the batch it came
with has been applied, on the same path as the engine's updates.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import panel as pn

from hedgestack.engine.views import ALL_EVENT_TYPES, Envelope

Item = Envelope | Callable[[], None]

#: the pause after a batch before the next (seconds): as long as the last batch took to apply, within these
MIN_GAP = 0.005
MAX_INTERVAL = 0.1
#: kept for the benchmarks' reports: the longest pause between two batches of a session
MIN_INTERVAL = MAX_INTERVAL
#: a session that has not taken its queue for this many items is cut off (a hung browser cannot grow memory)
MAX_QUEUE = 50_000


class SessionFeed:
    """The queue of one session; ``push``/``send`` from any thread, ``flush`` runs on the session's loop."""

    def __init__(self, apply: Callable[[list[Envelope]], None], doc: Any | None = None) -> None:
        self._apply = apply
        self._doc = doc
        self._lock = threading.Lock()
        self._queue: list[Item] = []
        self._scheduled = False
        self._last_flush = 0.0  # when the last batch ended (monotonic seconds)
        self._last_cost = 0.0  # how long it took to apply
        self.closed = False
        self.overflowed = False
        #: batches applied and envelopes in them (for benchmarks and tests)
        self.batches = 0
        self.envelopes = 0

    @property
    def server_mode(self) -> bool:
        return self._doc is not None

    def attach(self, doc: Any | None) -> None:
        """Bind to the session's document (None inline); queued items wait for ``flush``/``drain``."""
        with self._lock:
            self._doc = doc
            self._scheduled = False

    def push(self, item: Item) -> bool:
        """Queue ``item``; True when the session needs a ``kick`` (nothing was scheduled yet)."""
        with self._lock:
            if self.closed:
                return False
            if len(self._queue) >= MAX_QUEUE:
                self.overflowed = True
                self.closed = True
                self._queue = []
                return False
            self._queue.append(item)
            if self._scheduled or self._doc is None:
                return False
            self._scheduled = True
            return True

    def send(self, item: Item) -> None:
        """Queue ``item`` and wake the session (for items that do not come through the pump)."""
        if self.push(item):
            self.kick()

    def send_call(self, call: Callable[[], None]) -> None:
        self.send(call)

    def call_later(self, seconds: float, call: Callable[[], None]) -> None:
        """Run ``call`` on the session's loop in ``seconds`` (from the session's loop; inline: now)."""
        if self._doc is None:
            call()
            return
        self._doc.add_timeout_callback(call, max(1, int(seconds * 1000)))


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
        pause = min(MAX_INTERVAL, max(MIN_GAP, self._last_cost))
        wait = self._last_flush + pause - time.monotonic()
        if self._doc is not None:
            # always through a timeout callback, even when quiet (1 ms): applying the batch inside this
            # next-tick callback loses what an async widget callback changed in the same loop iteration
            self._doc.add_timeout_callback(self.flush, max(1, int(wait * 1000) + 1))
            return
        self.flush()

    def flush(self) -> None:
        """Apply everything queued (on the session's loop): envelopes first, then the callbacks."""
        with self._lock:
            batch, self._queue = self._queue, []
            self._scheduled = False
        if not batch or self.closed:
            return
        started = time.monotonic()
        envelopes = [item for item in batch if isinstance(item, Envelope)]
        self.batches += 1
        self.envelopes += len(envelopes)
        try:
            self._apply(envelopes)
            for item in batch:
                if not isinstance(item, Envelope):
                    item()
        finally:
            self._last_flush = time.monotonic()
            self._last_cost = self._last_flush - started

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

class Throttle:
    """``draw`` at most once per ``every`` seconds on a session's loop: at once after a quiet spell, else once at
    the end of the spell with the latest state (for what a burst changes on every batch and nobody reads ten
    times a second: the chart's fill markers, the header's figures; each Bokeh change walks its model)."""

    def __init__(self, feed: SessionFeed, every: float, draw: Callable[[], None]) -> None:
        self._feed = feed
        self._every = every
        self._draw = draw
        self._drawn_at = 0.0
        self._due = False

    def now(self) -> None:
        """Draw at once (a change the user made: a symbol, a selection)."""
        self._drawn_at = time.monotonic()
        self._draw()

    def __call__(self) -> None:
        if self._due:
            return
        wait = self._drawn_at + self._every - time.monotonic()
        if wait <= 0:
            self.now()
            return
        self._due = True

        def later() -> None:
            self._due = False
            self.now()

        self._feed.call_later(wait, later)



class Pump:
    """The one listener of a terminal, fanning envelopes out to the session feeds."""

    def __init__(self, terminal: Any) -> None:
        self._feeds: list[SessionFeed] = []
        self._lock = threading.Lock()
        self._woken: list[SessionFeed] = []
        self._kick_scheduled = False
        self._remove = terminal.add_listener(self._on_event, ALL_EVENT_TYPES)

    @classmethod
    def for_terminal(cls, terminal: Any) -> Pump:
        key = f"hedgestack-pump-{id(terminal)}"
        with _CACHE_LOCK:
            pump = pn.state.cache.get(key)
            if pump is None:
                pump = pn.state.cache[key] = cls(terminal)
        return pump

    def _on_event(self, envelope: Envelope) -> None:  # on the terminal's thread: never block
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

    @property
    def feeds(self) -> tuple[SessionFeed, ...]:
        return tuple(self._feeds)

    def close(self) -> None:
        self._remove()
        for feed in self._feeds:
            feed.close()
        self._feeds = []


_CACHE_LOCK = threading.Lock()

__all__ = ["MAX_INTERVAL", "MIN_GAP", "MIN_INTERVAL", "Pump", "SessionFeed"]
