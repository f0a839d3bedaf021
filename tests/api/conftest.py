"""Fixtures: a simulator (static market), a Terminal on it and the /v1 API served in-process by tornado on a
free port (its own thread and loop, as under Panel)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import tornado.httpserver
import tornado.web

from hedgestack.api import api_routes
from hedgestack.engine.terminal import Terminal
from hedgestack.venue.sim import SimConfig, SimServer
from tests.support.simctl import Control, wait_until

__all__ = ["Control", "wait_until"]

SIM_KEY = "AKsimKEY7f3c9e21d4b8a6"
SIM_SECRET = "SKsimSECRET0b9d8c7e6f5a4321"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiServer:
    """A tornado Application with ``api_routes`` on 127.0.0.1:<free port>, in its own thread."""

    def __init__(self, routes: list[Any]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/v1/stream"
        self._routes = routes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="api-test-server", daemon=True)
        self._thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        app = tornado.web.Application(self._routes)
        self._server = app.listen(self.port, address="127.0.0.1")
        ready.set()
        loop.run_forever()

    def stop(self) -> None:
        assert self._loop is not None and self._server is not None
        self._loop.call_soon_threadsafe(self._server.stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture(scope="module")
def sim_server() -> Iterator[SimServer]:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=11, api_key=SIM_KEY, api_secret=SIM_SECRET))
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def control(sim_server: SimServer) -> Control:
    return Control(sim_server.url)


def reset_sim(control: Control) -> None:
    control.post("/reset")
    control.price("BTCUSDT", "95000")
    control.price("ETHUSDT", "3500")
    for symbol in ("BTCUSDT", "ETHUSDT"):
        control.post("/liquidity", {"symbol": symbol, "max_fill_qty": None})


def make_terminal(sim_server: SimServer, data_dir: Path) -> Terminal:
    return Terminal.sim(data_dir, sim_url=sim_server.url, api_key=SIM_KEY, api_secret=SIM_SECRET,
                        poll_interval=0.3, mismatch_grace=0.5, publish_interval=0.5)


@pytest.fixture(scope="module")
def terminal(sim_server: SimServer, control: Control, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    """One terminal per module (starting one costs ~1 s); tests create their own VPs."""
    reset_sim(control)
    t = make_terminal(sim_server, tmp_path_factory.mktemp("api-data")).start_sync()
    yield t
    stop_quietly(t)


def stop_quietly(t: Terminal) -> None:
    """Stop after the streams went quiet: stopping while a user-stream message is in flight currently hangs
    the engine's shutdown for its 60 s timeout (reported to the engine's owner)."""
    if t.connection == "STOPPED":
        return
    try:
        t.sync.wait_idle(5)
    except TimeoutError:
        pass
    time.sleep(1.5)
    t.stop_sync()


@pytest.fixture(scope="module")
def api(terminal: Terminal) -> Iterator[ApiServer]:
    server = ApiServer(api_routes(terminal, stream_queue=64))
    yield server
    server.stop()


@pytest.fixture
def http(api: ApiServer) -> Iterator[Client]:
    client = Client(api.url)
    yield client
    client.session.close()


class Client:
    """requests against the API; ``call`` returns (status, json or None)."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.session = requests.Session()
        if headers:
            self.session.headers.update(headers)

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | str | None = None,
                headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        hdrs = dict(headers or {})
        if raw is not None:
            hdrs.setdefault("Content-Type", "application/json")
            return self.session.request(method, self.base + path, data=raw, headers=hdrs, timeout=20, **kw)
        if body is not None:
            return self.session.request(method, self.base + path, json=body, headers=hdrs, timeout=20, **kw)
        return self.session.request(method, self.base + path, headers=hdrs, timeout=20, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.request("POST", path, body, **kw)


def assert_error(resp: requests.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    data = resp.json()
    assert set(data) == {"error", "message"}, data
    assert isinstance(data["error"], str) and isinstance(data["message"], str) and data["message"]
    if code is not None:
        assert data["error"] == code, data
    assert "Traceback" not in resp.text
    return data
