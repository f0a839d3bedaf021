"""Funding: the schedule (accelerated), the rate from the premium index, and what is settled and shown."""

from __future__ import annotations

from decimal import Decimal

import requests
from simkit import make_client, wait_until

from hedgestack.venue.sim import SimConfig, SimServer
from hedgestack.venue.sim.funding import FundingState, next_funding_time, premium_index, rate_cap

D = Decimal


def test_rate_from_premium_and_interest() -> None:
    cap = rate_cap(125, D("0.004"))
    assert cap == D("0.003")  # 0.75 × (1/125 − 0.4 %)
    state = FundingState("BTCUSDT", 8, 1.0, cap, next_time=28_800_000, rate=D("0.0001"))
    assert state.interest == D("0.0001") and state.estimate() == D("0.0001")
    # P = (impact bid − index) / index when the perpetual trades above the index
    assert premium_index(D(100), D("100.2"), D("100.3")) == D("0.002")
    assert premium_index(D(100), D("99.7"), D("99.8")) == D("-0.002")
    assert premium_index(D(100), D("99.99"), D("100.01")) == 0
    state.sample(D("0.002"))
    state.sample(D("0.001"))
    # P̄ = 0.15 %; F = P̄ + clamp(0.01 % − P̄, ±0.05 %) = 0.15 % − 0.05 %
    assert state.rate == D("0.0010")
    for _ in range(98):
        state.sample(D("0.01"))
    assert state.rate == cap  # capped
    row = state.settle(28_800_000, D("95000"))
    assert (row.rate, row.time, row.mark) == (cap, 28_800_000, D("95000"))
    assert state.next_time == 57_600_000 and state.rate == D("0.0001")  # samples restart
    # a small premium leaves the interest rate: F = P̄ + (I − P̄)
    state.sample(D("0.0003"))
    assert state.rate == D("0.0001")
    # the schedule: every 8 h at 00, 08, 16 UTC; accelerated, still on the epoch grid
    assert next_funding_time(1_767_225_600_000 - 1, 28_800_000) == 1_767_225_600_000  # 2026-01-01 00:00 UTC
    fast = FundingState("BTCUSDT", 8, 28_800.0, cap, next_time=0, rate=D("0.0001"))
    assert fast.interval_ms == 1000


def test_scheduled_settlements_accelerated() -> None:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=3, funding="schedule", funding_speed=28_800.0))
    try:
        client = make_client(sim)
        client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                    quantity="0.010")
        client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET",
                                    quantity="0.004")
        wait_until(lambda: sum(r.income_type == "FUNDING_FEE" for r in sim.exchange.account.income) >= 3,
                   timeout=15)
        rows = client.futures_income_history(symbol="BTCUSDT", incomeType="FUNDING_FEE")[:3]
        times = [r["time"] for r in rows]
        assert all(t % 1000 == 0 for t in times) and [b - a for a, b in zip(times, times[1:], strict=False)] == [
            1000, 1000]
        # the long pays and the short receives 0.01 % of 95,000: −0.006 × 95,000 × 0.0001
        assert [r["income"] for r in rows] == ["-0.05700000"] * 3
        history = {r["fundingTime"]: r for r in client.futures_funding_rate(symbol="BTCUSDT", limit=1000)}
        for t in times:
            assert (history[t]["fundingRate"], history[t]["rateType"]) == ("0.00010000", "Regular")
            assert D(history[t]["markPrice"]) == 95000
        premium = client.futures_mark_price(symbol="BTCUSDT")
        assert premium["nextFundingTime"] % 1000 == 0 and premium["nextFundingTime"] > times[-1]
        assert premium["lastFundingRate"] == "0.00010000" and premium["interestRate"] == "0.00010000"
        # before this run: 200 settlements of the model's rate, on the same grid
        before = [r for r in history.values() if r["fundingTime"] < sim.started_ms]
        assert len(before) >= 150 and all(r["fundingRate"] == "0.00010000" for r in before)
    finally:
        sim.stop()


def test_static_market_settles_only_when_told() -> None:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=4, funding_speed=28_800.0))
    try:
        client = make_client(sim)
        client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                    quantity="0.010")
        next_time = client.futures_mark_price(symbol="BTCUSDT")["nextFundingTime"]
        wait_until(lambda: requests.get(sim.url + "/fapi/v1/time", timeout=5).json()["serverTime"] > next_time + 1500,
                   timeout=10)
        assert client.futures_income_history(symbol="BTCUSDT", incomeType="FUNDING_FEE") == []
        answer = requests.post(sim.url + "/sim/v1/funding", json={"symbol": "BTCUSDT", "rate": "0.0003"},
                               timeout=5).json()
        assert answer["income"] == "-0.28500000"  # 0.010 × 95,000 × 0.03 %
        assert client.futures_funding_rate(symbol="BTCUSDT", limit=1)[-1]["fundingRate"] == "0.00030000"
        assert client.futures_mark_price(symbol="BTCUSDT")["lastFundingRate"] == "0.00030000"
    finally:
        sim.stop()


def test_random_market_settles_what_it_shows() -> None:
    sim = SimServer.start_in_thread(SimConfig(market="random", seed=8, funding_speed=14_400.0,
                                              tick_interval=0.05))
    try:
        client = make_client(sim)
        client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                    quantity="0.010")
        wait_until(lambda: sum(r.income_type == "FUNDING_FEE" for r in sim.exchange.account.income) >= 2,
                   timeout=20)
        rows = client.futures_income_history(symbol="BTCUSDT", incomeType="FUNDING_FEE")
        history = {r["fundingTime"]: r for r in client.futures_funding_rate(symbol="BTCUSDT", limit=1000)}
        for row in rows:
            settled = history[row["time"]]
            expected = -(D("0.010") * D(settled["markPrice"]) * D(settled["fundingRate"]))
            assert D(row["income"]) == expected.quantize(D("0.00000001"))
        funding = client._request_futures_api("get", "fundingInfo", False, data={})
        assert funding == []  # every bundled contract has Binance's default 8-hour funding
    finally:
        sim.stop()
