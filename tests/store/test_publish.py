"""Publication: incremental parts, compaction, manifest-consistent reads, retired files removed later."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import hedgestack.analytics
from hedgestack.store import publish
from hedgestack.store.eventlog import EventLog
from hedgestack.store.publish import Publisher, read_manifest
from tests.factories import VP_A, fill, vp

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
                                            "vp_equity": 0}
