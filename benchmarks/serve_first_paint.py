"""`hedgestack serve` to first paint: how long a trader waits from the command to a usable dashboard.

Each run starts `hedgestack serve` (embedded simulator, a fresh data directory) as a new process and takes,
on one clock:

- **http**: command started → the dashboard URL answers 200;
- **first paint**: navigation → Chromium's first-contentful-paint (Performance API);
- **usable**: navigation → the positions table and the order ticket's submit button are visible;
- **total**: command started → usable;
- **rss**: the serve process's resident memory once the page is up.

Usage: python benchmarks/serve_first_paint.py [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import sync_playwright

from hedgestack.bench.memory import rss_mb

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
USABLE = (".hs-positions", ".hs-ticket-submit button")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_run(browser: Any) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    data = tempfile.mkdtemp(prefix="hedgestack-paint-")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "hedgestack.cli", "serve", "--port", str(port), "--data-dir", data],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None:
                raise RuntimeError("hedgestack serve exited")
            if time.perf_counter() - started > 120:
                raise RuntimeError("hedgestack serve did not answer in 120 s")
            time.sleep(0.05)
        http = time.perf_counter() - started
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        navigated = time.perf_counter()
        page.goto(url)
        for selector in USABLE:
            page.locator(selector).first.wait_for(state="visible", timeout=60_000)
        usable = time.perf_counter() - navigated
        paint = page.evaluate("() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime")
        memory = rss_mb(proc.pid)["rss_mb"]
        page.close()
        return {"http_s": round(http, 2), "first_paint_s": round((paint or 0) / 1000, 2),
                "usable_s": round(usable, 2), "total_s": round(http + usable, 2), "rss_mb": memory}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian chromium is needed: apt-get install -y chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        runs = [one_run(browser) for _ in range(args.runs)]
        browser.close()
    result = {"runs": runs, **{f"{key}_median": statistics.median(r[key] for r in runs) for key in runs[0]}}
    if args.json:
        print(json.dumps(result))  # noqa: T201
    else:
        print(f"hedgestack serve → usable dashboard: median {result['total_s_median']} s "  # noqa: T201
              f"(HTTP 200 after {result['http_s_median']} s, first paint {result['first_paint_s_median']} s and "
              f"usable {result['usable_s_median']} s after navigation; serve RSS {result['rss_mb_median']} MB)")


if __name__ == "__main__":
    main()
