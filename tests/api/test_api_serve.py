"""`hedgestack serve` pieces: the bind rule, the arguments, and pn.serve with the dashboard and the API."""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hedgestack.engine.terminal import Terminal
from hedgestack.serve import ServeError, add_arguments, check_bind, make_server
from tests.api.conftest import free_port


def test_non_loopback_bind_needs_a_token() -> None:
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", "tok")
    with pytest.raises(ServeError, match="HEDGESTACK_TOKEN"):
        check_bind("0.0.0.0", None)


def test_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--venue", "sim", "--port", "3002", "--data-dir", "d", "--sim-url", "http://x"])
    assert (args.venue, args.port, args.address, args.data_dir, args.sim_url) == ("sim", 3002, "127.0.0.1", "d",
                                                                                   "http://x")
    with pytest.raises(SystemExit):
        parser.parse_args(["--venue", "paper"])


def _serve(terminal: Terminal, token: str | None) -> Iterator[str]:
    port = free_port()
    holder: dict[str, Any] = {}
    ready = threading.Event()

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = make_server(terminal, port=port, address="127.0.0.1", token=token, allowed_origins=[],
                             start=False)
        server.start()
        holder["server"], holder["loop"] = server, loop
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield f"http://127.0.0.1:{port}"
    holder["loop"].call_soon_threadsafe(holder["server"].stop)
    holder["loop"].call_soon_threadsafe(holder["loop"].stop)
    thread.join(5)


@pytest.fixture(scope="module")
def served(terminal: Terminal) -> Iterator[str]:
    yield from _serve(terminal, None)


def test_dashboard_and_api_in_one_process(served: str) -> None:
    page = requests.get(served + "/", timeout=30)
    assert page.status_code == 200 and "bokeh" in page.text.lower()
    assert "cdn.bokeh.org" not in page.text and "cdn.holoviz.org" not in page.text
    health = requests.get(served + "/v1/health", timeout=10)
    assert health.status_code == 200 and health.json()["venue"] == "sim"


def test_token_protects_the_dashboard_too(terminal: Terminal) -> None:
    for base in _serve(terminal, "tok-serve-1"):
        page = requests.get(base + "/", timeout=30, allow_redirects=False)
        assert page.status_code in (302, 303) and "/v1/login" in page.headers["Location"]
        session = requests.Session()
        session.post(base + "/v1/login", data={"token": "tok-serve-1"}, allow_redirects=False)
        assert session.get(base + "/", timeout=30).status_code == 200
        assert requests.get(base + "/v1/state", timeout=10).status_code == 401


def test_plugin_routes_use_the_registered_terminal(terminal: Terminal) -> None:
    from hedgestack.api import plugin, registry
    from tests.api.conftest import ApiServer

    registry.clear()
    registry.register(terminal)
    server = ApiServer(plugin.ROUTES)
    try:
        health = requests.get(server.url + "/v1/health", timeout=10)
        assert health.status_code == 200 and health.json()["venue"] == "sim"
        assert registry.terminal() is terminal
        with pytest.raises(RuntimeError):
            registry.register(object())  # type: ignore[arg-type]
    finally:
        server.stop()
        registry.clear()
