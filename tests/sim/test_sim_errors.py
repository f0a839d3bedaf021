"""Every refusal the issue lists, with Binance's code (and message where it is fixed)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException
from simkit import Control, make_client

from hedgestack.venue.sim import SimServer
from hedgestack.venue.sim.auth import sign


def _code(call: Any, **params: Any) -> tuple[int, str]:
    with pytest.raises(BinanceAPIException) as info:
        call(**params)
    return info.value.code, info.value.message


def _order(client: Client, **over: Any) -> tuple[int, str]:
    params = {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "MARKET", "quantity": "0.010"}
    params.update(over)
    params = {k: v for k, v in params.items() if v is not None}
    return _code(client._request_futures_api, method="post", path="order", signed=True, data=params)


def test_hedge_mode_rules(client: Client) -> None:
    assert _order(client, positionSide=None)[0] == -4061
    assert _order(client, positionSide="BOTH")[0] == -4061
    for value in ("true", "false"):
        assert _order(client, reduceOnly=value) == (-1106, "Parameter 'reduceonly' sent when not required.")
    assert _order(client, type="STOP_MARKET", stopPrice="90000") == (
        -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
    assert _order(client, type="TAKE_PROFIT", price="1", stopPrice="1")[0] == -4120


def test_closing_more_than_the_side(client: Client) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.010")
    assert _order(client, side="SELL", quantity="0.011") == (-2022, "ReduceOnly Order is rejected.")
    # an open closing order counts against the side
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="LIMIT", timeInForce="GTC",
                                quantity="0.006", price="99000")
    assert _order(client, side="SELL", quantity="0.005")[0] == -2022
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="MARKET", quantity="0.004")
    # untriggered algo orders do not count
    client.futures_create_algo_order(symbol="BTCUSDT", side="BUY", positionSide="SHORT", type="STOP_MARKET",
                                     algoType="CONDITIONAL", triggerPrice="99000", quantity="0.010")
    assert _order(client, side="BUY", positionSide="SHORT", quantity="0.001")[0] == -2022  # flat short


def test_client_order_ids(client: Client) -> None:
    too_long = (-4015, "Client order id length should not be more than 36 chars")
    assert _order(client, newClientOrderId="x" * 37) == too_long
    assert _order(client, newClientOrderId="bad id!")[0] == -4015
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT", timeInForce="GTC",
                                quantity="0.010", price="90000", newClientOrderId="VP-dup")
    assert _order(client, newClientOrderId="VP-dup") == (-4116, "clientOrderId is duplicated")
    # a filled order's id may be reused
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.010",
                                newClientOrderId="VP-once")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.010",
                                newClientOrderId="VP-once")


def test_filters(client: Client) -> None:
    limit = {"type": "LIMIT", "timeInForce": "GTC"}
    assert _order(client, quantity="0.0015")[0] == -1111
    assert _order(client, quantity="0.001")[0] == -4164  # 95 USDT < 100
    assert _order(client, **limit, price="95000.05")[0] in (-1111, -4014)
    assert _order(client, **limit, price="95000.15", quantity="0.01")[0] in (-1111, -4014)
    assert _order(client, **limit, price="100000", quantity="0.010")[0] == -4016  # > mark × 1.05
    assert _order(client, **limit, side="SELL", positionSide="SHORT", price="90000", quantity="0.010")[0] == -4024
    assert _order(client, **limit, price="500", quantity="1")[0] == -4013
    assert _order(client, quantity="121")[0] == -4005  # MARKET_LOT_SIZE max 120
    assert _order(client, quantity="0")[0] == -4003
    assert _order(client, symbol="XYZUSDT") == (-1121, "Invalid symbol.")
    # closing orders are not held to the min notional
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.002")
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="MARKET", quantity="0.001")


def test_margin_insufficient(client: Client) -> None:
    # 10,000 USDT at 20x carries at most 200,000 notional: 2.2 BTC at 95,000 = 209,000
    assert _order(client, quantity="2.2") == (-2019, "Margin is insufficient.")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="2.0")


def test_unknown_orders(client: Client) -> None:
    assert _code(client.futures_cancel_order, symbol="BTCUSDT", orderId=1) == (-2011, "Unknown order sent.")
    assert _code(client.futures_get_order, symbol="BTCUSDT", orderId=1) == (-2013, "Order does not exist.")
    filled = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                         quantity="0.010")
    assert _code(client.futures_cancel_order, symbol="BTCUSDT", orderId=filled["orderId"])[0] == -2011
    assert _code(client.futures_cancel_algo_order, algoId=1)[0] == -2011
    assert _code(client.futures_get_algo_order, algoId=1)[0] == -2013


def test_algo_rules(client: Client) -> None:
    algo = {"symbol": "BTCUSDT", "algoType": "CONDITIONAL", "side": "SELL", "positionSide": "LONG",
            "type": "STOP_MARKET", "quantity": "0.010", "triggerPrice": "90000"}
    create = client.futures_create_algo_order
    assert _code(create, **{**algo, "positionSide": "BOTH"})[0] == -4061
    assert _code(create, **{**algo, "reduceOnly": "true"}) == (-1106, "Parameter 'reduceonly' sent when not required.")
    assert _code(create, **{**algo, "triggerPrice": "96000"}) == (-2021, "Order would immediately trigger.")
    assert _code(create, **{**algo, "clientAlgoId": "no spaces"})[0] == -4015
    create(**{**algo, "clientAlgoId": "VP-sl"})
    assert _code(create, **{**algo, "clientAlgoId": "VP-sl"})[0] == -4116
    assert _code(create, **{**algo, "triggerPrice": "90000.05"})[0] in (-1111, -4014)


def _signed_get(sim: SimServer, path: str, query: str, *, key: str = "hedgestack-sim",
                secret: str = "hedgestack-sim-secret", headers: bool = True) -> requests.Response:
    signature = sign(secret, query)
    return requests.get(f"{sim.url}{path}?{query}&signature={signature}",
                        headers={"X-MBX-APIKEY": key} if headers else {}, timeout=5)


def test_security(sim: SimServer) -> None:
    now = int(time.time() * 1000)
    ok = _signed_get(sim, "/fapi/v1/openOrders", f"timestamp={now}")
    assert ok.status_code == 200 and ok.json() == []
    bad_key = _signed_get(sim, "/fapi/v1/openOrders", f"timestamp={now}", key="nope")
    assert bad_key.json()["code"] == -2015 and bad_key.headers["Content-Type"].startswith("application/json")
    assert _signed_get(sim, "/fapi/v1/openOrders", f"timestamp={now}", headers=False).json()["code"] == -2014
    bad_sig = _signed_get(sim, "/fapi/v1/openOrders", f"timestamp={now}", secret="wrong")
    assert bad_sig.json() == {"code": -1022, "msg": "Signature for this request is not valid."}
    stale = _signed_get(sim, "/fapi/v1/openOrders", f"timestamp={now - 6000}")
    assert stale.json() == {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    assert _signed_get(sim, "/fapi/v1/openOrders", f"recvWindow=10000&timestamp={now - 6000}").status_code == 200
    ahead = _signed_get(sim, "/fapi/v1/openOrders", f"timestamp={now + 5000}")
    assert ahead.json()["code"] == -1021
    # the reference's test vector: query + body concatenated
    assert sign("2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9",
                "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000"
                "&timestamp=1591702613943") == "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    # the client library's own wrong secret gives -1022 through BinanceAPIException
    wrong = make_client(sim)
    wrong.API_SECRET = "wrong"
    assert _code(wrong.futures_get_open_orders)[0] == -1022


def test_rate_limit_429_then_418(control: Control, client: Client) -> None:
    control.post("/faults", {"kind": "rate_limit", "count": 2})
    for _ in range(2):
        code, _msg = _code(client.futures_get_open_orders)
        assert code == -1003 and client.response.status_code == 429
    assert client.futures_get_open_orders() == []
    control.post("/faults", {"kind": "rate_limit", "count": 50})
    statuses = []
    for _ in range(12):
        with pytest.raises(BinanceAPIException):
            client.futures_get_open_orders()
        statuses.append(client.response.status_code)
    # 429 while it lasts; after more than 10 rejections in a minute the IP is banned (418)
    assert 418 in statuses and set(statuses[:statuses.index(418)]) == {429}
    assert statuses[statuses.index(418):] == [418] * (12 - statuses.index(418))
    assert "banned" in client.response.json()["msg"]
    control.post("/reset")  # lifts the ban
    assert client.futures_get_open_orders() == []
