"""``hedgestack bench rss --fills N``: the terminal's memory with an N-fill event log.

Three steps, each in a process of its own, so that one step's memory is not counted in another's:

1. build an N-fill log in the data directory (the synthetic stream of ``bench replay``; skipped when the
   directory already holds a log of at least N fills);
2. start a simulator (``hedgestack.soak.simproc``), as the exchange is a process of its own;
3. start a Terminal on the log against that simulator, twice: the first start publishes the whole history to
   Parquet for other processes, the second finds it published. Each reports the seconds to LIVE and its
   resident memory (VmRSS) a few seconds after, and the peak (VmHWM).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hedgestack.bench.memory import rss_mb

SETTLE_SECONDS = 5.0


def build(data_dir: Path, fills: int) -> dict[str, Any]:
    """Step 1, in this process: write the log (or keep the one there)."""
    from hedgestack.bench.replay import synthetic_fills
    from hedgestack.store.eventlog import EventLog

    path = data_dir / "hedgestack.duckdb"
    if path.exists():
        log = EventLog(path)
        try:
            have = int(log.execute("SELECT count(*) FROM fills")[0][0])
        finally:
            log.close(snapshot=False)
        if have >= fills:
            return {"built": False, "fills": have}
        raise SystemExit(f"{path} holds {have} fills, fewer than {fills}: use an empty --data-dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    events = synthetic_fills(fills)
    log = EventLog(path)
    for start in range(0, len(events), 100_000):
        log.append_bulk(events[start:start + 100_000])
    log.write_snapshot()
    log.close(snapshot=False)
    return {"built": True, "fills": fills, "build_seconds": round(time.perf_counter() - started, 1)}


def measure(data_dir: Path, sim_url: str) -> dict[str, Any]:
    """Step 3, in this process: start a Terminal on the log and report its memory."""
    from hedgestack.engine.terminal import Terminal

    before = rss_mb()["rss_mb"]
    started = time.perf_counter()
    terminal = Terminal.sim(data_dir, sim_url=sim_url).start_sync(timeout=600)
    to_live = time.perf_counter() - started
    try:
        time.sleep(SETTLE_SECONDS)
        figures = rss_mb()
        events = terminal.run_sync(_count(terminal))
    finally:
        terminal.stop_sync()
    return {"seconds_to_live": round(to_live, 2), "events": events, "python_baseline_mb": before, **figures}


async def _count(terminal: Any) -> int:
    return terminal.ledger.trade_count


def run(fills: int, data_dir: str | None = None) -> dict[str, Any]:
    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="hedgestack-rss-"))
    built = json.loads(_child("build", str(root), str(fills)))
    out = Path(tempfile.mkdtemp(prefix="hedgestack-rss-sim-"))
    sim = subprocess.Popen([sys.executable, "-m", "hedgestack.soak.simproc", str(out), "1"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
    assert sim.stdin is not None and sim.stdout is not None
    try:
        url = sim.stdout.readline().strip()
        starts = [json.loads(_child("measure", str(root), url)) for _ in range(2)]
    finally:
        sim.stdin.write("stop\n")
        sim.stdin.flush()
        sim.wait(timeout=60)
    return {"fills": built["fills"], "log": built, "first_start": starts[0], "second_start": starts[1],
            "rss_mb_median": statistics.median(s["rss_mb"] for s in starts),
            "peak_rss_mb_max": max(s["peak_rss_mb"] for s in starts), "data_dir": str(root)}


def _child(step: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "hedgestack.bench.rss", step, *args], capture_output=True,
                          text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"bench rss {step} failed: {proc.stderr[-2000:]}")
    return proc.stdout.strip().splitlines()[-1]


def main(argv: list[str]) -> None:
    step = argv[0]
    if step == "build":
        result = build(Path(argv[1]), int(argv[2]))
    elif step == "measure":
        result = measure(Path(argv[1]), argv[2])
    else:
        raise SystemExit(f"unknown step {step!r}")
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
