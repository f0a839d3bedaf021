"""Property tests: the ledger fold against the exact Fraction reference in ``reference.py``.

The ledger keeps each VP's cost exactly except for one division, the cost released by a partial reduction
(or moved by a transfer), which it rounds to 1e-18; its avg_entry is cost / qty rounded to 1e-18. So realized
is compared with the reference within 1e-15 absolute (and within the rounding budget the reference tracks),
the cost within that budget, and avg_entry within budget / qty + 1e-18: the cost error is divided by the
quantity, so on dust quantities (8 decimals) avg_entry can be off by more than 1e-15 (see
``test_avg_entry_on_dust_quantity_is_within_1e_15``). Quantities, fees, funding and the PnL conservation sums
are compared exactly (as Fractions, no tolerance).
"""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from hedgestack.domain.enums import PositionSide, Side
from hedgestack.domain.events import Event, Fill, Funding, Transfer, VpCreated
from hedgestack.domain.funding import split_funding
from hedgestack.domain.invariants import check_invariants
from hedgestack.domain.ledger import Ledger, fold
from hedgestack.domain.snapshot import dump_ledger, load_ledger
from hedgestack.store.eventlog import EventLog

from .reference import Reference, SideKey, fold_reference, frac
from .strategies import SYMBOLS, Stream, dependent_shuffle, prices, streams, with_duplicates

TOLERANCE = Fraction(1, 10**15)  # the ledger rounds one division per reduction/transfer to 1e-18
AVG_QUANTUM = Fraction(1, 2 * 10**18)  # avg_entry = cost / qty rounded half-even to 1e-18
DB_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST_SETTINGS = settings(max_examples=60, deadline=None)

valid_streams = streams()
valid_streams_with_transfers = streams(transfers=True, funding=True)
over_reducing_streams = streams(over_reduce=True, transfers=True, funding=True)
db_streams = streams(over_reduce=True, transfers=True, funding=True, max_steps=25)


def marks() -> st.SearchStrategy[dict[str, Decimal]]:
    """One mark price per symbol."""
    return st.fixed_dictionaries({symbol: prices(symbol) for symbol in SYMBOLS})


def ledger_side_total(ledger: Ledger, key: SideKey, mark: Decimal) -> Fraction:
    """Σ over a side's VPs (UNASSIGNED included) of realized + unrealized(mark), exactly."""
    total = Fraction(0)
    for vp in ledger.vps_of(*key):
        view = ledger.view(vp.vp_id)
        total += frac(view.realized_pnl) + frac(view.unrealized_pnl(mark))
    return total


def exchange_positions(ref: Reference, stream: Stream) -> dict[SideKey, Decimal]:
    """The reference side quantities in the form check_invariants takes."""
    out = {}
    for key in stream.sides:
        qty = ref.side(key).qty
        out[key] = Decimal(qty.numerator) / Decimal(qty.denominator)
        assert frac(out[key]) == qty
    return out


def assert_matches_reference(ledger: Ledger, ref: Reference) -> None:
    assert set(ledger.vps) == set(ref.vps)
    for vp_id, want in ref.vps.items():
        got = ledger.view(vp_id)
        assert got.net_qty >= 0
        assert frac(got.net_qty) == want.qty, vp_id
        assert abs(frac(got.cost) - want.qty * want.avg) <= want.cost_error, vp_id
        avg_budget = AVG_QUANTUM + (want.cost_error / want.qty if want.qty else 0)
        assert abs(frac(got.avg_entry) - want.avg) <= avg_budget, (vp_id, got.avg_entry, float(want.avg))
        realized_error = abs(frac(got.realized_pnl) - want.realized)
        assert realized_error <= min(TOLERANCE, want.realized_error), (vp_id, got.realized_pnl, want.realized)
        assert {asset: frac(v) for asset, v in got.fees_by_asset.items()} == want.fees, vp_id
        assert frac(got.fees) == want.fees.get("USDT", 0)
        assert frac(got.funding) == want.funding, vp_id
        assert got.fill_count == want.fill_count


# -- quantities, per-VP figures -------------------------------------------------------------------------
@FAST_SETTINGS
@given(valid_streams_with_transfers)
def test_side_quantity_equals_exchange_side(stream: Stream) -> None:
    ledger, ref = fold(stream.events), fold_reference(list(stream.events))
    assert all(vp.qty >= 0 for vp in ledger.vps.values())
    for key in stream.sides:
        assert frac(ledger.side_qty(*key)) == ref.side(key).qty
    assert check_invariants(ledger, exchange=exchange_positions(ref, stream)) == []
    assert not [a for a in ledger.anomalies if a.kind in ("OVER_REDUCE", "TRANSFER_INVALID")]


@FAST_SETTINGS
@given(over_reducing_streams)
def test_each_vp_matches_the_exact_reference(stream: Stream) -> None:
    assert_matches_reference(fold(stream.events), fold_reference(list(stream.events)))


# -- PnL conservation -----------------------------------------------------------------------------------
@FAST_SETTINGS
@given(valid_streams, marks())
def test_pnl_conservation_is_exact(stream: Stream, mark: dict[str, Decimal]) -> None:
    """Σ VP (realized + unrealized(P)) == the exchange side's realized + unrealized(P), as exact Fractions."""
    ledger, ref = fold(stream.events), fold_reference(list(stream.events))
    for key in stream.sides:
        assert ledger_side_total(ledger, key, mark[key[0]]) == ref.side_total(key, frac(mark[key[0]])), key


@FAST_SETTINGS
@given(valid_streams_with_transfers, marks())
def test_pnl_conservation_holds_through_transfers_and_funding(stream: Stream, mark: dict[str, Decimal]) -> None:
    ledger, ref = fold(stream.events), fold_reference(list(stream.events))
    for key in stream.sides:
        assert ledger_side_total(ledger, key, mark[key[0]]) == ref.side_total(key, frac(mark[key[0]])), key


@FAST_SETTINGS
@given(streams(transfers=True), marks())
def test_transfer_preserves_the_side_total_exactly(stream: Stream, mark: dict[str, Decimal]) -> None:
    assume(stream.has_transfer)
    ledger = Ledger()
    for event in stream.events:
        if isinstance(event, Transfer):
            key = (ledger.vps[event.from_vp].symbol, ledger.vps[event.from_vp].position_side)
            before = ledger_side_total(ledger, key, mark[key[0]])
            realized_before = {v.vp_id: v.realized for v in ledger.vps_of(*key)}
            qty_before = ledger.side_qty(*key)
            assert ledger.apply(event).anomalies == ()
            assert ledger_side_total(ledger, key, mark[key[0]]) == before
            assert {v.vp_id: v.realized for v in ledger.vps_of(*key)} == realized_before
            assert ledger.side_qty(*key) == qty_before
        else:
            ledger.apply(event)


# -- funding split --------------------------------------------------------------------------------------
# More examples (a rounding problem needs |amount| >= 100 with an implied rate) and no shrinking phase: a
# shrink of these streams takes minutes; test_split_funding_allocations_sum_exactly_to_the_amount is the
# minimal example.
@settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(streams(funding=True, transfers=True))
def test_funding_allocations_sum_to_the_amount_and_follow_the_rule(stream: Stream) -> None:
    assume(stream.has_funding)
    ref = Reference()
    for event in stream.events:
        if isinstance(event, Funding):
            shares = [frac(amount) for _, amount in event.allocations]
            assert sum(shares, Fraction(0)) == frac(event.amount)
            assert len({vp_id for vp_id, _ in event.allocations}) == len(event.allocations)
            if event.rate is not None and event.mark is not None:
                want = ref.expected_funding(event.symbol, frac(event.amount), frac(event.rate), frac(event.mark))
                assert {vp_id: frac(a) for vp_id, a in event.allocations} == want
        ref.apply(event)
    ledger = fold(stream.events)
    for symbol in stream.symbols:
        total = sum((frac(e.amount) for e in stream.events if isinstance(e, Funding) and e.symbol == symbol),
                    Fraction(0))
        assert sum((frac(vp.funding) for vp in ledger.vps.values() if vp.symbol == symbol), Fraction(0)) == total


# -- order and duplication ------------------------------------------------------------------------------
@FAST_SETTINGS
@given(over_reducing_streams, st.randoms(use_true_random=False))
def test_any_order_keeping_each_vps_own_order_gives_the_same_state(stream: Stream, rnd: random.Random) -> None:
    shuffled = dependent_shuffle(stream.events, rnd)
    assert sorted(map(id, shuffled)) == sorted(map(id, stream.events))
    assert fold(shuffled) == fold(stream.events)


@FAST_SETTINGS
@given(over_reducing_streams, st.randoms(use_true_random=False), st.integers(1, 30))
def test_duplicated_events_give_the_same_state(stream: Stream, rnd: random.Random, copies: int) -> None:
    duplicated = with_duplicates(stream.events, rnd, copies)
    ledger = fold(duplicated)
    assert ledger == fold(stream.events)
    assert check_invariants(ledger) == []  # invariant 4: each fill counted once


@FAST_SETTINGS
@given(valid_streams_with_transfers)
def test_folding_twice_changes_nothing(stream: Stream) -> None:
    once = fold(stream.events)
    assert fold(stream.events, fold(stream.events)) == once


# -- over-reduction -------------------------------------------------------------------------------------
@FAST_SETTINGS
@given(over_reducing_streams)
def test_over_reduction_is_clamped_reported_and_breaks_invariant_1(stream: Stream) -> None:
    assume(stream.over_reduce)
    ledger, ref = fold(stream.events), fold_reference(list(stream.events))
    assert all(vp.qty >= 0 and vp.cost >= 0 for vp in ledger.vps.values())
    assert any(a.kind == "OVER_REDUCE" for a in ledger.anomalies)
    assert_matches_reference(ledger, ref)  # the reference clamps the same way
    problems = check_invariants(ledger, exchange=exchange_positions(ref, stream))
    broken = [key for key in stream.sides if frac(ledger.side_qty(*key)) != ref.side(key).qty]
    assert broken, "an over-reduction leaves the VPs holding more than the side"
    assert [p for p in problems if p.startswith("1:")]
    assert not [p for p in problems if not p.startswith("1:")]


# -- snapshots and the DuckDB log -----------------------------------------------------------------------
@FAST_SETTINGS
@given(over_reducing_streams)
def test_snapshot_round_trip(stream: Stream) -> None:
    ledger = fold(stream.events)
    loaded = load_ledger(dump_ledger(ledger))
    assert loaded == ledger
    assert loaded.anomalies == ledger.anomalies
    assert loaded.last_ts == ledger.last_ts
    assert fold(stream.events[-3:], loaded) == fold(stream.events[-3:], ledger)


def _batches(events: list[Event], rnd: random.Random) -> list[list[Event]]:
    out, start = [], 0
    while start < len(events):
        size = rnd.randint(1, 12)
        out.append(events[start:start + size])
        start += size
    return out


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("property-eventlog")


_counter = iter(range(10**9))


def _fresh(db_dir: Path) -> Path:
    return db_dir / f"log{next(_counter)}" / "events.duckdb"


@DB_SETTINGS
@given(db_streams, st.randoms(use_true_random=False))
def test_replay_from_the_duckdb_file_gives_the_same_state(db_dir: Path, stream: Stream,
                                                          rnd: random.Random) -> None:
    events = list(stream.events)
    path = _fresh(db_dir)
    log = EventLog(path)
    for batch in _batches(with_duplicates(events, rnd, rnd.randint(0, 5)), rnd):
        log.append(batch)
    assert log.ledger == fold(events)
    assert log.append(events).appended == []  # everything is known already
    log.close()
    reopened = EventLog(path)
    try:
        assert reopened.ledger == fold(events)
        assert reopened.replay(from_zero=True) == fold(events)
        assert reopened.count() == len({e.key for e in events})
    finally:
        reopened.close()


@DB_SETTINGS
@given(db_streams)
def test_append_bulk_then_reopen_gives_the_same_state(db_dir: Path, stream: Stream) -> None:
    events = list(stream.events)
    path = _fresh(db_dir)
    log = EventLog(path)
    assert log.append_bulk(events) == len(events)
    assert log.ledger == fold(events)
    log.close()
    reopened = EventLog(path, use_snapshots=False)
    try:
        assert reopened.ledger == fold(events)
    finally:
        reopened.close()


@DB_SETTINGS
@given(db_streams, st.randoms(use_true_random=False), st.integers(1, 7))
def test_snapshot_plus_tail_equals_replay_from_zero(db_dir: Path, stream: Stream, rnd: random.Random,
                                                    every: int) -> None:
    events = list(stream.events)
    path = _fresh(db_dir)
    log = EventLog(path, snapshot_every=every)
    for batch in _batches(events, rnd):
        log.append(batch)
    log.close(snapshot=False)  # leave a tail after the last snapshot
    reopened = EventLog(path, snapshot_every=every)
    try:
        from_zero = reopened.replay(from_zero=True)
        assert reopened.ledger == from_zero == fold(events)
        assert reopened.replay() == from_zero
        half = reopened.last_seq // 2
        assert reopened.replay(upto_seq=half) == reopened.replay(from_zero=True, upto_seq=half)
    finally:
        reopened.close()


def test_reference_worked_example() -> None:
    """The ledger docstring's worked example, through the reference and the ledger."""
    vp = "vp_00000001"
    events: list[Event] = [_long_vp(vp), _long_fill(1, vp, Side.BUY, "1", "100"),
                           _long_fill(2, vp, Side.BUY, "3", "120"), _long_fill(3, vp, Side.SELL, "2", "130")]
    ref = fold_reference(events)
    assert (ref.vps[vp].avg, ref.vps[vp].realized) == (115, 30)
    events.append(_long_fill(4, vp, Side.SELL, "2", "110"))
    ref, ledger = fold_reference(events), fold(events)
    assert (ref.vps[vp].avg, ref.vps[vp].realized) == (0, 20)
    assert (ledger.view(vp).avg_entry, ledger.view(vp).realized_pnl) == (0, 20)
    assert ref.side(("BTCUSDT", PositionSide.LONG)).realized == 20


# -- deterministic examples of what the properties found ------------------------------------------------
def _long_fill(trade_id: int, vp_id: str, side: Side, qty: str, price: str) -> Fill:
    return Fill(ts=trade_id, symbol="BTCUSDT", trade_id=trade_id, order_id=trade_id, client_order_id=None,
                vp_id=vp_id, side=side, position_side=PositionSide.LONG, qty=Decimal(qty), price=Decimal(price),
                commission=Decimal(0), commission_asset="USDT", exchange_rp=Decimal(0), maker=False)


def _long_vp(vp_id: str) -> VpCreated:
    return VpCreated(ts=0, vp_id=vp_id, name=vp_id, symbol="BTCUSDT", position_side=PositionSide.LONG)


def test_split_funding_allocations_sum_exactly_to_the_amount() -> None:
    """split_funding computes the shares and the remainder in the caller's decimal context (28 digits by
    default), so a share and the remainder are rounded and the allocations miss the amount."""
    ledger = fold([_long_vp("vp_00000001"), _long_vp("vp_00000002"),
                   _long_fill(1, "vp_00000001", Side.BUY, "1.23456789", "60000"),
                   _long_fill(2, "vp_00000002", Side.BUY, "2", "60000")])
    allocations = split_funding(ledger, "BTCUSDT", Decimal("-150"), None, None)
    assert sum((frac(amount) for _, amount in allocations), Fraction(0)) == -150, allocations


@pytest.mark.xfail(strict=True, reason="precision limit, not a conservation bug: the ledger's cost carries "
                   "the 1e-18 rounding of each released cost, and avg_entry = cost / qty divides that error by "
                   "a dust quantity")
def test_avg_entry_on_dust_quantity_is_within_1e_15() -> None:
    events: list[Event] = [_long_vp("vp_00000001"),
                           _long_fill(1, "vp_00000001", Side.BUY, "0.00000001", "20000"),
                           _long_fill(2, "vp_00000001", Side.BUY, "0.00000002", "20000.01"),
                           _long_fill(3, "vp_00000001", Side.SELL, "0.00000001", "20000")]
    exact = fold_reference(events).vps["vp_00000001"].avg  # 60000.02 / 3
    assert abs(frac(fold(events).view("vp_00000001").avg_entry) - exact) <= TOLERANCE
