"""What only the remote client has to get right: frames over Arrow equal to the local ones, the event stream
(types, order, reconnection), LIVE confirmation per client session, the token, an unreachable server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import requests
from polars.testing import assert_frame_equal

import hedgestack
from hedgestack.api.server import FrontDoor
from hedgestack.client import RemoteTerminal
from hedgestack.domain.errors import (
    AccessDenied,
    LiveConfirmationRequired,
    ValidationError,
    VenueUnavailable,
)
from hedgestack.engine.terminal import Terminal
from hedgestack.engine.views import EVENT_TYPES, Envelope
from hedgestack.venue.sim import SimServer
from tests.client.conftest import Control, Served, make_terminal, serve, wait_until


def settle(terminal: Terminal, control: Control) -> None:
    wait_until(lambda: terminal.sync.inspect(lambda ledger: ledger.trade_count) == len(control.account()["trades"]),
               timeout=15)
    terminal.sync.wait_idle(20)


def test_connect_is_exported_from_the_package_root(served: Served) -> None:
    client = hedgestack.connect(served.url)
    try:
        assert isinstance(client, RemoteTerminal) and client.connection == "CONNECTED"
    finally:
        client.close()
    assert client.connection == "STOPPED"


def test_frames_equal_the_local_ones(client: RemoteTerminal, terminal: Terminal, control: Control) -> None:
    vp = terminal.sync.create_vp("Frames", "BTCUSDT", "LONG")
    for _ in range(3):
        terminal.sync.place_order(vp.id, "BUY", "MARKET", "0.002")
    terminal.sync.close_vp(vp.id)
    settle(terminal, control)
    assert_frame_equal(client.fills(), terminal.fills())
    assert_frame_equal(client.fills(vp=vp.id, limit=2), terminal.fills(vp=vp.id, limit=2))
    assert_frame_equal(client.orders(vp=vp.id), terminal.orders(vp=vp.id))
    assert_frame_equal(client.vp_history(vp=vp.id), terminal.vp_history(vp=vp.id))
    query = "SELECT vp_id, count(*) AS n, sum(qty) AS qty FROM fills GROUP BY vp_id ORDER BY vp_id"
    assert_frame_equal(client.sql(query), terminal.sql(query))
    assert client.fills(vp=vp.id).height == 4 and client.fills(vp=vp.id)["qty"].dtype == pl.Decimal(38, 10)


@pytest.mark.parametrize("query", [
    "SELECT * FROM events", "SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM '/etc/passwd'",
    "COPY (SELECT 1) TO '/tmp/x.csv'", "SELECT 1; SELECT 2", "ATTACH '/tmp/x.db'", "PRAGMA database_list",
    "SELECT * FROM fills WHERE EXISTS (SELECT 1 FROM journal)", "SELECT * FROM glob('*')", "",
])
def test_sql_refuses_anything_but_one_select_over_the_views(client: RemoteTerminal, query: str) -> None:
    with pytest.raises(ValidationError) as info:
        client.sql(query)
    assert info.value.code == "INVALID_QUERY"


async def test_events_are_the_local_terminals(client: RemoteTerminal, terminal: Terminal) -> None:
    """Same types (the seed's seven by default, extension types on request), same payloads, same order."""
    local: list[Envelope] = []
    remote: list[Envelope] = []

    async def collect(source: Any, into: list[Envelope], types: Any = EVENT_TYPES) -> None:
        async for env in source.events(types):
            into.append(env)
            if env.type == "VIRTUAL_POSITION_UPDATE" and env.payload.name == "Events-2":
                return

    tasks = [asyncio.create_task(collect(terminal, local)), asyncio.create_task(collect(client, remote))]
    await asyncio.sleep(0.3)  # both subscribed
    for n in (1, 2):
        await terminal.create_vp(f"Events-{n}", "ETHUSDT", "LONG")
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert [(e.type, e.payload) for e in remote] == [(e.type, e.payload) for e in local]
    assert {e.type for e in remote} <= set(EVENT_TYPES)


def test_extension_events_on_request(client: RemoteTerminal, control: Control) -> None:
    marks: list[Envelope] = []
    remove = client.add_listener(marks.append, ["MARK_PRICE"])
    try:
        control.price("BTCUSDT", "95010", "95010")
        wait_until(lambda: any(e.payload.symbol == "BTCUSDT" for e in marks), timeout=10)
    finally:
        remove()
        control.price("BTCUSDT", "95000", "95000")
    with pytest.raises(ValueError):
        client.add_listener(marks.append, ["NOT_A_TYPE"])


def test_stream_types_parameter(served: Served, control: Control) -> None:
    import json

    import websocket

    base = served.url.replace("http", "ws", 1) + "/v1/stream"
    plain = websocket.create_connection(base, timeout=10)
    extended = websocket.create_connection(base + "?types=MARK_PRICE", timeout=10)
    try:
        assert json.loads(plain.recv())["type"] == json.loads(extended.recv())["type"] == "SNAPSHOT"
        control.price("ETHUSDT", "3501", "3501")
        first = json.loads(extended.recv())  # the venue's periodic marks of the old price may come first
        while not (first["type"] == "MARK_PRICE" and first["payload"]["symbol"] == "ETHUSDT"
                   and first["payload"]["markPrice"] == "3501"):
            first = json.loads(extended.recv())  # each recv has the socket's 10 s timeout
        vp = served.terminal.sync.create_vp("Typed", "ETHUSDT", "SHORT")
        seen = json.loads(plain.recv())  # the seed's stream: the seed's types only (a side's status may come first)
        while seen["type"] != "VIRTUAL_POSITION_UPDATE":
            assert seen["type"] in EVENT_TYPES, seen
            seen = json.loads(plain.recv())
        assert seen["payload"]["id"] == vp.id
    finally:
        plain.close()
        extended.close()
        control.price("ETHUSDT", "3500", "3500")
    resp = requests.get(served.url + "/v1/stream?types=BOGUS", headers={"Upgrade": "websocket"}, timeout=10)
    assert resp.status_code == 400 and resp.json()["error"] == "INVALID_PARAMETER"


def test_the_stream_comes_back_and_says_so(terminal: Terminal) -> None:
    """Server gone → DISCONNECTED; server back → SYNCING, then the engine's state (a front-end reloads)."""
    first = serve(terminal)
    port = first.front.port
    assert port is not None
    client = hedgestack.connect(first.url)
    states: list[str] = []
    client.add_listener(lambda env: states.append(env.payload.state), ["CONNECTION_STATE"])
    try:
        first.front.stop()
        wait_until(lambda: client.connection == "DISCONNECTED", timeout=10)
        again = FrontDoor.on_own_thread(first.ctx, None)
        again.listen(port, "127.0.0.1")
        try:
            wait_until(lambda: client.connection == "CONNECTED", timeout=15)
            assert states[:3] == ["DISCONNECTED", "SYNCING", "CONNECTED"]
            assert client.sync.state(recent_fills=0).connection == "CONNECTED"
        finally:
            again.stop()
    finally:
        client.close()


def test_unreachable_server_is_one_typed_error() -> None:
    with pytest.raises(VenueUnavailable) as info:
        hedgestack.connect("http://127.0.0.1:9", timeout=2)
    assert info.value.code == "SERVE_UNREACHABLE" and "127.0.0.1:9" in info.value.message
    with pytest.raises(ValidationError):
        hedgestack.connect("ftp://example")


# == token and LIVE ====================================================================================
@pytest.fixture(scope="module")
def live_served(sim_server: SimServer, control: Control, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Served]:
    """A terminal the API takes for the LIVE venue (it trades on the simulator), behind a token."""
    t = make_terminal(sim_server, tmp_path_factory.mktemp("live-data")).start_sync()
    t.venue_name = "live"
    s = serve(t, token="tok-live-1")
    yield s
    s.front.stop()
    t.stop_sync()


def test_token_is_needed_and_sent(live_served: Served) -> None:
    with pytest.raises(AccessDenied) as info:
        hedgestack.connect(live_served.url, token="wrong")
    assert info.value.code == "UNAUTHORIZED"
    client = hedgestack.connect(live_served.url, token="tok-live-1")
    try:
        assert client.venue_name == "live" and client.connection == "CONNECTED"
    finally:
        client.close()


def test_live_confirmation_is_per_client_session(live_served: Served, control: Control) -> None:
    t = live_served.terminal
    before = len(control.account()["trades"])
    first = hedgestack.connect(live_served.url, token="tok-live-1")
    second = hedgestack.connect(live_served.url, token="tok-live-1", confirm_live=True)
    try:
        vp = first.sync.create_vp("Live", "BTCUSDT", "LONG")  # sends no order: no confirmation needed
        with pytest.raises(LiveConfirmationRequired) as info:
            first.sync.place_order(vp.id, "BUY", "MARKET", "0.002")
        assert info.value.code == "LIVE_CONFIRMATION_REQUIRED"
        assert len(control.account()["trades"]) == before  # nothing was sent
        second.sync.place_order(vp.id, "BUY", "MARKET", "0.002")  # another session, confirmed at connect
        with pytest.raises(LiveConfirmationRequired):  # ... which confirms nothing for the first
            first.sync.close_vp(vp.id)
        first.confirm_live()
        first.sync.close_vp(vp.id)
        wait_until(lambda: len(control.account()["trades"]) == before + 2, timeout=10)
        # a plain REST script: its first order needs the header, then its session (cookie) is confirmed
        http = requests.Session()
        http.headers["Authorization"] = "Bearer tok-live-1"
        body = {"virtual_position_id": vp.id, "symbol": "BTCUSDT", "positionSide": "LONG", "side": "BUY",
                "type": "MARKET", "qty": "0.002"}
        assert http.post(live_served.url + "/v1/orders", json=body, timeout=10).status_code == 428
        assert http.post(live_served.url + "/v1/orders", json=body, timeout=10,
                         headers={"X-Hedgestack-Confirm-Live": "yes"}).status_code == 200
        assert http.post(live_served.url + "/v1/virtual-positions/" + vp.id + "/close", json={"type": "MARKET"},
                         timeout=10).status_code == 200
        other = requests.post(live_served.url + "/v1/orders", json=body, timeout=10,
                              headers={"Authorization": "Bearer tok-live-1"})
        assert other.status_code == 428  # a new session
        health = requests.get(live_served.url + "/v1/health", headers={"Authorization": "Bearer tok-live-1"},
                              timeout=10).json()
        assert health["live_sessions_confirmed"] == 3
    finally:
        first.close()
        second.close()
    settle(t, control)


def test_close_ends_the_event_iterators(served: Served) -> None:
    client = hedgestack.connect(served.url)
    started, ended = threading.Event(), threading.Event()

    async def consume() -> None:
        async for _ in client.events():
            started.set()
        ended.set()

    runner = threading.Thread(target=lambda: asyncio.run(consume()), daemon=True)
    runner.start()
    wait_until(lambda: started.is_set() or client.sync.create_vp(f"Iter-{time.monotonic_ns()}", "BTCUSDT", "LONG")
               and started.wait(0.5), timeout=10)
    client.close()
    assert ended.wait(5)


def test_data_dir_is_not_needed(tmp_path: Path, served: Served) -> None:
    """A client owns no data directory: nothing is written where it runs."""
    client = hedgestack.connect(served.url)
    try:
        client.sync.state()
    finally:
        client.close()
    assert list(tmp_path.iterdir()) == []
