"""The consistency state of one side (``truth.evaluate``, pure): each row of its table, and a reason that says why
while the quantities travel beside it (a screen that printed both said them twice)."""

from __future__ import annotations

from decimal import Decimal

from hedgestack.engine.truth import UNKNOWN, SideState, SideTruth, evaluate
from hedgestack.engine.views import SideStatus

GRACE = 3_000
STALE = 10_000
D = Decimal


def state(now: int, truth: SideTruth, vp_qty: str, previous: SideState = UNKNOWN, *,
          catching_up: bool = False) -> SideState:
    return evaluate(now=now, truth=truth, vp_qty=D(vp_qty), previous=previous, catching_up=catching_up,
                    grace_ms=GRACE, stale_ms=STALE)


def test_not_confirmed_is_never_ok() -> None:
    assert state(1_000, SideTruth(qty=D("0.010")), "0.010").status is SideStatus.STALE
    assert state(1_000, SideTruth(qty=D("0.010")), "0.010", catching_up=True).status is SideStatus.SYNCING


def test_ok_only_while_recently_confirmed() -> None:
    truth = SideTruth(qty=D("0.010"), confirmed_at=1_000, rest_at=1_000)
    assert state(1_000 + STALE, truth, "0.010").status is SideStatus.OK
    late = state(1_001 + STALE, truth, "0.010")
    assert late.status is SideStatus.STALE and late.reason == "last confirmed by the exchange 10 s ago"


def test_a_difference_waits_for_the_fills_then_is_a_mismatch_confirmed_over_rest() -> None:
    truth = SideTruth(qty=D("0.008"), confirmed_at=1_000, rest_at=500)  # the stream's figure, the last read before
    waiting = state(1_000, truth, "0.010", SideState(SideStatus.OK, None, None))
    assert (waiting.status, waiting.reason, waiting.diverged_since) == (SideStatus.SYNCING, "waiting for the fills",
                                                                        1_000)
    # past the grace, but the last REST read is older than the difference: not yet
    assert state(1_000 + GRACE, truth, "0.010", waiting).status is SideStatus.SYNCING
    read = SideTruth(qty=D("0.008"), confirmed_at=2_000, rest_at=2_000)
    mismatch = state(1_000 + GRACE, read, "0.010", waiting)
    assert mismatch.status is SideStatus.MISMATCH
    # why, not the quantities: those are the view's exchange_qty and vp_qty
    assert mismatch.reason == "confirmed over REST beyond the 3 s grace"
    assert "0.008" not in mismatch.reason and "0.01" not in mismatch.reason


def test_mismatch_sticks_until_they_agree() -> None:
    read = SideTruth(qty=D("0.008"), confirmed_at=5_000, rest_at=5_000)
    mismatch = SideState(SideStatus.MISMATCH, "confirmed over REST beyond the 3 s grace", 1_000)
    assert state(6_000, read, "0.009", mismatch) == mismatch
    assert state(6_000, read, "0.008", mismatch).status is SideStatus.OK
