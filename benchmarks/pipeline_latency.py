"""The front-end pipeline of ``hedgestack serve``, measured from outside as a user sees it.

Processes: the simulator (``hedgestack sim --market static``), the order driver (foreign MARKET orders through the
simulator's control API, booked to the UNASSIGNED VP), ``hedgestack serve --sim-url`` started from each ``--root``
in turn (so two versions run side by side in one run), Chromium, and this script (which only watches).

``paint``: fill in the simulator → the UNASSIGNED row's quantity changed in the dashboard (DOM) and the next
animation frame (painted), for each ``--rates`` (fills/s), with ``--sessions`` dashboard sessions open (the first
one measures). A fill's latency is the first time a quantity ≥ its cumulative quantity is in the DOM − its trade
time in the simulator (one machine, one wall clock); a fill shown in a later, coalesced update gets that update's
time. The page hook (a MutationObserver on the positions table) reads Panel's Tabulator (one-process dashboards)
or hedgestack's own grid. The trades' times and quantities come from the simulator's record after the run
(``/sim/v1/account``), so nothing but the browser watches during it; ``--stream`` adds a ``/v1/stream`` reader and
the fill → stream figure (that reader parses ~6 events a fill in Python: a load of its own on 2 cores). The driver
places the orders over kept-alive ``http.client`` connections (~0.5 ms of CPU an order; with ``requests`` it took
~2 ms, ~40 % of a core at 200 orders/s, for what stands for another app far away).

``burst``: ``--rate`` fills/s for ``--seconds`` (``--sessions`` dashboards open): every FILL must reach
``/v1/stream`` once, in trade order, the UNASSIGNED VP's quantity must step up to the total; reports fill → stream
latency and how long the engine took to drain the burst.

``fills``: a remote ``fills()`` of the log in ``--data-dir`` (copied per run, e.g. 1,000,000 fills built with
``python -c "from hedgestack.bench.rss import build; ..."``): ``hedgestack.connect(url).fills()`` where the tree
has it, else ``GET /v1/fills?format=arrow`` read with polars (what a script did before).

Usage: python benchmarks/pipeline_latency.py paint|burst|fills [--root DIR ...] [options]; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import websocket
from servekit import CURRENT, STEP, Driver, chromium, dump, open_dashboards, serve, simulator, summary

OBSERVER_JS = """
(table) => {
  // the positions table: hedgestack's grid or Panel's Tabulator (found by playwright through the shadow roots)
  const grid = table.tagName === 'TABLE';
  const qtyOf = () => {
    if (!grid) {
      for (const row of table.querySelectorAll('.tabulator-row')) {
        const vp = row.querySelector('.tabulator-cell[tabulator-field="VP"]');
        if (vp && vp.textContent.trim() === 'UNASSIGNED')
          return row.querySelector('.tabulator-cell[tabulator-field="Qty"]').textContent.trim();
      }
      return null;
    }
    const size = [...table.querySelectorAll('thead th')].map(th => th.dataset.col).indexOf('size');
    for (const tr of table.querySelectorAll('tbody tr')) {
      if (tr.cells.length > size && tr.cells[0].textContent.includes('UNASSIGNED'))
        return tr.cells[size].textContent.trim();
    }
    return null;
  };
  window.__seen = []; window.__painted = [];
  let last = null;
  const read = () => {
    const qty = qtyOf();
    if (qty !== null && qty !== last) {
      last = qty;
      window.__seen.push([Date.now(), qty]);
      requestAnimationFrame(() => window.__painted.push([Date.now(), qty]));
    }
  };
  new MutationObserver(read).observe(table, {subtree: true, childList: true, characterData: true});
  read();
  return grid ? 'grid' : 'tabulator';
}
"""
STEP_D = Decimal(STEP)
TABLE = ".hs-positions .tabulator, .hs-positions table.hs-grid"


def number(text: str) -> Decimal:
    """A quantity as the page shows it ("0.012", "1,234.5", "0.012 BTC")."""
    clean = "".join(ch for ch in str(text) if ch.isdigit() or ch in ".-")
    return Decimal(clean or "0")


class StreamRecorder:
    """``/v1/stream`` read in a thread: every FILL and every UNASSIGNED update, with the receive time (ms)."""

    def __init__(self, base: str) -> None:
        self.fills: list[dict[str, Any]] = []
        self.unassigned: list[tuple[int, Decimal]] = []
        self.ws = websocket.create_connection(base.replace("http", "ws", 1) + "/v1/stream", timeout=30)
        assert json.loads(self.ws.recv())["type"] == "SNAPSHOT"
        self.ws.settimeout(None)
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            while True:
                text = self.ws.recv()
                now = time.time_ns() // 1_000_000
                msg = json.loads(text)
                payload = msg["payload"]
                if msg["type"] == "FILL" and payload.get("vp_name") == "UNASSIGNED":
                    with self.lock:
                        self.fills.append({"trade_id": int(payload["tradeId"]), "time": int(payload["time"]),
                                           "qty": Decimal(payload["qty"]), "published": int(msg["ts"]),
                                           "received": now})
                elif msg["type"] == "VIRTUAL_POSITION_UPDATE" and payload.get("name") == "UNASSIGNED":
                    with self.lock:
                        self.unassigned.append((now, Decimal(payload["net_qty"])))
        except Exception:  # noqa: BLE001 - closed
            return

    def snapshot(self) -> tuple[list[dict[str, Any]], list[tuple[int, Decimal]]]:
        with self.lock:
            return list(self.fills), list(self.unassigned)

    def close(self) -> None:
        self.ws.close()


def _first_at(seen: list[tuple[int, Decimal]], cumulative: Decimal, since: int) -> int | None:
    return next((t for t, q in seen if q >= cumulative and t >= since - 5), None)


def sim_trades(sim_url: str, since_id: int) -> list[dict[str, Any]]:
    """The simulator's own record of the driver's trades after ``since_id``: id, time (ms) and quantity."""
    truth = requests.get(sim_url + "/sim/v1/account", timeout=60).json()
    return sorted(({"trade_id": int(t["id"]), "time": int(t["time"]), "qty": Decimal(t["qty"])}
                   for t in truth["trades"]
                   if int(t["id"]) > since_id and str(t.get("clientOrderId", "")).startswith("web_bench")),
                  key=lambda t: t["trade_id"])


def paint_rate(page: Any, driver: Driver, recorder: StreamRecorder | None, rate: float,
               seconds: float) -> dict[str, Any]:
    count = max(50, int(rate * seconds))
    since = max((t["trade_id"] for t in sim_trades(driver.sim_url, 0)), default=0)
    base = number(page.evaluate("() => (window.__seen.at(-1) || [0, '0'])[1]") or "0")
    load = os.getloadavg()[0]
    sent_for = driver.drive(rate, count, threads=1 if rate <= 50 else 4)
    final = base + STEP_D * count
    deadline = time.time() + 60
    while time.time() < deadline:
        seen = page.evaluate("() => window.__seen")
        if seen and number(seen[-1][1]) >= final:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # the last animation frame
    seen = [(int(t), number(q)) for t, q in page.evaluate("() => window.__seen")]
    painted = [(int(t), number(q)) for t, q in page.evaluate("() => window.__painted")]
    trades = sim_trades(driver.sim_url, since)
    in_dom, on_screen = [], []
    cumulative = base
    for trade in trades:
        cumulative += trade["qty"]
        shown = _first_at(seen, cumulative, trade["time"])
        if shown is not None:
            in_dom.append(shown - trade["time"])
        drawn = _first_at(painted, cumulative, trade["time"])
        if drawn is not None:
            on_screen.append(drawn - trade["time"])
    result = {"rate_per_s": rate, "fills_sent": count, "achieved_rate_per_s": round(count / sent_for, 1),
              "trades": len(trades), "dom": summary(in_dom), "painted": summary(on_screen),
              "load_1min_before": round(load, 2), "load_1min": round(os.getloadavg()[0], 2)}
    if recorder is not None:
        times = {t["trade_id"]: t["time"] for t in trades}
        fills = [f for f in recorder.snapshot()[0] if f["trade_id"] in times]
        result["fills_on_stream"] = len(fills)
        result["stream"] = summary([f["received"] - f["time"] for f in fills])
    return result


def run_paint(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    with simulator() as sim_url, serve(root, sim_url) as (base, _proc), chromium() as browser:
        driver = Driver(sim_url)
        # the stream reader (websocket-client, every event parsed in Python: ~6 a fill) is a load of its own on
        # the 2 cores: only with --stream
        recorder = StreamRecorder(base) if args.stream else None
        pages = open_dashboards(browser, base, args.sessions)
        driver.drive(1, 1)  # the UNASSIGNED row exists before the hook is installed
        deadline = time.time() + 60
        kind = None
        while time.time() < deadline:
            try:
                kind = pages[0].locator(TABLE).first.evaluate(OBSERVER_JS)
                if pages[0].evaluate("() => window.__seen.length") > 0:
                    break
            except Exception:  # noqa: BLE001 - the table is not there yet
                pass
            time.sleep(0.2)
        results = [paint_rate(pages[0], driver, recorder, rate, args.seconds) for rate in args.rates]
        if recorder is not None:
            recorder.close()
        return {"root": str(root), "sessions": args.sessions, "table": kind, "results": results}


def run_burst(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    with simulator() as sim_url, serve(root, sim_url) as (base, _proc), chromium() as browser:
        driver = Driver(sim_url)
        recorder = StreamRecorder(base)
        if args.sessions:
            open_dashboards(browser, base, args.sessions)
        driver.drive(1, 1)
        deadline = time.time() + 30
        while time.time() < deadline and not recorder.snapshot()[0]:
            time.sleep(0.05)
        count = int(args.rate * args.seconds)
        before = len(recorder.snapshot()[0])
        sent_for = driver.drive(args.rate, count, threads=args.threads)
        deadline = time.time() + 120
        while time.time() < deadline and len(recorder.snapshot()[0]) < before + count:
            time.sleep(0.1)
        time.sleep(1.0)  # duplicates would arrive now
        fills, unassigned = recorder.snapshot()
        burst = fills[before:]
        ids = [f["trade_id"] for f in burst]
        quantities = [q for _, q in unassigned]
        latencies = [f["received"] - f["time"] for f in burst]
        recorder.close()
        return {"root": str(root), "sessions": args.sessions, "target_rate_per_s": args.rate,
                "achieved_rate_per_s": round(count / sent_for, 1), "fills_sent": count, "fills_on_stream": len(burst),
                "duplicates": len(ids) - len(set(ids)), "in_trade_order": ids == sorted(ids),
                "unassigned_never_decreases": all(b >= a for a, b in zip(quantities, quantities[1:], strict=False)),
                "unassigned_final": str(quantities[-1]) if quantities else None,
                "unassigned_expected": str(STEP_D * (count + 1)),
                "fill_to_stream": summary([float(x) for x in latencies]),
                "drain_ms": (burst[-1]["received"] - max(f["time"] for f in burst)) if burst else None,
                "load_1min": round(os.getloadavg()[0], 2)}


def run_fills(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="hedgestack-fills-"))
    shutil.rmtree(data)
    shutil.copytree(args.data_dir, data)
    try:
        with simulator() as sim_url, serve(root, sim_url, data_dir=str(data)) as (base, proc):
            has_client = (root / "hedgestack" / "client").is_dir()
            timings = []
            rows = 0
            for _ in range(args.repeat):
                if has_client:
                    code = ("import sys, time, hedgestack; c = hedgestack.connect(sys.argv[1]); "
                            "t = time.perf_counter(); f = c.fills(); print(time.perf_counter() - t, f.height); "
                            "c.close()")
                else:
                    code = ("import io, sys, time, requests, polars as pl; t = time.perf_counter(); r = requests.get("
                            "sys.argv[1] + '/v1/fills?format=arrow', timeout=600); r.raise_for_status(); "
                            "f = pl.read_ipc_stream(io.BytesIO(r.content)); print(time.perf_counter() - t, f.height)")
                out = subprocess.run([sys.executable, "-c", code, base], capture_output=True, text=True, timeout=900,
                                     cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=True)
                seconds, height = out.stdout.split()
                timings.append(float(seconds))
                rows = int(height)
            return {"root": str(root), "how": "hedgestack.connect(url).fills()" if has_client else
                    "GET /v1/fills?format=arrow + polars", "rows": rows,
                    "seconds": [round(t, 3) for t in timings], "median_s": round(sorted(timings)[len(timings) // 2], 3),
                    "serve_pid": proc.pid}
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("paint", "burst", "fills"))
    parser.add_argument("--root", type=Path, action="append", default=None,
                        help="source tree to run serve from (repeatable; default: this checkout)")
    parser.add_argument("--rates", type=float, nargs="+", default=[10.0, 200.0], help="paint: fills per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sessions", type=int, default=1, help="dashboard sessions open (paint: at least 1)")
    parser.add_argument("--rate", type=float, default=500.0, help="burst: fills per second")
    parser.add_argument("--threads", type=int, default=8, help="burst: driver connections")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/hedgestack-1m"), help="fills: the log to serve")
    parser.add_argument("--repeat", type=int, default=3, help="fills: how many reads")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the comparison (interleaved)")
    parser.add_argument("--stream", action="store_true",
                        help="paint: also read /v1/stream and report fill → stream (a load of its own)")
    args = parser.parse_args()
    if args.what == "paint":
        args.sessions = max(1, args.sessions)
    roots = args.root or [CURRENT]
    run = {"paint": run_paint, "burst": run_burst, "fills": run_fills}[args.what]
    results = []
    for round_ in range(args.rounds):
        for root in roots:
            row = {"round": round_, **run(root, args)}
            results.append(row)
            print(json.dumps(row), flush=True)  # noqa: T201 - progress
    dump({"benchmark": f"pipeline_latency {args.what}", "cpus": os.cpu_count(), "results": results})


if __name__ == "__main__":
    main()
