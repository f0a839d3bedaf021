"""``hedgestack serve``: the engine, the REST API and the event stream in one process, the dashboard in another,
both behind one address.

Layout (measured, see docs/frontends.md): the dashboard's browser sessions cost CPU in Python (Bokeh documents,
table serialization); in the engine's process they held the GIL most of the time and the engine waited for it.
So ``hedgestack serve`` is two processes:

- **the engine process** (this one, the parent): the :class:`~hedgestack.engine.terminal.Terminal` on its loop, and
  on a loop of its own (:mod:`hedgestack.api.server`) the HTTP server of the one public address: ``/v1`` and
  ``/v1/stream`` served directly, every other path relayed to the dashboard process
  (:mod:`hedgestack.api.frontdoor`), plus a loopback-only port for that process;
- **the dashboard process** (a child): a Panel server on a Unix socket only this user can open, whose sessions
  show ``hedgestack.ui.dashboard(client)`` for one ``hedgestack.connect`` client of the engine process (one event
  stream for all sessions). It starts while the engine starts, runs at a lower CPU priority, and is restarted if
  it dies.

It behaves as one program: when the engine cannot start, serve prints the engine's one-line error and exits 2
with nothing left running; SIGTERM, SIGINT and SIGHUP stop everything; the child stays in serve's process group
and dies with its parent (``PR_SET_PDEATHSIG``, and a watchdog thread), so a SIGKILL of the group leaves nothing
and a restart on the same port and data directory works at once. ``GET /v1/health`` answers 503 while the engine
starts and 200 only while it is live; ``hedgestack status`` prints it.

Settings come from the command line, then the environment and ``.env`` (see ``.env.example``). Binding a
non-loopback address is refused unless ``HEDGESTACK_TOKEN`` is set; with a token, the dashboard is behind the
same login as the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgestack.api.context import is_loopback

if TYPE_CHECKING:
    import argparse

    from hedgestack.api.frontdoor import DashboardBackend
    from hedgestack.engine.terminal import Terminal

log = logging.getLogger("hedgestack.serve")

#: environment of the dashboard process (the token travels here, never on a command line)
ENV_API, ENV_TOKEN, ENV_SOCKET, ENV_PARENT = ("HEDGESTACK_SERVE_API", "HEDGESTACK_SERVE_TOKEN",
                                              "HEDGESTACK_SERVE_SOCKET", "HEDGESTACK_SERVE_PARENT")
#: the dashboard process runs this much nicer than the engine (CPU contention goes the engine's way)
DASHBOARD_NICE = 5
#: a dashboard process that dies is started again after this many seconds (doubling up to a minute)
RESTART_DELAY = 1.0
ENGINE_START_TIMEOUT = 300.0
PR_SET_PDEATHSIG = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--venue", choices=("sim", "testnet", "live"), default=None,
                        help="sim (embedded simulator), testnet or live; default: HEDGESTACK_VENUE, else sim "
                        "without BINANCE_API_KEY, else BINANCE_TESTNET decides")
    parser.add_argument("--sim-url", default=None, help="attach to a running simulator (`hedgestack sim`) "
                        "instead of starting one (HEDGESTACK_SIM_URL)")
    parser.add_argument("--market", default=None, metavar="MARKET",
                        help="the embedded simulator's market: random (default), static, or replay:FILE[,FILE...] "
                        "(Binance public data files as downloaded; see docs/simulator.md)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (PORT, default 3001)")
    parser.add_argument("--address", default="127.0.0.1", help="bind address (default 127.0.0.1); any other "
                        "address requires HEDGESTACK_TOKEN")
    parser.add_argument("--data-dir", default=None, help="DuckDB file and published Parquet "
                        "(HEDGESTACK_DATA_DIR, default ./data)")
    ledger = parser.add_mutually_exclusive_group()
    ledger.add_argument("--rebind", action="store_true",
                        help="the data directory's ledger belongs to this account under another API key (a key "
                        "rotation): bind it to the key in use")
    ledger.add_argument("--new-ledger", action="store_true",
                        help="the data directory holds the ledger of another venue or account: move it aside "
                        "(data_dir/old-ledgers/, never deleted) and start a new one")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="extra browser origin allowed to use the API and stream (repeatable; also "
                        "HEDGESTACK_ALLOWED_ORIGINS)")


class ServeError(Exception):
    pass


def check_bind(address: str, token: str | None) -> None:
    if not is_loopback(address) and not token:
        raise ServeError(f"refusing to bind {address}: set HEDGESTACK_TOKEN (every API call, the stream and "
                         "the dashboard then need it), or bind 127.0.0.1")


def build_terminal(args: argparse.Namespace, settings: Any) -> Terminal:
    """The terminal the flags and settings ask for (not started)."""
    from hedgestack.domain.errors import ValidationError
    from hedgestack.engine.terminal import Terminal

    extra: dict[str, Any] = {"market": args.market} if getattr(args, "market", None) else {}
    if getattr(args, "rebind", False):
        extra["other_ledger"] = "rebind"
    elif getattr(args, "new_ledger", False):
        extra["other_ledger"] = "new-ledger"
    if "market" in extra and (args.sim_url or (args.venue or settings.resolved_venue) != "sim"):
        raise ServeError("--market chooses the embedded simulator's market: it needs the sim venue without --sim-url")
    try:
        return Terminal.from_settings(settings, venue=args.venue, sim_url=args.sim_url,
                                      data_dir=Path(args.data_dir) if args.data_dir else None, **extra)
    except ValidationError as exc:
        raise ServeError(f"--venue {args.venue or settings.resolved_venue}: {exc.message}") from exc


def quiet_logging(level: str) -> None:
    """One format; no line per HTTP request or static file, no Bokeh session chatter."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    for name in ("tornado.access", "bokeh", "bokeh.server", "panel", "aiohttp.access", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("bokeh.core.validation").setLevel(logging.ERROR)  # the page's own checks: not an operator's
    logging.getLogger("asyncio").addFilter(_closed_socket_writes)


def _closed_socket_writes(record: logging.LogRecord) -> bool:
    """Drop asyncio's "Task exception was never retrieved" for a write to a browser that had gone (Bokeh does not
    await the writes it queues for a session that closes meanwhile): a closed tab is not an operator's error."""
    import tornado.iostream
    import tornado.websocket

    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, (tornado.websocket.WebSocketClosedError, tornado.iostream.StreamClosedError))


def one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if not hasattr(exc, "code"):
        text = f"{type(exc).__name__}: {text}"
    return " ".join(text.split())


# == the parent: engine process and supervisor =========================================================
class DashboardProcess:
    """The dashboard child: started, watched, restarted, stopped (always from the main thread, so that its
    PR_SET_PDEATHSIG, tied to the thread that forked it, fires only when this process ends)."""

    def __init__(self, socket_path: str, api_url: str, token: str | None) -> None:
        self.socket_path = socket_path
        self.api_url = api_url
        self.token = token
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._next_start = 0.0
        self._delay = RESTART_DELAY

    def start(self) -> None:
        env = {**os.environ, ENV_API: self.api_url, ENV_SOCKET: self.socket_path, ENV_PARENT: str(os.getpid())}
        env.pop(ENV_TOKEN, None)
        if self.token:
            env[ENV_TOKEN] = self.token
        self.proc = subprocess.Popen([sys.executable, "-m", "hedgestack.serve"], env=env, stdin=subprocess.DEVNULL)
        self.starts += 1

    def check(self, backend: DashboardBackend) -> None:
        """Start it again if it died (with a growing delay)."""
        if self.proc is None or self.proc.poll() is None:
            if backend.ready:
                self._delay = RESTART_DELAY
            return
        now = time.monotonic()
        if self._next_start == 0.0:
            log.warning("the dashboard process exited (%s); starting it again", self.proc.returncode)
            backend.state = "restarting"
            self._next_start = now + self._delay
            self._delay = min(60.0, self._delay * 2)
        elif now >= self._next_start:
            self._next_start = 0.0
            self.start()

    def stop(self, timeout: float = 5.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def run(args: argparse.Namespace) -> int:
    from hedgestack.api.context import LIVE, STARTING, STOPPING, ApiContext
    from hedgestack.api.frontdoor import DashboardBackend, watch
    from hedgestack.api.health import probe_of
    from hedgestack.api.server import FrontDoor
    from hedgestack.api.settings import ApiSettings
    from hedgestack.engine.config import Settings

    settings = Settings()
    quiet_logging(settings.log_level)
    token = settings.token.get_secret_value() if settings.token else None
    port = args.port if args.port is not None else settings.port
    origins = list(args.allow_origin) + ApiSettings().allowed_origins
    try:
        check_bind(args.address, token)
        terminal = build_terminal(args, settings)
    except ServeError as exc:
        sys.stderr.write(f"hedgestack serve: {exc}\n")
        return 2

    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        received.append(signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    ctx = ApiContext.build(terminal, token, origins, phase=STARTING)
    socket_dir = tempfile.mkdtemp(prefix="hedgestack-serve-")
    backend = DashboardBackend(os.path.join(socket_dir, "dashboard.sock"))
    ctx.health_parts["dashboard"] = backend.report
    front = FrontDoor.on_own_thread(ctx, backend)
    dashboard: DashboardProcess | None = None
    status = 0
    try:
        try:
            front.listen(port, args.address)
        except OSError as exc:
            sys.stderr.write(f"hedgestack serve: cannot listen on {args.address}:{port}: {exc.strerror or exc}\n")
            return 2
        probe_of(ctx).attach(terminal)
        dashboard = DashboardProcess(backend.socket_path, front.internal_url, token)
        dashboard.start()  # imports Panel while the engine starts
        watcher = asyncio.run_coroutine_threadsafe(watch(backend, lambda: not stop.is_set()), front.loop)
        if not _start_engine(terminal, stop):
            status = 130 if stop.is_set() else 2
            return status
        ctx.phase = LIVE
        _announce(terminal, args.address, port, backend, stop, args.sim_url or settings.sim_url)
        while not stop.wait(0.5):
            dashboard.check(backend)
        log.info("stopping (%s)", signal.Signals(received[0]).name if received else "stop")
        watcher.cancel()
        return 0
    finally:
        ctx.phase = STOPPING
        if dashboard is not None:
            dashboard.stop()
        backend.state = "stopped"
        front.stop()
        _stop_engine(terminal)
        shutil.rmtree(socket_dir, ignore_errors=True)


def _start_engine(terminal: Terminal, stop: threading.Event) -> bool:
    """Start the terminal; on failure print its one-line error. False when it did not start."""
    result: dict[str, BaseException | None] = {}

    def start() -> None:
        try:
            terminal.start_sync(ENGINE_START_TIMEOUT)
            result["error"] = None
        except BaseException as exc:  # noqa: BLE001 - reported below, on one line
            result["error"] = exc

    thread = threading.Thread(target=start, name="engine-start", daemon=True)
    thread.start()
    while thread.is_alive() and not stop.is_set():
        thread.join(0.2)
    if stop.is_set() and thread.is_alive():
        return False
    error = result.get("error")
    if error is not None:
        sys.stderr.write(f"hedgestack serve: {one_line(error)}\n")
        return False
    return True


def _stop_engine(terminal: Terminal) -> None:
    try:
        terminal.stop_sync()
    except Exception:  # noqa: BLE001 - stopping anyway
        log.exception("stopping the engine")
    sim = terminal.simulator
    if sim is not None:  # an embedded simulator of a terminal whose runtime never ran
        terminal.simulator = None
        with contextlib.suppress(Exception):
            sim.stop()


def _announce(terminal: Terminal, address: str, port: int, backend: DashboardBackend, stop: threading.Event,
              sim_url: str | None) -> None:
    """The one line an operator needs: dashboard, API, stream and the simulator's control API."""
    deadline = time.monotonic() + 60
    while not backend.ready and time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.05)
    host = f"[{address}]" if ":" in address else address
    base = f"http://{host}:{port}"
    venue = terminal.venue_name
    marker = " *** LIVE: real money; each client session confirms its first order ***" if venue == "live" else ""
    sim = ""
    if venue == "sim":
        embedded = terminal.simulator
        sim_url = embedded.url if embedded is not None else sim_url
        if sim_url:
            sim = f", simulator control {sim_url.rstrip('/')}/sim/v1"
    dash = "" if backend.ready else " (still starting)"
    log.info("hedgestack serve on the %s venue%s: dashboard %s/%s, API %s/v1, events %s/v1/stream%s",
             venue, marker, base, dash, base, base.replace("http", "ws", 1), sim)


# == hedgestack status ====================================================================================
def status(args: argparse.Namespace) -> int:
    """Print ``GET /v1/health`` of a running serve: 0 when live, 1 when up but not live, 2 when unreachable."""
    import urllib.error
    import urllib.request

    from hedgestack.engine.config import Settings

    settings = Settings()
    url = (args.url or f"http://127.0.0.1:{settings.port}").rstrip("/") + "/v1/health"
    request = urllib.request.Request(url)
    if settings.token:
        request.add_header("Authorization", f"Bearer {settings.token.get_secret_value()}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - an http(s) URL we were given
            code, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        code, body = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        sys.stderr.write(f"hedgestack status: {url}: {getattr(exc, 'reason', exc)}\n")
        return 2
    try:
        health = json.loads(body)
    except ValueError:
        sys.stderr.write(f"hedgestack status: {url} answered {code}, not JSON\n")
        return 2
    if code not in (200, 503) or "status" not in health:
        sys.stderr.write(f"hedgestack status: {url} answered {code}: {health.get('error')} {health.get('message')}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(health, indent=2) + "\n")
    else:
        sys.stdout.write(format_health(health) + "\n")
    return 0 if code == 200 else 1


def format_health(h: dict[str, Any]) -> str:
    """A few lines a person reads at a glance."""
    engine = h.get("engine") or {}
    stream = h.get("stream") or {}
    dash = h.get("dashboard") or {}

    def last(kind: str) -> str:
        event = engine.get(kind)
        return "none yet" if not event else f"{event['type']} {event['age_ms'] / 1000:.1f} s ago"

    lines = [
        f"{h['status'].upper()}  venue {h.get('venue')}, exchange connection {h.get('connection')}"
        + (f" ({h['reason']})" if h.get("reason") else "") + f", up {h.get('uptime_s', 0):.0f} s",
        f"engine   loop lag {engine.get('loop_lag_ms')} ms (p99 {engine.get('loop_lag_p99_ms')} ms, max "
        f"{engine.get('loop_lag_max_ms')} ms), last market event {last('last_market_event')}, last account event "
        f"{last('last_account_event')}",
        f"stream   {stream.get('clients', 0)} client(s), queue depths {stream.get('queue_depths', [])} of "
        f"{stream.get('queue_limit')}, max lag {stream.get('max_lag_ms', 0)} ms, dropped "
        f"{stream.get('dropped_clients', 0)}",
    ]
    if dash:
        lines.append(f"dashboard {dash.get('state')}, {dash.get('sessions', 0)} session(s), stream lag "
                     f"{dash.get('stream_lag_ms')} ms (max {dash.get('stream_lag_max_ms')} ms), slow browsers dropped "
                     f"{dash.get('dropped_slow_browsers', 0)}")
    stats = h.get("stats") or {}
    lines.append(f"counts   fills {stats.get('fills', 0)}, duplicates {stats.get('duplicates', 0)}, reconnects "
                 f"{stats.get('reconnects', 0)}")
    return "\n".join(lines)


# == the child: the dashboard process ===================================================================
def die_with_parent(parent: int) -> None:
    """End this process when ``parent`` ends: PR_SET_PDEATHSIG on Linux, and a watchdog thread everywhere."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the prctl
        os._exit(0)

    def watchdog() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()


def dashboard_main() -> int:
    """The dashboard process: a Panel server on a Unix socket, every session ``dashboard(client)``."""
    parent = int(os.environ[ENV_PARENT])
    die_with_parent(parent)
    with contextlib.suppress(OSError):
        os.nice(DASHBOARD_NICE)
    from hedgestack.engine.config import Settings

    quiet_logging(Settings().log_level)
    os.environ.setdefault("BOKEH_RESOURCES", "server")  # JS/CSS from this server, never a CDN
    import panel as pn
    import tornado.web

    from hedgestack.api.frontdoor import PRIVATE_PREFIX
    from hedgestack.client import connect

    pn.config.inline = True  # type: ignore[misc]
    client = connect(os.environ[ENV_API], os.environ.get(ENV_TOKEN) or None, confirm_live=True,
                     timeout=ENGINE_START_TIMEOUT)
    lag = {"last_ms": 0, "max_ms": 0}

    def measure(envelope: Any) -> None:
        delay = max(0, time.time_ns() // 1_000_000 - envelope.ts)
        lag["last_ms"] = delay
        lag["max_ms"] = max(lag["max_ms"], delay)

    client.add_listener(measure)
    holder: dict[str, Any] = {}

    class Health(tornado.web.RequestHandler):
        def get(self) -> None:
            server = holder.get("server")
            sessions = len(server.get_sessions("/")) if server is not None else 0
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"pid": os.getpid(), "sessions": sessions, "client_connection": client.connection,
                                    "client_reconnects": client.reconnects, "stream_messages": client.stream_messages,
                                    "stream_lag_ms": lag["last_ms"], "stream_lag_max_ms": lag["max_ms"]}))

    def page() -> Any:
        try:
            from hedgestack.ui import dashboard
        except ImportError as exc:
            return pn.pane.Markdown(f"# hedgestack\n\nThe dashboard is not installed ({exc}). The API is served "
                                    "at `/v1` (see `/v1/openapi.json`) and events at `/v1/stream`.")
        return dashboard(client).template()

    server = pn.serve({"/": page}, unix_socket=os.environ[ENV_SOCKET], show=False, start=False, verbose=False,
                      title="hedgestack", extra_patterns=[(PRIVATE_PREFIX + "/health", Health)])
    holder["server"] = server

    server.start()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        server.io_loop.asyncio_loop.add_signal_handler(sig, server.io_loop.stop)
    try:
        server.io_loop.start()
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(dashboard_main())
