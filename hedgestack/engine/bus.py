"""The in-process event bus: typed envelopes (:class:`~hedgestack.engine.views.Envelope`) fanned out to
subscribers.

Event types are the seed's seven (``views.EVENT_TYPES``) and the extensions (``views.EXTENSION_EVENT_TYPES``:
``MARK_PRICE``, ``CONNECTION_STATE``, ``ACCOUNT_STATUS``); each carries the payload view that
``views.EVENT_PAYLOADS`` names. The JSON form is made at the edge (the stream, the remote client's wire) by
``views.to_json``.

Async subscribers get a bounded queue on their own loop; one that falls behind is dropped with a reason instead
of stalling the engine. Envelopes for subscribers on another thread's loop go through one mailbox per loop: a
burst of events wakes that loop once (a wake-up is a write to its self-pipe: one per event cost the engine a
fifth of its time at 200 fills/s), in publication order. Listeners are plain callables called synchronously on
the engine's loop (they must be quick: hand work to their own loop/thread). Queue subscribers get the seed's
types unless they ask for more (``types=``), so the API's ``/v1/stream`` keeps the seed's contract; listeners
choose their types too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable

from hedgestack.engine.views import ALL_EVENT_TYPES, EVENT_PAYLOADS, EVENT_TYPES, Envelope, View

log = logging.getLogger("hedgestack.bus")

Listener = Callable[[Envelope], None]


def check_types(types: Iterable[str]) -> frozenset[str]:
    """The set of ``types``; ValueError naming any unknown one."""
    wanted = frozenset(types)
    if unknown := wanted - set(ALL_EVENT_TYPES):
        raise ValueError(f"unknown event types {sorted(unknown)}; known: {', '.join(ALL_EVENT_TYPES)}")
    return wanted


class Subscription:
    """A bounded queue of envelopes; ``dropped`` says why it was cut off, if it was."""

    def __init__(self, bus: EventBus, maxsize: int, loop: asyncio.AbstractEventLoop,
                 types: frozenset[str] = frozenset(EVENT_TYPES)) -> None:
        self._bus = bus
        self._loop = loop
        self.types = types
        self.queue: asyncio.Queue[Envelope | None] = asyncio.Queue(maxsize=maxsize)
        self.dropped: str | None = None

    def offer(self, envelope: Envelope) -> None:
        """Queue ``envelope`` (on the subscriber's loop); a full queue drops the subscription."""
        if self.dropped is not None:
            return
        if self.queue.full():
            self.dropped = f"subscriber fell behind by more than {self.queue.maxsize} events"
            self._bus.unsubscribe(self)
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(envelope)

    async def get(self) -> Envelope | None:
        """The next envelope, or None once dropped or closed."""
        return await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class _Mailbox:
    """Envelopes on their way to the subscriptions of one other loop, delivered in order, one wake-up per burst."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._items: list[tuple[Subscription, Envelope]] = []
        self._lock = threading.Lock()
        self._scheduled = False

    def post(self, sub: Subscription, envelope: Envelope) -> None:
        with self._lock:
            self._items.append((sub, envelope))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the subscriber's loop is closed: nobody will read these
            with self._lock:
                self._items.clear()
                self._scheduled = False

    def _deliver(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        for sub, envelope in items:
            sub.offer(envelope)


class EventBus:
    def __init__(self, clock: Callable[[], int] | None = None) -> None:
        self._mailboxes: dict[asyncio.AbstractEventLoop, _Mailbox] = {}
        self._subscriptions: list[tuple[Subscription, asyncio.AbstractEventLoop]] = []
        self._listeners: list[tuple[Listener, frozenset[str]]] = []
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.published = 0

    def subscribe(self, maxsize: int = 10_000, types: Iterable[str] = EVENT_TYPES) -> Subscription:
        """A queue on the calling thread's running loop, of the envelopes of ``types`` (the seed's by default)."""
        wanted = check_types(types)
        loop = asyncio.get_running_loop()
        sub = Subscription(self, maxsize, loop, wanted)
        self._subscriptions.append((sub, loop))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions = [(s, loop) for s, loop in self._subscriptions if s is not sub]
        loops = {loop for _, loop in self._subscriptions}
        self._mailboxes = {loop: box for loop, box in self._mailboxes.items() if loop in loops}

    def add_listener(self, listener: Listener, types: Iterable[str] = ALL_EVENT_TYPES) -> Callable[[], None]:
        """Call ``listener(envelope)`` on the engine's loop for every event of ``types``; returns its remover."""
        entry = (listener, check_types(types))
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry) if entry in self._listeners else None

    def publish(self, event_type: str, payload: View) -> Envelope:
        expected = EVENT_PAYLOADS.get(event_type)
        if expected is None or event_type not in ALL_EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type}")
        if type(payload) is not expected:
            raise TypeError(f"{event_type} carries {expected.__name__}, not {type(payload).__name__}")
        envelope = Envelope(event_type, payload, self._clock())
        self.published += 1
        for listener, types in list(self._listeners):
            if event_type not in types:
                continue
            try:
                listener(envelope)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the engine
                log.exception("bus listener failed")
        if self._subscriptions:
            try:
                running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            for sub, loop in list(self._subscriptions):
                if event_type not in sub.types:
                    continue
                if loop is running:
                    sub.offer(envelope)
                else:
                    mailbox = self._mailboxes.get(loop)
                    if mailbox is None:
                        mailbox = self._mailboxes[loop] = _Mailbox(loop)
                    mailbox.post(sub, envelope)
        return envelope
