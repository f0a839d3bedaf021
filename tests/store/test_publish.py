"""Publication: incremental parts, compaction, manifest-consistent reads, retired files removed later."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import hedgestack.analytics
from hedgestack.store import publish
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import Publisher, read_manifest
from tests.factories import VP_A, VP_B, fill, vp

DAY = 86_400_000
T0 = 1_764_000_000_000


def test_incremental_parts_compaction_and_retirement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish, "COMPACT_AT", 4)
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        publisher = Publisher(log, tmp_path)
        log.append([vp(VP_A)])
        reader = hedgestack.analytics.open(tmp_path)
        for n in range(1, 7):
            log.append([fill(VP_A, "BUY", "0.001", "100", trade_id=n, ts=T0 + n * 1000 + (DAY if n > 4 else 0))])
            report = publisher.publish()
            assert report.files["fills"] == 1  # only the new row is written
            frame = reader.fills()
            assert frame["trade_id"].to_list() == list(range(1, n + 1))  # never a row twice, never one missing
        manifest = read_manifest(tmp_path / "published" / "fills")
        first_day = [f for f in manifest["files"] if f.startswith("date=2025-11-24")]
        assert len(first_day) == 1 and "merged-" in first_day[0]  # 4 parts of the first day merged
        assert len(manifest["retired"]) == 4
        assert all((tmp_path / "published" / "fills" / name).exists() for name, _ in manifest["retired"])
        monkeypatch.setattr(publish, "GRACE_SECONDS", 0.0)
        log.append([fill(VP_A, "SELL", "0.001", "110", trade_id=7, ts=T0 + DAY + 9000)])
        publisher.publish()
        manifest = read_manifest(tmp_path / "published" / "fills")
        assert manifest["retired"] == []
        assert len(list((tmp_path / "published" / "fills").glob("date=*/*.parquet"))) == len(manifest["files"])
        frame = reader.fills()
        assert frame["trade_id"].to_list() == list(range(1, 8))
        assert frame["realized_pnl"].to_list()[-1] == Decimal("0.01")  # 0.001 × (110 − 100)
        assert publisher.publish().files == {"fills": 0, "vp_changes": 0, "marks": 0, "orders": 0, "vp_eod": 0,
                                            "marks_eod": 0, "vp_equity": 0}


# -- layouts: vp_equity per VP and period, marks_eod, chunked first publication ------------------------------
JAN30 = 20_483 * DAY  # 2026-01-30 00:00 UTC
HOUR = 3_600_000


def _equity_rows(reader) -> list[tuple]:
    return reader.sql("SELECT vp_id, ts, net_equity FROM vp_equity").rows()  # in the files' order, no ORDER BY


def test_vp_equity_lies_per_vp_in_month_and_day_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish, "GRACE_SECONDS", 0.0)
    base = tmp_path / "published" / "vp_equity"
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        publisher = Publisher(log, tmp_path)
        log.append([vp(VP_A), vp(VP_B, side="SHORT"),
                    fill(VP_A, "BUY", "1", "100", trade_id=1, ts=JAN30 + HOUR),
                    fill(VP_B, "SELL", "2", "100", trade_id=2, ts=JAN30 + HOUR, position_side="SHORT")])
        log.append_marks([("BTCUSDT", JAN30 + k * 12 * HOUR, Decimal(100 + k)) for k in range(1, 4)])  # to Jan 31
        publisher.publish()
        reader = hedgestack.analytics.open(tmp_path)
        names = read_manifest(base)["files"]
        # January is the data's current month: a file per VP per day
        assert sorted({name.rsplit("_", 1)[0] for name in names}) == [
            f"vp_id={v}/2026-01-{d}" for v in (VP_A, VP_B) for d in (30, 31)]
        first = _equity_rows(reader)
        assert first == sorted(first)  # the files' order is (vp_id, ts)
        # February starts: January's days become one month file per VP, February's are day files
        log.append_marks([("BTCUSDT", JAN30 + k * 12 * HOUR, Decimal(100 + k)) for k in range(4, 7)])  # to Feb 2
        report = publisher.publish()
        names = read_manifest(base)["files"]
        assert sorted({name.rsplit("_", 1)[0] for name in names}) == [
            f"vp_id={v}/{p}" for v in (VP_A, VP_B) for p in ("2026-01", "2026-02-01", "2026-02-02")]
        assert report.files["vp_equity"] == 6
        rows = _equity_rows(reader)
        assert rows == sorted(rows) and len(rows) == 12 and rows[:3] == first[:3]
        assert_equity_matches_live(log, reader)
        # a late fill of VP_A stamped on January 31: VP_A's January file and February days again, VP_B untouched
        vp_b = [name for name in names if VP_B in name]
        log.append([fill(VP_A, "BUY", "1", "90", trade_id=3, ts=JAN30 + 30 * HOUR)])
        publisher.publish()
        names = read_manifest(base)["files"]
        assert [name for name in names if VP_B in name] == vp_b
        retired = {name for name, _ in read_manifest(base)["retired"]}
        assert len([name for name in names if VP_A in name]) == 3 and not set(names) & retired
        assert len([name for name in retired if VP_A in name]) == 3
        assert_equity_matches_live(log, reader)
        assert len(list(base.rglob("*.parquet"))) >= len(names)
        publisher.publish()  # nothing new; the retired files go (no grace here)
        assert len(list(base.rglob("*.parquet"))) == len(read_manifest(base)["files"])


def assert_equity_matches_live(log: EventLog, reader) -> None:
    from polars.testing import assert_frame_equal

    from hedgestack.store import metrics
    from hedgestack.store.analytics import live

    assert_frame_equal(metrics.equity_curve(reader), metrics.equity_curve(live(log)), check_exact=True)
    assert metrics.equity_curve(reader, vp=VP_B)["vp_id"].unique().to_list() == [VP_B]


def test_marks_eod_reader_adds_marks_published_after_it(tmp_path: Path) -> None:
    import json

    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        publisher = Publisher(log, tmp_path)
        log.append([vp(VP_A)])
        log.append_marks([("BTCUSDT", T0 + 1000, Decimal(100)), ("ETHUSDT", T0 + 2000, Decimal(10))])
        publisher.publish()
        log.append_marks([("BTCUSDT", T0 + 3000, Decimal(101)), ("BTCUSDT", T0 + DAY, Decimal(102))])
        publisher.publish()
        expected = log.execute("SELECT symbol, day, ts, mark FROM marks_eod ORDER BY symbol, day")
        assert [row[3] for row in expected] == [Decimal(101), Decimal(102), Decimal(10)]
        reader = hedgestack.analytics.open(tmp_path)
        assert reader.sql("SELECT symbol, day, ts, mark FROM marks_eod ORDER BY symbol, day").rows() == expected
        # a reader between the marks' manifest and the rollup's: the marks after the rollup's mark count too
        base = tmp_path / "published" / "marks_eod"
        manifest = read_manifest(base)
        (old, _), = manifest["retired"]
        manifest.update(files=[old], mark=T0 + 2000, retired=[])
        (base / "_manifest.json").write_text(json.dumps(manifest))
        reader = hedgestack.analytics.open(tmp_path)
        assert reader.sql("SELECT symbol, day, ts, mark FROM marks_eod ORDER BY symbol, day").rows() == expected


def test_a_long_backlog_is_published_in_chunks_with_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(publish, "CHUNK", 4)
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        log.append([vp(VP_A)] + [fill(VP_A, "BUY", "0.001", "100", trade_id=n, ts=T0 + n) for n in range(1, 11)])
        report = Publisher(log, tmp_path).publish(progress=False)
        assert report.files["fills"] == 3  # seqs 1-4, 5-8, 9-11: one part each (one date)
        assert hedgestack.analytics.open(tmp_path).fills()["trade_id"].to_list() == list(range(1, 11))
        assert capsys.readouterr().out == ""  # no bar unless asked for


def test_a_directory_published_in_the_older_layout_is_read_and_then_rewritten(tmp_path: Path) -> None:
    """Before this layout, vp_equity, vp_eod and orders lay in date=YYYY-MM-DD/ files (vp_equity with its VP as a
    column): a reader still reads such a directory, and the next publication rewrites what it must."""
    import json

    from hedgestack.store import metrics
    from hedgestack.store.analytics import live

    base = tmp_path / "published" / "vp_equity"
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        publisher = Publisher(log, tmp_path)
        log.append([vp(VP_A), fill(VP_A, "BUY", "1", "100", trade_id=1, ts=JAN30 + HOUR)])
        log.append_marks([("BTCUSDT", JAN30 + k * 12 * HOUR, Decimal(100 + k)) for k in range(1, 4)])
        publisher.publish()
        # the same rows as the older publisher wrote them
        old = base / "date=2026-01-30"
        old.mkdir()
        rows = log.execute("SELECT count(*) FROM vp_equity")[0][0]
        log.cursor().execute(f"COPY (SELECT * EXCLUDE (gen) FROM vp_equity ORDER BY vp_id, ts) "
                             f"TO '{(old / 'equity-000000000001-0.parquet').as_posix()}' (FORMAT parquet)")
        manifest = read_manifest(base)
        manifest.update(files=["date=2026-01-30/equity-000000000001-0.parquet"], retired=[])
        (base / "_manifest.json").write_text(json.dumps(manifest))
        reader = hedgestack.analytics.open(tmp_path)
        assert metrics.equity_curve(reader).height == rows  # read as it is
        log.append_marks([("BTCUSDT", JAN30 + 4 * 12 * HOUR, Decimal(105))])
        publisher.publish()  # every VP written again in the VP/period layout, the old file retired
        manifest = read_manifest(base)
        assert all(name.startswith("vp_id=") for name in manifest["files"])
        assert [name for name, _ in manifest["retired"]] == ["date=2026-01-30/equity-000000000001-0.parquet"]
        assert metrics.equity_curve(reader).equals(metrics.equity_curve(live(log)))


def test_orders_rewritten_by_period_without_a_row_twice(tmp_path: Path) -> None:
    """An order of January updated in February: January's day files become one month file, no order twice."""
    from hedgestack.domain.enums import OrderStatus
    from hedgestack.domain.events import OrderUpdate
    from tests.factories import intent

    base = tmp_path / "published" / "orders"
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        publisher = Publisher(log, tmp_path)
        log.append([vp(VP_A), fill(VP_A, "BUY", "1", "100", trade_id=1, ts=JAN30),
                    intent("VP-aaaaaa-1-001", VP_A, "0.5", ts=JAN30 + HOUR),
                    intent("VP-aaaaaa-2-002", VP_A, "0.5", ts=JAN30 + 30 * HOUR)])
        publisher.publish()
        assert sorted(name.split("/")[0] for name in read_manifest(base)["files"]) == ["date=2026-01-30",
                                                                                        "date=2026-01-31"]
        log.append([intent("VP-aaaaaa-3-003", VP_A, "0.5", ts=JAN30 + 60 * HOUR),  # February 1
                    OrderUpdate(ts=JAN30 + 61 * HOUR, client_order_id="VP-aaaaaa-1-001", status=OrderStatus.CANCELED)])
        publisher.publish()
        assert sorted(name.split("/")[0] for name in read_manifest(base)["files"]) == ["date=2026-02-01",
                                                                                        "month=2026-01"]
        orders = hedgestack.analytics.open(tmp_path).orders()
        assert orders["client_order_id"].to_list() == ["VP-aaaaaa-1-001", "VP-aaaaaa-2-002", "VP-aaaaaa-3-003"]
        assert orders["status"].to_list()[0] == "CANCELED"
