"""Disaster recovery: the ledger rebuilt from the exchange's history equals the one the terminal kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from hedgestack.domain.ids import short_id
from hedgestack.engine.rebuild import rebuild
from hedgestack.engine.terminal import Terminal
from hedgestack.store.eventlog import EventLog
from tests.engine.conftest import Control, assert_consistent, settle, wait_until


def test_rebuild_from_exchange_history(terminal: Terminal, control: Control, tmp_path: Path) -> None:
    a = terminal.sync.create_vp("Trend", "BTCUSDT", "LONG")
    b = terminal.sync.create_vp("Hedge", "BTCUSDT", "SHORT")
    c = terminal.sync.create_vp("Eth", "ETHUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")
    terminal.sync.place_order(b.id, "SELL", "MARKET", "0.004")
    terminal.sync.place_order(c.id, "BUY", "LIMIT", "0.3", "3490")
    control.price("ETHUSDT", "3489")
    control.price("BTCUSDT", "95500")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.006")
    settle(terminal, control)
    terminal.sync.set_tpsl(a.id, tp_price="96000", sl_price="94000")
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.002", "clientOrderId": "web_manual"})
    control.post("/funding", {"symbol": "BTCUSDT", "rate": "0.0001"})
    control.price("BTCUSDT", "96000")  # the TP fires
    wait_until(lambda: terminal.sync.vp(a.id).to_json()["net_qty"] == "0")
    terminal.sync.close_vp(b.id, percent="50")
    assert_consistent(terminal, control)

    rebuilt_file = tmp_path / "rebuilt" / "hedgestack.duckdb"
    now = int(time.time() * 1000)
    report = terminal.run_sync(rebuild(terminal.venue, ["BTCUSDT", "ETHUSDT"], rebuilt_file, now - 3_600_000,
                                       now + 1000))
    assert report.vps == 3 and report.foreign_fills == 1 and report.funding == 1
    with EventLog(rebuilt_file) as rebuilt:
        again = rebuilt.ledger
        for original in terminal.ledger.vps.values():
            copy = again.vps[original.vp_id if original.system else f"vp_{short_id(original.vp_id)}rb"]
            assert (copy.qty, copy.cost, copy.realized, copy.fees, copy.fill_count) == (
                original.qty, original.cost, original.realized, original.fees, original.fill_count), original.name
            assert copy.symbol == original.symbol and copy.position_side == original.position_side
        assert again.trade_count == terminal.ledger.trade_count
        # funding: the same total; the split uses the implied rate (the exchange keeps no rate per row)
        assert sum(v.funding for v in again.vps.values()) == sum(v.funding for v in terminal.ledger.vps.values())
        statuses = {cid: o.status for cid, o in again.orders.items()}
        assert statuses == {cid: o.status for cid, o in terminal.ledger.orders.items()}
    assert report.ok and len(report.sides) == 4
    assert all(side.vp_qty == side.exchange_qty and side.line().endswith("OK") for side in report.sides)


def test_rebuild_reports_each_side_and_fails_when_one_differs(terminal: Terminal, control: Control,
                                                               tmp_path: Path) -> None:
    a = terminal.sync.create_vp("A", "BTCUSDT", "LONG")
    terminal.sync.place_order(a.id, "BUY", "MARKET", "0.010")
    settle(terminal, control)
    # a sale "from another app" larger than UNASSIGNED holds: the rebuilt VPs keep more than the exchange
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.004", "clientOrderId": "web_over"})
    wait_until(lambda: terminal.sync.state().reconcile_detail["BTCUSDT"]["LONG"].status == "MISMATCH", timeout=10)
    data_dir = tmp_path / "rebuilt"
    now = int(time.time() * 1000)
    result = subprocess.run(
        [sys.executable, "-m", "hedgestack.cli", "rebuild", "--since", str(now - 3_600_000), "--until",
         str(now + 1000), "--sim-url", control.base.removesuffix("/sim/v1"), "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "CI": "1"})
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    long_line = next(line for line in lines if line.startswith("BTCUSDT LONG"))
    assert "rebuilt VPs 0.010" in long_line and "exchange 0.006" in long_line and "MISMATCH" in long_line
    assert any(line.startswith("BTCUSDT SHORT") and line.endswith("OK") for line in lines)
    assert any(line.startswith("anomaly: OVER_REDUCE") for line in lines)
    assert "Traceback" not in result.stderr
