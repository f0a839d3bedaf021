"""The link to the exchange: the terminal's connection state and how fresh the exchange's word is.

States: ``STARTING`` (opening, reading the truth), ``SYNCING`` (a (re)connect's catch-up over REST runs),
``CONNECTED`` (streaming, caught up), ``STALE`` (the user stream is silent while REST shows a change it did not
report: the book may be wrong until the catch-up ends), ``DISCONNECTED`` (the user stream is down),
``STOPPED``. Each change is published as ``CONNECTION_STATE`` (``ConnectionView``) with the time of the last
exchange event. The user stream proves itself alive with every message; a silent stream is normal on a quiet
account, so staleness is decided by the truth, not by silence (see ``truth.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hedgestack.engine.views import ConnectionView, ReconnectView

if TYPE_CHECKING:
    from collections.abc import Callable

    from hedgestack.engine.bus import EventBus

log = logging.getLogger("hedgestack.engine")

STATES = ("STARTING", "SYNCING", "CONNECTED", "STALE", "DISCONNECTED", "STOPPED")


@dataclass
class Stats:
    fills: int = 0
    duplicates: int = 0
    malformed: int = 0
    reconnects: int = 0
    backfilled_fills: int = 0
    lost_answers_resolved: int = 0
    mismatches_raised: int = 0
    mismatches_healed: int = 0
    stalls: int = 0


class Link:
    """The connection state (one writer: the engine's loop)."""

    def __init__(self, bus: EventBus, clock: Callable[[], int]) -> None:
        self._bus = bus
        self._clock = clock
        self.state = "STOPPED"
        self.reason: str | None = None
        self.stats = Stats()
        #: when the user stream last delivered a message (Unix ms), None before the first
        self.last_event_at: int | None = None
        #: set while the terminal stops: the streams' closing is not a disconnect
        self.closing = False

    def set(self, state: str, reason: str | None = None) -> None:
        assert state in STATES, state
        if self.closing and state != "STOPPED":
            return
        previous = self.state
        self.state, self.reason = state, reason
        if state != previous:
            if state in ("STALE", "DISCONNECTED"):
                log.warning("connection %s: %s", state, reason)
            self._bus.publish("CONNECTION_STATE", ConnectionView(
                state=state, previous=previous, reconnects=self.stats.reconnects, last_event_at=self.last_event_at,
                reason=reason))

    def event_seen(self) -> None:
        """A user-stream message arrived."""
        self.last_event_at = self._clock()

    def reconnecting(self, reason: str) -> None:
        """The user stream went down: a new socket and a catch-up follow."""
        if self.closing:
            return
        self.stats.reconnects += 1
        self.set("DISCONNECTED", reason)
        self._bus.publish("WS_RECONNECT", ReconnectView(reason=reason, state="DISCONNECTED"))

    @property
    def live(self) -> bool:
        return self.state in ("CONNECTED", "STALE")


__all__ = ["STATES", "Link", "Stats"]
