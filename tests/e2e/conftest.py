"""Browser tests: the dashboard served for a Terminal on the simulator, driven by Debian's chromium through
playwright (``apt-get install chromium``; playwright cannot download browsers).

Two backends (``backend``): ``local`` serves ``dashboard(terminal)`` with ``pn.serve`` (threaded) for a Terminal
in this process; ``serve`` runs ``hedgestack serve --sim-url ...`` as a process of its own (the engine, and the
dashboard in a second process that is a ``hedgestack.connect`` client of it) and the tests drive its page, with
``terminal`` a ``hedgestack.connect`` client for seeding and checking state. A module runs on the backends its
``BACKENDS`` names (default: local only); each backend gets a fresh simulator and account."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import panel as pn
import pytest
import requests

import hedgestack
from hedgestack.engine.terminal import Terminal
from hedgestack.ui import dashboard
from hedgestack.venue.sim import SimConfig, SimServer
from tests.support.serveproc import Serve
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", list(getattr(metafunc.module, "BACKENDS", ("local",))), indirect=True,
                             scope="module")


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    """``local`` (a Terminal in this process) or ``serve`` (``hedgestack serve`` in processes of its own)."""
    return str(getattr(request, "param", "local"))


@pytest.fixture(scope="module")
def sim(backend: str) -> Iterator[SimServer]:
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
def serve_process(backend: str, sim: SimServer, control: Control,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve | None]:
    """``hedgestack serve`` attached to the module's simulator (backend ``serve``), else None."""
    if backend != "serve":
        yield None
        return
    proc = Serve(["--sim-url", sim.url, "--data-dir", str(tmp_path_factory.mktemp("serve") / "data")])
    try:
        proc.wait_live(timeout=120)
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def terminal(backend: str, sim: SimServer, control: Control, serve_process: Serve | None,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    """The engine the page shows: a local Terminal, or a ``hedgestack.connect`` client of ``hedgestack serve``
    (same API: the tests seed and check state through it)."""
    if serve_process is not None:
        client = hedgestack.connect(serve_process.url)
        yield cast("Terminal", client)
        client.close()
        return
    t = Terminal.sim(tmp_path_factory.mktemp("ui"), sim_url=sim.url, poll_interval=0.3, mismatch_grace=0.5,
                     publish_interval=1.0).start_sync()
    yield t
    t.stop_sync()


@pytest.fixture(scope="module")
def served(terminal: Terminal, serve_process: Serve | None) -> Iterator[str]:
    """The dashboard's URL: ``hedgestack serve``'s page, or ``Dashboard.template()`` served here on a free
    port."""
    if serve_process is not None:
        yield serve_process.url + "/"
        return
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
