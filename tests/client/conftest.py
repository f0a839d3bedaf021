"""Fixtures: a simulator (static market), a Terminal on it, the API served as ``hedgestack serve`` serves it
(:class:`~hedgestack.api.server.FrontDoor`, on a loop and thread of its own), and ``hedgestack.connect`` clients.

``api_terminal`` is parametrized: the same test runs against the local Terminal and against a client of it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import hedgestack
from hedgestack.api.context import ApiContext
from hedgestack.api.server import FrontDoor
from hedgestack.client import RemoteTerminal
from hedgestack.engine.terminal import Terminal
from hedgestack.venue.sim import SimConfig, SimServer
from tests.support.simctl import Control, wait_until

__all__ = ["Control", "wait_until"]


@dataclass
class Served:
    terminal: Terminal
    front: FrontDoor
    ctx: ApiContext

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.front.port}"


def serve(terminal: Terminal, token: str | None = None, **ctx_options: Any) -> Served:
    ctx = ApiContext.build(terminal, token, **ctx_options)
    front = FrontDoor.on_own_thread(ctx, None)
    front.listen(0, "127.0.0.1")
    return Served(terminal, front, ctx)


def make_terminal(sim: SimServer, data_dir: Path) -> Terminal:
    return Terminal.sim(data_dir, sim_url=sim.url, poll_interval=0.3, mismatch_grace=0.5, publish_interval=0.5)


@pytest.fixture(scope="module")
def sim_server() -> Iterator[SimServer]:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=21))
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def control(sim_server: SimServer) -> Control:
    ctl = Control(sim_server.url)
    ctl.post("/reset")
    ctl.price("BTCUSDT", "95000")
    ctl.price("ETHUSDT", "3500")
    return ctl


@pytest.fixture(scope="module")
def terminal(sim_server: SimServer, control: Control, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    t = make_terminal(sim_server, tmp_path_factory.mktemp("client-data")).start_sync()
    yield t
    t.stop_sync()


@pytest.fixture(scope="module")
def served(terminal: Terminal) -> Iterator[Served]:
    s = serve(terminal)
    yield s
    s.front.stop()


@pytest.fixture(scope="module")
def client(served: Served) -> Iterator[RemoteTerminal]:
    c = hedgestack.connect(served.url)
    yield c
    c.close()


@pytest.fixture(params=["local", "remote"])
def api_terminal(request: pytest.FixtureRequest, terminal: Terminal) -> Any:
    """The local Terminal, or a ``hedgestack.connect`` client of it (same engine, same account)."""
    if request.param == "local":
        return terminal
    return request.getfixturevalue("client")


# == browsers (Debian's chromium through playwright, as in tests/e2e) ==================================
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
                 "--disable-backgrounding-occluded-windows"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
