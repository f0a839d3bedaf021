"""Click "Place order" (MARKET) in the dashboard → the VP's new quantity painted in Chromium: p50/p99.

Setup, as a trader has it: the simulator in a process of its own (static market), a Terminal in this process
with the dashboard served by ``pn.serve`` (threaded, like ``hedgestack serve``), and **two browser sessions**
open on it (Debian's chromium through playwright): session A trades, session B is open and receives every
update. In A the VP "Bench" is selected and the ticket holds a MARKET order of 0.002; each round clicks the
submit button from page JavaScript and times, on the page's clock:

- ``dom``: click → the VP row's Size cell shows the new quantity (a MutationObserver on that cell);
- ``painted``: click → the next animation frame after that change (the frame that paints it).

Rounds alternate BUY and SELL (the quantity goes 0.002 → 0 → 0.002 ...), so each click changes the cell. The
side is switched between rounds, outside the timing. The figure covers the browser → server websocket, the
dashboard's command path, the engine, the simulator's REST answer and user stream, the engine's fold, the
session feed and the grid's repaint.

Usage: .venv/bin/python benchmarks/ui_click.py [--clicks 100] [--warmup 5] [--json]
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
import time

import panel as pn
import requests

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
QTY = "0.002"

TIME_CLICK_JS = """
([button, cell]) => new Promise((resolve) => {
  const before = cell.textContent;
  let dom = null;
  const observer = new MutationObserver(() => {
    if (dom !== null || cell.textContent === before) return;
    dom = performance.now() - start;
    observer.disconnect();
    requestAnimationFrame(() => resolve([dom, performance.now() - start, cell.textContent]));
  });
  observer.observe(cell, { subtree: true, childList: true, characterData: true });
  setTimeout(() => { observer.disconnect(); resolve([null, null, cell.textContent]); }, 10000);
  const start = performance.now();
  button.click();
})
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def sim_child() -> None:
    """The simulator in this (child) process: prints its URL, runs until stdin closes."""
    from decimal import Decimal

    from hedgestack.venue.sim import SimConfig, SimServer

    sim = SimServer.start_in_thread(SimConfig(market="static", seed=5, starting_balance=Decimal(10_000_000)))
    sys.stdout.write(sim.url + "\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()
    finally:
        sim.stop()


def summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": round(statistics.median(values), 1), "p99_ms": round(pct(values, 99), 1),
            "max_ms": round(max(values), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=2, help="browser sessions open (the first one trades)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sim-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sim_child:
        sim_child()
        return

    from playwright.sync_api import sync_playwright

    from hedgestack.engine.terminal import Terminal
    from hedgestack.ui import dashboard
    from hedgestack.ui.pump import MIN_INTERVAL

    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--sim-child"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    sim_url = child.stdout.readline().strip()
    requests.post(sim_url + "/sim/v1/price", json={"symbol": "BTCUSDT", "last": "95000", "mark": "95000"},
                  timeout=10).raise_for_status()
    terminal = Terminal.sim(tempfile.mkdtemp(prefix="hedgestack-uiclick-"), sim_url=sim_url).start_sync()
    vp = terminal.sync.create_vp("Bench", "BTCUSDT", "LONG")
    pn.extension(inline=True, notifications=True)
    port = free_port()
    server = pn.serve({"/": lambda: dashboard(terminal).template()}, port=port, address="127.0.0.1", show=False,
                      threaded=True, websocket_origin=[f"127.0.0.1:{port}"])
    url = f"http://127.0.0.1:{port}/"
    dom: list[float] = []
    painted: list[float] = []
    misses = 0
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            pages = []
            for _ in range(args.sessions):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                for _attempt in range(100):
                    try:
                        page.goto(url)
                        break
                    except Exception:  # noqa: BLE001 - the server is still starting
                        time.sleep(0.2)
                page.locator(f'.hs-positions tr[data-key="{vp.id}"]').wait_for(timeout=60_000)
                pages.append(page)
            page = pages[0]
            page.locator(f'.hs-positions tr[data-key="{vp.id}"] td[data-col="pos"]').click()
            page.locator(".hs-ticket-type .bk-btn", has_text="Market").first.click()
            page.locator(".hs-ticket-size input").fill(QTY)
            button = page.locator(".hs-ticket-submit button").element_handle()
            cell = page.locator(f'.hs-positions tr[data-key="{vp.id}"] td[data-col="size"]').element_handle()
            side = "BUY"
            for i in range(args.warmup + args.clicks):
                page.locator(".hs-ticket-side .bk-btn", has_text=side).click()
                page.locator(".hs-ticket-submit button", has_text=side).wait_for(timeout=10_000)
                time.sleep(0.15)  # the previous round's last updates are in
                took_dom, took_paint, _text = page.evaluate(TIME_CLICK_JS, [button, cell])
                if i >= args.warmup:
                    if took_dom is None:
                        misses += 1
                    else:
                        dom.append(took_dom)
                        painted.append(took_paint)
                side = "SELL" if side == "BUY" else "BUY"
            browser.close()
    finally:
        server.stop()
        terminal.stop_sync()
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)
    result = {"benchmark": "ui_click", "path": "click Place order (MARKET) → the VP's Size cell painted",
              "sessions_open": args.sessions, "simulator": "own process", "clicks": len(dom), "missed": misses,
              "coalescing_min_interval_ms": round(MIN_INTERVAL * 1000), "cpus": os.cpu_count(),
              "dom": summary(dom), "painted": summary(painted), "load_1min": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()


