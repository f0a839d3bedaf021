"""The client's side of ``/v1/stream``: one WebSocket per client, its events fanned out to listeners and
``events()`` iterators exactly as the local terminal's bus does (same types, same order, same bounded queues).

Listeners run on the client's own thread (its loop), one event at a time in stream order; ``events()`` iterators
get a bounded queue on the caller's loop and end (``StopAsyncIteration``) when they fall ``maxsize`` behind. When
the stream to ``hedgestack serve`` is lost, listeners get a ``CONNECTION_STATE`` DISCONNECTED; once it is back, a
SYNCING and then the engine's own state (so a front-end reloads its ``state()``, as after an exchange reconnect).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from hedgestack.engine.views import ALL_EVENT_TYPES, EVENT_TYPES, ConnectionView, Envelope

log = logging.getLogger("hedgestack.client")

Listener = Callable[[Envelope], None]


def check_types(types: Iterable[str]) -> frozenset[str]:
    """The set of ``types``; ValueError naming any unknown one (as the local bus)."""
    wanted = frozenset(types)
    if unknown := wanted - set(ALL_EVENT_TYPES):
        raise ValueError(f"unknown event types {sorted(unknown)}; known: {', '.join(ALL_EVENT_TYPES)}")
    return wanted


class Subscription:
    """A bounded queue of envelopes on its owner's loop; ``dropped`` says why it was cut off."""

    def __init__(self, owner: Dispatcher, maxsize: int, loop: asyncio.AbstractEventLoop,
                 types: frozenset[str]) -> None:
        self._owner = owner
        self.loop = loop
        self.types = types
        self.queue: asyncio.Queue[Envelope | None] = asyncio.Queue(maxsize=maxsize)
        self.dropped: str | None = None

    def offer(self, envelope: Envelope) -> None:
        """On the subscriber's loop: queue ``envelope``; a full queue ends the subscription."""
        if self.dropped is not None:
            return
        if self.queue.full():
            self.dropped = f"subscriber fell behind by more than {self.queue.maxsize} events"
            self._owner.unsubscribe(self)
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(envelope)

    async def get(self) -> Envelope | None:
        return await self.queue.get()

    def close(self) -> None:
        self._owner.unsubscribe(self)


class Dispatcher:
    """Listeners and subscriptions of one client; ``dispatch`` runs on the client's loop."""

    def __init__(self) -> None:
        self._listeners: list[tuple[Listener, frozenset[str]]] = []
        self._subscriptions: list[Subscription] = []
        self.dispatched = 0

    def add_listener(self, listener: Listener, types: Iterable[str] = ALL_EVENT_TYPES) -> Callable[[], None]:
        entry = (listener, check_types(types))
        self._listeners = [*self._listeners, entry]

        def remove() -> None:
            self._listeners = [e for e in self._listeners if e is not entry]

        return remove

    def subscribe(self, maxsize: int, types: Iterable[str] = EVENT_TYPES) -> Subscription:
        sub = Subscription(self, maxsize, asyncio.get_running_loop(), check_types(types))
        self._subscriptions = [*self._subscriptions, sub]
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions = [s for s in self._subscriptions if s is not sub]

    def dispatch(self, envelope: Envelope) -> None:
        self.dispatched += 1
        for listener, types in self._listeners:
            if envelope.type in types:
                try:
                    listener(envelope)
                except Exception:  # noqa: BLE001 - a listener's bug must not stop the stream
                    log.exception("event listener failed")
        if not self._subscriptions:
            return
        running = asyncio.get_running_loop()
        for sub in self._subscriptions:
            if envelope.type not in sub.types:
                continue
            if sub.loop is running:
                sub.offer(envelope)
            elif not sub.loop.is_closed():
                sub.loop.call_soon_threadsafe(sub.offer, envelope)

    def close_all(self) -> None:
        """End every ``events()`` iterator (the client is closing)."""
        for sub in self._subscriptions:
            sub.dropped = "client closed"
            if not sub.loop.is_closed():
                sub.loop.call_soon_threadsafe(sub.queue.put_nowait, None)
        self._subscriptions = []


def connection_event(state: str, previous: str, reconnects: int, reason: str | None, ts: int) -> Envelope:
    """A CONNECTION_STATE envelope the client makes itself (its own stream to the server went down or up)."""
    return Envelope("CONNECTION_STATE", ConnectionView(state=state, previous=previous, reconnects=reconnects,
                                                       reason=reason), ts)


def describe(exc: BaseException) -> Any:
    return f"{type(exc).__name__}: {exc}"[:200]
