"""Safe reconcile: inputs from the current quantities, read-only on a side that is not in MISMATCH unless
"reassign" is opened, a before/after plan, a confirmation before anything is written."""

from __future__ import annotations

from hedgestack.domain.enums import ConsistencyStatus, PositionSide
from hedgestack.engine.views import ReconcileResult, SideStatus
from hedgestack.ui.commands import Commands
from hedgestack.ui.models import AccountModel
from hedgestack.ui.reconcile import ReconcileView, plan
from tests.ui.fakes import INSTRUMENTS, D, FakeTerminal, detail, env, ext, state, vp

STEP = D("0.001")
ALPHA = vp("a", "Alpha", "0.005", "95000")
BETA = vp("b", "Beta", "0.005", "96000")
UNASSIGNED = vp("u", "UNASSIGNED", "0", "0", system=True)


def test_plan_before_after() -> None:
    p = plan([ALPHA, BETA, UNASSIGNED], ext("0.001", "95500"), {"a": D("0"), "b": D("0.001")}, STEP)
    assert p.error is None and p.unassigned == 0
    rows = {r.name: (r.before_qty, r.after_qty, r.after_entry) for r in p.rows}
    assert rows == {"Alpha": (D("0.005"), D("0"), D("0")), "Beta": (D("0.005"), D("0.001"), D("95500")),
                    "UNASSIGNED": (D("0"), D("0"), D("0"))}


def test_plan_remainder_to_unassigned_and_refusals() -> None:
    p = plan([ALPHA, BETA], ext("0.004", "95500"), {"a": D("0.001")}, STEP)
    assert [(r.name, r.after_qty) for r in p.rows] == [("Alpha", D("0.001")), ("Beta", D("0")),
                                                        ("UNASSIGNED", D("0.003"))]
    assert plan([ALPHA], ext("0.004"), {"a": D("0.005")}, STEP).error == (
        "the assignments total 0.005 exceed the exchange's 0.004")
    assert plan([ALPHA], ext("0.004"), {"a": D("-1")}, STEP).error == "Alpha: a quantity cannot be negative"
    assert "not a multiple of the step" in (plan([ALPHA], ext("0.004"), {"a": D("0.0015")}, STEP).error or "")


def build(status: SideStatus) -> tuple[AccountModel, FakeTerminal, ReconcileView]:
    snapshot = state(vps=[ALPHA, BETA], externals=[ext("0.001", "95500")],
                     details={("BTCUSDT", PositionSide.LONG): detail(status, "0.001", "0.010")})
    t = FakeTerminal(snapshot)
    m = AccountModel(["BTCUSDT", "ETHUSDT"], INSTRUMENTS)
    m.load(snapshot)
    delivered: list = []
    view = ReconcileView(m, t, Commands(t, delivered.append))
    view.delivered = delivered  # type: ignore[attr-defined]
    return m, t, view


def test_inputs_start_from_the_current_quantities() -> None:
    _m, _t, view = build(SideStatus.MISMATCH)
    assert view.rec.side_key == "BTCUSDT:LONG"
    assert {w.label: w.value for w in view._widgets.values()} == {"Alpha gets": "0.005", "Beta gets": "0.005"}
    assert view.editable() and all(not w.disabled for w in view._widgets.values())


def test_an_ok_side_is_read_only_until_reassign() -> None:
    _m, t, view = build(SideStatus.OK)
    assert not view.editable() and view.review.disabled
    assert all(w.disabled for w in view._widgets.values())
    view.ask()
    assert not view.confirm.open and t.calls == []
    view.rec.reassign = True
    assert view.editable() and all(not w.disabled for w in view._widgets.values())


def test_nothing_is_written_before_the_confirmation() -> None:
    _m, t, view = build(SideStatus.MISMATCH)
    view._widgets["a"].value = "0"
    view._widgets["b"].value = "0.001"
    assert not view.review.disabled
    view.ask()
    assert view.confirm.open and t.calls == []
    assert "Alpha 0.005 → 0.000, Beta 0.005 → 0.001" in view.confirm.question
    t.answers["reconcile"] = ReconcileResult("BTCUSDT", PositionSide.LONG, ConsistencyStatus.OK, (ALPHA,))
    view.confirm.confirm()
    [(args, _kw)] = t.commands("reconcile")
    assert args == ("BTCUSDT", "LONG", [{"virtual_position_id": "a", "qty": "0"},
                                        {"virtual_position_id": "b", "qty": "0.001"}])


def test_cancel_writes_nothing() -> None:
    _m, t, view = build(SideStatus.MISMATCH)
    view._widgets["a"].value = "0"
    view.ask()
    view.confirm.cancel()
    assert t.calls == [] and not view.confirm.open


def test_moved_quantities_refill_untouched_inputs_and_flag_edited_ones() -> None:
    m, _t, view = build(SideStatus.MISMATCH)
    m.apply([env("VIRTUAL_POSITION_UPDATE", vp("a", "Alpha", "0.004", "95000"))])
    assert view._widgets["a"].value == "0.004"  # untouched: follows the VP
    view._widgets["b"].value = "0.001"  # the trader edits
    m.apply([env("VIRTUAL_POSITION_UPDATE", vp("a", "Alpha", "0.003", "95000"))])
    assert view._widgets["b"].value == "0.001" and view._widgets["a"].value == "0.004"
    assert "changed while you were editing" in view.rec.warning
    view.fill_current()
    assert (view._widgets["a"].value, view._widgets["b"].value) == ("0.003", "0.005")
