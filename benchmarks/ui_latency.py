"""Fill in the simulator → row updated in Chromium: p50/p99 latency at given fill rates.

Setup: a simulator (static market), a Terminal, the dashboard served by ``pn.serve`` (threaded), Debian's
chromium through playwright. Fills are foreign 0.002 BUY LONG market orders placed through the simulator's
control API (``/sim/v1/external-order``) at a steady rate; each goes to the UNASSIGNED VP, so its row's Qty
grows by 0.002 per fill.

By default the simulator and the order driver run in a process of their own (``--sim process``), as the
exchange and the other app do in reality, so the figure is the terminal's and the dashboard's CPU, not the
simulator's. ``--sim thread`` runs them in this process (simulator, driver, engine and Panel then share one
interpreter and its GIL), as the first version of this benchmark did.

In the page a MutationObserver on the positions table records (Date.now(), Size) whenever the UNASSIGNED Size
text changes, and the time of the next animation frame after it (the frame that paints the change). A fill's
latency = the first time a Qty ≥ its cumulative quantity is in the DOM (or painted) − the simulator's trade
time (one machine, one wall clock). Coalesced updates are counted honestly: a fill shown in a later batch
gets that batch's time. ``engine_bus_to_browser`` starts at the engine's FILL envelope instead.

Usage: .venv/bin/python benchmarks/ui_latency.py [--rates 10 200] [--seconds 5] [--sim process|thread]
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from typing import Any

import panel as pn
import requests

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STEP = Decimal("0.002")  # 0.002 × 95000 = 190 ≥ the 100 USDT min notional
BALANCE = Decimal(10_000_000)  # enough margin for thousands of fills

OBSERVER_JS = """
(table) => {
  window.__seen = [];    // [Date.now() at the DOM change, qty]
  window.__painted = []; // [Date.now() at the next animation frame, qty]
  let last = null;
  const read = () => {
    for (const row of table.querySelectorAll('tr.vp')) {
      const vp = row.querySelector('td[data-col="pos"]');
      if (vp && vp.textContent.trim() === 'UNASSIGNED') {
        const qty = row.querySelector('td[data-col="size"]').textContent.trim();
        if (qty !== last) {
          last = qty;
          window.__seen.push([Date.now(), qty]);
          requestAnimationFrame(() => window.__painted.push([Date.now(), qty]));
        }
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


def order(i: int) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "MARKET", "quantity": str(STEP),
            "clientOrderId": f"web_uibench{i}"}


def drive(control: str, rate: float, count: int, first: int) -> float:
    """Place ``count`` foreign orders at ``rate`` per second; return how long that took (seconds)."""
    http = requests.Session()
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        http.post(control + "/external-order", json=order(first + i), timeout=10).raise_for_status()
    return time.perf_counter() - start


def sim_child() -> None:
    """The simulator and the order driver in this (child) process: prints the URL, then for each stdin line
    ``RATE COUNT FIRST`` drives the orders and answers ``sent SECONDS``; ``stop`` ends it."""
    from hedgestack.venue.sim import SimConfig, SimServer

    sim = SimServer.start_in_thread(SimConfig(market="static", seed=3, starting_balance=BALANCE))
    sys.stdout.write(sim.url + "\n")
    sys.stdout.flush()
    control = sim.url + "/sim/v1"
    try:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
            rate, count, first = line.split()
            took = drive(control, float(rate), int(count), int(first))
            sys.stdout.write(f"sent {took}\n")
            sys.stdout.flush()
    finally:
        sim.stop()


class Simulator:
    """The simulator and its order driver: in a child process, or in this one (``in_process``)."""

    def __init__(self, in_process: bool) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.sim: Any = None
        self.sent = 0
        if in_process:
            from hedgestack.venue.sim import SimConfig, SimServer

            self.sim = SimServer.start_in_thread(SimConfig(market="static", seed=3, starting_balance=BALANCE))
            self.url = self.sim.url
        else:
            self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--sim-child"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert self.proc.stdout is not None
            self.url = self.proc.stdout.readline().strip()
        self.control = self.url + "/sim/v1"

    def drive(self, rate: float, count: int) -> float:
        first, self.sent = self.sent, self.sent + count
        if self.proc is None:
            return drive(self.control, rate, count, first)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{rate} {count} {first}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        assert answer and answer[0] == "sent", answer
        return float(answer[1])

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.stop()
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)


def first_at(seen: list[tuple[int, Decimal]], cumulative: Decimal, since: int) -> int | None:
    return next((t for t, q in seen if q >= cumulative and t >= since - 5), None)


def summary(latencies: list[float]) -> dict[str, float | None]:
    if not latencies:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": round(statistics.median(latencies), 1), "p99_ms": round(pct(latencies, 99), 1),
            "max_ms": round(max(latencies), 1)}


def run_rate(page: Any, sim: Simulator, terminal: Any, feeds: list[Any], rate: float,
             seconds: float) -> dict[str, Any]:
    fills: list[tuple[int, Decimal, int]] = []  # (sim trade time ms, qty, engine publish time ms)
    lock = threading.Lock()

    def on_event(env: Any) -> None:
        p = env.payload
        if env.type == "FILL" and p.vp_name == "UNASSIGNED" and p.side.value == "BUY":
            with lock:
                fills.append((int(p.time), p.qty, int(env.ts)))

    base = Decimal(page.evaluate("() => (window.__seen.at(-1) || [0, '0'])[1]").replace(",", "") or "0")
    batches_before = sum(f.batches for f in feeds)
    remove = terminal.add_listener(on_event, ["FILL"])
    count = max(50, int(rate * seconds))
    load_before = os.getloadavg()[0]
    sent_for = sim.drive(rate, count)
    final = base + STEP * count
    deadline = time.time() + 30
    while time.time() < deadline:
        seen = page.evaluate("() => window.__seen")
        if seen and Decimal((seen[-1][1] or "0").replace(",", "")) >= final:
            break
        time.sleep(0.1)
    time.sleep(0.2)  # the last animation frame
    remove()
    seen = [(int(t), Decimal((q or "0").replace(",", ""))) for t, q in page.evaluate("() => window.__seen")]
    painted = [(int(t), Decimal((q or "0").replace(",", ""))) for t, q in page.evaluate("() => window.__painted")]
    with lock:
        ordered = sorted(fills)
    in_dom: list[float] = []
    on_screen: list[float] = []
    from_bus: list[float] = []
    cumulative = base
    for trade_time, qty, published in ordered:
        cumulative += qty
        shown = first_at(seen, cumulative, trade_time)
        if shown is not None:
            in_dom.append(shown - trade_time)
            from_bus.append(shown - published)
        drawn = first_at(painted, cumulative, trade_time)
        if drawn is not None:
            on_screen.append(drawn - trade_time)
    dom, screen, bus = summary(in_dom), summary(on_screen), summary(from_bus)
    return {"rate_per_s": rate, "fills_sent": count, "achieved_rate_per_s": round(count / sent_for, 1),
            "fills_seen_on_bus": len(ordered), "fills_measured": len(in_dom),
            "batches_sent_to_browser": sum(f.batches for f in feeds) - batches_before,
            "p50_ms": dom["p50_ms"], "p99_ms": dom["p99_ms"], "max_ms": dom["max_ms"],
            "painted_p50_ms": screen["p50_ms"], "painted_p99_ms": screen["p99_ms"],
            "engine_bus_to_browser_p50_ms": bus["p50_ms"], "engine_bus_to_browser_p99_ms": bus["p99_ms"],
            "load_1min_before": round(load_before, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 200.0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of fills per rate (at least 50 fills)")
    parser.add_argument("--sim", choices=("process", "thread"), default="process",
                        help="simulator and order driver in a child process (default) or in this process")
    parser.add_argument("--sim-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sim_child:
        sim_child()
        return

    from playwright.sync_api import sync_playwright

    from hedgestack.engine.terminal import Terminal
    from hedgestack.ui import dashboard
    from hedgestack.ui.pump import MIN_INTERVAL

    sim = Simulator(in_process=args.sim == "thread")
    requests.post(sim.control + "/price", json={"symbol": "BTCUSDT", "last": "95000", "mark": "95000"},
                  timeout=10).raise_for_status()
    terminal = Terminal.sim(tempfile.mkdtemp(prefix="hedgestack-uibench-"), sim_url=sim.url).start_sync()
    pn.extension(inline=True, notifications=True)
    port = free_port()
    feeds: list[Any] = []

    def app() -> Any:
        board = dashboard(terminal)
        feeds.append(board.feed)
        return board.template()

    server = pn.serve({"/": app}, port=port, address="127.0.0.1", show=False, threaded=True,
                      websocket_origin=[f"127.0.0.1:{port}"])
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
            page.locator(".hs-positions table").wait_for(timeout=30_000)
            sim.drive(1, 1)  # a first foreign fill so the UNASSIGNED row exists before observing
            page.locator(".hs-positions tr.vp", has_text="UNASSIGNED").wait_for(timeout=30_000)
            page.locator(".hs-positions table").evaluate(OBSERVER_JS)
            for rate in args.rates:
                results.append(run_rate(page, sim, terminal, feeds, rate, args.seconds))
                time.sleep(1.0)
            browser.close()
    finally:
        server.stop()
        terminal.stop_sync()
        sim.stop()
    print(json.dumps({"benchmark": "ui_latency", "path": "simulator fill → UNASSIGNED row Qty in Chromium",
                      "simulator": args.sim, "coalescing_min_interval_ms": round(MIN_INTERVAL * 1000),
                      "cpus": os.cpu_count(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
