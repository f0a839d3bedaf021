"""The fill model against hand-computed figures: slippage across levels, queue position, post-only, FOK, STP,
GTD, priceProtect, the liquidity cap; and the book itself (refill, journal, a local book from the diff stream)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException
from simkit import Control

from hedgestack.venue.sim import SimServer
from hedgestack.venue.sim.book import ASK, BID, AnchoredProfile, Book, RelativeProfile, level_rows

# spread 2 ticks around last 95000: bid 94999.9, ask 95000.1; the k-th level from the touch holds DEPTH[k]
DEPTH = ["0.500", "1.000", "2.000", "4.000"]


@pytest.fixture
def book(control: Control) -> dict[str, Any]:
    return control.post("/book", {"symbol": "BTCUSDT", "spread_ticks": 2, "depth": DEPTH})


def _code(call: Any, **params: Any) -> tuple[int, str]:
    with pytest.raises(BinanceAPIException) as info:
        call(**params)
    return info.value.code, info.value.message


def _trades(client: Client) -> list[tuple[str, str, bool]]:
    return [(t["price"], t["qty"], t["maker"]) for t in client.futures_account_trades(symbol="BTCUSDT")]


def test_the_book_around_last(book: dict[str, Any], control: Control, client: Client) -> None:
    assert book["enabled"] and book["spread_ticks"] == 2
    assert book["bids"] == [["94999.90", "0.500"], ["94999.80", "1.000"], ["94999.70", "2.000"],
                            ["94999.60", "4.000"]]
    assert book["asks"] == [["95000.10", "0.500"], ["95000.20", "1.000"], ["95000.30", "2.000"],
                            ["95000.40", "4.000"]]
    depth = client.futures_order_book(symbol="BTCUSDT", limit=5)
    assert depth["bids"] == book["bids"] and depth["asks"] == book["asks"]
    assert isinstance(depth["lastUpdateId"], int)
    top = client.futures_orderbook_ticker(symbol="BTCUSDT")
    assert (top["bidPrice"], top["bidQty"], top["askPrice"], top["askQty"]) == ("94999.90", "0.500", "95000.10",
                                                                                 "0.500")


def test_market_order_walks_the_book(book: dict[str, Any], control: Control, client: Client) -> None:
    client.futures_change_leverage(symbol="BTCUSDT", leverage=100)  # both sides' margin fits 10,000 USDT
    order = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                        quantity="1.200", newOrderRespType="RESULT")
    # 0.5 at 95000.1 then 0.7 at 95000.2: one trade per level, average 114000.19 / 1.2 = 95000.158333...
    assert _trades(client) == [("95000.10", "0.500", False), ("95000.20", "0.700", False)]
    assert (order["status"], order["executedQty"], order["avgPrice"]) == ("FILLED", "1.200", "95000.15833")
    assert order["cumQuote"] == "114000.19000"
    # commission per level: 0.5 × 95000.1 × 0.05 % and 0.7 × 95000.2 × 0.05 %
    assert [t["commission"] for t in client.futures_account_trades(symbol="BTCUSDT")] == ["23.75002500",
                                                                                         "33.25007000"]
    # the consumed liquidity stays consumed until the market moves: 0.3 left at 95000.2
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.500")
    assert _trades(client)[2:] == [("95000.20", "0.300", False), ("95000.30", "0.200", False)]
    assert client.futures_order_book(symbol="BTCUSDT", limit=5)["asks"][0] == ["95000.30", "1.800"]
    # the market falls back to 95000 (sellers hit the bids down to it): bid 95000.0, ask 95000.2, and the
    # static market's book is rebuilt in full at a price move
    control.price("BTCUSDT", "95000")
    depth = client.futures_order_book(symbol="BTCUSDT", limit=5)
    assert (depth["bids"][0], depth["asks"][0]) == (["95000.00", "0.500"], ["95000.20", "0.500"])
    # a sell walks the bids down
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET",
                                quantity="0.600")
    assert _trades(client)[4:] == [("95000.00", "0.500", False), ("94999.90", "0.100", False)]


def test_market_order_stops_at_the_take_bound(control: Control, client: Client) -> None:
    # 0.01 BTC on each of 3 levels: a 0.05 BTC buy takes 0.03 and the rest expires (the book ends there)
    control.post("/book", {"symbol": "BTCUSDT", "depth": "0.010", "levels": 3})
    order = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                        quantity="0.050", newOrderRespType="RESULT")
    assert (order["status"], order["executedQty"]) == ("EXPIRED", "0.030")
    # the market's best price beyond marketTakeBound (5 % from the mark): -4131
    control.price("BTCUSDT", "95000", "89000")
    assert _code(client.futures_create_order, symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                 quantity="0.010") == (-4131, "The counterparty's best price does not meet the PERCENT_PRICE filter "
                                              "limit")


def test_resting_limit_waits_for_its_queue(book: dict[str, Any], control: Control, client: Client) -> None:
    order = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT",
                                        timeInForce="GTC", quantity="0.500", price="94999.9")

    def state() -> tuple[str, str]:
        got = client.futures_get_order(symbol="BTCUSDT", orderId=order["orderId"])
        return got["status"], got["executedQty"]

    # it joined the 0.5 of the market at 94999.9: the level shows 1.0
    assert client.futures_order_book(symbol="BTCUSDT", limit=5)["bids"][0] == ["94999.90", "1.000"]
    control.post("/trade", {"symbol": "BTCUSDT", "price": "94999.9", "qty": "0.300", "side": "SELL"})
    assert state() == ("NEW", "0.000")  # 0.3 of the 0.5 ahead
    control.post("/trade", {"symbol": "BTCUSDT", "price": "94999.9", "qty": "0.400", "side": "SELL"})
    assert state() == ("PARTIALLY_FILLED", "0.200")  # 0.2 ahead left, then 0.2 of ours
    control.price("BTCUSDT", "94999.9")  # touching its price is not enough
    assert state() == ("PARTIALLY_FILLED", "0.200")
    control.price("BTCUSDT", "94999.8")  # trading through it is
    assert state() == ("FILLED", "0.500")
    assert _trades(client) == [("94999.90", "0.200", True), ("94999.90", "0.300", True)]
    assert [t["commission"] for t in client.futures_account_trades(symbol="BTCUSDT")] == ["3.79999600",
                                                                                         "5.69999400"]


def test_market_trades_through_several_levels_at_a_price_move(book: dict[str, Any], control: Control,
                                                              client: Client) -> None:
    asks = []
    for price in ("95000.2", "95000.4"):
        asks.append(client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="LIMIT",
                                                timeInForce="GTC", quantity="0.010", price=price)["orderId"])
    # buyers lifted the asks below 95000.4; 95000.4 itself is only touched
    control.post("/price", {"symbol": "BTCUSDT", "last": "95000.4", "qty": "0"})
    statuses = [client.futures_get_order(symbol="BTCUSDT", orderId=i)["status"] for i in asks]
    assert statuses == ["FILLED", "NEW"]
    control.post("/trade", {"symbol": "BTCUSDT", "price": "95000.4", "qty": "4.010", "side": "BUY"})
    assert client.futures_get_order(symbol="BTCUSDT", orderId=asks[1])["status"] == "FILLED"


def test_post_only_and_fill_or_kill(book: dict[str, Any], client: Client) -> None:
    limit = {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "LIMIT", "quantity": "1.000"}
    before = len(client.futures_get_all_orders(symbol="BTCUSDT"))
    assert _code(client.futures_create_order, **limit, price="95000.1", timeInForce="GTX") == (
        -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order "
               "will not be recorded in the order history")
    assert _code(client.futures_create_order, **limit, price="95000.1", timeInForce="FOK")[0] == -5021
    assert len(client.futures_get_all_orders(symbol="BTCUSDT")) == before  # no trace of either
    inside = client.futures_create_order(**limit, price="95000.0", timeInForce="GTX")
    assert inside["status"] == "NEW"  # inside the spread: it is now the best bid, alone in its queue
    assert client.futures_order_book(symbol="BTCUSDT", limit=5)["bids"][0] == ["95000.00", "1.000"]
    client.futures_cancel_order(symbol="BTCUSDT", orderId=inside["orderId"])
    filled = client.futures_create_order(**limit, price="95000.2", timeInForce="FOK", newOrderRespType="RESULT")
    assert (filled["status"], filled["avgPrice"]) == ("FILLED", "95000.15")


def test_self_trade_prevention(book: dict[str, Any], control: Control, client: Client) -> None:
    client.futures_change_leverage(symbol="BTCUSDT", leverage=100)  # room for three 1 BTC buys on 10,000 USDT
    def rest_ask() -> int:
        order = client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="LIMIT",
                                            timeInForce="GTC", quantity="0.300", price="95000.1")
        return int(order["orderId"])

    def buy(mode: str | None) -> dict[str, Any]:
        params = {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "MARKET", "quantity": "1.000",
                  "newOrderRespType": "RESULT"}
        if mode:
            params["selfTradePreventionMode"] = mode
        return client.futures_create_order(**params)

    # EXPIRE_MAKER (the default): the resting order expires, the taker goes on through the market's liquidity
    maker = rest_ask()
    taker = buy(None)
    assert taker["selfTradePreventionMode"] == "EXPIRE_MAKER"
    assert (taker["status"], taker["executedQty"]) == ("FILLED", "1.000")
    assert client.futures_get_order(symbol="BTCUSDT", orderId=maker)["status"] == "EXPIRED_IN_MATCH"
    assert _trades(client) == [("95000.10", "0.500", False), ("95000.20", "0.500", False)]
    control.price("BTCUSDT", "95000")
    control.post("/book", {"symbol": "BTCUSDT", "spread_ticks": 2, "depth": DEPTH})  # centred on 95000 again
    # EXPIRE_TAKER: the market's 0.5 ahead of the own order trades, then the taker expires
    maker = rest_ask()
    taker = buy("EXPIRE_TAKER")
    assert (taker["status"], taker["executedQty"]) == ("EXPIRED_IN_MATCH", "0.500")
    assert client.futures_get_order(symbol="BTCUSDT", orderId=maker)["status"] == "NEW"
    client.futures_cancel_order(symbol="BTCUSDT", orderId=maker)
    control.price("BTCUSDT", "95000")
    control.post("/book", {"symbol": "BTCUSDT", "spread_ticks": 2, "depth": DEPTH})
    # NONE: the account trades with itself (each side its own trade id), then the next level
    maker = rest_ask()
    count = len(_trades(client))
    taker = buy("NONE")
    rows = client.futures_account_trades(symbol="BTCUSDT")[count:]
    assert [(t["side"], t["price"], t["qty"], t["maker"]) for t in rows] == [
        ("BUY", "95000.10", "0.500", False), ("BUY", "95000.10", "0.300", False),
        ("SELL", "95000.10", "0.300", True), ("BUY", "95000.20", "0.200", False)]
    assert len({t["id"] for t in rows}) == 4
    assert client.futures_get_order(symbol="BTCUSDT", orderId=maker)["status"] == "FILLED"
    assert _code(client.futures_create_order, symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                 quantity="0.010", selfTradePreventionMode="SOMETIMES") == (-5039, "Invalid self trade prevention "
                                                                                   "mode")


def test_good_till_date(sim: SimServer, client: Client) -> None:
    now = int(time.time() * 1000)
    limit = {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "LIMIT", "quantity": "0.010",
             "price": "90000", "timeInForce": "GTD"}
    assert _code(client.futures_create_order, **limit, goodTillDate=now + 100_000)[0] == -5040
    assert _code(client.futures_create_order, **limit)[0] == -1102
    order = client.futures_create_order(**limit, goodTillDate=now + 3_600_123)
    assert order["goodTillDate"] == (now + 3_600_123) // 1000 * 1000  # second precision
    sim.call(lambda: sim.exchange.expire_due(order["goodTillDate"] - 1))
    assert client.futures_get_order(symbol="BTCUSDT", orderId=order["orderId"])["status"] == "NEW"
    sim.call(lambda: sim.exchange.expire_due(order["goodTillDate"]))
    assert client.futures_get_order(symbol="BTCUSDT", orderId=order["orderId"])["status"] == "EXPIRED"


def test_price_protect_waits_while_mark_and_last_disagree(client: Client, control: Control) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.010")
    algo = client.futures_create_algo_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="STOP_MARKET",
                                            algoType="CONDITIONAL", triggerPrice="94000", quantity="0.010",
                                            priceProtect="true")
    # last 93900 reaches the trigger, but the mark is 5.2 % away (> triggerProtect 5 %): no trigger
    control.price("BTCUSDT", "93900", "99050")
    assert client.futures_get_algo_order(algoId=algo["algoId"])["algoStatus"] == "NEW"
    control.price("BTCUSDT", "93900", "93950")
    assert client.futures_get_algo_order(algoId=algo["algoId"])["algoStatus"] == "FINISHED"


def test_price_match(book: dict[str, Any], client: Client) -> None:
    order = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT",
                                        timeInForce="GTC", quantity="0.010", priceMatch="QUEUE_5")
    assert order["price"] == "94999.60" and order["priceMatch"] == "QUEUE_5"
    assert _code(client.futures_create_order, symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT",
                 timeInForce="GTC", quantity="0.010", priceMatch="OPPONENT_10")[0] == -5037


def test_modify_order_loses_its_place(book: dict[str, Any], control: Control, client: Client) -> None:
    order = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT",
                                        timeInForce="GTC", quantity="0.500", price="94999.8")
    changed = client.futures_modify_order(symbol="BTCUSDT", orderId=order["orderId"], side="BUY",
                                          quantity="0.400", price="94999.9")
    assert (changed["price"], changed["origQty"], changed["status"]) == ("94999.90", "0.400", "NEW")
    assert _code(client.futures_modify_order, symbol="BTCUSDT", orderId=order["orderId"], side="BUY",
                 quantity="0.400", price="94999.9") == (-5027, "No need to modify the order.")
    history = client._request_futures_api("get", "orderAmendment", True,
                                          data={"symbol": "BTCUSDT", "orderId": order["orderId"]})
    assert [(h["amendment"]["price"]["before"], h["amendment"]["price"]["after"], h["amendment"]["count"])
            for h in history] == [("94999.80", "94999.90", 1)]
    # behind the market's 0.5 at its new price: a 0.5 sell does not reach it, 0.1 more does
    control.post("/trade", {"symbol": "BTCUSDT", "price": "94999.9", "qty": "0.500", "side": "SELL"})
    assert client.futures_get_order(symbol="BTCUSDT", orderId=order["orderId"])["executedQty"] == "0.000"
    control.post("/trade", {"symbol": "BTCUSDT", "price": "94999.9", "qty": "0.100", "side": "SELL"})
    assert client.futures_get_order(symbol="BTCUSDT", orderId=order["orderId"])["executedQty"] == "0.100"
    # a modification to a marketable price trades at once
    moved = client.futures_modify_order(symbol="BTCUSDT", orderId=order["orderId"], side="BUY",
                                        quantity="0.400", price="95000.1")
    assert moved["status"] == "FILLED"


# -- the book itself ---------------------------------------------------------------------------------
class _Maker:
    def __init__(self, order_id: int, qty: str) -> None:
        self.order_id = order_id
        self.priority = order_id
        self.qty = Decimal(qty)
        self.executed = Decimal(0)
        self.queue_ahead = Decimal(0)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.executed


def _book(depth: list[str] | None = None) -> Book:
    profile = RelativeProfile(tuple(Decimal(x) for x in depth)) if depth else AnchoredProfile.build(
        Decimal("0.3"), Decimal("0.001"), seed=1)
    return Book("BTCUSDT", Decimal("0.1"), Decimal("0.001"), profile, bid_t=950_000, spread=1, refill_seconds=1.0)


def test_queue_is_first_in_first_out_between_two_orders() -> None:
    book = _book(["1.000", "1.000"])
    first, second = _Maker(1, "0.400"), _Maker(2, "0.400")
    book.add_maker(BID, 950_000, first)  # 1.0 ahead
    book.consume(BID, 950_000, Decimal("0.2"))  # someone took 0.2 of the market's liquidity
    book.add_maker(BID, 950_000, second)  # 0.8 ahead of it (the market's), plus the first order
    result = book.trade_at_touch(BID, Decimal("1.100"))
    assert result is not None and result.t == 950_000
    assert [(m.order_id, q) for m, q in result.fills] == [(1, Decimal("0.3"))]
    first.executed += Decimal("0.3")
    result = book.trade_at_touch(BID, Decimal("0.600"))
    assert result is not None
    # 0.1 left of the first order, then nothing of the market between (it was ahead of both), then the second
    assert [(m.order_id, q) for m, q in result.fills] == [(1, Decimal("0.1")), (2, Decimal("0.4"))]


def test_deficits_refill_and_the_journal_names_changed_levels() -> None:
    book = _book()
    full = book.market_qty(ASK, book.ask_t)
    book.journal = True
    start = book.update_id
    book.consume(ASK, book.ask_t, full)
    assert book.market_qty(ASK, book.ask_t) == 0
    book.refill(1.0)  # e^-1 of the deficit is left
    left = book.market_qty(ASK, book.ask_t)
    assert 0 < left < full and abs(left / full - Decimal("0.632")) < Decimal("0.01")
    for _ in range(20):
        book.refill(1.0)
    assert book.market_qty(ASK, book.ask_t) == full and not book.deficit
    changes = book.changes_since(start)
    assert (ASK, book.ask_t) in changes
    bids, asks = level_rows(book, sorted(changes))
    assert asks == [(book.ask_t, full)] and bids == []
    # a move of 3 ticks up: the 3 asks left behind are gone, 3 new bids appear
    before = book.update_id
    through = book.move_to(book.bid_t + 3)
    assert through == []
    moved = book.changes_since(before)
    assert {t for side, t in moved if side == ASK} == {950_001, 950_002, 950_003}
    assert {t for side, t in moved if side == BID} == {950_001, 950_002, 950_003}


def test_move_fills_the_orders_it_trades_through() -> None:
    book = _book(["1.000"] * 5)
    low, high = _Maker(1, "0.100"), _Maker(2, "0.100")
    book.add_maker(ASK, 950_002, low)
    book.add_maker(ASK, 950_004, high)
    through = book.move_to(950_003)  # ask now 950_004: 950_002 was lifted, 950_004 only touched
    assert [m.order_id for m in through] == [1]
