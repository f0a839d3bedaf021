"""The in-process venue (``hedgestack.venue.inproc``) against the python-binance venue on the same simulator.

- Conformance: one scripted scenario (entries, closes, a resting limit that fills, TP and SL triggers, a foreign
  trade, funding, a transfer, and a fault of every kind) run by a terminal on each venue, each on a fresh simulator
  of the same seed, ends in the same ledger and the same exchange truth.
- Error mapping: the same refused requests raise the same typed errors (class, Binance code, message) on both.
- REST faults (lost answers, forced 429s, a ban), request weight and its throttle, identity, the simulator on the
  caller's own loop.
- Streams: the in-process subscription receives the very frames a websocket client receives; disconnects, pauses,
  duplicates, listenKey expiry and a reader that falls behind act on the in-process venue as on a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hedgestack.domain.enums import OrderStatus, OrderType, PositionSide, Side, TimeInForce
from hedgestack.domain.errors import AnswerLost, IpBanned, RateLimited, VenueError, VenueRejected, VenueUnavailable
from hedgestack.domain.ids import short_id
from hedgestack.domain.ledger import Ledger
from hedgestack.engine.audit import state_digest
from hedgestack.engine.terminal import HedgeModeRequired, Terminal
from hedgestack.venue import inproc
from hedgestack.venue.binance.adapter import BinanceVenue, Endpoints
from hedgestack.venue.inproc import InProcessVenue
from hedgestack.venue.port import (
    AlgoOrderRequest,
    ListenKeyExpired,
    MarkPrice,
    OrderRequest,
    OrderTradeUpdate,
    StreamDown,
    StreamUp,
    UserMessage,
    weight_allows,
)
from hedgestack.venue.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, RateLimits, SimConfig, SimServer
from hedgestack.venue.sim.streams import CLOSED, OVERFLOW, Subscription
from tests.engine.conftest import assert_consistent, settle
from tests.support.simctl import Control, wait_until
from tests.venue.conftest import fresh

D = Decimal


def wire_venue(sim: SimServer) -> BinanceVenue:
    return BinanceVenue(Endpoints.sim(sim.url, DEFAULT_API_KEY, DEFAULT_API_SECRET))


class LoopThread:
    """An event loop in its own thread: the caller's side of the in-process venue, as a terminal's loop is."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def caller() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def venue(sim_server: SimServer, control: Control, caller: LoopThread) -> Iterator[InProcessVenue]:
    v = InProcessVenue(sim_server, backoff=0.01)
    caller.run(v.start())
    yield v
    caller.run(v.close())


@pytest.fixture
def adapter(sim_server: SimServer, control: Control, caller: LoopThread) -> Iterator[BinanceVenue]:
    v = wire_venue(sim_server)
    caller.run(v.start())
    yield v
    caller.run(v.close())


def market(symbol: str, side: str, position_side: str, qty: str, cid: str) -> OrderRequest:
    return OrderRequest(symbol, Side(side), PositionSide(position_side), OrderType.MARKET, D(qty), cid)


def limit(symbol: str, side: str, position_side: str, qty: str, price: str, cid: str) -> OrderRequest:
    return OrderRequest(symbol, Side(side), PositionSide(position_side), OrderType.LIMIT, D(qty), cid, D(price),
                        TimeInForce.GTC)


# == conformance: one scenario, two venues, one ledger =============================================
def protection_live(t: Terminal, ctl: Control) -> bool:
    """Every VP's TP/SL legs are live on the exchange with the quantity the VP wants, and no other leg is."""
    live = {a["clientAlgoId"]: D(a["quantity"]) for a in ctl.account()["open_algo_orders"]}
    wanted: dict[str, Decimal] = {}
    for vp in t.sync.state().virtual_positions:
        tpsl = vp.tpsl
        if tpsl is None or (tpsl.tp_price is None and tpsl.sl_price is None):
            continue
        if tpsl.sync_status != "OK":
            return False
        for cid, qty in ((tpsl.tp_client_order_id, tpsl.tp_qty), (tpsl.sl_client_order_id, tpsl.sl_qty)):
            if cid is not None and qty:
                wanted[cid] = qty
    return live == wanted and t.tpsl.idle()


def funding_booked(t: Terminal, count: int) -> bool:
    return t.run_sync(t.inspect(lambda led: sum(k.startswith("funding:") for k in led.keys))) == count


def scenario(t: Terminal, ctl: Control) -> None:
    """Every kind of thing the engine meets, each step settled before the next: every trade booked, every TP/SL
    leg live with its quantity, funding booked (so that both runs take the same path through the engine: the same
    orders, in the same order, funding split over the same quantities)."""
    vps = {name: t.sync.create_vp(name, symbol, side).id
           for name, symbol, side in (("A", "BTCUSDT", "LONG"), ("B", "BTCUSDT", "LONG"), ("S", "BTCUSDT", "SHORT"),
                                      ("E", "ETHUSDT", "LONG"))}
    a, b, s, e = vps["A"], vps["B"], vps["S"], vps["E"]

    def step(action: Callable[[], Any]) -> None:
        action()
        settle(t, ctl, timeout=20)
        wait_until(lambda: protection_live(t, ctl), timeout=20)

    # entries: market, and a limit that rests then fills when the price comes to it
    step(lambda: t.sync.place_order(a, "BUY", "MARKET", "0.010"))
    step(lambda: t.sync.place_order(b, "BUY", "MARKET", "0.006"))
    step(lambda: t.sync.place_order(s, "SELL", "MARKET", "0.006"))
    step(lambda: t.sync.place_order(e, "BUY", "LIMIT", "0.3", "3490", time_in_force="GTC"))
    step(lambda: ctl.price("ETHUSDT", "3489"))
    # protection: a TP on the last price (A), an SL on the mark (S)
    step(lambda: t.sync.set_tpsl(a, tp_price="96000", sl_price="94000"))
    step(lambda: t.sync.set_tpsl(s, sl_price="95800"))
    # closes by percent and by quantity; an amended resting close
    step(lambda: t.sync.close_vp(b, percent="50"))
    step(lambda: t.sync.close_vp(e, qty="0.1"))
    resting = t.sync.close_vp(e, "LIMIT", qty="0.1", price="3600")
    settle(t, ctl)
    wait_until(lambda: protection_live(t, ctl), timeout=20)
    step(lambda: t.sync.amend_order(resting.client_order_id, price="3650"))
    step(lambda: t.sync.cancel_order(next(o.client_order_id for o in t.sync.state().open_orders
                                          if o.virtual_position_id == e and o.role == "CLOSE")))
    # another app trades; funding settles; quantity moves between VPs
    step(lambda: ctl.post("/external-order", {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG",
                                              "type": "MARKET", "quantity": "0.002", "clientOrderId": "web_in"}))
    step(lambda: ctl.post("/funding", {"symbol": "BTCUSDT", "rate": "0.0001"}))
    wait_until(lambda: funding_booked(t, 1), timeout=20)  # split over the VPs as they are now
    step(lambda: t.sync.transfer(b, a, "0.001"))
    # the TP (last 96000) and the SL (mark 96000 >= 95800) fire
    step(lambda: ctl.price("BTCUSDT", "96000", "96000"))
    wait_until(lambda: t.sync.vp(a).net_qty == 0 and t.sync.vp(s).net_qty == 0, timeout=10)
    settle(t, ctl)
    wait_until(lambda: protection_live(t, ctl), timeout=20)
    # a fault of every kind, each with trading through it
    ctl.fault("disconnect_user_stream")
    step(lambda: t.sync.place_order(b, "BUY", "MARKET", "0.002"))
    ctl.fault("pause_user_stream", seconds=1)
    step(lambda: t.sync.place_order(b, "BUY", "MARKET", "0.002"))
    time.sleep(1.0)  # the pause is over before the next step
    ctl.fault("duplicate_events", count=6)
    step(lambda: t.sync.place_order(b, "BUY", "MARKET", "0.002"))
    step(lambda: t.sync.close_vp(e, qty="0.1"))
    ctl.fault("lose_rest_response", path="/fapi/v1/order", count=1)
    parked = t.sync.place_order(b, "BUY", "LIMIT", "0.002", "94000", time_in_force="GTC")
    assert parked.status == "NEW" and parked.order_id is not None  # found by its clientOrderId
    settle(t, ctl)
    wait_until(lambda: protection_live(t, ctl), timeout=20)
    step(lambda: t.sync.cancel_order(parked.client_order_id))
    ctl.fault("rate_limit", count=2)
    step(lambda: t.sync.place_order(b, "SELL", "MARKET", "0.002"))
    ctl.fault("expire_listen_key")
    step(lambda: t.sync.close_vp(b, percent="25"))
    assert_consistent(t, ctl)


TIMESTAMP = re.compile(r"(?<!\d)1\d{12}(?!\d)")  # epoch milliseconds (2001-2286)
RANDOM_ID = re.compile(r"\b(transfer|reconcile):[0-9a-f]{16}\b")


class Relabel:
    """What differs between two runs of one scenario by nature, not by venue, mapped to stable labels: VP ids
    (random) by VP name, our clientOrderIds (they hold the VP id and the time) by VP and rank, timestamps."""

    def __init__(self, ledger: Ledger) -> None:
        self.names: dict[str, str] = {vp_id: f"<vp {vp.name} {vp.symbol} {vp.position_side}>"
                                      for vp_id, vp in ledger.vps.items()}
        by_vp: dict[str, list[str]] = {}
        for cid, order in ledger.orders.items():
            by_vp.setdefault(order.vp_id, []).append(cid)
        self.cids = {cid: f"<order {self.names[vp_id]} #{rank}>"
                     for vp_id, cids in by_vp.items() for rank, cid in enumerate(sorted(cids))}
        self.shorts = {short_id(vp_id): name for vp_id, name in self.names.items()}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            for cid in self.cids:
                if cid in value:
                    value = value.replace(cid, self.cids[cid])
            for vp_id, name in self.names.items():
                value = value.replace(vp_id, name)
            return RANDOM_ID.sub(r"\1:<id>", TIMESTAMP.sub("<time>", value))
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and 10**12 <= value < 10**13:
            return "<time>"
        if isinstance(value, tuple | list):
            return tuple(self(v) for v in value)
        if isinstance(value, dict):
            return tuple(sorted(((self(k), self(v)) for k, v in value.items()), key=repr))
        return value


class Canonical:
    """A ledger's canonical form relabelled (``state_digest`` reads ``canonical()`` only).

    Left out: the dedupe keys of order updates (``order:<cid>:<status>:<executed>:<child>``). They record which
    path brought each update — the stream, an order's own answer, a REST catch-up — and that is timing, on either
    venue (an ALGO_UPDATE and the catch-up that raced it). The orders themselves (status, filled quantity, ids,
    reason) are compared in full; every other key (VPs, intents, fills, funding, transfers) too.
    """

    def __init__(self, ledger: Ledger) -> None:
        relabel = Relabel(ledger)
        self.relabel = relabel
        vps, orders, order_ids, trades, keys = ledger.canonical()
        kept = tuple(k for k in keys if not str(k).startswith("order:"))  # type: ignore[attr-defined]
        self.parts = tuple(tuple(sorted((relabel(item) for item in part), key=repr))
                           for part in (vps, orders, order_ids, trades, kept))  # type: ignore[attr-defined]

    def canonical(self) -> tuple[object, ...]:
        return self.parts


def run_scenario(make: Callable[[SimServer, Path], Terminal]) -> tuple[str, Any, Any]:
    """Run the scenario on a fresh simulator: (digest, relabelled ledger, relabelled exchange truth)."""
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=11))
    try:
        ctl = fresh(sim)
        with tempfile.TemporaryDirectory() as data_dir:
            t = make(sim, Path(data_dir)).start_sync()
            try:
                scenario(t, ctl)
                ledger = t.run_sync(t.inspect(lambda led: led))
                canonical = Canonical(ledger)
                truth = ctl.account()
                return state_digest(canonical), canonical.parts, canonical.relabel(truth)  # type: ignore[arg-type]
            finally:
                t.stop_sync()
    finally:
        sim.stop()


def test_one_scenario_gives_one_ledger_and_one_exchange_truth_on_both_venues() -> None:
    # a position poll each second (not the engine tests' 0.3 s): a catch-up that overlaps a TP trigger can adopt a
    # leg from an open-algo snapshot taken before its cancel (recovery.orders), an engine race that the wire's slower
    # REST makes likelier; this test is about the venues, so the scenario keeps out of its way
    options: dict[str, Any] = {"poll_interval": 1.0, "mismatch_grace": 1.0, "publish_interval": 0.5,
                               "check_invariants_live": True}
    wire = run_scenario(lambda sim, data: Terminal.sim(data, sim_url=sim.url, **options))
    local = run_scenario(lambda sim, data: Terminal(InProcessVenue(sim), data_dir=data, **options))
    assert local[1] == wire[1]  # the ledgers, part by part (VPs, orders, order ids, trades, dedupe keys)
    assert local[2] == wire[2]  # the exchange's truth: wallet, positions, open orders and algo orders, every trade
    assert local[0] == wire[0]
    truth = dict(local[2])
    assert len(truth["trades"]) >= 15 and truth["positions"]


# == error mapping: the adapter's, code for code ===================================================
REFUSALS: list[tuple[str, Callable[[Any], Any]]] = [
    ("below the minimum notional", lambda v: v.new_order(market("BTCUSDT", "BUY", "LONG", "0.001", "x-notional"))),
    ("price off the tick", lambda v: v.new_order(limit("BTCUSDT", "BUY", "LONG", "0.002", "90000.05", "x-tick"))),
    ("quantity off the step", lambda v: v.new_order(market("BTCUSDT", "BUY", "LONG", "0.0015", "x-step"))),
    ("unknown symbol", lambda v: v.new_order(market("NOPEUSDT", "BUY", "LONG", "1", "x-symbol"))),
    ("close more than the side holds", lambda v: v.new_order(market("BTCUSDT", "SELL", "LONG", "0.002", "x-close"))),
    ("cancel an unknown order", lambda v: v.cancel_order("BTCUSDT", "never-sent")),
    ("cancel an unknown algo order", lambda v: v.cancel_algo_order("never-sent")),
    ("a trigger on the wrong side", lambda v: v.new_algo_order(AlgoOrderRequest(
        "BTCUSDT", Side.SELL, PositionSide.LONG, OrderType.TAKE_PROFIT_MARKET, D("0.002"), "x-trigger", D("90000"),
        "CONTRACT_PRICE"))),
    ("trades of an unknown symbol", lambda v: v.user_trades("NOPEUSDT")),
]


@pytest.mark.parametrize(("what", "request_"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_map_to_the_same_errors_as_the_adapter(what: str, request_: Callable[[Any], Any],
                                                        venue: InProcessVenue, adapter: BinanceVenue,
                                                        caller: LoopThread) -> None:
    def outcome(v: Any) -> tuple[type, int | None, str]:
        with pytest.raises(VenueError) as info:
            caller.run(request_(v))
        return type(info.value), getattr(info.value, "binance_code", None), info.value.message

    theirs = outcome(adapter)
    ours = outcome(venue)
    assert ours == theirs
    assert ours[0] is VenueRejected and ours[1] is not None and ours[1] < 0, what


def test_unknown_orders_are_none_on_both(venue: InProcessVenue, adapter: BinanceVenue, caller: LoopThread) -> None:
    for v in (venue, adapter):
        assert caller.run(v.query_order("BTCUSDT", "never-sent")) is None
        assert caller.run(v.query_order_id("BTCUSDT", 123456)) is None
        assert caller.run(v.query_algo_order("never-sent")) is None


def test_answers_are_the_adapters_records(venue: InProcessVenue, adapter: BinanceVenue, caller: LoopThread,
                                          control: Control) -> None:
    """Every read of the port gives the same records on both venues (one parse, one simulator)."""
    caller.run(venue.new_order(market("BTCUSDT", "BUY", "LONG", "0.010", "r-entry")))
    caller.run(venue.new_order(limit("BTCUSDT", "BUY", "LONG", "0.002", "90000", "r-rest")))
    caller.run(venue.new_algo_order(AlgoOrderRequest("BTCUSDT", Side.SELL, PositionSide.LONG,
                                                     OrderType.STOP_MARKET, D("0.010"), "r-sl", D("90000"),
                                                     "MARK_PRICE")))
    control.post("/funding", {"symbol": "BTCUSDT", "rate": "0.0001"})
    now = int(time.time() * 1000)

    async def reads(v: Any) -> list[Any]:
        return [await v.hedge_mode(), await v.exchange_rules(["BTCUSDT", "ETHUSDT"]),
                await v.query_order("BTCUSDT", "r-rest"), await v.query_algo_order("r-sl"),
                await v.open_orders("BTCUSDT"), await v.open_algo_orders("BTCUSDT"),
                await v.all_orders("BTCUSDT", start=now - 60_000, end=now + 60_000),
                await v.all_algo_orders("BTCUSDT", start=now - 60_000),
                await v.user_trades("BTCUSDT", from_id=0), await v.user_trades("BTCUSDT", start=now - 60_000),
                await v.positions(), await v.symbol_settings(), await v.account(),
                await v.funding_income(start=now - 60_000), await v.identity()]

    ours, theirs = caller.run(reads(venue)), caller.run(reads(adapter))
    assert ours == theirs
    assert ours[2].status is OrderStatus.NEW and ours[3].trigger_price == D(90000) and ours[8]
    assert [(p.position_side, p.amount) for p in ours[10] if p.amount] == [(PositionSide.LONG, D("0.010"))]
    # market data: the same premium; candles of the same history
    assert caller.run(venue.premium("BTCUSDT")) == caller.run(adapter.premium("BTCUSDT"))
    ours_k = caller.run(venue.klines("BTCUSDT", limit=5))
    theirs_k = caller.run(adapter.klines("BTCUSDT", limit=5))
    assert len(ours_k) == len(theirs_k) == 5  # a minute may turn between the two: compare the shared ones
    shared = {k.open_time for k in ours_k} & {k.open_time for k in theirs_k}
    assert len(shared) >= 4
    assert [k for k in ours_k[:-1] if k.open_time in shared] == [k for k in theirs_k[:-1] if k.open_time in shared]


def test_identity_is_the_adapters(sim_server: SimServer, venue: InProcessVenue, adapter: BinanceVenue,
                                  caller: LoopThread) -> None:
    ours = caller.run(venue.identity())
    assert ours == caller.run(adapter.identity())
    assert (ours.kind, ours.account) == ("sim", sim_server.identity.id)


# == REST faults, weight and life cycle ============================================================
def test_a_lost_answer_is_answer_lost_and_the_order_was_executed(venue: InProcessVenue, control: Control,
                                                                 caller: LoopThread) -> None:
    control.fault("lose_rest_response", path="/fapi/v1/order", count=1)
    with pytest.raises(AnswerLost):
        caller.run(venue.new_order(limit("BTCUSDT", "BUY", "LONG", "0.002", "90000", "lost-1")))
    found = caller.run(venue.query_order("BTCUSDT", "lost-1"))  # the same path: the fault is spent
    assert found is not None and found.status is OrderStatus.NEW
    assert [o["clientOrderId"] for o in control.account()["open_orders"]] == ["lost-1"]


def test_a_lost_answer_to_a_read_is_asked_again(venue: InProcessVenue, control: Control, caller: LoopThread) -> None:
    control.fault("lose_rest_response", path="/fapi/v3/positionRisk", count=2)
    assert caller.run(venue.positions()) == []
    control.fault("lose_rest_response", path="/fapi/v3/positionRisk", count=venue.max_retries + 1)
    with pytest.raises(AnswerLost):
        caller.run(venue.positions())


def test_forced_429s_are_backed_off_and_retried(venue: InProcessVenue, control: Control, caller: LoopThread) -> None:
    seen: list[str] = []
    venue = InProcessVenue(venue.server, backoff=0.01, on_rate_limit=seen.append)
    caller.run(venue.start())
    control.fault("rate_limit", count=2)
    order = caller.run(venue.new_order(market("BTCUSDT", "BUY", "LONG", "0.002", "retried-1")))
    assert order.status is OrderStatus.FILLED and venue.rate_limited == 2 and len(seen) == 2
    trades = [t for t in control.account()["trades"] if t["clientOrderId"] == "retried-1"]
    assert len(trades) == 1  # rejected before execution: retrying never doubles
    control.fault("rate_limit", count=venue.max_retries + 1)
    with pytest.raises(RateLimited):
        caller.run(venue.account())


def test_a_ban_stops_every_request(caller: LoopThread) -> None:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=11,
                                              rate_limits=RateLimits(rejections_before_ban=1, ban_seconds=60)))
    try:
        v = InProcessVenue(sim, backoff=0.01)
        caller.run(v.start())
        Control(sim.url).fault("rate_limit", count=5)
        with pytest.raises(IpBanned) as info:
            caller.run(v.account())  # a 429, then a 418
        assert "banned" in info.value.message and info.value.context["binance_code"] == -1003
        before = sim.call(sim.limiter.used_weight)
        with pytest.raises(IpBanned):
            caller.run(v.positions())  # stopped here, never sent
        assert sim.call(sim.limiter.used_weight) == before
    finally:
        sim.stop()


def test_used_weight_is_the_simulators(venue: InProcessVenue, sim_server: SimServer, caller: LoopThread) -> None:
    # the account was reset (the limiter too): ping 1 at start, positionRisk 5, openOrders with a symbol 1
    caller.run(venue.positions())
    caller.run(venue.open_orders("BTCUSDT"))
    assert venue.used_weight == sim_server.call(sim_server.limiter.used_weight) == 7
    caller.run(venue.new_order(market("BTCUSDT", "BUY", "LONG", "0.002", "w-1")))
    assert venue.order_count >= 1


def test_requests_wait_for_room_in_the_minute(sim_server: SimServer, control: Control, caller: LoopThread,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inproc, "WEIGHT_POLL_SECONDS", 0.01)
    now = [1000.0]
    monkeypatch.setattr(sim_server.limiter, "clock", lambda: now[0])
    v = InProcessVenue(sim_server, weight_limit=50, slow_down_at=0.8)
    caller.run(v.start())
    try:
        while v.used_weight < 40:
            caller.run(v.positions())  # 5 each
        waiting = asyncio.run_coroutine_threadsafe(v.positions(), caller.loop)
        time.sleep(0.2)
        assert not waiting.done()  # 40 of 50 used: it waits for the window to move on
        now[0] += 61.0
        assert waiting.result(5) == [] and v.used_weight == 5
    finally:
        caller.run(v.close())


def test_trading_requests_go_on_while_reads_wait(sim_server: SimServer, control: Control, caller: LoopThread,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads filled 80 % of the minute: a read waits, an order and its cancel still go (up to 95 %)."""
    monkeypatch.setattr(inproc, "WEIGHT_POLL_SECONDS", 0.01)
    now = [1000.0]
    monkeypatch.setattr(sim_server.limiter, "clock", lambda: now[0])
    v = InProcessVenue(sim_server, weight_limit=50, slow_down_at=0.8)
    caller.run(v.start())
    try:
        while v.used_weight < 40:
            caller.run(v.positions())
        waiting = asyncio.run_coroutine_threadsafe(v.positions(), caller.loop)
        limit = caller.run(v.new_order(OrderRequest(
            symbol="BTCUSDT", side=Side.BUY, position_side=PositionSide.LONG, order_type=OrderType.LIMIT,
            qty=Decimal("0.002"), client_order_id="w-trading", price=Decimal("50000"),
            time_in_force=TimeInForce.GTC)))
        assert limit.status is OrderStatus.NEW
        assert caller.run(v.cancel_order("BTCUSDT", "w-trading")).status is OrderStatus.CANCELED
        assert not waiting.done() and 40 <= v.used_weight < 50 * 0.95
        while v.used_weight < 50 * 0.95:  # near the limit, trading waits too
            sim_server.limiter.admit(1, order=False, signed=False)
            v.used_weight = sim_server.limiter.used_weight()
        blocked = asyncio.run_coroutine_threadsafe(v.query_order("BTCUSDT", "w-trading"), caller.loop)
        time.sleep(0.2)
        assert not blocked.done()
        now[0] += 61.0
        assert waiting.result(5) == [] and blocked.result(5) is not None
    finally:
        caller.run(v.close())


def test_weight_allows_reads_to_the_slow_down_share_and_trading_to_95_percent() -> None:
    assert weight_allows(1919, 2400, 0.8, trading=False) and not weight_allows(1920, 2400, 0.8, trading=False)
    assert weight_allows(2279, 2400, 0.8, trading=True) and not weight_allows(2280, 2400, 0.8, trading=True)
    assert not weight_allows(2399, 2400, 0.99, trading=True) and weight_allows(2375, 2400, 0.99, trading=True)


def test_a_venue_not_started_or_a_simulator_gone_is_unavailable(caller: LoopThread) -> None:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=11))
    v = InProcessVenue(sim, request_timeout=2.0)
    with pytest.raises(VenueUnavailable) as info:
        caller.run(v.positions())
    assert info.value.code == "VENUE_NOT_STARTED"
    caller.run(v.start())
    sim.stop()
    with pytest.raises(AnswerLost):
        caller.run(v.new_order(market("BTCUSDT", "BUY", "LONG", "0.002", "gone-1")))
    with pytest.raises(VenueUnavailable) as info:
        caller.run(InProcessVenue(sim).start())
    assert info.value.code == "VENUE_UNREACHABLE"


async def test_the_simulator_on_the_callers_own_loop() -> None:
    """``async with SimServer(...)`` in the caller's loop: calls run directly, streams flow."""
    async with SimServer(SimConfig(market="static", seed=11, port=0)) as sim:
        v = InProcessVenue(sim)
        await v.start()
        messages = v.user_messages()
        assert isinstance(await anext(messages), StreamUp)
        order = await v.new_order(market("BTCUSDT", "BUY", "LONG", "0.010", "same-loop"))
        assert order.status is OrderStatus.FILLED
        seen = await _until(messages, lambda m: isinstance(m, OrderTradeUpdate) and m.is_fill)
        assert seen.client_order_id == "same-loop"
        await v.close()
        await messages.aclose()


# == streams =======================================================================================
async def _next(messages: AsyncIterator[Any], timeout: float = 5.0) -> Any:
    return await asyncio.wait_for(anext(messages), timeout)


async def _until(messages: AsyncIterator[Any], predicate: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        item = await _next(messages, max(0.01, deadline - time.monotonic()))
        for message in item if isinstance(item, list) else [item]:
            if predicate(message):
                return message


def _flat(items: list[Any]) -> list[UserMessage]:
    return [m for item in items for m in (item if isinstance(item, list) else [item])]


class Reader:
    """Reads a venue's user stream in the caller's thread, keeping every message."""

    def __init__(self, venue: Any, caller: LoopThread) -> None:
        self.items: list[Any] = []
        self.lock = threading.Lock()
        self.stream = venue.user_messages()
        self.task = asyncio.run_coroutine_threadsafe(self._read(), caller.loop)

    async def _read(self) -> None:
        async for item in self.stream:
            with self.lock:
                self.items.append(item)

    def messages(self) -> list[UserMessage]:
        with self.lock:
            return _flat(list(self.items))

    def count(self, kind: type) -> int:
        return sum(isinstance(m, kind) for m in self.messages())

    def fills(self) -> list[tuple[str | None, int | None]]:
        return [(m.client_order_id, m.trade_id) for m in self.messages() if isinstance(m, OrderTradeUpdate)
                and m.is_fill]

    def stop(self) -> None:
        self.task.cancel()


def test_disconnect_is_stream_down_then_up_on_the_same_key(venue: InProcessVenue, control: Control,
                                                           caller: LoopThread, sim_server: SimServer) -> None:
    reader = Reader(venue, caller)
    try:
        wait_until(lambda: reader.count(StreamUp) == 1)
        key = venue.listen_key
        control.fault("disconnect_user_stream")
        wait_until(lambda: reader.count(StreamUp) == 2)
        kinds = [type(m) for m in reader.messages() if isinstance(m, StreamUp | StreamDown)]
        assert kinds == [StreamUp, StreamDown, StreamUp]
        assert venue.listen_key == key  # back on the key that still lives, as python-binance's socket is
        caller.run(venue.new_order(market("BTCUSDT", "BUY", "LONG", "0.002", "after-drop")))
        wait_until(lambda: "after-drop" in [cid for cid, _ in reader.fills()])
    finally:
        reader.stop()


def test_listen_key_expiry_is_followed_by_a_new_key(venue: InProcessVenue, control: Control,
                                                    caller: LoopThread) -> None:
    reader = Reader(venue, caller)
    try:
        wait_until(lambda: reader.count(StreamUp) == 1)
        key = venue.listen_key
        control.fault("expire_listen_key")
        wait_until(lambda: reader.count(StreamUp) == 2)
        kinds = [type(m) for m in reader.messages() if isinstance(m, StreamUp | StreamDown | ListenKeyExpired)]
        assert kinds == [StreamUp, ListenKeyExpired, StreamUp]
        assert venue.listen_key not in (None, key)
    finally:
        reader.stop()


def test_paused_events_are_never_delivered_and_duplicates_twice(venue: InProcessVenue, control: Control,
                                                                caller: LoopThread) -> None:
    reader = Reader(venue, caller)
    try:
        wait_until(lambda: reader.count(StreamUp) == 1)
        control.fault("pause_user_stream", seconds=0.5)
        caller.run(venue.new_order(market("BTCUSDT", "BUY", "LONG", "0.002", "paused")))
        time.sleep(0.6)
        control.fault("duplicate_events", count=100)
        caller.run(venue.new_order(market("BTCUSDT", "BUY", "LONG", "0.002", "doubled")))
        wait_until(lambda: len(reader.fills()) == 2)
        fills = reader.fills()
        assert [cid for cid, _ in fills] == ["doubled", "doubled"] and fills[0] == fills[1]
    finally:
        reader.stop()


def test_a_reader_that_falls_behind_is_dropped_and_reconnects(sim_server: SimServer, control: Control,
                                                              caller: LoopThread) -> None:
    v = InProcessVenue(sim_server, queue_size=3)
    caller.run(v.start())
    stream = v.user_messages()
    try:
        assert isinstance(caller.run(_next(stream)), StreamUp)
        for n in range(3):  # each fill sends several user events: more than 3 wait
            caller.run(v.new_order(market("BTCUSDT", "BUY", "LONG", "0.002", f"burst-{n}")))
        assert v.backlog() == 3  # sent, not yet taken: the three that fitted
        items = []
        while not any(isinstance(m, StreamDown) for m in _flat(items)):
            items.append(caller.run(_next(stream)))
        down = next(m for m in _flat(items) if isinstance(m, StreamDown))
        assert down.kind == OVERFLOW
        assert len([m for m in _flat(items) if not isinstance(m, StreamDown)]) == 3  # what fitted is still read
        assert isinstance(caller.run(_next(stream)), StreamUp)  # a new subscription: the caller catches up
    finally:
        caller.run(stream.aclose())
        caller.run(v.close())


def test_restart_and_stop_release_the_subscriptions(venue: InProcessVenue, sim_server: SimServer,
                                                    caller: LoopThread) -> None:
    stream = venue.user_messages()
    market = venue.market_messages(["BTCUSDT"])
    assert isinstance(caller.run(_next(stream)), StreamUp)
    assert isinstance(caller.run(_next(market)), StreamUp)
    assert isinstance(caller.run(_until(market, lambda m: isinstance(m, MarkPrice))), MarkPrice)
    def attached() -> int:
        return sim_server.call(lambda: len(sim_server.streams.conns))

    wait_until(lambda: attached() == 2)  # ours: the user stream and the market streams

    async def restart() -> None:
        venue.restart_user_stream()

    caller.run(restart())
    assert isinstance(caller.run(_next(stream)), StreamDown)
    assert isinstance(caller.run(_next(stream)), StreamUp)
    caller.run(venue.stop_streams())
    with pytest.raises(StopAsyncIteration):
        caller.run(_next(stream))
    with pytest.raises(StopAsyncIteration):
        caller.run(_until(market, lambda m: False))
    wait_until(lambda: attached() == 0)
    assert venue.backlog() == 0


@pytest.mark.parametrize("kept_alive", [True, False])
def test_the_listen_key_is_kept_alive_as_python_binance_does(kept_alive: bool, caller: LoopThread,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inproc, "KEEPALIVE_SECONDS", 0.3 if kept_alive else 60.0)
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=11, listen_key_ttl=1.0))
    try:
        v = InProcessVenue(sim)
        caller.run(v.start())
        reader = Reader(v, caller)
        try:
            wait_until(lambda: reader.count(StreamUp) == 1)
            if kept_alive:
                time.sleep(2.5)  # two and a half lifetimes of a key, renewed every 0.3 s
                assert reader.count(ListenKeyExpired) == 0 and reader.count(StreamUp) == 1
            else:
                wait_until(lambda: reader.count(ListenKeyExpired) >= 1, timeout=5)
        finally:
            reader.stop()
            caller.run(v.close())
    finally:
        sim.stop()


def test_a_one_way_account_is_refused_and_switched(sim_server: SimServer, control: Control, caller: LoopThread,
                                                   tmp_path: Path) -> None:
    v = InProcessVenue(sim_server)
    caller.run(v.start())
    caller.run(v.call("POST", inproc.POSITION_MODE, {"dualSidePosition": "false"}))
    assert caller.run(v.hedge_mode()) is False
    caller.run(v.close())
    t = Terminal(v, data_dir=tmp_path, poll_interval=0.3)
    with pytest.raises(HedgeModeRequired) as info:
        t.start_sync()
    assert "enable_hedge_mode()" in info.value.message
    t.run_sync(t.enable_hedge_mode())
    t.start_sync()  # the venue starts again after the refusal closed it
    try:
        a = t.sync.create_vp("A", "BTCUSDT", "LONG")
        t.sync.place_order(a.id, "BUY", "MARKET", "0.002")
        wait_until(lambda: t.sync.vp(a.id).net_qty == D("0.002"))
    finally:
        t.stop_sync()


# == the frames themselves: a websocket client and an in-process subscription side by side =========
def test_a_subscription_gets_the_frames_a_websocket_gets(sim_server: SimServer, control: Control) -> None:
    key = sim_server.call(sim_server.streams.create_key)
    user, market = Subscription(), Subscription()
    names = ["btcusdt@markPrice@1s", "btcusdt@kline_1m"]
    sim_server.call(lambda: sim_server.streams.subscribe(user, route="private", keys=[key]))
    sim_server.call(lambda: sim_server.streams.subscribe(market, route="market", names=names, combined=True))

    async def sockets() -> tuple[list[str], list[str]]:
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(f"{sim_server.ws_url}private/ws?listenKey={key}") as ws_user, \
                http.ws_connect(f"{sim_server.ws_url}market/stream?streams={'/'.join(names)}") as ws_market:
            await asyncio.sleep(0.2)  # both attached before anything is sent
            await asyncio.to_thread(_trade_a_little, control)
            got_user = await _receive(ws_user, until=lambda n: n >= user.qsize())
            got_market = await _receive(ws_market, until=lambda n: n >= 3)
        return got_user, got_market

    user_ws, market_ws = asyncio.run(sockets())
    sim_server.call(lambda: sim_server.streams.unsubscribe(user))
    sim_server.call(lambda: sim_server.streams.unsubscribe(market))
    ours = [f.decode() for f in user.drain(1000)]
    # byte for byte, in order: the order's updates and the account's, one of them twice (duplicate_events)
    assert len(ours) >= 4 and ours == user_ws
    assert len(set(ours)) == len(ours) - 1
    # market frames, combined ({"stream", "data"}) as on the socket: the socket's are a run of ours
    ours_market = [f.decode() for f in market.drain(1000)]
    assert len(market_ws) >= 3 and all(f.startswith('{"stream":"btcusdt@') for f in ours_market)
    start = ours_market.index(market_ws[0])
    assert ours_market[start:start + len(market_ws)] == market_ws
    assert user.ended is not None and user.ended[0] == CLOSED


def _trade_a_little(control: Control) -> None:
    control.fault("duplicate_events", count=1)
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.002", "clientOrderId": "web_frames"})
    control.price("BTCUSDT", "95100", "95100")


async def _receive(ws: aiohttp.ClientWebSocketResponse, until: Callable[[int], bool]) -> list[str]:
    frames: list[str] = []
    deadline = time.monotonic() + 5
    while not until(len(frames)) and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            msg = await ws.receive(timeout=0.5)
            if msg.type == aiohttp.WSMsgType.TEXT:
                frames.append(msg.data)
    return frames


# == the subscription's buffer ========================================================================
async def test_subscription_order_bound_and_end() -> None:
    sub = Subscription(maxsize=2)
    sub.put_nowait(b"1")
    sub.put_nowait(b"2")
    sub.put_nowait(b"3")  # one too many: ended, the frame is not kept
    assert sub.ended is not None and sub.ended[0] == OVERFLOW
    sub.put_nowait(b"4")  # after the end: ignored
    assert [await sub.get(), await sub.get(), await sub.get()] == [b"1", b"2", None]
    with pytest.raises(ValueError):
        Subscription(maxsize=0)


async def test_subscription_waits_wakes_across_threads_and_times_out() -> None:
    sub = Subscription()
    with pytest.raises(TimeoutError):
        await sub.get(timeout=0.05)
    threading.Timer(0.05, sub.put_nowait, args=(b"late",)).start()
    assert await sub.get(timeout=5) == b"late"
    threading.Timer(0.05, sub.end, args=("Stop", "enough")).start()
    assert await sub.get() is None and sub.ended == ("Stop", "enough")


# == a terminal on the in-process venue ===============================================================
def test_a_terminal_stops_quietly_and_leaves_nothing_attached(sim_server: SimServer, control: Control,
                                                              tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    t = Terminal(InProcessVenue(sim_server), data_dir=tmp_path, poll_interval=0.3).start_sync()
    a = t.sync.create_vp("A", "BTCUSDT", "LONG")
    t.sync.place_order(a.id, "BUY", "MARKET", "0.002")
    wait_until(lambda: t.sync.vp(a.id).net_qty == D("0.002"))
    t.stop_sync()
    noise = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
             or "Task was destroyed" in r.getMessage() or "Event loop is closed" in r.getMessage()]
    assert noise == []
    wait_until(lambda: sim_server.call(lambda: len(sim_server.streams.conns)) == 0)
