"""Browser tests: the dashboard served (pn.serve, threaded) for a Terminal on the simulator, driven by
Debian's chromium through playwright (``apt-get install chromium``; playwright cannot download browsers)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import panel as pn
import pytest
import requests

from hedgestack.engine.terminal import Terminal
from hedgestack.ui import dashboard
from hedgestack.venue.sim import SimConfig, SimServer
from tests.support.simctl import Control, wait_until

__all__ = ["Control", "wait_until"]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.ui)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    server = SimServer.start_in_thread(SimConfig(market="static", seed=7))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def control(sim: SimServer) -> Control:
    ctl = Control(sim.url)
    ctl.post("/reset")
    ctl.price("BTCUSDT", "95000", "95000")
    ctl.price("ETHUSDT", "3500", "3500")
    return ctl


@pytest.fixture(scope="module")
def terminal(sim: SimServer, control: Control, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    t = Terminal.sim(tmp_path_factory.mktemp("ui"), sim_url=sim.url, poll_interval=0.3, mismatch_grace=0.5,
                     publish_interval=1.0).start_sync()
    yield t
    t.stop_sync()


@pytest.fixture(scope="module")
def served(terminal: Terminal) -> Iterator[str]:
    """The dashboard served on a free port (the served page: ``Dashboard.template()``); yields its URL."""
    pn.extension(inline=True, notifications=True)
    port = free_port()
    server = pn.serve({"/": lambda: dashboard(terminal).template()}, port=port, address="127.0.0.1",
                      show=False, threaded=True, start=True, websocket_origin=[f"127.0.0.1:{port}"])
    url = f"http://127.0.0.1:{port}/"
    wait_until(lambda: _up(url), timeout=60)
    yield url
    server.stop()


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=10).status_code == 200  # a page is a session: slow on a busy machine
    except requests.RequestException:
        return False
