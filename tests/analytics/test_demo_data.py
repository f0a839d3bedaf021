"""demo-data writes exactly what the terminal would publish for the same events: schema and values."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hedgestack.domain.enums import OrderRole, OrderStatus, OrderType, PositionSide, Side, TimeInForce
from hedgestack.domain.events import Event, Fill, Funding, OrderIntent, OrderUpdate, VpCreated
from hedgestack.store import demo_data, metrics
from hedgestack.store.analytics import open_published
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import Publisher, manifest_files, read_manifest

DATASETS = {"fills": "seq", "orders": "client_order_id", "vp_changes": "seq, vp_id", "marks": "symbol, ts",
            "vp_eod": "vp_id, day", "marks_eod": "symbol, day", "vp_equity": "vp_id, ts"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    demo_data.generate(out, fills=800, seed=7, progress=False, days=40)  # January (month files) and February
    return out


def _read(root: Path, dataset: str) -> pl.DataFrame:
    files = ", ".join(f"'{p.as_posix()}'" for p in manifest_files(root / "published" / dataset))
    return duckdb.sql(f"SELECT * FROM read_parquet([{files}], hive_partitioning = {dataset == 'vp_equity'}) "
                      f"ORDER BY {DATASETS[dataset]}").pl()


def _events_from(root: Path) -> tuple[list[Event], list[tuple[str, int, Decimal]]]:
    """The events a terminal would have logged for the demo history, rebuilt from the demo Parquet."""
    fills, orders, marks = (_read(root, name) for name in ("fills", "orders", "marks"))
    history = open_published(root).vp_history()
    orders_by_cid = {row["client_order_id"]: row for row in orders.iter_rows(named=True)}
    created = history.filter(pl.col("event_kind") == "vp_created")
    funding = (history.sort("seq", "vp_id")
               .with_columns(prev=pl.col("funding").cast(pl.Decimal(38, 18)).shift(1, fill_value=0).over("vp_id"))
               .filter(pl.col("event_kind") == "funding"))
    timeline: list[tuple[int, Event]] = []
    for row in created.iter_rows(named=True):
        timeline.append((row["seq"], VpCreated(ts=row["ts"], vp_id=row["vp_id"], name=row["name"],
                                               symbol=row["symbol"], position_side=PositionSide(row["position_side"]))))
    for row in fills.iter_rows(named=True):
        order = orders_by_cid[row["client_order_id"]]
        limit = order["order_type"] == "LIMIT"
        timeline.append((row["seq"] - 2, OrderIntent(
            ts=order["created_at"], client_order_id=row["client_order_id"], vp_id=row["vp_id"],
            symbol=row["symbol"], position_side=PositionSide(row["position_side"]), side=Side(row["side"]),
            order_type=OrderType(order["order_type"]), role=OrderRole(order["role"]), qty=order["qty"].normalize(),
            price=order["price"].normalize() if limit else None, time_in_force=TimeInForce.GTC if limit else None,
            mark=order["mark_at_intent"].normalize())))
        timeline.append((row["seq"] - 1, OrderUpdate(ts=row["ts"], client_order_id=row["client_order_id"],
                                                     status=OrderStatus.FILLED, order_id=row["order_id"])))
        timeline.append((row["seq"], Fill(
            ts=row["ts"], symbol=row["symbol"], trade_id=row["trade_id"], order_id=row["order_id"],
            client_order_id=row["client_order_id"], vp_id=row["vp_id"], side=Side(row["side"]),
            position_side=PositionSide(row["position_side"]), qty=row["qty"].normalize(),
            price=row["price"].normalize(), commission=row["commission"].normalize(), commission_asset="USDT",
            exchange_rp=row["exchange_rp"].normalize(), maker=row["maker"])))
    for (seq, ts, symbol), group in funding.group_by(["seq", "ts", "symbol"], maintain_order=True):
        allocations = tuple((r["vp_id"], (r["funding"] - r["prev"]).normalize())
                            for r in group.iter_rows(named=True))
        timeline.append((seq, Funding(ts=ts, symbol=symbol, funding_time=ts,
                                      amount=sum((a for _, a in allocations), Decimal(0)), asset="USDT",
                                      rate=None, mark=None, allocations=allocations)))
    timeline.sort(key=lambda pair: pair[0])
    assert [seq for seq, _ in timeline] == list(range(1, len(timeline) + 1))  # no gap, no clash
    return [event for _, event in timeline], [(r[0], r[1], Decimal(r[2])) for r in marks.iter_rows()]


def test_demo_equals_what_the_terminal_publishes(demo: Path, tmp_path: Path) -> None:
    events, marks = _events_from(demo)
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        log.append(events)
        assert log.ledger.anomalies == []
        log.append_marks(marks)
        Publisher(log, tmp_path).publish()
    for dataset in DATASETS:
        ours, theirs = _read(demo, dataset), _read(tmp_path, dataset)
        assert ours.schema == theirs.schema, dataset
        assert_frame_equal(ours, theirs, check_exact=True)
        # and the physical Parquet schema, column for column (whether a column is REQUIRED or OPTIONAL follows
        # DuckDB's statistics of the table a file is copied from, not its meaning)
        ours_file = manifest_files(demo / "published" / dataset)[0]
        theirs_file = manifest_files(tmp_path / "published" / dataset)[0]
        query = ("SELECT name, type, type_length, converted_type, scale, precision, logical_type "
                 "FROM parquet_schema('{}')")
        assert duckdb.sql(query.format(ours_file)).fetchall() == duckdb.sql(query.format(theirs_file)).fetchall()
    # the reader's views agree too, and the rollup marks are the same
    ours_reader, theirs_reader = open_published(demo), open_published(tmp_path)
    for view, order in (("vp_history", "seq, vp_id"), ("vp_eod_current", "vp_id, day"), ("fills", "seq")):
        assert_frame_equal(ours_reader.sql(f"SELECT * FROM {view} ORDER BY {order}"),
                           theirs_reader.sql(f"SELECT * FROM {view} ORDER BY {order}"), check_exact=True)
    for dataset in ("fills", "vp_changes", "vp_eod"):
        assert read_manifest(demo / "published" / dataset)["mark"] == read_manifest(
            tmp_path / "published" / dataset)["mark"] == len(events)


def test_demo_has_what_the_metrics_need(demo: Path) -> None:
    a = open_published(demo)
    vps = a.sql("SELECT DISTINCT symbol, position_side, vp_id FROM fills")
    assert vps.height == 8 and set(vps["symbol"]) == {"BTCUSDT", "ETHUSDT"}
    trips = metrics.round_trips(a)
    assert trips.filter(pl.col("closed")).height > 50
    assert set(trips["result"]) >= {"WIN", "LOSS"}
    assert metrics.fee_funding_drag(a)["funding"].to_list().count(Decimal(0)) < 8  # funding was booked
    maker = metrics.maker_taker(a)["maker_share"].to_list()
    assert all(0.2 < share < 0.6 for share in maker)
    slip = metrics.slippage(a, per="vp")
    assert slip.height == 8 and all(bps > 0 for bps in slip["slippage_bps"])  # takers dominate: net cost
    assert metrics.mae_mfe(a)["samples"].sum() > 0


def test_cli(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    demo_data.add_arguments(parser)
    args = parser.parse_args(["--fills", "500", "--out", str(tmp_path), "--seed", "3"])
    assert demo_data.run(args) == 0
    assert _read(tmp_path, "fills").height == 500
