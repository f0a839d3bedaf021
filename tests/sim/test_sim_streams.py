"""WebSocket streams: routes, live subscriptions and their errors, every market stream, a local order book kept
from the diff stream, and user data by listenKey URL or by SUBSCRIBE."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
import websocket
from binance.client import Client
from simkit import Control, wait_until

from hedgestack.venue.sim import SimConfig, SimServer


def _connect(sim: SimServer, path: str) -> websocket.WebSocket:
    return websocket.create_connection(sim.ws_url + path, timeout=5)


def _ask(ws: websocket.WebSocket, request: dict[str, Any] | str) -> Any:
    ws.send(request if isinstance(request, str) else json.dumps(request))
    while True:
        msg = json.loads(ws.recv())
        if "id" in msg and ("result" in msg or "error" in msg):
            return msg


def _wait_for(ws: websocket.WebSocket, match: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    ws.settimeout(timeout)
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if match(msg):
            return msg
    raise AssertionError("no such message")


def test_live_subscriptions_and_their_errors(sim: SimServer) -> None:
    ws = _connect(sim, "market/ws")
    try:
        assert _ask(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "ethusdt@kline_1h"], "id": 1}) == {
            "result": None, "id": 1}
        assert _ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 2}) == {
            "result": ["btcusdt@aggTrade", "ethusdt@kline_1h"], "id": 2}
        assert _ask(ws, {"method": "UNSUBSCRIBE", "params": ["ethusdt@kline_1h"], "id": 3}) == {"result": None,
                                                                                               "id": 3}
        assert _ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 4})["result"] == ["btcusdt@aggTrade"]
        bad = _ask(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@candles"], "id": 5})
        assert bad == {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 5}
        assert _ask(ws, {"method": "SUBSCRIBE", "params": ["xyzusdt@aggTrade"], "id": 6})["error"]["code"] == 2
        assert _ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 7})["result"] == ["btcusdt@aggTrade"]
        assert _ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": "a-uuid"})["id"] == "a-uuid"  # the SDK's ids
        assert _ask(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": -1}) == {
            "error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}, "id": None}
        assert _ask(ws, {"method": "SUBSCRIBED", "params": [], "id": 8})["error"]["code"] == 2
        assert _ask(ws, "{not json")["error"]["code"] == 3
        assert _ask(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 9}) == {"result": False, "id": 9}
        assert _ask(ws, {"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 10})["error"] == {
            "code": 1, "msg": "Invalid value type: expected Boolean"}
        assert _ask(ws, {"method": "SET_PROPERTY", "params": ["colour", True], "id": 11})["error"] == {
            "code": 0, "msg": "Unknown property"}
        assert _ask(ws, {"method": "SET_PROPERTY", "params": ["combined", True], "id": 12}) == {"result": None,
                                                                                               "id": 12}
        Control(sim.url).post("/trade", {"symbol": "BTCUSDT", "price": "95000", "qty": "0.010", "side": "BUY"})
        wrapped = _wait_for(ws, lambda m: "stream" in m)
        assert wrapped["stream"] == "btcusdt@aggTrade" and wrapped["data"]["e"] == "aggTrade"
    finally:
        ws.close()


def test_routes_carry_their_own_streams(sim: SimServer, control: Control) -> None:
    public = _connect(sim, "public/ws/btcusdt@trade")
    market = _connect(sim, "market/ws")
    legacy = _connect(sim, "ws/btcusdt@aggTrade/btcusdt@trade")
    try:
        # a market stream on the public route is acknowledged and stays silent, as on Binance
        assert _ask(market, {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}) == {"result": None,
                                                                                            "id": 1}
        wait_until(lambda: len(sim.streams.by_key.get("btcusdt@trade", ())) == 2)
        control.post("/trade", {"symbol": "BTCUSDT", "price": "95000", "qty": "0.020", "side": "SELL"})
        trade = json.loads(public.recv())
        assert trade["e"] == "trade" and (trade["p"], trade["q"], trade["X"], trade["m"]) == (
            "95000.00", "0.020", "MARKET", True)
        got = {json.loads(legacy.recv())["e"], json.loads(legacy.recv())["e"]}
        assert got == {"trade", "aggTrade"}  # the unrouted path carries both
        market.settimeout(0.5)
        with pytest.raises(websocket.WebSocketTimeoutException):
            market.recv()
    finally:
        for ws in (public, market, legacy):
            ws.close()


@pytest.fixture
def booked(control: Control) -> Iterator[Control]:
    control.post("/book", {"symbol": "BTCUSDT", "spread_ticks": 1, "depth": ["0.300", "0.500", "0.800", "1.300",
                                                                              "2.100"]})
    yield control


def test_local_order_book_from_the_diff_stream(sim: SimServer, booked: Control, client: Client) -> None:
    ws = _connect(sim, "public/stream?streams=btcusdt@depth@100ms")
    try:
        wait_until(lambda: sim.streams.wants("btcusdt@depth@100ms"))
        events: list[dict[str, Any]] = []

        def pump(until: int) -> None:
            ws.settimeout(5)
            while not events or events[-1]["u"] < until:
                events.append(json.loads(ws.recv())["data"])

        booked.post("/trade", {"symbol": "BTCUSDT", "price": "95000.1", "qty": "0.100", "side": "BUY"})
        snapshot = client.futures_order_book(symbol="BTCUSDT", limit=1000)
        local = {"b": {Decimal(p): Decimal(q) for p, q in snapshot["bids"]},
                 "a": {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}}
        # changes after the snapshot: trades, a resting order, a move, a cancel
        order = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT",
                                            timeInForce="GTC", quantity="0.050", price="94999.8")
        booked.post("/trade", {"symbol": "BTCUSDT", "price": "94999.9", "qty": "0.200", "side": "SELL"})
        booked.post("/price", {"symbol": "BTCUSDT", "last": "95000.3"})
        client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET",
                                    quantity="0.400")
        client.futures_cancel_order(symbol="BTCUSDT", orderId=order["orderId"])
        final = client.futures_order_book(symbol="BTCUSDT", limit=1000)
        pump(final["lastUpdateId"])
        applied = 0
        previous_u: int | None = None
        for event in events:
            if event["u"] < snapshot["lastUpdateId"]:
                continue
            if previous_u is None:
                assert event["U"] <= snapshot["lastUpdateId"] <= event["u"]
            else:
                assert event["pu"] == previous_u  # no gap
            for side in ("b", "a"):
                for price, qty in event[side]:
                    if Decimal(qty) == 0:
                        local[side].pop(Decimal(price), None)
                    else:
                        local[side][Decimal(price)] = Decimal(qty)
            previous_u = event["u"]
            applied += 1
        assert applied >= 1
        top_bids = sorted(local["b"].items(), reverse=True)[:5]
        top_asks = sorted(local["a"].items())[:5]
        assert [[f"{p:.2f}", f"{q:.3f}"] for p, q in top_bids] == final["bids"][:5]
        assert [[f"{p:.2f}", f"{q:.3f}"] for p, q in top_asks] == final["asks"][:5]
    finally:
        ws.close()


def test_diff_stream_in_the_random_market_is_gapless() -> None:
    sim = SimServer.start_in_thread(SimConfig(market="random", seed=21, tick_interval=0.05))
    try:
        diff = _connect(sim, "public/ws/btcusdt@depth@100ms")
        top = _connect(sim, "public/ws/btcusdt@bookTicker/btcusdt@depth5")
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            events.append(json.loads(diff.recv()))
        tops = [json.loads(top.recv()) for _ in range(20)]
        diff.close()
        top.close()
        assert len(events) >= 10
        for a, b in zip(events, events[1:], strict=False):
            assert b["pu"] == a["u"] and b["U"] == a["u"] + 1 and b["u"] > a["u"]
        for msg in tops:
            if msg["e"] == "bookTicker":
                assert Decimal(msg["b"]) < Decimal(msg["a"])
            else:
                assert len(msg["b"]) == len(msg["a"]) == 5
                assert Decimal(msg["b"][0][0]) < Decimal(msg["a"][0][0])
    finally:
        sim.stop()


def test_market_streams_of_every_kind(sim: SimServer, control: Control, client: Client) -> None:
    names = ["btcusdt@kline_1h", "btcusdt@miniTicker", "btcusdt@ticker", "!ticker@arr", "!miniTicker@arr",
             "!markPrice@arr@1s", "btcusdt_perpetual@continuousKline_15m", "btcusdt@markPrice"]
    ws = _connect(sim, "market/stream?streams=" + "/".join(names))
    try:
        wait_until(lambda: sim.streams.wants("btcusdt@ticker") and sim.streams.wants("!ticker@arr"))
        control.post("/trade", {"symbol": "BTCUSDT", "price": "95000", "qty": "0.050", "side": "BUY"})
        got: dict[str, Any] = {}
        deadline = time.monotonic() + 10
        while len(got) < len(names) and time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            got.setdefault(msg["stream"], msg["data"])
        assert set(got) == set(names)
        kline = got["btcusdt@kline_1h"]["k"]
        assert kline["i"] == "1h" and kline["T"] - kline["t"] == 3_599_999 and kline["x"] is False
        assert got["btcusdt_perpetual@continuousKline_15m"]["e"] == "continuous_kline"
        ticker = got["btcusdt@ticker"]
        assert set(ticker) == {"e", "E", "s", "p", "P", "w", "c", "Q", "o", "h", "l", "v", "q", "O", "C", "F", "L",
                               "n"}
        assert ticker["c"] == "95000.00" and ticker["C"] - ticker["O"] >= 86_400_000 - 60_000
        assert {t["s"] for t in got["!ticker@arr"]} >= {"BTCUSDT", "ETHUSDT"}
        assert set(got["btcusdt@miniTicker"]) == {"e", "E", "s", "c", "o", "h", "l", "v", "q"}
        assert len(got["!markPrice@arr@1s"]) == len(sim.exchange.markets)
        rest = client.futures_ticker(symbol="BTCUSDT")
        assert rest["lastPrice"] == "95000.00" and int(rest["count"]) > 0
        assert set(rest) == {"symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "lastPrice",
                             "lastQty", "openPrice", "highPrice", "lowPrice", "volume", "quoteVolume", "openTime",
                             "closeTime", "firstId", "lastId", "count"}
    finally:
        ws.close()


def test_user_data_by_subscribe_on_private_and_by_legacy_url(sim: SimServer, client: Client) -> None:
    key = client.futures_stream_get_listen_key()
    private = _connect(sim, "private/stream")
    legacy = _connect(sim, f"ws/{key}")
    try:
        assert _ask(private, {"method": "SUBSCRIBE", "params": [key], "id": 7}) == {"result": None, "id": 7}
        assert _ask(private, {"method": "LIST_SUBSCRIPTIONS", "id": 8})["result"] == [key]
        wait_until(lambda: sum(bool(c.keys) for c in sim.streams.conns) == 2)
        client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                    quantity="0.010")
        wrapped = _wait_for(private, lambda m: m.get("data", {}).get("e") == "ACCOUNT_UPDATE")
        assert wrapped["stream"] == key
        raw = _wait_for(legacy, lambda m: m.get("e") == "ACCOUNT_UPDATE")
        assert raw["a"]["P"][0]["pa"] == "0.010"
        # an unknown listenKey in the URL: HTTP 400 with -1125
        answer = requests.get(sim.url + "/private/ws/nope", timeout=5)
        assert answer.status_code == 400 and answer.json()["code"] == -1125
    finally:
        private.close()
        legacy.close()


def test_force_order_stream_names_are_valid(sim: SimServer) -> None:
    ws = _connect(sim, "market/ws")
    try:
        assert _ask(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder", "!forceOrder@arr",
                                                           "!contractInfo", "btcusdt@markPrice@1s"], "id": 1}) == {
            "result": None, "id": 1}
    finally:
        ws.close()
