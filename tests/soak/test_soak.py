"""``hedgestack soak``: the fault schedule, and a short soak run end to end through the command."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hedgestack.soak.run import FAULT_KINDS, OVERCLOSE, RATE_LIMIT_SPACING, schedule

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("seconds", [30.0, 90.0, 600.0])
@pytest.mark.parametrize("seed", range(5))
def test_every_fault_kind_comes_and_the_process_is_killed_once(seconds: float, seed: int) -> None:
    events = schedule(seconds, random.Random(seed), faults=True)
    kinds = Counter(e.kind for e in events)
    assert set(kinds) == {*FAULT_KINDS, OVERCLOSE, "sigkill"}
    assert kinds["sigkill"] == 1
    kill = next(e.at for e in events if e.kind == "sigkill")
    assert all(abs(e.at - kill) >= 2.0 for e in events if e.kind != "sigkill")
    assert all(0 < e.at < seconds for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)
    bursts = [e.at for e in events if e.kind == "rate_limit"]
    assert all(b - a >= RATE_LIMIT_SPACING for a, b in zip(bursts, bursts[1:], strict=False))
    if seconds >= 600:
        assert len(events) >= 60  # about one fault every 8 s


def test_no_faults_no_schedule() -> None:
    assert schedule(600.0, random.Random(1), faults=False) == []


@pytest.mark.slow
def test_a_short_soak_with_every_fault_loses_and_doubles_nothing(tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "hedgestack.cli", "soak", "--minutes", "0.5", "--rate", "20",
                           "--seed", "7", "--out-dir", str(tmp_path / "out"), "--report", str(report_file)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = json.loads(report_file.read_text())
    assert proc.returncode == 0, (report, proc.stderr[-3000:])
    assert report["ok"]
    assert report["lost"] == report["doubled"] == report["misattributed"] == report["intents_missing"] == 0
    assert report["invariants"] == [] and report["audit_problems"] == []
    assert report["state_equals_replay"] and report["state_equals_truth"]
    assert report["independent_replay"]["ok"] and report["independent_replay"]["equal_to_terminal"]
    assert set(report["faults"]) == {*FAULT_KINDS, OVERCLOSE, "sigkill"}
    assert report["fills"] >= 200
    assert report["mismatches"]["seen"] >= 1 and report["mismatches"]["healed"] >= 1
    assert report["mismatches"]["open_at_end"] is False
    assert report["duplicates_dropped"] > 0 and report["reconnects"] >= 1
    assert report["latency_ms"]["all"]["measured"] > 0
    assert report["rss_mb"]["terminal_peak"] > 0
    assert report["trader"]["error_count"] == 0
    assert report["unsettled_at_check"] == ""
    assert len(report["terminal_restarts_seconds"]) == 1
