"""The ``hedgestack`` command: benchmarks on small inputs, quickstart, rebuild refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from hedgestack.bench.replay import synthetic_fills
from hedgestack.domain.events import Fill

ROOT = Path(__file__).resolve().parents[2]


def hedgestack(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "hedgestack.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_bench_ledger_json(tmp_path: Path) -> None:
    fills = [e for e in synthetic_fills(2000, vps=4) if isinstance(e, Fill)]
    names = {}
    for f in fills:
        names.setdefault(f.vp_id, f"vp{len(names) + 1}")
    path = tmp_path / "fills.parquet"
    pl.DataFrame({"ts": [f.ts for f in fills], "vp": [names[f.vp_id] for f in fills],
                  "symbol": [f.symbol for f in fills], "side": [str(f.side) for f in fills],
                  "position_side": [str(f.position_side) for f in fills], "qty": [str(f.qty) for f in fills],
                  "price": [str(f.price) for f in fills],
                  "fee": [str(f.commission) for f in fills]}).write_parquet(path)
    out = hedgestack("bench", "ledger", "--input", str(path), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["fills"] == 2000 and result["fills_per_s"] > 0 and result["anomalies"] == 0
    assert set(result["final"]) == set(names.values())
    assert all(set(v) >= {"net_qty", "avg_entry", "realized_pnl"} for v in result["final"].values())


def test_bench_replay_json() -> None:
    out = hedgestack("bench", "replay", "--fills", "3000", "--repeat", "1", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["fills"] == 3000 and result["identical_state"] is True
    assert result["replay_from_zero_seconds_median"] > 0


@pytest.mark.slow
def test_quickstart(tmp_path: Path) -> None:
    out = hedgestack("quickstart", "--data-dir", str(tmp_path), "--seed", "5")
    assert out.returncode == 0, out.stderr
    assert "two virtual positions" in out.stdout and "Binance (real)" in out.stdout
    assert (tmp_path / "hedgestack.duckdb").exists()


def test_rebuild_needs_an_exchange(tmp_path: Path) -> None:
    out = hedgestack("rebuild", "--since", "2026-11-01", "--data-dir", str(tmp_path))
    assert out.returncode != 0 and "--sim-url" in out.stderr
