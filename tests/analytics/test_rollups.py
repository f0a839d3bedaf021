"""The vp_eod rollup (last state per VP per UTC day), live and published, refreshed incrementally or not.

Hand-computed on the conftest history:
  VP_A day 1: last change is the funding at T0+8h → net_qty 2, avg 105, realized 0, fees 0.1, funding -0.1.
  VP_A day 2: last change is the sell at D2+8000 → flat, realized 30 - 5 = 25, fees 0.2, funding -0.1.
  VP_B day 1: last change is the funding → net_qty 1 (short), avg 115, realized 0, fees 0, funding 0.05.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from polars.testing import assert_frame_equal

from hedgestack.domain.enums import PositionSide
from hedgestack.domain.events import VpCreated
from hedgestack.store.analytics import Analytics, live, open_published
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import Publisher, read_manifest
from tests.analytics.conftest import DAY, MARKS, T0, VP_A, VP_B, history
from tests.factories import VP_C

D = Decimal
DAY1, DAY2 = dt.date(2025, 11, 25), dt.date(2025, 11, 26)
EXPECTED = [  # vp_id, day, net_qty, avg_entry, realized_pnl, fees, funding
    (VP_A, DAY1, D(2), D(105), D(0), D("0.1"), D("-0.1")),
    (VP_A, DAY2, D(0), D(0), D(25), D("0.2"), D("-0.1")),
    (VP_B, DAY1, D(1), D(115), D(0), D(0), D("0.05")),
]
COLUMNS = "vp_id, day, net_qty, avg_entry, realized_pnl, fees, funding"


def _rows(source: Analytics) -> list[tuple]:
    return source.sql(f"SELECT {COLUMNS} FROM vp_eod_current ORDER BY vp_id, day").rows()


def test_hand_computed_end_of_day_rows(source: Analytics) -> None:
    assert _rows(source) == EXPECTED


def test_rollup_is_incremental_and_the_view_exact_in_between(tmp_path: Path) -> None:
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        cursor = log.cursor()
        marks = [log.rollup_mark()]
        for event in history():
            log.append([event])
            # without a refresh the view adds the rows after the mark: still exact (log.cursor() flushes the
            # journal, as every reader of the log does)
            stale = log.cursor().execute(f"SELECT {COLUMNS} FROM vp_eod_current ORDER BY vp_id, day").fetchall()
            marks.append(log.refresh_rollups())
            fresh = cursor.execute(f"SELECT {COLUMNS} FROM vp_eod_current ORDER BY vp_id, day").fetchall()
            table = cursor.execute(f"SELECT {COLUMNS} FROM vp_eod ORDER BY vp_id, day").fetchall()
            assert stale == fresh == table
        assert marks == list(range(len(history()) + 1))  # each refresh folded exactly the new event
        assert cursor.execute(f"SELECT {COLUMNS} FROM vp_eod ORDER BY vp_id, day").fetchall() == EXPECTED
        assert log.refresh_rollups() == log.last_seq  # nothing new: nothing done
    with EventLog(tmp_path / "once.duckdb") as once:
        once.append(history())
        assert once.rollup_mark() == 0
        assert once.cursor().execute(f"SELECT {COLUMNS} FROM vp_eod_current ORDER BY vp_id, day").fetchall() == EXPECTED
        once.refresh_rollups(upto_seq=3)  # part of the way: the view still adds the rest
        assert once.rollup_mark() == 3
        assert once.cursor().execute(f"SELECT {COLUMNS} FROM vp_eod_current ORDER BY vp_id, day").fetchall() == EXPECTED


def test_published_rollup_rewrites_only_the_months_that_changed(tmp_path: Path) -> None:
    events = history()
    earlier = VpCreated(ts=T0 - 40 * DAY, vp_id=VP_C, name="Old", symbol="BTCUSDT", position_side=PositionSide.LONG)
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        publisher = Publisher(log, tmp_path)
        log.append([earlier])  # a VP created in October
        log.append(events[:9])  # November: day 1 only
        log.append_marks(MARKS)
        assert publisher.publish().files["vp_eod"] == 2  # one file per month
        reader = open_published(tmp_path)
        october = [f for f in read_manifest(tmp_path / "published" / "vp_eod")["files"] if "2025-10" in f]
        assert len(october) == 1
        log.append(events[9:])  # day 2, November again
        assert publisher.publish().files["vp_eod"] == 1  # only November is written again
        manifest = read_manifest(tmp_path / "published" / "vp_eod")
        assert [f for f in manifest["files"] if "2025-10" in f] == october and manifest["mark"] == log.last_seq
        assert len(manifest["files"]) == 2 and len(manifest["retired"]) == 1
        assert [row for row in _rows(reader) if row[0] != VP_C] == EXPECTED
        assert_frame_equal(reader.sql("SELECT * FROM vp_eod_current ORDER BY vp_id, day"),
                           live(log).sql("SELECT * FROM vp_eod_current ORDER BY vp_id, day"), check_exact=True)


def test_reader_adds_fills_published_after_the_rollup(tmp_path: Path) -> None:
    """A reader that sees newer fills than rollup rows (between two manifests) still gets exact days."""
    events = history()
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        publisher = Publisher(log, tmp_path)
        log.append(events[:9])
        publisher.publish()
        log.append(events[9:])
        publisher.publish()
        base = tmp_path / "published" / "vp_eod"
        manifest = read_manifest(base)
        # as if the rollup were published only up to day 1's last event: the first publication's file (retired,
        # still there for the grace period), mark 9
        (first, _), = manifest["retired"]
        manifest.update(mark=9, files=[first], retired=[])
        (base / "_manifest.json").write_text(json.dumps(manifest))
        reader = open_published(tmp_path)
        assert reader.sql("SELECT count(*) AS n FROM published_vp_eod")["n"][0] == 2  # day 1 rows only
        assert _rows(reader) == EXPECTED

