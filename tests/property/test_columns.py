"""Replay's fast path: ``Ledger.apply_columns`` gives the state ``apply_all`` gives, over random streams with
every kind of event in between (orders and their updates, renames, archives, TP/SL, transfers, funding,
reconciles), duplicates, fills of unknown VPs, over-reductions, fills kept as events, and batch boundaries
anywhere; and its fixed-point arithmetic equals the Decimal one."""

from __future__ import annotations

import random
from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgestack.domain.enums import OrderRole, OrderStatus, OrderType, PositionSide, SyncStatus, TriggerType
from hedgestack.domain.events import (
    Event,
    Fill,
    OrderIntent,
    OrderUpdate,
    Reconcile,
    TpSlSet,
    TpSlSync,
    VpArchived,
    VpCreated,
    VpRenamed,
)
from hedgestack.domain.ledger import (
    _COST_SCALE,
    DIVISION_CONTEXT,
    LEDGER_CONTEXT,
    MONEY_SCALE,
    QTY_SCALE,
    FillColumns,
    Ledger,
    _release,
    _release_units,
    fold,
    from_units,
    to_units,
)

from .strategies import Stream, streams, with_duplicates

SETTINGS = settings(max_examples=120, deadline=None)


def columns_of(events: list[Event], as_events: set[int]) -> FillColumns:
    """``events`` as the store hands them to replay: fills in the columns (fixed point) unless their index is in
    ``as_events`` or a figure does not fit its scale, everything else as events."""
    n = len(events)
    cols = FillColumns(ts=[e.ts for e in events], symbol=[None] * n, trade_id=[0] * n, order_id=[0] * n,
                       client_order_id=[None] * n, vp_id=[None] * n, side=[None] * n, position_side=[None] * n,
                       qty_units=[0] * n, qty=[None] * n, price_units=[0] * n, commission_units=[0] * n,
                       commission_asset=[None] * n, exchange_rp_units=[0] * n, maker=[None] * n)
    for row, event in enumerate(events):
        units = None
        if type(event) is Fill and row not in as_events:
            units = (to_units(event.qty, QTY_SCALE), to_units(event.price, MONEY_SCALE),
                     to_units(event.commission, MONEY_SCALE), to_units(event.exchange_rp, MONEY_SCALE))
        if units is None or None in units or type(event) is not Fill:
            cols.events[row] = event
            continue
        cols.symbol[row], cols.trade_id[row], cols.order_id[row] = event.symbol, event.trade_id, event.order_id
        cols.client_order_id[row], cols.vp_id[row] = event.client_order_id, event.vp_id
        cols.side[row], cols.position_side[row], cols.qty[row] = event.side, event.position_side, event.qty
        (cols.qty_units[row], cols.price_units[row], cols.commission_units[row],
         cols.exchange_rp_units[row]) = units  # type: ignore[assignment]
        cols.commission_asset[row], cols.maker[row] = event.commission_asset, event.maker
    return cols


def enrich(stream: Stream, rnd: random.Random) -> list[Event]:
    """The stream with orders, order updates, renames, archives, TP/SL, a reconcile, a fill of an unknown VP
    and duplicates put in between its events."""
    out: list[Event] = []
    vps = [e for e in stream.events if isinstance(e, VpCreated)]
    next_cid = iter(range(10**6))
    for event in stream.events:
        if isinstance(event, Fill) and rnd.random() < 0.5:
            cid = f"VP-c-{next(next_cid)}"
            role = OrderRole.ENTRY if event.side is event.position_side.opening_side else OrderRole.CLOSE
            qty = event.qty * rnd.choice([Decimal(1), Decimal(2)])
            out.append(OrderIntent(ts=event.ts, client_order_id=cid, vp_id=event.vp_id, symbol=event.symbol,
                                   position_side=event.position_side, side=event.side, order_type=OrderType.MARKET,
                                   role=role, qty=qty, is_algo=rnd.random() < 0.1))
            if rnd.random() < 0.5:
                out.append(OrderUpdate(ts=event.ts, client_order_id=cid, status=OrderStatus.NEW,
                                       order_id=rnd.choice([None, event.order_id])))
            event = msgspec.structs.replace(event, client_order_id=cid)
            out.append(event)
            if rnd.random() < 0.3:
                out.append(OrderUpdate(ts=event.ts, client_order_id=cid,
                                       status=rnd.choice([OrderStatus.CANCELED, OrderStatus.PARTIALLY_FILLED])))
            continue
        out.append(event)
        if vps and rnd.random() < 0.05:
            target = rnd.choice(vps)
            out.append(rnd.choice([
                VpRenamed(ts=event.ts, vp_id=target.vp_id, name="renamed"),
                VpArchived(ts=event.ts, vp_id=target.vp_id),
                TpSlSet(ts=event.ts, vp_id=target.vp_id, tp_price=Decimal(130), tp_trigger=TriggerType.LAST_PRICE,
                        sl_price=None, sl_trigger=TriggerType.MARK_PRICE),
                TpSlSync(ts=event.ts, vp_id=target.vp_id, status=SyncStatus.OK),
                Reconcile(ts=event.ts, reconcile_id=f"r{len(out)}", symbol=target.symbol,
                          position_side=target.position_side, exchange_qty=Decimal("0.5"),
                          exchange_entry=Decimal("100.123456789"), assignments=((target.vp_id, Decimal("0.25")),)),
            ]))
        if isinstance(event, Fill) and rnd.random() < 0.03:  # a fill naming a VP nobody created
            out.append(msgspec.structs.replace(event, trade_id=event.trade_id + 10**9, vp_id="vp_unknown0"))
    return with_duplicates(out, rnd, rnd.randint(0, 4))


@SETTINGS
@given(streams(over_reduce=True, transfers=True, funding=True, max_steps=40), st.randoms(use_true_random=False))
def test_apply_columns_equals_apply_all(stream: Stream, rnd: random.Random) -> None:
    events = enrich(stream, rnd)
    expected = fold(events)
    ledger = Ledger()
    start = 0
    while start < len(events):  # batches of any size, some fills kept as events (a JSON payload)
        size = rnd.randint(1, 30)
        chunk = events[start:start + size]
        ledger.apply_columns(columns_of(chunk, {i for i in range(len(chunk)) if rnd.random() < 0.1}))
        start += size
    assert ledger == expected
    assert ledger.anomalies == expected.anomalies
    assert ledger.last_ts == expected.last_ts
    for vp_id, book in expected.vps.items():
        assert (ledger.vps[vp_id].fill_count, ledger.vps[vp_id].updated_at) == (book.fill_count, book.updated_at)


@SETTINGS
@given(streams(transfers=True, funding=True, max_steps=40))
def test_columns_in_one_batch_after_a_partial_fold(stream: Stream) -> None:
    events = list(stream.events)
    half = len(events) // 2
    ledger = fold(events[:half])
    ledger.apply_columns(columns_of(events[half:], set()))
    assert ledger == fold(events)


def test_columns_rows_read_back_as_the_events() -> None:
    fill = Fill(ts=5, symbol="BTCUSDT", trade_id=7, order_id=8, client_order_id=None, vp_id="vp_aaaaaaaa",
                side="BUY", position_side="LONG", qty=Decimal("0.012"), price=Decimal("95000.1"),  # type: ignore[arg-type]
                commission=Decimal("0.57000060"), commission_asset="USDT", exchange_rp=Decimal("-1.5"), maker=True)
    created = VpCreated(ts=1, vp_id="vp_aaaaaaaa", name="a", symbol="BTCUSDT", position_side=PositionSide.LONG)
    columns = columns_of([created, fill], set())
    assert list(columns.events_in_order()) == [created, fill]
    assert str(columns.fill(1).commission) == "0.5700006"  # the plain form the store writes


@settings(max_examples=500, deadline=None)
@given(st.integers(-10**30, 10**32), st.integers(1, 10**14), st.integers(1, 10**14), st.integers(0, 10),
       st.integers(0, 10))
def test_release_in_fixed_point_equals_the_decimal_release(cost: int, part: int, whole: int, cost_exp: int,
                                                          qty_exp: int) -> None:
    part, whole = min(part, whole), max(part, whole)
    cost_units = cost * 10**cost_exp  # a cost with at most 28 decimals
    expected = _release(from_units(cost_units, _COST_SCALE), from_units(part * 10**qty_exp, QTY_SCALE),
                        from_units(whole * 10**qty_exp, QTY_SCALE))
    got = _release_units(cost_units, part * 10**qty_exp, whole * 10**qty_exp)
    assert from_units(got, _COST_SCALE) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(-10**40, 10**40), st.integers(0, 28))
def test_units_round_trip(units: int, scale: int) -> None:
    value = from_units(units, scale)
    assert to_units(value, scale) == units
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int) and exponent <= 0  # plain: no positive exponent ...
    assert exponent == 0 or digits[-1] != 0  # ... and no trailing zero after the point
    assert value == Decimal(format(value, "f"))
    assert value == DIVISION_CONTEXT.divide(Decimal(units), Decimal(10) ** scale)
    assert to_units(Decimal("0.1"), 0) is None and to_units(Decimal("1.5"), 1) == 15
    assert LEDGER_CONTEXT.prec == 80 and MONEY_SCALE == 18
