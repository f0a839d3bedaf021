"""Identity and persistence: a restart continues the same account; ids never repeat; SIGKILL loses nothing seen."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import msgspec
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException
from simkit import make_client, wait_until

from hedgestack.venue.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimConfig, SimServer
from hedgestack.venue.sim.config import EMBEDDED_STATE_FILE
from hedgestack.venue.sim.state import AccountState, Counters, SimMarket, SimPosition, Snapshot


def _identity(sim: SimServer) -> dict[str, object]:
    return requests.get(sim.url + "/sim/v1/identity", timeout=5).json()


def test_restart_continues_the_account(tmp_path: Path) -> None:
    config = SimConfig.embedded(tmp_path, market="static", book="on", seed=2)
    assert config.persist == str(tmp_path / EMBEDDED_STATE_FILE)
    sim = SimServer.start_in_thread(config)
    try:
        ident = _identity(sim)
        client = make_client(sim)
        first = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                            quantity="0.010")
        resting = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT",
                                              timeInForce="GTC", quantity="0.020", price="94000")
        client.futures_change_leverage(symbol="BTCUSDT", leverage=33)
        trade = client.futures_account_trades(symbol="BTCUSDT")[-1]
        wallet = requests.get(sim.url + "/sim/v1/account", timeout=5).json()["wallet_balance"]
        queue = sim.exchange.account.orders[resting["orderId"]].queue_ahead
    finally:
        sim.stop()
    sim = SimServer.start_in_thread(config)
    try:
        assert _identity(sim) == ident
        client = make_client(sim)
        pos = {p["positionSide"]: p for p in client.futures_position_information(symbol="BTCUSDT", version=2)}
        assert (pos["LONG"]["positionAmt"], pos["LONG"]["leverage"]) == ("0.010", "33")
        assert [o["orderId"] for o in client.futures_get_open_orders(symbol="BTCUSDT")] == [resting["orderId"]]
        assert sim.exchange.account.orders[resting["orderId"]].queue_ahead == queue
        assert client.futures_order_book(symbol="BTCUSDT", limit=1000)["bids"][-1][0] != "0"
        assert requests.get(sim.url + "/sim/v1/account", timeout=5).json()["wallet_balance"] == wallet
        again = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                            quantity="0.010")
        assert again["orderId"] > resting["orderId"] > first["orderId"]
        assert client.futures_account_trades(symbol="BTCUSDT")[-1]["id"] > trade["id"]
        # a reset keeps the identity and the counters
        requests.post(sim.url + "/sim/v1/reset", timeout=5)
        assert _identity(sim) == ident
        third = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                            quantity="0.010")
        assert third["orderId"] > again["orderId"]
        assert len(client.futures_account_trades(symbol="BTCUSDT")) == 1
    finally:
        sim.stop()
    sim = SimServer.start_in_thread(config)
    try:
        client = make_client(sim)
        assert len(client.futures_account_trades(symbol="BTCUSDT")) == 1  # the reset is durable too
    finally:
        sim.stop()


def test_a_fresh_simulator_has_a_fresh_identity() -> None:
    idents = []
    for _ in range(2):
        sim = SimServer.start_in_thread(SimConfig(market="static", seed=1))
        try:
            idents.append(_identity(sim))
        finally:
            sim.stop()
    assert idents[0]["id"] != idents[1]["id"]


def test_an_old_json_state_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    old = Snapshot(
        account=AccountState(wallet=Decimal("9876.5"), positions={"BTCUSDT:LONG": SimPosition(
            symbol="BTCUSDT", position_side="LONG", amount=Decimal("0.030"), entry_price=Decimal("94000"))}),
        counters=Counters(order_id=8_389_765_500, trade_id=4_467_432_700),
        markets={"BTCUSDT": SimMarket(symbol="BTCUSDT", last=Decimal("96000"), mark=Decimal("96000"),
                                      index=Decimal("96000"), funding_rate=Decimal("0.0001"),
                                      next_funding_time=0)})
    path.write_bytes(msgspec.json.encode(old))
    sim = SimServer.start_in_thread(SimConfig(market="static", persist=str(path)))
    try:
        client = make_client(sim)
        pos = client.futures_position_information(symbol="BTCUSDT")
        assert [(p["positionSide"], p["positionAmt"], p["entryPrice"]) for p in pos] == [("LONG", "0.030",
                                                                                          "94000.0")]
        order = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                            quantity="0.010")
        assert order["orderId"] == 8_389_765_501
    finally:
        sim.stop()
    assert (tmp_path / "sim.json.v1.json").exists()
    with path.open("rb") as handle:
        assert handle.read(16) == b"SQLite format 3\x00"


def test_sigkill_between_writes_loses_nothing_seen_and_reuses_no_id(tmp_path: Path) -> None:
    state = tmp_path / "sim.sqlite"

    def start() -> tuple[subprocess.Popen[str], Client]:
        proc = subprocess.Popen([sys.executable, "-m", "hedgestack.venue.sim", "--port", "0", "--market", "static",
                                 "--persist", str(state)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[2]
        client = Client(DEFAULT_API_KEY, DEFAULT_API_SECRET, ping=False)
        client.FUTURES_URL = url + "/fapi"
        client.API_URL = url + "/api"
        wait_until(lambda: requests.get(url + "/fapi/v1/ping", timeout=2).ok)
        return proc, client

    proc, client = start()
    ident = requests.get(client.FUTURES_URL.removesuffix("/fapi") + "/sim/v1/identity", timeout=5).json()
    seen: list[int] = []
    stop = threading.Event()

    def burst() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                order = client.futures_create_order(symbol="BTCUSDT", side="BUY" if n % 2 else "SELL",
                                                    positionSide="LONG", type="MARKET", quantity="0.002")
            except (BinanceAPIException, requests.RequestException):
                return
            seen.append(order["orderId"])

    thread = threading.Thread(target=burst)
    thread.start()
    wait_until(lambda: len(seen) >= 40, timeout=30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stop.set()
    thread.join(10)
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    proc, client = start()
    try:
        base = client.FUTURES_URL.removesuffix("/fapi")
        assert requests.get(base + "/sim/v1/identity", timeout=5).json() == ident
        orders = {o["orderId"] for o in client.futures_get_all_orders(symbol="BTCUSDT", limit=1000)}
        assert set(seen) <= orders  # every order a client was told about is still there
        trades = client.futures_account_trades(symbol="BTCUSDT", limit=1000)
        assert len(trades) == len(orders)  # one fill each, none lost, none doubled
        again = client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                            quantity="0.002")
        assert again["orderId"] > max(orders)
        assert client.futures_account_trades(symbol="BTCUSDT")[-1]["id"] > max(t["id"] for t in trades)
        # the position is the sum of the fills
        net = sum(Decimal(t["qty"]) * (1 if t["side"] == "BUY" else -1) for t in trades) + Decimal("0.002")
        pos = client.futures_position_information(symbol="BTCUSDT")
        assert Decimal(pos[0]["positionAmt"]) == net
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
