"""A simulator process for ``hedgestack bench latency``: it records when each trade's ORDER_TRADE_UPDATE frame
leaves (wall clock, ns) and, on request, places orders "from another app" at a fixed rate.

Usage (driven by the benchmark): ``python -m hedgestack.bench.sim_probe OUT.json`` prints the URL, waits for
a line ``RATE SECONDS`` on stdin, sends the orders, writes ``{trade_id: sent_ns}`` to OUT.json and exits.
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal

import requests

from hedgestack.bench.frame_clock import FrameClock
from hedgestack.venue.sim import SimConfig, SimServer


def main(out: str) -> None:
    clock = FrameClock().install()
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=1, starting_balance=Decimal(10_000_000)))
    sys.stdout.write(sim.url + "\n")
    sys.stdout.flush()
    rate, seconds = (float(x) for x in sys.stdin.readline().split())
    http = requests.Session()
    url = sim.url + "/sim/v1/external-order"
    count = int(rate * seconds)
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        http.post(url, json={"symbol": "BTCUSDT", "side": "BUY" if i % 2 == 0 else "SELL", "positionSide": "LONG",
                             "type": "MARKET", "quantity": "0.002", "clientOrderId": f"web_bench{i}"}, timeout=10)
    achieved = count / (time.perf_counter() - start)
    time.sleep(1.0)
    with open(out, "w") as handle:
        json.dump({"achieved_rate": achieved, "sent": {str(k): v for k, v in clock.snapshot().items()}}, handle)
    sys.stdout.write("done\n")
    sys.stdout.flush()
    sys.stdin.readline()  # the benchmark says when its terminal has stopped
    sim.stop()


if __name__ == "__main__":
    main(sys.argv[1])
