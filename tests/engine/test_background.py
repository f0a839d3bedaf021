"""Background work (publication) runs at a lower CPU priority than the order path, on Linux per thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hedgestack.engine.runtime import BACKGROUND_NICE, lower_priority
from hedgestack.engine.terminal import PUBLISH_DUTY, PUBLISH_MAX_WAIT, publish_wait


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
