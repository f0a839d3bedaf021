"""GET /v1/stream: SNAPSHOT on connect, then live events in the seed's envelope; a slow client is dropped."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from hedgestack.api import api_routes
from hedgestack.engine.terminal import Terminal
from hedgestack.engine.views import EVENT_TYPES, ReconnectView
from tests.api.conftest import ApiServer, Client


def recv_json(ws: websocket.WebSocket) -> dict[str, Any]:
    opcode, data = ws.recv_data()
    assert opcode == websocket.ABNF.OPCODE_TEXT, (opcode, data)
    return json.loads(data)


def recv_until(ws: websocket.WebSocket, wanted: set[str], timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while not wanted <= set(seen):
        assert time.monotonic() < deadline, f"only saw {sorted(seen)}"
        env = recv_json(ws)
        assert set(env) == {"type", "payload", "ts"} and isinstance(env["ts"], int)
        assert env["type"] in EVENT_TYPES
        seen.setdefault(env["type"], env)
    return seen


def test_snapshot_then_live_events(api: ApiServer, http: Client) -> None:
    ws = websocket.create_connection(api.ws_url, timeout=10)
    try:
        first = recv_json(ws)
        assert first["type"] == "SNAPSHOT" and set(first) == {"type", "payload", "ts"}
        assert {"external_positions", "virtual_positions", "open_orders", "reconcile"} <= set(first["payload"])
        vp = http.post("/v1/virtual-positions", {"name": "streamed", "symbol": "BTCUSDT",
                                                 "positionSide": "LONG"}).json()
        resp = http.post("/v1/orders", {"virtual_position_id": vp["id"], "symbol": "BTCUSDT", "positionSide": "LONG",
                                        "side": "BUY", "type": "MARKET", "qty": "0.002"})
        assert resp.status_code == 200, resp.text
        seen = recv_until(ws, {"ORDER_UPSERT", "FILL", "VIRTUAL_POSITION_UPDATE"})
        assert {"orderId", "clientOrderId", "virtual_position_id", "status"} <= set(seen["ORDER_UPSERT"]["payload"])
        assert seen["FILL"]["payload"]["virtual_position_id"] == vp["id"]
        update = seen["VIRTUAL_POSITION_UPDATE"]["payload"]
        assert update["id"] == vp["id"] and {"net_qty", "avg_entry", "realized_pnl", "tpsl"} <= set(update)
        http.post(f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET"})
    finally:
        ws.close()


@pytest.fixture
def small_queue_api(terminal: Terminal) -> Iterator[ApiServer]:
    server = ApiServer(api_routes(terminal, stream_queue=8))
    yield server
    server.stop()


def test_slow_client_is_dropped_with_a_reason(small_queue_api: ApiServer, terminal: Terminal) -> None:
    ws = websocket.create_connection(small_queue_api.ws_url, timeout=10)
    try:
        assert recv_json(ws)["type"] == "SNAPSHOT"

        async def flood() -> None:
            # a burst delivered with no chance to send in between (published on the server's own loop, so each
            # event is queued at once): the client's queue of 8 overflows, as when a client reads too slowly
            for i in range(200):
                terminal.bus.publish("WS_RECONNECT", ReconnectView(reason=f"test burst {i}", state="SYNCING"))

        assert small_queue_api._loop is not None
        asyncio.run_coroutine_threadsafe(flood(), small_queue_api._loop).result(10)
        deadline = time.monotonic() + 10
        while True:
            assert time.monotonic() < deadline
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", data[:2])[0]
                reason = data[2:].decode()
                break
            # the burst, or the tail of an earlier test's trading (the terminal is shared by the module)
            assert json.loads(data)["type"] in ("WS_RECONNECT", "FILL", "ORDER_UPSERT", "VIRTUAL_POSITION_UPDATE",
                                                "TPSL_SYNC_STATUS", "CONSISTENCY_STATUS")
        assert code == 4008
        assert "slow consumer" in reason and "fell behind" in reason
    finally:
        ws.close()
    # the engine kept going and other clients are unaffected
    assert terminal.connection == "CONNECTED"


def test_stream_needs_no_body_and_ignores_client_messages(api: ApiServer) -> None:
    ws = websocket.create_connection(api.ws_url, timeout=10)
    try:
        assert recv_json(ws)["type"] == "SNAPSHOT"
        ws.send("hello")  # ignored
        ws.ping()
    finally:
        ws.close()
