"""One life of the soak's terminal process: ``python -m hedgestack.soak.worker SIM_URL DATA_DIR OUT_DIR RATE SEED
LIFE``.

It starts a Terminal on the data directory (replaying whatever an earlier life left), runs the scripted
trader, and writes to OUT_DIR:

- ``bus-LIFE.jsonl``: ``[tradeId, ns]`` pairs, when each trade's VIRTUAL_POSITION_UPDATE left the bus;
- ``worker-LIFE.json``: the terminal's and the trader's counters and this process's memory, rewritten every
  second (so a SIGKILLed life leaves figures at most a second old).

Commands on stdin, one per line: ``mismatch`` (the trader makes one), ``finish`` (wind down, settle, audit,
write ``final.json``, stop and exit).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from hedgestack.bench.memory import rss_mb
from hedgestack.engine.audit import audit, exchange_sides, log_fill_rows, state_digest
from hedgestack.engine.terminal import Terminal
from hedgestack.engine.views import FillView, VirtualPositionView
from hedgestack.soak.trader import ScriptedTrader

if TYPE_CHECKING:
    from hedgestack.engine.views import Envelope

SETTLE_TIMEOUT = 120.0


class BusClock:
    """Bus listener: when each trade's VIRTUAL_POSITION_UPDATE was published, flushed to a file in batches."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending: dict[str, int] = {}
        self.seen: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def __call__(self, envelope: Envelope) -> None:
        now = time.time_ns()
        fill, update = envelope.payload, envelope.payload
        if isinstance(fill, FillView):
            with self.lock:
                self.pending[fill.virtual_position_id] = fill.trade_id
        elif isinstance(update, VirtualPositionView):
            with self.lock:
                trade = self.pending.pop(update.id, None)
                if trade is not None:
                    self.seen.append((trade, now))

    def flush(self) -> None:
        with self.lock:
            taken, self.seen = self.seen, []
        if taken:
            with self.path.open("a") as handle:
                handle.write("".join(json.dumps(pair) + "\n" for pair in taken))


class Worker:
    def __init__(self, sim_url: str, data_dir: Path, out_dir: Path, rate: float, seed: int, life: int) -> None:
        self.sim_url = sim_url
        self.out_dir = out_dir
        self.life = life
        self.terminal = Terminal.sim(data_dir, sim_url=sim_url, publish_interval=2.0)
        self.clock = BusClock(out_dir / f"bus-{life}.jsonl")
        self.trader = ScriptedTrader(self.terminal, sim_url, rate=rate, seed=seed * 1000 + life)
        self._done = threading.Event()
        self.started = time.time()

    def figures(self) -> dict[str, Any]:
        stats = self.terminal.stats
        return {"life": self.life, "seconds": round(time.time() - self.started, 1), "fills": stats.fills,
                "duplicates": stats.duplicates, "malformed": stats.malformed, "reconnects": stats.reconnects,
                "backfilled_fills": stats.backfilled_fills, "lost_answers_resolved": stats.lost_answers_resolved,
                "mismatches_raised": stats.mismatches_raised, "mismatches_healed": stats.mismatches_healed,
                **self.trader.summary(), **rss_mb()}

    def _write(self, name: str, data: dict[str, Any]) -> None:
        tmp = self.out_dir / (name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.out_dir / name)

    def _reporter(self) -> None:
        while not self._done.wait(1.0):
            self.clock.flush()
            self._write(f"worker-{self.life}.json", self.figures())

    def run(self) -> None:
        self.terminal.start_sync(timeout=120)
        self.terminal.bus.add_listener(self.clock)
        self.trader.start()
        threading.Thread(target=self._reporter, name="soak-reporter", daemon=True).start()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        for line in sys.stdin:
            command = line.strip()
            if command == "mismatch":
                self.trader.request_mismatch()
            elif command == "finish":
                break
        self.finish()

    def finish(self) -> None:
        self.trader.stop()
        self.trader.wind_down()
        result = self.settle()
        self._done.set()
        self.clock.flush()
        self._write(f"worker-{self.life}.json", self.figures())
        store = self.terminal.log_store
        assert store is not None
        self.terminal.stop_sync()
        # the state the terminal stopped with (what a restart must replay to)
        self._write("final.json", {**result, "digest": state_digest(store.ledger)})
        sys.stdout.write("done\n")
        sys.stdout.flush()

    def settle(self) -> dict[str, Any]:
        """Wait until the ledger holds every exchange trade, no order is open and every side agrees (healing a
        MISMATCH as the trader would), then audit it against the exchange's truth."""
        t = self.terminal
        http = requests.Session()
        deadline = time.monotonic() + SETTLE_TIMEOUT
        started = time.monotonic()
        truth: dict[str, Any] = {}
        why = "not checked"
        settled_once = False
        while time.monotonic() < deadline:
            truth = http.get(self.sim_url + "/sim/v1/account", timeout=30).json()
            quiet = not truth["open_orders"] and not truth["open_algo_orders"]
            why = t.run_sync(_unsettled(t, truth)) if quiet else "orders open on the exchange"
            if not why and settled_once:
                break  # settled twice, a second apart: nothing was still on its way
            settled_once = not why
            if settled_once:
                time.sleep(1.0)
                continue
            self.trader.heal_all()
            if not quiet:
                self.trader.wind_down()
            time.sleep(0.5)
        settle_s = round(time.monotonic() - started, 1)

        async def check() -> dict[str, Any]:
            ledger = t.ledger
            store = t.log_store
            assert store is not None
            report = audit(ledger, log_fill_rows(store), truth)
            return {"audit": report.as_dict(), "replay_equal": store.replay(from_zero=True) == ledger,
                    "sides": {f"{s} {p}": str(ledger.side_qty(s, p)) for s, p in sorted(ledger.sides())}}

        still_open = [{"clientOrderId": o.get("clientOrderId"), "type": o.get("type"), "status": o.get("status")}
                      for o in truth.get("open_orders", [])]
        still_open += [{"clientAlgoId": o.get("clientAlgoId"), "type": o.get("orderType"),
                        "status": o.get("algoStatus")} for o in truth.get("open_algo_orders", [])]
        return {**t.run_sync(check(), timeout=600), "settle_seconds": settle_s, "unsettled": why,
                "open_on_exchange": still_open[:20]}


async def _unsettled(t: Terminal, truth: dict[str, Any]) -> str:
    """Why the books are not settled yet ("" when they are)."""
    ledger = t.ledger
    if t.venue.backlog():
        return f"{t.venue.backlog()} stream messages not yet taken in"
    if ledger.trade_count != len(truth["trades"]):
        return f"{ledger.trade_count} trades in the ledger, {len(truth['trades'])} on the exchange"
    if not t.tpsl.idle():
        return "TP/SL work pending"
    still_open = [o.client_order_id for o in ledger.orders.values() if o.is_open]
    if still_open:
        return f"orders open in the ledger: {still_open[:5]}"
    exchange = exchange_sides(truth)
    for s, p in sorted(set(exchange) | ledger.sides()):
        if ledger.side_qty(s, p) != exchange.get((s, p), 0):
            return f"{s} {p}: VPs hold {ledger.side_qty(s, p)}, the exchange {exchange.get((s, p), 0)}"
    return ""


def main(argv: list[str]) -> None:
    sim_url, data_dir, out_dir, rate, seed, life = argv
    Worker(sim_url, Path(data_dir), Path(out_dir), float(rate), int(seed), int(life)).run()


if __name__ == "__main__":
    main(sys.argv[1:])
