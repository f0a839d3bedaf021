"""A reconcile that lowers a VP below what its orders cover takes those orders off first (invariant 3)."""

from __future__ import annotations

from decimal import Decimal

from hedgestack.domain.enums import OrderRole
from hedgestack.domain.invariants import check_invariants
from hedgestack.engine.terminal import Terminal
from tests.engine.conftest import Control, assert_consistent, settle, wait_until


def test_reconcile_cancels_closes_and_shrinks_legs_beyond_the_new_quantity(terminal: Terminal,
                                                                          control: Control) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG").id
    terminal.sync.place_order(a, "BUY", "MARKET", "0.010")  # @ 95000
    wait_until(lambda: terminal.sync.vp(a).to_json()["net_qty"] == "0.01")
    terminal.sync.set_tpsl(a, tp_price="99000", sl_price="90000")
    terminal.sync.close_vp(a, "LIMIT", qty="0.004", price="98000")  # rests: covers 0.004, legs 0.006
    settle(terminal, control)
    wait_until(lambda: terminal.sync.vp(a).to_json()["tpsl"]["sync_status"] == "OK")
    # a close from the Binance app takes 0.005 that no VP can take: the side mismatches
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.005", "clientOrderId": "web_close_r"})
    wait_until(lambda: terminal.sync.state().to_json()["reconcile"]["BTCUSDT"]["LONG"] == "MISMATCH", timeout=15)
    result = terminal.sync.reconcile("BTCUSDT", "LONG", [{"virtual_position_id": a, "qty": "0.003"}])
    assert result.status == "OK"

    async def check() -> tuple[list[str], list[tuple[OrderRole, Decimal]]]:
        ledger = terminal.ledger
        return check_invariants(ledger), [(o.role, o.remaining) for o in ledger.open_orders(a)]

    problems, still_open = terminal.run_sync(check())
    assert problems == []  # right after the reset: nothing of A's covers more than its 0.003
    assert (OrderRole.CLOSE, Decimal("0.004")) not in still_open
    assert sum(q for role, q in still_open if role is OrderRole.CLOSE) <= Decimal("0.003")
    wait_until(lambda: terminal.sync.vp(a).to_json()["tpsl"]["sync_status"] == "OK")  # the legs come back at 0.003
    assert_consistent(terminal, control)
