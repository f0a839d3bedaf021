"""Pre-trade rules: VP guard, close amounts, names, transfer, reconcile, archive (hand-computed)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hedgestack.domain.enums import OrderRole, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from hedgestack.domain.errors import (
    LedgerRuleError,
    ReconcileError,
    UnknownVp,
    ValidationError,
    VpGuardViolation,
)
from hedgestack.domain.events import OrderUpdate, VpArchived
from hedgestack.domain.ids import unassigned_vp_id
from hedgestack.domain.ledger import fold
from hedgestack.domain.rules import (
    check_archive,
    check_guard,
    check_name,
    check_order_shape,
    check_reconcile,
    check_rename,
    check_transfer,
    close_quantity,
    open_close_qty,
    open_tpsl_qty,
    role_of,
    tpsl_target_qty,
)
from tests.factories import VP_A, VP_B, VP_C, fill, intent, vp
from tests.unit.domain.test_filters import BTC

D = Decimal
CLOSE = "VP-aaaaaa-1708700123456-001"
TP = "VP-aaaaaa-1708700123456-002"
SL = "VP-aaaaaa-1708700123456-003"


def ledger_with_close():
    # VP a holds 0.010 with a LIMIT close of 0.004 open (the module docstring's example)
    return fold([vp(VP_A, "a"), vp(VP_B, "b"), fill(VP_A, "BUY", "0.010", "95000"), fill(VP_B, "BUY", "0.5", "95000"),
                 intent(CLOSE, VP_A, "0.004", price="96000"),
                 OrderUpdate(ts=2, client_order_id=CLOSE, status=OrderStatus.NEW, order_id=1)])


def test_docstring_example() -> None:
    ledger = ledger_with_close()
    assert open_close_qty(ledger, VP_A) == D("0.004")
    assert close_quantity(ledger, VP_A, BTC, percent=D(75)) == D("0.007")  # 0.0075 rounded down
    with pytest.raises(VpGuardViolation):
        check_guard(ledger, VP_A, new_close=D("0.007"))  # 0.004 + 0.007 = 0.011 > 0.010
    check_guard(ledger, VP_A, new_close=D("0.005"))
    assert tpsl_target_qty(ledger, VP_A) == D("0.006")


def test_guard_counts_max_of_tp_and_sl() -> None:
    ledger = ledger_with_close()
    ledger.apply(intent(TP, VP_A, "0.006", role=OrderRole.TP, order_type=OrderType.TAKE_PROFIT_MARKET, price=None,
                        trigger="99000", is_algo=True))
    ledger.apply(intent(SL, VP_A, "0.006", role=OrderRole.SL, order_type=OrderType.STOP_MARKET, price=None,
                        trigger="90000", is_algo=True))
    assert open_tpsl_qty(ledger, VP_A) == D("0.006")  # max, not the sum
    check_guard(ledger, VP_A, new_tpsl=open_tpsl_qty(ledger, VP_A))  # 0.004 + 0.006 = 0.010
    with pytest.raises(VpGuardViolation) as info:
        check_guard(ledger, VP_A, new_close=D("0.001"), new_tpsl=D("0.006"))
    assert info.value.code == "VP_GUARD"
    # one VP's guard never looks at another VP's quantity: b holds 0.5, a cannot borrow it
    with pytest.raises(VpGuardViolation):
        check_guard(ledger, VP_A, new_close=D("0.2"))


def test_close_amount_refusals() -> None:
    ledger = fold([vp(VP_A), vp(VP_B), fill(VP_A, "BUY", "0.001", "95000")])
    with pytest.raises(LedgerRuleError) as info:
        close_quantity(ledger, VP_B, BTC, percent=D(50))
    assert info.value.code == "VP_FLAT"
    with pytest.raises(LedgerRuleError) as info:
        close_quantity(ledger, VP_A, BTC, percent=D(25))  # 0.00025 → 0
    assert info.value.code == "CLOSE_QTY_ZERO"
    with pytest.raises(ValidationError):
        close_quantity(ledger, VP_A, BTC, percent=D(101))
    with pytest.raises(VpGuardViolation):
        close_quantity(ledger, VP_A, BTC, qty=D("0.002"))
    with pytest.raises(ValidationError):
        close_quantity(ledger, VP_A, BTC)
    assert close_quantity(ledger, VP_A, BTC, percent=D(100)) == D("0.001")
    with pytest.raises(UnknownVp):
        close_quantity(ledger, "vp_zzzzzzzz", BTC, percent=D(100))


def test_names() -> None:
    ledger = fold([vp(VP_A, "Trend")])
    assert check_name(ledger, " Swing ", "BTCUSDT", PositionSide.LONG) == "Swing"
    assert check_name(ledger, "Trend", "BTCUSDT", PositionSide.SHORT) == "Trend"  # other side: fine
    for bad, code in [("", "INVALID_NAME"), ("x" * 65, "INVALID_NAME"), ("a\nb", "INVALID_NAME"),
                      ("unassigned", "NAME_RESERVED")]:
        with pytest.raises(ValidationError) as info:
            check_name(ledger, bad, "BTCUSDT", PositionSide.LONG)
        assert info.value.code == code
    with pytest.raises(LedgerRuleError) as taken:
        check_name(ledger, "Trend", "BTCUSDT", PositionSide.LONG)
    assert taken.value.code == "NAME_TAKEN"
    assert check_rename(ledger, VP_A, "Trend") == "Trend"  # its own name
    ledger.apply(VpArchived(ts=3, vp_id=VP_A))
    assert check_name(ledger, "Trend", "BTCUSDT", PositionSide.LONG) == "Trend"  # archived names are free


def test_transfer_rules() -> None:
    ledger = ledger_with_close()
    ledger.apply(vp(VP_C, "c", side=PositionSide.SHORT))
    check_transfer(ledger, VP_B, VP_A, D("0.5"))
    with pytest.raises(LedgerRuleError):
        check_transfer(ledger, VP_B, VP_A, D("0.6"))
    with pytest.raises(VpGuardViolation):  # a's 0.004 close needs 0.004 to stay
        check_transfer(ledger, VP_A, VP_B, D("0.007"))
    with pytest.raises(ValidationError):
        check_transfer(ledger, VP_A, VP_C, D("0.001"))
    with pytest.raises(ValidationError):
        check_transfer(ledger, VP_A, VP_A, D("0.001"))
    with pytest.raises(ValidationError):
        check_transfer(ledger, VP_A, VP_B, D("0"))


def test_reconcile_rules() -> None:
    ledger = ledger_with_close()
    check_reconcile(ledger, "BTCUSDT", PositionSide.LONG, D("0.51"), {VP_A: D("0.01"), VP_B: D("0.5")})
    check_reconcile(ledger, "BTCUSDT", PositionSide.LONG, D("1"),
                    {unassigned_vp_id("BTCUSDT", PositionSide.LONG): D("1")})
    with pytest.raises(ReconcileError) as info:
        check_reconcile(ledger, "BTCUSDT", PositionSide.LONG, D("0.5"), {VP_A: D("0.01"), VP_B: D("0.5")})
    assert info.value.code == "OVER_ASSIGNED"
    with pytest.raises(UnknownVp):
        check_reconcile(ledger, "BTCUSDT", PositionSide.SHORT, D("1"), {VP_A: D("1")})


def test_archive_rules() -> None:
    ledger = ledger_with_close()
    with pytest.raises(LedgerRuleError) as info:
        check_archive(ledger, VP_A)
    assert info.value.code == "VP_NOT_FLAT"
    ledger.apply(vp(VP_C, "c"))
    check_archive(ledger, VP_C)
    ledger.apply(fill(VP_B, "SELL", "0.5", "95000"))
    ledger.apply(intent("VP-bbbbbb-1708700123456-001", VP_B, "0.1", role=OrderRole.ENTRY, side=Side.BUY))
    with pytest.raises(LedgerRuleError) as info:
        check_archive(ledger, VP_B)
    assert info.value.code == "VP_HAS_ORDERS"


def test_roles_and_shapes() -> None:
    assert role_of(PositionSide.LONG, Side.BUY) is OrderRole.ENTRY
    assert role_of(PositionSide.LONG, Side.SELL) is OrderRole.CLOSE
    assert role_of(PositionSide.SHORT, Side.SELL) is OrderRole.ENTRY
    assert role_of(PositionSide.SHORT, Side.BUY) is OrderRole.CLOSE
    check_order_shape(OrderType.LIMIT, D(1), None, TimeInForce.GTC)
    check_order_shape(OrderType.STOP_MARKET, None, D(1), None)
    for args in [(OrderType.LIMIT, None, None, None), (OrderType.MARKET, D(1), None, None),
                 (OrderType.STOP_MARKET, None, None, None), (OrderType.MARKET, None, None, TimeInForce.GTC),
                 (OrderType.TRAILING_STOP_MARKET, None, D(1), None)]:
        with pytest.raises(ValidationError):
            check_order_shape(*args)


def test_a_close_the_exchange_executed_still_counts_until_its_fills_are_booked() -> None:
    # A holds 0.45; a close of 0.382 is answered FILLED but its fills are late (a stream that lost them, a backfill
    # on its way): the 0.382 is not free for another close in the meantime (it would reduce another VP's quantity)
    ledger = fold([vp(VP_A), fill(VP_A, "BUY", "0.45", "100"), intent("c1", VP_A, "0.382", order_type=OrderType.MARKET,
                                                                      price=None),
                   OrderUpdate(ts=2, client_order_id="c1", status=OrderStatus.FILLED, executed_qty=Decimal("0.382"))])
    assert ledger.vps[VP_A].qty == Decimal("0.45") and not ledger.orders["c1"].is_open
    assert open_close_qty(ledger, VP_A) == Decimal("0.382")
    with pytest.raises(VpGuardViolation):
        check_guard(ledger, VP_A, new_close=Decimal("0.225"))
    check_guard(ledger, VP_A, new_close=Decimal("0.068"))
    # the fills arrive: nothing is counted twice
    ledger.apply(fill(VP_A, "SELL", "0.382", "101", cid="c1"))
    assert ledger.vps[VP_A].qty == Decimal("0.068") and open_close_qty(ledger, VP_A) == 0


def test_a_reconcile_waits_for_fills_the_exchange_reported() -> None:
    # the exchange's 0.068 already holds the close of 0.382; its fills, booked after a reconcile, would take it twice
    ledger = fold([vp(VP_A), fill(VP_A, "BUY", "0.45", "100"), intent("c1", VP_A, "0.382", order_type=OrderType.MARKET,
                                                                      price=None),
                   OrderUpdate(ts=2, client_order_id="c1", status=OrderStatus.FILLED, executed_qty=Decimal("0.382"))])
    with pytest.raises(ReconcileError) as info:
        check_reconcile(ledger, "BTCUSDT", PositionSide.LONG, Decimal("0.068"), {VP_A: Decimal("0.068")})
    assert info.value.code == "RECONCILE_FILLS_PENDING"
    ledger.apply(fill(VP_A, "SELL", "0.382", "101", cid="c1"))
    check_reconcile(ledger, "BTCUSDT", PositionSide.LONG, Decimal("0.068"), {VP_A: Decimal("0.068")})
