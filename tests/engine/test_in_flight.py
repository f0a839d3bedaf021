"""An order whose create request is still running (throttled, retried after 429s) is not concluded "never
received" by the PENDING resolver or the recovery: once it reaches the exchange, the ledger has it open."""

from __future__ import annotations

import asyncio
import time

from hedgestack.domain.errors import AnswerLost
from hedgestack.engine.terminal import NEVER_RECEIVED_AFTER_MS, Terminal
from hedgestack.venue.port import ExchangeOrder, OrderRequest
from tests.engine.conftest import Control, assert_consistent, wait_until


def test_a_slow_create_request_is_not_taken_for_a_lost_one(terminal: Terminal, control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG").id
    real = terminal.venue.new_order

    async def slow(request: OrderRequest) -> ExchangeOrder:
        await asyncio.sleep(6.0)  # longer than the resolver's 3 s and several recovery rounds
        return await real(request)

    terminal.venue.new_order = slow  # type: ignore[method-assign]
    try:
        started = time.monotonic()
        placed = terminal.sync.place_order(a, "BUY", "LIMIT", "0.002", "90000", time_in_force="GTC")
        assert time.monotonic() - started >= 6.0
    finally:
        terminal.venue.new_order = real  # type: ignore[method-assign]
    assert placed.status == "NEW"
    order = terminal.sync.orders()  # the live history: one row, open
    assert order.filter(order["client_order_id"] == placed.client_order_id)["status"].to_list() == ["NEW"]
    truth = control.account()
    assert [o["clientOrderId"] for o in truth["open_orders"]] == [placed.client_order_id]
    assert_consistent(terminal, control)  # the audit counts orphans: none


def test_an_unknown_order_is_concluded_never_received_only_after_the_recv_window(terminal: Terminal) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG").id

    async def lost(request: OrderRequest) -> ExchangeOrder:
        raise AnswerLost("no answer")  # and the order never reached the exchange

    real = terminal.venue.new_order
    terminal.venue.new_order = lost  # type: ignore[method-assign]
    try:
        placed = terminal.sync.place_order(a, "BUY", "LIMIT", "0.002", "90000", time_in_force="GTC")
    finally:
        terminal.venue.new_order = real  # type: ignore[method-assign]
    assert placed.status == "PENDING"  # unknown now, but a request signed a moment ago may still arrive
    cid = placed.client_order_id

    async def status() -> str:
        return str(terminal.ledger.orders[cid].status)

    time.sleep(3.5)
    assert terminal.run_sync(status()) == "PENDING"
    wait_until(lambda: terminal.run_sync(status()) == "REJECTED", timeout=NEVER_RECEIVED_AFTER_MS / 1000 + 5)
