"""Fuzz every route of /v1/openapi.json with schemathesis (bodies from the schema, and junk): no 5xx, every
error in the envelope, and no rejected request leaves an order at the simulator (or even an order intent)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import status_code_conformance

from hedgestack.api.openapi import document
from hedgestack.engine.terminal import Terminal
from hedgestack.venue.sim import SimServer
from tests.api.conftest import ApiServer, Client

NOT_JSON_ERRORS = {("GET", "/v1/login"), ("POST", "/v1/login")}  # the human login form answers in HTML


def load(max_examples: int) -> Any:
    schema = schemathesis.openapi.from_dict(document())
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                    max_examples=max_examples, deterministic=True)
    return schema.exclude(path="/v1/stream")


quick = load(12)
thorough = load(120)


class Sut:
    """The system under test: API URL, the terminal, some real VP ids to aim at, the simulator's orders."""

    def __init__(self, api: ApiServer, terminal: Terminal, sim: SimServer, vp_ids: list[str]) -> None:
        self.api, self.terminal, self.sim, self.vp_ids = api, terminal, sim, vp_ids

    def sim_orders(self) -> set[str]:
        account = self.sim.exchange.account
        for _ in range(5):
            try:
                return {o.client_order_id for o in list(account.orders.values())} | \
                       {a.client_algo_id for a in list(account.algos.values())}
            except RuntimeError:  # changed during iteration (the simulator's thread): read again
                time.sleep(0.01)
        raise AssertionError("could not read the simulator's orders")

    def intents(self) -> dict[str, str]:
        frame = self.terminal.orders()
        return dict(zip(frame["client_order_id"].to_list(), frame["role"].to_list(), strict=True))


@pytest.fixture(scope="module")
def sut(api: ApiServer, terminal: Terminal, sim_server: SimServer) -> Sut:
    http = Client(api.url)
    ids = []
    for i, (symbol, side) in enumerate([("BTCUSDT", "LONG"), ("BTCUSDT", "SHORT"), ("ETHUSDT", "LONG")]):
        vp = http.post("/v1/virtual-positions", {"name": f"fuzz-{i}", "symbol": symbol, "positionSide": side}).json()
        ids.append(vp["id"])
    # one VP holds a position so closes, TP/SL and transfers get past "flat"
    http.post("/v1/orders", {"virtual_position_id": ids[0], "symbol": "BTCUSDT", "positionSide": "LONG",
                             "side": "BUY", "type": "MARKET", "qty": "0.01"})
    return Sut(api, terminal, sim_server, ids)


def aim(case: Any, sut: Sut) -> None:
    """Half of the cases get real VP ids, so valid bodies reach the engine's rules, filters and the exchange."""
    pick = hash(repr(case.body) + repr(case.path_parameters)) % (2 * len(sut.vp_ids))
    if pick >= len(sut.vp_ids):
        return
    vp_id = sut.vp_ids[pick]
    if case.path_parameters and "id" in case.path_parameters:
        case.path_parameters["id"] = vp_id
    if isinstance(case.body, dict):
        for key in ("virtual_position_id", "from_vp"):
            if key in case.body:
                case.body[key] = vp_id


def check(case: Any, sut: Sut) -> None:
    aim(case, sut)
    sim_before, intents_before = sut.sim_orders(), sut.intents()
    response = case.call(base_url=sut.api.url, timeout=30)
    method, path = case.method.upper(), case.operation.path
    assert response.status_code < 500 or response.status_code in (502, 503), \
        (method, path, response.status_code, response.text[:300])
    if response.status_code == 503:  # only a venue outage may give 503; this simulator is up
        raise AssertionError((method, path, response.text[:300]))
    if response.status_code >= 400 and (method, path) not in NOT_JSON_ERRORS:
        assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
        body = response.json()
        assert set(body) == {"error", "message"} and all(isinstance(v, str) for v in body.values()), body
        assert "Traceback" not in response.text
    if 400 <= response.status_code < 500:
        # refused before anything was sent: no new intent of an ENTRY/CLOSE order, nothing new at the exchange
        # except TP/SL legs the terminal re-syncs on its own
        sut.terminal.sync.wait_idle(10)
        intents_after = sut.intents()
        new_intents = {c: r for c, r in intents_after.items() if c not in intents_before and r not in ("TP", "SL")}
        assert not new_intents, (method, path, response.status_code, new_intents)
        new_at_sim = {c for c in sut.sim_orders() - sim_before if intents_after.get(c) not in ("TP", "SL")}
        assert not new_at_sim, (method, path, response.status_code, new_at_sim)
    if response.status_code != 502:
        status_code_conformance(None, response, case)  # type: ignore[arg-type]


@quick.parametrize()
def test_fuzz_quick(case: Any, sut: Sut) -> None:
    check(case, sut)


@pytest.mark.slow
@thorough.parametrize()
def test_fuzz_thorough(case: Any, sut: Sut) -> None:
    check(case, sut)
