"""The end-of-scenario audit: each kind of disagreement with the exchange is found and counted."""

from __future__ import annotations

from hedgestack.domain.enums import OrderRole, OrderStatus, OrderType, Side
from hedgestack.domain.events import OrderUpdate
from hedgestack.domain.ids import unassigned_vp_id
from hedgestack.domain.ledger import Ledger
from hedgestack.engine.audit import audit, state_digest
from tests.factories import fill, intent, vp

VP_A, VP_B = "vp_aaaaaaaa", "vp_bbbbbbbb"
CID_A = "VP-aaaaaa-1700000000000-000"
UNASSIGNED = unassigned_vp_id("BTCUSDT", "LONG")


def trade(tid: int, cid: str, qty: str = "0.002", price: str = "95000", fee: str = "0.095", order_id: int = 7,
          time: int = 10) -> dict:
    return {"id": tid, "orderId": order_id, "symbol": "BTCUSDT", "positionSide": "LONG", "qty": qty,
            "price": price, "commission": fee, "time": time, "clientOrderId": cid}


def book() -> tuple[Ledger, list[tuple]]:
    """A buys 0.002 + 0.002 through its order; a foreign 0.001 lands on UNASSIGNED: 0.005 on the side."""
    ledger = Ledger()
    ledger.apply_all([vp(VP_A, "A"), vp(VP_B, "B"),
                      intent(CID_A, VP_A, "0.004", role=OrderRole.ENTRY, side=Side.BUY, order_type=OrderType.MARKET,
                             price=None, ts=5),
                      fill(VP_A, "BUY", "0.002", "95000", fee="0.095", trade_id=1, cid=CID_A, order_id=7),
                      fill(VP_A, "BUY", "0.002", "95000", fee="0.095", trade_id=2, cid=CID_A, order_id=7),
                      fill(UNASSIGNED, "BUY", "0.001", "95000", fee="0.0475", trade_id=3, cid="web_1", order_id=8)])
    rows = [("BTCUSDT", 1, VP_A, "0.002", "95000", "0.095"), ("BTCUSDT", 2, VP_A, "0.002", "95000", "0.095"),
            ("BTCUSDT", 3, UNASSIGNED, "0.001", "95000", "0.0475")]
    return ledger, rows


def truth(*trades: dict, position: str = "0.005") -> dict:
    return {"positions": [{"symbol": "BTCUSDT", "positionSide": "LONG", "positionAmt": position}],
            "trades": list(trades)}


def agreeing() -> dict:
    return truth(trade(1, CID_A), trade(2, CID_A), trade(3, "web_1", qty="0.001", fee="0.0475", order_id=8))


def test_a_ledger_that_agrees_passes() -> None:
    ledger, rows = book()
    report = audit(ledger, rows, agreeing())
    assert report.ok, report.as_dict()
    assert (report.trades, report.logged) == (3, 3)


def test_a_trade_missing_from_the_log_is_lost() -> None:
    ledger, rows = book()
    report = audit(ledger, rows, {**agreeing(), "trades": [*agreeing()["trades"], trade(4, CID_A)]})
    assert report.lost == 1 and not report.ok


def test_a_row_twice_is_doubled_and_a_row_the_exchange_never_made_is_unknown() -> None:
    ledger, rows = book()
    report = audit(ledger, [*rows, rows[0], ("BTCUSDT", 99, VP_A, "0.002", "95000", "0")], agreeing())
    assert (report.doubled, report.unknown) == (1, 1)


def test_a_fill_booked_to_another_vp_is_misattributed() -> None:
    ledger, rows = book()
    rows[1] = ("BTCUSDT", 2, VP_B, "0.002", "95000", "0.095")
    assert audit(ledger, rows, agreeing()).misattributed == 1
    rows[1] = ("BTCUSDT", 2, VP_A, "0.002", "95000", "0.095")
    rows[2] = ("BTCUSDT", 3, VP_A, "0.001", "95000", "0.0475")  # a foreign fill belongs to UNASSIGNED
    assert audit(ledger, rows, agreeing()).misattributed == 1


def test_figures_that_differ_from_the_exchange_are_counted() -> None:
    ledger, rows = book()
    rows[0] = ("BTCUSDT", 1, VP_A, "0.002", "95000.1", "0.095")
    assert audit(ledger, rows, agreeing()).wrong_figures == 1
    # the same value in another exponent is not a difference
    rows[0] = ("BTCUSDT", 1, VP_A, "0.0020", "95000.00", "0.09500")
    assert audit(ledger, rows, agreeing()).ok


def test_a_trade_of_ours_without_an_intent_or_with_a_later_intent_is_invariant_5() -> None:
    ledger, rows = book()
    other = "VP-aaaaaa-1700000000001-000"
    report = audit(ledger, rows, {**agreeing(), "trades": [trade(1, other), *agreeing()["trades"][1:]]})
    assert report.intents_missing == 1
    early = agreeing()
    early["trades"][0]["time"] = 4  # the intent was written at ts 5: after the trade
    assert audit(ledger, rows, early).intents_missing == 1


def test_a_side_that_differs_from_the_exchange_breaks_invariant_1() -> None:
    ledger, rows = book()
    report = audit(ledger, rows, {**agreeing(), "positions": truth(position="0.004")["positions"]})
    assert report.invariants == ["1: BTCUSDT LONG VPs hold 0.005, the exchange 0.004"]
    assert audit(ledger, rows, {**agreeing(), "positions": truth(position="0.004")["positions"]},
                 check_sides=False).ok


def test_state_digest_compares_ledgers_across_processes() -> None:
    first, _ = book()
    second, _ = book()
    assert state_digest(first) == state_digest(second)
    second.apply(fill(VP_B, "BUY", "0.002", "95000", trade_id=4))
    assert state_digest(first) != state_digest(second)


def test_an_order_of_ours_open_on_the_exchange_but_not_in_the_ledger_is_an_orphan() -> None:
    ledger, rows = book()
    resting = "VP-aaaaaa-1700000000005-000"  # a limit close of A, resting
    ledger.apply_all([intent(resting, VP_A, "0.002", price="99000", ts=6),
                      OrderUpdate(ts=7, client_order_id=resting, status=OrderStatus.NEW, order_id=9)])
    open_here = {**agreeing(), "open_orders": [{"clientOrderId": resting, "status": "NEW"},
                                               {"clientOrderId": "web_2", "status": "NEW"}]}  # foreign: not ours
    assert audit(ledger, rows, open_here).ok  # open on both sides
    ledger.apply(OrderUpdate(ts=8, client_order_id=resting, status=OrderStatus.CANCELED, order_id=9))
    unknown_algo = {"clientAlgoId": "VP-aaaaaa-1700000000009-000", "algoStatus": "NEW"}
    report = audit(ledger, rows, {**open_here, "open_algo_orders": [unknown_algo]})
    assert report.orphans == 2 and not report.ok  # canceled in the ledger; the algo order unknown to it
