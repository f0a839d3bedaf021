"""The control API (not Binance's): JSON over HTTP under ``/sim/v1`` on the simulator's port.

Routes (a contract: tests and demos outside this package rely on them; every answer comes after every fill,
trigger and liquidation the call caused):

- ``POST /sim/v1/price`` ``{"symbol", "last", "mark"?, "qty"?}``: set prices, match, trigger, liquidate, push
  market events. With a book, the market trades to ``last`` (through every level before it) and ``qty``
  (default 0) more trades at ``last`` itself, first-in first-out.
- ``POST /sim/v1/funding`` ``{"symbol", "rate"?}``: make ``rate`` the funding rate (default: the rate the
  premium index gives), push markPrice, settle funding now. Answers ``{symbol, rate, mark, income, time}``.
- ``POST /sim/v1/external-order`` ``{"symbol", "side", "positionSide", "type", "quantity", "price"?,
  "clientOrderId"?}``: an order as if placed from the Binance app (``web_…`` id).
- ``POST /sim/v1/liquidity`` ``{"symbol", "max_fill_qty": "0.005" | null}``.
- ``POST /sim/v1/faults`` ``{"kind": ..., ...}``: disconnect_user_stream, pause_user_stream {seconds},
  duplicate_events {count}, lose_rest_response {path, count}, rate_limit {count}, expire_listen_key.
- ``GET /sim/v1/account``: the exchange's truth; ``POST /sim/v1/reset``: a fresh account (ids keep counting,
  the identity stays).
- ``GET /sim/v1/identity`` → ``{"id", "created_at"}`` (ms).
- ``POST /sim/v1/book`` ``{"symbol", "spread_ticks"?, "depth"?, "levels"?, "refill_seconds"?, "enabled"?}``:
  give the symbol an order book (``depth``: the quantity on each level from the touch, one decimal for
  ``levels`` levels (default 20) or a list, one per level; without ``depth`` the symbol's own seeded book) or
  remove it (``"enabled": false``). ``GET /sim/v1/book?symbol=S&limit=N``: the book as the simulator sees it.
- ``POST /sim/v1/trade`` ``{"symbol", "price", "qty", "side"}``: the market's own taker (side BUY or SELL)
  trades ``qty`` at ``price``: the book moves so that ``price`` is its touch, the queue there is eaten.

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
    from hedgestack.venue.sim.host import ControlHost

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
    return _decimal(raw, name)


def _decimal(raw: Any, name: str) -> Decimal:
    try:
        return D(raw if isinstance(raw, (str, int, Decimal)) and not isinstance(raw, bool) else str(raw), field=name)
    except ValidationError:
        raise BinanceCodeError(-1102, f"Parameter '{name}' is not a decimal number.") from None


class ControlApi:
    """Handlers of ``/sim/v1``, bound to one server."""

    def __init__(self, server: ControlHost) -> None:
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
            web.get("/sim/v1/identity", self.identity),
            web.post("/sim/v1/book", self.set_book),
            web.get("/sim/v1/book", self.get_book),
            web.post("/sim/v1/trade", self.trade),
        ]

    def _symbol(self, data: dict[str, Any]) -> str:
        symbol = str(data.get("symbol", ""))
        self.server.exchange.market(symbol)
        return symbol

    async def price(self, request: web.Request) -> web.Response:
        data = await _body(request)
        symbol = self._symbol(data)
        last = _dec(data, "last")
        mark = _dec(data, "mark", required=False)
        qty = _dec(data, "qty", required=False)
        assert last is not None
        if last <= 0 or (mark is not None and mark <= 0):
            raise BinanceCodeError(-1102, "Parameter 'last' must be positive.")
        if qty is not None and qty < 0:
            raise BinanceCodeError(-1102, "Parameter 'qty' must not be negative.")
        tick = self.server.exchange.specs[symbol].tick
        if self.server.exchange.book_on[symbol] and last % tick != 0:
            raise BinanceCodeError(-1102, f"Parameter 'last' must be a multiple of the tick size {tick} (the "
                                          "symbol has an order book).")
        self.server.apply_price(symbol, last, mark, qty=qty or Decimal(0))
        m = self.server.exchange.markets[symbol]
        return _json({"symbol": symbol, "last": fixed(m.last, 0), "mark": fixed(m.mark, 0)})

    async def funding(self, request: web.Request) -> web.Response:
        data = await _body(request)
        symbol = self._symbol(data)
        rate = _dec(data, "rate", required=False)
        ex = self.server.exchange
        amount = ex.settle_funding(symbol, rate)
        self.server.commit()
        applied = ex.funding[symbol].history[-1].rate
        return _json({"symbol": symbol, "rate": fixed(applied, 0), "mark": fixed(ex.markets[symbol].mark, 0),
                      "income": fixed(amount, 8), "time": ex.last_funding_time})

    async def external_order(self, request: web.Request) -> web.Response:
        data = await _body(request)
        params = {k: str(v) for k, v in data.items() if v is not None and k != "clientOrderId"}
        params["newClientOrderId"] = str(data.get("clientOrderId") or "web_" + self.server.exchange.new_client_id())
        if params.get("type") == "LIMIT":
            params.setdefault("timeInForce", "GTC")
        _, order = self.server.exchange.place_order(params, external=True)
        self.server.commit()
        return _json({k: v for k, v in msgspec.to_builtins(wire.order(self.server.exchange, order)).items()
                      if k != "pair"})

    async def liquidity(self, request: web.Request) -> web.Response:
        data = await _body(request)
        symbol = self._symbol(data)
        cap = _dec(data, "max_fill_qty", required=False)
        if cap is not None and cap <= 0:
            raise BinanceCodeError(-1102, "Parameter 'max_fill_qty' must be positive or null.")
        self.server.exchange.set_liquidity(symbol, cap)
        self.server.commit()
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

    async def identity(self, request: web.Request) -> web.Response:
        ident = self.server.identity
        return _json({"id": ident.id, "created_at": ident.created_at})

    async def set_book(self, request: web.Request) -> web.Response:
        data = await _body(request)
        symbol = self._symbol(data)
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise BinanceCodeError(-1102, "Parameter 'enabled' must be true or false.")
        spread = data.get("spread_ticks", 1)
        if not isinstance(spread, int) or isinstance(spread, bool) or spread < 1:
            raise BinanceCodeError(-1102, "Parameter 'spread_ticks' must be a whole number of ticks, at least 1.")
        depth: list[Decimal] | None = None
        raw = data.get("depth")
        if raw is not None:
            if isinstance(raw, list):
                depth = [_decimal(x, "depth") for x in raw]
            else:
                levels = data.get("levels", 20)
                if not isinstance(levels, int) or isinstance(levels, bool) or not 1 <= levels <= 5000:
                    raise BinanceCodeError(-1102, "Parameter 'levels' must be a whole number from 1 to 5000.")
                depth = [_decimal(raw, "depth")] * levels
            step = self.server.exchange.specs[symbol].step
            if any(q < 0 or q % step != 0 for q in depth):
                raise BinanceCodeError(-1102, f"Parameter 'depth' must hold multiples of the step size {step}.")
        refill = data.get("refill_seconds")
        if refill is not None and (not isinstance(refill, (int, Decimal)) or isinstance(refill, bool) or refill < 0):
            raise BinanceCodeError(-1102, "Parameter 'refill_seconds' must be a number of seconds.")
        book = self.server.exchange.set_book(symbol, enabled=enabled, spread_ticks=spread, depth=depth,
                                             refill_seconds=float(refill) if refill is not None else None)
        self.server.commit()
        return _json(self._book(symbol, book, 20))

    async def get_book(self, request: web.Request) -> web.Response:
        symbol = self._symbol({"symbol": request.query.get("symbol", "")})
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            raise BinanceCodeError(-1102, "Parameter 'limit' must be a whole number.") from None
        return _json(self._book(symbol, self.server.exchange.books[symbol], max(1, min(limit, 1000))))

    def _book(self, symbol: str, book: Any, limit: int) -> dict[str, Any]:
        spec = self.server.exchange.specs[symbol]
        bids, asks = book.depth(limit)
        pp, qp = spec.price_precision, spec.quantity_precision
        return {"symbol": symbol, "enabled": self.server.exchange.book_on[symbol], "spread_ticks": book.spread,
                "update_id": book.update_id,
                "bids": [[fixed(book.price(t), pp), fixed(q, qp)] for t, q in bids],
                "asks": [[fixed(book.price(t), pp), fixed(q, qp)] for t, q in asks]}

    async def trade(self, request: web.Request) -> web.Response:
        data = await _body(request)
        symbol = self._symbol(data)
        price = _dec(data, "price")
        qty = _dec(data, "qty")
        side = data.get("side")
        assert price is not None and qty is not None
        if side not in ("BUY", "SELL"):
            raise BinanceCodeError(-1102, "Parameter 'side' must be BUY or SELL (the taker's side).")
        spec = self.server.exchange.specs[symbol]
        if price <= 0 or price % spec.tick != 0:
            raise BinanceCodeError(-1102, f"Parameter 'price' must be positive and a multiple of {spec.tick}.")
        if qty <= 0 or qty % spec.step != 0:
            raise BinanceCodeError(-1102, f"Parameter 'qty' must be positive and a multiple of {spec.step}.")
        ex = self.server.exchange
        ex.external_trade(symbol, price, qty, side)
        ex.market_prices(symbol, mark=price, index=price)
        self.server.push_mark(symbol)
        self.server.commit()
        m = ex.markets[symbol]
        return _json({"symbol": symbol, "last": fixed(m.last, 0), "mark": fixed(m.mark, 0)})
