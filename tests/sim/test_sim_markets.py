"""Market modes (random, static, replay of public data files), candle history, the command line."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import msgspec
import polars as pl
import pytest
import requests
from simkit import make_client, wait_until

from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim import SimConfig, SimServer
from hedgestack.venue.sim.market import RandomWalk
from hedgestack.venue.sim.replay import ReplayError, load, read_file
from hedgestack.venue.sim.symbols import bundled_symbols, symbol_spec

PAYLOADS = Path("/work/shared/reference/payloads")
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")


def test_reference_payloads_decode_and_round_trip() -> None:
    files = sorted(PAYLOADS.glob("*.json"))
    assert len(files) >= 9
    for path in files:
        raw = json.loads(path.read_text())
        data = raw.get("data", raw)
        event = msgspec.json.decode(json.dumps(data).encode(), type=w.UserEvent)
        assert json.loads(msgspec.json.encode(event)) == data, path.name


def test_bundled_contracts() -> None:
    specs = bundled_symbols()
    assert len(specs) >= 20 and len({s.symbol for s in specs}) == len(specs)
    btc, eth = symbol_spec("BTCUSDT"), symbol_spec("ETHUSDT")
    # reference §5.3
    assert (btc.tick_size, btc.min_price, btc.max_price, btc.step_size, btc.max_qty, btc.market_max_qty,
            btc.min_notional, btc.liquidation_fee) == ("0.10", "556.80", "4529764", "0.001", "1000", "120", "100",
                                                       "0.012500")
    assert (eth.tick_size, eth.step_size, eth.max_qty, eth.min_notional) == ("0.01", "0.001", "10000", "20")
    # the 2024-03-28 capture
    sol = symbol_spec("SOLUSDT")
    assert (sol.tick_size, sol.min_price, sol.max_price, sol.step_size, sol.market_max_qty, sol.min_notional,
            sol.liquidation_fee, sol.price_precision) == ("0.0010", "0.4200", "6857", "1", "5000", "5", "0.015000", 4)
    for spec in specs:
        tick = spec.tick
        assert spec.start_price % tick == 0, spec.symbol
        assert Decimal(spec.min_price) <= spec.start_price <= Decimal(spec.max_price)
        assert spec.brackets[0].notional_floor == 0 and spec.brackets[0].cum == 0
        for low, high in zip(spec.brackets, spec.brackets[1:], strict=False):
            # cum_n = floor_n × (MMR_n − MMR_n−1) + cum_n−1 (risk-market §1.1)
            assert high.cum == high.notional_floor * (high.maint_margin_ratio - low.maint_margin_ratio) + low.cum
            assert high.notional_floor == low.notional_cap


def test_random_walk_is_seeded_and_moves() -> None:
    config = SimConfig(seed=42)
    prices = {s.symbol: config.start_price(s) for s in config.symbols}
    spec = config.symbols[0]
    a = RandomWalk(config, prices, random.Random(42))
    b = RandomWalk(config, prices, random.Random(42))
    walk_a = [a.step(spec) for _ in range(200)]
    assert walk_a == [b.step(spec) for _ in range(200)]
    bids = {s.bid_t for s in walk_a}
    assert len(bids) > 20
    start = spec.start_price / spec.tick
    for step in walk_a:
        assert abs(step.bid_t - start) / start < 0.01  # 200 quarter-seconds at 60 % a year: a few bp
        assert step.index % spec.tick == 0
        for _, qty in step.trades:
            assert qty > 0 and qty % spec.step == 0
    assert sum(len(s.trades) for s in walk_a) > 50  # ~5 trades a second for BTCUSDT


async def test_random_market_trades_and_history() -> None:
    async with SimServer(SimConfig(market="random", seed=1, tick_interval=0.02)) as sim:
        start = sim.exchange.markets["BTCUSDT"].last

        async def moved() -> None:
            while sim.exchange.markets["BTCUSDT"].last == start or not sim.history("BTCUSDT").trades:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(moved(), 5)

        def get(path: str) -> object:
            return requests.get(sim.url + path, timeout=10).json()

        for interval in INTERVALS:
            rows = await asyncio.to_thread(get, f"/fapi/v1/klines?symbol=BTCUSDT&interval={interval}&limit=1500")
            assert isinstance(rows, list) and len(rows) == 1500, interval
            assert [r[0] for r in rows] == sorted(r[0] for r in rows)
        hour = (await asyncio.to_thread(get, "/fapi/v1/klines?symbol=BTCUSDT&interval=1h&limit=3"))
        assert isinstance(hour, list)
        first = hour[0]
        minutes = await asyncio.to_thread(
            get, f"/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime={first[0]}&endTime={first[6]}&limit=100")
        assert isinstance(minutes, list) and len(minutes) == 60
        assert minutes[0][1] == first[1] and minutes[-1][4] == first[4]
        assert max(Decimal(m[2]) for m in minutes) == Decimal(first[2])
        assert sum(Decimal(m[5]) for m in minutes) == Decimal(first[5])
        trades = await asyncio.to_thread(get, "/fapi/v1/trades?symbol=BTCUSDT&limit=5")
        assert isinstance(trades, list) and trades and set(trades[0]) == {"id", "price", "qty", "quoteQty", "time",
                                                                          "isBuyerMaker", "isRPITrade"}


async def test_static_market_does_not_move() -> None:
    async with SimServer(SimConfig(market="static", mark_push_interval=0.05)) as sim:
        await asyncio.sleep(0.2)
        assert sim.exchange.markets["BTCUSDT"].last == Decimal("95000")
        assert not sim.exchange.book_on["BTCUSDT"]
        assert not sim.config.funding_scheduled


# -- public data files, as downloaded ------------------------------------------------------------------
KLINE_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
                "taker_buy_quote_volume,ignore\n")


def _zip(path: Path, inner: str, text: str) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(inner, text)
    (path.parent / (path.name + ".CHECKSUM")).write_text("0" * 64 + "  " + path.name + "\n")
    return path


def _klines_zip(folder: Path, *, header: bool = True) -> Path:
    rows = ["1704067200000,42000.0,42100.0,41900.0,42050.0,10.5,1704067259999,441000,100,5.0,210000,0",
            "1704067260000,42050.0,42300.0,42000.0,42250.0,8.0,1704067319999,337000,90,4.0,169000,0"]
    folder.mkdir(parents=True, exist_ok=True)
    text = (KLINE_HEADER if header else "") + "\n".join(rows) + "\n"
    return _zip(folder / "BTCUSDT-1m-2024-01-01.zip", "BTCUSDT-1m-2024-01-01.csv", text)


async def test_replay_klines_zip_as_downloaded(tmp_path: Path) -> None:
    path = _klines_zip(tmp_path / "data/futures/um/daily/klines/BTCUSDT/1m")
    config = SimConfig(market=f"replay:{path}", replay_speed=1000.0)
    async with SimServer(config) as sim:
        assert sim.exchange.markets["BTCUSDT"].last == Decimal("42000.0")
        await asyncio.wait_for(sim.source.done.wait(), 10)  # type: ignore[attr-defined]
        assert sim.exchange.markets["BTCUSDT"].last == Decimal("42250.0")
        prices = [t.price for t in sim.history("BTCUSDT").trades]
        assert max(prices) == Decimal("42300.0") and min(prices) == Decimal("41900.0")
        assert prices[-1] == Decimal("42250.0")


def test_replay_reads_every_kind_with_or_without_header_ms_or_us(tmp_path: Path) -> None:
    # klines without a header (pre-2022 files)
    kl = read_file(_klines_zip(tmp_path / "k", header=False))
    assert (kl.symbol, kl.kind, kl.interval, kl.frame.height) == ("BTCUSDT", "klines", "1m", 2)
    # aggTrades with a header, microsecond timestamps
    agg = _zip(tmp_path / "ETHUSDT-aggTrades-2025-01-02.zip", "ETHUSDT-aggTrades-2025-01-02.csv",
               "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
               "1,3300.50,1.5,10,11,1735776000123456,true\n2,3301.00,0.5,12,12,1735776000223456,false\n")
    events = list(read_file(agg).events())
    assert [(e.time, e.price, e.buyer_maker) for e in events] == [  # type: ignore[union-attr]
        (1735776000123, Decimal("3300.50"), True), (1735776000223, Decimal("3301.00"), False)]
    # trades without a header
    trades = _zip(tmp_path / "SOLUSDT-trades-2024-05-31.zip", "SOLUSDT-trades-2024-05-31.csv",
                  "1,166.10,3,497.3,1717113600000,true\n2,166.20,1,166.2,1717113600050,false\n")
    assert [e.qty for e in read_file(trades).events()] == [Decimal("3"), Decimal("1")]  # type: ignore[union-attr]
    # bookTicker
    book = _zip(tmp_path / "BTCUSDT-bookTicker-2023-06-15.zip", "BTCUSDT-bookTicker-2023-06-15.csv",
                "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time\n"
                "1,25115.9,13.097,25116.0,1.23,1686787200000,1686787200001\n")
    quote = next(read_file(book).events())
    assert (quote.bid, quote.ask) == (Decimal("25115.9"), Decimal("25116.0"))  # type: ignore[union-attr]
    # markPriceKlines: told apart by the folder they were downloaded into
    mark_dir = tmp_path / "data/futures/um/daily/markPriceKlines/BTCUSDT/1m"
    mark_dir.mkdir(parents=True)
    mark = _zip(mark_dir / "BTCUSDT-1m-2024-01-01.zip", "BTCUSDT-1m-2024-01-01.csv", KLINE_HEADER +
                "1704067200000,42001.5,42101.0,41901.0,42051.2,0,1704067259999,0,60,0,0,0\n")
    assert read_file(mark).kind == "markPriceKlines"
    # fundingRate (monthly)
    funding = _zip(tmp_path / "BTCUSDT-fundingRate-2024-01.zip", "BTCUSDT-fundingRate-2024-01.csv",
                   "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.00037409\n")
    row = next(read_file(funding).events())
    assert (row.rate, row.interval_hours) == (Decimal("0.00037409"), 8)  # type: ignore[union-attr]
    files = load([tmp_path], {"BTCUSDT", "ETHUSDT", "SOLUSDT"}, show_progress=True)
    assert {f.kind for f in files} == {"klines", "aggTrades", "trades", "bookTicker", "markPriceKlines",
                                       "fundingRate"}


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("BTCUSDT-1m-2024-01-01.zip", b"not a zip at all", "not a zip archive"),
    ("BTCUSDT-aggTrades-2024-01-01.csv", b"1,2,3\n", "3 columns, aggTrades files have 7"),
    ("BTCUSDT-1m-2024-01-01.csv", b"\xff\xfe\x00\x01garbage", "not a CSV text file"),
    ("XYZUSDT-trades-2024-01-01.csv", b"1,1.0,1,1,1704067200000,true\n", "XYZUSDT is not one of"),
    ("BTCUSDT-candles-2024-01-01.csv", b"1,1\n", "unknown kind 'candles'"),
])
def test_unreadable_files_give_one_line(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReplayError) as info:
        load([path], {s.symbol for s in bundled_symbols()})
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"replay file {name}") and reason in text
    proc = subprocess.run([sys.executable, "-m", "hedgestack.venue.sim", "--port", "0", "--market",
                           f"replay:{path}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines() == [f"hedgestack sim: {text}"]
    assert "Traceback" not in proc.stderr


async def test_replay_several_symbols_with_speed_fills_resting_orders(tmp_path: Path) -> None:
    eth = tmp_path / "ETHUSDT-aggTrades-2024-01-01.zip"
    _zip(eth, "ETHUSDT-aggTrades-2024-01-01.csv",
         "1,2300.50,1.0,1,1,1704067200000,true\n2,2290.00,0.5,2,2,1704067200100,true\n"
         "3,2310.25,2,3,3,1704067200200,false\n")
    btc = tmp_path / "BTCUSDT-trades-2024-01-01.zip"
    _zip(btc, "BTCUSDT-trades-2024-01-01.csv", "1,42000.0,0.1,4200,1704067200050,false\n"
                                               "2,42010.0,0.2,8402,1704067200150,true\n")
    parquet = tmp_path / "SOLUSDT-aggTrades-2024-01-01.parquet"
    pl.DataFrame({"agg_trade_id": [1], "price": ["100.500"], "quantity": ["3"], "first_trade_id": [1],
                  "last_trade_id": [1], "transact_time": [1704067200120], "is_buyer_maker": [True]}).write_parquet(
        parquet)
    config = SimConfig(market=f"replay:{eth},{btc},{parquet}", replay_speed=0.5)
    async with SimServer(config) as sim:
        assert sim.exchange.markets["ETHUSDT"].last == Decimal("2300.50")
        assert sim.exchange.markets["BTCUSDT"].last == Decimal("42000.0")
        client = make_client(sim)
        await asyncio.to_thread(client.futures_create_order, symbol="ETHUSDT", side="BUY", positionSide="LONG",
                                type="LIMIT", timeInForce="GTC", quantity="0.010", price="2295.00")
        await asyncio.wait_for(sim.source.done.wait(), 10)  # type: ignore[attr-defined]
        # the market sold down to 2290.00: the bid at 2295.00 was traded through, a maker fill at its price
        trades = await asyncio.to_thread(client.futures_account_trades, symbol="ETHUSDT")
        assert [(t["price"], t["maker"]) for t in trades] == [("2295.00", True)]
        assert sim.exchange.markets["ETHUSDT"].last == Decimal("2310.25")
        assert sim.exchange.markets["BTCUSDT"].last == Decimal("42010.0")
        assert sim.exchange.markets["SOLUSDT"].last == Decimal("100.500")


async def test_replayed_funding_and_mark(tmp_path: Path) -> None:
    folder = tmp_path / "data/futures/um/monthly/markPriceKlines/BTCUSDT/1m"
    folder.mkdir(parents=True)
    _zip(folder / "BTCUSDT-1m-2024-01.zip", "BTCUSDT-1m-2024-01.csv",
         "1704067200000,42001.5,42101.0,41901.0,42051.2,0,1704067259999,0,60,0,0,0\n")
    trades = _zip(tmp_path / "BTCUSDT-trades-2024-01-01.zip", "BTCUSDT-trades-2024-01-01.csv",
                  "1,42000.0,0.1,4200,1704067200000,false\n2,42010.0,0.2,8402,1704067260000,true\n")
    funding = _zip(tmp_path / "BTCUSDT-fundingRate-2024-01.zip", "BTCUSDT-fundingRate-2024-01.csv",
                   "1704067230000,8,0.00037409\n")
    config = SimConfig(market=f"replay:{folder},{trades},{funding}", replay_speed=100.0)
    async with SimServer(config) as sim:
        client = make_client(sim)
        await asyncio.to_thread(client.futures_create_order, symbol="BTCUSDT", side="BUY", positionSide="LONG",
                                type="MARKET", quantity="0.010")
        await asyncio.wait_for(sim.source.done.wait(), 10)  # type: ignore[attr-defined]
        assert sim.exchange.markets["BTCUSDT"].mark == Decimal("42051.2")
        rows = await asyncio.to_thread(client.futures_income_history, symbol="BTCUSDT", incomeType="FUNDING_FEE")
        assert len(rows) == 1
        history = await asyncio.to_thread(client.futures_funding_rate, symbol="BTCUSDT", limit=1)
        assert history[-1]["fundingRate"] == "0.00037409"
        assert Decimal(rows[0]["income"]) == -(Decimal("0.010") * Decimal(history[-1]["markPrice"]) *
                                               Decimal("0.00037409")).quantize(Decimal("0.00000001"))


# -- the command line ---------------------------------------------------------------------------------
def test_command_line_serves_a_fresh_account(tmp_path: Path) -> None:
    env = {**os.environ, "DB_PATH": str(tmp_path / "x.duckdb"), "HEDGESTACK_DATA_DIR": str(tmp_path)}
    (tmp_path / "simulator.sqlite").write_bytes(b"not read")
    ids = []
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, "-m", "hedgestack.venue.sim", "--port", "0", "--market",
                                 "static", "--seed", "3"], stdout=subprocess.PIPE, text=True, env=env,
                                cwd=tmp_path)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("hedgestack sim: http://127.0.0.1:") and "(REST " in line
            url = line.split()[2]
            assert wait_until(lambda url=url: requests.get(url + "/fapi/v1/ping", timeout=2).json() == {})
            ident = requests.get(url + "/sim/v1/identity", timeout=5).json()
            assert set(ident) == {"id", "created_at"} and isinstance(ident["created_at"], int)
            ids.append(ident["id"])
        finally:
            proc.terminate()
            assert proc.wait(10) == 0
    assert ids[0] != ids[1]  # no --persist: a fresh account and identity each run
    assert (tmp_path / "simulator.sqlite").read_bytes() == b"not read"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["simulator.sqlite"]


def test_ohlc_of_static_history_ends_at_start_price() -> None:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=5))
    try:
        rows = requests.get(sim.url + "/fapi/v1/klines?symbol=ETHUSDT&interval=1d&limit=2", timeout=10).json()
        assert rows[-1][4] == "3500.00"
        week = requests.get(sim.url + "/fapi/v1/klines?symbol=ETHUSDT&interval=1w&limit=1500", timeout=10).json()
        assert len(week) == 1500
    finally:
        sim.stop()
