"""Binance's official USDⓈ-M SDK (binance-sdk-derivatives-trading-usds-futures 18.1.0, binance-common 4.7.0) on
the simulator: REST and WebSocket streams, configured only with the simulator's base URLs and key."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketStreams
from binance_common.errors import BadRequestError
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
    DerivativesTradingUsdsFutures,
)
from binance_sdk_derivatives_trading_usds_futures.rest_api.models import enums as E
from conformkit import KEY, SECRET

from hedgestack.venue.sim import SimServer


def _client(sim: SimServer) -> DerivativesTradingUsdsFutures:
    return DerivativesTradingUsdsFutures(
        config_rest_api=ConfigurationRestAPI(api_key=KEY, api_secret=SECRET, base_path=sim.url),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=sim.ws_url.rstrip("/")))


def _one(data: Any) -> Any:
    """The SDK's oneOf models (a symbol or every symbol): the object inside."""
    return getattr(data, "actual_instance", data)


def test_rest_market_data(market_sim: SimServer) -> None:
    rest = _client(market_sim).rest_api
    info = rest.exchange_information().data()
    assert len(info.symbols) == len(market_sim.exchange.specs)
    btc = next(s for s in info.symbols if s.symbol == "BTCUSDT")
    assert {f.filter_type for f in btc.filters} >= {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "MIN_NOTIONAL",
                                                     "PERCENT_PRICE"}
    book = rest.order_book(symbol="BTCUSDT", limit=100).data()
    assert len(book.bids) == 100 and Decimal(book.bids[0][0]) < Decimal(book.asks[0][0])
    assert rest.recent_trades_list(symbol="BTCUSDT", limit=5).data()
    assert rest.compressed_aggregate_trades_list(symbol="BTCUSDT", limit=5).data()
    assert rest.old_trades_lookup(symbol="BTCUSDT", limit=5).data()
    candles = rest.kline_candlestick_data(symbol="BTCUSDT", interval=E.KlineCandlestickDataIntervalEnum["INTERVAL_4h"],
                                          limit=1500).data()
    assert len(candles) == 1500
    assert len(rest.mark_price_kline_candlestick_data(
        symbol="BTCUSDT", interval=E.MarkPriceKlineCandlestickDataIntervalEnum["INTERVAL_1h"], limit=10).data()) == 10
    premium = _one(rest.mark_price(symbol="BTCUSDT").data())
    assert premium.last_funding_rate == "0.00010000" and premium.next_funding_time % 3_600_000 == 0
    history = rest.get_funding_rate_history(symbol="BTCUSDT", limit=10).data()
    assert [h.funding_rate for h in history] == ["0.00010000"] * 10
    assert rest.get_funding_rate_info().data() == []
    ticker = _one(rest.ticker24hr_price_change_statistics(symbol="BTCUSDT").data())
    assert Decimal(ticker.high_price) >= Decimal(ticker.low_price) and ticker.count > 0
    top = _one(rest.symbol_order_book_ticker(symbol="BTCUSDT").data())
    assert Decimal(top.bid_price) < Decimal(top.ask_price)
    assert Decimal(rest.open_interest(symbol="BTCUSDT").data().open_interest) > 0


def test_rest_account_and_trading(trading_sim: SimServer) -> None:
    rest = _client(trading_sim).rest_api
    assert rest.get_current_position_mode().data().dual_side_position is True
    brackets = _one(rest.notional_and_leverage_brackets(symbol="BTCUSDT").data())
    brackets = brackets[0] if isinstance(brackets, list) else brackets
    assert brackets.brackets[0].initial_leverage == 125 and brackets.brackets[1].cum == 50.0
    change = rest.change_initial_leverage(symbol="BTCUSDT", leverage=21).data()
    assert (change.leverage, change.max_notional_value) == (21, "70000000")
    assert rest.symbol_configuration(symbol="BTCUSDT").data()[0].leverage == 21
    assert rest.futures_account_configuration().data().dual_side_position is True
    assert rest.user_commission_rate(symbol="BTCUSDT").data().taker_commission_rate == "0.0005"
    filled = rest.new_order(symbol="BTCUSDT", side=E.NewOrderSideEnum["BUY"], type=E.NewOrderTypeEnum["MARKET"],
                            position_side="LONG", quantity=0.05,
                            new_order_resp_type=E.NewOrderNewOrderRespTypeEnum["RESULT"]).data()
    assert (filled.status, filled.executed_qty) == ("FILLED", "0.050")
    bid = Decimal(_one(rest.symbol_order_book_ticker(symbol="BTCUSDT").data()).bid_price)
    resting = rest.new_order(symbol="BTCUSDT", side=E.NewOrderSideEnum["BUY"], type=E.NewOrderTypeEnum["LIMIT"],
                             position_side="LONG", quantity=0.01, price=float(bid * Decimal("0.9")),
                             time_in_force=E.NewOrderTimeInForceEnum["GTC"]).data()
    modified = rest.modify_order(symbol="BTCUSDT", side=E.ModifyOrderSideEnum["BUY"], quantity=0.02,
                                 price=float((bid * Decimal("0.91")).quantize(Decimal("0.1"))),
                                 order_id=resting.order_id).data()
    assert modified.orig_qty == "0.020"
    amendments = rest.get_order_modify_history(symbol="BTCUSDT", order_id=resting.order_id).data()
    assert amendments[0].amendment.count == 1
    test = rest.test_order(symbol="BTCUSDT", side=E.TestOrderSideEnum["BUY"], type=E.TestOrderTypeEnum["MARKET"],
                           position_side="LONG", quantity=0.01).data()
    assert test.status == "NEW"
    batch = rest.place_multiple_orders(batch_orders=[
        {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "LIMIT", "quantity": "0.010",
         "price": str((bid * Decimal("0.8")).quantize(Decimal("0.1"))), "timeInForce": "GTC"},
        {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "STOP_MARKET", "quantity": "0.010",
         "stopPrice": "99000"}]).data()
    assert batch[0].order_id and batch[1].code == -4120  # conditional types go to the algo service
    algo = rest.new_algo_order(algo_type="CONDITIONAL", symbol="BTCUSDT", side=E.NewAlgoOrderSideEnum["SELL"],
                               type="STOP_MARKET", position_side="LONG", quantity=0.05,
                               trigger_price=float((bid * Decimal("0.9")).quantize(Decimal("0.1")))).data()
    assert algo.algo_status == "NEW"
    assert [a.algo_id for a in rest.current_all_algo_open_orders(symbol="BTCUSDT").data()] == [algo.algo_id]
    assert len(rest.current_all_open_orders(symbol="BTCUSDT").data()) == 2
    positions = rest.position_information_v3(symbol="BTCUSDT").data()
    assert [(p.position_side, p.position_amt) for p in positions if p.position_amt != "0.000"] == [("LONG",
                                                                                                  "0.050")]
    assert Decimal(positions[0].break_even_price) > Decimal(positions[0].entry_price)
    trades = rest.account_trade_list(symbol="BTCUSDT").data()
    assert trades and trades[0].order_id == filled.order_id and trades[0].margin_asset == "USDT"
    assert rest.get_income_history(symbol="BTCUSDT").data()[0].income_type == "COMMISSION"
    assert rest.auto_cancel_all_open_orders(symbol="BTCUSDT", countdown_time=60_000).data().countdown_time == "60000"
    assert rest.cancel_all_open_orders(symbol="BTCUSDT").data().code == 200
    assert rest.cancel_all_algo_open_orders(symbol="BTCUSDT").data().code == 200
    account = rest.account_information_v3().data()
    assert Decimal(account.total_wallet_balance) < 10000 and Decimal(account.available_balance) > 0
    with pytest.raises(BadRequestError) as info:
        rest.new_order(symbol="BTCUSDT", side=E.NewOrderSideEnum["BUY"], type=E.NewOrderTypeEnum["MARKET"],
                       quantity=0.01)  # no positionSide on a Hedge Mode account
    assert "Order's position side does not match user's setting." in str(info.value)
    with pytest.raises(BadRequestError) as margin:
        rest.change_margin_type(symbol="BTCUSDT", margin_type=E.ChangeMarginTypeMarginTypeEnum["CROSSED"])
    assert "No need to change margin type." in str(margin.value)


def test_websocket_streams_and_user_data(trading_sim: SimServer) -> None:
    async def run() -> None:
        client = _client(trading_sim)
        conn = await client.websocket_streams.create_connection()
        got: dict[str, Any] = {}

        def keep(name: str) -> Any:
            return lambda msg: got.setdefault(name, msg)

        try:
            (await conn.aggregate_trade_streams(symbol="btcusdt")).on("message", keep("agg"))
            (await conn.diff_book_depth_streams(symbol="btcusdt", update_speed="100ms")).on("message", keep("diff"))
            (await conn.partial_book_depth_streams(symbol="btcusdt", levels=5)).on("message", keep("partial"))
            (await conn.kline_candlestick_streams(symbol="btcusdt", interval="1h")).on("message", keep("kline"))
            (await conn.mark_price_stream(symbol="btcusdt", update_speed="1s")).on("message", keep("mark"))
            (await conn.individual_symbol_book_ticker_streams(symbol="btcusdt")).on("message", keep("book"))
            (await conn.individual_symbol_ticker_streams(symbol="btcusdt")).on("message", keep("ticker"))
            key = client.rest_api.start_user_data_stream().data().listen_key
            (await conn.user_data(key)).on("message", keep("user"))
            await asyncio.sleep(1.0)
            client.rest_api.new_order(symbol="BTCUSDT", side=E.NewOrderSideEnum["BUY"],
                                      type=E.NewOrderTypeEnum["MARKET"], position_side="LONG", quantity=0.01)
            for _ in range(100):
                if len(got) == 8:
                    break
                await asyncio.sleep(0.1)
            assert set(got) == {"agg", "diff", "partial", "kline", "mark", "book", "ticker", "user"}
            assert got["diff"].pu < got["diff"].u and Decimal(got["book"].b) < Decimal(got["book"].a)
            assert got["kline"].k.i == "1h" and got["mark"].r == "0.00010000"
            user = _one(got["user"])
            assert type(user).__name__ in ("OrderTradeUpdate", "TradeLite", "AccountUpdate")
            listed = await conn.list_subscribe()
            assert "btcusdt@aggTrade" in listed["result"]
        finally:
            await conn.close_connection()

    asyncio.run(run())
