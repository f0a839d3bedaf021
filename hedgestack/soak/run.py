"""``hedgestack soak --minutes M --rate R --faults on``: the terminal under a trader's week, with faults.

Three processes, as in production: the simulated exchange (``simproc``), the terminal with its scripted
trader (``worker``), and this orchestrator. The orchestrator injects every fault kind of the simulator's
control API at random times (user-stream disconnects and pauses, duplicated events, lost REST answers, 429
bursts, listenKey expiry), asks the trader for foreign closes that make a MISMATCH, and once SIGKILLs the
terminal process and starts it again on the same data directory.

At the end the trader winds down (orders cancelled, TP/SL cleared) and the terminal settles and audits itself
(invariants 1–5, every exchange trade exactly once with the right VP, its state equal to a replay of its log
from zero); then this process replays the log once more on its own and audits that against the exchange's
truth. The JSON report holds fills, faults by kind, lost and doubled fills, mismatches seen and healed, fill →
bus latency (all fills, and fills away from any fault), the terminal's memory and the trader's activity.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from hedgestack.engine.audit import audit, log_fill_rows, state_digest
from hedgestack.progress import progress as progress_bar
from hedgestack.store.eventlog import EventLog

#: The simulator's fault kinds (``POST /sim/v1/faults``).
FAULT_KINDS = ("disconnect_user_stream", "pause_user_stream", "duplicate_events", "lose_rest_response",
               "rate_limit", "expire_listen_key")
#: The trader's own fault: a foreign close no VP can take.
OVERCLOSE = "foreign_overclose"
#: Mean seconds between faults in a long run.
FAULT_INTERVAL = 8.0
#: Seconds after a fault (or a kill) whose fills count as "during a fault" in the latency figures.
FAULT_WINDOW = 6.0
#: 429 bursts are kept this far apart: ten 429s in a minute get the IP banned, as on Binance.
RATE_LIMIT_SPACING = 25.0
READY_TIMEOUT = 180.0


@dataclass
class Event:
    at: float  # seconds from the start
    kind: str


def schedule(seconds: float, rng: random.Random, faults: bool) -> list[Event]:
    """When each fault comes: every kind at least once, then at random; one kill; foreign over-closes."""
    if not faults:
        return []
    warmup, margin = min(8.0, seconds * 0.15), min(15.0, seconds * 0.15)
    kill_at = seconds * 0.55
    span = seconds - warmup - margin
    first = [*FAULT_KINDS, OVERCLOSE]
    rng.shuffle(first)
    count = max(len(first), int(span / FAULT_INTERVAL))
    kinds = first + [OVERCLOSE if rng.random() < 0.08 else rng.choice(FAULT_KINDS)
                     for _ in range(count - len(first))]
    events = [Event(warmup + span * (i + rng.uniform(0.1, 0.9)) / count, kind) for i, kind in enumerate(kinds)]
    last_429 = -RATE_LIMIT_SPACING
    kept = []
    for event in events:
        if abs(event.at - kill_at) < 2.0:  # not on top of the kill: just before it
            event.at = kill_at - 2.0 - rng.uniform(0.0, 1.0)
        if event.kind == "rate_limit":
            if event.at - last_429 < RATE_LIMIT_SPACING:
                event.kind = "duplicate_events"
            else:
                last_429 = event.at
        kept.append(event)
    kept.append(Event(kill_at, "sigkill"))
    return sorted(kept, key=lambda e: e.at)


def fault_body(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "pause_user_stream":
        return {"kind": kind, "seconds": round(rng.uniform(1.0, 4.0), 2)}
    if kind == "duplicate_events":
        return {"kind": kind, "count": rng.randint(5, 30)}
    if kind == "lose_rest_response":
        return {"kind": kind, "path": rng.choice(("/fapi/v1/order", "/fapi/v1/algoOrder")), "count": 1}
    if kind == "rate_limit":
        return {"kind": kind, "count": rng.randint(2, 4)}
    return {"kind": kind}


class Soak:
    def __init__(self, minutes: float, rate: float, faults: bool, seed: int, data_dir: Path, out_dir: Path,
                 progress: bool) -> None:
        self.seconds = minutes * 60
        self.rate = rate
        self.faults = faults
        self.seed = seed
        self.rng = random.Random(seed)
        self.data_dir = data_dir
        self.out_dir = out_dir
        self.progress = progress
        self.life = 0
        self.worker: subprocess.Popen[str] | None = None
        self.sim: subprocess.Popen[str] | None = None
        self.url = ""
        self.injected: Counter[str] = Counter()
        self.windows: list[tuple[int, int]] = []  # (from ns, to ns) of fault windows
        self.restarts: list[float] = []
        self.restart_ready = 0.0

    # -- processes ----------------------------------------------------------------------------------
    def _spawn(self, module: str, *args: str, log: str) -> subprocess.Popen[str]:
        handle = (self.out_dir / log).open("a")
        return subprocess.Popen([sys.executable, "-m", module, *args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=handle, text=True, bufsize=1)

    def _start_sim(self) -> None:
        self.sim = self._spawn("hedgestack.soak.simproc", str(self.out_dir), str(self.seed), log="sim.log")
        assert self.sim.stdout is not None
        self.url = self.sim.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError(f"the simulator did not start (see {self.out_dir / 'sim.log'})")

    def _start_worker(self) -> None:
        self.life += 1
        started = time.monotonic()
        self.worker = self._spawn("hedgestack.soak.worker", self.url, str(self.data_dir), str(self.out_dir),
                                  str(self.rate), str(self.seed), str(self.life), log=f"worker-{self.life}.log")
        assert self.worker.stdout is not None
        line = self.worker.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"the terminal (life {self.life}) did not start: {line!r} "
                               f"(see {self.out_dir / f'worker-{self.life}.log'})")
        if time.monotonic() - started > READY_TIMEOUT:
            raise RuntimeError("the terminal took too long to start")
        self.restart_ready = time.monotonic() - started

    def _tell(self, proc: subprocess.Popen[str] | None, line: str) -> None:
        assert proc is not None and proc.stdin is not None
        proc.stdin.write(line + "\n")
        proc.stdin.flush()

    # -- the run ------------------------------------------------------------------------------------
    def _inject(self, event: Event) -> None:
        now = time.time_ns()
        if event.kind == "sigkill":
            assert self.worker is not None
            os.kill(self.worker.pid, signal.SIGKILL)
            self.worker.wait()
            time.sleep(1.0)
            self._start_worker()
            self.restarts.append(round(self.restart_ready, 2))
            self.windows.append((now, time.time_ns() + int(FAULT_WINDOW * 1e9)))
        elif event.kind == OVERCLOSE:
            self._tell(self.worker, "mismatch")
            self.windows.append((now, now + int(FAULT_WINDOW * 1e9)))
        else:
            resp = requests.post(self.url + "/sim/v1/faults", json=fault_body(event.kind, self.rng), timeout=10)
            resp.raise_for_status()
            self.windows.append((now, now + int(FAULT_WINDOW * 1e9)))
        self.injected[event.kind] += 1

    def run(self) -> dict[str, Any]:
        self._start_sim()
        started_wall = time.time()
        try:
            self._start_worker()
            events = schedule(self.seconds, self.rng, self.faults)
            start = time.monotonic()
            with progress_bar(self.progress or None) as progress:
                task = progress.add_task("soak (seconds)", total=int(self.seconds))
                while (elapsed := time.monotonic() - start) < self.seconds:
                    while events and events[0].at <= elapsed:
                        self._inject(events.pop(0))
                    progress.update(task, completed=int(elapsed))
                    time.sleep(0.1)
                progress.update(task, completed=int(self.seconds))
            traded_for = time.monotonic() - start
            self._tell(self.worker, "finish")
            assert self.worker is not None and self.worker.stdout is not None
            line = self.worker.stdout.readline().strip()
            if line != "done":
                raise RuntimeError(f"the terminal did not finish cleanly: {line!r}")
            self.worker.wait(timeout=60)
            truth = requests.get(self.url + "/sim/v1/account", timeout=60).json()
        finally:
            if self.worker is not None and self.worker.poll() is None:
                self.worker.kill()
            if self.sim is not None:
                self._tell(self.sim, "stop")
                self.sim.wait(timeout=60)
        return self.report(truth, traded_for, time.time() - started_wall)

    # -- the report ---------------------------------------------------------------------------------
    def report(self, truth: dict[str, Any], traded_for: float, wall: float) -> dict[str, Any]:
        final = json.loads((self.out_dir / "final.json").read_text())
        lives = [json.loads((self.out_dir / f"worker-{n}.json").read_text())
                 for n in range(1, self.life + 1) if (self.out_dir / f"worker-{n}.json").exists()]
        replay = self._independent_replay(truth)
        latency = self._latency()
        actions: Counter[str] = Counter()
        refusals: Counter[str] = Counter()
        errors: list[str] = []
        for life in lives:
            actions.update(life["actions"])
            refusals.update(life["refusals"])
            errors.extend(life["errors"])
        trader_errors = sum(life["error_count"] for life in lives)
        seen = sum(life["mismatches_raised"] for life in lives)
        healed = sum(life["mismatches_healed"] for life in lives)
        audit_ = final["audit"]
        ok = (audit_["ok"] and final["replay_equal"] and replay["ok"] and replay["equal_to_terminal"]
              and trader_errors == 0 and not final["unsettled"])
        return {
            "ok": ok,
            "minutes": round(traded_for / 60, 2), "target_rate": self.rate,
            "fills": len(truth["trades"]), "achieved_rate": round(len(truth["trades"]) / traded_for, 1),
            "lost": audit_["lost"], "doubled": audit_["doubled"], "misattributed": audit_["misattributed"],
            "intents_missing": audit_["intents_missing"], "invariants": audit_["invariants"],
            "audit_problems": audit_["problems"],
            "state_equals_replay": final["replay_equal"], "state_equals_truth": audit_["ok"],
            "independent_replay": replay,
            "faults": dict(sorted(self.injected.items())), "terminal_restarts_seconds": self.restarts,
            "mismatches": {"seen": seen, "healed": healed, "open_at_end": final["audit"]["invariants"] != []},
            "reconnects": sum(life["reconnects"] for life in lives),
            "duplicates_dropped": sum(life["duplicates"] for life in lives),
            "backfilled_fills": sum(life["backfilled_fills"] for life in lives),
            "lost_answers_resolved": sum(life["lost_answers_resolved"] for life in lives),
            "latency_ms": latency,
            "rss_mb": {"terminal_end": lives[-1].get("rss_mb") if lives else None,
                       "terminal_peak": max((life.get("peak_rss_mb", 0) for life in lives), default=None)},
            "settle_seconds": final["settle_seconds"], "unsettled_at_check": final["unsettled"],
            "open_on_exchange_at_check": final["open_on_exchange"], "orphans": audit_["orphans"],
            "trader": {"actions": dict(sorted(actions.items())), "refusals": dict(sorted(refusals.items())),
                       "errors": errors[:20], "error_count": trader_errors,
                       "action_ms_by_life": [life.get("action_ms", {}) for life in lives]},
            "sides": final["sides"], "wall_seconds": round(wall, 1), "seed": self.seed,
            "out_dir": str(self.out_dir),
        }

    def _independent_replay(self, truth: dict[str, Any]) -> dict[str, Any]:
        """Open the log in this process, replay it from zero and from its snapshot, audit against the truth."""
        log = EventLog(self.data_dir / "hedgestack.duckdb")
        try:
            started = time.perf_counter()
            from_zero = log.replay(from_zero=True)
            seconds = time.perf_counter() - started
            with_snapshot = log.replay()
            report = audit(from_zero, log_fill_rows(log), truth)
            final = json.loads((self.out_dir / "final.json").read_text())
            return {"ok": report.ok and with_snapshot == from_zero, "snapshot_equals_zero": with_snapshot == from_zero,
                    "equal_to_terminal": state_digest(from_zero) == final["digest"], "events": log.count(),
                    "replay_seconds": round(seconds, 3), "problems": report.problems}
        finally:
            log.close(snapshot=False)

    def _latency(self) -> dict[str, Any]:
        sent: dict[int, int] = {}
        frames = self.out_dir / "frames.jsonl"
        if frames.exists():
            for line in frames.read_text().splitlines():
                trade, ns = json.loads(line)
                sent.setdefault(int(trade), int(ns))
        every: list[float] = []
        quiet: list[float] = []
        windows = sorted(self.windows)
        for n in range(1, self.life + 1):
            path = self.out_dir / f"bus-{n}.jsonl"
            if not path.exists():
                continue
            for line in path.read_text().splitlines():
                trade, ns = json.loads(line)
                if int(trade) not in sent:
                    continue
                start = sent[int(trade)]
                ms = (int(ns) - start) / 1e6
                every.append(ms)
                if not any(lo <= start <= hi for lo, hi in windows):
                    quiet.append(ms)
        return {"all": _percentiles(every), "away_from_faults": _percentiles(quiet)}


def _percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"measured": 0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)

    return {"measured": len(ordered), "p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99),
            "max": round(ordered[-1], 2), "mean": round(statistics.fmean(ordered), 2)}


def run(minutes: float, rate: float, *, faults: bool = True, seed: int | None = None,
        data_dir: str | Path | None = None, out_dir: str | Path | None = None,
        progress: bool = False) -> dict[str, Any]:
    """Run a soak; return its report (see the module's docstring)."""
    seed = seed if seed is not None else random.SystemRandom().randrange(1_000_000)
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="hedgestack-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    data = Path(data_dir) if data_dir is not None else out / "data"
    data.mkdir(parents=True, exist_ok=True)
    return Soak(minutes, rate, faults, seed, data, out, progress).run()


__all__ = ["FAULT_KINDS", "run", "schedule"]
