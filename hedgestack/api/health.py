"""``GET /v1/health``: is the engine live, and how well it keeps up.

200 only while the engine is live (started, its exchange connection CONNECTED); 503 while it starts, reconnects,
stops or after it failed, always with the same body: status, venue, connection, the last exchange events, the
engine loop's lag, the stream's queues, and whatever else registered a part (the dashboard process under
``hedgestack serve``). ``hedgestack status`` prints it.

The :class:`EngineProbe` watches the engine from outside through its public surface: a listener records the
time of the last event of each kind, and a timer on the engine's loop measures how late the loop runs it (lag).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hedgestack.api.context import FAILED, LIVE, STARTING, STOPPING, ApiContext
from hedgestack.engine.views import ALL_EVENT_TYPES, Envelope

if TYPE_CHECKING:
    import asyncio

    from hedgestack.engine.terminal import Terminal

#: how often the probe's timer runs on the engine's loop (seconds)
LAG_PERIOD = 0.25
#: the lag figures cover this many recent samples (one minute)
LAG_WINDOW = 240
#: events that the exchange's streams cause (the market's marks, the account's user stream)
MARKET_TYPES = frozenset({"MARK_PRICE"})
ACCOUNT_TYPES = frozenset({"FILL", "ORDER_UPSERT", "EXTERNAL_POSITION_UPDATE", "ACCOUNT_STATUS", "WS_RECONNECT"})


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class EngineProbe:
    """Last events and loop lag of one terminal (attached once, never blocks the engine)."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}  # event type → ts of its last envelope
        self.events = 0
        self.lags_ms: list[float] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._remove: Any = None
        self.started_ms = now_ms()

    def attach(self, terminal: Terminal) -> None:
        if self._remove is not None:
            return
        self._remove = terminal.add_listener(self._on_event, ALL_EVENT_TYPES)
        loop = terminal.loop
        self._loop = loop
        loop.call_soon_threadsafe(self._schedule)

    def detach(self) -> None:
        if self._remove is not None:
            self._remove()
        self._loop = None

    def _on_event(self, envelope: Envelope) -> None:  # on the engine's loop: one dict store
        self.events += 1
        self.last[envelope.type] = envelope.ts

    def _schedule(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        due = loop.time() + LAG_PERIOD
        loop.call_at(due, self._tick, due)

    def _tick(self, due: float) -> None:
        loop = self._loop
        if loop is None:
            return
        self.lags_ms.append(max(0.0, (loop.time() - due) * 1000))
        del self.lags_ms[:-LAG_WINDOW]
        self._schedule()

    def _last(self, types: frozenset[str] | None, now: int) -> dict[str, Any] | None:
        items = [(ts, kind) for kind, ts in self.last.items() if types is None or kind in types]
        if not items:
            return None
        ts, kind = max(items)
        return {"type": kind, "at": ts, "age_ms": max(0, now - ts)}

    def report(self) -> dict[str, Any]:
        now = now_ms()
        lags = sorted(self.lags_ms)
        return {
            "loop_lag_ms": round(self.lags_ms[-1], 2) if self.lags_ms else None,
            "loop_lag_p99_ms": round(lags[min(len(lags) - 1, int(0.99 * len(lags)))], 2) if lags else None,
            "loop_lag_max_ms": round(lags[-1], 2) if lags else None,
            "last_event": self._last(None, now),
            "last_market_event": self._last(MARKET_TYPES, now),
            "last_account_event": self._last(ACCOUNT_TYPES, now),
            "events": self.events,
        }


def probe_of(ctx: ApiContext) -> EngineProbe:
    if ctx.probe is None:
        ctx.probe = EngineProbe()
    probe: EngineProbe = ctx.probe
    return probe


async def health(ctx: ApiContext) -> tuple[int, dict[str, Any]]:
    """The status code and body of ``GET /v1/health``."""
    t = await ctx.engine()
    probe = probe_of(ctx)
    probe.attach(t)
    connection = t.connection
    live = ctx.phase == LIVE and connection == "CONNECTED"
    status = {STARTING: "starting", STOPPING: "stopping", FAILED: "failed"}.get(ctx.phase) or (
        "ok" if live else "degraded")
    stats = t.stats
    body: dict[str, Any] = {
        "status": status, "live": live, "reason": ctx.phase_reason, "venue": t.venue_name,
        "connection": connection, "symbols": list(t.symbols),
        "uptime_s": round((now_ms() - probe.started_ms) / 1000, 1),
        "engine": probe.report(),
        "live_sessions_confirmed": ctx.live_sessions if t.venue_name == "live" else None,
        "stats": {"fills": stats.fills, "duplicates": stats.duplicates, "reconnects": stats.reconnects,
                  "malformed": stats.malformed},
    }
    for name, part in ctx.health_parts.items():
        try:
            body[name] = part()
        except Exception as exc:  # noqa: BLE001 - a part's failure is shown, not raised
            body[name] = {"error": str(exc)[:200]}
    return (200 if live else 503), body
