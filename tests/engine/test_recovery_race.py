"""A catch-up reads the exchange's open orders over REST while the stream keeps running: an order the stream closes
between the snapshot and the ledger update must stay closed (the snapshot is older than the ledger's word)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from hedgestack.domain.enums import OrderRole, OrderStatus
from hedgestack.domain.events import OrderUpdate
from hedgestack.domain.invariants import check_invariants
from hedgestack.domain.ledger import OrderBook
from hedgestack.engine.terminal import Terminal
from hedgestack.venue.inproc import InProcessVenue
from hedgestack.venue.port import ExchangeAlgoOrder
from hedgestack.venue.sim import SimServer
from tests.engine.conftest import Control, assert_consistent, settle, wait_until


class RacingVenue(InProcessVenue):
    """Runs ``after_snapshot`` once, after the open-algo snapshot is read and before it is returned."""

    after_snapshot: Callable[[], Awaitable[None]] | None = None

    async def open_algo_orders(self, symbol: str) -> list[ExchangeAlgoOrder]:
        rows = await super().open_algo_orders(symbol)
        hook, self.after_snapshot = self.after_snapshot, None
        if hook is not None:
            await hook()
        return rows


def test_a_leg_closed_while_the_snapshot_is_read_is_not_reopened(sim_server: SimServer, control: Control,
                                                                 tmp_path: Path) -> None:
    venue = RacingVenue(sim_server)
    t = Terminal(venue, data_dir=tmp_path, poll_interval=30.0, mismatch_grace=0.5, publish_interval=0.5,
                 check_invariants_live=True).start_sync()
    try:
        a = t.sync.create_vp("A", "BTCUSDT", "LONG").id
        t.sync.place_order(a, "BUY", "MARKET", "0.010")
        wait_until(lambda: t.sync.vp(a).net_qty == Decimal("0.010"))
        t.sync.set_tpsl(a, tp_price="99000")
        wait_until(lambda: t.sync.vp(a).to_json()["tpsl"]["sync_status"] == "OK")
        settle(t, control)

        def open_tp_legs() -> list[str]:
            return [o.client_order_id for o in t.ledger.open_orders(a) if o.role is OrderRole.TP]

        def tp_leg() -> str:
            legs = open_tp_legs()
            assert len(legs) == 1, legs
            return legs[0]

        leg = t.run_sync(_on_loop(tp_leg))

        async def cancelled_by_another_app() -> None:
            await venue.cancel_algo_order(leg)
            while t.ledger.orders[leg].is_open:  # the stream's ALGO_UPDATE lands while the catch-up waits
                await asyncio.sleep(0.01)

        venue.after_snapshot = cancelled_by_another_app
        t.run_sync(t.intake.recovery.orders())
        assert venue.after_snapshot is None  # the race happened

        async def after() -> tuple[OrderStatus, list[str]]:
            return t.ledger.orders[leg].status, check_invariants(t.ledger)

        status, problems = t.run_sync(after())
        assert status is OrderStatus.CANCELED  # not NEW again from the older snapshot
        assert problems == []
        # protection comes back as a new leg, and everything agrees with the exchange
        wait_until(lambda: t.run_sync(_on_loop(lambda: ",".join(open_tp_legs()))) not in ("", leg))
        wait_until(lambda: t.sync.vp(a).to_json()["tpsl"]["sync_status"] == "OK")
        assert_consistent(t, control)
    finally:
        t.stop_sync()


async def _on_loop(fn: Callable[[], str]) -> str:
    return fn()


def test_an_order_the_ledger_closed_but_the_exchange_keeps_is_cancelled(terminal: Terminal,
                                                                        control: Control) -> None:
    t = terminal
    a = t.sync.create_vp("A", "BTCUSDT", "LONG").id
    t.sync.place_order(a, "BUY", "LIMIT", "0.002", price="90000")  # rests
    t.sync.wait_idle()
    (cid,) = [o.client_order_id for o in t.run_sync(_orders(t, a))]
    assert [o["clientOrderId"] for o in control.account()["open_orders"]] == [cid]

    async def told_gone() -> None:  # a cancel the exchange never carried out (the ledger already says CANCELED)
        t.intake.recovery.book.append([OrderUpdate(ts=0, client_order_id=cid, status=OrderStatus.CANCELED)])

    t.run_sync(told_gone())
    t.run_sync(t.intake.recovery.orders())
    assert control.account()["open_orders"] == []  # the exchange now agrees with what the trader was told
    assert_consistent(t, control)


async def _orders(t: Terminal, vp_id: str) -> list[OrderBook]:
    return t.ledger.open_orders(vp_id)
