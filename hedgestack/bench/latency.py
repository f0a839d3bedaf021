"""``hedgestack bench latency``: fill frame leaving the simulator → VIRTUAL_POSITION_UPDATE on the bus.

By default the simulator runs in a process of its own (``hedgestack.bench.sim_probe``), as the exchange does
in reality; ``--in-process`` puts it in the terminal's process. The moment the simulator hands an
ORDER_TRADE_UPDATE frame of a trade to its WebSocket is taken from a wrapper around aiohttp's ``send_str``;
the moment the terminal publishes the VIRTUAL_POSITION_UPDATE that trade caused is taken by a bus listener
(wall clock across processes, ``perf_counter`` in one). Fills are driven at ``rate`` per second by orders from
"another app" (the control API), which the terminal books to UNASSIGNED through the same intake path as
its own fills.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from aiohttp import web

_TRADE = re.compile(r'"x":"TRADE".*?"t":(\d+)')


def run(rate: float = 100.0, seconds: float = 10.0, data_dir: str | None = None,
        publish_interval: float = 2.0, separate: bool = True) -> dict[str, Any]:
    """Measure; ``separate`` runs the simulator (and the order sender) in its own process, as the exchange
    is in reality, so the figure is the terminal's, not the simulator's, CPU."""
    if separate:
        return _run_separate(rate, seconds, data_dir, publish_interval)
    return _run_in_process(rate, seconds, data_dir, publish_interval)


def _run_separate(rate: float, seconds: float, data_dir: str | None, publish_interval: float) -> dict[str, Any]:
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

    def listener(envelope: dict[str, Any]) -> None:
        now = time.time_ns()
        if envelope["type"] == "FILL":
            with lock:
                pending[envelope["payload"]["virtual_position_id"]] = int(envelope["payload"]["tradeId"])
        elif envelope["type"] == "VIRTUAL_POSITION_UPDATE":
            with lock:
                trade = pending.pop(envelope["payload"]["id"], None)
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
    return _summary(rate, report["achieved_rate"], int(rate * seconds), latencies, "separate processes")


def _run_in_process(rate: float, seconds: float, data_dir: str | None, publish_interval: float) -> dict[str, Any]:
    from hedgestack.engine.terminal import Terminal
    from hedgestack.venue.sim import SimConfig, SimServer

    sent: dict[int, int] = {}
    original = web.WebSocketResponse.send_str

    async def timed_send(self: web.WebSocketResponse, data: str, compress: int | None = None) -> None:
        if '"ORDER_TRADE_UPDATE"' in data:
            match = _TRADE.search(data)
            if match:
                sent.setdefault(int(match.group(1)), time.perf_counter_ns())
        await original(self, data, compress)

    web.WebSocketResponse.send_str = timed_send  # type: ignore[method-assign]
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=1, starting_balance=Decimal(10_000_000)))
    root = Path(data_dir or tempfile.mkdtemp(prefix="hedgestack-latency-"))
    terminal = Terminal.sim(root, sim_url=sim.url, poll_interval=3600, publish_interval=publish_interval)
    latencies: list[float] = []
    pending: dict[str, int] = {}
    lock = threading.Lock()

    def listener(envelope: dict[str, Any]) -> None:
        now = time.perf_counter_ns()
        if envelope["type"] == "FILL":
            with lock:
                pending[envelope["payload"]["virtual_position_id"]] = int(envelope["payload"]["tradeId"])
        elif envelope["type"] == "VIRTUAL_POSITION_UPDATE":
            with lock:
                trade = pending.pop(envelope["payload"]["id"], None)
            if trade is not None and trade in sent:
                latencies.append((now - sent[trade]) / 1e6)

    try:
        terminal.start_sync()
        terminal.bus.add_listener(listener)
        http = requests.Session()
        url = sim.url + "/sim/v1/external-order"
        count = int(rate * seconds)
        interval = 1.0 / rate
        start = time.perf_counter()
        for i in range(count):
            target = start + i * interval
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            side = "BUY" if i % 2 == 0 else "SELL"
            http.post(url, json={"symbol": "BTCUSDT", "side": side, "positionSide": "LONG", "type": "MARKET",
                                 "quantity": "0.002", "clientOrderId": f"web_bench{i}"}, timeout=10)
        achieved = count / (time.perf_counter() - start)
        deadline = time.monotonic() + 10
        while len(latencies) < count and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        terminal.stop_sync()
        sim.stop()
        web.WebSocketResponse.send_str = original  # type: ignore[method-assign]
    return _summary(rate, achieved, count, sorted(latencies), "one process")


def _summary(rate: float, achieved: float, count: int, ordered: list[float], layout: str) -> dict[str, Any]:
    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3) if ordered else float("nan")

    return {"layout": layout, "target_rate": rate, "achieved_rate": round(achieved, 1), "fills": count,
            "measured": len(ordered), "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "max_ms": round(max(ordered), 3) if ordered else None,
            "mean_ms": round(statistics.fmean(ordered), 3) if ordered else None}
