"""AsyncClient + BinanceSocketManager on the simulator: user data stream, algo flow, market streams."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from binance.ws.streams import BinanceSocketManager
from simkit import Control, assert_same_shape, make_async_client

from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim import SimConfig, SimServer

PAYLOADS = Path("/work/shared/reference/payloads")
if not PAYLOADS.exists():  # the reference folder sits beside the repository
    PAYLOADS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "payloads"

# documented examples (reference/binance-usdm.md §4.2, §4.4, §5.4)
DOC_ORDER_UPDATE = {
    "s": "BTCUSDT", "c": "TEST", "S": "SELL", "o": "TRAILING_STOP_MARKET", "f": "GTC", "q": "0.001", "p": "0",
    "ap": "0", "sp": "7103.04", "x": "NEW", "X": "NEW", "i": 8886774, "l": "0", "z": "0", "L": "0", "N": "USDT",
    "n": "0", "T": 1568879465650, "t": 0, "b": "0", "a": "9.91", "m": False, "R": False, "wt": "CONTRACT_PRICE",
    "ot": "TRAILING_STOP_MARKET", "ps": "LONG", "cp": False, "AP": "7476.89", "cr": "5.0", "pP": False, "si": 0,
    "ss": 0, "rp": "0", "V": "EXPIRE_TAKER", "pm": "OPPONENT", "gtd": 0, "er": "0"}
DOC_ACCOUNT_UPDATE_B = {"a": "USDT", "wb": "122624.12345678", "cw": "100.12345678", "bc": "50.12345678"}
DOC_ACCOUNT_UPDATE_P = {"s": "BTCUSDT", "pa": "20", "ep": "6563.66500", "bep": "0", "cr": "0", "up": "2850.21200",
                        "mt": "isolated", "iw": "13200.70726908", "ps": "LONG", "ma": "USDT"}  # live payloads: ma
DOC_MARK = {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000",
            "ap": "11794.15000000", "i": "11784.62659091", "P": "11784.25641265", "r": "0.00038167",
            "T": 1562306400000, "st": 1}  # routed payloads carry st (risk-market §4)
DOC_BOOK = {"e": "bookTicker", "u": 400900217, "E": 1568014460893, "T": 1568014460891, "s": "BNBUSDT",
            "b": "25.35190000", "B": "31.21000000", "a": "25.36520000", "A": "40.66000000", "ps": "BNBUSDT", "st": 1}
DOC_AGG = {"e": "aggTrade", "E": 1, "s": "BTCUSDT", "a": 5933014, "p": "0.001", "q": "100", "nq": "100", "f": 100,
           "l": 105, "T": 1, "m": True, "st": 1}


def _live(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text())["data"]["o"]


class Stream:
    """Reads a python-binance socket in a task (as the stack notes advise) and keeps every message."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        socket.TIMEOUT = 0.1  # the read loop notices an exit only between recv() timeouts (10 s by default)
        self.messages: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Stream:
        await self.socket.__aenter__()
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            self.messages.append(await self.socket.recv())

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await self.socket.__aexit__(None, None, None)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("e") == kind]

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
        async def poll() -> list[dict[str, Any]]:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if found:
                    return found
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(poll(), timeout)


@pytest.fixture
async def aclient(sim: SimServer) -> Any:
    client = await make_async_client(sim)
    yield client
    await client.close_connection()


def _bsm(client: Any, sim: SimServer) -> BinanceSocketManager:
    bsm = BinanceSocketManager(client, max_queue_size=10_000)
    bsm.FSTREAM_URL = sim.ws_url
    return bsm


async def _connected(sim: SimServer) -> None:
    async def poll() -> None:
        while not sim.users.conns:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 5)


async def test_market_order_events_field_by_field(sim: SimServer, aclient: Any) -> None:
    async with Stream(_bsm(aclient, sim).futures_user_socket()) as stream:
        await _connected(sim)
        await aclient.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                           quantity="0.010", newClientOrderId="VP-trend-1")
        await stream.wait_for(lambda m: m.get("e") == "ACCOUNT_UPDATE")
    updates = stream.events("ORDER_TRADE_UPDATE")
    assert [u["o"]["x"] for u in updates] == ["NEW", "TRADE"]
    new, trade = (u["o"] for u in updates)
    for body in (new, trade):
        assert_same_shape(body, DOC_ORDER_UPDATE)
        msgspec.convert(body, w.OrderUpdate)
    assert trade["X"] == "FILLED" and trade["c"] == "VP-trend-1" and trade["ps"] == "LONG"
    assert (trade["l"], trade["L"], trade["z"], trade["ap"]) == ("0.010", "95000.00", "0.010", "95000.00")
    assert (trade["n"], trade["N"], trade["rp"], trade["m"]) == ("0.47500000", "USDT", "0.00000000", False)
    assert isinstance(trade["t"], int) and trade["t"] > 0 and trade["i"] == new["i"]
    # the ACCOUNT_UPDATE comes after the fill's ORDER_TRADE_UPDATE
    kinds = [m["e"] for m in stream.messages]
    assert kinds.index("ACCOUNT_UPDATE") > max(i for i, k in enumerate(kinds) if k == "ORDER_TRADE_UPDATE")
    account = stream.events("ACCOUNT_UPDATE")[0]
    assert account["a"]["m"] == "ORDER"
    assert_same_shape(account["a"]["B"][0], DOC_ACCOUNT_UPDATE_B)
    assert_same_shape(account["a"]["P"][0], DOC_ACCOUNT_UPDATE_P)
    assert account["a"]["B"][0]["wb"] == "9999.52500000"
    pos = account["a"]["P"][0]
    assert (pos["pa"], pos["ps"], pos["mt"]) == ("0.010", "LONG", "cross")
    msgspec.convert(account, w.AccountUpdate)


async def test_algo_flow_triggered_child_and_finished(sim: SimServer, aclient: Any, control: Control) -> None:
    await aclient.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                       quantity="0.010")
    async with Stream(_bsm(aclient, sim).futures_user_socket()) as stream:
        await _connected(sim)
        algo = await aclient.futures_create_algo_order(
            symbol="BTCUSDT", side="SELL", positionSide="LONG", type="STOP_MARKET", algoType="CONDITIONAL",
            triggerPrice="94000", quantity="0.010", workingType="MARK_PRICE", clientAlgoId="VP-trend-SL-1")
        await stream.wait_for(lambda m: m.get("e") == "ALGO_UPDATE")
        await asyncio.to_thread(control.price, "BTCUSDT", "94100", "94000")  # mark reaches the stop
        await stream.wait_for(lambda m: m.get("e") == "ALGO_UPDATE" and m["o"]["X"] == "FINISHED")
    algos = [m["o"] for m in stream.events("ALGO_UPDATE")]
    assert [a["X"] for a in algos] == ["NEW", "TRIGGERING", "TRIGGERED", "FINISHED"]
    triggering, triggered, finished = algos[1:]
    assert_same_shape(triggering, _live("algo_update_triggering.json"))
    assert_same_shape(triggered, _live("algo_update_triggered.json"))
    assert_same_shape(finished, _live("algo_update_finished.json"))
    assert triggering["ai"] == "" and triggered["ai"] != ""
    assert triggered["aid"] == algo["algoId"] and triggered["caid"] == "VP-trend-SL-1"
    assert (finished["aq"], finished["ap"], finished["act"]) == ("0.010", "94100.00", "MARKET")
    # the child's fills arrive between TRIGGERED and FINISHED, under the algo's client id
    order_ids = {m["o"]["i"] for m in stream.events("ORDER_TRADE_UPDATE")}
    assert order_ids == {int(triggered["ai"])}
    children = [m["o"] for m in stream.events("ORDER_TRADE_UPDATE")]
    assert [c["x"] for c in children] == ["NEW", "TRADE"]
    assert all(c["c"] == "VP-trend-SL-1" and c["ot"] == "STOP_MARKET" and c["o"] == "MARKET" for c in children)
    assert children[1]["rp"] == "-9.00000000"  # 0.010 × (94100 − 95000)
    kinds = [(m["e"], m.get("o", {}).get("X")) for m in stream.messages]
    assert kinds.index(("ALGO_UPDATE", "TRIGGERED")) < kinds.index(("ORDER_TRADE_UPDATE", "FILLED")) \
        < kinds.index(("ALGO_UPDATE", "FINISHED"))
    got = await aclient.futures_get_algo_order(algoId=algo["algoId"])
    assert got["algoStatus"] == "FINISHED" and got["actualOrderId"] == triggered["ai"]


async def test_triggered_close_that_no_longer_fits_is_refused(sim: SimServer, aclient: Any,
                                                             control: Control) -> None:
    await aclient.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                       quantity="0.010")
    async with Stream(_bsm(aclient, sim).futures_user_socket()) as stream:
        await _connected(sim)
        await aclient.futures_create_algo_order(
            symbol="BTCUSDT", side="SELL", positionSide="LONG", type="TAKE_PROFIT_MARKET", algoType="CONDITIONAL",
            triggerPrice="96000", quantity="0.010", clientAlgoId="tp-1")
        # the position shrinks before the TP triggers
        await aclient.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="MARKET",
                                           quantity="0.004")
        await asyncio.to_thread(control.price, "BTCUSDT", "96000")
        found = await stream.wait_for(lambda m: m.get("e") == "ALGO_UPDATE" and m["o"]["X"] == "CANCELED")
    assert found[0]["o"]["rm"] == "Reduce Only reject" and found[0]["o"]["ai"] == ""
    assert [a["o"]["X"] for a in stream.events("ALGO_UPDATE")] == ["NEW", "TRIGGERING", "CANCELED"]
    assert control.account()["positions"][0]["positionAmt"] == "0.006"


async def test_listen_key_expiry_pushes_listen_key_expired() -> None:
    async with SimServer(SimConfig(market="static", listen_key_ttl=0.3)) as sim:
        client = await make_async_client(sim)
        try:
            async with Stream(_bsm(client, sim).futures_user_socket()) as stream:
                await _connected(sim)
                found = await stream.wait_for(lambda m: m.get("e") == "listenKeyExpired", timeout=5)
                assert set(found[0]) == {"e", "E", "listenKey"} and isinstance(found[0]["E"], int)
                msgspec.convert(found[0], w.ListenKeyExpired)
                # nothing after it on that key
                before = len(stream.messages)
                await client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG",
                                                  type="MARKET", quantity="0.010")
                await asyncio.sleep(0.2)
                assert len(stream.messages) == before
        finally:
            await client.close_connection()


async def test_keepalive_and_unknown_listen_key(sim: SimServer, aclient: Any) -> None:
    key = await aclient.futures_stream_get_listen_key()
    assert key == await aclient.futures_stream_get_listen_key()  # same active key
    assert await aclient.futures_stream_keepalive(key) == {"listenKey": key}
    await aclient.futures_stream_close(key)
    from binance.exceptions import BinanceAPIException

    with pytest.raises(BinanceAPIException) as info:
        await aclient.futures_stream_keepalive(key)
    assert info.value.code == -1125


async def test_market_streams(sim: SimServer, aclient: Any, control: Control) -> None:
    bsm = _bsm(aclient, sim)
    async with Stream(bsm.symbol_mark_price_socket("BTCUSDT", fast=True)) as mark, \
            Stream(bsm.futures_multiplex_socket(["btcusdt@bookTicker"], category="public")) as book, \
            Stream(bsm.aggtrade_futures_socket("BTCUSDT")) as agg, \
            Stream(bsm.futures_multiplex_socket(["btcusdt@kline_1m"])) as kline:
        async def subscribed() -> None:
            wanted = {"btcusdt@markprice@1s", "btcusdt@bookticker", "btcusdt@aggtrade", "btcusdt@kline_1m"}
            while not wanted <= set(sim.streams.by_key):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(subscribed(), 5)
        await asyncio.to_thread(control.price, "BTCUSDT", "95100", "95090")
        # a trade of the market itself (the control API's external taker) prints an aggTrade
        await asyncio.to_thread(control.post, "/trade", {"symbol": "BTCUSDT", "price": "95100", "qty": "0.001",
                                                         "side": "BUY"})
        await asyncio.to_thread(control.price, "BTCUSDT", "95100", "95090")
        m = (await mark.wait_for(lambda x: x.get("data", x).get("p") == "95090.00000000"))[0]
        b = (await book.wait_for(lambda x: x.get("data", x).get("e") == "bookTicker"))[0]
        a = (await agg.wait_for(lambda x: x.get("data", x).get("e") == "aggTrade"))[0]
        k = (await kline.wait_for(lambda x: x.get("data", x).get("e") == "kline"))[0]
    for wrapped, doc, struct in ((m, DOC_MARK, w.MarkPriceUpdate), (b, DOC_BOOK, w.BookTicker),
                                 (a, DOC_AGG, w.AggTrade)):
        assert set(wrapped) == {"stream", "data"}
        assert_same_shape(wrapped["data"], doc)
        msgspec.convert(wrapped["data"], struct)
    assert m["stream"] == "btcusdt@markPrice@1s" and b["stream"] == "btcusdt@bookTicker"
    assert k["stream"] == "btcusdt@kline_1m"
    kdata = msgspec.convert(k["data"], w.Kline)
    assert kdata.k.c == "95100.00" and kdata.k.i == "1m"
