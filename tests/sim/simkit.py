"""Helpers for the simulator tests: control API calls, python-binance clients, polling, key-set checks."""

from __future__ import annotations

from typing import Any

from binance.async_client import AsyncClient
from binance.client import Client

from hedgestack.venue.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimServer
from tests.support.simctl import Control, wait_until

__all__ = ["Control", "wait_until"]


def make_client(sim: SimServer) -> Client:
    client = Client(DEFAULT_API_KEY, DEFAULT_API_SECRET, ping=False)
    client.FUTURES_URL = sim.url + "/fapi"
    client.API_URL = sim.url + "/api"
    return client


async def make_async_client(sim: SimServer) -> AsyncClient:
    """AsyncClient.create() pings spot /api/v3/ping and /api/v3/time: point the class URLs at the sim."""
    cls = type("SimAsyncClient", (AsyncClient,), {"API_URL": sim.url + "/api", "FUTURES_URL": sim.url + "/fapi"})
    return await cls.create(DEFAULT_API_KEY, DEFAULT_API_SECRET)


def types_of(payload: dict[str, Any]) -> dict[str, type]:
    """Map each key to its JSON type (str, int, bool, NoneType, list, dict)."""
    return {k: type(v) for k, v in payload.items()}


def assert_same_shape(got: dict[str, Any], documented: dict[str, Any], *, ignore: set[str] = frozenset()) -> None:
    """Same key set and same JSON type per key as the documented example (``ignore`` may be absent)."""
    missing = set(documented) - set(got) - ignore
    extra = set(got) - set(documented) - ignore
    assert not missing and not extra, f"missing {sorted(missing)}, extra {sorted(extra)}"
    for key, value in documented.items():
        if key in got and value is not None and got[key] is not None:
            assert type(got[key]) is type(value), f"{key}: {type(got[key]).__name__} != {type(value).__name__}"
