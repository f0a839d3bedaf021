"""Token, Origin, LIVE confirmation, and the API key/secret never leaking (responses, logs, DuckDB, Parquet)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import websocket

from hedgestack.api import api_routes
from hedgestack.api.context import ApiContext
from hedgestack.api.errors import ApiError
from hedgestack.engine.terminal import Terminal
from hedgestack.venue.sim import SimServer
from tests.api.conftest import (
    SIM_KEY,
    SIM_SECRET,
    ApiServer,
    Client,
    Control,
    assert_error,
    make_terminal,
    stop_quietly,
    wait_until,
)

TOKEN = "tok-9f8e7d6c5b4a"


@pytest.fixture(scope="module")
def token_api(terminal: Terminal) -> Iterator[ApiServer]:
    server = ApiServer(api_routes(terminal, token=TOKEN, allowed_origins=["https://desk.example"]))
    yield server
    server.stop()


# == token ==========================================================================================
def test_token_required_on_every_route(token_api: ApiServer) -> None:
    anon = Client(token_api.url)
    for method, path in [("GET", "/v1/state"), ("GET", "/v1/health"), ("GET", "/v1/openapi.json"),
                         ("GET", "/v1/fills"), ("POST", "/v1/orders"), ("POST", "/v1/virtual-positions"),
                         ("GET", "/v1/nope")]:
        resp = anon.request(method, path, {} if method == "POST" else None)
        assert_error(resp, 401, "UNAUTHORIZED")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(anon.get("/v1/state", headers={"Authorization": "Bearer wrong"}), 401, "UNAUTHORIZED")
    assert_error(anon.get("/v1/state", headers={"Authorization": f"Basic {TOKEN}"}), 401, "UNAUTHORIZED")
    ok = anon.get("/v1/state", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "virtual_positions" in ok.json()


def test_login_page_sets_a_cookie_that_is_not_the_token(token_api: ApiServer) -> None:
    browser = Client(token_api.url)
    page = browser.get("/v1/login?next=/")
    assert page.status_code == 200 and "<form" in page.text and page.headers["Content-Type"].startswith("text/html")
    bad = browser.session.post(token_api.url + "/v1/login", data={"token": "nope"}, allow_redirects=False)
    assert bad.status_code == 401 and "hedgestack_session" not in bad.cookies
    good = browser.session.post(token_api.url + "/v1/login?next=//evil.example", data={"token": TOKEN},
                                allow_redirects=False)
    assert good.status_code == 303 and good.headers["Location"] == "/"
    cookie = good.cookies["hedgestack_session"]
    assert TOKEN not in cookie
    set_cookie = good.headers["Set-Cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    assert browser.get("/v1/state").status_code == 200
    assert browser.post("/v1/logout").status_code == 200
    assert_error(Client(token_api.url).get("/v1/state", cookies={"hedgestack_session": "forged"}), 401)


def test_websocket_needs_the_token(token_api: ApiServer) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(token_api.ws_url, timeout=5)
    assert info.value.status_code == 401
    ws = websocket.create_connection(token_api.ws_url, timeout=5, header=[f"Authorization: Bearer {TOKEN}"])
    assert '"SNAPSHOT"' in ws.recv()
    ws.close()
    browser = Client(token_api.url)
    browser.session.post(token_api.url + "/v1/login", data={"token": TOKEN}, allow_redirects=False)
    cookie = browser.session.cookies["hedgestack_session"]
    ws = websocket.create_connection(token_api.ws_url, timeout=5, cookie=f"hedgestack_session={cookie}")
    assert '"SNAPSHOT"' in ws.recv()
    ws.close()


def test_without_a_token_only_loopback_is_served() -> None:
    ctx = ApiContext.build(terminal=None)  # type: ignore[arg-type]
    ctx.authorize(None, None, "127.0.0.1")
    ctx.authorize(None, None, "::1")
    with pytest.raises(ApiError) as info:
        ctx.authorize(None, None, "192.168.1.20")
    assert (info.value.status, info.value.code) == (403, "TOKEN_REQUIRED")


# == origin =========================================================================================
def test_websocket_origin_checked(api: ApiServer, token_api: ApiServer) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(api.ws_url, timeout=5, origin="http://evil.example")
    assert info.value.status_code == 403
    same = websocket.create_connection(api.ws_url, timeout=5, origin=f"http://127.0.0.1:{api.port}")
    assert '"SNAPSHOT"' in same.recv()
    same.close()
    listed = websocket.create_connection(token_api.ws_url, timeout=5, origin="https://desk.example",
                                         header=[f"Authorization: Bearer {TOKEN}"])
    assert '"SNAPSHOT"' in listed.recv()
    listed.close()


def test_rest_writes_from_a_foreign_origin_refused(http: Client, control: Control) -> None:
    before = control.order_count()
    resp = http.post("/v1/virtual-positions", {"name": "csrf", "symbol": "BTCUSDT", "positionSide": "LONG"},
                     headers={"Origin": "http://evil.example"})
    assert_error(resp, 403, "FORBIDDEN_ORIGIN")
    names = {v["name"] for v in http.get("/v1/state").json()["virtual_positions"]}
    assert "csrf" not in names
    assert control.order_count() == before
    login = http.session.post(http.base + "/v1/login", data={"token": "x"}, headers={"Origin": "http://evil.example"})
    assert login.status_code in (403, 404)


# == LIVE ===========================================================================================
class _LiveStub:
    """A terminal stand-in on the LIVE venue: records what would have been sent."""

    venue_name = "live"

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def place_order(self, vp_id: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.sent.append({"vp_id": vp_id})
        return {"orderId": "1", "clientOrderId": "VP-abcdef-1-000", "status": "NEW"}

    async def cancel_order(self, ref: str) -> dict[str, Any]:
        return {"orderId": ref, "status": "CANCELED"}


def test_live_venue_first_order_needs_confirmation() -> None:
    stub = _LiveStub()
    server = ApiServer(api_routes(stub))  # type: ignore[arg-type]
    try:
        client = Client(server.url)
        body = {"virtual_position_id": "vp_abcdefgh", "symbol": "BTCUSDT", "positionSide": "LONG", "side": "BUY",
                "type": "MARKET", "qty": "0.01"}
        resp = client.post("/v1/orders", body)
        assert_error(resp, 428, "LIVE_CONFIRMATION_REQUIRED")
        assert resp.headers["X-Hedgestack-Venue"] == "live"
        assert stub.sent == []
        assert_error(client.post("/v1/orders", body, headers={"X-Hedgestack-Confirm-Live": "no"}), 428)
        ok = client.post("/v1/orders", body, headers={"X-Hedgestack-Confirm-Live": "yes"})
        assert ok.status_code == 200 and ok.headers["X-Hedgestack-Venue"] == "live"
        assert client.post("/v1/orders", body).status_code == 200  # confirmed for the session
        assert len(stub.sent) == 2
        assert client.post("/v1/orders/1/cancel").status_code == 200  # cancels never need it
    finally:
        server.stop()


# == secrets ========================================================================================
@pytest.fixture
def own_terminal(sim_server: SimServer, control: Control, tmp_path: Path) -> Iterator[Terminal]:
    t = make_terminal(sim_server, tmp_path).start_sync()
    yield t
    stop_quietly(t)


def test_key_and_secret_never_leak(own_terminal: Terminal, control: Control, tmp_path: Path,
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = (SIM_KEY, SIM_SECRET)
    server = ApiServer(api_routes(own_terminal))
    bodies: list[str] = []
    try:
        client = Client(server.url)

        def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
            resp = client.request(method, path, body, **kw)
            bodies.append(resp.text + repr(resp.headers))
            return resp

        vp = call("POST", "/v1/virtual-positions", {"name": "secret-test", "symbol": "BTCUSDT",
                                                    "positionSide": "LONG"}).json()
        call("POST", "/v1/orders", {"virtual_position_id": vp["id"], "symbol": "BTCUSDT", "positionSide": "LONG",
                                    "side": "BUY", "type": "MARKET", "qty": "0.003"})
        call("POST", "/v1/orders", {"virtual_position_id": vp["id"], "symbol": "BTCUSDT", "positionSide": "LONG",
                                    "side": "BUY", "type": "MARKET", "qty": "100"})  # 502 from the exchange
        call("POST", "/v1/orders", {"virtual_position_id": vp["id"], "qty": 1})
        wait_until(lambda: call("GET", "/v1/fills").json())
        for path in ("/v1/state", "/v1/health", "/v1/openapi.json", "/v1/orders/history", "/v1/fills?format=arrow",
                     "/v1/fills?format=parquet"):
            resp = client.get(path)
            bodies.append(resp.content.decode("latin-1") + repr(resp.headers))
        call("POST", f"/v1/virtual-positions/{vp['id']}/close", {"type": "MARKET"})
        events: list[str] = []
        own_terminal.bus.add_listener(lambda env: events.append(repr(env)))
        ws = websocket.create_connection(server.ws_url, timeout=5)
        bodies.append(ws.recv())
        ws.close()
        wait_until(lambda: (own_terminal.data_dir / "published").exists(), timeout=10)
    finally:
        server.stop()
    stop_quietly(own_terminal)  # flushes and publishes; closes the DuckDB file
    text = "\n".join(bodies + events + [r.getMessage() + str(r.args) for r in caplog.records])
    for secret in secrets:
        assert secret not in text
    # the DuckDB file: every table, every column as text
    con = duckdb.connect(str(own_terminal.db_file), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        assert tables
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                for secret in secrets:
                    assert secret not in repr(row), table
    finally:
        con.close()
    # the raw bytes of every file the terminal wrote (DuckDB, WAL, published Parquet)
    files = [p for p in own_terminal.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, path
