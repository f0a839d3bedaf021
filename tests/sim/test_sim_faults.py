"""Each fault of the control API does what it says."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp
import pytest
import requests
from binance.client import Client
from simkit import Control, wait_until

from hedgestack.venue.sim import SimServer


class UserSocket:
    """A raw user-data socket (aiohttp) that records every message."""

    def __init__(self, sim: SimServer, key: str) -> None:
        self.url = f"{sim.ws_url}private/ws?listenKey={key}"
        self.messages: list[dict[str, Any]] = []
        self.closed = asyncio.Event()

    async def run(self, session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(self.url) as ws:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.messages.append(json.loads(msg.data))
        self.closed.set()


def _key(client: Client) -> str:
    return client.futures_stream_get_listen_key()


async def _with_socket(sim: SimServer, client: Client, body: Any) -> UserSocket:
    key = await asyncio.to_thread(_key, client)
    sock = UserSocket(sim, key)
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(sock.run(session))
        await asyncio.to_thread(wait_until, lambda: sim.users.conns)
        try:
            await body(sock)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return sock


def _buy(client: Client, qty: str = "0.010") -> dict[str, Any]:
    return client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity=qty)


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_disconnect_user_stream(sim: SimServer, client: Client, control: Control) -> None:
    async def body(sock: UserSocket) -> None:
        await asyncio.to_thread(control.post, "/faults", {"kind": "disconnect_user_stream"})
        await asyncio.wait_for(sock.closed.wait(), 5)

    await _with_socket(sim, client, body)


async def test_pause_user_stream_drops_events(sim: SimServer, client: Client, control: Control) -> None:
    async def body(sock: UserSocket) -> None:
        await asyncio.to_thread(control.post, "/faults", {"kind": "pause_user_stream", "seconds": 0.3})
        await asyncio.to_thread(_buy, client)  # its events fall in the window
        await asyncio.sleep(0.4)
        await asyncio.to_thread(_buy, client)
        await _until(lambda: sum(m["e"] == "ACCOUNT_UPDATE" for m in sock.messages) >= 1)

    sock = await _with_socket(sim, client, body)
    fills = [m for m in sock.messages if m["e"] == "ORDER_TRADE_UPDATE" and m["o"]["x"] == "TRADE"]
    assert len(fills) == 1  # only the second order's fill; the first is lost for good
    trades = client.futures_account_trades(symbol="BTCUSDT")
    assert len(trades) == 2 and fills[0]["o"]["t"] == trades[1]["id"]


async def test_duplicate_events(sim: SimServer, client: Client, control: Control) -> None:
    async def body(sock: UserSocket) -> None:
        await asyncio.to_thread(control.post, "/faults", {"kind": "duplicate_events", "count": 2})
        await asyncio.to_thread(_buy, client)
        await _until(lambda: sum(m["e"] == "ACCOUNT_UPDATE" for m in sock.messages) >= 1)

    sock = await _with_socket(sim, client, body)
    kinds = [(m["e"], m.get("o", {}).get("x")) for m in sock.messages]
    # the next 2 events (NEW, TRADE) twice; the ACCOUNT_UPDATE once
    assert kinds == [("ORDER_TRADE_UPDATE", "NEW")] * 2 + [("ORDER_TRADE_UPDATE", "TRADE")] * 2 + [
        ("ACCOUNT_UPDATE", None)]


async def test_expire_listen_key(sim: SimServer, client: Client, control: Control) -> None:
    async def body(sock: UserSocket) -> None:
        await asyncio.to_thread(control.post, "/faults", {"kind": "expire_listen_key"})
        await _until(lambda: any(m["e"] == "listenKeyExpired" for m in sock.messages))

    key = await asyncio.to_thread(_key, client)
    sock = await _with_socket(sim, client, body)
    assert sock.messages[-1]["listenKey"] == key
    from binance.exceptions import BinanceAPIException

    with pytest.raises(BinanceAPIException) as info:
        client.futures_stream_keepalive(key)
    assert info.value.code == -1125
    assert client.futures_stream_get_listen_key() != key  # a new one


def test_lose_rest_response_executes_then_drops(client: Client, control: Control) -> None:
    control.post("/faults", {"kind": "lose_rest_response", "path": "/fapi/v1/order", "count": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                    quantity="0.010", newClientOrderId="VP-lost-1")
    # the order was executed: it can be resolved by its clientOrderId
    got = client.futures_get_order(symbol="BTCUSDT", origClientOrderId="VP-lost-1")
    assert got["status"] == "FILLED"
    assert _buy(client)["status"] == "NEW"  # the next one answers


def test_rate_limit_fault_counts_signed_requests_only(client: Client, control: Control) -> None:
    control.post("/faults", {"kind": "rate_limit", "count": 1})
    assert client.futures_ping() == {}  # unsigned: not affected
    from binance.exceptions import BinanceAPIException

    with pytest.raises(BinanceAPIException) as info:
        client.futures_get_open_orders()
    assert (info.value.code, info.value.status_code) == (-1003, 429)
    assert client.futures_get_open_orders() == []


def test_unknown_fault_kind(control: Control) -> None:
    assert control.post("/faults", {"kind": "meteor"}, status=400)["code"] == -1102


async def test_reset_closes_user_streams(sim: SimServer, client: Client, control: Control) -> None:
    key = await asyncio.to_thread(_key, client)

    async def body(sock: UserSocket) -> None:
        await asyncio.to_thread(control.post, "/reset")
        await asyncio.wait_for(sock.closed.wait(), 5)

    await _with_socket(sim, client, body)
    from binance.exceptions import BinanceAPIException

    with pytest.raises(BinanceAPIException):
        client.futures_stream_keepalive(key)
