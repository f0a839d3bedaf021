"""The simulated USDT-M account: order entry rules, matching and accounting, the Binance way.

Problem: the terminal must trade against something that behaves like Binance in Hedge Mode, offline.
Rules (reference/binance-usdm.md §2, §3, §7):

- Hedge Mode: BUY+LONG / SELL+SHORT open, SELL+LONG / BUY+SHORT close. ``positionSide`` is required
  (-4061), ``reduceOnly`` is refused whatever its value (-1106), a closing order larger than the side less
  the other open regular closing orders is refused (-2022). Untriggered algo orders do not count; an algo
  order that no longer fits when it triggers is cancelled through ALGO_UPDATE (``rm`` "Reduce Only reject").
- Matching: MARKET fills at last (taker). LIMIT fills at once at last (taker) when marketable on arrival,
  else rests and fills at its own price (maker) when last crosses it. IOC/FOK that cannot fill expire;
  GTX that would take is refused (-5022). A liquidity cap splits fills into chunks of at most
  ``max_fill_qty``: all chunks at once for a taker, one chunk per price update for a resting order.
- Accounting per side: entry = weighted average cost of the side; a closing fill realizes
  ``rp = qty * (price - entry) * d`` (d = +1 LONG, -1 SHORT), the entry stays; commission =
  ``qty * price * fee`` (maker or taker) is taken from the wallet separately; funding =
  ``-d * amount * mark * rate`` per side, summed per symbol (longs pay a positive rate).
- Money (rp, commission, funding, unrealized) is rounded half-up to 8 decimals, as Binance shows it;
  prices and quantities are exact.

Worked example (BTCUSDT, taker 0.05 %, maker 0.02 %): BUY+LONG 0.010 MARKET at 95000 → entry 95000,
commission 0.475; BUY+LONG 0.010 at 96000 → entry 95500; SELL+LONG 0.005 LIMIT filled at 97000 as maker →
rp 0.005 × (97000 − 95500) = 7.5, commission 0.097; wallet 10000 − 0.475 − 0.48 + 7.5 − 0.097 = 10006.448.

The exchange is synchronous and single-threaded: the server calls it from its event loop, and it reports
user events and trades through the ``on_user_event`` / ``on_trade`` callbacks.
"""

from __future__ import annotations

import dataclasses
import random
import re
import string
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

import msgspec

from hedgestack.domain.enums import OrderType, Side
from hedgestack.domain.errors import FilterViolation, ValidationError
from hedgestack.domain.filters import SymbolFilters
from hedgestack.domain.numbers import ZERO, D
from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim import errors as e
from hedgestack.venue.sim.config import SimConfig, SymbolSpec
from hedgestack.venue.sim.errors import BinanceCodeError
from hedgestack.venue.sim.state import (
    AccountState,
    Counters,
    SimAlgo,
    SimIncome,
    SimMarket,
    SimOrder,
    SimPosition,
    SimTrade,
    Snapshot,
)

CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
EIGHT = Decimal("0.00000001")
REGULAR_TYPES = frozenset({"LIMIT", "MARKET"})
CONDITIONAL_TYPES = frozenset({"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                               "TRAILING_STOP_MARKET"})
ALL_TYPES = REGULAR_TYPES | CONDITIONAL_TYPES
TIFS = frozenset({"GTC", "IOC", "FOK", "GTX", "GTD"})
STP_MODE = "EXPIRE_MAKER"

UserSink = Callable[[msgspec.Struct], None]
TradeSink = Callable[[str, Decimal, Decimal, bool, int], None]


def money(value: Decimal) -> Decimal:
    """Round a money amount half-up to 8 decimals."""
    return value.quantize(EIGHT, rounding=ROUND_HALF_UP)


def fixed(value: Decimal, places: int) -> str:
    """Render with at least ``places`` decimals, never dropping a significant digit."""
    if value == 0:
        value = ZERO
    exponent = value.normalize().as_tuple().exponent
    digits = max(places, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return f"{value:.{digits}f}"


def closing_side(position_side: str) -> str:
    return "SELL" if position_side == "LONG" else "BUY"


def side_sign(position_side: str) -> int:
    return 1 if position_side == "LONG" else -1


class Exchange:
    """One simulated USDT-M Futures account with its matching engine and Algo Service."""

    def __init__(self, config: SimConfig, *, clock: Callable[[], int]) -> None:
        self.config = config
        self.clock = clock
        self.last_funding_time = 0  # time of the last settlement (the control API answers with it)
        self.specs: dict[str, SymbolSpec] = {s.symbol: s for s in config.symbols}
        self.filters: dict[str, SymbolFilters] = {
            s.symbol: SymbolFilters.from_exchange_info(s.exchange_info()) for s in config.symbols}
        self.counters = Counters()
        self.account = AccountState(wallet=config.starting_balance)
        now = clock()
        self.markets: dict[str, SimMarket] = {}
        for spec in config.symbols:
            price = config.start_price(spec)
            self.markets[spec.symbol] = SimMarket(
                symbol=spec.symbol, last=price, mark=price, index=price, funding_rate=config.funding_rate,
                next_funding_time=_next_funding(now, config.funding_interval_ms),
                max_fill_qty=config.liquidity.get(spec.symbol))
        self._ids = random.Random(config.seed)
        self.on_user_event: UserSink = lambda event: None
        self.on_trade: TradeSink = lambda symbol, price, qty, buyer_maker, ts: None
        self.on_mark: Callable[[str], None] = lambda symbol: None
        self.on_change: Callable[[], None] = lambda: None

    # == persistence ============================================================================
    def snapshot(self) -> Snapshot:
        return Snapshot(account=self.account, counters=self.counters, markets=self.markets)

    def restore(self, snap: Snapshot) -> None:
        self.account = snap.account
        self.counters = snap.counters
        for symbol, market in snap.markets.items():
            if symbol in self.markets:
                self.markets[symbol] = market

    def reset(self) -> None:
        """Start over: a fresh account in Hedge Mode; ids keep counting, prices stay."""
        self.account = AccountState(wallet=self.config.starting_balance)
        self.on_change()

    # == helpers ================================================================================
    def market(self, symbol: str | None) -> SimMarket:
        if not symbol or symbol not in self.markets:
            raise e.bad_symbol()
        return self.markets[symbol]

    def position(self, symbol: str, position_side: str) -> SimPosition:
        key = f"{symbol}:{position_side}"
        pos = self.account.positions.get(key)
        if pos is None:
            pos = SimPosition(symbol=symbol, position_side=position_side)
            self.account.positions[key] = pos
        return pos

    def positions(self) -> list[SimPosition]:
        """Both sides of every symbol (or BOTH in one-way mode), in symbol order."""
        sides = ("LONG", "SHORT") if self.account.dual_side else ("BOTH",)
        return [self.position(symbol, ps) for symbol in self.markets for ps in sides]

    def unrealized(self, pos: SimPosition) -> Decimal:
        if pos.amount == 0:
            return ZERO
        mark = self.markets[pos.symbol].mark
        return money(pos.amount * (mark - pos.entry_price) * side_sign(pos.position_side))

    def total_unrealized(self) -> Decimal:
        return sum((self.unrealized(p) for p in self.account.positions.values()), ZERO)

    def position_margin(self) -> Decimal:
        lev = Decimal(self.config.leverage)
        return sum((p.amount * self.markets[p.symbol].mark / lev for p in self.account.positions.values()),
                   ZERO)

    def open_order_margin(self) -> Decimal:
        lev = Decimal(self.config.leverage)
        total = ZERO
        for order in self.open_orders():
            if order.side != closing_side(order.position_side):
                total += order.remaining * order.price / lev
        return total

    def available_balance(self) -> Decimal:
        return money(self.account.wallet + self.total_unrealized() - self.position_margin()
                     - self.open_order_margin())

    def open_orders(self, symbol: str | None = None) -> list[SimOrder]:
        return [o for o in self.account.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)]

    def open_algos(self, symbol: str | None = None) -> list[SimAlgo]:
        return [a for a in self.account.algos.values() if a.is_open and (symbol is None or a.symbol == symbol)]

    def closing_room(self, symbol: str, position_side: str, exclude: int | None = None) -> Decimal:
        """The side's amount less the remaining quantity of its other open regular closing orders."""
        pos = self.position(symbol, position_side)
        pending = sum((o.remaining for o in self.open_orders(symbol)
                       if o.position_side == position_side and o.side == closing_side(position_side)
                       and o.order_id != exclude), ZERO)
        return pos.amount - pending

    def _new_client_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "".join(self._ids.choice(alphabet) for _ in range(22))

    def _next(self, name: str) -> int:
        value = getattr(self.counters, name) + 1
        setattr(self.counters, name, value)
        return value

    def find_order(self, symbol: str, order_id: str | None, client_id: str | None) -> SimOrder:
        """Find by orderId or origClientOrderId (the latest order with that id); -2013 if none."""
        self.market(symbol)
        if order_id:
            order = self.account.orders.get(_int(order_id, "orderId"))
            if order is None or order.symbol != symbol:
                raise e.no_such_order()
            return order
        if client_id:
            for order in reversed(list(self.account.orders.values())):
                if order.client_order_id == client_id and order.symbol == symbol:
                    return order
            raise e.no_such_order()
        raise e.mandatory("orderId")

    def find_algo(self, algo_id: str | None, client_id: str | None) -> SimAlgo:
        if algo_id:
            algo = self.account.algos.get(_int(algo_id, "algoId"))
            if algo is None:
                raise e.no_such_order()
            return algo
        if client_id:
            for algo in reversed(list(self.account.algos.values())):
                if algo.client_algo_id == client_id:
                    return algo
            raise e.no_such_order()
        raise e.mandatory("algoId")

    # == position mode ==========================================================================
    def set_dual_side(self, dual: bool) -> None:
        if dual == self.account.dual_side:
            raise BinanceCodeError(-4059, "No need to change position side.")
        if self.open_orders() or self.open_algos():
            raise BinanceCodeError(-4067, "Position side cannot be changed if there exists open orders.")
        if any(p.amount for p in self.account.positions.values()):
            raise BinanceCodeError(-4068, "Position side cannot be changed if there exists position.")
        self.account.dual_side = dual
        self.on_change()

    # == regular orders =========================================================================
    def _check_common(self, params: Mapping[str, str], *, algo: bool) -> tuple[str, str, str, str]:
        symbol = params.get("symbol")
        self.market(symbol)
        assert symbol is not None
        side = params.get("side", "")
        if not side:
            raise e.mandatory("side")
        if side not in ("BUY", "SELL"):
            raise BinanceCodeError(-1117, "Invalid side.")
        otype = params.get("type", "")
        if not otype:
            raise e.mandatory("type")
        if otype not in ALL_TYPES:
            raise BinanceCodeError(-1116, "Invalid orderType.")
        if not algo and otype in CONDITIONAL_TYPES:
            raise e.err(e.STOP_ORDER_SWITCH_ALGO)
        if algo and otype not in CONDITIONAL_TYPES:
            raise BinanceCodeError(-1116, "Invalid orderType.")
        ps = params.get("positionSide", "BOTH") or "BOTH"
        if ps not in ("BOTH", "LONG", "SHORT"):
            raise BinanceCodeError(-4060, "Invalid position side.")
        if self.account.dual_side:
            if ps == "BOTH":
                raise e.err(e.POSITION_SIDE_NOT_MATCH)
            if "reduceOnly" in params:
                raise BinanceCodeError(-1106, "Parameter 'reduceonly' sent when not required.")
        elif ps != "BOTH":
            raise e.err(e.POSITION_SIDE_NOT_MATCH)
        return symbol, side, otype, ps

    def _check_client_id(self, client_id: str) -> None:
        if len(client_id) > 36:
            raise e.err(e.CLIENT_ID_TOO_LONG)
        if not CLIENT_ID_RE.match(client_id):
            raise e.err(e.INVALID_CLIENT_ID)
        if any(o.client_order_id == client_id for o in self.open_orders()) or any(
                a.client_algo_id == client_id for a in self.open_algos()):
            raise e.err(e.DUPLICATED_CLIENT_ID)

    def _reduces(self, side: str, ps: str, reduce_only: bool = False) -> bool:
        if ps == "BOTH":
            return reduce_only
        return side == closing_side(ps)

    def _check_filters(self, symbol: str, side: str, otype: str, qty: Decimal, price: Decimal | None,
                       trigger: Decimal | None, reduces: bool) -> None:
        market = self.markets[symbol]
        try:
            self.filters[symbol].check_order(
                side=Side(side), order_type=OrderType(otype), qty=qty, price=price, trigger_price=trigger,
                mark=market.mark, reduces=reduces)
        except FilterViolation as exc:
            raise BinanceCodeError.from_filter(exc) from None

    def _check_fits(self, symbol: str, side: str, ps: str, qty: Decimal, exclude: int | None = None) -> None:
        """-2022 for a closing order larger than what the side has left to close."""
        if ps != "BOTH" and side == closing_side(ps) and qty > self.closing_room(symbol, ps, exclude):
            raise e.err(e.REDUCE_ONLY_REJECT)

    def _check_margin(self, symbol: str, side: str, ps: str, qty: Decimal, price: Decimal) -> None:
        if ps != "BOTH" and side == closing_side(ps):
            return
        need = qty * price / Decimal(self.config.leverage)
        if need > self.available_balance():
            raise e.err(e.MARGIN_INSUFFICIENT)

    def place_order(self, params: Mapping[str, str], *, external: bool = False) -> tuple[SimOrder, SimOrder]:
        """Validate and place a regular order; return (snapshot at acceptance, state after matching)."""
        symbol, side, otype, ps = self._check_common(params, algo=False)
        client_id = params.get("newClientOrderId") or params.get("clientOrderId") or ""
        if client_id:
            self._check_client_id(client_id)
        else:
            client_id = self._new_client_id()
        qty = _decimal(params, "quantity")
        if qty is None:
            raise e.mandatory("quantity")
        price: Decimal | None = None
        tif = "GTC"
        market = self.markets[symbol]
        if otype == "LIMIT":
            tif = params.get("timeInForce", "")
            if not tif:
                raise e.mandatory("timeInForce")
            if tif not in TIFS:
                raise BinanceCodeError(-1115, "Invalid timeInForce.")
            price = _decimal(params, "price")
            if price is None:
                raise e.mandatory("price")
        elif params.get("price"):
            raise e.not_required("price")
        reduces = self._reduces(side, ps)
        self._check_filters(symbol, side, otype, qty, price, None, reduces)
        self._check_fits(symbol, side, ps, qty)
        marketable = otype == "MARKET" or _crosses(side, price or ZERO, market.last)
        if otype == "LIMIT" and tif == "GTX" and marketable:
            raise e.err(e.GTX_REJECT)
        self._check_margin(symbol, side, ps, qty, market.last if marketable else (price or market.last))
        now = self.clock()
        order = SimOrder(
            order_id=self._next("order_id"), client_order_id=client_id, symbol=symbol, side=side,
            position_side=ps, type=otype, orig_type=otype, time_in_force=tif, qty=qty, price=price or ZERO,
            stop_price=ZERO, working_type="CONTRACT_PRICE", status="NEW", time=now, update_time=now)
        self.account.orders[order.order_id] = order
        ack = _copy(order)
        self._emit_order(order, "NEW")
        self._execute_arrival(order)
        self.on_change()
        return ack, order

    def _execute_arrival(self, order: SimOrder) -> None:
        """Fill a new (or just-triggered) order as taker if it can, else rest or expire it."""
        market = self.markets[order.symbol]
        if order.type == "MARKET" or _crosses(order.side, order.price, market.last):
            self._fill_chunks(order, market.last, maker=False, all_chunks=True)
            return
        if order.time_in_force in ("IOC", "FOK"):
            self._finish(order, "EXPIRED", reason="2")

    def _fill_chunks(self, order: SimOrder, price: Decimal, *, maker: bool, all_chunks: bool) -> None:
        cap = self.markets[order.symbol].max_fill_qty
        while order.is_open and order.remaining > 0:
            chunk = order.remaining if cap is None else min(cap, order.remaining)
            self._fill(order, chunk, price, maker=maker)
            if not all_chunks:
                break

    def _fill(self, order: SimOrder, qty: Decimal, price: Decimal, *, maker: bool) -> None:
        """Apply one fill: position, wallet, trade and income rows, then the two events."""
        now = self.clock()
        ps = order.position_side
        pos = self.position(order.symbol, ps)
        rp = ZERO
        if ps == "BOTH":
            rp = self._apply_one_way(pos, order.side, qty, price)
        elif order.side == closing_side(ps):
            rp = money(qty * (price - pos.entry_price) * side_sign(ps))
            pos.amount -= qty
            pos.realized += rp
            if pos.amount == 0:
                pos.entry_price = ZERO
        else:
            pos.entry_price = (pos.amount * pos.entry_price + qty * price) / (pos.amount + qty)
            pos.amount += qty
        pos.update_time = now
        fee = money(qty * price * (self.config.maker_fee if maker else self.config.taker_fee))
        self.account.wallet += rp - fee
        trade = SimTrade(trade_id=self._next("trade_id"), order_id=order.order_id,
                         client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
                         position_side=ps, price=price, qty=qty, realized_pnl=rp, commission=fee, maker=maker,
                         time=now)
        self.account.trades.append(trade)
        if rp != 0:
            self._income(order.symbol, "REALIZED_PNL", rp, now, str(trade.trade_id))
        if fee != 0:
            self._income(order.symbol, "COMMISSION", -fee, now, str(trade.trade_id))
        order.executed += qty
        order.cum_quote += qty * price
        order.update_time = now
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        self._emit_order(order, "TRADE", trade=trade)
        self._emit_account("ORDER", [pos], now)
        self.on_trade(order.symbol, price, qty, order.side == "SELL", now)
        if order.status == "FILLED":
            self._order_done(order)

    def _apply_one_way(self, pos: SimPosition, side: str, qty: Decimal, price: Decimal) -> Decimal:
        """One-way (BOTH) position: signed amount in ``amount``; a fill past zero flips the position."""
        signed = qty if side == "BUY" else -qty
        rp = ZERO
        if pos.amount == 0 or (pos.amount > 0) == (signed > 0):
            total = abs(pos.amount) + qty
            pos.entry_price = (abs(pos.amount) * pos.entry_price + qty * price) / total
            pos.amount += signed
            return rp
        closed = min(qty, abs(pos.amount))
        direction = 1 if pos.amount > 0 else -1
        rp = money(closed * (price - pos.entry_price) * direction)
        pos.realized += rp
        pos.amount += signed
        if pos.amount == 0:
            pos.entry_price = ZERO
        elif (pos.amount > 0) != (direction > 0):
            pos.entry_price = price
        return rp

    def _income(self, symbol: str, kind: str, amount: Decimal, now: int, trade_id: str) -> None:
        self.account.income.append(SimIncome(symbol=symbol, income_type=kind, income=amount, time=now,
                                             tran_id=self._next("tran_id"), trade_id=trade_id, info=kind))

    def _finish(self, order: SimOrder, status: str, reason: str = "0") -> None:
        order.status = status
        order.expire_reason = reason
        order.update_time = self.clock()
        self._emit_order(order, "EXPIRED" if status == "EXPIRED" else status)
        self._order_done(order)

    def _order_done(self, order: SimOrder) -> None:
        """A child order reached a final state: its algo order is FINISHED."""
        if order.algo_id is None:
            return
        algo = self.account.algos.get(order.algo_id)
        if algo is not None and algo.status == "TRIGGERED":
            algo.status = "FINISHED"
            algo.update_time = self.clock()
            self._emit_algo(algo, child=order)

    def cancel_order(self, symbol: str, order_id: str | None, client_id: str | None) -> SimOrder:
        try:
            order = self.find_order(symbol, order_id, client_id)
        except BinanceCodeError as exc:
            if exc.code == -2013:
                raise e.unknown_order() from None
            raise
        if not order.is_open:
            raise e.unknown_order()
        self._finish(order, "CANCELED")
        self.on_change()
        return order

    def cancel_all(self, symbol: str) -> None:
        self.market(symbol)
        for order in self.open_orders(symbol):
            self._finish(order, "CANCELED")
        self.on_change()

    # == algo orders ============================================================================
    def place_algo(self, params: Mapping[str, str]) -> SimAlgo:
        """Validate and accept a conditional order (New Algo Order)."""
        algo_type = params.get("algoType", "")
        if not algo_type:
            raise e.mandatory("algoType")
        if algo_type != "CONDITIONAL":
            raise BinanceCodeError(-1116, "Invalid algoType.")
        symbol, side, otype, ps = self._check_common(params, algo=True)
        client_id = params.get("clientAlgoId") or ""
        if client_id:
            self._check_client_id(client_id)
        else:
            client_id = self._new_client_id()
        tif = params.get("timeInForce") or "GTC"
        if tif not in TIFS:
            raise BinanceCodeError(-1115, "Invalid timeInForce.")
        working = params.get("workingType") or "CONTRACT_PRICE"
        if working not in ("CONTRACT_PRICE", "MARK_PRICE"):
            raise BinanceCodeError(-1102, "Invalid workingType.")
        close_position = _bool(params, "closePosition")
        qty = _decimal(params, "quantity")
        market = self.markets[symbol]
        if close_position:
            if qty is not None:
                raise BinanceCodeError(-4137, "Quantity must be zero with closePosition equals true")
            if otype not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
                raise e.not_required("closePosition")
            if ps != "BOTH" and side != closing_side(ps):
                raise e.err(e.REDUCE_ONLY_REJECT)
            qty = ZERO
        elif qty is None:
            raise e.mandatory("quantity")
        price = _decimal(params, "price")
        if otype in ("STOP", "TAKE_PROFIT"):
            if price is None:
                raise e.mandatory("price")
        elif price is not None and price != 0:
            raise e.not_required("price")
        trigger = _decimal(params, "triggerPrice")
        if trigger is None:
            trigger = _decimal(params, "stopPrice")
        activate: Decimal | None = None
        callback: Decimal | None = None
        reference = market.mark if working == "MARK_PRICE" else market.last
        if otype == "TRAILING_STOP_MARKET":
            callback = _decimal(params, "callbackRate")
            if callback is None:
                raise e.mandatory("callbackRate")
            if not Decimal("0.1") <= callback <= Decimal("20"):
                raise BinanceCodeError(-2007, "Invalid callBack rate.")
            activate = _decimal(params, "activatePrice") or _decimal(params, "activationPrice")
            if activate is not None:
                if (side == "BUY" and activate >= reference) or (side == "SELL" and activate <= reference):
                    raise e.err(e.WOULD_TRIGGER)
            trigger = ZERO
        elif trigger is None:
            raise e.mandatory("triggerPrice")
        reduces = self._reduces(side, ps)
        f = self.filters[symbol]
        try:
            if trigger:
                f.check_price(trigger, what="triggerPrice")
            if price is not None and price != 0:
                f.check_price(price)
            if not close_position:
                f.check_qty(qty, OrderType.MARKET if otype.endswith("MARKET") else OrderType.LIMIT)
                ref = price if price else (trigger or reference)
                if not reduces and f.min_notional and ref * qty < f.min_notional:
                    raise FilterViolation(
                        f"Order's notional must be no smaller than {f.min_notional} (unless you choose reduce "
                        "only)", binance_code=-4164)
        except FilterViolation as exc:
            raise BinanceCodeError.from_filter(exc) from None
        if otype != "TRAILING_STOP_MARKET" and _triggered(otype, side, trigger, reference):
            raise e.err(e.WOULD_TRIGGER)
        now = self.clock()
        algo = SimAlgo(
            algo_id=self._next("algo_id"), client_algo_id=client_id, symbol=symbol, side=side, position_side=ps,
            order_type=otype, time_in_force=tif, qty=qty, price=price or ZERO, trigger_price=trigger,
            working_type=working, status="NEW", create_time=now, update_time=now, close_position=close_position,
            price_protect=_bool(params, "priceProtect"), activate_price=activate, callback_rate=callback)
        if otype == "TRAILING_STOP_MARKET" and activate is None:
            algo.activated = True
            algo.extreme = reference
        self.account.algos[algo.algo_id] = algo
        self._emit_algo(algo)
        self.on_change()
        return algo

    def cancel_algo(self, algo_id: str | None, client_id: str | None) -> SimAlgo:
        try:
            algo = self.find_algo(algo_id, client_id)
        except BinanceCodeError as exc:
            if exc.code == -2013:
                raise e.unknown_order() from None
            raise
        if not algo.is_open:
            raise e.unknown_order()
        algo.status = "CANCELED"
        algo.update_time = self.clock()
        self._emit_algo(algo)
        self.on_change()
        return algo

    def cancel_all_algos(self, symbol: str) -> None:
        self.market(symbol)
        for algo in self.open_algos(symbol):
            algo.status = "CANCELED"
            algo.update_time = self.clock()
            self._emit_algo(algo)
        self.on_change()

    def _check_triggers(self, symbol: str) -> None:
        market = self.markets[symbol]
        for algo in sorted(self.open_algos(symbol), key=lambda a: a.algo_id):
            price = market.mark if algo.working_type == "MARK_PRICE" else market.last
            if algo.order_type == "TRAILING_STOP_MARKET":
                if not self._trail(algo, price):
                    continue
            elif not _triggered(algo.order_type, algo.side, algo.trigger_price, price):
                continue
            self._trigger(algo)

    def _trail(self, algo: SimAlgo, price: Decimal) -> bool:
        """Track the trailing extreme; True when the callback is reached."""
        buy = algo.side == "BUY"
        if not algo.activated:
            assert algo.activate_price is not None
            if (buy and price <= algo.activate_price) or (not buy and price >= algo.activate_price):
                algo.activated = True
                algo.extreme = price
            return False
        assert algo.callback_rate is not None
        extreme = algo.extreme if algo.extreme is not None else price
        algo.extreme = min(extreme, price) if buy else max(extreme, price)
        rate = algo.callback_rate / 100
        if buy:
            return price >= algo.extreme * (1 + rate)
        return price <= algo.extreme * (1 - rate)

    def _trigger(self, algo: SimAlgo) -> None:
        """TRIGGERING → (refused, or TRIGGERED with the child's id) → child events → FINISHED."""
        now = self.clock()
        algo.status = "TRIGGERING"
        algo.trigger_time = now
        algo.update_time = now
        self._emit_algo(algo)
        qty = algo.qty
        ps = algo.position_side
        if algo.close_position:
            qty = self.position(algo.symbol, ps).amount if ps != "BOTH" else abs(
                self.position(algo.symbol, ps).amount)
        child_type = "LIMIT" if algo.order_type in ("STOP", "TAKE_PROFIT") else "MARKET"
        market = self.markets[algo.symbol]
        try:
            if qty <= 0:
                raise e.err(e.REDUCE_ONLY_REJECT)
            self._check_fits(algo.symbol, algo.side, ps, qty)
            marketable = child_type == "MARKET" or _crosses(algo.side, algo.price, market.last)
            self._check_margin(algo.symbol, algo.side, ps, qty, market.last if marketable else algo.price)
        except BinanceCodeError as exc:
            if exc.code == -2022:
                algo.status, algo.reject_reason = "CANCELED", "Reduce Only reject"
            else:
                algo.status, algo.reject_reason = "REJECTED", exc.msg
            algo.update_time = self.clock()
            self._emit_algo(algo)
            return
        client_id = algo.client_algo_id if self.config.child_client_id == "algo" else self._new_client_id()
        order = SimOrder(
            order_id=self._next("order_id"), client_order_id=client_id, symbol=algo.symbol, side=algo.side,
            position_side=ps, type=child_type, orig_type=algo.order_type, time_in_force=algo.time_in_force,
            qty=qty, price=algo.price if child_type == "LIMIT" else ZERO, stop_price=algo.trigger_price,
            working_type=algo.working_type, status="NEW", time=now, update_time=now,
            close_position=algo.close_position, price_protect=algo.price_protect, algo_id=algo.algo_id)
        self.account.orders[order.order_id] = order
        algo.actual_order_id = order.order_id
        algo.status = "TRIGGERED"
        algo.update_time = self.clock()
        self._emit_algo(algo, child=order)
        self._emit_order(order, "NEW")
        self._execute_arrival(order)

    # == market =================================================================================
    def set_prices(self, symbol: str, last: Decimal, mark: Decimal | None = None,
                   index: Decimal | None = None) -> None:
        """Move the prices, fill resting limits that last crosses, fire algo triggers."""
        market = self.market(symbol)
        market.last = last
        market.mark = mark if mark is not None else last
        market.index = index if index is not None else market.mark
        self._match_resting(symbol)
        self._check_triggers(symbol)
        self.on_change()

    def _match_resting(self, symbol: str) -> None:
        last = self.markets[symbol].last
        for order in sorted(self.open_orders(symbol), key=lambda o: o.order_id):
            if order.type == "LIMIT" and _crosses(order.side, order.price, last):
                self._fill_chunks(order, order.price, maker=True, all_chunks=False)

    def set_liquidity(self, symbol: str, max_fill_qty: Decimal | None) -> None:
        self.market(symbol).max_fill_qty = max_fill_qty
        self.on_change()

    def settle_funding(self, symbol: str, rate: Decimal) -> Decimal:
        """Make ``rate`` the symbol's funding rate and settle it at the current mark (its time is kept in
        ``last_funding_time``).

        Each side pays ``d * amount * mark * rate`` (longs pay a positive rate); the symbol's total is
        one income row and one ACCOUNT_UPDATE m=FUNDING_FEE with the same time.
        """
        market = self.market(symbol)
        market.funding_rate = rate
        self.on_mark(symbol)
        now = self.clock()
        held = [p for p in self.account.positions.values() if p.symbol == symbol and p.amount != 0]
        total = ZERO
        for pos in held:
            direction = side_sign(pos.position_side) if pos.position_side != "BOTH" else 1
            total -= pos.amount * direction * market.mark * rate
        total = money(total)
        market.next_funding_time = max(market.next_funding_time, now) + self.config.funding_interval_ms
        self.last_funding_time = now
        if not held:
            self.on_change()
            return ZERO
        self.account.wallet += total
        self._income(symbol, "FUNDING_FEE", total, now, "")
        self._emit_account("FUNDING_FEE", [], now, change=total, symbol=symbol)
        self.on_change()
        return total

    # == events =================================================================================
    def _notional(self, symbol: str, side: str) -> Decimal:
        return sum((o.remaining * o.price for o in self.open_orders(symbol) if o.side == side), ZERO)

    def order_update(self, order: SimOrder, x: str, trade: SimTrade | None = None) -> w.OrderTradeUpdate:
        spec = self.specs[order.symbol]
        pp, qp = spec.price_precision, spec.quantity_precision
        now = self.clock()
        trailing = order.orig_type == "TRAILING_STOP_MARKET"
        algo = self.account.algos.get(order.algo_id) if order.algo_id is not None else None
        body = w.OrderUpdate(
            s=order.symbol, c=order.client_order_id, S=order.side, o=order.type, f=order.time_in_force,
            q=fixed(order.qty, qp), p=fixed(order.price, pp), ap=fixed(order.avg_price, pp),
            sp=fixed(order.stop_price, pp), x=x, X=order.status, i=order.order_id,
            l=fixed(trade.qty if trade else ZERO, qp), z=fixed(order.executed, qp),
            L=fixed(trade.price if trade else ZERO, pp), N="USDT",
            n=fixed(trade.commission if trade else ZERO, 8) if trade else "0",
            T=trade.time if trade else order.update_time, t=trade.trade_id if trade else 0,
            b=fixed(self._notional(order.symbol, "BUY"), 5), a=fixed(self._notional(order.symbol, "SELL"), 5),
            m=trade.maker if trade else False, R=False, wt=order.working_type, ot=order.orig_type,
            ps=order.position_side, cp=order.close_position,
            AP=fixed(algo.activate_price, pp) if trailing and algo and algo.activate_price else "0",
            cr=str(algo.callback_rate) if trailing and algo and algo.callback_rate else "0",
            pP=order.price_protect, si=0, ss=0, rp=fixed(trade.realized_pnl if trade else ZERO, 8),
            V=STP_MODE, pm="NONE", gtd=0, er=order.expire_reason)
        return w.OrderTradeUpdate(E=now, T=body.T, o=body)

    def _emit_order(self, order: SimOrder, x: str, trade: SimTrade | None = None) -> None:
        self.on_user_event(self.order_update(order, x, trade))

    def account_update(self, reason: str, positions: Iterable[SimPosition], now: int, *,
                       change: Decimal = ZERO, symbol: str | None = None) -> w.AccountUpdate:
        wallet = fixed(money(self.account.wallet), 8)
        rows = []
        for pos in positions:
            spec = self.specs[pos.symbol]
            amount = -pos.amount if pos.position_side == "SHORT" else pos.amount
            rows.append(w.AccountUpdatePosition(
                s=pos.symbol, pa=fixed(amount, spec.quantity_precision), ep=fixed(money(pos.entry_price), 5),
                bep=fixed(money(pos.entry_price), 5), cr=fixed(pos.realized, 8), up=fixed(self.unrealized(pos), 8),
                mt="cross", iw="0", ps=pos.position_side))
        data = w.AccountUpdateData(
            m=reason, B=[w.AccountUpdateBalance(a="USDT", wb=wallet, cw=wallet, bc=fixed(change, 8))], P=rows,
            S=symbol if symbol is not None else msgspec.UNSET)
        return w.AccountUpdate(E=self.clock(), T=now, a=data)

    def _emit_account(self, reason: str, positions: Iterable[SimPosition], now: int, *,
                      change: Decimal = ZERO, symbol: str | None = None) -> None:
        self.on_user_event(self.account_update(reason, positions, now, change=change, symbol=symbol))

    def algo_update(self, algo: SimAlgo, child: SimOrder | None = None) -> w.AlgoUpdate:
        spec = self.specs[algo.symbol]
        pp, qp = spec.price_precision, spec.quantity_precision
        unset = msgspec.UNSET
        if algo.status == "TRIGGERING":
            ap = aq = act = unset
        elif child is not None:
            ap, aq, act = fixed(child.avg_price, pp), fixed(child.executed, qp), child.type
        else:
            ap, aq, act = "0", "0", "0"
        body = w.AlgoUpdateOrder(
            caid=algo.client_algo_id, aid=algo.algo_id, at="CONDITIONAL", o=algo.order_type, s=algo.symbol,
            S=algo.side, ps=algo.position_side, f=algo.time_in_force, q=fixed(algo.qty, qp), X=algo.status,
            ai=str(algo.actual_order_id) if algo.actual_order_id is not None else "", ap=ap, aq=aq, act=act,
            tp=fixed(algo.trigger_price, pp), p=fixed(algo.price, pp), V=STP_MODE, wt=algo.working_type,
            pm="NONE", cp=algo.close_position, pP=algo.price_protect, R=False, tt=algo.trigger_time, gtd=0,
            rm=algo.reject_reason if algo.reject_reason is not None else unset)
        return w.AlgoUpdate(T=algo.update_time, E=self.clock(), o=body)

    def _emit_algo(self, algo: SimAlgo, child: SimOrder | None = None) -> None:
        self.on_user_event(self.algo_update(algo, child))


def _copy(order: SimOrder) -> SimOrder:
    return dataclasses.replace(order)


def _crosses(side: str, price: Decimal, last: Decimal) -> bool:
    return price >= last if side == "BUY" else price <= last


def _triggered(order_type: str, side: str, trigger: Decimal, price: Decimal) -> bool:
    """STOP*: BUY when price ≥ trigger, SELL when ≤; TAKE_PROFIT*: BUY when ≤, SELL when ≥."""
    stop = order_type in ("STOP", "STOP_MARKET")
    if (side == "BUY") == stop:
        return price >= trigger
    return price <= trigger


def _next_funding(now: int, interval: int) -> int:
    return (now // interval + 1) * interval


def _decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return D(raw, field=name)
    except ValidationError:
        raise e.mandatory(name) from None


def _int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise e.mandatory(name) from None


def _bool(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise e.mandatory(name)
    return raw == "true"
