"""Binance's REST endpoints on the simulated exchange: one table of (method, path) → handler.

Each entry names its security type (NONE, KEY = API key only, SIGNED = key + signature), its request weight
(a number, or a function of the parameters where Binance's weight depends on them) and whether it counts as
an order (reference/binance-usdm.md §1.4, risk-market §3). Handlers take the merged parameters (the query wins
over the body, reference §1.2) and return a schema Struct, a list of them, or a plain dict.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hedgestack.domain.numbers import to_str
from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim import errors as e
from hedgestack.venue.sim import wire
from hedgestack.venue.sim.entry import boolean
from hedgestack.venue.sim.errors import BinanceCodeError
from hedgestack.venue.sim.exchange import fixed
from hedgestack.venue.sim.history import INTERVALS, bucket_end

if TYPE_CHECKING:
    from hedgestack.venue.sim.host import MarketHost

Params = dict[str, str]
Weight = int | Callable[[Params], int]
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Endpoint:
    handler: Callable[[Params], Any]
    security: str  # NONE | KEY | USER_STREAM | SIGNED
    weight: Weight = 1
    order: bool = False

    def cost(self, params: Params) -> int:
        return self.weight(params) if callable(self.weight) else self.weight


def _limit(params: Params, default: int, maximum: int) -> int:
    raw = params.get("limit")
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
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


def _window(params: Params) -> tuple[int | None, int | None]:
    start, end = _opt_int(params, "startTime"), _opt_int(params, "endTime")
    if start is not None and end is not None and start > end:
        raise e.err(e.START_AFTER_END)
    return start, end


def _in_window(t: int, params: Params) -> bool:
    start, end = _window(params)
    return (start is None or t >= start) and (end is None or t <= end)


def _kline_weight(params: Params) -> int:
    limit = _limit(params, 500, 1500)
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def _depth_weight(params: Params) -> int:
    limit = _limit(params, 500, 1000)
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def _by_symbol(one: int, every: int) -> Callable[[Params], int]:
    return lambda params: one if params.get("symbol") else every


def _json_list(params: Params, name: str) -> list[Any]:
    raw = params.get(name)
    if raw in (None, ""):
        raise e.mandatory(name)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise e.invalid(name) from None
    if not isinstance(value, list):
        raise e.invalid(name)
    return value


def _as_params(item: Any) -> Params:
    if not isinstance(item, dict):
        raise e.invalid("batchOrders")
    out: Params = {}
    for key, value in item.items():
        if value is None:
            continue
        out[str(key)] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class BinanceApi:
    """The handlers, bound to one server (its exchange, streams and market data)."""

    def __init__(self, server: MarketHost) -> None:
        self.server = server
        s, k = "SIGNED", "KEY"
        self.table: dict[tuple[str, str], Endpoint] = {
            # -- spot paths python-binance pings
            ("GET", "/api/v3/ping"): Endpoint(lambda p: {}, "NONE"),
            ("GET", "/api/v3/time"): Endpoint(self.time, "NONE"),
            # -- the spot wallet's coin list, read by clients on load (ccxt's fetch_currencies)
            ("GET", "/sapi/v1/capital/config/getall"): Endpoint(self.coins, s, 10),
            ("GET", "/sapi/v1/margin/allPairs"): Endpoint(lambda p: [], k, 1),  # no spot margin here
            # -- market data
            ("GET", "/fapi/v1/ping"): Endpoint(lambda p: {}, "NONE"),
            ("GET", "/fapi/v1/time"): Endpoint(self.time, "NONE"),
            ("GET", "/fapi/v1/exchangeInfo"): Endpoint(self.exchange_info, "NONE"),
            ("GET", "/fapi/v1/depth"): Endpoint(self.depth, "NONE", _depth_weight),
            ("GET", "/fapi/v1/trades"): Endpoint(self.trades, "NONE", 5),
            ("GET", "/fapi/v1/historicalTrades"): Endpoint(self.historical_trades, k, 20),
            ("GET", "/fapi/v1/aggTrades"): Endpoint(self.agg_trades, "NONE", 20),
            ("GET", "/fapi/v1/klines"): Endpoint(self.klines, "NONE", _kline_weight),
            ("GET", "/fapi/v1/continuousKlines"): Endpoint(self.continuous_klines, "NONE", _kline_weight),
            ("GET", "/fapi/v1/markPriceKlines"): Endpoint(self.mark_klines, "NONE", _kline_weight),
            ("GET", "/fapi/v1/indexPriceKlines"): Endpoint(self.index_klines, "NONE", _kline_weight),
            ("GET", "/fapi/v1/premiumIndexKlines"): Endpoint(self.premium_klines, "NONE", _kline_weight),
            ("GET", "/fapi/v1/premiumIndex"): Endpoint(self.premium_index, "NONE", _by_symbol(1, 10)),
            ("GET", "/fapi/v1/fundingRate"): Endpoint(self.funding_rate, "NONE", 0),
            ("GET", "/fapi/v1/fundingInfo"): Endpoint(self.funding_info, "NONE", 0),
            ("GET", "/fapi/v1/ticker/24hr"): Endpoint(self.ticker_24h, "NONE", _by_symbol(1, 40)),
            ("GET", "/fapi/v1/ticker/price"): Endpoint(self.ticker_price, "NONE", _by_symbol(1, 2)),
            ("GET", "/fapi/v2/ticker/price"): Endpoint(self.ticker_price, "NONE", _by_symbol(1, 2)),
            ("GET", "/fapi/v1/ticker/bookTicker"): Endpoint(self.book_ticker, "NONE", _by_symbol(2, 5)),
            ("GET", "/fapi/v1/openInterest"): Endpoint(self.open_interest, "NONE"),
            # -- orders
            ("POST", "/fapi/v1/order"): Endpoint(self.new_order, s, 0, order=True),
            ("PUT", "/fapi/v1/order"): Endpoint(self.modify_order, s, 0, order=True),
            ("DELETE", "/fapi/v1/order"): Endpoint(self.cancel_order, s),
            ("GET", "/fapi/v1/order"): Endpoint(self.query_order, s),
            ("POST", "/fapi/v1/order/test"): Endpoint(self.test_order, s, 0),
            ("POST", "/fapi/v1/batchOrders"): Endpoint(self.batch_new, s, 5, order=True),
            ("PUT", "/fapi/v1/batchOrders"): Endpoint(self.batch_modify, s, 5, order=True),
            ("DELETE", "/fapi/v1/batchOrders"): Endpoint(self.batch_cancel, s),
            ("GET", "/fapi/v1/openOrder"): Endpoint(self.query_open_order, s),
            ("GET", "/fapi/v1/openOrders"): Endpoint(self.open_orders, s, _by_symbol(1, 40)),
            ("GET", "/fapi/v1/allOrders"): Endpoint(self.all_orders, s, 5),
            ("DELETE", "/fapi/v1/allOpenOrders"): Endpoint(self.cancel_all, s),
            ("POST", "/fapi/v1/countdownCancelAll"): Endpoint(self.countdown, s, 10),
            ("GET", "/fapi/v1/orderAmendment"): Endpoint(self.order_amendments, s),
            ("GET", "/fapi/v1/userTrades"): Endpoint(self.user_trades, s, 5),
            ("GET", "/fapi/v1/forceOrders"): Endpoint(self.force_orders, s, _by_symbol(20, 50)),
            # -- positions, account, configuration
            ("GET", "/fapi/v1/positionRisk"): Endpoint(self.position_risk_v1, s, 5),
            ("GET", "/fapi/v2/positionRisk"): Endpoint(self.position_risk_v2, s, 5),
            ("GET", "/fapi/v3/positionRisk"): Endpoint(self.position_risk_v3, s, 5),
            ("GET", "/fapi/v2/account"): Endpoint(lambda p: wire.account_v2(self.ex), s, 5),
            ("GET", "/fapi/v3/account"): Endpoint(lambda p: wire.account_v3(self.ex), s, 5),
            ("GET", "/fapi/v2/balance"): Endpoint(lambda p: wire.balance(self.ex), s, 5),
            ("GET", "/fapi/v3/balance"): Endpoint(lambda p: wire.balance(self.ex), s, 5),
            ("GET", "/fapi/v1/positionSide/dual"): Endpoint(self.get_mode, s, 30),
            ("POST", "/fapi/v1/positionSide/dual"): Endpoint(self.set_mode, s),
            ("GET", "/fapi/v1/leverageBracket"): Endpoint(self.leverage_bracket, s),
            ("POST", "/fapi/v1/leverage"): Endpoint(self.set_leverage, s),
            ("POST", "/fapi/v1/marginType"): Endpoint(self.set_margin_type, s),
            ("POST", "/fapi/v1/positionMargin"): Endpoint(self.position_margin, s),
            ("GET", "/fapi/v1/symbolConfig"): Endpoint(self.symbol_config, s, 5),
            ("GET", "/fapi/v1/accountConfig"): Endpoint(self.account_config, s, 5),
            ("GET", "/fapi/v1/multiAssetsMargin"): Endpoint(self.get_multi_assets, s, 30),
            ("POST", "/fapi/v1/multiAssetsMargin"): Endpoint(self.set_multi_assets, s),
            ("GET", "/fapi/v1/commissionRate"): Endpoint(self.commission_rate, s, 20),
            ("GET", "/fapi/v1/adlQuantile"): Endpoint(self.adl_quantile, s, 5),
            ("GET", "/fapi/v1/rateLimit/order"): Endpoint(self.rate_limit_order, s),
            ("GET", "/fapi/v1/apiTradingStatus"): Endpoint(self.trading_status, s, _by_symbol(1, 10)),
            ("GET", "/fapi/v1/income"): Endpoint(self.income, s, 30),
            # -- user data stream
            ("POST", "/fapi/v1/listenKey"): Endpoint(self.new_listen_key, "USER_STREAM"),
            ("PUT", "/fapi/v1/listenKey"): Endpoint(self.keepalive_listen_key, "USER_STREAM"),
            ("DELETE", "/fapi/v1/listenKey"): Endpoint(self.close_listen_key, "USER_STREAM"),
            # -- algo orders
            ("POST", "/fapi/v1/algoOrder"): Endpoint(self.new_algo, s, 0, order=True),
            ("DELETE", "/fapi/v1/algoOrder"): Endpoint(self.cancel_algo, s),
            ("GET", "/fapi/v1/algoOrder"): Endpoint(self.query_algo, s),
            ("GET", "/fapi/v1/openAlgoOrders"): Endpoint(self.open_algos, s, _by_symbol(1, 40)),
            ("GET", "/fapi/v1/allAlgoOrders"): Endpoint(self.all_algos, s, 5),
            ("DELETE", "/fapi/v1/algoOpenOrders"): Endpoint(self.cancel_all_algos, s),
        }

    @property
    def ex(self) -> Any:
        return self.server.exchange

    def _symbol(self, p: Params, name: str = "symbol") -> str:
        symbol = p.get(name) or ""
        if not symbol:
            raise e.mandatory(name)
        self.ex.market(symbol)
        return symbol

    def coins(self, p: Params) -> list[dict[str, Any]]:
        """The coins of the bundled contracts (spot-wallet shape, empty balances: USDT-M is the only wallet)."""
        names = ["USDT"] + [spec.base_asset for spec in self.ex.config.symbols]
        return [{"coin": c, "depositAllEnable": False, "withdrawAllEnable": False, "name": c, "free": "0",
                 "locked": "0", "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
                 "isLegalMoney": False, "trading": True, "networkList": []} for c in dict.fromkeys(names)]

    # -- market data ------------------------------------------------------------------------------------
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

    def depth(self, p: Params) -> w.Depth:
        symbol = self._symbol(p)
        raw = p.get("limit") or "500"
        try:
            limit = int(raw)
        except ValueError:
            raise e.depth_limit(raw) from None
        if limit not in DEPTH_LIMITS:
            raise e.depth_limit(raw)
        return self.server.depth_snapshot(symbol, limit)

    def _tape(self, symbol: str) -> list[Any]:
        return list(self.server.history(symbol).trades)

    def trades(self, p: Params) -> list[w.PublicTradeRow]:
        symbol = self._symbol(p)
        rows = self._tape(symbol)[-_limit(p, 500, 1000):]
        return [wire.public_trade(self.ex, symbol, t) for t in rows]

    def historical_trades(self, p: Params) -> list[w.PublicTradeRow]:
        symbol = self._symbol(p)
        from_id = _opt_int(p, "fromId")
        rows = self._tape(symbol)
        limit = _limit(p, 100, 500)
        rows = [t for t in rows if t.id >= from_id][:limit] if from_id is not None else rows[-limit:]
        return [wire.public_trade(self.ex, symbol, t) for t in rows]

    def agg_trades(self, p: Params) -> list[w.AggTradeRow]:
        symbol = self._symbol(p)
        from_id = _opt_int(p, "fromId")
        start, end = _window(p)
        if from_id is not None and (start is not None or end is not None):
            raise e.err(e.COMBINATION)
        if start is not None and end is not None and end - start > 3_600_000:
            raise BinanceCodeError(-1127, "More than 1 hours between startTime and endTime.")
        rows = self._tape(symbol)
        limit = _limit(p, 500, 1000)
        if from_id is not None:
            rows = [t for t in rows if t.id >= from_id][:limit]
        elif start is not None or end is not None:
            rows = [t for t in rows if _in_window(t.time, p)][:limit]
        else:
            rows = rows[-limit:]
        return [wire.agg_trade_row(self.ex, symbol, t) for t in rows]

    def _interval(self, p: Params) -> str:
        interval = p.get("interval") or ""
        if not interval:
            raise e.mandatory("interval")
        if interval not in INTERVALS:
            raise e.err(e.INVALID_INTERVAL)
        return interval

    def _candles(self, symbol: str, p: Params, *, volumes: bool = True) -> list[list[object]]:
        interval = self._interval(p)
        start, end = _window(p)
        limit = _limit(p, 500, 1500)
        now = self.ex.clock()
        rows = self.server.history(symbol).candles(interval, start, end, limit, now)
        return [wire.kline_row(self.ex, symbol, c, bucket_end(c.t, interval), volumes=volumes) for c in rows]

    def klines(self, p: Params) -> list[list[object]]:
        return self._candles(self._symbol(p), p)

    def continuous_klines(self, p: Params) -> list[list[object]]:
        pair = self._symbol(p, "pair")
        contract = p.get("contractType") or ""
        if not contract:
            raise e.mandatory("contractType")
        if contract != "PERPETUAL":
            raise BinanceCodeError(-4104, "Invalid contract type")
        return self._candles(pair, p)

    def mark_klines(self, p: Params) -> list[list[object]]:
        return self._candles(self._symbol(p), p, volumes=False)

    def index_klines(self, p: Params) -> list[list[object]]:
        return self._candles(self._symbol(p, "pair"), p, volumes=False)

    def premium_klines(self, p: Params) -> list[list[object]]:
        symbol = self._symbol(p)
        rows = self._candles(symbol, p, volumes=False)
        zero = "0.00000000"
        return [[r[0], zero, zero, zero, zero, "0", r[6], "0", 0, "0", "0", "0"] for r in rows]

    def premium_index(self, p: Params) -> w.PremiumIndex | list[w.PremiumIndex]:
        if p.get("symbol"):
            return wire.premium_index(self.ex, self._symbol(p))
        return [wire.premium_index(self.ex, s) for s in self.ex.markets]

    def funding_rate(self, p: Params) -> list[w.FundingRateRow]:
        symbols = [self._symbol(p)] if p.get("symbol") else list(self.ex.markets)
        start, end = _window(p)
        limit = _limit(p, 100, 1000)
        rows = []
        for symbol in symbols:
            spec = self.ex.specs[symbol]
            for row in self.server.funding_history(symbol):
                if (start is None or row.time >= start) and (end is None or row.time <= end):
                    rows.append(w.FundingRateRow(symbol=symbol, fundingRate=fixed(row.rate, 8), fundingTime=row.time,
                                                 markPrice=fixed(row.mark, max(8, spec.price_precision)),
                                                 rateType=row.rate_type))
        rows.sort(key=lambda r: (r.fundingTime, r.symbol))
        return rows[:limit] if start is not None else rows[-limit:]

    def funding_info(self, p: Params) -> list[w.FundingInfo]:
        out = []
        for symbol, state in self.ex.funding.items():
            if state.interval_hours != 8:  # Binance lists only symbols whose funding was adjusted
                out.append(w.FundingInfo(symbol=symbol, adjustedFundingRateCap=fixed(state.cap, 8),
                                         adjustedFundingRateFloor=fixed(-state.cap, 8),
                                         fundingIntervalHours=state.interval_hours, disclaimer=False))
        return out

    def ticker_24h(self, p: Params) -> w.Ticker24h | list[w.Ticker24h]:
        if p.get("symbol"):
            return self.server.ticker(self._symbol(p))
        return [self.server.ticker(s) for s in self.ex.markets]

    def ticker_price(self, p: Params) -> w.TickerPrice | list[w.TickerPrice]:
        def one(symbol: str) -> w.TickerPrice:
            m = self.ex.markets[symbol]
            return w.TickerPrice(symbol=symbol, price=fixed(m.last, self.ex.specs[symbol].price_precision),
                                 time=self.ex.clock())

        if p.get("symbol"):
            return one(self._symbol(p))
        return [one(s) for s in self.ex.markets]

    def book_ticker(self, p: Params) -> w.BookTickerRest | list[w.BookTickerRest]:
        if p.get("symbol"):
            return self.server.book_ticker(self._symbol(p))
        return [self.server.book_ticker(s) for s in self.ex.markets]

    def open_interest(self, p: Params) -> w.OpenInterest:
        symbol = self._symbol(p)
        return w.OpenInterest(openInterest=fixed(self.server.open_interest(symbol),
                                                 self.ex.specs[symbol].quantity_precision),
                              symbol=symbol, time=self.ex.clock())

    # -- orders ---------------------------------------------------------------------------------------
    def new_order(self, p: Params) -> w.NewOrderResponse:
        ack, final = self.ex.place_order(p)
        return wire.new_order_response(self.ex, final if p.get("newOrderRespType") == "RESULT" else ack)

    def test_order(self, p: Params) -> w.NewOrderResponse:
        return wire.new_order_response(self.ex, self.ex.test_order(p))

    def modify_order(self, p: Params) -> w.NewOrderResponse:
        return wire.new_order_response(self.ex, self.ex.modify_order(p))

    def cancel_order(self, p: Params) -> w.NewOrderResponse:
        if not p.get("symbol"):
            raise e.mandatory("symbol")
        order = self.ex.cancel_order(p["symbol"], p.get("orderId"), p.get("origClientOrderId"))
        return wire.new_order_response(self.ex, order)

    def _each(self, items: list[Any], call: Callable[[Params], Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            try:
                out.append(call(_as_params(item)))
            except BinanceCodeError as exc:
                out.append(w.BinanceError(code=exc.code, msg=exc.msg))
        return out

    def batch_new(self, p: Params) -> list[Any]:
        items = _json_list(p, "batchOrders")
        if not 1 <= len(items) <= 5:
            raise e.batch_size(len(items))
        return self._each(items, self.new_order)

    def batch_modify(self, p: Params) -> list[Any]:
        items = _json_list(p, "batchOrders")
        if not 1 <= len(items) <= 5:
            raise e.batch_size(len(items))
        return self._each(items, self.modify_order)

    def batch_cancel(self, p: Params) -> list[Any]:
        symbol = self._symbol(p)
        if p.get("orderIdList"):
            ids = [("orderId", str(i)) for i in _json_list(p, "orderIdList")]
        elif p.get("origClientOrderIdList"):
            ids = [("origClientOrderId", str(i)) for i in _json_list(p, "origClientOrderIdList")]
        else:
            raise e.either("orderIdList", "origClientOrderIdList")
        if len(ids) > 10:
            raise BinanceCodeError(-4032, "Exceed maximum cancel order size.")
        return self._each([{"symbol": symbol, name: value} for name, value in ids], self.cancel_order)

    def query_order(self, p: Params) -> w.Order:
        return wire.order(self.ex, self.ex.find_order(self._symbol(p), p.get("orderId"), p.get("origClientOrderId")))

    def query_open_order(self, p: Params) -> w.Order:
        order = self.ex.find_order(self._symbol(p), p.get("orderId"), p.get("origClientOrderId"))
        if not order.is_open:
            raise e.no_such_order()
        return wire.order(self.ex, order)

    def open_orders(self, p: Params) -> list[w.Order]:
        symbol = self._symbol(p) if p.get("symbol") else None
        return [wire.order(self.ex, o) for o in self.ex.open_orders(symbol)]

    def all_orders(self, p: Params) -> list[w.Order]:
        symbol = self._symbol(p) if p.get("symbol") else None
        from_id = _opt_int(p, "orderId")
        rows = [o for o in self.ex.account.orders.values()
                if (symbol is None or o.symbol == symbol) and (from_id is None or o.order_id >= from_id)
                and _in_window(o.time, p) and not o.liquidation]
        limit = _limit(p, 500, 1000)
        rows = rows[:limit] if from_id is not None else rows[-limit:]
        return [wire.order(self.ex, o) for o in rows]

    def cancel_all(self, p: Params) -> w.CodeMsg:
        self.ex.cancel_all(self._symbol(p))
        return w.CodeMsg(code=200, msg="The operation of cancel all open order is done.")

    def countdown(self, p: Params) -> w.Countdown:
        symbol = self._symbol(p)
        value = _opt_int(p, "countdownTime")
        if value is None:
            raise e.mandatory("countdownTime")
        self.ex.countdown(symbol, value)
        return w.Countdown(symbol=symbol, countdownTime=str(value))

    def order_amendments(self, p: Params) -> list[w.OrderAmendment]:
        symbol = self._symbol(p)
        order_id, client_id = p.get("orderId"), p.get("origClientOrderId")
        if not order_id and not client_id:
            raise e.either("orderId", "origClientOrderId")
        order = self.ex.find_order(symbol, order_id, client_id)
        rows = [a for a in self.ex.account.amendments if a.order_id == order.order_id and _in_window(a.time, p)]
        return [wire.amendment(self.ex, a) for a in rows[-_limit(p, 50, 100):]]

    def user_trades(self, p: Params) -> list[w.UserTrade]:
        symbol = self._symbol(p)
        order_id, from_id = _opt_int(p, "orderId"), _opt_int(p, "fromId")
        if from_id is not None and (p.get("startTime") or p.get("endTime")):
            raise e.err(e.COMBINATION)
        rows = [t for t in self.ex.account.trades
                if t.symbol == symbol and (order_id is None or t.order_id == order_id)
                and (from_id is None or t.trade_id >= from_id) and _in_window(t.time, p)]
        limit = _limit(p, 500, 1000)
        rows = rows[:limit] if from_id is not None else rows[-limit:]
        return [wire.user_trade(self.ex, t) for t in rows]

    def force_orders(self, p: Params) -> list[w.ForceOrder]:
        symbol = self._symbol(p) if p.get("symbol") else None
        kind = p.get("autoCloseType")
        if kind not in (None, "", "LIQUIDATION", "ADL"):
            raise e.invalid("autoCloseType")
        rows = [self.ex.account.orders[i] for i in self.ex.account.force_orders if i in self.ex.account.orders]
        rows = [o for o in rows if (symbol is None or o.symbol == symbol) and kind != "ADL" and _in_window(o.time, p)]
        return [wire.force_order(self.ex, o) for o in rows[-_limit(p, 50, 100):]]

    # -- positions, account, configuration --------------------------------------------------------------
    def _positions(self, p: Params, *, v3: bool) -> list[Any]:
        symbol = self._symbol(p) if p.get("symbol") else None
        out = []
        for pos in self.ex.positions():
            if symbol is not None and pos.symbol != symbol:
                continue
            if v3 and pos.amount == 0 and not self.ex.open_orders(pos.symbol):
                continue  # v3 lists only symbols with a position or open orders
            out.append(wire.position_v3(self.ex, pos) if v3 else wire.position_v2(self.ex, pos))
        return out

    def position_risk_v1(self, p: Params) -> Any:
        raise BinanceCodeError(-5000, "GET /fapi/v1/positionRisk is retired, please use GET /fapi/v2/positionRisk")

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

    def leverage_bracket(self, p: Params) -> w.LeverageBrackets | list[w.LeverageBrackets]:
        def one(symbol: str) -> w.LeverageBrackets:
            rows = self.ex.specs[symbol].brackets
            return w.LeverageBrackets(symbol=symbol, brackets=[w.LeverageBracketRow(**b.wire()) for b in rows])

        if p.get("symbol"):
            return one(self._symbol(p))
        return [one(s) for s in self.ex.markets]

    def set_leverage(self, p: Params) -> w.LeverageChange:
        symbol = self._symbol(p)
        raw = p.get("leverage") or ""
        if not raw:
            raise e.mandatory("leverage")
        leverage, cap = self.ex.set_leverage(symbol, raw)
        return w.LeverageChange(leverage=leverage, maxNotionalValue=to_str(cap), symbol=symbol)

    def set_margin_type(self, p: Params) -> w.CodeMsg:
        symbol = self._symbol(p)
        kind = p.get("marginType") or ""
        if not kind:
            raise e.mandatory("marginType")
        self.ex.set_margin_type(symbol, kind)
        return w.CodeMsg(code=200, msg="success")

    def position_margin(self, p: Params) -> Any:
        self._symbol(p)
        raise e.err(e.ISOLATED_ONLY)

    def symbol_config(self, p: Params) -> list[w.SymbolConfig]:
        symbols = [self._symbol(p)] if p.get("symbol") else list(self.ex.markets)
        return [w.SymbolConfig(symbol=s, marginType="CROSSED", isAutoAddMargin=False,
                               leverage=self.ex.risk.leverage(s), maxNotionalValue=to_str(self.ex.risk.max_notional(s)))
                for s in symbols]

    def account_config(self, p: Params) -> w.AccountConfig:
        account = self.ex.account
        return w.AccountConfig(feeTier=0, canTrade=True, canDeposit=True, canWithdraw=True,
                               dualSidePosition=account.dual_side, updateTime=account.config_time,
                               multiAssetsMargin=account.multi_assets, tradeGroupId=-1)

    def get_multi_assets(self, p: Params) -> w.MultiAssetsMode:
        return w.MultiAssetsMode(multiAssetsMargin=self.ex.account.multi_assets)

    def set_multi_assets(self, p: Params) -> w.CodeMsg:
        if not p.get("multiAssetsMargin"):
            raise e.mandatory("multiAssetsMargin")
        self.ex.set_multi_assets(boolean(p, "multiAssetsMargin"))
        return w.CodeMsg(code=200, msg="success")

    def commission_rate(self, p: Params) -> w.CommissionRate:
        symbol = self._symbol(p)
        config = self.ex.config
        return w.CommissionRate(symbol=symbol, makerCommissionRate=to_str(config.maker_fee),
                                takerCommissionRate=to_str(config.taker_fee), rpiCommissionRate="0")

    def adl_quantile(self, p: Params) -> list[w.AdlQuantile]:
        symbol = self._symbol(p) if p.get("symbol") else None
        out = []
        for s in self.ex.markets:
            if symbol is not None and s != symbol:
                continue
            if self.ex.account.dual_side:
                long, short = self.ex.position(s, "LONG"), self.ex.position(s, "SHORT")
                if long.amount == 0 and short.amount == 0:
                    continue
                out.append(w.AdlQuantile(symbol=s, adlQuantile={
                    "LONG": self.ex.risk.adl_quantile(long), "SHORT": self.ex.risk.adl_quantile(short), "HEDGE": 0}))
            else:
                both = self.ex.position(s, "BOTH")
                if both.amount == 0:
                    continue
                out.append(w.AdlQuantile(symbol=s, adlQuantile={
                    "LONG": 0, "SHORT": 0, "BOTH": self.ex.risk.adl_quantile(both)}))
        return out

    def rate_limit_order(self, p: Params) -> list[w.RateLimit]:
        limits = self.ex.config.rate_limits
        return [w.RateLimit(rateLimitType="ORDERS", interval="SECOND", intervalNum=10, limit=limits.orders_per_10s),
                w.RateLimit(rateLimitType="ORDERS", interval="MINUTE", intervalNum=1,
                            limit=limits.orders_per_minute)]

    def trading_status(self, p: Params) -> dict[str, Any]:
        if p.get("symbol"):
            self._symbol(p)
        return {"indicators": {}, "updateTime": self.ex.clock()}

    def income(self, p: Params) -> list[w.IncomeRow]:
        symbol = self._symbol(p) if p.get("symbol") else None
        kind = p.get("incomeType") or None
        start, end = _window(p)
        if start is None and end is None:
            start = self.ex.clock() - 7 * DAY_MS
        rows = [r for r in self.ex.account.income
                if (symbol is None or r.symbol == symbol) and (kind is None or r.income_type == kind)
                and (start is None or r.time >= start) and (end is None or r.time <= end)]
        limit = _limit(p, 100, 1000)
        page = _opt_int(p, "page")
        if page is not None and page > 1:
            rows = rows[(page - 1) * limit:]
        rows = rows[:limit] if p.get("startTime") or page else rows[-limit:]
        return [wire.income_row(r) for r in rows]

    # -- listenKey ------------------------------------------------------------------------------------
    def new_listen_key(self, p: Params) -> w.ListenKey:
        return w.ListenKey(listenKey=self.server.streams.create_key())

    def keepalive_listen_key(self, p: Params) -> w.ListenKey:
        key = self.server.streams.keepalive(p.get("listenKey") or None)
        if key is None:
            raise e.err(e.LISTEN_KEY)
        return w.ListenKey(listenKey=key)

    def close_listen_key(self, p: Params) -> dict[str, Any]:
        self.server.streams.close_key(p.get("listenKey") or None)
        return {}

    # -- algo orders ----------------------------------------------------------------------------------
    def new_algo(self, p: Params) -> w.AlgoOrderResponse:
        return wire.algo_response(self.ex, self.ex.place_algo(p))

    def cancel_algo(self, p: Params) -> w.AlgoCancelResponse:
        algo = self.ex.cancel_algo(p.get("algoId"), p.get("clientAlgoId"))
        return w.AlgoCancelResponse(algoId=algo.algo_id, clientAlgoId=algo.client_algo_id, code="200",
                                    msg="success")

    def query_algo(self, p: Params) -> w.AlgoOrder:
        return wire.algo_order(self.ex, self.ex.find_algo(p.get("algoId"), p.get("clientAlgoId")))

    def open_algos(self, p: Params) -> list[w.AlgoOrder]:
        symbol = self._symbol(p) if p.get("symbol") else None
        return [wire.algo_order(self.ex, a) for a in self.ex.open_algos(symbol)]

    def all_algos(self, p: Params) -> list[w.AlgoOrder]:
        symbol = self._symbol(p)
        from_id = _opt_int(p, "algoId")
        rows = [a for a in self.ex.account.algos.values()
                if a.symbol == symbol and (from_id is None or a.algo_id >= from_id) and _in_window(a.create_time, p)]
        limit = _limit(p, 500, 1000)
        rows = rows[:limit] if from_id is not None else rows[-limit:]
        return [wire.algo_order(self.ex, a) for a in rows]

    def cancel_all_algos(self, p: Params) -> w.CodeMsg:
        self.ex.cancel_all_algos(self._symbol(p))
        return w.CodeMsg(code=200, msg="The operation of cancel all open order is done.")


__all__ = ["BinanceApi", "Endpoint"]
