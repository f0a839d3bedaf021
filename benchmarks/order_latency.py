"""Order via ``POST /v1/orders`` → ``VIRTUAL_POSITION_UPDATE`` with the new net_qty on ``/v1/stream``.

The simulator runs in a process of its own (``hedgestack sim --market static``), ``hedgestack serve --sim-url``
in another, started from each ``--root`` in turn (a checkout or ``git archive`` of a commit: the same command
measures two versions side by side in one run). For every browser count in ``--browsers`` that many dashboard
sessions are opened in Chromium (each a page of its own, kept rendering) before the orders go.

Orders: MARKET 0.002 BTCUSDT on one LONG VP, BUY and SELL in turn (net_qty 0.002, 0, 0.002 ...), one at a time
with a pause of ``--gap`` seconds between them. Per order: **post** = the POST's answer, **vpu** = send → the
first VIRTUAL_POSITION_UPDATE of that VP carrying the expected net_qty on the stream (one machine, one clock).

Usage: python benchmarks/order_latency.py [--root DIR ...] [--browsers 0 2] [--orders 200] [--gap 0.05]
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import websocket
from servekit import CURRENT, chromium, dump, open_dashboards, serve, simulator, summary

QTY = Decimal("0.002")


class StreamWatch:
    """Reads ``/v1/stream`` in a thread; records (perf_counter, net_qty) of one VP's updates."""

    def __init__(self, base: str) -> None:
        self.vp_id: str | None = None
        self.updates: list[tuple[float, Decimal]] = []
        self.cond = threading.Condition()
        self.ws = websocket.create_connection(base.replace("http", "ws", 1) + "/v1/stream", timeout=30)
        first = json.loads(self.ws.recv())
        assert first["type"] == "SNAPSHOT", first["type"]
        self.ws.settimeout(None)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                text = self.ws.recv()
                now = time.perf_counter()
                msg = json.loads(text)
                if msg["type"] == "VIRTUAL_POSITION_UPDATE" and msg["payload"]["id"] == self.vp_id:
                    with self.cond:
                        self.updates.append((now, Decimal(msg["payload"]["net_qty"])))
                        self.cond.notify_all()
        except Exception:  # noqa: BLE001 - closed
            return

    def wait_for(self, qty: Decimal, since: float, timeout: float = 10.0) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                hit = next((t for t, q in self.updates if t >= since and q == qty), None)
                if hit is not None:
                    return hit
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self) -> None:
        self.ws.close()


def measure(base: str, orders: int, gap: float) -> dict[str, Any]:
    http = requests.Session()
    vp = http.post(base + "/v1/virtual-positions", json={"name": f"bench-{time.time_ns()}", "symbol": "BTCUSDT",
                                                          "positionSide": "LONG"}, timeout=30)
    vp.raise_for_status()
    watch = StreamWatch(base)
    watch.vp_id = vp.json()["id"]
    posts: list[float] = []
    vpus: list[float] = []
    missed = 0
    held = Decimal(0)
    try:
        for i in range(orders + 5):
            side = "BUY" if held == 0 else "SELL"
            expected = held + QTY if side == "BUY" else held - QTY
            body = {"virtual_position_id": watch.vp_id, "symbol": "BTCUSDT", "positionSide": "LONG", "side": side,
                    "type": "MARKET", "qty": str(QTY)}
            sent = time.perf_counter()
            resp = http.post(base + "/v1/orders", json=body, timeout=30)
            answered = time.perf_counter()
            resp.raise_for_status()
            seen = watch.wait_for(expected, sent)
            held = expected
            if i < 5:  # warm-up
                continue
            posts.append((answered - sent) * 1000)
            if seen is None:
                missed += 1
            else:
                vpus.append((seen - sent) * 1000)
            time.sleep(gap)
    finally:
        watch.close()
    return {"post": summary(posts), "vpu": summary(vpus), "missed": missed}


def layout(base: str) -> str:
    """Which serve answered: the two-process one has /v1/instruments and a dashboard part in /v1/health."""
    health = requests.get(base + "/v1/health", timeout=10).json()
    return "engine + dashboard processes" if "dashboard" in health else "one process"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, action="append", default=None,
                        help="source tree to run serve from (repeatable; default: this checkout)")
    parser.add_argument("--browsers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.05, help="pause between orders (seconds)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole comparison (interleaved)")
    parser.add_argument("--log-dir", type=Path, default=None, help="keep each serve's output here")
    parser.add_argument("--sim-root", type=Path, default=None,
                        help="source tree the simulator runs from (default: this checkout, for every --root)")
    args = parser.parse_args()
    roots = args.root or [CURRENT]
    results: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        for browsers in args.browsers:
            for root in roots:
                with simulator(args.sim_root or CURRENT) as sim_url:
                    log = args.log_dir / f"serve-{root.name}-{browsers}-{round_}.log" if args.log_dir else None
                    with serve(root, sim_url, log=log) as (base, proc):
                        row: dict[str, Any] = {"root": str(root), "browsers": browsers, "round": round_,
                                               "serve_pid": proc.pid, "layout": layout(base)}
                        if browsers:
                            with chromium() as browser:
                                pages = open_dashboards(browser, base, browsers)
                                row.update(measure(base, args.orders, args.gap))
                                for page in pages:
                                    page.close()
                        else:
                            row.update(measure(base, args.orders, args.gap))
                        row["load_1min"] = round(os.getloadavg()[0], 2)
                        results.append(row)
                        print(json.dumps(row), flush=True)  # noqa: T201 - progress
    dump({"benchmark": "order_latency", "path": "POST /v1/orders → VIRTUAL_POSITION_UPDATE on /v1/stream",
          "cpus": os.cpu_count(), "results": results})


if __name__ == "__main__":
    main()
