"""python-binance's synchronous Client on every REST endpoint; payload shapes against the reference examples."""

from __future__ import annotations

from typing import Any

import msgspec
import requests
from binance.client import Client
from simkit import Control, assert_same_shape

from hedgestack.domain.filters import SymbolFilters
from hedgestack.domain.numbers import D
from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim import DEFAULT_SYMBOLS, SimServer

# reference/binance-usdm.md examples
DOC_NEW_ORDER = {
    "clientOrderId": "testOrder", "cumQty": "0", "cumQuote": "0", "executedQty": "0", "orderId": 22542179,
    "avgPrice": "0.00000", "origQty": "10", "price": "0", "reduceOnly": False, "side": "BUY", "positionSide": "SHORT",
    "status": "NEW", "stopPrice": "0", "closePosition": False, "symbol": "BTCUSDT", "timeInForce": "GTD",
    "type": "LIMIT", "origType": "LIMIT", "updateTime": 1566818724722, "workingType": "CONTRACT_PRICE",
    "priceProtect": False, "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 1693207680000}
QUERY_ORDER_KEYS = (set(DOC_NEW_ORDER) - {"cumQty"}) | {"time", "pair"}
DOC_USER_TRADE = {
    "buyer": False, "commission": "0.07819010", "commissionAsset": "USDT", "id": 698759, "maker": False,
    "orderId": 25851813, "price": "7819.01", "qty": "0.002", "quoteQty": "15.63802", "realizedPnl": "-0.91539999",
    "side": "SELL", "positionSide": "SHORT", "symbol": "BTCUSDT", "time": 1569514978020}
# userTrades rows gained marginAsset, baseQty and pair (SDK 17.0.0, 2026-08; reference §2.4)
DOC_USER_TRADE_NOW = {**DOC_USER_TRADE, "marginAsset": "USDT", "baseQty": "0.002", "pair": "BTCUSDT"}
DOC_ALGO_RESPONSE = {
    "algoId": 2146760, "clientAlgoId": "6B2I9XVcJpCjqPAJ4YoFX7", "algoType": "CONDITIONAL", "orderType": "TAKE_PROFIT",
    "symbol": "BNBUSDT", "side": "SELL", "positionSide": "BOTH", "timeInForce": "GTC", "quantity": "0.01",
    "algoStatus": "NEW", "triggerPrice": "750.000", "price": "750.000", "icebergQuantity": None,
    "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": "CONTRACT_PRICE", "priceMatch": "NONE",
    "closePosition": False, "priceProtect": False, "reduceOnly": False, "activatePrice": "", "callbackRate": "",
    "createTime": 1750485492076, "updateTime": 1750485492076, "triggerTime": 0, "goodTillDate": 0}
DOC_PREMIUM = {"symbol": "BTCUSDT", "markPrice": "11793.63104562", "indexPrice": "11781.80495970",
               "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246",
               "interestRate": "0.00010000", "nextFundingTime": 1597392000000, "time": 1597370495002}
DOC_INCOME = {"symbol": "BTCUSDT", "incomeType": "COMMISSION", "income": "-0.01000000", "asset": "USDT",
              "info": "COMMISSION", "time": 1570636800000, "tranId": 9689322392, "tradeId": "2059192"}
POSITION_V3_KEYS = {"symbol", "positionSide", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice",
                    "unRealizedProfit", "liquidationPrice", "isolatedMargin", "notional", "marginAsset",
                    "isolatedWallet", "initialMargin", "maintMargin", "positionInitialMargin",
                    "openOrderInitialMargin", "adl", "bidNotional", "askNotional", "updateTime"}
POSITION_V2_KEYS = {"entryPrice", "breakEvenPrice", "marginType", "isAutoAddMargin", "isolatedMargin", "leverage",
                    "liquidationPrice", "markPrice", "maxNotionalValue", "positionAmt", "notional", "isolatedWallet",
                    "symbol", "unRealizedProfit", "positionSide", "updateTime"}


def _open_long(client: Client, qty: str = "0.010", cid: str | None = None) -> dict[str, Any]:
    params = {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "MARKET", "quantity": qty}
    if cid:
        params["newClientOrderId"] = cid
    return client.futures_create_order(**params)


def test_public_endpoints(sim: SimServer, client: Client) -> None:
    assert requests.get(sim.url + "/api/v3/ping", timeout=5).json() == {}
    assert isinstance(requests.get(sim.url + "/api/v3/time", timeout=5).json()["serverTime"], int)
    assert client.futures_ping() == {}
    assert isinstance(client.futures_time()["serverTime"], int)
    info = client.futures_exchange_info()
    assert {"timezone", "serverTime", "futuresType", "rateLimits", "exchangeFilters", "assets", "symbols"} <= set(info)
    by_symbol = {s["symbol"]: s for s in info["symbols"]}
    btc = SymbolFilters.from_exchange_info(by_symbol["BTCUSDT"])
    assert (btc.tick_size, btc.lot.step_size, btc.min_notional) == (D("0.10"), D("0.001"), D("100"))
    assert (btc.multiplier_up, btc.multiplier_down, btc.price_precision, btc.quantity_precision) == (
        D("1.05"), D("0.95"), 2, 3)
    eth = SymbolFilters.from_exchange_info(by_symbol["ETHUSDT"])
    assert (eth.tick_size, eth.lot.step_size, eth.min_notional) == (D("0.01"), D("0.001"), D("20"))
    premium = client.futures_mark_price(symbol="BTCUSDT")
    assert_same_shape(premium, DOC_PREMIUM)
    assert premium["markPrice"] == "95000.00000000"
    assert len(client.futures_mark_price()) == len(DEFAULT_SYMBOLS) >= 20
    assert client.futures_symbol_ticker(symbol="ETHUSDT")["price"] == "3500.00"
    klines = client.futures_klines(symbol="BTCUSDT", interval="1m", limit=5)
    assert klines and len(klines[-1]) == 12 and isinstance(klines[-1][0], int) and klines[-1][4] == "95000.00"


def test_order_lifecycle_and_queries(sim: SimServer, client: Client, control: Control) -> None:
    new = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT",
                                      timeInForce="GTC", quantity="0.010", price="94000", newClientOrderId="VP-a-1")
    assert_same_shape(new, DOC_NEW_ORDER)
    msgspec.convert(new, w.NewOrderResponse)
    assert (new["status"], new["price"], new["origQty"]) == ("NEW", "94000.00", "0.010")
    got = client.futures_get_order(symbol="BTCUSDT", orderId=new["orderId"])
    assert set(got) == QUERY_ORDER_KEYS and got["clientOrderId"] == "VP-a-1"
    assert client.futures_get_order(symbol="BTCUSDT", origClientOrderId="VP-a-1")["orderId"] == new["orderId"]
    opened = client.futures_get_open_orders(symbol="BTCUSDT")
    assert [o["orderId"] for o in opened] == [new["orderId"]]
    assert set(opened[0]) == QUERY_ORDER_KEYS
    canceled = client.futures_cancel_order(symbol="BTCUSDT", orderId=new["orderId"])
    assert canceled["status"] == "CANCELED" and set(canceled) == set(DOC_NEW_ORDER)
    assert client.futures_get_open_orders() == []
    all_orders = client.futures_get_all_orders(symbol="BTCUSDT")
    assert [o["status"] for o in all_orders] == ["CANCELED"]
    # RESULT answers the final state of a market order; ACK (default) the accepted one
    result = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                         quantity="0.010", newOrderRespType="RESULT")
    assert (result["status"], result["executedQty"], result["avgPrice"]) == ("FILLED", "0.010", "95000.00")
    ack = _open_long(client)
    assert ack["status"] == "NEW"
    assert client.futures_get_order(symbol="BTCUSDT", orderId=ack["orderId"])["status"] == "FILLED"
    # cancel all
    for price in ("93000", "93100"):
        client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT",
                                    timeInForce="GTC", quantity="0.002", price=price)
    assert client.futures_cancel_all_open_orders(symbol="BTCUSDT") == {
        "code": 200, "msg": "The operation of cancel all open order is done."}
    assert client.futures_get_open_orders(symbol="BTCUSDT") == []


def test_trades_positions_account_balance_income(sim: SimServer, client: Client) -> None:
    first = _open_long(client)
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET", quantity="0.005")
    trades = client.futures_account_trades(symbol="BTCUSDT")
    assert len(trades) == 2
    for t in trades:
        assert_same_shape(t, DOC_USER_TRADE_NOW)
        msgspec.convert(t, w.UserTrade)
        assert (t["marginAsset"], t["baseQty"], t["pair"]) == ("USDT", t["qty"], "BTCUSDT")
    assert trades[0]["orderId"] == first["orderId"] and trades[0]["buyer"] is True
    assert client.futures_account_trades(symbol="BTCUSDT", fromId=trades[1]["id"]) == [trades[1]]
    assert client.futures_account_trades(symbol="BTCUSDT", orderId=first["orderId"]) == [trades[0]]
    v3 = client.futures_position_information(symbol="BTCUSDT")
    assert {p["positionSide"]: p["positionAmt"] for p in v3} == {"LONG": "0.010", "SHORT": "-0.005"}
    assert all(set(p) == POSITION_V3_KEYS for p in v3)
    v2 = client.futures_position_information(symbol="BTCUSDT", version=2)
    assert all(set(p) == POSITION_V2_KEYS for p in v2) and v2[0]["leverage"] == "20"
    msgspec.convert(v2, list[w.PositionRiskV2])
    account = client.futures_account(version=3)
    msgspec.convert(account, w.AccountV3)
    assert account["totalWalletBalance"] == "9999.28750000"  # 10000 − 0.475 − 0.2375
    msgspec.convert(client.futures_account(), w.AccountV2)  # python-binance defaults to v2
    balance = client.futures_account_balance()
    msgspec.convert(balance, list[w.Balance])
    assert balance[0]["asset"] == "USDT" and balance[0]["balance"] == "9999.28750000"
    assert client.futures_account_balance(version=3)[0]["balance"] == "9999.28750000"
    income = client.futures_income_history(symbol="BTCUSDT")
    assert [r["incomeType"] for r in income] == ["COMMISSION", "COMMISSION"]
    for row in income:
        assert_same_shape(row, DOC_INCOME)
    assert income[0]["income"] == "-0.47500000" and income[0]["tradeId"] == str(trades[0]["id"])


def test_position_mode(sim: SimServer, client: Client) -> None:
    from binance.exceptions import BinanceAPIException

    assert client.futures_get_position_mode() == {"dualSidePosition": True}
    try:
        client.futures_change_position_mode(dualSidePosition="true")
    except BinanceAPIException as exc:
        assert exc.code == -4059
    else:
        raise AssertionError("expected -4059")
    _open_long(client)
    try:
        client.futures_change_position_mode(dualSidePosition="false")
    except BinanceAPIException as exc:
        assert exc.code == -4068
    else:
        raise AssertionError("expected -4068")


def test_position_mode_switch_and_one_way_orders(sim: SimServer, client: Client) -> None:
    assert client.futures_change_position_mode(dualSidePosition="false") == {"code": 200, "msg": "success"}
    assert client.futures_get_position_mode() == {"dualSidePosition": False}
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.004")
    pos = client.futures_position_information(symbol="BTCUSDT")
    assert [(p["positionSide"], p["positionAmt"]) for p in pos] == [("BOTH", "0.006")]


def test_algo_endpoints(sim: SimServer, client: Client) -> None:
    _open_long(client)
    created = client.futures_create_algo_order(
        symbol="BTCUSDT", side="SELL", positionSide="LONG", type="TAKE_PROFIT", algoType="CONDITIONAL",
        triggerPrice="97000", price="97000", quantity="0.010", timeInForce="GTC", clientAlgoId="VP-a-TP-1")
    assert_same_shape(created, DOC_ALGO_RESPONSE)
    msgspec.convert(created, w.AlgoOrderResponse)
    # futures_create_order reroutes conditional types to /fapi/v1/algoOrder (stopPrice → triggerPrice)
    routed = client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="STOP_MARKET",
                                         stopPrice="90000", quantity="0.010")
    assert routed["orderType"] == "STOP_MARKET" and routed["triggerPrice"] == "90000.00"
    got = client.futures_get_algo_order(algoId=created["algoId"])
    msgspec.convert(got, w.AlgoOrder)
    assert got["actualOrderId"] == "" and got["algoStatus"] == "NEW"
    assert client.futures_get_algo_order(clientAlgoId="VP-a-TP-1")["algoId"] == created["algoId"]
    opened = client.futures_get_open_algo_orders(symbol="BTCUSDT")
    assert sorted(a["algoId"] for a in opened) == sorted([created["algoId"], routed["algoId"]])
    # untriggered algo orders are not regular open orders
    assert client.futures_get_open_orders(symbol="BTCUSDT") == []
    canceled = client.futures_cancel_algo_order(algoId=created["algoId"])
    assert canceled == {"algoId": created["algoId"], "clientAlgoId": "VP-a-TP-1", "code": "200", "msg": "success"}
    assert client.futures_cancel_all_algo_open_orders(symbol="BTCUSDT") == {
        "code": 200, "msg": "The operation of cancel all open order is done."}
    history = client.futures_get_all_algo_orders(symbol="BTCUSDT")
    assert [a["algoStatus"] for a in history] == ["CANCELED", "CANCELED"]


def test_rate_limit_headers(sim: SimServer, client: Client) -> None:
    _open_long(client)
    headers = client.response.headers
    assert int(headers["X-MBX-USED-WEIGHT-1M"]) >= 0
    assert int(headers["X-MBX-ORDER-COUNT-1M"]) >= 1 and "X-MBX-ORDER-COUNT-10S" in headers
    client.futures_get_open_orders(symbol="BTCUSDT")
    assert "X-MBX-USED-WEIGHT-1M" in client.response.headers


def test_external_order_and_truth(sim: SimServer, client: Client, control: Control) -> None:
    own = _open_long(client, cid="VP-x-1")
    ext = control.post("/external-order", {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG",
                                           "type": "MARKET", "quantity": "0.002", "clientOrderId": "web_abc"})
    assert ext["clientOrderId"] == "web_abc" and ext["status"] == "FILLED"
    limit = control.post("/external-order", {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG",
                                             "type": "LIMIT", "quantity": "0.002", "price": "90000"})
    assert limit["clientOrderId"].startswith("web_") and limit["status"] == "NEW"
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "1"}, status=400)
    truth = control.account()
    assert set(truth) == {"wallet_balance", "positions", "open_orders", "open_algo_orders", "trades"}
    long = next(p for p in truth["positions"] if p["symbol"] == "BTCUSDT" and p["positionSide"] == "LONG")
    assert set(long) == {"symbol", "positionSide", "positionAmt", "entryPrice", "unrealizedProfit", "markPrice"}
    assert long["positionAmt"] == "0.012"
    assert [o["orderId"] for o in truth["open_orders"]] == [limit["orderId"]]
    assert [t["clientOrderId"] for t in truth["trades"]] == ["VP-x-1", "web_abc"]
    assert truth["trades"][0]["orderId"] == own["orderId"]
    assert set(truth["trades"][0]) == set(DOC_USER_TRADE) | {"clientOrderId"}
