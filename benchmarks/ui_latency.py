"""Fill in the simulator → row updated in Chromium: p50/p99 latency at given fill rates.

Setup: embedded simulator (static market), a Terminal, the dashboard served by ``pn.serve`` (threaded),
Debian's chromium through playwright. Fills are foreign 0.002 BUY LONG market orders sent through the
simulator's control API (``/sim/v1/external-order``) at a steady rate; each goes to the UNASSIGNED VP, so
its row's Qty grows by 0.002 per fill. In the page a MutationObserver on the positions table records
(Date.now(), Qty) whenever the text changes. A fill's latency = the first time a Qty ≥ its cumulative
quantity is visible − the simulator's trade time (same machine, same clock). Coalesced updates are
counted honestly: a fill shown in a later batch gets that batch's time.

Usage: .venv/bin/python benchmarks/ui_latency.py [--rates 10 200] [--seconds 5]
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
from decimal import Decimal
from typing import Any

import panel as pn
import requests
from playwright.sync_api import sync_playwright

from hedgestack.engine.terminal import Terminal
from hedgestack.ui import dashboard
from hedgestack.venue.sim import SimConfig, SimServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STEP = Decimal("0.002")  # 0.002 × 95000 = 190 ≥ the 100 USDT min notional

OBSERVER_JS = """
(table) => {
  window.__seen = [];
  let last = null;
  const read = () => {
    for (const row of table.querySelectorAll('.tabulator-row')) {
      const vp = row.querySelector('.tabulator-cell[tabulator-field="VP"]');
      if (vp && vp.textContent.trim() === 'UNASSIGNED') {
        const qty = row.querySelector('.tabulator-cell[tabulator-field="Qty"]').textContent.trim();
        if (qty !== last) { last = qty; window.__seen.push([Date.now(), qty]); }
        return;
      }
    }
  };
  new MutationObserver(read).observe(table, {subtree: true, childList: true, characterData: true});
  read();
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_rate(page: Any, control: str, terminal: Terminal, rate: float, seconds: float) -> dict[str, Any]:
    fills: list[tuple[int, Decimal, int]] = []  # (sim trade time ms, qty, engine publish time ms)
    lock = threading.Lock()

    def on_event(env: dict[str, Any]) -> None:
        p = env["payload"]
        if env["type"] == "FILL" and p["vp_name"] == "UNASSIGNED" and p["side"] == "BUY":
            with lock:
                fills.append((int(p["time"]), Decimal(p["qty"]), int(env["ts"])))

    base = Decimal(page.evaluate("() => (window.__seen.at(-1) || [0, '0'])[1]") or "0")
    remove = terminal.bus.add_listener(on_event)
    http = requests.Session()
    count = max(50, int(rate * seconds))  # at least 50 fills; the wallet caps the total notional
    start = time.perf_counter()
    for i in range(count):
        target = start + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        http.post(control + "/external-order", json={"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG",
                                                     "type": "MARKET", "quantity": str(STEP)},
                  timeout=10).raise_for_status()  # the sim refuses when the wallet cannot carry more
    sent_for = time.perf_counter() - start
    final = base + STEP * count
    deadline = time.time() + 30
    while time.time() < deadline:
        seen = page.evaluate("() => window.__seen")
        if seen and Decimal(seen[-1][1] or "0") >= final:
            break
        time.sleep(0.1)
    remove()
    seen = [(int(t), Decimal(q or "0")) for t, q in page.evaluate("() => window.__seen")]
    with lock:
        ordered = sorted(fills)
    latencies: list[float] = []
    from_bus: list[float] = []
    cumulative = base
    for trade_time, qty, published in ordered:
        cumulative += qty
        shown = next((t for t, q in seen if q >= cumulative and t >= trade_time - 5), None)
        if shown is not None:
            latencies.append(shown - trade_time)
            from_bus.append(shown - published)
    return {"rate_per_s": rate, "fills_sent": count, "send_seconds": round(sent_for, 2),
            "fills_seen_on_bus": len(ordered), "fills_measured": len(latencies),
            "browser_updates": sum(1 for t, _ in seen if t >= int(time.time() * 1000) - int((sent_for + 35) * 1000)),
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p99_ms": round(pct(latencies, 99), 1) if latencies else None,
            "max_ms": round(max(latencies), 1) if latencies else None,
            "engine_bus_to_browser_p50_ms": round(statistics.median(from_bus), 1) if from_bus else None,
            "engine_bus_to_browser_p99_ms": round(pct(from_bus, 99), 1) if from_bus else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 200.0])
    parser.add_argument("--seconds", type=float, default=2.5)
    args = parser.parse_args()
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=3))
    control = sim.url + "/sim/v1"
    requests.post(control + "/price", json={"symbol": "BTCUSDT", "last": "95000", "mark": "95000"}, timeout=10)
    terminal = Terminal.sim(tempfile.mkdtemp(prefix="hedgestack-uibench-"), sim_url=sim.url).start_sync()
    pn.extension("tabulator", inline=True)
    port = free_port()
    server = pn.serve({"/": lambda: dashboard(terminal).__panel__()}, port=port, address="127.0.0.1", show=False,
                      threaded=True, websocket_origin=[f"127.0.0.1:{port}"])
    results: list[dict[str, Any]] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1200})
            for _ in range(100):
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:  # noqa: BLE001 - the server is still starting
                    time.sleep(0.2)
            page.locator(".hs-positions .tabulator").wait_for(timeout=30_000)
            # a first foreign fill so the UNASSIGNED row exists before observing
            requests.post(control + "/external-order", json={"symbol": "BTCUSDT", "side": "BUY",
                                                             "positionSide": "LONG", "type": "MARKET",
                                                             "quantity": str(STEP)}, timeout=10).raise_for_status()
            page.locator(".hs-positions .tabulator-row", has_text="UNASSIGNED").wait_for(timeout=30_000)
            page.locator(".hs-positions .tabulator").evaluate(OBSERVER_JS)
            for rate in args.rates:
                results.append(run_rate(page, control, terminal, rate, args.seconds))
                time.sleep(1.0)
            browser.close()
    finally:
        server.stop()
        terminal.stop_sync()
        sim.stop()
    print(json.dumps({"benchmark": "ui_latency", "path": "simulator fill → UNASSIGNED row Qty in Chromium",
                      "coalescing_min_interval_ms": 100, "results": results}, indent=2))


if __name__ == "__main__":
    main()
