"""An open, idle dashboard page: how much of a core does the browser (and the server) spend?

Setup: a Terminal on the embedded simulator (``--market random``: a moving market, marks every half second, as a
trader watches it; or ``static``), four VPs on two sides with TP/SL, the dashboard served by ``pn.serve``, one
Chromium page (Debian's chromium through playwright) at 1400×900. Once the page is usable and has settled, the
CPU time of every Chromium process started by this benchmark (browser, renderer, GPU, utility: read from
``/proc``) and of this process (engine + dashboard server) is sampled over ``--seconds``; the figure is CPU
seconds per wall second, in % of one core.

Usage: .venv/bin/python benchmarks/ui_idle_cpu.py [--market random|static] [--seconds 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time
from pathlib import Path

import panel as pn

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, from /proc/PID/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def descendants_cpu(root: int) -> tuple[float, int]:
    """CPU seconds of every process below ``root`` whose name is chromium (and how many there are)."""
    table: dict[int, tuple[int, float, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None:
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        table[int(entry.name)] = (stat[0], stat[1], name)
    total, count = 0.0, 0
    for pid, (_ppid, cpu, name) in table.items():
        if "chrom" not in name:
            continue
        parent = pid
        while parent in table and parent != root:
            parent = table[parent][0]
        if parent == root:
            total += cpu
            count += 1
    return total, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--market", choices=("random", "static"), default="random")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from hedgestack.engine.terminal import Terminal
    from hedgestack.ui import dashboard

    t = Terminal.sim(tempfile.mkdtemp(prefix="hedgestack-idle-"), market=args.market, seed=11).start_sync()
    for name, side, opening in (("Trend", "LONG", "BUY"), ("Swing", "LONG", "BUY"), ("Hedge", "SHORT", "SELL"),
                                ("Scalp", "SHORT", "SELL")):
        vp = t.sync.create_vp(name, "BTCUSDT", side)
        t.sync.place_order(vp.id, opening, "MARKET", "0.005")
    t.sync.wait_idle()
    pn.extension(inline=True, notifications=True)
    port = free_port()
    server = pn.serve({"/": lambda: dashboard(t).template()}, port=port, address="127.0.0.1", show=False,
                      threaded=True, websocket_origin=[f"127.0.0.1:{port}"])
    me = os.getpid()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for _ in range(100):
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:  # noqa: BLE001 - the server is still starting
                    time.sleep(0.2)
            page.locator(".hs-positions tr.vp").first.wait_for(timeout=60_000)
            time.sleep(5)  # the page settles (first chart load, fonts, layout)
            browser_before, processes = descendants_cpu(me)
            server_before = sum(os.times()[:2])
            started = time.monotonic()
            time.sleep(args.seconds)
            wall = time.monotonic() - started
            browser_after, _ = descendants_cpu(me)
            server_after = sum(os.times()[:2])
            browser.close()
    finally:
        server.stop()
        t.stop_sync()
    result = {"benchmark": "ui_idle_cpu", "market": args.market, "seconds": round(wall, 1),
              "browser_processes": processes,
              "browser_cpu_pct_of_a_core": round(100 * (browser_after - browser_before) / wall, 2),
              "server_cpu_pct_of_a_core": round(100 * (server_after - server_before) / wall, 2),
              "load_1min": round(os.getloadavg()[0], 2)}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
