"""The in-process event bus: the seed's seven event types and two extra ones, fanned out to subscribers.

Envelope: ``{"type", "payload", "ts"}`` (ts = server Unix ms). Async subscribers get a bounded queue; one
that falls behind is dropped with a reason instead of stalling the engine. Listeners are plain callables
called synchronously on the engine's loop (they must be quick: hand work to their own loop/thread).

Besides the seed's ``EVENT_TYPES`` the engine publishes ``EXTRA_EVENT_TYPES`` for in-process screens:

- ``MARK_PRICE`` ``{"symbol", "markPrice", "fundingRate", "virtual_positions": [{"id", "mark_price",
  "unrealized_pnl"}]}``: a symbol's mark moved (at most once per ``Terminal.mark_event_interval`` per symbol,
  the latest value last), with the uPnL of that symbol's open VPs at that mark.
- ``CONNECTION_STATE`` ``{"state", "previous", "reconnects"}``: the terminal's connection changed
  (``STARTING`` → ``SYNCING`` (start-up backfill, reconnecting) → ``LIVE``; ``STOPPED``).

Listeners get every type. Queue subscribers get the seed's types unless they ask for more (``types=``), so
the API's ``/v1/stream`` keeps the seed's contract.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("hedgestack.bus")

EVENT_TYPES = ("ORDER_UPSERT", "FILL", "VIRTUAL_POSITION_UPDATE", "EXTERNAL_POSITION_UPDATE", "TPSL_SYNC_STATUS",
               "CONSISTENCY_STATUS", "WS_RECONNECT")
#: in-process extras (see the module doc); not part of the seed's stream
EXTRA_EVENT_TYPES = ("MARK_PRICE", "CONNECTION_STATE")
ALL_EVENT_TYPES = EVENT_TYPES + EXTRA_EVENT_TYPES

Envelope = dict[str, Any]


class Subscription:
    """A bounded queue of envelopes; ``dropped`` says why it was cut off, if it was."""

    def __init__(self, bus: EventBus, maxsize: int, loop: asyncio.AbstractEventLoop,
                 types: frozenset[str] = frozenset(EVENT_TYPES)) -> None:
        self._bus = bus
        self._loop = loop
        self.types = types
        self.queue: asyncio.Queue[Envelope | None] = asyncio.Queue(maxsize=maxsize)
        self.dropped: str | None = None

    def _offer(self, envelope: Envelope) -> None:
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


class EventBus:
    def __init__(self, clock: Callable[[], int] | None = None) -> None:
        self._subscriptions: list[tuple[Subscription, asyncio.AbstractEventLoop]] = []
        self._listeners: list[Callable[[Envelope], None]] = []
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.published = 0

    def subscribe(self, maxsize: int = 10_000, types: Iterable[str] = EVENT_TYPES) -> Subscription:
        """A queue on the calling thread's running loop, of the envelopes of ``types`` (the seed's by default)."""
        wanted = frozenset(types)
        if unknown := wanted - set(ALL_EVENT_TYPES):
            raise ValueError(f"unknown event types {sorted(unknown)}")
        loop = asyncio.get_running_loop()
        sub = Subscription(self, maxsize, loop, wanted)
        self._subscriptions.append((sub, loop))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions = [(s, loop) for s, loop in self._subscriptions if s is not sub]

    def add_listener(self, listener: Callable[[Envelope], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def publish(self, event_type: str, payload: Any) -> Envelope:
        if event_type not in ALL_EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type}")
        envelope = {"type": event_type, "payload": payload, "ts": self._clock()}
        self.published += 1
        for listener in list(self._listeners):
            try:
                listener(envelope)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the engine
                log.exception("bus listener failed")
        for sub, loop in list(self._subscriptions):
            if event_type not in sub.types:
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if loop is running:
                sub._offer(envelope)
            else:
                loop.call_soon_threadsafe(sub._offer, envelope)
        return envelope
