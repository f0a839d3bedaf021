"""Fixtures for end-to-end engine tests: a simulator (static market) and a Terminal attached to it.

Which venue: the engine's tests run on the **in-process venue** (``hedgestack.venue.inproc``: the simulator's own
REST routes, request weight, rate limiter, faults and streams, read through the adapter's ``parse.py``, with no
socket and no HTTP), unless the wire is the point. ``tests/venue/test_inproc.py`` holds the two venues to the same
ledger and the same exchange truth over one scenario, faults included, so the engine's behaviour does not depend on
the choice.

On the wire (python-binance over HTTP and websockets to the simulator): a test marked ``@pytest.mark.wire`` gets a
wire terminal from the ``terminal`` fixture; ``make_terminal(..., wire=True)`` and ``Terminal.sim(...)`` build one
directly. Those are:

- ``test_faults.py``: a disconnect mid-burst (a socket the server closes, python-binance's reconnect of the same
  listenKey), a lost answer (an HTTP connection aborted before its answer, python-binance's exception, then the
  query by clientOrderId), 429 bursts (python-binance's exception through the adapter's back-off), listenKey expiry
  (python-binance's listenKey lifecycle), and the SIGKILL of a terminal process (another process cannot share an
  in-process simulator);
- ``test_payloads.py``: captured wire payloads fed through the parser, a simulator whose algo children carry
  their own ids (``Terminal.sim``), a one-way account switched by python-binance's own client;
- ``test_trust.py``: a data directory of another exchange and the embedded simulator's restarts (``Terminal.sim``:
  the identity over ``/sim/v1/identity``, the embedded simulator on its port), a quiet stop (no unclosed HTTP
  session, python-binance's reconnect noise kept out of the log) and an unreachable venue (a refused TCP connect);
- ``test_config.py``: building terminals from settings (python-binance endpoints).

Everything else (commands, TP/SL, consistency and its state machine, intake of duplicates and pauses, recovery,
rebuild, reconcile, the bus, in-flight orders, the model-based attack) runs in process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hedgestack.engine.terminal import Terminal
from hedgestack.store.eventlog import EventLog
from hedgestack.venue.inproc import InProcessVenue
from hedgestack.venue.sim import SimConfig, SimServer
from tests.support.simctl import Control, wait_until


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "wire: the test's terminal talks to the simulator over HTTP and websockets "
                                       "(python-binance), not in process")


@pytest.fixture(scope="module")
def sim_server() -> Iterator[SimServer]:
    sim = SimServer.start_in_thread(SimConfig(market="static", seed=11))
    yield sim
    sim.stop()


@pytest.fixture
def control(sim_server: SimServer) -> Control:
    ctl = Control(sim_server.url)
    ctl.post("/reset")
    ctl.price("BTCUSDT", "95000")
    ctl.price("ETHUSDT", "3500")
    for symbol in ("BTCUSDT", "ETHUSDT"):
        ctl.post("/liquidity", {"symbol": symbol, "max_fill_qty": None})
    return ctl


def make_terminal(sim_server: SimServer, data_dir: Path, *, wire: bool = False, **options: Any) -> Terminal:
    """A terminal on ``sim_server``: in process, or over the wire (python-binance) with ``wire=True``."""
    settings: dict[str, Any] = {"poll_interval": 0.3, "mismatch_grace": 0.5, "publish_interval": 0.5,
                                "check_invariants_live": True, **options}
    if wire:
        return Terminal.sim(data_dir, sim_url=sim_server.url, **settings)
    return Terminal(InProcessVenue(sim_server), data_dir=data_dir, **settings)


@pytest.fixture
def on_wire(request: pytest.FixtureRequest) -> bool:
    """Whether the test is marked ``wire`` (see the module text)."""
    return request.node.get_closest_marker("wire") is not None


@pytest.fixture
def terminal(sim_server: SimServer, control: Control, tmp_path: Path, on_wire: bool) -> Iterator[Terminal]:
    t = make_terminal(sim_server, tmp_path, wire=on_wire).start_sync()
    yield t
    t.stop_sync()


def settle(t: Terminal, control: Control, timeout: float = 10.0) -> None:
    """Wait until every exchange trade is in the ledger and TP/SL work is done."""
    def done() -> bool:
        trades = control.account()["trades"]
        ledger_trades = t.run_sync(_count(t))
        return ledger_trades == len(trades) and t.tpsl.idle()

    wait_until(done, timeout)
    t.sync.wait_idle(timeout=max(timeout, 20.0))  # an order a killed process left PENDING needs ~11 s


async def _count(t: Terminal) -> int:
    return t.ledger.trade_count


def assert_consistent(t: Terminal, control: Control, *, expect_sides_equal: bool = True) -> None:
    """After a scenario: invariants 1–5 hold, the state equals a fresh replay and the simulator's truth."""
    settle(t, control)
    truth = control.account()

    report = t.sync.audit(truth, check_sides=expect_sides_equal)
    equal = t.sync.replay_equal()
    assert report.ok, report.as_dict()
    assert report.logged == report.trades == len(truth["trades"])
    assert equal, "ledger differs from a fresh replay of the log"


def reopen(path: Path) -> EventLog:
    return EventLog(path)
