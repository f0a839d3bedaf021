"""Export round trip: the published fills come back identical from Parquet, and complete from CSV."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hedgestack.store import export as export_mod
from hedgestack.store.analytics import Analytics, live
from hedgestack.store.eventlog import EventLog
from tests.analytics.conftest import D2, T0


def test_parse_when() -> None:
    assert export_mod.parse_when("2025-11-25") == T0
    assert export_mod.parse_when("2025-11-25", end=True) == T0 + 86_400_000
    assert export_mod.parse_when(str(T0 + 5)) == T0 + 5
    with pytest.raises(ValueError):
        export_mod.parse_when("yesterday")


def test_parquet_round_trip(published_source: Analytics, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    out = tmp_path / "out" / "fills.parquet"
    assert export_mod.export(data_dir, "parquet", out=out) == 6
    back = duckdb.sql(f"SELECT * FROM read_parquet('{out.as_posix()}')").pl()
    assert_frame_equal(back, published_source.fills().drop("date"), check_exact=True)


def test_since_until_and_csv(published_source: Analytics, tmp_path: Path) -> None:
    out = tmp_path / "day2.csv"
    # the whole second day, given as a date; the same by Unix ms
    assert export_mod.export(tmp_path / "data", "csv", since="2025-11-26", until="2025-11-26", out=out) == 3
    frame = pl.read_csv(out, schema_overrides={"price": pl.Utf8})
    assert frame["trade_id"].to_list() == [4, 5, 6]
    assert [Decimal(p) for p in frame["price"]] == [Decimal(120), Decimal(130), Decimal(125)]
    assert export_mod.export(tmp_path / "data", "csv", since=D2, until=str(D2 + 7000), out=out) == 1


def test_live_source_and_cli(log: EventLog, tmp_path: Path) -> None:
    out = tmp_path / "h.parquet"
    assert export_mod.export(live(log), "parquet", out=out, dataset="vp_history") == 10  # 2 created, 6 fills, 2 funding
    parser = argparse.ArgumentParser()
    export_mod.add_arguments(parser)
    from hedgestack.store.publish import Publisher

    Publisher(log, tmp_path / "d").publish()
    args = parser.parse_args(["--format", "csv", "--since", "2025-11-25", "--out", str(tmp_path / "x.csv"),
                              "--data-dir", str(tmp_path / "d")])
    assert export_mod.run(args) == 0
    assert pl.read_csv(tmp_path / "x.csv").height == 6
