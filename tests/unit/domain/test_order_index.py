"""The ledger's index of live orders against the plain scan of every order it replaced.

``open_orders`` and ``live_orders`` read an index kept by the fold (pruned as it is read), not every order of
the account's life. Whatever the events (intents, status changes in any order, executed figures ahead of the
fills, fills, orders finished and touched again) and wherever a snapshot round trip falls, both answer what the
scan answers: open orders in creation order, live ones (open, or executed beyond their booked fills) as a set.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from hedgestack.domain.enums import OrderRole, OrderStatus, OrderType, Side
from hedgestack.domain.events import Event, OrderUpdate
from hedgestack.domain.ledger import Ledger, OrderBook, fold
from hedgestack.domain.snapshot import dump_ledger, load_ledger
from tests.factories import VP_A, VP_B, fill, intent, vp

VPS = (VP_A, VP_B)
STATUSES = tuple(OrderStatus)


def _scan_open(ledger: Ledger, vp_id: str | None) -> list[str]:
    return [o.client_order_id for o in ledger.orders.values()
            if o.status.is_open and (vp_id is None or o.vp_id == vp_id)]


def _scan_live(ledger: Ledger, vp_id: str | None) -> set[str]:
    def live(o: OrderBook) -> bool:
        return o.status.is_open or (not o.is_algo and o.executed > o.filled)

    return {o.client_order_id for o in ledger.orders.values() if live(o) and (vp_id is None or o.vp_id == vp_id)}


def _check(ledger: Ledger) -> None:
    for vp_id in (None, *VPS):
        assert [o.client_order_id for o in ledger.open_orders(vp_id)] == _scan_open(ledger, vp_id)
        assert {o.client_order_id for o in ledger.live_orders(vp_id)} == _scan_live(ledger, vp_id)


steps = st.lists(st.tuples(st.sampled_from(("intent", "update", "fill", "snapshot", "query")),
                           st.integers(0, 7), st.sampled_from(STATUSES), st.integers(0, 4), st.booleans()),
                 min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_the_index_answers_what_a_scan_of_every_order_answers(plan: list[tuple[str, int, OrderStatus, int,
                                                                                 bool]]) -> None:
    ledger = fold([vp(VP_A), vp(VP_B), fill(VP_A, "BUY", "10", "100"), fill(VP_B, "BUY", "10", "100")])
    made: list[str] = []
    ts = 10
    for kind, number, status, units, algo in plan:
        ts += 1
        event: Event | None = None
        if kind == "intent":
            cid = f"o-{len(made)}"
            made.append(cid)
            event = intent(cid, VPS[number % 2], "0.4", role=OrderRole.SL if algo else OrderRole.CLOSE,
                           order_type=OrderType.STOP_MARKET if algo else OrderType.LIMIT, is_algo=algo, ts=ts)
        elif made and kind == "update":
            event = OrderUpdate(ts=ts, client_order_id=made[number % len(made)], status=status,
                                executed_qty=Decimal(units) / 10)
        elif made and kind == "fill":
            cid = made[number % len(made)]
            order = ledger.orders[cid]
            event = fill(order.vp_id, Side.SELL, "0.1", "101", cid=cid, ts=ts)
        elif kind == "snapshot":
            ledger = load_ledger(dump_ledger(ledger))
        else:
            ledger.open_orders()  # a read in between prunes the index
        if event is not None:
            ledger.apply(event)
        _check(ledger)


def test_a_finished_order_told_late_of_more_executed_is_live_again() -> None:
    ledger = fold([vp(VP_A), fill(VP_A, "BUY", "1", "100"), intent("c1", VP_A, "0.5")])
    ledger.apply(OrderUpdate(ts=2, client_order_id="c1", status=OrderStatus.CANCELED))
    assert ledger.live_orders() == [] and ledger.open_orders() == []  # pruned
    ledger.apply(OrderUpdate(ts=3, client_order_id="c1", status=OrderStatus.CANCELED, executed_qty=Decimal("0.2")))
    assert [o.client_order_id for o in ledger.live_orders(VP_A)] == ["c1"] and ledger.open_orders() == []
