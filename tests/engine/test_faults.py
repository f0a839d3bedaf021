"""Faults through /sim/v1/faults: nothing lost, nothing doubled, no duplicate order; and a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from hedgestack.domain.errors import FilterViolation
from hedgestack.engine.terminal import SideLocked, Terminal
from hedgestack.venue.sim import SimServer
from tests.engine.conftest import Control, assert_consistent, make_terminal, settle, wait_until

D = Decimal
ROOT = Path(__file__).resolve().parents[2]


def burst(t: Terminal, vp_id: str, n: int, during: callable | None = None, at: int = 0) -> None:
    for i in range(n):
        if during is not None and i == at:
            during()
        t.sync.place_order(vp_id, "SELL" if i % 3 == 2 else "BUY", "MARKET", "0.002")


def open_long(t: Terminal, name: str = "Burst", qty: str = "0.02") -> str:
    vp = t.sync.create_vp(name, "BTCUSDT", "LONG")
    t.sync.place_order(vp.id, "BUY", "MARKET", qty)
    wait_until(lambda: t.sync.vp(vp.id).to_json()["net_qty"] == str(D(qty).normalize()))
    return vp.id


@pytest.mark.wire
def test_disconnects_during_a_burst_lose_nothing(terminal: Terminal, control: Control) -> None:
    vp = open_long(terminal)
    burst(terminal, vp, 30, lambda: control.fault("disconnect_user_stream"), at=10)
    control.fault("disconnect_user_stream")
    burst(terminal, vp, 10)
    settle(terminal, control, timeout=20)
    assert terminal.stats.reconnects >= 1
    assert_consistent(terminal, control)


def test_paused_stream_events_are_caught_up(terminal: Terminal, control: Control) -> None:
    vp = open_long(terminal)
    control.fault("pause_user_stream", seconds=1)
    burst(terminal, vp, 12)  # every event in this second is never delivered
    settle(terminal, control, timeout=20)  # the position poll notices and catches up over REST
    assert terminal.stats.backfilled_fills >= 1
    assert_consistent(terminal, control)


def test_duplicated_events_are_applied_once(terminal: Terminal, control: Control) -> None:
    vp = open_long(terminal)
    control.fault("duplicate_events", count=40)
    burst(terminal, vp, 12)
    settle(terminal, control)
    assert terminal.stats.duplicates >= 1
    assert_consistent(terminal, control)


@pytest.mark.wire
def test_lost_answer_on_placement_never_duplicates_the_order(terminal: Terminal, control: Control) -> None:
    vp = open_long(terminal)
    settle(terminal, control)
    control.fault("lose_rest_response", path="/fapi/v1/order", count=1)
    result = terminal.sync.place_order(vp, "BUY", "LIMIT", "0.002", "94000")
    assert result.status == "NEW" and result.order_id is not None  # resolved by querying the clientOrderId
    orders = [o for o in control.account()["open_orders"] if o["clientOrderId"] == result.client_order_id]
    assert len(orders) == 1
    assert terminal.stats.lost_answers_resolved == 1
    # the same on the algo endpoint (a TP/SL leg)
    control.fault("lose_rest_response", path="/fapi/v1/algoOrder", count=1)
    terminal.sync.set_tpsl(vp, tp_price="99000")
    settle(terminal, control)
    algos = control.account()["open_algo_orders"]
    assert len(algos) == 1 and terminal.sync.vp(vp).to_json()["tpsl"]["sync_status"] == "OK"
    assert_consistent(terminal, control)


@pytest.mark.wire
def test_429_bursts_are_backed_off_and_retried(terminal: Terminal, control: Control) -> None:
    vp = open_long(terminal)
    control.fault("rate_limit", count=2)
    result = terminal.sync.place_order(vp, "BUY", "MARKET", "0.002")
    assert result.client_order_id
    assert terminal.venue.rate_limited >= 2
    settle(terminal, control)
    assert len([t for t in control.account()["trades"] if t["clientOrderId"] == result.client_order_id]) == 1
    assert_consistent(terminal, control)


@pytest.mark.wire
def test_listen_key_expiry_reconnects_and_backfills(terminal: Terminal, control: Control) -> None:
    vp = open_long(terminal)
    reconnects = terminal.stats.reconnects
    control.fault("expire_listen_key")
    wait_until(lambda: terminal.stats.reconnects > reconnects)
    burst(terminal, vp, 6)
    settle(terminal, control, timeout=20)
    assert_consistent(terminal, control)


def test_foreign_reduction_raises_mismatch_locks_and_reconcile_heals(terminal: Terminal, control: Control) -> None:
    a = open_long(terminal, "A", "0.010")  # @ 95000
    settle(terminal, control)
    seen: list[dict] = []
    terminal.bus.add_listener(lambda env: seen.append(env.to_json()) if env.type == "CONSISTENCY_STATUS" else None)
    # a close from the Binance app: the exchange side drops to 0.006, no VP can take it
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": "0.004", "clientOrderId": "web_close1"})
    wait_until(lambda: terminal.sync.state().to_json()["reconcile"]["BTCUSDT"]["LONG"] == "MISMATCH", timeout=15)
    assert seen[-1]["payload"]["status"] == "MISMATCH"
    with pytest.raises(SideLocked):
        terminal.sync.close_vp(a, percent="50")
    with pytest.raises(SideLocked):
        terminal.sync.set_tpsl(a, sl_price="90000")
    terminal.sync.place_order(a, "BUY", "MARKET", "0.002")  # adding is not locked
    settle(terminal, control)
    control.price("BTCUSDT", "95500")
    result = terminal.sync.reconcile("BTCUSDT", "LONG", [{"virtual_position_id": a, "qty": "0.007"}])
    assert result.status == "OK"
    state = {v["name"]: v for v in terminal.sync.state().to_json()["virtual_positions"]}
    # 0.008 on the exchange: 0.007 to A, 0.001 to UNASSIGNED, both at the exchange's entry price
    assert state["A"]["net_qty"] == "0.007" and state["UNASSIGNED"]["net_qty"] == "0.001"
    assert state["A"]["reset_at"] is not None
    assert state["A"]["avg_entry"] == state["UNASSIGNED"]["avg_entry"]
    terminal.sync.close_vp(a, percent="50")  # unlocked again
    assert_consistent(terminal, control)


@pytest.mark.wire
def test_sigkill_mid_burst_then_restart(sim_server: SimServer, control: Control, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.engine.killed_terminal", sim_server.url, str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    vp = proc.stdout.readline().strip()
    assert vp.startswith("vp_")
    wait_until(lambda: len(control.account()["trades"]) >= 15, timeout=30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    traded = len(control.account()["trades"])
    t = make_terminal(sim_server, tmp_path, wire=True).start_sync()
    try:
        settle(t, control, timeout=20)
        assert t.sync.vp(vp).to_json()["net_qty"] == str(abs(D(next(
            p["positionAmt"] for p in control.account()["positions"] if p["positionSide"] == "LONG")))).rstrip("0")\
            .rstrip(".") or "0"
        assert len(t.fills()) == traded
        assert not [o for o in t.orders()["status"].to_list() if o == "PENDING"]
        assert_consistent(t, control)
    finally:
        t.stop_sync()


def test_commands_from_another_thread_and_loop(terminal: Terminal, control: Control) -> None:
    import asyncio

    vp = open_long(terminal)
    results: list[dict] = []

    def worker() -> None:
        async def go() -> None:
            results.append(await terminal.place_order(vp, "BUY", "MARKET", "0.002"))
            results.append(await terminal.state())

        asyncio.run(go())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(20)
    assert results and results[0].client_order_id.startswith("VP-")
    with pytest.raises(FilterViolation):
        terminal.sync.place_order(vp, "BUY", "MARKET", "0.0001")
    time.sleep(0.1)
    assert_consistent(terminal, control)
