"""Margin, leverage and liquidation against Binance's formulas and hand-computed figures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import websocket
from binance.client import Client
from binance.exceptions import BinanceAPIException
from hypothesis import example, given, settings
from hypothesis import strategies as st
from simkit import Control, make_client, wait_until

from hedgestack.venue.sim import SimConfig, SimServer
from hedgestack.venue.sim import margin as m
from hedgestack.venue.sim.symbols import symbol_spec

BTC = symbol_spec("BTCUSDT").brackets
D = Decimal


def _code(call: Any, **params: Any) -> tuple[int, str]:
    with pytest.raises(BinanceAPIException) as info:
        call(**params)
    return info.value.code, info.value.message


def _rows(client: Client, symbol: str = "BTCUSDT") -> dict[str, dict[str, Any]]:
    return {p["positionSide"]: p for p in client.futures_position_information(symbol=symbol, version=2)}


# -- the formulas ------------------------------------------------------------------------------------
def test_reference_worked_example() -> None:
    # reference risk-market §1.3: WB 10,000; LONG 1 @ 60,000; SHORT 0.4 @ 62,000 → 42,395.69
    lp = m.liquidation_price(wallet=D(10000), other_maintenance=D(0), other_unrealized=D(0),
                             legs=[m.Leg(D(1), D(60000), 1), m.Leg(D("0.4"), D(62000), -1)], brackets=BTC,
                             start=D(60000))
    assert lp is not None and lp.quantize(D("0.01")) == D("42395.69")
    # at that price the margin balance (10,000 + uPnL) equals the maintenance margin (237.41)
    balance = D(10000) + (lp - 60000) - D("0.4") * (lp - 62000)
    maintenance = m.maintenance_margin(BTC, lp) + m.maintenance_margin(BTC, D("0.4") * lp)
    assert abs(balance - maintenance) < D("1e-12") and D("237.41") < maintenance < D("237.42")
    # isolated long 0.1 @ 60,000 with 300 of margin (a one-leg cross account of 300) → 57,228.9
    lp = m.liquidation_price(wallet=D(300), other_maintenance=D(0), other_unrealized=D(0),
                             legs=[m.Leg(D("0.1"), D(60000), 1)], brackets=BTC, start=D(60000))
    assert lp is not None and lp.quantize(D("0.1")) == D("57228.9")
    assert m.max_notional(BTC, 20) == D(100_000_000) and m.max_notional(BTC, 21) == D(70_000_000)
    assert m.max_notional(BTC, 125) == D(50_000)


def _excess(wallet: Decimal, legs: list[m.Leg], price: Decimal) -> Decimal:
    """Margin balance − maintenance margin of a one-symbol account at ``price``."""
    balance = wallet + sum((leg.sign * leg.qty * (price - leg.entry) for leg in legs), D(0))
    return balance - sum((m.maintenance_margin(BTC, leg.qty * price) for leg in legs if leg.qty), D(0))


@settings(max_examples=300, deadline=None)
@given(wallet=st.integers(100, 2_000_000), long=st.integers(0, 30_000), short=st.integers(0, 30_000),
       el=st.integers(20_000, 150_000), es=st.integers(20_000, 150_000))
@example(wallet=100, long=2216, short=2193, el=20_000, es=20_000)  # under water everywhere: no price
@example(wallet=8000, long=10_000, short=9_800, el=50_000, es=50_000)  # two prices (see below)
def test_margin_balance_equals_maintenance_at_the_liquidation_price(wallet: int, long: int, short: int, el: int,
                                                                   es: int) -> None:
    legs = [m.Leg(D(long) / 1000, D(el), 1), m.Leg(D(short) / 1000, D(es), -1)]
    lp = m.liquidation_price(wallet=D(wallet), other_maintenance=D(0), other_unrealized=D(0), legs=legs,
                             brackets=BTC, start=D(el))
    # wherever the excess changes sign (checked at every bracket cut and around them) there is a price, up to where
    # the largest leg would pass the table's top cap (no position may be worth more: no liquidation price beyond)
    held = [leg.qty for leg in legs if leg.qty]
    top = BTC[-1].notional_cap / max(held) if held else D(10) ** 12
    probes = {D(el), D(1), top}
    for leg in legs:
        if leg.qty:
            probes |= {b.notional_cap / leg.qty * k for b in BTC[:-1] for k in (D("0.999"), D(1), D("1.001"))}
    signs = {_excess(D(wallet), legs, p) > 0 for p in probes if p <= top}
    if lp is None:
        assert len(signs) == 1 or not (long or short)
        return
    maintenance = sum((m.maintenance_margin(BTC, leg.qty * lp) for leg in legs if leg.qty), D(0))
    assert abs(_excess(D(wallet), legs, lp)) <= D("1e-9") * max(D(1), maintenance)


def test_no_liquidation_price_beyond_the_bracket_table() -> None:
    # a well-margined hedge (LONG 0.016 / SHORT 0.006 on 10,000): the net long is never liquidated by a fall, and
    # the "rise" root lies where 0.016 BTC would be worth more than the table's top cap allows: none is shown
    legs = [m.Leg(D("0.016"), D(95150), 1), m.Leg(D("0.006"), D(95333.3), -1)]
    assert m.liquidation_price(wallet=D(10000), other_maintenance=D(0), other_unrealized=D(0), legs=legs,
                               brackets=BTC, start=D(95200)) is None


def test_hedged_sides_can_have_two_liquidation_prices() -> None:
    # LONG 10 and SHORT 9.8 @ 50,000, wallet 8,000: a fall costs the net 0.2 long, and a rise far enough pushes
    # both sides into bracket 5 (MMR 2 %), where maintenance grows faster (19.8 × 2 %) than the profit (0.2)
    legs = [m.Leg(D(10), D(50000), 1), m.Leg(D("9.8"), D(50000), -1)]

    def lp(mark: int) -> Decimal | None:
        return m.liquidation_price(wallet=D(8000), other_maintenance=D(0), other_unrealized=D(0), legs=legs,
                                   brackets=BTC, start=D(mark))

    # below, both sides in bracket 2 (0.5 %, cum 50): (8,000 + 100 − 500,000 + 490,000) / (0.099 − 0.2)
    low = (D(8000) + 100 - 500_000 + 490_000) / (D("0.099") - D("0.2"))
    # above, both in bracket 5 (2 %, cum 131,450): (8,000 + 262,900 − 10,000) / (0.396 − 0.2)
    high = (D(8000) + 262_900 - 10_000) / (D("0.396") - D("0.2"))
    assert low.quantize(D("0.01")) == D("18811.88") and high.quantize(D("0.01")) == D("1331122.45")
    assert lp(50_000) == low and lp(2_000_000) == high  # the one the mark reaches first
    # a small net long whose only price is above the mark: LONG 10, SHORT 9.9, wallet 20,000 (bracket 4)
    legs[1] = m.Leg(D("9.9"), D(50000), -1)
    assert m.liquidation_price(wallet=D(20000), other_maintenance=D(0), other_unrealized=D(0), legs=legs,
                               brackets=BTC, start=D(50000)) == (D(20000) + 22_900 - 5000) / (D("0.199") - D("0.1"))


# -- the exchange ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def free() -> Iterator[SimServer]:
    """No commissions, so the wallet stays the reference's round figures."""
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=9, maker_fee=D(0), taker_fee=D(0)))
    yield sim
    sim.stop()


@pytest.fixture
def free_client(free: SimServer) -> Client:
    ctl = Control(free.url)
    ctl.post("/reset")
    ctl.price("BTCUSDT", "95000")
    return make_client(free)


def test_liquidation_price_in_position_risk(free: SimServer, free_client: Client) -> None:
    ctl = Control(free.url)
    ctl.price("BTCUSDT", "60000")
    free_client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="1")
    ctl.price("BTCUSDT", "62000")
    free_client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET",
                                     quantity="0.4")
    rows = _rows(free_client)
    # both cross hedge sides share one price: (10,000 − 60,000 + 24,800) / (0.004 + 0.0016 − 1 + 0.4)
    assert rows["LONG"]["liquidationPrice"] == rows["SHORT"]["liquidationPrice"] == "42395.69313594"
    v3 = {p["positionSide"]: p for p in free_client.futures_position_information(symbol="BTCUSDT")}
    assert v3["LONG"]["liquidationPrice"] == "42395.69313594"
    # maintenance at the mark 62,000: long 62,000 → bracket 2 (0.5 % − 50), short 24,800 → bracket 1 (0.4 %)
    assert (v3["LONG"]["maintMargin"], v3["SHORT"]["maintMargin"]) == ("260.00000000", "99.20000000")


def test_liquidation_at_margin_ratio_100(tmp_path: Any) -> None:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=10, maker_fee=D(0), taker_fee=D(0),
                                              starting_balance=D(1000)))
    try:
        ctl = Control(sim.url)
        client = make_client(sim)
        key = client.futures_stream_get_listen_key()
        user = websocket.create_connection(f"{sim.ws_url}private/ws/{key}", timeout=5)
        forced = websocket.create_connection(f"{sim.ws_url}market/ws/btcusdt@forceOrder", timeout=5)
        wait_until(lambda: len(sim.streams.conns) == 2)
        client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.2")
        close = client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="LIMIT",
                                            timeInForce="GTC", quantity="0.1", price="99000")
        # 19,000 of notional at 20x holds 950 of the 1,000: a 0.02 BTC opening order needs 95 > 50
        assert _code(client.futures_create_order, symbol="BTCUSDT", side="BUY", positionSide="LONG",
                     type="MARKET", quantity="0.02") == (-2019, "Margin is insufficient.")
        # LP = (1,000 − 0.2 × 95,000) / (0.2 × 0.004 − 0.2) = 90,361.4457...
        assert _rows(client)["LONG"]["liquidationPrice"] == "90361.44578313"
        # one tick above: margin balance 72.30 > maintenance 72.2892: ratio 99.99 %, a margin call, no liquidation
        ctl.price("BTCUSDT", "90361.5")
        assert _rows(client)["LONG"]["positionAmt"] == "0.200"
        # at 90,361.4 the balance 72.28 is below the maintenance 72.28912: liquidated before the answer
        ctl.price("BTCUSDT", "90361.4")
        assert _rows(client)["LONG"]["positionAmt"] == "0.000"
        assert D(ctl.account()["wallet_balance"]) == 0
        assert client.futures_get_order(symbol="BTCUSDT", orderId=close["orderId"])["status"] == "EXPIRED"
        events: list[dict[str, Any]] = []

        def drained() -> bool:
            try:
                while True:
                    events.append(json.loads(user.recv()))
            except websocket.WebSocketTimeoutException:
                return any(e.get("a", {}).get("m") == "INSURANCE_CLEAR" for e in events)

        user.settimeout(0.3)
        wait_until(drained, timeout=10)
        kinds = [(e["e"], e.get("o", {}).get("x"), e.get("a", {}).get("m")) for e in events]
        assert ("MARGIN_CALL", None, None) in kinds
        liq = [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["c"].startswith("autoclose-")]
        assert [(o["x"], o["X"], o["o"], o["f"]) for o in liq] == [("NEW", "NEW", "LIQUIDATION", "IOC"),
                                                                   ("CALCULATED", "FILLED", "LIQUIDATION", "IOC")]
        fill = liq[1]
        assert (fill["l"], fill["L"], D(fill["n"]), fill["rp"], fill["S"], fill["ps"]) == (
            "0.200", "90361.40", 0, "-927.72000000", "SELL", "LONG")
        clear = next(e for e in events if e["e"] == "ACCOUNT_UPDATE" and e["a"]["m"] == "INSURANCE_CLEAR")
        # what was left (1,000 − 927.72 = 72.28) is less than 1.25 % of 18,072.28: all of it goes
        assert clear["a"]["B"][0]["bc"] == "-72.28000000" and D(clear["a"]["B"][0]["wb"]) == 0
        income = client.futures_income_history(symbol="BTCUSDT", incomeType="INSURANCE_CLEAR")
        assert [r["income"] for r in income] == ["-72.28000000"]
        rows = client._request_futures_api("get", "forceOrders", True, data={"symbol": "BTCUSDT"})
        assert len(rows) == 1 and rows[0]["clientOrderId"] == fill["c"]
        assert (rows[0]["status"], rows[0]["type"], rows[0]["timeInForce"], rows[0]["executedQty"],
                rows[0]["avgPrice"]) == ("FILLED", "LIMIT", "IOC", "0.200", "90361.40")
        forced.settimeout(5)
        public = json.loads(forced.recv())
        assert public["e"] == "forceOrder" and (public["o"]["s"], public["o"]["S"], public["o"]["z"]) == (
            "BTCUSDT", "SELL", "0.200")
        user.close()
        forced.close()
    finally:
        sim.stop()


def test_break_even_price_includes_the_commission(client: Client, control: Control) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.010")
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET", quantity="0.010")
    rows = _rows(client)
    # taker 0.05 %: long 95,000 × 1.0005, short 95,000 × 0.9995
    assert (rows["LONG"]["breakEvenPrice"], rows["SHORT"]["breakEvenPrice"]) == ("95047.5", "94952.5")
    # a reduction keeps it (the remaining half carries half the commission)
    client.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="MARKET", quantity="0.005")
    assert _rows(client)["LONG"]["breakEvenPrice"] == "95047.5"
    # a second entry at 96,000 averages: entry 95,666.67, commission paid 0.2375 + 0.48 on 0.015
    control.price("BTCUSDT", "96000")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.010")
    entry = (D("0.005") * 95000 + D("0.010") * 96000) / D("0.015")
    bep = entry + (D("0.2375") + D("0.48")) / D("0.015")
    assert _rows(client)["LONG"]["breakEvenPrice"] == str(bep.quantize(D("0.00000001")).normalize())


def test_leverage_brackets_and_configuration(sim: SimServer, client: Client) -> None:
    every = client.futures_leverage_bracket()
    assert len(every) == len(sim.exchange.specs)
    btc = client.futures_leverage_bracket(symbol="BTCUSDT")
    btc = btc[0] if isinstance(btc, list) else btc
    assert btc["brackets"][0] == {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
                                  "maintMarginRatio": 0.004, "cum": 0.0}
    assert btc["brackets"][1]["cum"] == 50.0 and len(btc["brackets"]) == 12
    assert client.futures_change_leverage(symbol="BTCUSDT", leverage=21) == {
        "leverage": 21, "maxNotionalValue": "70000000", "symbol": "BTCUSDT"}
    assert _rows(client)["LONG"]["leverage"] == "21" and _rows(client)["LONG"]["maxNotionalValue"] == "70000000"
    assert _code(client.futures_change_leverage, symbol="BTCUSDT", leverage=126) == (-4028,
                                                                                     "Leverage 126 is not valid")
    assert _code(client.futures_change_leverage, symbol="BTCUSDT", leverage=0)[0] == -4028
    assert _code(client.futures_change_leverage, symbol="SOLUSDT", leverage=75) == (
        -4209, "Leverage adjustment failed. Current symbol max leverage limit is 50x")
    config = client._request_futures_api("get", "symbolConfig", True, data={"symbol": "BTCUSDT"})
    assert config == [{"symbol": "BTCUSDT", "marginType": "CROSSED", "isAutoAddMargin": False, "leverage": 21,
                       "maxNotionalValue": "70000000"}]
    account = client._request_futures_api("get", "accountConfig", True, data={})
    assert account["dualSidePosition"] is True and account["multiAssetsMargin"] is False
    assert set(account) == {"feeTier", "canTrade", "canDeposit", "canWithdraw", "dualSidePosition", "updateTime",
                            "multiAssetsMargin", "tradeGroupId"}
    assert _code(client.futures_change_margin_type, symbol="BTCUSDT", marginType="CROSSED") == (
        -4046, "No need to change margin type.")
    assert _code(client.futures_change_margin_type, symbol="BTCUSDT", marginType="ISOLATED")[0] == -1000
    assert client._request_futures_api("get", "multiAssetsMargin", True, data={}) == {"multiAssetsMargin": False}
    fee = client._request_futures_api("get", "commissionRate", True, data={"symbol": "BTCUSDT"})
    assert (fee["makerCommissionRate"], fee["takerCommissionRate"]) == ("0.0002", "0.0005")


def test_leverage_limits_positions(sim: SimServer, client: Client) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="1")
    # 125x allows 50,000 of notional: the 95,000 long does not fit
    assert _code(client.futures_change_leverage, symbol="BTCUSDT", leverage=125) == (
        -2027, "Exceeded the maximum allowable position at current leverage.")
    # 1x needs 95,000 of margin: more than the account has
    assert _code(client.futures_change_leverage, symbol="BTCUSDT", leverage=1) == (
        -2028, "Leverage is smaller than permitted: insufficient margin balance.")
    client.futures_change_leverage(symbol="BTCUSDT", leverage=100)
    assert client.futures_position_information(symbol="BTCUSDT")[0]["initialMargin"] == "950.00000000"
    # an order beyond 600,000 of notional at 100x: -2027
    assert _code(client.futures_create_order, symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT",
                 timeInForce="GTC", price="95000", quantity="6")[0] == -2027


def test_available_balance_and_max_withdraw(client: Client, control: Control) -> None:
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.1")
    client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="LIMIT", timeInForce="GTC",
                                quantity="0.1", price="90000")
    control.price("BTCUSDT", "96000")
    account = client.futures_account(version=3)
    # wallet 10,000 − 4.75; uPnL 100; position IM 9,600 / 20 = 480; order IM 9,000 / 20 = 450
    assert account["totalWalletBalance"] == "9995.25000000"
    assert (account["totalPositionInitialMargin"], account["totalOpenOrderInitialMargin"]) == ("480.00000000",
                                                                                              "450.00000000")
    assert account["availableBalance"] == "9165.25000000"  # 9,995.25 + 100 − 480 − 450
    assert account["maxWithdrawAmount"] == "9065.25000000"  # the unrealized profit is not withdrawable
    assert account["totalMaintMargin"] == "38.40000000"  # 9,600 × 0.4 %


def test_account_config_update_on_the_user_stream(sim: SimServer, client: Client) -> None:
    key = client.futures_stream_get_listen_key()
    ws = websocket.create_connection(f"{sim.ws_url}private/ws?listenKey={key}&events=ACCOUNT_CONFIG_UPDATE",
                                     timeout=5)
    try:
        wait_until(lambda: any(c.keys for c in sim.streams.conns))
        client.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET",
                                    quantity="0.010")  # filtered out by events=
        client.futures_change_leverage(symbol="BTCUSDT", leverage=25)
        event = json.loads(ws.recv())
        assert event["e"] == "ACCOUNT_CONFIG_UPDATE" and event["ac"] == {"s": "BTCUSDT", "l": 25}
        assert isinstance(event["E"], int) and isinstance(event["T"], int)
    finally:
        ws.close()
    assert time.time() > 0
