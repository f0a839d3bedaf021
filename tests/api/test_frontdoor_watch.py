"""The front door's view of the dashboard process: a process that is busy (its health answer is late) stays up for
a few probes, so new browser sessions are still relayed to it; one that stops listening is down at the next probe;
one that answers again is up again."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from aiohttp import web

from hedgestack.api import frontdoor
from hedgestack.api.frontdoor import PRIVATE_PREFIX, DashboardBackend, watch


class FakeDashboard:
    """A health endpoint on a Unix socket whose answers can be made late."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.delay = 0.0
        self.answered = 0
        self.runner: web.AppRunner | None = None

    async def health(self, _request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        self.answered += 1
        return web.json_response({"pid": 1, "sessions": 0})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(PRIVATE_PREFIX + "/health", self.health)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.UnixSite(self.runner, str(self.path)).start()

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()
        self.path.unlink(missing_ok=True)


async def until(predicate: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_busy_stays_up_for_a_few_probes_silent_goes_down(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frontdoor, "PROBE_TIMEOUT", 0.1)
    monkeypatch.setattr(frontdoor, "BUSY_PROBES", 3)
    fake = FakeDashboard(tmp_path / "dash.sock")
    backend = DashboardBackend(str(fake.path))
    changes: list[bool] = []

    async def changed(up: bool) -> None:
        changes.append(up)

    running = True
    task = asyncio.create_task(watch(backend, lambda: running, period=0.02, on_change=changed))
    try:
        await until(lambda: backend.state == "starting" and backend.slow_probes >= 3)  # nothing listening yet
        assert not backend.ready
        await fake.start()
        await until(lambda: backend.ready)
        assert backend.state == "up" and backend.health["pid"] == 1
        # busy: late answers, fewer than BUSY_PROBES in a row -> still up
        fake.delay = 0.3
        await until(lambda: backend.slow_probes == 2)
        assert backend.ready and changes == [True]
        fake.delay = 0.0
        await until(lambda: backend.slow_probes == 0)
        assert backend.ready and changes == [True]
        # hung: BUSY_PROBES late answers in a row -> down
        fake.delay = 5.0
        await until(lambda: not backend.ready)
        assert backend.slow_probes >= 3 and backend.state == "restarting" and changes == [True, False]
        fake.delay = 0.0
        await until(lambda: backend.ready)
        # gone (the socket is closed): down at the next probe, no grace
        await fake.stop()
        await until(lambda: not backend.ready, timeout=1.0)
        assert changes == [True, False, True, False]
    finally:
        running = False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await backend.close()
        with contextlib.suppress(Exception):
            await fake.stop()
