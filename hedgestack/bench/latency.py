"""``hedgestack bench latency``: fill frame leaving the simulator → VIRTUAL_POSITION_UPDATE on the bus.

The simulator runs in a process of its own (``hedgestack.bench.sim_probe``), as the exchange does in
reality, so the figure is the terminal's, not the simulator's, CPU. The moment the simulator hands an
ORDER_TRADE_UPDATE frame of a trade to its WebSocket is taken there, from a wrapper around aiohttp's
``send_str``; the moment the terminal publishes the VIRTUAL_POSITION_UPDATE that trade caused is taken by a
bus listener; both with the wall clock (``time.time_ns``) of this machine. The probe drives fills at
``rate`` per second with orders from "another app" (the control API), which the terminal books to
UNASSIGNED through the same intake path as its own fills.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgestack.engine.views import FillView, VirtualPositionView

if TYPE_CHECKING:
    from hedgestack.engine.views import Envelope


def run(rate: float = 100.0, seconds: float = 10.0, data_dir: str | None = None,
        publish_interval: float = 2.0) -> dict[str, Any]:
    """Drive ``rate`` fills/s for ``seconds`` through a simulator process; return the latency summary."""
    import json
    import subprocess
    import sys

    from hedgestack.engine.terminal import Terminal

    out = Path(tempfile.mkdtemp(prefix="hedgestack-latency-")) / "sent.json"
    probe = subprocess.Popen([sys.executable, "-m", "hedgestack.bench.sim_probe", str(out)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert probe.stdin is not None and probe.stdout is not None
    url = probe.stdout.readline().strip()
    root = Path(data_dir or tempfile.mkdtemp(prefix="hedgestack-latency-"))
    terminal = Terminal.sim(root, sim_url=url, poll_interval=3600, publish_interval=publish_interval)
    seen: dict[int, int] = {}
    pending: dict[str, int] = {}
    lock = threading.Lock()

    def listener(envelope: Envelope) -> None:
        now = time.time_ns()
        fill, update = envelope.payload, envelope.payload
        if isinstance(fill, FillView):
            with lock:
                pending[fill.virtual_position_id] = fill.trade_id
        elif isinstance(update, VirtualPositionView):
            with lock:
                trade = pending.pop(update.id, None)
            if trade is not None:
                seen[trade] = now

    try:
        terminal.start_sync()
        terminal.bus.add_listener(listener)
        probe.stdin.write(f"{rate} {seconds}\n")
        probe.stdin.flush()
        assert probe.stdout.readline().strip() == "done"
    finally:
        terminal.stop_sync()
        probe.stdin.write("stop\n")
        probe.stdin.flush()
        probe.wait(timeout=30)
    report = json.loads(out.read_text())
    sent = {int(k): v for k, v in report["sent"].items()}
    latencies = sorted((seen[t] - sent[t]) / 1e6 for t in seen if t in sent)
    return _summary(rate, report["achieved_rate"], int(rate * seconds), latencies)


def _summary(rate: float, achieved: float, count: int, ordered: list[float]) -> dict[str, Any]:
    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3) if ordered else float("nan")

    return {"target_rate": rate, "achieved_rate": round(achieved, 1), "fills": count,
            "measured": len(ordered), "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "max_ms": round(max(ordered), 3) if ordered else None,
            "mean_ms": round(statistics.fmean(ordered), 3) if ordered else None}
