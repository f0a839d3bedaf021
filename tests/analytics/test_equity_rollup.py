"""The vp_equity rollup (each VP's equity at each mark sample), refreshed incrementally, against a
from-scratch computation and hand-computed figures on the conftest history, live and published.

Hand-computed (conftest marks at T0+1500 95, T0+3000 90, T0+4000 125, T0+50 000 000 112, D2+6000 118):
  VP_A (LONG) unrealized  -5, -30, 40, 14, 0; net_equity -5.05, -30.1, 39.9, 13.8, 29.7.
  VP_B (SHORT 1 @ 115 from T0+3500) unrealized 0, 0, -10, 3, -3.
A late fill: VP_B SELL 1 @ 100 stamped T0+2000, appended after every sample was computed. The ledger folds in
log order, so its history row (ts T0+2000) holds short 2 @ 107.5 (after the fill at 115); the rows stamped
later (the fill at T0+3500, the funding) still hold short 1 @ 115. As of each sample (latest row by (ts, seq)):
T0+1500 → 0; T0+3000 → the late row: -2 x (90 - 107.5) = 35; T0+4000 → -10; T0+50 000 000 → 3; D2+6000 → -3.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from hedgestack.domain.enums import Side
from hedgestack.store import metrics
from hedgestack.store.analytics import live, open_published
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import Publisher, read_manifest
from hedgestack.store.schema import EQUITY_COLUMNS, equity_from_scratch
from tests.analytics.conftest import MARKS, SHORT, T0, VP_A, VP_B, _fill, history

D = Decimal
COLUMNS = ", ".join(EQUITY_COLUMNS)


def _table(log: EventLog) -> pl.DataFrame:
    return log.cursor().sql(f"SELECT {COLUMNS} FROM vp_equity ORDER BY vp_id, ts").pl()


def _scratch(log: EventLog) -> pl.DataFrame:
    return log.cursor().sql(f"SELECT * FROM ({equity_from_scratch()}) ORDER BY vp_id, ts").pl()


def _unrealized(frame: pl.DataFrame, vp: str) -> list[Decimal]:
    return [v.normalize() for v in frame.filter(pl.col("vp_id") == vp)["unrealized"].to_list()]


def _dec(*values: str) -> list[Decimal]:
    return [D(v).normalize() for v in values]


def test_incremental_equals_from_scratch_after_appends_and_mark_batches(tmp_path: Path) -> None:
    events = history()
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        # events one batch at a time, the marks in three batches in between, a refresh after each step
        steps: list[tuple[str, object]] = [("events", events[:4]), ("marks", MARKS[:1]), ("events", events[4:6]),
                                           ("marks", MARKS[1:3]), ("events", events[6:9]), ("marks", MARKS[3:4]),
                                           ("events", events[9:]), ("marks", MARKS[4:])]
        for kind, batch in steps:
            if kind == "events":
                for event in batch:  # type: ignore[attr-defined]
                    log.append([event])
            else:
                log.append_marks(batch)  # type: ignore[arg-type]
            log.refresh_rollups()
            assert_frame_equal(_table(log), _scratch(log), check_exact=True)
        table = _table(log)
        assert _unrealized(table, VP_A) == _dec("-5", "-30", "40", "14", "0")
        assert [v.normalize() for v in table.filter(pl.col("vp_id") == VP_A)["net_equity"]] == _dec(
            "-5.05", "-30.1", "39.9", "13.8", "29.7")
        assert _unrealized(table, VP_B) == _dec("0", "0", "-10", "3", "-3")
        # VP_A's rows were each computed once, by the refresh after their mark batch (VP_B's sample at
        # T0+4000 was computed again: its fill at T0+3500 came after that sample)
        gens = log.cursor().execute("SELECT ts, gen FROM vp_equity WHERE vp_id = ? ORDER BY ts", [VP_A]).fetchall()
        assert [gen for _, gen in gens] == [2, 4, 4, 6, 8]
        mark = log.equity_mark()
        assert (mark["seq"], mark["ts"]) == (log.last_seq, MARKS[-1][1])
        gen = mark["gen"]
        assert log.refresh_rollups() == log.last_seq and log.equity_mark()["gen"] == gen  # nothing new: no-op


def test_late_fill_recomputes_its_vp_from_its_ts(tmp_path: Path) -> None:
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        for event in history():
            log.append([event])
        log.append_marks(MARKS)
        publisher = Publisher(log, tmp_path)
        publisher.publish()
        reader = open_published(tmp_path)
        before = _table(log)
        gen = log.equity_mark()["gen"]
        log.append([_fill(7, VP_B, Side.SELL, SHORT, "1", "100", "0", T0 + 2000)])  # stamped before the samples
        log.refresh_rollups()
        after = _table(log)
        assert_frame_equal(after, _scratch(log), check_exact=True)
        assert _unrealized(after, VP_B) == _dec("0", "35", "-10", "3", "-3")
        # VP_A untouched; VP_B's rows from T0+2000 on written again (the sample at T0+1500 kept)
        assert_frame_equal(after.filter(pl.col("vp_id") == VP_A), before.filter(pl.col("vp_id") == VP_A))
        rewritten = log.cursor().sql(f"SELECT vp_id, ts FROM vp_equity WHERE gen > {gen} ORDER BY ts").fetchall()
        assert rewritten == [(VP_B, ts) for _, ts, _ in MARKS[1:]]
        # published: the dates of the rewritten rows again, and the reader's curve equals the live one
        assert publisher.publish().files["vp_equity"] == 2
        assert read_manifest(tmp_path / "published" / "vp_equity")["mark"] == log.equity_mark()["gen"]
        for vp in (VP_A, VP_B):
            assert_frame_equal(metrics.equity_curve(reader, vp=vp), metrics.equity_curve(live(log), vp=vp),
                               check_exact=True)
        assert _unrealized(metrics.equity_curve(reader, vp=VP_B), VP_B) == _dec("0", "35", "-10", "3", "-3")


def test_new_vp_and_marks_before_its_first_row(tmp_path: Path) -> None:
    """Samples before a VP's first row give it no row; a VP created after samples starts at its first row."""
    events = history()
    with EventLog(tmp_path / "hedgestack.duckdb") as log:
        log.append_marks(MARKS[:2])
        log.refresh_rollups()  # no VP yet: nothing computed, the watermark still moves
        assert _table(log).height == 0
        log.append(events[:4])  # VP_A buys at T0+1000: before the two samples already seen (a late row)
        log.append_marks(MARKS[2:])
        log.refresh_rollups()
        assert_frame_equal(_table(log), _scratch(log), check_exact=True)
        log.append(events[4:])
        log.refresh_rollups()
        assert_frame_equal(_table(log), _scratch(log), check_exact=True)
        assert _unrealized(_table(log), VP_A) == _dec("-5", "-30", "40", "14", "0")
