"""Binance's REST endpoints on the simulated account: one table of (method, path) → handler.

Each entry names its security type (NONE, USER_STREAM = key only, SIGNED = key + signature), its
request weight and whether it counts as an order (reference §1.4). Handlers take the merged parameters
(query wins over body, reference §1.2) and return a schema Struct, a list of them, or a plain dict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim import errors as e
from hedgestack.venue.sim import wire
from hedgestack.venue.sim.errors import BinanceCodeError
from hedgestack.venue.sim.exchange import fixed
from hedgestack.venue.sim.market import MINUTE, Candle

if TYPE_CHECKING:
    from hedgestack.venue.sim.server import SimServer

Params = dict[str, str]
INTERVALS = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "6h": 360,
             "8h": 480, "12h": 720, "1d": 1440}


@dataclass(frozen=True, slots=True)
class Endpoint:
    handler: Callable[[Params], Any]
    security: str  # NONE | USER_STREAM | SIGNED
    weight: int = 1
    order: bool = False


def _limit(params: Params, default: int, maximum: int) -> int:
    try:
        value = int(params.get("limit") or default)
    except ValueError:
        raise e.mandatory("limit") from None
    return max(1, min(value, maximum))


def _opt_int(params: Params, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise e.mandatory(name) from None


def _in_window(t: int, params: Params) -> bool:
    start, end = _opt_int(params, "startTime"), _opt_int(params, "endTime")
    return (start is None or t >= start) and (end is None or t <= end)


def _aggregate(rows: list[Candle], minutes: int) -> list[Candle]:
    if minutes == 1:
        return rows
    out: list[Candle] = []
    span = minutes * MINUTE
    for c in rows:
        start = c.open_time - c.open_time % span
        if not out or out[-1].open_time != start:
            out.append(Candle(open_time=start, open=c.open, high=c.high, low=c.low, close=c.close))
        agg = out[-1]
        agg.high, agg.low, agg.close = max(agg.high, c.high), min(agg.low, c.low), c.close
        agg.volume += c.volume
        agg.quote_volume += c.quote_volume
        agg.trades += c.trades
        agg.taker_buy_volume += c.taker_buy_volume
        agg.taker_buy_quote += c.taker_buy_quote
    return out


class BinanceApi:
    """The handlers, bound to one server (its exchange, streams and candles)."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.ex = server.exchange
        s = "SIGNED"
        self.table: dict[tuple[str, str], Endpoint] = {
            ("GET", "/api/v3/ping"): Endpoint(lambda p: {}, "NONE"),
            ("GET", "/api/v3/time"): Endpoint(self.time, "NONE"),
            ("GET", "/fapi/v1/ping"): Endpoint(lambda p: {}, "NONE"),
            ("GET", "/fapi/v1/time"): Endpoint(self.time, "NONE"),
            ("GET", "/fapi/v1/exchangeInfo"): Endpoint(self.exchange_info, "NONE"),
            ("GET", "/fapi/v1/premiumIndex"): Endpoint(self.premium_index, "NONE"),
            ("GET", "/fapi/v1/klines"): Endpoint(self.klines, "NONE", 5),
            ("GET", "/fapi/v1/ticker/price"): Endpoint(self.ticker_price, "NONE"),
            ("GET", "/fapi/v2/ticker/price"): Endpoint(self.ticker_price, "NONE"),
            ("POST", "/fapi/v1/order"): Endpoint(self.new_order, s, 0, order=True),
            ("DELETE", "/fapi/v1/order"): Endpoint(self.cancel_order, s),
            ("GET", "/fapi/v1/order"): Endpoint(self.query_order, s),
            ("GET", "/fapi/v1/openOrder"): Endpoint(self.query_open_order, s),
            ("GET", "/fapi/v1/openOrders"): Endpoint(self.open_orders, s),
            ("GET", "/fapi/v1/allOrders"): Endpoint(self.all_orders, s, 5),
            ("DELETE", "/fapi/v1/allOpenOrders"): Endpoint(self.cancel_all, s),
            ("GET", "/fapi/v1/userTrades"): Endpoint(self.user_trades, s, 5),
            ("GET", "/fapi/v2/positionRisk"): Endpoint(self.position_risk_v2, s, 5),
            ("GET", "/fapi/v3/positionRisk"): Endpoint(self.position_risk_v3, s, 5),
            ("GET", "/fapi/v2/account"): Endpoint(lambda p: wire.account_v2(self.ex), s, 5),
            ("GET", "/fapi/v3/account"): Endpoint(lambda p: wire.account_v3(self.ex), s, 5),
            ("GET", "/fapi/v2/balance"): Endpoint(lambda p: wire.balance(self.ex), s, 5),
            ("GET", "/fapi/v3/balance"): Endpoint(lambda p: wire.balance(self.ex), s, 5),
            ("GET", "/fapi/v1/positionSide/dual"): Endpoint(self.get_mode, s, 30),
            ("POST", "/fapi/v1/positionSide/dual"): Endpoint(self.set_mode, s),
            ("GET", "/fapi/v1/income"): Endpoint(self.income, s, 30),
            ("POST", "/fapi/v1/listenKey"): Endpoint(self.new_listen_key, "USER_STREAM"),
            ("PUT", "/fapi/v1/listenKey"): Endpoint(self.keepalive_listen_key, "USER_STREAM"),
            ("DELETE", "/fapi/v1/listenKey"): Endpoint(self.close_listen_key, "USER_STREAM"),
            ("POST", "/fapi/v1/algoOrder"): Endpoint(self.new_algo, s, 0, order=True),
            ("DELETE", "/fapi/v1/algoOrder"): Endpoint(self.cancel_algo, s),
            ("GET", "/fapi/v1/algoOrder"): Endpoint(self.query_algo, s),
            ("GET", "/fapi/v1/openAlgoOrders"): Endpoint(self.open_algos, s),
            ("GET", "/fapi/v1/allAlgoOrders"): Endpoint(self.all_algos, s, 5),
            ("DELETE", "/fapi/v1/algoOpenOrders"): Endpoint(self.cancel_all_algos, s),
        }

    # -- market data --------------------------------------------------------------------------
    def time(self, p: Params) -> w.ServerTime:
        return w.ServerTime(serverTime=self.ex.clock())

    def exchange_info(self, p: Params) -> dict[str, Any]:
        limits = self.ex.config.rate_limits
        return {
            "timezone": "UTC", "serverTime": self.ex.clock(), "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": limits.weight_per_minute},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
                 "limit": limits.orders_per_minute},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                 "limit": limits.orders_per_10s}],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [spec.exchange_info() for spec in self.ex.config.symbols],
        }

    def premium_index(self, p: Params) -> w.PremiumIndex | list[w.PremiumIndex]:
        if p.get("symbol"):
            self.ex.market(p["symbol"])
            return wire.premium_index(self.ex, p["symbol"])
        return [wire.premium_index(self.ex, s) for s in self.ex.markets]

    def ticker_price(self, p: Params) -> w.TickerPrice | list[w.TickerPrice]:
        def one(symbol: str) -> w.TickerPrice:
            m = self.ex.markets[symbol]
            return w.TickerPrice(symbol=symbol, price=fixed(m.last, self.ex.specs[symbol].price_precision),
                                 time=self.ex.clock())

        if p.get("symbol"):
            self.ex.market(p["symbol"])
            return one(p["symbol"])
        return [one(s) for s in self.ex.markets]

    def klines(self, p: Params) -> list[list[Any]]:
        symbol = p.get("symbol")
        if not symbol:
            raise e.mandatory("symbol")
        self.ex.market(symbol)
        interval = p.get("interval", "")
        if interval not in INTERVALS:
            raise BinanceCodeError(-1120, "Invalid interval.")
        rows = _aggregate(self.server.candles.by_symbol.get(symbol, []), INTERVALS[interval])
        start, end = _opt_int(p, "startTime"), _opt_int(p, "endTime")
        rows = [c for c in rows if (start is None or c.open_time >= start) and (end is None or c.open_time <= end)]
        limit = _limit(p, 500, 1500)
        rows = rows[:limit] if start is not None else rows[-limit:]
        spec = self.ex.specs[symbol]
        pp, qp = spec.price_precision, spec.quantity_precision
        span = INTERVALS[interval] * MINUTE
        return [[c.open_time, fixed(c.open, pp), fixed(c.high, pp), fixed(c.low, pp), fixed(c.close, pp),
                 fixed(c.volume, qp), c.open_time + span - 1, fixed(c.quote_volume, 5), c.trades,
                 fixed(c.taker_buy_volume, qp), fixed(c.taker_buy_quote, 5), "0"] for c in rows]

    # -- orders ---------------------------------------------------------------------------------
    def new_order(self, p: Params) -> w.NewOrderResponse:
        ack, final = self.ex.place_order(p)
        return wire.new_order_response(self.ex, final if p.get("newOrderRespType") == "RESULT" else ack)

    def cancel_order(self, p: Params) -> w.NewOrderResponse:
        order = self.ex.cancel_order(p.get("symbol", ""), p.get("orderId"), p.get("origClientOrderId"))
        return wire.new_order_response(self.ex, order)

    def query_order(self, p: Params) -> w.Order:
        return wire.order(self.ex, self.ex.find_order(p.get("symbol", ""), p.get("orderId"),
                                                      p.get("origClientOrderId")))

    def query_open_order(self, p: Params) -> w.Order:
        order = self.ex.find_order(p.get("symbol", ""), p.get("orderId"), p.get("origClientOrderId"))
        if not order.is_open:
            raise e.no_such_order()
        return wire.order(self.ex, order)

    def open_orders(self, p: Params) -> list[w.Order]:
        symbol = p.get("symbol") or None
        if symbol:
            self.ex.market(symbol)
        return [wire.order(self.ex, o) for o in self.ex.open_orders(symbol)]

    def all_orders(self, p: Params) -> list[w.Order]:
        symbol = p.get("symbol") or None
        if symbol:
            self.ex.market(symbol)
        from_id = _opt_int(p, "orderId")
        rows = [o for o in self.ex.account.orders.values()
                if (symbol is None or o.symbol == symbol) and (from_id is None or o.order_id >= from_id)
                and _in_window(o.time, p)]
        limit = _limit(p, 500, 1000)
        rows = rows[:limit] if from_id is not None else rows[-limit:]
        return [wire.order(self.ex, o) for o in rows]

    def cancel_all(self, p: Params) -> w.CodeMsg:
        if not p.get("symbol"):
            raise e.mandatory("symbol")
        self.ex.cancel_all(p["symbol"])
        return w.CodeMsg(code=200, msg="The operation of cancel all open order is done.")

    def user_trades(self, p: Params) -> list[w.UserTrade]:
        symbol = p.get("symbol")
        if not symbol:
            raise e.mandatory("symbol")
        self.ex.market(symbol)
        order_id, from_id = _opt_int(p, "orderId"), _opt_int(p, "fromId")
        if from_id is not None and (p.get("startTime") or p.get("endTime")):
            raise BinanceCodeError(-1128, "Combination of optional parameters invalid.")
        rows = [t for t in self.ex.account.trades
                if t.symbol == symbol and (order_id is None or t.order_id == order_id)
                and (from_id is None or t.trade_id >= from_id) and _in_window(t.time, p)]
        limit = _limit(p, 500, 1000)
        rows = rows[:limit] if from_id is not None else rows[-limit:]
        return [wire.user_trade(self.ex, t) for t in rows]

    # -- positions, account ---------------------------------------------------------------------
    def _positions(self, p: Params, *, v3: bool) -> list[Any]:
        symbol = p.get("symbol") or None
        if symbol:
            self.ex.market(symbol)
        out = []
        for pos in self.ex.positions():
            if symbol is not None and pos.symbol != symbol:
                continue
            if v3 and pos.amount == 0 and not self.ex.open_orders(pos.symbol):
                continue  # v3 lists only symbols with a position or open orders
            out.append(wire.position_v3(self.ex, pos) if v3 else wire.position_v2(self.ex, pos))
        return out

    def position_risk_v2(self, p: Params) -> list[w.PositionRiskV2]:
        return self._positions(p, v3=False)

    def position_risk_v3(self, p: Params) -> list[w.PositionRiskV3]:
        return self._positions(p, v3=True)

    def get_mode(self, p: Params) -> w.PositionMode:
        return w.PositionMode(dualSidePosition=self.ex.account.dual_side)

    def set_mode(self, p: Params) -> w.CodeMsg:
        raw = (p.get("dualSidePosition") or "").lower()
        if raw not in ("true", "false"):
            raise e.mandatory("dualSidePosition")
        self.ex.set_dual_side(raw == "true")
        return w.CodeMsg(code=200, msg="success")

    def income(self, p: Params) -> list[w.IncomeRow]:
        symbol, kind = p.get("symbol") or None, p.get("incomeType") or None
        rows = [r for r in self.ex.account.income
                if (symbol is None or r.symbol == symbol) and (kind is None or r.income_type == kind)
                and _in_window(r.time, p)]
        limit = _limit(p, 100, 1000)
        rows = rows[:limit] if p.get("startTime") else rows[-limit:]
        return [wire.income_row(r) for r in rows]

    # -- listenKey ------------------------------------------------------------------------------
    def new_listen_key(self, p: Params) -> w.ListenKey:
        return w.ListenKey(listenKey=self.server.users.create_key())

    def keepalive_listen_key(self, p: Params) -> w.ListenKey:
        key = self.server.users.keepalive(p.get("listenKey") or None)
        if key is None:
            raise BinanceCodeError(-1125, "This listenKey does not exist. Please use `POST /fapi/v1/listenKey` "
                                          "to recreate `listenKey`")
        return w.ListenKey(listenKey=key)

    def close_listen_key(self, p: Params) -> dict[str, Any]:
        self.server.users.close_key(p.get("listenKey") or None)
        return {}

    # -- algo orders ----------------------------------------------------------------------------
    def new_algo(self, p: Params) -> w.AlgoOrderResponse:
        return wire.algo_response(self.ex, self.ex.place_algo(p))

    def cancel_algo(self, p: Params) -> w.AlgoCancelResponse:
        algo = self.ex.cancel_algo(p.get("algoId"), p.get("clientAlgoId"))
        return w.AlgoCancelResponse(algoId=algo.algo_id, clientAlgoId=algo.client_algo_id, code="200",
                                    msg="success")

    def query_algo(self, p: Params) -> w.AlgoOrder:
        return wire.algo_order(self.ex, self.ex.find_algo(p.get("algoId"), p.get("clientAlgoId")))

    def open_algos(self, p: Params) -> list[w.AlgoOrder]:
        symbol = p.get("symbol") or None
        if symbol:
            self.ex.market(symbol)
        return [wire.algo_order(self.ex, a) for a in self.ex.open_algos(symbol)]

    def all_algos(self, p: Params) -> list[w.AlgoOrder]:
        symbol = p.get("symbol")
        if not symbol:
            raise e.mandatory("symbol")
        self.ex.market(symbol)
        from_id = _opt_int(p, "algoId")
        rows = [a for a in self.ex.account.algos.values()
                if a.symbol == symbol and (from_id is None or a.algo_id >= from_id) and _in_window(a.create_time, p)]
        limit = _limit(p, 500, 1000)
        rows = rows[:limit] if from_id is not None else rows[-limit:]
        return [wire.algo_order(self.ex, a) for a in rows]

    def cancel_all_algos(self, p: Params) -> w.CodeMsg:
        if not p.get("symbol"):
            raise e.mandatory("symbol")
        self.ex.cancel_all_algos(p["symbol"])
        return w.CodeMsg(code=200, msg="The operation of cancel all open order is done.")
