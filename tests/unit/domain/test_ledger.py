"""Ledger rules with hand-computed figures (DESIGN.md "Ledger rules")."""

from __future__ import annotations

from decimal import Decimal

from hedgestack.domain.enums import OrderStatus, PositionSide, SyncStatus, TriggerType
from hedgestack.domain.events import Funding, OrderUpdate, Reconcile, TpSlSet, TpSlSync, Transfer, VpArchived, VpRenamed
from hedgestack.domain.ids import unassigned_vp_id
from hedgestack.domain.ledger import Ledger, fold
from tests.factories import VP_A, VP_B, fill, intent, vp

D = Decimal


def test_long_wac_and_realized_worked_example() -> None:
    # buy 1 @ 100, buy 3 @ 120: q = 4, cost = 100 + 360 = 460, avg = 115
    ledger = fold([vp(VP_A), fill(VP_A, "BUY", "1", "100", fee="0.05"), fill(VP_A, "BUY", "3", "120", fee="0.18")])
    view = ledger.view(VP_A)
    assert (view.net_qty, view.avg_entry, view.realized_pnl) == (D(4), D(115), D(0))
    # sell 2 @ 130: realized = 2 × (130 − 115) = 30; avg stays 115
    ledger.apply(fill(VP_A, "SELL", "2", "130", fee="0.13"))
    view = ledger.view(VP_A)
    assert (view.net_qty, view.avg_entry, view.realized_pnl) == (D(2), D(115), D(30))
    # sell 2 @ 110: realized = 30 + 2 × (110 − 115) = 20; flat → avg 0
    ledger.apply(fill(VP_A, "SELL", "2", "110", fee="0.11"))
    view = ledger.view(VP_A)
    assert (view.net_qty, view.avg_entry, view.realized_pnl, view.cost) == (D(0), D(0), D(20), D(0))
    # fees 0.05 + 0.18 + 0.13 + 0.11 = 0.47; net = 20 − 0.47 + 0 = 19.53
    assert view.fees == D("0.47")
    assert view.net_pnl == D("19.53")


def test_short_wac_and_realized() -> None:
    # sell 0.002 @ 95000, sell 0.001 @ 96500: q 0.003, cost 190 + 96.5 = 286.5, avg 95500
    ledger = fold([vp(VP_A, side=PositionSide.SHORT),
                   fill(VP_A, "SELL", "0.002", "95000", position_side="SHORT"),
                   fill(VP_A, "SELL", "0.001", "96500", position_side="SHORT")])
    assert ledger.view(VP_A).avg_entry == D(95500)
    # buy 0.001 @ 94000 closes: realized = 0.001 × (95500 − 94000) = 1.5
    ledger.apply(fill(VP_A, "BUY", "0.001", "94000", position_side="SHORT"))
    view = ledger.view(VP_A)
    assert (view.net_qty, view.avg_entry, view.realized_pnl) == (D("0.002"), D(95500), D("1.5"))
    # unrealized at mark 95000 = 0.002 × (95500 − 95000) = 1
    assert view.unrealized_pnl(D(95000)) == D(1)


def test_repeating_average_is_rounded_once_and_cost_stays_exact() -> None:
    # buy 1 @ 100, buy 2 @ 100.01: cost 300.02, avg 100.00666…
    ledger = fold([vp(VP_A), fill(VP_A, "BUY", "1", "100"), fill(VP_A, "BUY", "2", "100.01")])
    assert ledger.view(VP_A).avg_entry == D("100.006666666666666667")
    ledger.apply(fill(VP_A, "SELL", "1", "101"))
    # released = 300.02 / 3 = 100.006666666666666667 (1e-18); realized = 101 − that
    view = ledger.view(VP_A)
    assert view.realized_pnl == D("0.993333333333333333")
    # realized + unrealized at any mark equals the cash flow exactly: −300.02 + 101 + 2 × mark
    mark = D("99.5")
    assert view.realized_pnl + view.unrealized_pnl(mark) == D("-300.02") + D(101) + 2 * mark


def test_over_reducing_fill_is_clamped_and_reported() -> None:
    ledger = fold([vp(VP_A), fill(VP_A, "BUY", "1", "100")])
    applied = ledger.apply(fill(VP_A, "SELL", "3", "110"))
    assert [a.kind for a in applied.anomalies] == ["OVER_REDUCE"]
    assert applied.touched == {VP_A} and applied.booked == VP_A
    view = ledger.view(VP_A)
    assert (view.net_qty, view.realized_pnl) == (D(0), D(10))  # only the 1 held: 1 × (110 − 100)


def test_fill_applied_once_whatever_its_repetitions() -> None:
    first = fill(VP_A, "BUY", "1", "100", trade_id=7)
    ledger = fold([vp(VP_A), first, first, fill(VP_A, "BUY", "1", "100", trade_id=7)])
    assert ledger.view(VP_A).net_qty == D(1)
    assert ledger.view(VP_A).fill_count == 1


def test_unknown_vp_fill_goes_to_unassigned() -> None:
    ledger = fold([vp(VP_A), fill("vp_zzzzzzzz", "BUY", "2", "100")])
    unassigned = unassigned_vp_id("BTCUSDT", PositionSide.LONG)
    assert ledger.view(unassigned).net_qty == D(2)
    assert ledger.view(unassigned).name == "UNASSIGNED"
    assert ledger.anomalies[0].kind == "FILL_VP_UNKNOWN"


def test_fees_by_asset() -> None:
    ledger = fold([vp(VP_A), fill(VP_A, "BUY", "1", "100", fee="0.05"),
                   fill(VP_A, "BUY", "1", "100", fee="0.0001", asset="BNB")])
    view = ledger.view(VP_A)
    assert view.fees == D("0.05")
    assert view.fees_by_asset == {"USDT": D("0.05"), "BNB": D("0.0001")}


def test_transfer_moves_quantity_at_source_cost() -> None:
    # A: buy 2 @ 100, buy 1 @ 130 → cost 330, avg 110. Transfer 1 to B at 110.
    ledger = fold([vp(VP_A), vp(VP_B), fill(VP_A, "BUY", "2", "100"), fill(VP_A, "BUY", "1", "130"),
                   Transfer(ts=5, transfer_id="t1", from_vp=VP_A, to_vp=VP_B, qty=D(1))])
    a, b = ledger.view(VP_A), ledger.view(VP_B)
    assert (a.net_qty, a.avg_entry, a.cost) == (D(2), D(110), D(220))
    assert (b.net_qty, b.avg_entry, b.cost) == (D(1), D(110), D(110))


def test_reconcile_seed_semantics_keeps_realized() -> None:
    ledger = fold([vp(VP_A), vp(VP_B), fill(VP_A, "BUY", "2", "100"), fill(VP_A, "SELL", "1", "120"),
                   fill(VP_B, "BUY", "1", "90")])
    assert ledger.view(VP_A).realized_pnl == D(20)
    # exchange says 3 @ 101; assign 1.5 to A, nothing to B: B → 0, remainder 1.5 → UNASSIGNED
    ledger.apply(Reconcile(ts=9, reconcile_id="r1", symbol="BTCUSDT", position_side=PositionSide.LONG,
                           exchange_qty=D(3), exchange_entry=D(101), assignments=((VP_A, D("1.5")),)))
    a, b = ledger.view(VP_A), ledger.view(VP_B)
    unassigned = ledger.view(unassigned_vp_id("BTCUSDT", PositionSide.LONG))
    assert (a.net_qty, a.avg_entry, a.realized_pnl, a.reset_at) == (D("1.5"), D(101), D(20), 9)
    assert (b.net_qty, b.reset_at) == (D(0), 9)
    assert (unassigned.net_qty, unassigned.avg_entry) == (D("1.5"), D(101))
    assert ledger.side_qty("BTCUSDT", PositionSide.LONG) == D(3)


def test_reconcile_over_assignment_is_not_applied() -> None:
    ledger = fold([vp(VP_A), fill(VP_A, "BUY", "1", "100")])
    ledger.apply(Reconcile(ts=9, reconcile_id="r1", symbol="BTCUSDT", position_side=PositionSide.LONG,
                           exchange_qty=D(1), exchange_entry=D(101), assignments=((VP_A, D(2)),)))
    assert ledger.view(VP_A).net_qty == D(1)
    assert ledger.anomalies[-1].kind == "RECONCILE_INVALID"


def test_funding_allocations_are_booked() -> None:
    unassigned = unassigned_vp_id("BTCUSDT", PositionSide.LONG)
    ledger = fold([vp(VP_A), fill(VP_A, "BUY", "2", "100"),
                   Funding(ts=8, symbol="BTCUSDT", funding_time=8, amount=D("-0.021"), asset="USDT",
                           rate=D("0.0001"), mark=D(100), allocations=((VP_A, D("-0.02")), (unassigned, D("-0.001"))))])
    assert ledger.view(VP_A).funding == D("-0.02")
    assert ledger.view(unassigned).funding == D("-0.001")
    assert ledger.view(VP_A).net_pnl == D("-0.02")


def test_orders_track_fills_and_terminal_status_is_sticky() -> None:
    cid = "VP-aaaaaa-1708700123456-001"
    ledger = fold([vp(VP_A), fill(VP_A, "BUY", "3", "100"), intent(cid, VP_A, "2"),
                   OrderUpdate(ts=2, client_order_id=cid, status=OrderStatus.NEW, order_id=55)])
    order = ledger.orders[cid]
    assert (order.remaining, order.order_id) == (D(2), 55)
    ledger.apply(fill(VP_A, "SELL", "0.5", "101", cid=cid, order_id=55))
    assert ledger.orders[cid].remaining == D("1.5")
    ledger.apply(OrderUpdate(ts=3, client_order_id=cid, status=OrderStatus.CANCELED, order_id=55))
    ledger.apply(OrderUpdate(ts=4, client_order_id=cid, status=OrderStatus.PARTIALLY_FILLED, order_id=55,
                             executed_qty=D("0.5")))
    assert ledger.orders[cid].status is OrderStatus.CANCELED
    assert ledger.orders[cid].remaining == 0
    assert ledger.order_for_exchange_id(55) is ledger.orders[cid]


def test_rename_archive_tpsl_events() -> None:
    ledger = fold([vp(VP_A, "Trend"), VpRenamed(ts=1, vp_id=VP_A, name="Swing"),
                   TpSlSet(ts=2, vp_id=VP_A, tp_price=D(120), tp_trigger=TriggerType.LAST_PRICE, sl_price=D(90),
                           sl_trigger=TriggerType.MARK_PRICE),
                   TpSlSync(ts=3, vp_id=VP_A, status=SyncStatus.OK), VpArchived(ts=4, vp_id=VP_A)])
    view = ledger.view(VP_A)
    assert (view.name, view.tp_price, view.sl_price, view.sync_status, view.archived) == (
        "Swing", D(120), D(90), SyncStatus.OK, True)
    assert ledger.views() == []


def test_unknown_events_are_anomalies_not_crashes() -> None:
    ledger = Ledger()
    applied = ledger.apply(VpRenamed(ts=1, vp_id=VP_A, name="x"))
    assert applied.anomalies[0].kind == "UNKNOWN_VP" and applied.touched == frozenset()


def test_side_sums() -> None:
    ledger = fold([vp(VP_A), vp(VP_B), fill(VP_A, "BUY", "1", "100"), fill(VP_B, "BUY", "2", "100"),
                   fill(VP_B, "SELL", "0.5", "100")])
    assert ledger.side_qty("BTCUSDT", PositionSide.LONG) == D("2.5")


# -- what apply returns: the VPs an event changed and its anomalies ------------------------------------------
def test_apply_returns_the_vps_each_kind_of_event_touched() -> None:
    ledger = Ledger()
    unassigned = unassigned_vp_id("BTCUSDT", PositionSide.LONG)
    assert ledger.apply(vp(VP_A)).touched == {VP_A}
    assert ledger.apply(vp(VP_B)).touched == {VP_B}
    assert ledger.apply(vp(VP_A)).touched == frozenset()  # created twice: an anomaly, nothing changed
    buy = fill(VP_A, "BUY", "2", "100", trade_id=1)
    applied = ledger.apply(buy)
    assert (applied.touched, applied.booked, applied.anomalies) == ({VP_A}, VP_A, ())
    assert ledger.apply(buy).touched == frozenset()  # a duplicate changes nothing
    foreign = ledger.apply(fill("vp_zzzzzzzz", "BUY", "1", "100", trade_id=2))  # unknown VP: UNASSIGNED
    assert foreign.booked == unassigned and [a.kind for a in foreign.anomalies] == ["FILL_VP_UNKNOWN"]
    cid = "VP-aaaaaa-1708700123456-001"
    assert ledger.apply(intent(cid, VP_A, "1")).touched == frozenset()  # orders are not VP figures
    assert ledger.apply(OrderUpdate(ts=3, client_order_id=cid, status=OrderStatus.NEW, order_id=9)).touched == set()
    assert ledger.apply(Transfer(ts=4, transfer_id="t1", from_vp=VP_A, to_vp=VP_B, qty=D(1))).touched == {VP_A, VP_B}
    funding = Funding(ts=5, symbol="BTCUSDT", funding_time=5, amount=D("-0.03"), asset="USDT", rate=D("0.0001"),
                      mark=D(100), allocations=((VP_A, D("-0.01")), (VP_B, D("-0.01")), (unassigned, D("-0.01"))))
    assert ledger.apply(funding).touched == {VP_A, VP_B, unassigned}
    assert ledger.apply(VpRenamed(ts=6, vp_id=VP_B, name="Swing")).touched == {VP_B}
    assert ledger.apply(TpSlSet(ts=7, vp_id=VP_B, tp_price=D(120), tp_trigger=TriggerType.LAST_PRICE,
                                sl_price=None, sl_trigger=TriggerType.MARK_PRICE)).touched == {VP_B}
    assert ledger.apply(TpSlSync(ts=8, vp_id=VP_B, status=SyncStatus.OK)).touched == {VP_B}
    reconcile = Reconcile(ts=9, reconcile_id="r1", symbol="BTCUSDT", position_side=PositionSide.LONG,
                          exchange_qty=D(3), exchange_entry=D(100), assignments=((VP_A, D(1)),))
    assert ledger.apply(reconcile).touched == {VP_A, VP_B, unassigned}
    assert ledger.apply(VpArchived(ts=10, vp_id=VP_B)).touched == {VP_B}
    bad = ledger.apply(Transfer(ts=11, transfer_id="t2", from_vp=VP_A, to_vp=VP_A, qty=D(1)))
    assert bad.touched == frozenset() and [a.kind for a in bad.anomalies] == ["TRANSFER_INVALID"]
    assert bad.booked is None


def test_updated_at_never_goes_back() -> None:
    """A fill carries the exchange's time, a command ours: a rename 1 ms "before" the fill it follows (the clocks
    differ) leaves the VP's updated_at at the fill's time; so does an order update behind its intent."""
    ledger = fold([vp(VP_A, ts=0), fill(VP_A, "BUY", "1", "100", ts=1_000)])
    ledger.apply(VpRenamed(ts=999, vp_id=VP_A, name="Trend"))
    assert ledger.vps[VP_A].updated_at == 1_000
    ledger.apply(VpRenamed(ts=1_500, vp_id=VP_A, name="Swing"))
    assert ledger.vps[VP_A].updated_at == 1_500
    ledger.apply(intent("VP-a-1", VP_A, "1", ts=2_000))
    ledger.apply(OrderUpdate(ts=1_999, client_order_id="VP-a-1", order_id=7, status=OrderStatus.NEW,
                             executed_qty=D(0)))
    assert ledger.orders["VP-a-1"].updated_at == 2_000
