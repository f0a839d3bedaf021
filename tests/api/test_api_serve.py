"""``hedgestack serve`` as a program: one address for the dashboard, ``/v1`` and ``/v1/stream``; two processes
that behave as one (start failure, signals, SIGKILL of the group, death of the parent, restart of the dashboard
process); ``/v1/health`` and ``hedgestack status``; one log line; the token in front of the dashboard too.

Each serve runs in a session of its own (``start_new_session``), so its process group holds exactly the processes
it started: "nothing left running" is ``killpg(group, 0)`` failing."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket

from hedgestack.engine.terminal import Terminal
from hedgestack.serve import ServeError, add_arguments, check_bind, format_health
from hedgestack.venue.sim import SimConfig, SimServer
from tests.api.conftest import free_port, wait_until
from tests.support.serveproc import Serve

ROOT = Path(__file__).resolve().parents[2]


def test_non_loopback_bind_needs_a_token() -> None:
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", "tok")
    with pytest.raises(ServeError, match="HEDGESTACK_TOKEN"):
        check_bind("0.0.0.0", None)


def test_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--venue", "sim", "--port", "3002", "--data-dir", "d", "--sim-url", "http://x",
                              "--market", "static", "--address", "127.0.0.1", "--allow-origin", "https://a.example"])
    assert (args.venue, args.port, args.address, args.data_dir, args.sim_url, args.market, args.allow_origin) == (
        "sim", 3002, "127.0.0.1", "d", "http://x", "static", ["https://a.example"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--venue", "paper"])


# == serve as a process ===============================================================================
@pytest.fixture(scope="module")
def standalone_sim() -> Iterator[SimServer]:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=5))
    yield sim
    sim.stop()


@pytest.fixture
def serve_proc(standalone_sim: SimServer, tmp_path: Path) -> Iterator[Serve]:
    proc = Serve(["--sim-url", standalone_sim.url, "--data-dir", str(tmp_path / "data")])
    yield proc
    proc.stop()


def test_one_address_two_processes_one_program(serve_proc: Serve, standalone_sim: SimServer) -> None:
    health = serve_proc.wait_live()
    assert health["status"] == "ok" and health["live"] and health["venue"] == "sim"
    assert {"loop_lag_ms", "last_market_event", "last_account_event"} <= set(health["engine"])
    assert health["dashboard"]["sessions"] == 0 and health["stream"]["clients"] >= 1  # the dashboard's client
    # the dashboard at /, its static files and its WebSocket, through the same address as /v1
    page = requests.get(serve_proc.url + "/", timeout=60)
    assert page.status_code == 200 and "bokeh" in page.text.lower()
    assert "cdn.bokeh.org" not in page.text and "cdn.holoviz.org" not in page.text
    assert requests.get(serve_proc.url + "/v1/state", timeout=10).json()["venue"] == "sim"
    missing = requests.get(serve_proc.url + "/v1/nothing", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"] == "NOT_FOUND"
    assert requests.get(serve_proc.url + "/__hedgestack/health", timeout=10).status_code == 404
    ws = websocket.create_connection(serve_proc.url.replace("http", "ws") + "/v1/stream", timeout=10)
    assert json.loads(ws.recv())["type"] == "SNAPSHOT"
    ws.close()
    # two processes: the dashboard is a child in serve's group, nicer than the engine
    (child,) = serve_proc.children()
    assert os.getpgid(child) == serve_proc.group == os.getpgid(serve_proc.proc.pid)
    assert os.getpriority(os.PRIO_PROCESS, child) > os.getpriority(os.PRIO_PROCESS, serve_proc.proc.pid)
    # one INFO line with the URLs; no line per request or static file
    announced = [line for line in serve_proc.err if "hedgestack serve on the sim venue" in line]
    assert len(announced) == 1, serve_proc.err
    line = announced[0]
    assert f"dashboard {serve_proc.url}/" in line and f"API {serve_proc.url}/v1" in line
    assert f"simulator control {standalone_sim.url}/sim/v1" in line
    assert not [text for text in serve_proc.err if "GET /" in text or "/static/" in text], serve_proc.err
    # SIGTERM stops every process it started
    serve_proc.proc.send_signal(signal.SIGTERM)
    assert serve_proc.proc.wait(30) == 0
    wait_until(serve_proc.gone, timeout=15)
    with socket.socket() as s:  # the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", serve_proc.port))


def test_sigkill_of_the_group_leaves_nothing_and_a_restart_works(standalone_sim: SimServer, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    first = Serve(["--sim-url", standalone_sim.url, "--data-dir", data])
    try:
        first.wait_live()
        vp = requests.post(first.url + "/v1/virtual-positions", json={"name": "Survivor", "symbol": "BTCUSDT",
                                                                       "positionSide": "LONG"}, timeout=10).json()
        os.killpg(first.group, signal.SIGKILL)
        wait_until(first.gone, timeout=15)
    finally:
        first.stop()
    again = Serve(["--sim-url", standalone_sim.url, "--data-dir", data], port=first.port)
    try:
        again.wait_live()
        assert requests.get(again.url + f"/v1/virtual-positions/{vp['id']}", timeout=10).json()["name"] == "Survivor"
    finally:
        again.stop()


def test_the_dashboard_process_dies_with_its_parent(serve_proc: Serve) -> None:
    serve_proc.wait_live()
    (child,) = serve_proc.children()
    os.kill(serve_proc.proc.pid, signal.SIGKILL)  # the parent alone: no chance to stop its child
    serve_proc.proc.wait(10)
    wait_until(serve_proc.gone, timeout=15)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_a_dead_dashboard_process_is_started_again(serve_proc: Serve) -> None:
    serve_proc.wait_live()
    (child,) = serve_proc.children()
    os.kill(child, signal.SIGKILL)
    wait_until(lambda: serve_proc.children() and serve_proc.children() != [child], timeout=30)
    health = serve_proc.wait_live()
    assert health["dashboard"]["pid"] != child
    assert requests.get(serve_proc.url + "/", timeout=60).status_code == 200


def test_engine_start_failure_is_one_line_and_nothing_runs(standalone_sim: SimServer, tmp_path: Path) -> None:
    """A data directory bound to another simulator: the engine's one-line refusal, exit 2, no process left."""
    other = SimServer.start_in_thread(SimConfig(market="static", seed=6))
    data = tmp_path / "data"
    try:
        t = Terminal.sim(data, sim_url=other.url).start_sync()
        t.stop_sync()
    finally:
        other.stop()
    proc = Serve(["--sim-url", standalone_sim.url, "--data-dir", str(data)])
    try:
        assert proc.proc.wait(60) == 2
        wait_until(proc.gone, timeout=15)
        for reader in proc._readers:  # noqa: SLF001 - this test's own helper
            reader.join(5)
        errors = [line for line in proc.err if line.startswith("hedgestack serve:")]
        assert len(errors) == 1 and "LEDGER_OF_ANOTHER_VENUE" in errors[0], proc.err
        assert not any("Traceback" in line for line in proc.err), proc.err
    finally:
        proc.stop()


class _SilentExchange:
    """A TCP server that accepts connections and never answers: the engine's start waits on it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_health_is_503_while_the_engine_starts_and_sigint_stops_it(tmp_path: Path) -> None:
    silent = _SilentExchange()
    proc = Serve(["--sim-url", silent.url, "--data-dir", str(tmp_path / "data")])
    try:
        got = wait_until(lambda: proc.health(), timeout=60, interval=0.1)
        assert got[0] == 503 and got[1]["status"] == "starting" and got[1]["live"] is False
        assert got[1]["connection"] in ("STARTING", "STOPPED")
        refused = requests.get(proc.url + "/v1/state", timeout=10)
        assert refused.status_code == 503 and refused.json()["error"] == "ENGINE_STARTING"
        status = subprocess.run([sys.executable, "-m", "hedgestack.cli", "status", "--url", proc.url],
                                capture_output=True, text=True, timeout=30)
        assert status.returncode == 1 and status.stdout.startswith("STARTING"), status
        proc.proc.send_signal(signal.SIGINT)
        assert proc.proc.wait(30) != 0
        wait_until(proc.gone, timeout=15)
    finally:
        proc.stop()
        silent.close()


def test_status_prints_the_health(serve_proc: Serve) -> None:
    serve_proc.wait_live()
    done = subprocess.run([sys.executable, "-m", "hedgestack.cli", "status", "--url", serve_proc.url],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done
    assert done.stdout.startswith("OK  venue sim, exchange connection CONNECTED")
    assert "loop lag" in done.stdout and "dashboard up" in done.stdout
    raw = subprocess.run([sys.executable, "-m", "hedgestack.cli", "status", "--url", serve_proc.url, "--json"],
                         capture_output=True, text=True, timeout=30)
    assert json.loads(raw.stdout)["live"] is True
    gone = subprocess.run([sys.executable, "-m", "hedgestack.cli", "status", "--url", f"http://127.0.0.1:{free_port()}"],
                          capture_output=True, text=True, timeout=30)
    assert gone.returncode == 2 and "hedgestack status:" in gone.stderr


def test_format_health_reads_at_a_glance() -> None:
    text = format_health({"status": "degraded", "venue": "testnet", "connection": "STALE", "reason": None,
                          "uptime_s": 12.3, "engine": {"loop_lag_ms": 0.4, "loop_lag_p99_ms": 2.0,
                                                      "loop_lag_max_ms": 3.1, "last_market_event": None,
                                                      "last_account_event": {"type": "FILL", "age_ms": 1500}},
                          "stream": {"clients": 2, "queue_depths": [3, 0], "queue_limit": 1000, "max_lag_ms": 4},
                          "stats": {"fills": 7}})
    assert text.splitlines()[0] == "DEGRADED  venue testnet, exchange connection STALE, up 12 s"
    assert "last market event none yet, last account event FILL 1.5 s ago" in text
    assert "2 client(s), queue depths [3, 0] of 1000" in text


def test_the_token_guards_the_dashboard_too(standalone_sim: SimServer, tmp_path: Path) -> None:
    proc = Serve(["--sim-url", standalone_sim.url, "--data-dir", str(tmp_path / "data")],
                 env={"HEDGESTACK_TOKEN": "tok-serve-2"})
    try:
        proc.wait_live(token="tok-serve-2")
        assert requests.get(proc.url + "/v1/state", timeout=10).status_code == 401
        page = requests.get(proc.url + "/", timeout=30, allow_redirects=False)
        assert page.status_code in (302, 303) and "/v1/login" in page.headers["Location"]
        refused = requests.get(proc.url + "/ws", headers={"Upgrade": "websocket"}, timeout=10)
        assert refused.status_code == 401
        session = requests.Session()
        session.post(proc.url + "/v1/login", data={"token": "tok-serve-2"}, allow_redirects=False)
        assert session.get(proc.url + "/", timeout=60).status_code == 200
        assert session.get(proc.url + "/v1/state", timeout=10).status_code == 200
    finally:
        proc.stop()
