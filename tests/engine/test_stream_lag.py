"""Fills in flight: the exchange's REST (positionRisk) shows a trade before the user stream delivers it.

- The consistency watch gives the stream a third of the grace period to deliver before it catches up over REST. A
  catch-up of fills still in flight fetched each of them a second time and queried each foreign order by id: at
  200 fills/s that REST work took the engine's loop and made the stream fall further behind.
- A fill the stream really lost (no disconnect) is still caught up over REST and never becomes a MISMATCH.
- A trade's ACCOUNT_UPDATE and ORDER_TRADE_UPDATE that arrive together are judged together: the side does not read
  "waiting for the fills" between the two.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from hedgestack.domain.enums import PositionSide
from hedgestack.engine.bus import Envelope
from hedgestack.engine.presenter import ACCOUNT_EVENT_INTERVAL, CONFIRMATION_EVERY_MS
from hedgestack.engine.terminal import Terminal
from hedgestack.venue.inproc import InProcessVenue
from hedgestack.venue.port import AccountUpdate, OrderTradeUpdate, Trade, UserMessage
from hedgestack.venue.sim import SimServer
from tests.engine.conftest import Control, assert_consistent, wait_until

GRACE = 3.0  # s: the watch waits GRACE / 3 before a catch-up


class LaggingVenue(InProcessVenue):
    """The simulator in process, with a user stream that can lag, lose ORDER_TRADE_UPDATEs, or deliver each
    trade's messages as one item (as a busy socket does); counts the ``userTrades`` reads."""

    def __init__(self, server: SimServer) -> None:
        super().__init__(server)
        self.delay = 0.0  # seconds an item with account or order messages is delivered after it arrived
        self.lose: set[str] = set()  # clientOrderIds whose ORDER_TRADE_UPDATEs never arrive
        self.join_trades = False
        self.trade_reads = 0

    async def user_messages(self) -> AsyncIterator[Any]:
        held: list[UserMessage] = []
        async for item in super().user_messages():
            arrived = time.monotonic()
            messages = [*held, *(item if isinstance(item, list) else [item])]
            held = []
            messages = [m for m in messages
                        if not (isinstance(m, OrderTradeUpdate) and m.client_order_id in self.lose)]
            if self.join_trades and all(isinstance(m, OrderTradeUpdate) for m in messages):
                held = messages  # a trade's ORDER_TRADE_UPDATEs wait for its ACCOUNT_UPDATE: one item
                continue
            if not messages:
                continue
            if self.delay and any(isinstance(m, OrderTradeUpdate | AccountUpdate) for m in messages):
                await asyncio.sleep(max(0.0, arrived + self.delay - time.monotonic()))
            yield messages if len(messages) > 1 else messages[0]

    async def user_trades(self, symbol: str, **window: Any) -> list[Trade]:
        self.trade_reads += 1
        return await super().user_trades(symbol, **window)


class Statuses:
    """The side states the CONSISTENCY_STATUS events carried."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, envelope: Envelope) -> None:
        if envelope.type == "CONSISTENCY_STATUS":
            self.seen.append(envelope.to_json()["payload"]["detail"]["status"])


@pytest.fixture
def venue(sim_server: SimServer, control: Control) -> LaggingVenue:
    return LaggingVenue(sim_server)


@pytest.fixture
def lagging(venue: LaggingVenue, tmp_path: Path) -> Iterator[Terminal]:
    t = Terminal(venue, data_dir=tmp_path, poll_interval=0.1, mismatch_grace=GRACE, publish_interval=0.5,
                 check_invariants_live=True).start_sync()
    yield t
    t.stop_sync()


def foreign_buy(control: Control, cid: str, qty: str = "0.002") -> None:
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": qty, "clientOrderId": cid})


def holds(t: Terminal, qty: Decimal) -> bool:
    return unassigned_qty(t) == qty


def unassigned_qty(t: Terminal) -> Decimal:
    return sum((vp.net_qty for vp in t.sync.state().virtual_positions
                if vp.name == "UNASSIGNED" and vp.symbol == "BTCUSDT" and vp.position_side == "LONG"), Decimal(0))


def test_fills_the_stream_is_still_delivering_are_not_fetched_over_rest(lagging: Terminal, venue: LaggingVenue,
                                                                        control: Control) -> None:
    t = lagging
    reads = venue.trade_reads
    venue.delay = 0.3  # REST is polled every 0.1 s: it shows each trade while the stream still carries it
    for i in range(3):
        foreign_buy(control, f"web_lag{i}")
        wait_until(partial(holds, t, Decimal("0.002") * (i + 1)), 10)
    venue.delay = 0.0
    t.run_sync(asyncio.sleep(GRACE))  # any catch-up the divergences asked for has run by now
    assert t.link.stats.backfilled_fills == 0
    assert t.link.stats.duplicates == 0
    assert venue.trade_reads == reads  # no userTrades read for fills in flight
    assert t.link.stats.mismatches_raised == 0
    assert_consistent(t, control)


def test_a_fill_the_stream_lost_is_caught_up_before_it_is_a_mismatch(lagging: Terminal, venue: LaggingVenue,
                                                                     control: Control) -> None:
    t = lagging
    statuses = Statuses()
    t.bus.add_listener(statuses, ["CONSISTENCY_STATUS"])
    venue.lose.add("web_lost1")  # its ACCOUNT_UPDATE arrives, its ORDER_TRADE_UPDATE never does
    foreign_buy(control, "web_lost1")
    wait_until(lambda: unassigned_qty(t) == Decimal("0.002"), 10)
    wait_until(lambda: t.link.stats.backfilled_fills == 1, 5)  # counted once durable, just after it is folded
    assert "MISMATCH" not in statuses.seen
    assert t.link.stats.mismatches_raised == 0
    assert_consistent(t, control)


def test_a_trade_that_arrives_whole_is_judged_once(venue: LaggingVenue, control: Control, tmp_path: Path) -> None:
    """A trade's ORDER_TRADE_UPDATE and ACCOUNT_UPDATE in one item: the side goes from OK to OK (it used to read
    "waiting for the fills" between the two, two CONSISTENCY_STATUS events a trade). No position poll runs
    meanwhile (REST ahead of the stream is the other test's case)."""
    venue.join_trades = True
    t = Terminal(venue, data_dir=tmp_path, poll_interval=60.0, mismatch_grace=GRACE, publish_interval=0.5,
                 check_invariants_live=True).start_sync()
    try:
        _judged_once(t, control)
    finally:
        t.stop_sync()


def _judged_once(t: Terminal, control: Control) -> None:
    judged: list[str] = []  # the side's state after every judgement (the stream debounces SYNCING: looked at here)
    evaluate = t.truth.evaluate

    def recording(*args: Any, **kwargs: Any) -> Any:
        changed = evaluate(*args, **kwargs)
        judged.append(t.truth.states[("BTCUSDT", PositionSide.LONG)].status.value)
        return changed

    t.truth.evaluate = recording  # type: ignore[method-assign]
    for i in range(3):
        foreign_buy(control, f"web_whole{i}")
        wait_until(partial(holds, t, Decimal("0.002") * (i + 1)), 10)
    assert judged and set(judged) == {"OK"}, judged
    assert_consistent(t, control)


def test_a_burst_sends_the_account_and_the_sides_state_paced_the_latest_last(terminal: Terminal,
                                                                           control: Control) -> None:
    """Every trade moves the wallet (its commission) and the side's figures: during a burst ACCOUNT_STATUS goes out
    at most every ACCOUNT_EVENT_INTERVAL, an OK side's CONSISTENCY_STATUS at most every CONFIRMATION_EVERY_MS while
    it stays OK (a change of state goes out at once), and the last of each carries the figures after the burst."""
    accounts: list[tuple[float, dict[str, Any]]] = []
    sides: list[tuple[float, dict[str, Any]]] = []

    def record(envelope: Envelope) -> None:
        payload = envelope.to_json()["payload"]
        if envelope.type == "ACCOUNT_STATUS":
            accounts.append((time.monotonic(), payload))
        elif envelope.type == "CONSISTENCY_STATUS" and payload["symbol"] == "BTCUSDT" \
                and payload["positionSide"] == "LONG":
            sides.append((time.monotonic(), payload))

    terminal.bus.add_listener(record, ["ACCOUNT_STATUS", "CONSISTENCY_STATUS"])
    for i in range(20):
        foreign_buy(control, f"web_burst{i}")
    wait_until(partial(holds, terminal, Decimal("0.040")), 10)
    wallet = Decimal(control.account()["wallet_balance"])
    wait_until(lambda: accounts and Decimal(accounts[-1][1]["wallet_balance"]) == wallet, 5)
    wait_until(lambda: sides and Decimal(sides[-1][1]["detail"]["exchange_qty"]) == Decimal("0.040")
               and sides[-1][1]["detail"]["status"] == "OK", 5)
    slack = 0.05  # the listener runs on another thread than the publisher
    assert len(accounts) < 20
    assert all(b - a >= ACCOUNT_EVENT_INTERVAL - slack for (a, _), (b, _) in pairwise(accounts))
    ok_after_ok = [(a, b) for (a, p), (b, q) in pairwise(sides)
                   if p["detail"]["status"] == q["detail"]["status"] == "OK"]
    assert all(b - a >= CONFIRMATION_EVERY_MS / 1000 - slack for a, b in ok_after_ok), sides
    # each trade makes the side wait a moment for its ACCOUNT_UPDATE (the simulator sends it after the fill): not
    # news unless it lasts SYNCING_NEWS_S
    assert {p["detail"]["status"] for _, p in sides} == {"OK"}, [p["detail"] for _, p in sides]
    assert len(sides) < 20
