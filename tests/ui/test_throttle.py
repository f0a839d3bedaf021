"""``Throttle``: what a burst changes on every batch is drawn at once after a quiet spell, then once per period
with the latest state, never more often."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hedgestack.ui import pump
from hedgestack.ui.pump import Throttle


class FakeFeed:
    def __init__(self) -> None:
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def call_later(self, seconds: float, call: Callable[[], None]) -> None:
        self.timers.append((seconds, call))


def test_a_burst_is_drawn_at_once_then_once_per_period(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(pump.time, "monotonic", lambda: clock[0])
    feed = FakeFeed()
    state = {"value": 0}
    drawn: list[int] = []
    throttle = Throttle(feed, 1.0, lambda: drawn.append(state["value"]))  # type: ignore[arg-type]
    for step in range(1, 21):  # 20 changes 50 ms apart
        state["value"] = step
        throttle()
        clock[0] += 0.05
    assert drawn == [1]  # the first at once; the rest wait for the period
    assert len(feed.timers) == 1 and feed.timers[0][0] == pytest.approx(0.95)  # the period from the first drawing
    clock[0] = 101.0
    feed.timers.pop()[1]()
    assert drawn == [1, 20]  # one drawing with the latest state
    throttle.now()  # a change the user made is drawn at once, whatever the period
    assert drawn == [1, 20, 20]
    clock[0] = 103.0
    state["value"] = 21
    throttle()
    assert drawn[-1] == 21 and not feed.timers  # after a quiet spell: at once
