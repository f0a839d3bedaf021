"""When each trade's ORDER_TRADE_UPDATE frame leaves a simulator: the start of every fill → bus latency figure.

Install it in the simulator's process before the simulator starts. It wraps aiohttp's ``send_str`` and keeps,
per tradeId, the wall clock (``time.time_ns``) of the first frame that carried it; the terminal's side is taken
with the same clock, so both ends agree on one machine.
"""

from __future__ import annotations

import re
import threading
import time

from aiohttp import web

_TRADE = re.compile(r'"x":"TRADE".*?"t":(\d+)')


class FrameClock:
    """tradeId → ns of the first ORDER_TRADE_UPDATE frame that carried it."""

    def __init__(self) -> None:
        self.sent: dict[int, int] = {}
        self._lock = threading.Lock()

    def install(self) -> FrameClock:
        original = web.WebSocketResponse.send_str
        clock = self

        async def timed_send(ws: web.WebSocketResponse, data: str, compress: int | None = None) -> None:
            if '"ORDER_TRADE_UPDATE"' in data:
                match = _TRADE.search(data)
                if match:
                    stamp = time.time_ns()
                    with clock._lock:
                        clock.sent.setdefault(int(match.group(1)), stamp)
            await original(ws, data, compress)

        web.WebSocketResponse.send_str = timed_send  # type: ignore[method-assign,assignment]
        return self

    def take(self) -> dict[int, int]:
        """Everything recorded so far, forgotten here (so a long run's memory stays flat)."""
        with self._lock:
            taken, self.sent = self.sent, {}
        return taken

    def snapshot(self) -> dict[int, int]:
        with self._lock:
            return dict(self.sent)


__all__ = ["FrameClock"]
