"""Background work (publication) runs at a lower CPU priority than the order path, on Linux per thread, and waits
while a burst of fills streams in (at most PUBLISH_MAX_WAIT)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hedgestack.engine import terminal as terminal_module
from hedgestack.engine.runtime import BACKGROUND_NICE, lower_priority
from hedgestack.engine.terminal import (
    BUSY_EVENTS_PER_S,
    PUBLISH_DUTY,
    PUBLISH_MAX_WAIT,
    AppendRate,
    Terminal,
    publication_waits,
    publish_wait,
)
from hedgestack.venue.sim import SimServer
from tests.engine.conftest import Control, make_terminal


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_lower_priority_applies_to_the_calling_thread_and_its_children_only() -> None:
    before = os.getpriority(os.PRIO_PROCESS, 0)
    seen: dict[str, int] = {}

    def background() -> None:
        lower_priority()
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, 0)
        child = threading.Thread(target=lambda: seen.__setitem__("child", os.getpriority(os.PRIO_PROCESS, 0)))
        child.start()
        child.join()

    worker = threading.Thread(target=background)
    worker.start()
    worker.join()
    assert seen == {"thread": max(BACKGROUND_NICE, before), "child": max(BACKGROUND_NICE, before)}
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the engine's own thread keeps its priority



LINGER = """
import sys, threading, time
from hedgestack.engine.terminal import Terminal
t = Terminal.sim(sys.argv[1], publish_interval=0.05).start_sync()
threading.Thread(target=time.sleep, args=(1.0,)).start()  # like a server thread: the process lives on
sys.exit(0)  # no stop(): the interpreter shuts the executors down while the terminal's loop still runs
"""


def test_publication_stops_quietly_when_the_interpreter_exits_without_stop(tmp_path: Path) -> None:
    """A notebook or script that exits without ``stop()``, while another thread keeps the process alive: the
    publication loop ends with one warning instead of a traceback at every interval until the process is gone."""
    done = subprocess.run([sys.executable, "-c", LINGER, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "publication failed" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.count("publication stopped") == 1, done.stderr[-2000:]


@pytest.mark.parametrize(("took", "wait"), [
    (0.0, 2.0), (0.05, 2.0), (0.3, 2.0),        # a quick publication: every interval
    (0.6, 0.6 * 0.85 / 0.15), (1.0, 1.0 * 0.85 / 0.15),  # a slow one: publishing stays at PUBLISH_DUTY of the time
    (5.0, PUBLISH_MAX_WAIT), (60.0, PUBLISH_MAX_WAIT),  # never further behind than PUBLISH_MAX_WAIT
])
def test_a_slow_publication_defers_the_next(took: float, wait: float) -> None:
    assert PUBLISH_DUTY == 0.15
    assert publish_wait(2.0, took) == pytest.approx(wait)
    assert publish_wait(30.0, took) == 30.0  # a longer interval asked for is kept


def test_the_append_rate_counts_the_last_second() -> None:
    now = [100.0]
    rate = AppendRate(clock=lambda: now[0])
    assert rate.per_second() == 0
    rate.add(30)
    now[0] += 0.5
    rate.add(30)
    assert rate.per_second() == 60
    now[0] += 0.6  # the first 30 are older than a second now
    assert rate.per_second() == 30
    now[0] += 5.0
    assert rate.per_second() == 0


@pytest.mark.parametrize(("events_per_s", "since_last", "waits"), [
    (0, 0.5, False), (BUSY_EVENTS_PER_S - 1, 3.0, False),  # trading at a human pace: published every interval
    (BUSY_EVENTS_PER_S, 3.0, True), (1000, 9.9, True),     # a burst: the publication waits ...
    (1000, PUBLISH_MAX_WAIT, False),                         # ... but never longer than PUBLISH_MAX_WAIT
])
def test_a_publication_waits_for_a_burst_to_end(events_per_s: int, since_last: float, waits: bool) -> None:
    assert publication_waits(events_per_s, since_last) is waits


def test_the_publication_loop_waits_while_fills_stream_in(sim_server: SimServer, control: Control, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Wired into the loop: with a burst under way (every rate counts as one here) publications come only every
    PUBLISH_MAX_WAIT, not every interval; once it is over, every interval again."""
    runs: list[float] = []
    step = Terminal._publish_step

    def counted(parts: Any, samples: Any) -> None:
        runs.append(time.monotonic())
        step(parts, samples)

    monkeypatch.setattr(Terminal, "_publish_step", staticmethod(counted))
    monkeypatch.setattr(terminal_module, "PUBLISH_MAX_WAIT", 1.0)
    monkeypatch.setattr(terminal_module, "BUSY_EVENTS_PER_S", 0)
    t = make_terminal(sim_server, tmp_path, publish_interval=0.05).start_sync()
    try:
        time.sleep(0.5)
        runs.clear()
        time.sleep(2.6)
        busy = len(runs)
        monkeypatch.setattr(terminal_module, "BUSY_EVENTS_PER_S", 10**9)
        time.sleep(1.2)
        runs.clear()
        time.sleep(1.0)
        quiet = len(runs)
    finally:
        t.stop_sync()
    assert 2 <= busy <= 3, busy
    assert quiet >= 5, quiet
