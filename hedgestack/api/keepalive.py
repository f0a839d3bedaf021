"""A WebSocket peer that stops reading its socket (a hung or sleeping browser, a stuck script) is noticed and cut off.

While the kernel's socket buffers absorb what is sent, writes still succeed, so a stall shows only when the peer
stops answering pings: every ``PING_INTERVAL`` seconds a ping goes out, and a peer whose last pong is older than
``PONG_TIMEOUT`` is closed (browsers and aiohttp answer pings in their network layer, so a busy page or a slow
listener is not cut off, only one that no longer reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import tornado.websocket

if TYPE_CHECKING:
    from collections.abc import Callable

PING_INTERVAL = 5.0
PONG_TIMEOUT = 15.0


class Keepalive:
    """Pings ``handler`` and calls ``on_stall(seconds)`` once when no pong came for ``PONG_TIMEOUT``."""

    def __init__(self, handler: tornado.websocket.WebSocketHandler, on_stall: Callable[[float], None],
                 interval: float = PING_INTERVAL, timeout: float = PONG_TIMEOUT) -> None:
        self.handler = handler
        self.on_stall = on_stall
        self.interval = interval
        self.timeout = timeout
        self.last_pong = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ws-keepalive")

    def pong(self) -> None:
        self.last_pong = time.monotonic()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            silent = time.monotonic() - self.last_pong
            if silent > self.timeout:
                self.on_stall(silent)
                return
            with contextlib.suppress(tornado.websocket.WebSocketClosedError):
                self.handler.ping()

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
