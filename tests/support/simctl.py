"""The simulator's control API (``/sim/v1``) and polling, shared by the sim, engine, API and browser tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests


class Control:
    """Calls ``/sim/v1`` of one simulator."""

    def __init__(self, base: str) -> None:
        self.base = base + "/sim/v1"
        self.http = requests.Session()

    def post(self, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        resp = self.http.post(self.base + path, json=body or {}, timeout=10)
        assert resp.status_code == status, resp.text
        return resp.json()

    def price(self, symbol: str, last: str, mark: str | None = None) -> Any:
        body = {"symbol": symbol, "last": last}
        if mark is not None:
            body["mark"] = mark
        return self.post("/price", body)

    def fault(self, kind: str, **data: Any) -> Any:
        return self.post("/faults", {"kind": kind, **data})

    def account(self) -> dict[str, Any]:
        resp = self.http.get(self.base + "/account", timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def order_count(self) -> int:
        """Every order the exchange ever accepted: open, algo, and those that traded."""
        acct = self.account()
        traded = {t["orderId"] for t in acct["trades"]}
        return len(acct["open_orders"]) + len(acct["open_algo_orders"]) + len(traded)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s")
        time.sleep(interval)
