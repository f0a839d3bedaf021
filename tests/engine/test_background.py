"""Background work (publication) runs at a lower CPU priority than the order path, on Linux per thread."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from hedgestack.engine.runtime import BACKGROUND_NICE, lower_priority


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
