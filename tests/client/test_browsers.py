"""Several front-ends on one account through ``hedgestack serve``: two browser sessions, a notebook-style client
and a REST script see each other's commands; a browser that stops reading its socket delays neither the engine nor
the other sessions, and is cut off."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
import websocket
from playwright.sync_api import Browser, Page, expect

import hedgestack
from hedgestack.venue.sim import SimConfig, SimServer
from tests.support.serveproc import Serve
from tests.support.simctl import wait_until

pytestmark = pytest.mark.ui
TIMEOUT = 60_000
#: the positions table: hedgestack's grid, or Panel's Tabulator (playwright's CSS pierces shadow roots)
ROWS = ".hs-positions tbody tr, .hs-positions .tabulator-row"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    server = SimServer.start_in_thread(SimConfig(market="static", seed=9))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def served(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    proc = Serve(["--sim-url", sim.url, "--data-dir", str(tmp_path_factory.mktemp("browsers"))])
    proc.wait_live()
    yield proc
    proc.stop()


def dashboard(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(url)
    page.locator(".hs-positions").first.wait_for(timeout=TIMEOUT)
    return page


def row(page: Page, text: str) -> Any:
    return page.locator(ROWS).filter(has_text=text).first


def create_in_browser(page: Page, name: str) -> None:
    page.locator(".hs-create-name input").fill(name)
    page.locator(".hs-create-submit button").click()


def test_two_sessions_a_client_and_a_script_see_each_others_commands(browser: Browser, served: Serve) -> None:
    a, b = dashboard(browser, served.url + "/"), dashboard(browser, served.url + "/")
    client = hedgestack.connect(served.url)
    heard: list[str] = []
    client.add_listener(lambda env: heard.append(env.payload.name), ["VIRTUAL_POSITION_UPDATE"])
    try:
        # a REST script
        script = requests.post(served.url + "/v1/virtual-positions", json={"name": "Script", "symbol": "BTCUSDT",
                                                                           "positionSide": "LONG"}, timeout=10)
        assert script.status_code == 201
        # the notebook-style client: a VP and an order
        mine = client.sync.create_vp("Notebook", "BTCUSDT", "LONG")
        client.sync.place_order(mine.id, "BUY", "MARKET", "0.003")
        # each browser session
        create_in_browser(a, "FromA")
        create_in_browser(b, "FromB")
        for page in (a, b):
            for name in ("Script", "Notebook", "FromA", "FromB"):
                expect(row(page, name)).to_be_visible(timeout=TIMEOUT)
            expect(row(page, "Notebook")).to_contain_text("0.003", timeout=TIMEOUT)
        wait_until(lambda: {"Script", "FromA", "FromB"} <= set(heard), timeout=30)
        state = requests.get(served.url + "/v1/state", timeout=10).json()
        names = {vp["name"]: vp for vp in state["virtual_positions"]}
        assert {"Script", "Notebook", "FromA", "FromB"} <= set(names)
        assert Decimal(names["Notebook"]["net_qty"]) == Decimal("0.003")
        assert client.sync.state().vp(mine.id).net_qty == Decimal("0.003")
        health = requests.get(served.url + "/v1/health", timeout=10).json()
        assert health["dashboard"]["sessions"] >= 2 and health["dashboard"]["relayed_sockets"] >= 2
        # the dashboard process reads one stream for all its sessions: the engine serves two clients, not three
        assert health["stream"]["clients"] == 2
        client.sync.close_vp(mine.id)
    finally:
        client.close()
        a.close()
        b.close()


class StalledBrowser:
    """A dashboard session that asks for its document and then never reads its socket again (a hung tab)."""

    def __init__(self, base: str) -> None:
        html = requests.get(base + "/", timeout=60).text
        token = re.search(r'"token":"([^"]+)"', html)
        assert token is not None, "no Bokeh session token in the page"
        self.ws = websocket.create_connection(base.replace("http", "ws", 1) + "/ws",
                                              subprotocols=["bokeh", token.group(1)],
                                              sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),), timeout=30)
        for _ in range(3):  # Bokeh's ACK: header, metadata, content
            self.ws.recv()
        for frame in (json.dumps({"msgid": "stall-1", "msgtype": "PULL-DOC-REQ"}), "{}", "{}"):
            self.ws.send(frame)
        # ... and from now on nothing is read

    def close(self) -> None:
        self.ws.close()


def test_a_stalled_browser_delays_neither_the_engine_nor_other_sessions(browser: Browser, served: Serve,
                                                                       sim: SimServer) -> None:
    before = requests.get(served.url + "/v1/health", timeout=10).json()["dashboard"]["dropped_slow_browsers"]
    stalled = StalledBrowser(served.url)
    other = dashboard(browser, served.url + "/")
    stream = websocket.create_connection(served.url.replace("http", "ws", 1) + "/v1/stream", timeout=30)
    assert json.loads(stream.recv())["type"] == "SNAPSHOT"
    updates: list[str] = []

    def read() -> None:
        try:
            while True:
                msg = json.loads(stream.recv())
                if msg["type"] == "VIRTUAL_POSITION_UPDATE" and msg["payload"]["name"] == "Busy":
                    updates.append(msg["payload"]["net_qty"])
        except Exception:  # noqa: BLE001 - closed
            return

    threading.Thread(target=read, daemon=True).start()
    http = requests.Session()
    try:
        vp = http.post(served.url + "/v1/virtual-positions", json={"name": "Busy", "symbol": "BTCUSDT",
                                                                  "positionSide": "LONG"}, timeout=10).json()
        held = Decimal(0)
        started = time.monotonic()
        # keep trading while the stalled session's socket is full, until the front door cuts it off
        while True:
            side = "BUY" if held == 0 else "SELL"
            resp = http.post(served.url + "/v1/orders", timeout=10, json={
                "virtual_position_id": vp["id"], "symbol": "BTCUSDT", "positionSide": "LONG", "side": side,
                "type": "MARKET", "qty": "0.002"})
            assert resp.status_code == 200, resp.text
            held = Decimal("0.002") - held
            # the engine answered and published: every order's update reaches the stream
            wait_until(lambda want=held: updates and Decimal(updates[-1]) == want, timeout=10)
            dropped = http.get(served.url + "/v1/health", timeout=10).json()["dashboard"]["dropped_slow_browsers"]
            if dropped > before:
                break
            assert time.monotonic() - started < 60, "the stalled browser was never cut off"
        # the other session kept up all along, and still does
        expect(row(other, "Busy")).to_be_visible(timeout=TIMEOUT)
        http.post(served.url + "/v1/virtual-positions", json={"name": "AfterStall", "symbol": "ETHUSDT",
                                                              "positionSide": "SHORT"}, timeout=10)
        expect(row(other, "AfterStall")).to_be_visible(timeout=TIMEOUT)
        # the stalled session's relay is gone; the engine's loop never waited for it
        health = http.get(served.url + "/v1/health", timeout=10).json()
        assert health["live"] is True and health["stream"]["dropped_clients"] == 0, "\n".join(served.err)
    finally:
        stalled.close()
        stream.close()
        other.close()

