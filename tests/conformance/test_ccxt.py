"""ccxt 4.5.90 (sync and ccxt.pro) on the simulator, unmodified but for its URLs and key."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.pro as ccxtpro
import pytest
from conformkit import KEY, SECRET, point_ccxt

from hedgestack.venue.sim import SimServer

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def _sync(sim: SimServer) -> Any:
    return point_ccxt(ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET}), sim)


def _pro(sim: SimServer) -> Any:
    return point_ccxt(ccxtpro.binanceusdm({"apiKey": KEY, "secret": SECRET}), sim)


def test_markets_tickers_book_trades_candles(market_sim: SimServer) -> None:
    ex = _sync(market_sim)
    markets = ex.load_markets()
    assert len([m for m in markets.values() if m["linear"] and m["swap"]]) == len(market_sim.exchange.specs)
    btc = markets[BTC]
    assert (btc["precision"]["price"], btc["precision"]["amount"]) == (0.1, 0.001)
    assert (btc["limits"]["amount"]["min"], btc["limits"]["cost"]["min"], btc["contractSize"]) == (0.001, 100, 1)
    ticker = ex.fetch_ticker(BTC)
    assert ticker["last"] > 0 and ticker["high"] >= ticker["low"] and ticker["baseVolume"] > 0
    assert len(ex.fetch_tickers()) == len(markets)
    tops = ex.fetch_bids_asks([BTC, ETH])
    assert tops[BTC]["bid"] < tops[BTC]["ask"]
    book = ex.fetch_order_book(BTC, 1000)
    assert len(book["bids"]) == len(book["asks"]) == 1000
    assert book["bids"][0][0] < book["asks"][0][0]
    assert [b[0] for b in book["bids"]] == sorted((b[0] for b in book["bids"]), reverse=True)
    trades = ex.fetch_trades(BTC, limit=20)
    assert trades and all(t["side"] in ("buy", "sell") and t["amount"] > 0 for t in trades)
    for timeframe in ("1m", "15m", "1h", "4h", "1d", "1w"):
        candles = ex.fetch_ohlcv(BTC, timeframe, limit=1500)  # ccxt asks for at most 1,000 at a time
        assert len(candles) == 1000, timeframe
        assert all(c[2] >= max(c[1], c[4]) and c[3] <= min(c[1], c[4]) for c in candles)
    assert len(ex.fetch_ohlcv(BTC, "1h", limit=100)) == 100  # the 6-candle complaint
    mark = ex.fetch_mark_ohlcv(BTC, "1h", limit=10)
    assert len(mark) == 10


def test_funding_and_leverage_tiers(market_sim: SimServer) -> None:
    ex = _sync(market_sim)
    rate = ex.fetch_funding_rate(BTC)
    assert rate["fundingRate"] == 0.0001 and rate["markPrice"] > 0 and rate["interestRate"] == 0.0001
    assert rate["fundingTimestamp"] % (8 * 3600 * 1000) == 0
    history = ex.fetch_funding_rate_history(BTC, limit=50)
    assert len(history) == 50 and all(h["fundingRate"] == 0.0001 for h in history)
    times = [h["timestamp"] for h in history]
    assert all(b - a == 8 * 3600 * 1000 for a, b in zip(times, times[1:], strict=False))
    tiers = ex.fetch_leverage_tiers([BTC])[BTC]
    assert len(tiers) == 12
    assert (tiers[0]["minNotional"], tiers[0]["maxNotional"], tiers[0]["maintenanceMarginRate"],
            tiers[0]["maxLeverage"]) == (0, 50000, 0.004, 125)
    assert tiers[-1]["maxLeverage"] == 1
    assert ex.fetch_trading_fee(BTC)["taker"] == 0.0005
    assert ex.fetch_open_interest(BTC)["openInterestAmount"] > 0


def test_hedge_mode_orders_positions_and_errors(trading_sim: SimServer) -> None:
    ex = _sync(trading_sim)
    ex.load_markets()
    assert ex.fetch_position_mode(BTC)["hedged"] is True
    assert ex.set_leverage(50, BTC)["leverage"] == 50
    assert ex.fetch_leverage(BTC)["longLeverage"] == 50
    balance = ex.fetch_balance()
    assert balance["USDT"]["total"] == 10000
    bought = ex.create_order(BTC, "market", "buy", 1, None, {"positionSide": "LONG"})
    assert bought["status"] == "closed" and bought["filled"] == 1 and bought["average"] > 0
    positions = {p["side"]: p for p in ex.fetch_positions([BTC])}
    long = positions["long"]
    assert long["contracts"] == 1  # (v3 positionRisk carries no leverage: ccxt leaves it None, as on Binance)
    entry = Decimal(long["info"]["entryPrice"])
    wallet = Decimal(ex.fetch_balance()["info"]["totalCrossWalletBalance"])
    # bracket 2 at ~95,000 of notional: LP = (wallet + 50 − entry) / (0.005 − 1)
    expected = (wallet + 50 - entry) / (Decimal("0.005") - 1)
    assert abs(Decimal(long["info"]["liquidationPrice"]) - expected) < Decimal("0.00000001")
    assert long["liquidationPrice"] == float(long["info"]["liquidationPrice"])
    assert long["initialMargin"] > 0 and long["maintenanceMargin"] > 0
    # every regular type, in hedge mode (positionSide), including post-only and IOC
    bid, ask = ex.fetch_bids_asks([BTC])[BTC]["bid"], ex.fetch_bids_asks([BTC])[BTC]["ask"]
    resting = ex.create_order(BTC, "limit", "buy", 0.01, round(bid * 0.9, 1), {"positionSide": "LONG"})
    assert resting["status"] == "open"
    post_only = ex.create_order(BTC, "limit", "sell", 0.01, round(ask * 1.05, 1),
                                {"positionSide": "SHORT", "postOnly": True})
    assert post_only["timeInForce"] == "PO" and post_only["status"] == "open"
    with pytest.raises(ccxt.InvalidOrder) as taking:  # -5022
        ex.create_order(BTC, "limit", "buy", 0.01, round(ask * 1.01, 1), {"positionSide": "LONG", "postOnly": True})
    assert '"code":-5022,"msg":"Due to the order could not be executed as maker' in str(taking.value)
    ioc = ex.create_order(BTC, "limit", "buy", 0.01, round(bid * 0.9, 1), {"positionSide": "LONG",
                                                                            "timeInForce": "IOC"})
    assert ex.fetch_order(ioc["id"], BTC)["status"] == "expired"
    # modify, batch
    edited = ex.edit_order(resting["id"], BTC, "limit", "buy", 0.02, round(bid * 0.91, 1), {"positionSide": "LONG"})
    assert edited["amount"] == 0.02 and edited["price"] == round(bid * 0.91, 1)
    batch = ex.create_orders([
        {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.01, "price": round(bid * 0.8, 1),
         "params": {"positionSide": "LONG"}},
        {"symbol": ETH, "type": "market", "side": "sell", "amount": 0.05, "params": {"positionSide": "SHORT"}}])
    assert [o["status"] for o in batch] == ["open", "closed"]
    # algo (conditional) orders: stop loss, take profit, trailing stop
    stop = ex.create_order(BTC, "market", "sell", 0.5, None, {"positionSide": "LONG",
                                                               "stopLossPrice": round(bid * 0.95, 1)})
    take = ex.create_order(BTC, "market", "sell", 0.5, None, {"positionSide": "LONG",
                                                               "takeProfitPrice": round(ask * 1.05, 1)})
    trail = ex.create_order(BTC, "market", "sell", 0.1, None, {"positionSide": "LONG", "trailingPercent": 1})
    algos = ex.fetch_open_orders(BTC, params={"trigger": True})
    assert {o["id"] for o in algos} >= {stop["id"], take["id"], trail["id"]}
    open_orders = ex.fetch_open_orders(BTC)
    assert {o["id"] for o in open_orders} >= {resting["id"], post_only["id"], batch[0]["id"]}
    ex.cancel_all_orders(BTC)
    assert ex.fetch_open_orders(BTC) == []
    ex.cancel_all_orders(BTC, params={"trigger": True})
    assert ex.fetch_open_orders(BTC, params={"trigger": True}) == []
    trades = ex.fetch_my_trades(BTC)
    assert trades and trades[0]["order"] == bought["id"] and trades[0]["fee"]["currency"] == "USDT"
    # Binance's errors, mapped by ccxt from their codes and exact messages
    with pytest.raises(ccxt.ExchangeError) as info:  # -2019
        ex.create_order(BTC, "market", "buy", 100, None, {"positionSide": "LONG"})
    assert '"code":-2019,"msg":"Margin is insufficient."' in str(info.value)
    with pytest.raises(ccxt.ExchangeError) as bad:  # -4164: 0.001 BTC is ~95 USDT, under the 100 minimum
        ex.create_order(BTC, "market", "buy", 0.001, None, {"positionSide": "LONG"})
    assert ('"code":-4164,"msg":"Order\'s notional must be no smaller than 100 (unless you choose reduce only)"'
            in str(bad.value))
    with pytest.raises(ccxt.OrderNotFound):  # -2011
        ex.cancel_order("1", BTC)
    with pytest.raises(ccxt.ExchangeError) as hedge:  # -4061: a one-way order on a Hedge Mode account
        ex.create_order(BTC, "market", "buy", 0.01)
    assert "Order's position side does not match user's setting." in str(hedge.value)


def test_pro_streams(trading_sim: SimServer) -> None:
    async def run() -> None:
        ex = _pro(trading_sim)
        try:
            await ex.load_markets()
            book = await ex.watch_order_book(BTC)
            for _ in range(3):  # ccxt keeps a local book from the diff stream (U/u/pu checked)
                book = await ex.watch_order_book(BTC)
            assert book["bids"][0][0] < book["asks"][0][0] and book["nonce"] > 0
            trades = await ex.watch_trades(BTC)
            assert trades and trades[-1]["price"] > 0
            ticker = await ex.watch_ticker(BTC)
            assert ticker["last"] > 0
            candles = await ex.watch_ohlcv(BTC, "5m")
            assert candles and len(candles[-1]) == 6
            mark = await ex.watch_mark_price(BTC)
            assert mark["markPrice"] > 0

            positions_task = asyncio.ensure_future(ex.watch_positions([BTC]))  # default options: snapshot first
            orders_task = asyncio.ensure_future(ex.watch_orders(BTC))
            fills_task = asyncio.ensure_future(ex.watch_my_trades(BTC))
            balance_task = asyncio.ensure_future(ex.watch_balance())
            await asyncio.sleep(1.0)
            order = await ex.create_order(BTC, "market", "buy", 0.01, None, {"positionSide": "LONG"})
            positions = await asyncio.wait_for(positions_task, 10)
            assert positions and positions[0]["symbol"] == BTC and positions[0]["contracts"] == 0.01
            assert positions[0]["side"] == "long" and positions[0]["entryPrice"] > 0
            orders = await asyncio.wait_for(orders_task, 10)
            assert orders[-1]["id"] == order["id"]
            fills = await asyncio.wait_for(fills_task, 10)
            assert fills[-1]["order"] == order["id"] and fills[-1]["fee"]["cost"] > 0
            balance = await asyncio.wait_for(balance_task, 10)
            assert 9990 < balance["USDT"]["total"] < 10000
        finally:
            await ex.close()

    asyncio.run(run())
