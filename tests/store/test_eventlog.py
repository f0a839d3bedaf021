"""The DuckDB event log: dedupe, batches, replay, snapshots, projections."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from hedgestack.domain.enums import OrderStatus, PositionSide
from hedgestack.domain.errors import StoreError
from hedgestack.domain.events import Funding, OrderUpdate, Transfer
from hedgestack.domain.ledger import fold
from hedgestack.store.analytics import live
from hedgestack.store.eventlog import EventLog
from tests.factories import VP_A, VP_B, fill, intent, vp

D = Decimal
CID = "VP-aaaaaa-1708700123456-001"


def stream():
    return [vp(VP_A, "Trend"), vp(VP_B, "Swing"), fill(VP_A, "BUY", "1", "100", fee="0.05", trade_id=1),
            fill(VP_A, "BUY", "3", "120", fee="0.18", trade_id=2), intent(CID, VP_A, "2", price="130"),
            OrderUpdate(ts=3, client_order_id=CID, status=OrderStatus.NEW, order_id=10),
            fill(VP_A, "SELL", "2", "130", trade_id=3, cid=CID, order_id=10),
            Transfer(ts=4, transfer_id="t1", from_vp=VP_A, to_vp=VP_B, qty=D(1)),
            Funding(ts=5, symbol="BTCUSDT", funding_time=5, amount=D("-0.02"), asset="USDT", rate=D("0.0001"),
                    mark=D(100), allocations=((VP_A, D("-0.01")), (VP_B, D("-0.01"))))]


def test_append_dedupes_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "hedgestack.duckdb"
    events = stream()
    with EventLog(path) as log:
        first = log.append(events[:4])
        assert len(first.appended) == 4
        again = log.append(events)  # the first four are known: only the rest is new
        assert [seq for seq, _ in again.appended] == [5, 6, 7, 8, 9]
        assert log.append(events).appended == []
        assert log.count() == 9
        expected = fold(events)
        assert log.ledger == expected
    with EventLog(path) as reopened:
        assert reopened.ledger == expected
        assert reopened.replay(from_zero=True) == expected
        assert reopened.last_seq == 9


def test_duplicate_inside_one_batch(tmp_path: Path) -> None:
    with EventLog(tmp_path / "x.duckdb") as log:
        f = fill(VP_A, "BUY", "1", "100", trade_id=99)
        result = log.append([vp(VP_A), f, f])
        assert len(result.appended) == 2
        assert log.ledger.view(VP_A).net_qty == 1


def test_vp_history_and_fills_view_carry_realized(tmp_path: Path) -> None:
    with EventLog(tmp_path / "x.duckdb") as log:
        log.append(stream())
        fills = live(log).fills()
        assert fills["trade_id"].to_list() == [1, 2, 3]
        assert [str(x) for x in fills["realized_pnl"].to_list()] == [
            "0E-18", "0E-18", "30.000000000000000000"]  # sell 2 @ 130 against avg 115
        assert fills["vp_name"].to_list() == ["Trend"] * 3
        history = live(log).vp_history(vp=VP_B)
        assert history["net_qty"].to_list()[-2:] == [D(1), D(1)]  # after transfer, after funding
        assert history["avg_entry"].to_list()[-1] == D(115)
        assert history["funding"].to_list()[-1] == D("-0.01")
        assert (history.schema["net_qty"], history.schema["funding"]) == (pl.Decimal(38, 10), pl.Decimal(38, 18))
        orders = live(log).orders()
        assert orders["status"].to_list() == ["NEW"] and str(orders["filled_qty"][0]) == "2.000000000000000000"
        frame = live(log).sql("SELECT vp_id, count(*) AS n FROM fills GROUP BY vp_id")
        assert frame.rows() == [(VP_A, 3)]


def test_snapshot_plus_tail_equals_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    events = stream()
    with EventLog(path, snapshot_every=3) as log:
        for event in events:
            log.append([event])
        snapshots = log.execute("SELECT count(*) FROM snapshots")[0][0]
        assert 1 <= snapshots <= 2  # older ones are pruned
    with EventLog(path) as log:
        assert log.ledger == log.replay(from_zero=True) == fold(events)


def test_bulk_append_equals_append(tmp_path: Path) -> None:
    events = stream()
    with EventLog(tmp_path / "bulk.duckdb") as bulk:
        bulk.append_bulk(events, chunk=4)
        assert bulk.ledger == fold(events)
        assert bulk.replay(from_zero=True) == fold(events)


def test_second_opener_in_same_process_gets_store_error_not_corruption(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    with EventLog(path) as log:
        log.append(stream())
        # DuckDB allows several connections to one file inside one process; a second *process* is refused
        # (tested in test_processes.py). Here a bad query must not break the log.
        with pytest.raises(duckdb.CatalogException):
            log.execute("SELECT * FROM no_such_table")
        assert log.ledger.view(VP_A).net_qty == 1


def test_failed_batch_is_rolled_back_entirely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with EventLog(tmp_path / "x.duckdb") as log:
        log.append([vp(VP_A)])
        original = log.ledger.apply
        calls = {"n": 0}

        def boom(event):  # the third event of the batch fails mid-way
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("disk on fire")
            return original(event)

        monkeypatch.setattr(log.ledger, "apply", boom)
        with pytest.raises(StoreError):
            log.append([fill(VP_A, "BUY", "1", "100", trade_id=1), fill(VP_A, "BUY", "1", "100", trade_id=2),
                        fill(VP_A, "BUY", "1", "100", trade_id=3)])
        assert log.count() == 1
        assert log.ledger.view(VP_A).net_qty == 0
        assert log.ledger == log.replay(from_zero=True)
        result = log.append([fill(VP_A, "BUY", "1", "100", trade_id=1)])
        assert len(result.appended) == 1 and log.last_seq == 2


def test_unassigned_side_listed(tmp_path: Path) -> None:
    with EventLog(tmp_path / "x.duckdb") as log:
        log.append([vp(VP_A), fill("vp_zzzzzzzz", "SELL", "1", "100", position_side="SHORT", trade_id=5)])
        assert log.ledger.side_qty("BTCUSDT", PositionSide.SHORT) == 1
