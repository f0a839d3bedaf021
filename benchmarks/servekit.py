"""Helpers shared by the serve benchmarks: a standalone simulator and ``hedgestack serve`` as processes of their
own, started from a given source tree (so one run can compare two checkouts side by side), and Chromium pages.

A *root* is a directory holding a ``hedgestack`` package (a checkout or ``git archive`` of a commit); the
processes run in it with ``PYTHONPATH=root`` (``python -m`` puts the working directory first on ``sys.path``), so
``python -m hedgestack.cli`` imports that tree's code, whatever is installed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
                 "--disable-backgrounding-occluded-windows"]
HERE = Path(__file__).resolve().parent
CURRENT = HERE.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"n": len(values), "p50_ms": round(statistics.median(values), 2), "p99_ms": round(pct(values, 99), 2),
            "max_ms": round(max(values), 2)}


def env_for(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEDGESTACK_", "BINANCE_"))}
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def wait_http(url: str, proc: subprocess.Popen[Any] | None, timeout: float = 120.0,
              ok: tuple[int, ...] = (200,)) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=5).status_code in ok:
                return
        except requests.RequestException:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout} s")
        time.sleep(0.1)


def wait_dashboard(base: str, proc: subprocess.Popen[Any], timeout: float = 120.0) -> None:
    """Wait until serve's dashboard process (when it has one: ``dashboard`` in ``/v1/health``) is up. The engine
    answers first; the dashboard process imports Panel and Bokeh for seconds of CPU after that, which a figure
    taken meanwhile would measure instead of serve at work."""
    deadline = time.monotonic() + timeout
    while True:
        dashboard = requests.get(base + "/v1/health", timeout=10).json().get("dashboard")
        if dashboard is None or dashboard.get("state") == "up":
            return
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"serve's dashboard did not come up in {timeout} s: {dashboard}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def simulator(root: Path = CURRENT, *, balance: str = "100000000", market: str = "static") -> Iterator[str]:
    """``hedgestack sim`` in a process of its own; yields its URL (prices set to BTC 95,000 / ETH 3,500)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hedgestack.cli", "sim", "--port", str(port), "--market", market,
                             "--balance", balance], env=env_for(root), cwd=root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/fapi/v1/ping", proc)
        for symbol, price in (("BTCUSDT", "95000"), ("ETHUSDT", "3500")):
            requests.post(url + "/sim/v1/price", json={"symbol": symbol, "last": price, "mark": price},
                          timeout=10).raise_for_status()
        yield url
    finally:
        stop(proc)


@contextmanager
def serve(root: Path, sim_url: str, *, data_dir: str | None = None, extra: list[str] | None = None,
          log: Path | None = None) -> Iterator[tuple[str, subprocess.Popen[Any]]]:
    """``hedgestack serve --sim-url`` from ``root`` on a free port; yields (base URL, process) once
    ``/v1/health`` answers 200."""
    port = free_port()
    data = data_dir or tempfile.mkdtemp(prefix="hedgestack-bench-")
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "hedgestack.cli", "serve", "--sim-url", sim_url, "--port",
                             str(port), "--data-dir", data, *(extra or [])], env=env_for(root), cwd=root,
                            stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/v1/health", proc)
        wait_dashboard(base, proc)
        yield base, proc
    finally:
        stop(proc)
        if log:
            out.close()  # type: ignore[union-attr]


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_dashboards(browser: Any, base: str, count: int) -> list[Any]:
    """``count`` dashboard sessions, each in a page of its own, loaded (positions table shown)."""
    pages = []
    for _ in range(count):
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(base + "/")
        # Panel's Tabulator (one-process dashboards) or hedgestack's grid (playwright's CSS pierces shadow roots)
        page.locator(".hs-positions .tabulator, .hs-positions table.hs-grid").first.wait_for(timeout=90_000)
        pages.append(page)
    return pages


def dump(result: Any) -> None:
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


# == foreign fills from a process of its own ===========================================================
STEP = "0.002"  # 0.002 × 95000 = 190 ≥ the 100 USDT min notional


def foreign_order(i: int, side: str = "BUY") -> dict[str, str]:
    """A MARKET order "from another app" (booked to the UNASSIGNED VP of BTCUSDT LONG)."""
    return {"symbol": "BTCUSDT", "side": side, "positionSide": "LONG", "type": "MARKET", "quantity": STEP,
            "clientOrderId": f"web_bench{i}"}


def _drive(sim_url: str, rate: float, count: int, first: int, threads: int) -> float:
    """Place ``count`` foreign BUY orders at ``rate`` per second over ``threads`` connections; return seconds."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    where = urlsplit(sim_url)
    start = time.perf_counter() + 0.05
    errors: list[str] = []

    def worker(k: int) -> None:
        # http.client on a kept-alive connection: ~0.5 ms of CPU an order where requests took ~2 ms (at 200
        # orders/s the driver, which stands for another app far away, took ~40 % of one of the machine's 2 cores)
        conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        for i in range(k, count, threads):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.request("POST", "/sim/v1/external-order", json.dumps(foreign_order(first + i)), headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                errors.append(body[:200].decode(errors="replace"))
        conn.close()

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise RuntimeError(f"{len(errors)} orders refused, e.g. {errors[0]}")
    return time.perf_counter() - start


class Driver:
    """Foreign orders from a process of its own (not the measuring one, not serve)."""

    def __init__(self, sim_url: str) -> None:
        self.sim_url = sim_url
        self.sent = 0

    def drive(self, rate: float, count: int, threads: int = 1) -> float:
        first, self.sent = self.sent, self.sent + count
        out = subprocess.run([sys.executable, str(HERE / "servekit.py"), "drive", self.sim_url, str(rate), str(count),
                              str(first), str(threads)], capture_output=True, text=True, timeout=600, check=True)
        return float(out.stdout.split()[-1])


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "drive":
        took = _drive(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        sys.stdout.write(f"sent {took}\n")
