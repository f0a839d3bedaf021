"""Hedge-mode accounting against hand-computed figures (fees: taker 0.05 %, maker 0.02 %)."""

from __future__ import annotations

from binance.client import Client
from simkit import Control

from hedgestack.venue.sim import SimServer


def _market(client: Client, side: str, ps: str, qty: str) -> dict:
    return client.futures_create_order(symbol="BTCUSDT", side=side, positionSide=ps, type="MARKET", quantity=qty)


def _pos(client: Client, ps: str) -> dict:
    return next(p for p in client.futures_position_information(symbol="BTCUSDT") if p["positionSide"] == ps)


def _wallet(control: Control) -> str:
    return control.account()["wallet_balance"]


def test_long_wac_rp_and_fees(client: Client, control: Control) -> None:
    # BUY+LONG 0.010 @ 95000 (taker): fee 0.010 × 95000 × 0.0005 = 0.475
    _market(client, "BUY", "LONG", "0.010")
    # BUY+LONG 0.010 @ 96000 (taker): fee 0.48; entry = (950 + 960) / 0.020 = 95500
    control.price("BTCUSDT", "96000")
    _market(client, "BUY", "LONG", "0.010")
    assert _pos(client, "LONG")["entryPrice"] == "95500.0"
    # SELL+LONG 0.005 LIMIT @ 97000 rests, fills as maker when last reaches it:
    # rp = 0.005 × (97000 − 95500) = 7.5; fee = 0.005 × 97000 × 0.0002 = 0.097
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="LIMIT", timeInForce="GTC",
                                quantity="0.005", price="97000")
    control.price("BTCUSDT", "97100")
    trades = client.futures_account_trades(symbol="BTCUSDT")
    assert [(t["price"], t["maker"], t["commission"], t["realizedPnl"]) for t in trades] == [
        ("95000.00", False, "0.47500000", "0.00000000"),
        ("96000.00", False, "0.48000000", "0.00000000"),
        ("97000.00", True, "0.09700000", "7.50000000"),
    ]
    long = _pos(client, "LONG")
    # entry unchanged by a reducing fill; upnl = 0.015 × (97100 − 95500) = 24
    assert (long["positionAmt"], long["entryPrice"], long["unRealizedProfit"]) == ("0.015", "95500.0", "24.00000000")
    # wallet = 10000 − 0.475 − 0.48 + 7.5 − 0.097 = 10006.448
    assert _wallet(control) == "10006.44800000"
    income = client.futures_income_history(symbol="BTCUSDT", incomeType="REALIZED_PNL")
    assert [r["income"] for r in income] == ["7.50000000"]


def test_short_side_and_marketable_limit_is_taker(client: Client, control: Control) -> None:
    # SELL+SHORT 0.020 LIMIT @ 94000 is marketable (last 95000): fills at once at last as taker
    # fee = 0.020 × 95000 × 0.0005 = 0.95
    order = client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="LIMIT",
                                        timeInForce="GTC", quantity="0.020", price="94000", newOrderRespType="RESULT")
    assert (order["status"], order["avgPrice"]) == ("FILLED", "95000.00")
    # BUY+SHORT 0.008 @ 93000 (taker): rp = 0.008 × (93000 − 95000) × −1 = 16; fee 0.008 × 93000 × 0.0005 = 0.372
    control.price("BTCUSDT", "93000")
    _market(client, "BUY", "SHORT", "0.008")
    short = _pos(client, "SHORT")
    assert (short["positionAmt"], short["entryPrice"]) == ("-0.012", "95000.0")
    # upnl = 0.012 × (93000 − 95000) × −1 = 24
    assert short["unRealizedProfit"] == "24.00000000"
    trades = client.futures_account_trades(symbol="BTCUSDT")
    assert [(t["maker"], t["commission"], t["realizedPnl"]) for t in trades] == [
        (False, "0.95000000", "0.00000000"), (False, "0.37200000", "16.00000000")]
    # wallet = 10000 − 0.95 + 16 − 0.372 = 10014.678
    assert _wallet(control) == "10014.67800000"


def test_funding_longs_pay_shorts_receive(client: Client, control: Control) -> None:
    _market(client, "BUY", "LONG", "0.020")  # fee 0.95
    _market(client, "SELL", "SHORT", "0.005")  # fee 0.2375
    control.price("BTCUSDT", "96000", "96100")
    # long pays 0.020 × 96100 × 0.0001 = 0.1922; short receives 0.005 × 96100 × 0.0001 = 0.04805
    # net = −0.1922 + 0.04805 = −0.14415
    answer = control.post("/funding", {"symbol": "BTCUSDT", "rate": "0.0001"})
    assert answer["income"] == "-0.14415000"
    rows = client.futures_income_history(symbol="BTCUSDT", incomeType="FUNDING_FEE")
    assert [(r["income"], r["tradeId"], r["time"]) for r in rows] == [("-0.14415000", "", answer["time"])]
    assert "positionSide" not in rows[0]
    premium = client.futures_mark_price(symbol="BTCUSDT")
    assert (premium["lastFundingRate"], premium["markPrice"]) == ("0.00010000", "96100.00000000")
    # wallet = 10000 − 0.95 − 0.2375 − 0.14415 = 9998.66835
    assert _wallet(control) == "9998.66835000"
    # a negative rate: shorts pay, longs receive: +0.020 × 96100 × 0.0002 − 0.005 × 96100 × 0.0002 = 0.2883
    assert control.post("/funding", {"symbol": "BTCUSDT", "rate": "-0.0002"})["income"] == "0.28830000"


def test_ids_never_reused_across_reset(sim: SimServer, client: Client, control: Control) -> None:
    first = _market(client, "BUY", "LONG", "0.010")
    trade = client.futures_account_trades(symbol="BTCUSDT")[-1]
    control.post("/reset")
    assert control.account()["wallet_balance"] == "10000.00000000"
    assert client.futures_get_position_mode() == {"dualSidePosition": True}
    assert client.futures_account_trades(symbol="BTCUSDT") == []
    second = _market(client, "BUY", "LONG", "0.010")
    assert second["orderId"] > first["orderId"]
    assert client.futures_account_trades(symbol="BTCUSDT")[-1]["id"] > trade["id"]


def test_liquidity_cap_splits_fills(client: Client, control: Control) -> None:
    control.post("/liquidity", {"symbol": "BTCUSDT", "max_fill_qty": "0.004"})
    order = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                        quantity="0.010", newOrderRespType="RESULT")
    assert order["status"] == "FILLED"
    assert [t["qty"] for t in client.futures_account_trades(symbol="BTCUSDT")] == ["0.004", "0.004", "0.002"]
    # a resting order fills one chunk per price update
    limit = client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="LIMIT",
                                        timeInForce="GTC", quantity="0.010", price="96000")
    control.price("BTCUSDT", "96000")
    got = client.futures_get_order(symbol="BTCUSDT", orderId=limit["orderId"])
    assert (got["status"], got["executedQty"]) == ("PARTIALLY_FILLED", "0.004")
    control.price("BTCUSDT", "96100")
    control.price("BTCUSDT", "96200")
    assert client.futures_get_order(symbol="BTCUSDT", orderId=limit["orderId"])["status"] == "FILLED"
    control.post("/liquidity", {"symbol": "BTCUSDT", "max_fill_qty": None})


def test_time_in_force(client: Client, control: Control) -> None:
    limit = {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "LIMIT", "quantity": "0.010",
             "newOrderRespType": "RESULT"}
    from binance.exceptions import BinanceAPIException

    assert client.futures_create_order(**limit, price="94000", timeInForce="IOC")["status"] == "EXPIRED"
    # a FOK that cannot fill is refused outright and leaves no order behind (Binance since 2023-03-22)
    before = len(client.futures_get_all_orders(symbol="BTCUSDT"))
    try:
        client.futures_create_order(**limit, price="94000", timeInForce="FOK")
    except BinanceAPIException as exc:
        assert (exc.code, exc.message) == (-5021, "Due to the order could not be filled immediately, the FOK order "
                                                  "has been rejected. The order will not be recorded in the order "
                                                  "history")
    else:
        raise AssertionError("a FOK order that cannot fill must be refused")
    assert len(client.futures_get_all_orders(symbol="BTCUSDT")) == before
    assert client.futures_create_order(**limit, price="95500", timeInForce="FOK")["status"] == "FILLED"

    try:
        client.futures_create_order(**limit, price="95500", timeInForce="GTX")
    except BinanceAPIException as exc:
        assert exc.code == -5022
    else:
        raise AssertionError("a post-only order that would take must be refused")
    assert client.futures_create_order(**limit, price="94500", timeInForce="GTX")["status"] == "NEW"


def test_trailing_stop(client: Client, control: Control) -> None:
    _market(client, "BUY", "LONG", "0.010")
    client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="TRAILING_STOP_MARKET",
                                     algoType="CONDITIONAL", quantity="0.010", callbackRate="1")
    control.price("BTCUSDT", "97000")  # highest 97000 → stop at 96030
    control.price("BTCUSDT", "96100")
    assert _pos(client, "LONG")["positionAmt"] == "0.010"
    control.price("BTCUSDT", "96000")
    # v3 positionRisk lists only symbols with a position or open orders
    assert client.futures_position_information(symbol="BTCUSDT") == []
    assert client.futures_account_trades(symbol="BTCUSDT")[-1]["realizedPnl"] == "10.00000000"
