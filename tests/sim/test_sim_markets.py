"""Market modes (random, static, replay), persistence, the command line, and schema conformance."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import msgspec
import polars as pl
import requests
from simkit import make_client, wait_until

from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim import SimConfig, SimServer
from hedgestack.venue.sim.market import RandomWalk

PAYLOADS = Path("/work/shared/reference/payloads")


def test_reference_payloads_decode_and_round_trip() -> None:
    files = sorted(PAYLOADS.glob("*.json"))
    assert len(files) >= 9
    for path in files:
        raw = json.loads(path.read_text())
        data = raw.get("data", raw)
        event = msgspec.json.decode(json.dumps(data).encode(), type=w.UserEvent)
        assert json.loads(msgspec.json.encode(event)) == data, path.name


def test_random_walk_is_seeded_and_moves() -> None:
    config = SimConfig(seed=42)
    prices = {s.symbol: config.start_price(s) for s in config.symbols}
    import random

    a = RandomWalk(config, prices, random.Random(42))
    b = RandomWalk(config, prices, random.Random(42))
    spec = config.symbols[0]
    walk_a = [a.step(spec) for _ in range(50)]
    assert walk_a == [b.step(spec) for _ in range(50)]
    lasts = {last for last, _mark, _q, _m in walk_a}
    assert len(lasts) > 5
    for last, mark, _qty, _maker in walk_a:
        assert last % Decimal("0.10") == 0
        assert abs(mark - last) / last < Decimal("0.001")  # a small basis


async def test_random_market_ticks_and_history() -> None:
    async with SimServer(SimConfig(market="random", seed=1, tick_interval=0.02)) as sim:
        start = sim.exchange.markets["BTCUSDT"].last

        async def moved() -> None:
            while sim.exchange.markets["BTCUSDT"].last == start:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(moved(), 5)
        klines = await asyncio.to_thread(
            lambda: requests.get(sim.url + "/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=100", timeout=5).json())
        assert len(klines) == 100  # seeded history
        hourly = await asyncio.to_thread(
            lambda: requests.get(sim.url + "/fapi/v1/klines?symbol=BTCUSDT&interval=1h", timeout=5).json())
        assert 5 <= len(hourly) <= 7


async def test_static_market_does_not_move() -> None:
    async with SimServer(SimConfig(market="static", mark_push_interval=0.05)) as sim:
        await asyncio.sleep(0.2)
        assert sim.exchange.markets["BTCUSDT"].last == Decimal("95000")


def _klines_csv(path: Path) -> Path:
    header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume," \
             "taker_buy_quote_volume,ignore\n"
    rows = ["1704067200000,42000.0,42100.0,41900.0,42050.0,10.5,1704067259999,441000,100,5.0,210000,0",
            "1704067260000,42050.0,42300.0,42000.0,42250.0,8.0,1704067319999,337000,90,4.0,169000,0"]
    path.write_text(header + "\n".join(rows) + "\n")
    return path


async def test_replay_klines_csv(tmp_path: Path) -> None:
    path = _klines_csv(tmp_path / "BTCUSDT-1m-2024-01-01.csv")
    config = SimConfig(market=f"replay:{path}", replay_speed=1000.0)
    async with SimServer(config) as sim:
        assert sim.exchange.markets["BTCUSDT"].last == Decimal("42000.0")
        await asyncio.wait_for(sim.source.done.wait(), 5)  # type: ignore[attr-defined]
        assert sim.exchange.markets["BTCUSDT"].last == Decimal("42250.0")
        highs = [c.high for c in sim.candles.by_symbol["BTCUSDT"]]
        assert max(highs) == Decimal("42300.0")


async def test_replay_agg_trades_parquet_fills_resting_orders(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT-aggTrades-2024-01-01.parquet"
    pl.DataFrame({
        "agg_trade_id": [1, 2, 3], "price": ["2300.50", "2290.00", "2310.25"], "quantity": ["1.0", "0.5", "2"],
        "first_trade_id": [1, 2, 3], "last_trade_id": [1, 2, 3],
        "transact_time": [1704067200000, 1704067200100, 1704067200200], "is_buyer_maker": [True, False, True],
    }).write_parquet(path)
    async with SimServer(SimConfig(market=f"replay:{path}", replay_speed=0.5)) as sim:
        assert sim.exchange.markets["ETHUSDT"].last == Decimal("2300.50")
        client = make_client(sim)
        await asyncio.to_thread(client.futures_create_order, symbol="ETHUSDT", side="BUY", positionSide="LONG",
                                type="LIMIT", timeInForce="GTC", quantity="0.010", price="2295.00")
        await asyncio.wait_for(sim.source.done.wait(), 5)  # type: ignore[attr-defined]
        trades = await asyncio.to_thread(client.futures_account_trades, symbol="ETHUSDT")
        assert [(t["price"], t["maker"]) for t in trades] == [("2295.00", True)]
        assert sim.exchange.markets["ETHUSDT"].last == Decimal("2310.25")


def test_persistence_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "sim.json"
    config = SimConfig(market="static", persist=str(state))
    sim = SimServer.start_in_thread(config)
    try:
        client = make_client(sim)
        first = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                            quantity="0.010")
    finally:
        sim.stop()
    sim = SimServer.start_in_thread(config)
    try:
        client = make_client(sim)
        pos = client.futures_position_information(symbol="BTCUSDT")
        assert [(p["positionSide"], p["positionAmt"]) for p in pos] == [("LONG", "0.010")]
        again = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                            quantity="0.010")
        assert again["orderId"] > first["orderId"]
    finally:
        sim.stop()


def test_command_line_serves() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "hedgestack.venue.sim", "--port", "0", "--market", "static",
                             "--seed", "3"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split()[2]
        assert url.startswith("http://127.0.0.1:")
        assert wait_until(lambda: requests.get(url + "/fapi/v1/ping", timeout=2).json() == {})
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
