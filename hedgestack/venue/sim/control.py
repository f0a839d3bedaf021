"""The control API (not Binance's): JSON over HTTP under ``/sim/v1`` on the simulator's port.

Routes (a contract: tests and demos outside this package rely on them):
- ``POST /sim/v1/price`` ``{"symbol", "last", "mark"?}``: set prices, match, trigger, push market events.
- ``POST /sim/v1/funding`` ``{"symbol", "rate"}``: set the funding rate, push markPrice, settle funding.
- ``POST /sim/v1/external-order`` ``{"symbol", "side", "positionSide", "type", "quantity", "price"?,
  "clientOrderId"?}``: an order as if placed from the Binance app.
- ``POST /sim/v1/liquidity`` ``{"symbol", "max_fill_qty": "0.005" | null}``.
- ``POST /sim/v1/faults`` ``{"kind": ..., ...}``: disconnect_user_stream, pause_user_stream {seconds},
  duplicate_events {count}, lose_rest_response {path, count}, rate_limit {count}, expire_listen_key.
- ``GET /sim/v1/account``: the exchange's truth; ``POST /sim/v1/reset``: start over.
Errors answer ``{"code", "msg"}`` (Binance's codes where an exchange rule refused, -1102 for bad input).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from hedgestack.domain.errors import ValidationError
from hedgestack.domain.numbers import D
from hedgestack.venue.sim import wire
from hedgestack.venue.sim.errors import BinanceCodeError
from hedgestack.venue.sim.exchange import fixed

if TYPE_CHECKING:
    from hedgestack.venue.sim.server import SimServer

FAULT_KINDS = ("disconnect_user_stream", "pause_user_stream", "duplicate_events", "lose_rest_response",
               "rate_limit", "expire_listen_key")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(data), status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    try:
        data = json.loads(text or "{}", parse_float=Decimal)
    except ValueError:
        raise BinanceCodeError(-1102, "Body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BinanceCodeError(-1102, "Body must be a JSON object.")
    return data


def _dec(data: dict[str, Any], name: str, *, required: bool = True) -> Decimal | None:
    raw = data.get(name)
    if raw is None:
        if required:
            raise BinanceCodeError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return None
    try:
        return D(raw if isinstance(raw, (str, int, Decimal)) and not isinstance(raw, bool) else str(raw),
                 field=name)
    except ValidationError:
        raise BinanceCodeError(-1102, f"Parameter '{name}' is not a decimal number.") from None


class ControlApi:
    """Handlers of ``/sim/v1``, bound to one server."""

    def __init__(self, server: SimServer) -> None:
        self.server = server

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/sim/v1/price", self.price),
            web.post("/sim/v1/funding", self.funding),
            web.post("/sim/v1/external-order", self.external_order),
            web.post("/sim/v1/liquidity", self.liquidity),
            web.post("/sim/v1/faults", self.faults),
            web.get("/sim/v1/account", self.account),
            web.post("/sim/v1/reset", self.reset),
        ]

    async def price(self, request: web.Request) -> web.Response:
        data = await _body(request)
        symbol = str(data.get("symbol", ""))
        self.server.exchange.market(symbol)
        last = _dec(data, "last")
        mark = _dec(data, "mark", required=False)
        assert last is not None
        if last <= 0:
            raise BinanceCodeError(-1102, "Parameter 'last' must be positive.")
        self.server.apply_price(symbol, last, mark, from_control=True)
        m = self.server.exchange.markets[symbol]
        return _json({"symbol": symbol, "last": fixed(m.last, 0), "mark": fixed(m.mark, 0)})

    async def funding(self, request: web.Request) -> web.Response:
        data = await _body(request)
        symbol = str(data.get("symbol", ""))
        rate = _dec(data, "rate")
        assert rate is not None
        ex = self.server.exchange
        ex.market(symbol)
        amount = ex.settle_funding(symbol, rate)
        return _json({"symbol": symbol, "rate": fixed(rate, 0), "mark": fixed(ex.markets[symbol].mark, 0),
                      "income": fixed(amount, 8), "time": ex.last_funding_time})

    async def external_order(self, request: web.Request) -> web.Response:
        data = await _body(request)
        params = {k: str(v) for k, v in data.items() if v is not None and k != "clientOrderId"}
        params["newClientOrderId"] = str(data.get("clientOrderId") or "web_" + self.server.exchange._new_client_id())
        if params.get("type") == "LIMIT":
            params.setdefault("timeInForce", "GTC")
        _, order = self.server.exchange.place_order(params, external=True)
        return _json(wire.order(self.server.exchange, order))

    async def liquidity(self, request: web.Request) -> web.Response:
        data = await _body(request)
        symbol = str(data.get("symbol", ""))
        cap = _dec(data, "max_fill_qty", required=False)
        if cap is not None and cap <= 0:
            raise BinanceCodeError(-1102, "Parameter 'max_fill_qty' must be positive or null.")
        self.server.exchange.set_liquidity(symbol, cap)
        return _json({"symbol": symbol, "max_fill_qty": fixed(cap, 0) if cap is not None else None})

    async def faults(self, request: web.Request) -> web.Response:
        data = await _body(request)
        kind = data.get("kind")
        if kind not in FAULT_KINDS:
            raise BinanceCodeError(-1102, f"Unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}.")
        await self.server.inject_fault(kind, data)
        return _json({"kind": kind, "ok": True})

    async def account(self, request: web.Request) -> web.Response:
        return _json(self.server.truth())

    async def reset(self, request: web.Request) -> web.Response:
        await self.server.reset()
        return _json({"ok": True, "wallet_balance": fixed(self.server.exchange.account.wallet, 8)})
