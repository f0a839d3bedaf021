"""The bus's extra in-process events: MARK_PRICE (throttled per symbol, with the open VPs' uPnL) and
CONNECTION_STATE (every change of ``Terminal.connection``); queue subscribers get the seed's types only
unless they ask for more."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hedgestack.engine.bus import EventBus, Subscription
from hedgestack.engine.presenter import Presenter
from hedgestack.engine.terminal import Terminal
from hedgestack.engine.views import (
    ALL_EVENT_TYPES,
    EVENT_TYPES,
    ConnectionView,
    Envelope,
    MarkView,
    ReconnectView,
)
from hedgestack.venue.sim import SimServer
from tests.engine.conftest import make_terminal
from tests.support.simctl import Control, wait_until


class Recorder:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.seen: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, typed: Envelope) -> None:
        envelope = typed.to_json()  # compared in the JSON the stream carries
        if envelope["type"] == self.kind:
            with self.lock:
                self.seen.append((time.monotonic(), envelope["payload"]))

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p for _, p in self.seen]


def test_connection_changes_are_published(sim_server: SimServer, control: Control, tmp_path: Path) -> None:
    t = make_terminal(sim_server, tmp_path)
    states = Recorder("CONNECTION_STATE")
    t.bus.add_listener(states)
    t.start_sync()
    assert [p["state"] for p in states.payloads()] == ["STARTING", "SYNCING", "CONNECTED"]
    assert states.payloads()[-1] == {"state": "CONNECTED", "previous": "SYNCING", "reconnects": 0,
                                     "last_event_at": None, "reason": None}
    t.stop_sync()
    assert states.payloads()[-1]["state"] == "STOPPED"


def test_reconnect_is_published_as_syncing_then_connected(terminal: Terminal, control: Control) -> None:
    states = Recorder("CONNECTION_STATE")
    terminal.bus.add_listener(states)
    control.fault("disconnect_user_stream")
    wait_until(lambda: [p["state"] for p in states.payloads()][-2:] == ["SYNCING", "CONNECTED"], timeout=15)
    assert states.payloads()[-1]["reconnects"] >= 1


def test_mark_price_events_are_throttled_and_carry_upnl(terminal: Terminal, control: Control) -> None:
    vp = terminal.sync.create_vp("marked", "BTCUSDT", "LONG")
    terminal.sync.place_order(vp.id, "BUY", "MARKET", "0.010")
    terminal.sync.wait_idle()
    marks = Recorder("MARK_PRICE")
    terminal.bus.add_listener(marks)
    for i in range(10):  # ten moves within ~0.5 s
        control.price("BTCUSDT", str(95_000 + 10 * (i + 1)), str(95_000 + 10 * (i + 1)))
        time.sleep(0.05)
    wait_until(lambda: any(p["markPrice"] == "95100" for p in marks.payloads()), timeout=5)
    btc = [(at, p) for at, p in marks.seen if p["symbol"] == "BTCUSDT"]
    assert len(btc) <= 3, [p["markPrice"] for _, p in btc]  # throttled: not one per move
    gaps = [b[0] - a[0] for a, b in zip(btc, btc[1:], strict=False)]
    assert all(gap >= terminal.mark_event_interval * 0.9 for gap in gaps), gaps
    last = btc[-1][1]
    assert last["markPrice"] == "95100"  # the latest mark is the last one sent
    row = next(r for r in last["virtual_positions"] if r["id"] == vp.id)
    # uPnL 0.010 × (95100 − 95000)
    assert row == {"id": vp.id, "mark_price": "95100", "unrealized_pnl": "1",
                   "roe_pct": "2.10304942"}  # 1 ÷ (0.010 × 95100 ÷ 20) × 100
    assert terminal.sync.vp(vp.id).to_json()["unrealized_pnl"] == "1"
    terminal.sync.close_vp(vp.id, "MARKET", percent="100")


def test_one_fill_publishes_its_vp_and_its_side_once(terminal: Terminal, control: Control) -> None:
    """The fill, the ACCOUNT_UPDATE and the re-evaluation each tell of the same change: what reaches the bus is
    one VIRTUAL_POSITION_UPDATE of the VP and one EXTERNAL_POSITION_UPDATE of the side, each with the news."""
    vp = terminal.sync.create_vp("once", "BTCUSDT", "LONG")
    terminal.sync.wait_idle()
    vps, sides = Recorder("VIRTUAL_POSITION_UPDATE"), Recorder("EXTERNAL_POSITION_UPDATE")
    terminal.bus.add_listener(vps)
    terminal.bus.add_listener(sides)
    terminal.sync.place_order(vp.id, "BUY", "MARKET", "0.004")
    terminal.sync.wait_idle()
    wait_until(lambda: [p["qty"] for p in sides.payloads() if p["positionSide"] == "LONG"][-1:] == ["0.004"])
    time.sleep(0.3)  # anything late would show now
    mine = [p for p in vps.payloads() if p["id"] == vp.id]
    assert [p["net_qty"] for p in mine] == ["0.004"], mine
    long_side = [p["qty"] for p in sides.payloads() if p["symbol"] == "BTCUSDT" and p["positionSide"] == "LONG"]
    assert long_side == ["0.004"], long_side
    terminal.sync.close_vp(vp.id, "MARKET", percent="100")


def test_queue_subscribers_get_the_seed_types_unless_they_ask() -> None:
    async def run() -> tuple[list[str], list[str]]:
        bus = EventBus()
        seed, everything = bus.subscribe(), bus.subscribe(types=ALL_EVENT_TYPES)
        bus.publish("MARK_PRICE", MarkView(symbol="BTCUSDT", mark_price=Decimal(1), funding_rate=None,
                                           virtual_positions=()))
        bus.publish("CONNECTION_STATE", ConnectionView(state="CONNECTED", previous="SYNCING", reconnects=0))
        bus.publish("WS_RECONNECT", ReconnectView(reason="x", state="SYNCING"))
        got: tuple[list[str], list[str]] = ([], [])
        for sub, out in ((seed, got[0]), (everything, got[1])):
            while not sub.queue.empty():
                env = await sub.get()
                assert env is not None
                out.append(env.type)
        return got

    seed, everything = asyncio.run(run())
    assert seed == ["WS_RECONNECT"]
    assert everything == ["MARK_PRICE", "CONNECTION_STATE", "WS_RECONNECT"]
    assert set(EVENT_TYPES) < set(ALL_EVENT_TYPES)
    with pytest.raises(ValueError):
        asyncio.run(_subscribe_unknown())


async def _subscribe_unknown() -> None:
    EventBus().subscribe(types=["NOPE"])


def test_a_burst_for_another_loop_arrives_in_order_with_one_wake_up_per_burst() -> None:
    """Envelopes for a subscriber on another thread's loop go through a mailbox: all of them, in order, without a
    wake-up (a self-pipe write) per event; a subscriber whose loop has closed does not break publishing."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    bus = EventBus()
    sub = asyncio.run_coroutine_threadsafe(_subscribe_all(bus), loop).result(5)
    wakeups = 0
    original = loop.call_soon_threadsafe

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal wakeups
        wakeups += 1
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    hold = threading.Event()
    loop.call_soon_threadsafe(hold.wait, 5)  # the subscriber's loop is busy while the burst comes
    for n in range(500):
        bus.publish("CONNECTION_STATE", ConnectionView(state="CONNECTED", previous="SYNCING", reconnects=n))
    hold.set()

    async def drain() -> list[int]:
        got: list[int] = []
        while len(got) < 500:
            env = await sub.get()
            assert env is not None and isinstance(env.payload, ConnectionView)
            got.append(env.payload.reconnects)
        return got

    assert asyncio.run_coroutine_threadsafe(drain(), loop).result(5) == list(range(500))
    assert wakeups <= 3  # the hold, then one for the whole burst (not 500)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()
    bus.publish("CONNECTION_STATE", ConnectionView(state="CONNECTED", previous="SYNCING", reconnects=0))


async def _subscribe_all(bus: EventBus) -> Subscription:
    return bus.subscribe(types=ALL_EVENT_TYPES)


@pytest.mark.parametrize("on_wire", [False, True], ids=["in-process", "wire"])
def test_an_order_upsert_is_sent_only_when_the_order_changed(terminal: Terminal) -> None:
    """A MARKET order: the REST answer says FILLED, then the stream's NEW (late, changes nothing) and its TRADE.
    The late NEW used to go out as a FILLED upsert differing only in ``updated_at``, ahead of the fill."""
    upserts = Recorder("ORDER_UPSERT")
    terminal.bus.add_listener(upserts)
    vp = terminal.sync.create_vp("News", "BTCUSDT", "LONG")
    for side in ("BUY", "SELL", "BUY"):
        order = terminal.sync.place_order(vp.id, side, "MARKET", "0.002")
        cid = order.client_order_id
        wait_until(lambda cid=cid: any(p["clientOrderId"] == cid and p["filled_qty"] == "0.002"
                                       for p in upserts.payloads()), 10)
        mine = [p for p in upserts.payloads() if p["clientOrderId"] == cid]
        assert mine[0]["status"] == "PENDING" and mine[-1]["status"] == "FILLED"
        for before, after in zip(mine, mine[1:], strict=False):
            assert {**before, "updated_at": 0} != {**after, "updated_at": 0}, (before, after)


def test_a_side_builds_its_vps_again_only_when_it_locks_or_unlocks(terminal: Terminal, control: Control,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A VP's ``locked`` follows its side: its update goes out when the side becomes MISMATCH and again when a
    reconcile heals it. Its view is not even built on every confirmation of the side in between (at 200 foreign
    fills/s that was an eighth of the engine's time)."""
    built: list[str] = []
    build = Presenter.vp

    def counting(self: Presenter, vp_id: str) -> Any:
        built.append(vp_id)
        return build(self, vp_id)

    monkeypatch.setattr(Presenter, "vp", counting)
    updates, marks, sides = (Recorder("VIRTUAL_POSITION_UPDATE"), Recorder("MARK_PRICE"),
                             Recorder("EXTERNAL_POSITION_UPDATE"))
    for recorder in (updates, marks, sides):
        terminal.bus.add_listener(recorder)
    a = terminal.sync.create_vp("Locked", "BTCUSDT", "LONG").id
    terminal.sync.place_order(a, "BUY", "MARKET", "0.010")
    wait_until(lambda: any(p["id"] == a and p["net_qty"] == "0.01" for p in updates.payloads()), 10)
    mine = lambda: [p for p in updates.payloads() if p["id"] == a]  # noqa: E731
    assert [p["locked"] for p in mine()] == [False] * len(mine())
    sent, before, marked = len(mine()), built.count(a), len(marks.payloads())
    for _ in range(3):  # foreign buys confirm the side again and again: A itself did not change
        control.post("/external-order", {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG",
                                         "type": "MARKET", "quantity": "0.002"})
    wait_until(lambda: any(p["qty"] == "0.016" for p in sides.payloads()), 10)  # (state() would build every VP)
    time.sleep(0.5)
    assert len(mine()) == sent, mine()[sent:]
    assert built.count(a) - before <= len(marks.payloads()) - marked  # a mark move shows its uPnL: built once
    # a close from the Binance app beyond what UNASSIGNED holds: MISMATCH locks A, a reconcile unlocks it
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.011"})
    wait_until(lambda: mine()[-1]["locked"], 15)
    terminal.sync.reconcile("BTCUSDT", "LONG", [{"virtual_position_id": a, "qty": "0.005"}])
    wait_until(lambda: not mine()[-1]["locked"] and mine()[-1]["net_qty"] == "0.005", 15)


def test_a_client_of_the_seeds_events_gets_the_vps_upnl_at_the_new_mark(terminal: Terminal, control: Control) -> None:
    """Without MARK_PRICE (the seed's seven types only) a VP's uPnL reaches a client in its update: once the mark
    has moved, the next confirmation of the side sends the VP again at the new mark."""
    updates = Recorder("VIRTUAL_POSITION_UPDATE")
    terminal.bus.add_listener(updates)
    a = terminal.sync.create_vp("Marked", "BTCUSDT", "LONG").id
    terminal.sync.place_order(a, "BUY", "MARKET", "0.010")  # @ 95000
    wait_until(lambda: any(p["id"] == a and p["net_qty"] == "0.01" for p in updates.payloads()), 10)
    control.price("BTCUSDT", "96000")
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.002"})  # an ACCOUNT_UPDATE: the side is confirmed again
    wait_until(lambda: any(p["id"] == a and p["mark_price"] == "96000" and p["unrealized_pnl"] == "10"
                           for p in updates.payloads()), 10)
