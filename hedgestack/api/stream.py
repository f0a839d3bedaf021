"""``GET /v1/stream``: the seed's event envelope over a WebSocket.

On connect: one ``SNAPSHOT`` (``/v1/state``), then every bus event as ``{"type", "payload", "ts"}``. The
subscription is taken before the snapshot is read, so no event is lost between the two (an event may
repeat what the snapshot already shows). Each client has a bounded queue; a client that falls behind is
closed with code 4008 and a reason saying so (the engine never waits for a client). Auth and Origin are
checked before the upgrade.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import tornado.websocket

from hedgestack.api.context import COOKIE, VENUE_HEADER, ApiContext
from hedgestack.api.errors import ApiError, envelope_of, status_of
from hedgestack.domain.errors import HedgestackError
from hedgestack.engine.views import Envelope, StateView

log = logging.getLogger("hedgestack.api.stream")

CLOSE_SLOW = 4008
CLOSE_TERMINAL = 1011
#: a write the client has not taken within this many seconds counts as falling behind
WRITE_TIMEOUT = 10.0


class StreamHandler(tornado.websocket.WebSocketHandler):
    def initialize(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self._pump: asyncio.Task[None] | None = None
        self._sub: Any = None

    async def get(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.ctx.authorize(self.request.headers.get("Authorization"), self.get_cookie(COOKIE),
                               self.request.remote_ip)
            if self.request.headers.get("Upgrade", "").lower() != "websocket":
                raise ApiError(426, "UPGRADE_REQUIRED", "/v1/stream is a WebSocket: connect with Upgrade: websocket")
            self.terminal = await self.ctx.terminal()
        except HedgestackError as exc:
            self.set_status(status_of(exc))
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps(envelope_of(exc)))
            return
        self.set_header(VENUE_HEADER, self.terminal.venue_name)
        await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:
        return self.ctx.origin_allowed(origin, self.request.host)

    async def open(self, *args: str, **kwargs: str) -> None:
        self._sub = self.terminal.bus.subscribe(self.ctx.stream_queue)
        try:
            state = await self.terminal.state()
        except HedgestackError as exc:
            self._sub.close()
            self.close(CLOSE_TERMINAL, f"{exc.code}: {exc.message}"[:120])
            return
        self._pump = asyncio.create_task(self._forward(state))

    async def _send(self, envelope: Envelope) -> bool:
        try:
            text = json.dumps(envelope.to_json(), separators=(",", ":"))
            await asyncio.wait_for(self.write_message(text), WRITE_TIMEOUT)
        except (tornado.websocket.WebSocketClosedError, asyncio.CancelledError):
            return False
        except TimeoutError:
            self._drop(f"slow consumer: a message was not taken within {WRITE_TIMEOUT:g} s")
            return False
        return True

    async def _forward(self, state: StateView) -> None:
        sub = self._sub
        if not await self._send(Envelope("SNAPSHOT", state, time.time_ns() // 1_000_000)):
            return
        while True:
            env = await sub.get()
            if env is None:
                self._drop(f"slow consumer: {sub.dropped or 'subscription closed'}; reconnect for a new SNAPSHOT")
                return
            if not await self._send(env):
                return

    def _drop(self, reason: str) -> None:
        log.warning("stream client %s dropped: %s", self.request.remote_ip, reason)
        if self._sub is not None:
            self._sub.close()
        # the reason travels in the close frame (at most 123 bytes)
        self.close(CLOSE_SLOW, reason.encode()[:120].decode(errors="ignore"))

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen; anything they send is ignored."""

    def on_close(self) -> None:
        if self._sub is not None:
            self._sub.close()
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
