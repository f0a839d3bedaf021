"""The simulated USDT-M account: order entry rules, matching, accounting, margin and liquidation, the Binance way.

Problem: the terminal, and any Binance client, must trade against something that behaves like Binance in Hedge
Mode, offline, and does not flatter a strategy.

Rules (reference/binance-usdm.md §2, §3, §7; binance-usdm-risk-market.md §1, §2, §5):

- Hedge Mode: BUY+LONG / SELL+SHORT open, SELL+LONG / BUY+SHORT close. ``positionSide`` is required
  (-4061), ``reduceOnly`` is refused whatever its value (-1106), a closing order larger than the side less the
  other open regular closing orders is refused (-2022). Untriggered algo orders do not count; an algo order
  that no longer fits when it triggers is cancelled through ALGO_UPDATE (``rm`` "Reduce Only reject").
- Matching, book markets (random, replay, and static with a book): a taker walks the book level by level
  (book.py), one trade per level; a resting LIMIT waits in its level's queue. GTX that would take is refused
  (-5022), FOK that cannot fill completely is refused (-5021), both leaving no trace; IOC and MARKET remainders
  expire. A MARKET order stops at ``marketTakeBound`` from the mark (-4131 when even the best level is beyond).
  Self-trade prevention (``selfTradePreventionMode``, default EXPIRE_MAKER) acts when a taker reaches the
  account's own resting order: EXPIRE_TAKER / EXPIRE_MAKER / EXPIRE_BOTH expire the side(s) with
  ``EXPIRED_IN_MATCH``; NONE trades with itself (each side gets its own trade id).
- Matching, static market without a book: MARKET fills at ``last`` in one trade (taker); a marketable LIMIT
  fills at once at ``last``; a resting LIMIT fills at its own price (maker) once ``last`` reaches it.
- A liquidity cap (``max_fill_qty``) splits fills into pieces of at most that size: all at once for a taker,
  one piece per market update for a resting order.
- Accounting per side: entry = weighted average cost; a closing fill realizes ``rp = qty × (price − entry) ×
  d`` (d = +1 LONG, −1 SHORT); commission = ``qty × price × fee`` (maker or taker) leaves the wallet
  separately and is remembered for the break-even price; funding = ``−d × amount × mark × rate`` per side,
  one income row and one ACCOUNT_UPDATE (m=FUNDING_FEE, no positions) per symbol.
- Margin (risk.py): initial margin by leverage, maintenance by bracket; an opening order needs its initial
  margin in ``availableBalance`` (-2019) and must keep the side within the leverage's ``maxNotionalValue``
  (-2027). When the margin ratio reaches 100 % (on the mark price) the account is liquidated: every open order
  and algo order goes (EXPIRED, ``er`` 5), every position is closed by an ``autoclose-`` LIQUIDATION order
  (x=CALCULATED fills, no commission) walking the book (at the mark without a book), and an insurance clearance
  fee ``min(what is left, liquidationFee × closed notional)`` is taken (INSURANCE_CLEAR); a negative balance is
  covered back to 0. ``@forceOrder`` and ``/fapi/v1/forceOrders`` show the liquidation orders. A MARGIN_CALL
  event goes out once when the ratio passes 80 %.
- Money (rp, commission, funding, fees) is rounded half-up to 8 decimals, as Binance shows it; prices and
  quantities are exact.

Worked example (BTCUSDT, static market without a book, taker 0.05 %, maker 0.02 %): BUY+LONG 0.010 MARKET at
95000 → entry 95000, commission 0.475, breakEvenPrice 95047.5; BUY+LONG 0.010 at 96000 → entry 95500; SELL+LONG
0.005 LIMIT filled at 97000 as maker → rp 7.5, commission 0.097; wallet 10000 − 0.475 − 0.48 + 7.5 − 0.097 =
10006.448.

The exchange is synchronous and single-threaded: the server calls it from its event loop; it reports user
events, public trades, liquidations and book changes through callbacks, and every state change to a
``Journal`` (persistence).
"""

from __future__ import annotations

import dataclasses
import random
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from hedgestack.domain.enums import OrderType, Side
from hedgestack.domain.errors import FilterViolation
from hedgestack.domain.filters import SymbolFilters
from hedgestack.domain.numbers import ZERO
from hedgestack.venue.binance import schemas as w
from hedgestack.venue.sim import errors as e
from hedgestack.venue.sim import margin
from hedgestack.venue.sim.book import ASK, BID, AnchoredProfile, Book, RelativeProfile, ticks
from hedgestack.venue.sim.entry import (
    CONDITIONAL_TYPES,
    OrderRequest,
    boolean,
    check_client_id,
    common,
    decimal,
    integer,
    parse_order,
    stp_mode,
)
from hedgestack.venue.sim.errors import BinanceCodeError
from hedgestack.venue.sim.funding import FundingState, next_funding_time, rate_cap
from hedgestack.venue.sim.risk import Risk, closing_side, money, opens, side_sign
from hedgestack.venue.sim.state import (
    AccountState,
    Counters,
    OpenIndex,
    SimAlgo,
    SimAmendment,
    SimIncome,
    SimMarket,
    SimOrder,
    SimPosition,
    SimTrade,
)

if TYPE_CHECKING:
    from hedgestack.venue.sim.config import SimConfig
    from hedgestack.venue.sim.symbols import SymbolSpec

MAX_AMENDMENTS = 10_000
MARGIN_CALL_RATIO = Decimal("0.8")
MARGIN_CALL_RESET = Decimal("0.7")

UserSink = Callable[[msgspec.Struct], None]


class Journal(Protocol):
    """Where state changes go to be persisted (persist.py); the null journal forgets them."""

    def order(self, order: SimOrder) -> None: ...
    def algo(self, algo: SimAlgo) -> None: ...
    def trade(self, trade: SimTrade) -> None: ...
    def income(self, row: SimIncome) -> None: ...
    def amendment(self, row: SimAmendment) -> None: ...
    def wiped(self) -> None: ...


class NullJournal:
    def order(self, order: SimOrder) -> None:
        pass

    def algo(self, algo: SimAlgo) -> None:
        pass

    def trade(self, trade: SimTrade) -> None:
        pass

    def income(self, row: SimIncome) -> None:
        pass

    def amendment(self, row: SimAmendment) -> None:
        pass

    def wiped(self) -> None:
        pass


def fixed(value: Decimal, places: int) -> str:
    """Render with at least ``places`` decimals, never dropping a significant digit."""
    if value == 0:
        value = ZERO
    exponent = value.normalize().as_tuple().exponent
    digits = max(places, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return f"{value:.{digits}f}"


def average(order: SimOrder, price_precision: int) -> str:
    """An order's average fill price: exact when it has at most 5 (or pricePrecision) decimals, else rounded
    half-up to that many, as Binance shows it."""
    places = max(5, price_precision)
    rounded = order.avg_price.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return fixed(order.avg_price if rounded == order.avg_price else rounded, price_precision)


def _crosses(side: str, price: Decimal, last: Decimal) -> bool:
    return price >= last if side == "BUY" else price <= last


def _triggered(order_type: str, side: str, trigger: Decimal, price: Decimal) -> bool:
    """STOP*: BUY when price ≥ trigger, SELL when ≤; TAKE_PROFIT*: BUY when ≤, SELL when ≥."""
    stop = order_type in ("STOP", "STOP_MARKET")
    if (side == "BUY") == stop:
        return price >= trigger
    return price <= trigger


class Exchange:
    """One simulated USDT-M Futures account with its matching engine, Algo Service and risk engine."""

    def __init__(self, config: SimConfig, *, clock: Callable[[], int], journal: Journal | None = None) -> None:
        self.config = config
        self.clock = clock
        self.journal: Journal = journal or NullJournal()
        self.last_funding_time = 0  # time of the last settlement (the control API answers with it)
        self.specs: dict[str, SymbolSpec] = {s.symbol: s for s in config.symbols}
        self.filters: dict[str, SymbolFilters] = {
            s.symbol: SymbolFilters.from_exchange_info(s.exchange_info()) for s in config.symbols}
        self.counters = Counters()
        self.account = AccountState(wallet=config.starting_balance)
        self._open_orders: OpenIndex[int, SimOrder] = OpenIndex(lambda o: o.is_open)
        self._open_algos: OpenIndex[int, SimAlgo] = OpenIndex(lambda a: a.is_open)
        now = clock()
        self.markets: dict[str, SimMarket] = {}
        self.funding: dict[str, FundingState] = {}
        self.books: dict[str, Book] = {}
        self.book_on: dict[str, bool] = {}
        seed = config.seed if config.seed is not None else random.randrange(2**31)
        for i, spec in enumerate(config.symbols):
            price = config.start_price(spec)
            state = FundingState(
                symbol=spec.symbol, interval_hours=spec.funding_interval_hours, speed=config.funding_speed,
                cap=rate_cap(spec.max_leverage, spec.brackets[0].maint_margin_ratio),
                next_time=0, rate=config.funding_rate)
            state.next_time = next_funding_time(now, state.interval_ms)
            self.funding[spec.symbol] = state
            self.markets[spec.symbol] = SimMarket(
                symbol=spec.symbol, last=price, mark=price, index=price, funding_rate=config.funding_rate,
                next_funding_time=state.next_time, max_fill_qty=config.liquidity.get(spec.symbol))
            self.books[spec.symbol] = self._new_book(spec, price, seed + i)
            self.book_on[spec.symbol] = config.book_enabled
        self.risk = Risk(self.specs, self.markets, lambda: self.account, config.leverage)
        self._ids = random.Random(config.seed)
        self._liquidating = False
        self._margin_called = False
        self.on_user_event: UserSink = lambda event: None
        self.on_public_trade: Callable[[str, Decimal, Decimal, bool, int, int], None] = lambda *a: None
        self.on_force_order: Callable[[SimOrder], None] = lambda order: None
        self.on_mark: Callable[[str], None] = lambda symbol: None
        self.on_book: Callable[[str], None] = lambda symbol: None
        self.on_change: Callable[[], None] = lambda: None

    # == books ===================================================================================
    def _new_book(self, spec: SymbolSpec, price: Decimal, seed: int) -> Book:
        tick, step = spec.tick, spec.step
        per_bp = spec.depth_usdt_per_bp
        ticks_per_bp = max(Decimal(1), price * Decimal("0.0001") / tick)
        mean = per_bp / ticks_per_bp / price
        profile = AnchoredProfile.build(max(step, mean), step, seed)
        return Book(spec.symbol, tick, step, profile, bid_t=ticks(price, tick), spread=1,
                    refill_seconds=self.config.book_refill_seconds)

    def set_book(self, symbol: str, *, enabled: bool, spread_ticks: int = 1,
                 depth: Sequence[Decimal] | None = None, refill_seconds: float | None = None) -> Book:
        """Switch the symbol's book on (optionally with a fixed profile: ``depth[k]`` on the k-th level from
        the touch) or off; resting orders join or leave it."""
        spec = self.specs[self.market(symbol).symbol]
        old = self.books[symbol]
        for order in self.open_orders(symbol):
            if order.type == "LIMIT" and order.price > 0:
                old.remove_maker(self._own_side(order), ticks(order.price, spec.tick), order)
        market = self.markets[symbol]
        if depth is not None:
            book = Book(symbol, spec.tick, spec.step, RelativeProfile(tuple(depth)), bid_t=0, spread=spread_ticks,
                        refill_seconds=0.0)
        else:
            book = self._new_book(spec, market.last, hash(symbol) & 0xFFFF)
            book.spread = max(1, spread_ticks)
        if refill_seconds is not None:
            book.refill_seconds = refill_seconds
        book.bid_t = ticks(market.last, spec.tick) - book.spread // 2
        book.ask_t = book.bid_t + book.spread
        book.journal = old.journal
        self.books[symbol] = book
        self.book_on[symbol] = enabled
        if enabled:
            for order in sorted(self.open_orders(symbol), key=lambda o: o.priority):
                if order.type == "LIMIT" and order.price > 0:
                    book.add_maker(self._own_side(order), ticks(order.price, spec.tick), order)
        self.on_book(symbol)
        self.on_change()
        return book

    @staticmethod
    def _own_side(order: SimOrder) -> str:
        return BID if order.side == "BUY" else ASK

    def restore_books(self) -> None:
        """Put the open LIMIT orders back in their books with the queue position they had (after a restart)."""
        for order in sorted(self.open_orders(), key=lambda o: o.priority):
            if order.type == "LIMIT" and order.price > 0 and self.book_on[order.symbol]:
                spec = self.specs[order.symbol]
                self.books[order.symbol].restore_maker(self._own_side(order), ticks(order.price, spec.tick), order)

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
        return self.risk.unrealized(pos)

    def available_balance(self) -> Decimal:
        return money(self.risk.totals(self.open_orders()).available)

    def open_orders(self, symbol: str | None = None) -> list[SimOrder]:
        return [o for o in self._open_orders.read(self.account.orders) if symbol is None or o.symbol == symbol]

    def open_algos(self, symbol: str | None = None) -> list[SimAlgo]:
        return [a for a in self._open_algos.read(self.account.algos) if symbol is None or a.symbol == symbol]

    def closing_room(self, symbol: str, position_side: str, exclude: int | None = None) -> Decimal:
        """The side's amount less the remaining quantity of its other open regular closing orders."""
        pos = self.position(symbol, position_side)
        pending = sum((o.remaining for o in self.open_orders(symbol)
                       if o.position_side == position_side and o.side == closing_side(position_side)
                       and o.order_id != exclude), ZERO)
        return pos.amount - pending

    def new_client_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "".join(self._ids.choice(alphabet) for _ in range(22))

    def next_id(self, name: str) -> int:
        value = getattr(self.counters, name) + 1
        setattr(self.counters, name, value)
        return value

    def find_order(self, symbol: str, order_id: str | None, client_id: str | None) -> SimOrder:
        """Find by orderId or origClientOrderId (the latest order with that id); -2013 if none."""
        self.market(symbol)
        if order_id:
            order = self.account.orders.get(integer({"orderId": order_id}, "orderId") or 0)
            if order is None or order.symbol != symbol:
                raise e.no_such_order()
            return order
        if client_id:
            for order in reversed(list(self.account.orders.values())):
                if order.client_order_id == client_id and order.symbol == symbol:
                    return order
            raise e.no_such_order()
        raise e.either("orderId", "origClientOrderId")

    def find_algo(self, algo_id: str | None, client_id: str | None) -> SimAlgo:
        if algo_id:
            algo = self.account.algos.get(integer({"algoId": algo_id}, "algoId") or 0)
            if algo is None:
                raise e.no_such_order()
            return algo
        if client_id:
            for algo in reversed(list(self.account.algos.values())):
                if algo.client_algo_id == client_id:
                    return algo
            raise e.no_such_order()
        raise e.either("algoId", "clientAlgoId")

    def reset(self) -> None:
        """Start over: a fresh Hedge-Mode cross account with the starting balance; ids keep counting, prices stay."""
        for symbol, book in self.books.items():
            for side in (BID, ASK):
                for t, queue in list(book.makers[side].items()):
                    for maker in list(queue):
                        book.remove_maker(side, t, maker)
            self.on_book(symbol)
        self.account = AccountState(wallet=self.config.starting_balance)
        self._margin_called = False
        self.journal.wiped()
        self.on_change()

    # == configuration ==========================================================================
    def set_dual_side(self, dual: bool) -> None:
        if dual == self.account.dual_side:
            raise BinanceCodeError(-4059, "No need to change position side.")
        if self.open_orders() or self.open_algos():
            raise BinanceCodeError(-4067, "Position side cannot be changed if there exists open orders.")
        if any(p.amount for p in self.account.positions.values()):
            raise BinanceCodeError(-4068, "Position side cannot be changed if there exists position.")
        self.account.dual_side = dual
        self.account.config_time = self.clock()
        self.on_change()

    def set_leverage(self, symbol: str, raw: str) -> tuple[int, Decimal]:
        """``POST /fapi/v1/leverage``: (leverage, maxNotionalValue); pushes ACCOUNT_CONFIG_UPDATE."""
        self.market(symbol)
        spec = self.specs[symbol]
        try:
            leverage = int(raw)
        except ValueError:
            raise e.leverage_not_valid(raw) from None
        if leverage < 1 or leverage > 125:
            raise e.leverage_not_valid(raw)
        if leverage > spec.max_leverage:
            raise BinanceCodeError(-4209, f"Leverage adjustment failed. Current symbol max leverage limit is "
                                          f"{spec.max_leverage}x")
        cap = margin.max_notional(spec.brackets, leverage)
        for ps in ("LONG", "SHORT", "BOTH"):
            key = f"{symbol}:{ps}"
            pos = self.account.positions.get(key)
            exposure = abs(self.risk.notional(pos)) if pos is not None else ZERO
            exposure += sum((o.remaining * o.price for o in self.open_orders(symbol)
                             if o.position_side == ps and opens(o)), ZERO)
            if exposure > cap:
                raise e.err(e.MAX_LEVERAGE_RATIO, f"{ps} exposure {exposure} > {cap} at {leverage}x")
        old = self.account.leverage.get(symbol)
        self.account.leverage[symbol] = leverage
        totals = self.risk.totals(self.open_orders())
        if totals.position_im + totals.order_im > totals.margin_balance:
            if old is None:
                del self.account.leverage[symbol]
            else:
                self.account.leverage[symbol] = old
            raise e.err(e.MIN_LEVERAGE_RATIO)
        now = self.clock()
        self.account.config_time = now
        self.on_user_event(w.AccountConfigUpdate(E=now, T=now, ac=w.AccountConfigLeverage(s=symbol, l=leverage)))
        self.on_change()
        return leverage, cap

    def set_margin_type(self, symbol: str, margin_type: str) -> None:
        """``POST /fapi/v1/marginType``: only cross margin is simulated."""
        self.market(symbol)
        if margin_type not in ("ISOLATED", "CROSSED"):
            raise e.invalid("marginType")
        if margin_type == "CROSSED":
            raise e.err(e.NO_NEED_MARGIN_TYPE)
        if self.open_orders(symbol) or self.open_algos(symbol):
            raise e.err(e.MARGIN_TYPE_OPEN_ORDERS)
        if any(p.amount for p in self.account.positions.values() if p.symbol == symbol):
            raise e.err(e.MARGIN_TYPE_POSITION)
        raise e.err(e.UNKNOWN, "isolated margin is not simulated: the account stays in cross margin")

    def set_multi_assets(self, enabled: bool) -> None:
        if not enabled:
            raise e.err(e.NO_NEED_MULTI_ASSETS)
        raise e.err(e.UNKNOWN, "Multi-Assets mode is not simulated: the account stays in single-asset mode")

    # == checks =================================================================================
    def _check_client_id(self, client_id: str) -> None:
        check_client_id(client_id)
        if any(o.client_order_id == client_id for o in self.open_orders()) or any(
                a.client_algo_id == client_id for a in self.open_algos()):
            raise e.err(e.DUPLICATED_CLIENT_ID)

    def _check_filters(self, symbol: str, side: str, otype: str, qty: Decimal, price: Decimal | None,
                       reduces: bool) -> None:
        market = self.markets[symbol]
        f = self.filters[symbol]
        try:
            f.check_qty(qty, OrderType(otype))
            if price is not None:
                f.check_price(price)
            reference = price if price is not None else market.mark
            if not reduces and f.min_notional and reference * qty < f.min_notional:
                raise e.min_notional(f.min_notional)
            if price is not None:
                f.check_percent_price(Side(side), price, market.mark)
        except FilterViolation as exc:
            raise BinanceCodeError.from_filter(exc) from None

    def _check_fits(self, symbol: str, side: str, ps: str, qty: Decimal, exclude: int | None = None) -> None:
        """-2022 for a closing order larger than what the side has left to close."""
        if ps != "BOTH" and side == closing_side(ps) and qty > self.closing_room(symbol, ps, exclude):
            raise e.err(e.REDUCE_ONLY_REJECT)

    def _check_margin(self, symbol: str, side: str, ps: str, qty: Decimal, price: Decimal,
                      reduce_only: bool = False, exclude: int | None = None) -> None:
        """-2019 when the order's initial margin exceeds availableBalance; -2027 beyond the leverage's cap."""
        if (ps != "BOTH" and side == closing_side(ps)) or reduce_only:
            return
        spec = self.specs[symbol]
        leverage = self.risk.leverage(symbol)
        pos = self.account.positions.get(f"{symbol}:{ps}")
        exposure = abs(self.risk.notional(pos)) if pos is not None else ZERO
        exposure += sum((o.remaining * o.price for o in self.open_orders(symbol)
                         if o.position_side == ps and opens(o) and o.order_id != exclude), ZERO)
        cap = margin.max_notional(spec.brackets, leverage)
        if exposure + qty * price > cap:
            raise e.err(e.MAX_LEVERAGE_RATIO, f"{exposure + qty * price} > {cap} at {leverage}x")
        others = [o for o in self.open_orders() if o.order_id != exclude]
        need = qty * price / leverage
        available = self.risk.totals(others).available
        if need > available:
            raise e.err(e.MARGIN_INSUFFICIENT, f"needs {money(need)}, available {money(available)}")

    def _marketable(self, symbol: str, side: str, price: Decimal | None) -> bool:
        """Whether a LIMIT at ``price`` (None = MARKET) would take liquidity now."""
        if price is None:
            return True
        if not self.book_on[symbol]:
            return _crosses(side, price, self.markets[symbol].last)
        book = self.books[symbol]
        best = book.best(ASK if side == "BUY" else BID)
        if best is None:
            return False
        t = ticks(price, book.tick)
        return t >= best[0] if side == "BUY" else t <= best[0]

    def _fillable(self, symbol: str, side: str, qty: Decimal, price: Decimal) -> bool:
        """Whether a FOK order could fill completely at ``price`` or better now."""
        if not self.book_on[symbol]:
            return _crosses(side, price, self.markets[symbol].last)
        book = self.books[symbol]
        left = qty
        for level in book.levels(ASK if side == "BUY" else BID, ticks(price, book.tick)):
            left -= level.market + sum((m.remaining for m in level.makers), ZERO)
            if left <= 0:
                return True
        return False

    def _match_price(self, symbol: str, side: str, match: str) -> Decimal:
        """The price priceMatch gives: OPPONENT[_5] = the 1st/5th best opposite level, QUEUE[_5] = own side."""
        book = self.books[symbol]
        opponent = match.startswith("OPPONENT")
        own = BID if side == "BUY" else ASK
        book_side = (ASK if own == BID else BID) if opponent else own
        depth = 5 if match.endswith("_5") else 1
        bids, asks = book.depth(depth)
        rows = bids if book_side == BID else asks
        if not rows:
            last = self.markets[symbol].last
            return last
        return book.price(rows[min(depth, len(rows)) - 1][0])

    # == regular orders =========================================================================
    def _request(self, params: Mapping[str, str]) -> OrderRequest:
        request = parse_order(params, dual_side=self.account.dual_side, now=self.clock())
        self.market(request.symbol)
        return request

    def _validate(self, request: OrderRequest, *, exclude: int | None = None) -> Decimal | None:
        """Every check of a new order against the account; returns the price it will carry."""
        symbol, side, ps = request.symbol, request.side, request.position_side
        price = request.price
        if request.price_match != "NONE":
            price = self._match_price(symbol, side, request.price_match)
        self._check_filters(symbol, side, request.type, request.qty, price, request.closes)
        if request.client_id is not None:
            self._check_client_id(request.client_id)
        if ps == "BOTH" and request.reduce_only:
            pos = self.position(symbol, "BOTH")
            if pos.amount == 0 or (pos.amount > 0) == (side == "BUY") or request.qty > abs(pos.amount):
                raise e.err(e.REDUCE_ONLY_REJECT)
        self._check_fits(symbol, side, ps, request.qty, exclude)
        market = self.markets[symbol]
        if request.type == "MARKET" and self.book_on[symbol]:
            book = self.books[symbol]
            best = book.best(ASK if side == "BUY" else BID)
            bound = Decimal(self.specs[symbol].market_take_bound)
            if best is not None:
                best_price = book.price(best[0])
                if (side == "BUY" and best_price > market.mark * (1 + bound)) or (
                        side == "SELL" and best_price < market.mark * (1 - bound)):
                    raise e.err(e.MARKET_ORDER_REJECT)
        if request.type == "LIMIT" and price is not None:
            if request.time_in_force == "GTX" and self._marketable(symbol, side, price):
                raise e.err(e.GTX_REJECT)
            if request.time_in_force == "FOK" and not self._fillable(symbol, side, request.qty, price):
                raise e.err(e.FOK_REJECT)
        if price is not None:
            estimate = price
        elif self.book_on[symbol]:
            best = self.books[symbol].best(ASK if side == "BUY" else BID)
            estimate = self.books[symbol].price(best[0]) if best else market.last
        else:
            estimate = market.last
        self._check_margin(symbol, side, ps, request.qty, estimate, request.reduce_only, exclude)
        return price

    def test_order(self, params: Mapping[str, str]) -> SimOrder:
        """``POST /fapi/v1/order/test``: every check, nothing placed (the answer is an order that never was)."""
        request = self._request(params)
        price = self._validate(request)
        now = self.clock()
        return SimOrder(
            order_id=0, client_order_id=request.client_id or self.new_client_id(), symbol=request.symbol,
            side=request.side, position_side=request.position_side, type=request.type, orig_type=request.type,
            time_in_force=request.time_in_force, qty=request.qty, price=price or ZERO, stop_price=ZERO,
            working_type="CONTRACT_PRICE", status="NEW", time=now, update_time=now, stp=request.stp,
            price_match=request.price_match, good_till=request.good_till, reduce_only=request.reduce_only)

    def place_order(self, params: Mapping[str, str], *, external: bool = False) -> tuple[SimOrder, SimOrder]:
        """Validate and place a regular order; return (snapshot at acceptance, state after matching)."""
        request = self._request(params)
        price = self._validate(request)
        now = self.clock()
        order_id = self.next_id("order_id")
        order = SimOrder(
            order_id=order_id, client_order_id=request.client_id or self.new_client_id(), symbol=request.symbol,
            side=request.side, position_side=request.position_side, type=request.type, orig_type=request.type,
            time_in_force=request.time_in_force, qty=request.qty, price=price or ZERO, stop_price=ZERO,
            working_type="CONTRACT_PRICE", status="NEW", time=now, update_time=now, stp=request.stp,
            price_match=request.price_match, good_till=request.good_till, reduce_only=request.reduce_only,
            priority=order_id)
        self.account.orders[order.order_id] = order
        ack = dataclasses.replace(order)
        self._emit_order(order, "NEW")
        self._execute_arrival(order)
        self._after()
        return ack, order

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

    def modify_order(self, params: Mapping[str, str]) -> SimOrder:
        """``PUT /fapi/v1/order``: a LIMIT order's price and quantity (the queue position is lost)."""
        symbol = params.get("symbol") or ""
        if not symbol:
            raise e.mandatory("symbol")
        order = self.find_order(symbol, params.get("orderId"), params.get("origClientOrderId"))
        if not order.is_open:
            raise e.no_such_order()
        if order.type != "LIMIT" or order.liquidation:
            raise e.err(e.LIMIT_ORDER_ONLY)
        side = params.get("side") or ""
        if not side:
            raise e.mandatory("side")
        if side != order.side:
            raise e.invalid("side")
        qty = decimal(params, "quantity")
        if qty is None:
            raise e.mandatory("quantity")
        match = params.get("priceMatch") or "NONE"
        price = decimal(params, "price")
        if match != "NONE":
            if price is not None:
                raise e.not_required("price")
            if match not in ("OPPONENT", "OPPONENT_5", "QUEUE", "QUEUE_5"):
                raise e.err(e.INVALID_PRICE_MATCH)
            price = self._match_price(symbol, side, match)
        if price is None:
            raise e.mandatory("price")
        if order.amendments >= MAX_AMENDMENTS:
            raise e.err(e.MODIFY_LIMIT)
        if price == order.price and qty == order.qty:
            raise e.err(e.SAME_ORDER)
        reduces = order.position_side != "BOTH" and side == closing_side(order.position_side) or order.reduce_only
        self._check_filters(symbol, side, "LIMIT", qty, price, reduces)
        if order.position_side != "BOTH" and side == closing_side(order.position_side):
            if qty - order.executed > self.closing_room(symbol, order.position_side, exclude=order.order_id):
                raise e.err(e.REDUCE_ONLY_REJECT)
        self._check_margin(symbol, side, order.position_side, qty - order.executed, price, order.reduce_only,
                           exclude=order.order_id)
        now = self.clock()
        row = SimAmendment(amendment_id=self.next_id("amendment_id"), symbol=symbol, order_id=order.order_id,
                           client_order_id=order.client_order_id, time=now, price_before=order.price,
                           price_after=price, qty_before=order.qty, qty_after=qty, count=order.amendments + 1)
        self.account.amendments.append(row)
        self.journal.amendment(row)
        book = self.books[symbol]
        spec = self.specs[symbol]
        if self.book_on[symbol]:
            book.remove_maker(self._own_side(order), ticks(order.price, spec.tick), order)
        order.amendments += 1
        if qty <= order.executed:
            self._finish(order, "CANCELED")
            self.on_change()
            return order
        crosses_now = self._marketable(symbol, side, price)
        if order.time_in_force == "GTX" and crosses_now:
            self._finish(order, "EXPIRED")
            self.on_change()
            return order
        order.price, order.qty = price, qty
        order.update_time = now
        order.priority = self.next_id("order_id")
        self._emit_order(order, "AMENDMENT")
        if crosses_now:
            self._execute_arrival(order)
        elif self.book_on[symbol]:
            book.add_maker(self._own_side(order), ticks(price, spec.tick), order)
            self.on_book(symbol)
        self._after()
        return order

    def countdown(self, symbol: str, countdown_ms: int) -> None:
        """``POST /fapi/v1/countdownCancelAll``: cancel the symbol's open orders unless renewed in time."""
        self.market(symbol)
        if countdown_ms <= 0:
            self.account.countdowns.pop(symbol, None)
        else:
            self.account.countdowns[symbol] = [self.clock() + countdown_ms, countdown_ms]
        self.on_change()

    # == algo orders ============================================================================
    def place_algo(self, params: Mapping[str, str]) -> SimAlgo:
        """Validate and accept a conditional order (New Algo Order)."""
        algo_type = params.get("algoType", "")
        if not algo_type:
            raise e.mandatory("algoType")
        if algo_type != "CONDITIONAL":
            raise e.invalid("algoType")
        symbol, side, otype, ps, reduce_only = common(params, dual_side=self.account.dual_side, algo=True)
        self.market(symbol)
        client_id = params.get("clientAlgoId") or ""
        if client_id:
            self._check_client_id(client_id)
        else:
            client_id = self.new_client_id()
        tif = params.get("timeInForce") or "GTC"
        if tif not in ("GTC", "IOC", "FOK", "GTX", "GTD"):
            raise e.err(e.INVALID_TIF)
        working = params.get("workingType") or "CONTRACT_PRICE"
        if working not in ("CONTRACT_PRICE", "MARK_PRICE"):
            raise BinanceCodeError(-4031, f"Invalid parameter working type: `{working}`")
        close_position = boolean(params, "closePosition")
        qty = decimal(params, "quantity")
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
        price = decimal(params, "price")
        if otype in ("STOP", "TAKE_PROFIT"):
            if price is None:
                raise e.mandatory("price")
        elif price is not None and price != 0:
            raise e.not_required("price")
        trigger = decimal(params, "triggerPrice")
        if trigger is None:
            trigger = decimal(params, "stopPrice")
        activate: Decimal | None = None
        callback: Decimal | None = None
        reference = market.mark if working == "MARK_PRICE" else market.last
        if otype == "TRAILING_STOP_MARKET":
            callback = decimal(params, "callbackRate")
            if callback is None:
                raise e.mandatory("callbackRate")
            if not Decimal("0.1") <= callback <= Decimal("20"):
                raise BinanceCodeError(-2007, "Invalid callBack rate.")
            activate = decimal(params, "activatePrice") or decimal(params, "activationPrice")
            if activate is not None and (
                    (side == "BUY" and activate >= reference) or (side == "SELL" and activate <= reference)):
                raise e.err(e.WOULD_TRIGGER)
            trigger = ZERO
        elif trigger is None:
            raise e.mandatory("triggerPrice")
        reduces = ps != "BOTH" and side == closing_side(ps) or reduce_only
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
                    raise e.min_notional(f.min_notional)
        except FilterViolation as exc:
            raise BinanceCodeError.from_filter(exc) from None
        if otype != "TRAILING_STOP_MARKET" and _triggered(otype, side, trigger, reference):
            raise e.err(e.WOULD_TRIGGER)
        now = self.clock()
        algo = SimAlgo(
            algo_id=self.next_id("algo_id"), client_algo_id=client_id, symbol=symbol, side=side, position_side=ps,
            order_type=otype, time_in_force=tif, qty=qty, price=price or ZERO, trigger_price=trigger,
            working_type=working, status="NEW", create_time=now, update_time=now, close_position=close_position,
            price_protect=boolean(params, "priceProtect"), activate_price=activate, callback_rate=callback,
            reduce_only=reduce_only, stp=stp_mode(params, "NONE"))
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
        spec = self.specs[symbol]
        for algo in sorted(self.open_algos(symbol), key=lambda a: a.algo_id):
            if not algo.is_open:
                continue
            price = market.mark if algo.working_type == "MARK_PRICE" else market.last
            if algo.order_type == "TRAILING_STOP_MARKET":
                if not self._trail(algo, price):
                    continue
            elif not _triggered(algo.order_type, algo.side, algo.trigger_price, price):
                continue
            if algo.price_protect and market.mark > 0 and \
                    abs(market.mark - market.last) / market.mark > Decimal(spec.trigger_protect):
                continue  # priceProtect: mark and last too far apart, the order waits
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
            qty = abs(self.position(algo.symbol, ps).amount)
        child_type = "LIMIT" if algo.order_type in ("STOP", "TAKE_PROFIT") else "MARKET"
        market = self.markets[algo.symbol]
        try:
            if qty <= 0:
                raise e.err(e.REDUCE_ONLY_REJECT)
            self._check_fits(algo.symbol, algo.side, ps, qty)
            marketable = child_type == "MARKET" or self._marketable(algo.symbol, algo.side, algo.price)
            self._check_margin(algo.symbol, algo.side, ps, qty, market.last if marketable else algo.price,
                               algo.reduce_only)
        except BinanceCodeError as exc:
            if exc.code == -2022:
                algo.status, algo.reject_reason = "CANCELED", "Reduce Only reject"
            else:
                algo.status, algo.reject_reason = "REJECTED", exc.msg
            algo.update_time = self.clock()
            self._emit_algo(algo)
            return
        client_id = algo.client_algo_id if self.config.child_client_id == "algo" else self.new_client_id()
        order_id = self.next_id("order_id")
        order = SimOrder(
            order_id=order_id, client_order_id=client_id, symbol=algo.symbol, side=algo.side, position_side=ps,
            type=child_type, orig_type=algo.order_type, time_in_force=algo.time_in_force, qty=qty,
            price=algo.price if child_type == "LIMIT" else ZERO, stop_price=algo.trigger_price,
            working_type=algo.working_type, status="NEW", time=now, update_time=now,
            close_position=algo.close_position, price_protect=algo.price_protect, algo_id=algo.algo_id,
            reduce_only=algo.reduce_only, stp=algo.stp, priority=order_id)
        self.account.orders[order.order_id] = order
        algo.actual_order_id = order.order_id
        algo.status = "TRIGGERED"
        algo.update_time = self.clock()
        self._emit_algo(algo, child=order)
        self._emit_order(order, "NEW")
        self._execute_arrival(order)

    # == matching ===============================================================================
    def _execute_arrival(self, order: SimOrder) -> None:
        """Fill a new (triggered, amended) order as taker as far as it can, then rest or expire the rest."""
        if self.book_on[order.symbol]:
            self._take_book(order)
        else:
            self._take_flat(order)
        if not order.is_open or order.remaining <= 0:
            return
        if order.type == "MARKET":
            self._finish(order, "EXPIRED", reason="9")
        elif order.time_in_force in ("IOC", "FOK"):
            self._finish(order, "EXPIRED", reason="2")
        elif self.book_on[order.symbol]:
            spec = self.specs[order.symbol]
            self.books[order.symbol].add_maker(self._own_side(order), ticks(order.price, spec.tick), order)
            self.on_book(order.symbol)

    def _take_flat(self, order: SimOrder) -> None:
        market = self.markets[order.symbol]
        if order.type == "MARKET" or order.liquidation or _crosses(order.side, order.price, market.last):
            price = market.mark if order.liquidation else market.last
            self._fill_pieces(order, price, maker=False, all_pieces=True)

    def _take_book(self, order: SimOrder) -> None:
        book = self.books[order.symbol]
        spec = self.specs[order.symbol]
        market = self.markets[order.symbol]
        liquidity = ASK if order.side == "BUY" else BID
        if order.type == "LIMIT":
            limit_t: int | None = ticks(order.price, spec.tick)
        elif order.liquidation:
            limit_t = None
        else:
            bound = Decimal(spec.market_take_bound)
            edge = market.mark * (1 + bound) if order.side == "BUY" else market.mark * (1 - bound)
            limit_t = int((edge / spec.tick).to_integral_value(rounding="ROUND_FLOOR" if order.side == "BUY"
                                                                else "ROUND_CEILING"))
        for level in book.levels(liquidity, limit_t):
            if not order.is_open or order.remaining <= 0:
                break
            price = book.price(level.t)
            makers = [m for m in level.makers if isinstance(m, SimOrder) and m.is_open]
            stp = order.stp if order.time_in_force in ("GTC", "IOC", "GTD") and not order.liquidation else "NONE"
            if makers and stp != "NONE":
                ahead = min(min(m.queue_ahead for m in makers), level.market)
                took = min(order.remaining, ahead)
                if took > 0:
                    book.consume(liquidity, level.t, took)
                    self._fill_pieces(order, price, maker=False, all_pieces=True, qty=took)
                if order.remaining <= 0:
                    break
                if stp in ("EXPIRE_MAKER", "EXPIRE_BOTH"):
                    for maker in makers:
                        book.remove_maker(liquidity, level.t, maker)
                        self._finish(maker, "EXPIRED_IN_MATCH", reason="1")
                if stp in ("EXPIRE_TAKER", "EXPIRE_BOTH"):
                    self._finish(order, "EXPIRED_IN_MATCH", reason="3" if order.time_in_force == "IOC" else "1")
                    break
                rest = level.market - took
                if rest > 0:
                    take = min(order.remaining, rest)
                    book.consume(liquidity, level.t, take)
                    self._fill_pieces(order, price, maker=False, all_pieces=True, qty=take)
                continue
            if makers:  # NONE: trade with itself in queue order, the market's quantity ahead first
                ahead = min(makers[0].queue_ahead, level.market)
                took = min(order.remaining, ahead)
                if took > 0:
                    book.consume(liquidity, level.t, took)
                    self._fill_pieces(order, price, maker=False, all_pieces=True, qty=took)
                for maker in makers:
                    if order.remaining <= 0:
                        break
                    qty = min(order.remaining, maker.remaining)
                    self._fill(order, qty, price, maker=False)
                    self._fill(maker, qty, price, maker=True, prints=False)
                    book.maker_changed(liquidity, level.t)
                rest = level.market - took
                if rest > 0 and order.remaining > 0:
                    take = min(order.remaining, rest)
                    book.consume(liquidity, level.t, take)
                    self._fill_pieces(order, price, maker=False, all_pieces=True, qty=take)
                continue
            take = min(order.remaining, level.market)
            book.consume(liquidity, level.t, take)
            self._fill_pieces(order, price, maker=False, all_pieces=True, qty=take)
        self.on_book(order.symbol)

    def _fill_pieces(self, order: SimOrder, price: Decimal, *, maker: bool, all_pieces: bool,
                     qty: Decimal | None = None) -> None:
        """Fill ``qty`` (default: all that remains) in pieces of at most the symbol's liquidity cap."""
        cap = self.markets[order.symbol].max_fill_qty
        left = order.remaining if qty is None else min(qty, order.remaining)
        while order.is_open and left > 0:
            piece = left if cap is None else min(cap, left)
            self._fill(order, piece, price, maker=maker)
            left -= piece
            if not all_pieces:
                break

    def _fill(self, order: SimOrder, qty: Decimal, price: Decimal, *, maker: bool, prints: bool = True) -> None:
        """Apply one fill: position, wallet, trade and income rows, then the events."""
        now = self.clock()
        ps = order.position_side
        pos = self.position(order.symbol, ps)
        fee_rate = ZERO if order.liquidation else (self.config.maker_fee if maker else self.config.taker_fee)
        fee = money(qty * price * fee_rate)
        if ps == "BOTH":
            rp = self._apply_one_way(pos, order.side, qty, price, fee)
        elif order.side == closing_side(ps):
            rp = money(qty * (price - pos.entry_price) * side_sign(ps))
            if pos.amount > 0:
                pos.open_fees = pos.open_fees * (pos.amount - qty) / pos.amount
            pos.amount -= qty
            pos.realized += rp
            if pos.amount == 0:
                pos.entry_price = ZERO
                pos.open_fees = ZERO
        else:
            rp = ZERO
            pos.entry_price = (pos.amount * pos.entry_price + qty * price) / (pos.amount + qty)
            pos.amount += qty
            pos.open_fees += fee
        pos.update_time = now
        self.account.wallet += rp - fee
        trade = SimTrade(trade_id=self.next_id("trade_id"), order_id=order.order_id,
                         client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
                         position_side=ps, price=price, qty=qty, realized_pnl=rp, commission=fee, maker=maker,
                         time=now)
        self.account.trades.append(trade)
        self.journal.trade(trade)
        if rp != 0:
            self._income(order.symbol, "REALIZED_PNL", rp, now, str(trade.trade_id))
        if fee != 0:
            self._income(order.symbol, "COMMISSION", -fee, now, str(trade.trade_id))
        order.executed += qty
        order.cum_quote += qty * price
        order.update_time = now
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        if self.book_on[order.symbol]:
            self.markets[order.symbol].last = price
        if self.config.sends_trade_lite and not order.liquidation:
            self.on_user_event(self.trade_lite(order, trade))
        self._emit_order(order, "CALCULATED" if order.liquidation else "TRADE", trade=trade)
        self._emit_account("ORDER", [pos], now)
        if prints:  # a public trade (a self-trade prints once, with the taker)
            self.on_public_trade(order.symbol, price, qty, (order.side == "SELL") != maker, now, trade.trade_id)
        if order.status == "FILLED":
            self._order_done(order)

    def _apply_one_way(self, pos: SimPosition, side: str, qty: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        """One-way (BOTH) position: signed amount in ``amount``; a fill past zero flips the position."""
        signed = qty if side == "BUY" else -qty
        if pos.amount == 0 or (pos.amount > 0) == (signed > 0):
            total = abs(pos.amount) + qty
            pos.entry_price = (abs(pos.amount) * pos.entry_price + qty * price) / total
            pos.amount += signed
            pos.open_fees += fee
            return ZERO
        closed = min(qty, abs(pos.amount))
        direction = 1 if pos.amount > 0 else -1
        rp = money(closed * (price - pos.entry_price) * direction)
        pos.realized += rp
        before = abs(pos.amount)
        pos.amount += signed
        if pos.amount == 0:
            pos.entry_price = ZERO
            pos.open_fees = ZERO
        elif (pos.amount > 0) != (direction > 0):
            pos.entry_price = price
            pos.open_fees = fee * (qty - closed) / qty
        else:
            pos.open_fees = pos.open_fees * abs(pos.amount) / before
        return rp

    def _income(self, symbol: str, kind: str, amount: Decimal, now: int, trade_id: str) -> None:
        row = SimIncome(symbol=symbol, income_type=kind, income=amount, time=now, tran_id=self.next_id("tran_id"),
                        trade_id=trade_id, info=kind)
        self.account.income.append(row)
        self.journal.income(row)

    def _finish(self, order: SimOrder, status: str, reason: str = "0") -> None:
        if order.type == "LIMIT" and self.book_on.get(order.symbol) and order.price > 0:
            spec = self.specs[order.symbol]
            self.books[order.symbol].remove_maker(self._own_side(order), ticks(order.price, spec.tick), order)
            self.on_book(order.symbol)
        order.status = status
        order.expire_reason = reason
        order.update_time = self.clock()
        x = "EXPIRED" if status in ("EXPIRED", "EXPIRED_IN_MATCH") else status
        self._emit_order(order, x)
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

    def _maker_fill(self, order: SimOrder, qty: Decimal, price: Decimal) -> None:
        """A resting order fills as maker (one piece per market update under a liquidity cap)."""
        cap = self.markets[order.symbol].max_fill_qty
        piece = min(qty, order.remaining) if cap is None else min(qty, order.remaining, cap)
        if piece > 0:
            self._fill(order, piece, price, maker=True)

    # == the market =============================================================================
    def set_prices(self, symbol: str, last: Decimal, mark: Decimal | None = None,
                   index: Decimal | None = None, qty: Decimal = ZERO) -> None:
        """Prices set from the control API. Without a book, resting limits that ``last`` reaches fill at their
        price; with a book, the market trades to ``last`` (through every level before it, ``qty`` at it)."""
        market = self.market(symbol)
        if self.book_on[symbol]:
            self._trade_to(symbol, last, qty, refresh=not self._time_refill(symbol))
        market.last = last
        market.mark = mark if mark is not None else last
        market.index = index if index is not None else market.mark
        if not self.book_on[symbol]:
            self._match_resting_flat(symbol)
            book = self.books[symbol]
            book.move_to(ticks(last, book.tick))
            self.on_book(symbol)
        self._check_triggers(symbol)
        self._after()

    def _time_refill(self, symbol: str) -> bool:
        return self.books[symbol].refill_seconds > 0 and self.config.market != "static"

    def _trade_to(self, symbol: str, price: Decimal, qty: Decimal, *, refresh: bool) -> None:
        """The market traded to ``price``: up, buyers lifted every ask below it and the ask is now ``price``;
        down, sellers hit every bid above it and the bid is now ``price``; ``qty`` more traded at ``price``
        itself (queue fills). ``refresh``: the book's own liquidity comes back in full (the static market's
        book, rebuilt at each move)."""
        book = self.books[symbol]
        t = ticks(price, book.tick)
        last = self.markets[symbol].last
        if price > last:
            self.market_move(symbol, t - book.spread)
            aggressor = "BUY"
        elif price < last:
            self.market_move(symbol, t)
            aggressor = "SELL"
        else:
            aggressor = "BUY" if t >= book.ask_t else "SELL"
        if refresh:
            book.clear_deficits()
            if isinstance(book.profile, RelativeProfile):
                book.clamp_queues()
        if qty > 0:
            self.market_trade(symbol, aggressor, qty, t=t)
        self.on_book(symbol)

    def _match_resting_flat(self, symbol: str) -> None:
        last = self.markets[symbol].last
        for order in sorted(self.open_orders(symbol), key=lambda o: o.priority):
            if order.type == "LIMIT" and order.is_open and _crosses(order.side, order.price, last):
                self._maker_fill(order, order.remaining, order.price)

    def market_move(self, symbol: str, bid_t: int) -> None:
        """The market's best bid moves to ``bid_t``: resting orders it traded through fill at their price."""
        book = self.books[symbol]
        through = book.move_to(bid_t)
        for maker in through:
            if isinstance(maker, SimOrder) and maker.is_open:
                self._maker_fill(maker, maker.remaining, maker.price)
                if maker.remaining <= 0:
                    book.remove_maker(self._own_side(maker), ticks(maker.price, book.tick), maker)
                else:
                    book.maker_changed(self._own_side(maker), ticks(maker.price, book.tick))
        self._crossed_makers(symbol)
        self.on_book(symbol)

    def _crossed_makers(self, symbol: str) -> None:
        """Resting orders left on the wrong side of the market (a capped fill's rest) keep filling."""
        book = self.books[symbol]
        for side, beyond in ((BID, lambda t: t >= book.ask_t), (ASK, lambda t: t <= book.bid_t)):
            for t in [t for t in book.makers[side] if beyond(t)]:
                for maker in list(book.makers[side].get(t, ())):
                    if isinstance(maker, SimOrder) and maker.is_open:
                        self._maker_fill(maker, maker.remaining, maker.price)
                book.maker_changed(side, t)

    def market_trade(self, symbol: str, aggressor: str, qty: Decimal, *, t: int | None = None) -> Decimal | None:
        """A trade of the market's own takers: ``qty`` at the best level (or level ``t``) of the side it hits,
        first-in first-out through the queue; prints it. Returns the price, or None when nothing traded."""
        book = self.books[symbol]
        side = ASK if aggressor == "BUY" else BID
        result = book.trade_at_touch(side, qty, t)
        if result is None:
            return None
        price = book.price(result.t)
        for maker, got in result.fills:
            if isinstance(maker, SimOrder) and maker.is_open:
                self._maker_fill(maker, got, maker.price)
        book.maker_changed(side, result.t)
        market_qty = result.qty - sum((got for _, got in result.fills), ZERO)
        if market_qty > 0:
            self.print_trade(symbol, price, market_qty, buyer_maker=aggressor == "SELL")
        self.markets[symbol].last = price
        self.on_book(symbol)
        return price

    def external_trade(self, symbol: str, price: Decimal, qty: Decimal, aggressor: str) -> None:
        """A trade of the market at ``price`` (replayed, or ``POST /sim/v1/trade``): the book moves so that the
        trade happened at its touch (a buy: the ask is at ``price``; a sell: the bid), then ``qty`` trades there
        first-in first-out; the whole quantity prints."""
        book = self.books[symbol]
        t = ticks(price, book.tick)
        if not self.book_on[symbol]:
            self.markets[symbol].last = price
            self.print_trade(symbol, price, qty, buyer_maker=aggressor == "SELL")
            self._match_resting_flat(symbol)
            book.move_to(t)
            self.on_book(symbol)
            return
        self.market_move(symbol, t - book.spread if aggressor == "BUY" else t)
        side = ASK if aggressor == "BUY" else BID
        result = book.trade_at_touch(side, qty, t)
        ours = ZERO
        if result is not None:
            for maker, got in result.fills:
                if isinstance(maker, SimOrder) and maker.is_open:
                    before = maker.executed
                    self._maker_fill(maker, got, maker.price)
                    ours += maker.executed - before
            book.maker_changed(side, t)
        if qty - ours > 0:
            self.print_trade(symbol, price, qty - ours, buyer_maker=aggressor == "SELL")
        self.markets[symbol].last = price
        self.on_book(symbol)

    def external_quote(self, symbol: str, bid: Decimal, ask: Decimal) -> None:
        """The top of the book (a replayed bookTicker row): the market's best bid and ask move there."""
        book = self.books[symbol]
        bid_t, ask_t = ticks(bid, book.tick), ticks(ask, book.tick)
        book.spread = max(1, ask_t - bid_t)
        self.market_move(symbol, bid_t)
        book.ask_t = book.bid_t + book.spread

    def print_trade(self, symbol: str, price: Decimal, qty: Decimal, *, buyer_maker: bool) -> None:
        """A trade between other market participants (a public trade with its own id)."""
        self.on_public_trade(symbol, price, qty, buyer_maker, self.clock(), self.next_id("trade_id"))
        self.markets[symbol].last = price

    def refill(self, symbol: str, seconds: float) -> None:
        book = self.books[symbol]
        if book.deficit:
            book.refill(seconds)
            self.on_book(symbol)

    def market_prices(self, symbol: str, *, mark: Decimal | None = None, index: Decimal | None = None) -> None:
        """The market model's mark and index moved: triggers and liquidation are checked."""
        market = self.markets[symbol]
        if mark is not None:
            market.mark = mark
        if index is not None:
            market.index = index
        self._check_triggers(symbol)
        self._after()

    def set_liquidity(self, symbol: str, max_fill_qty: Decimal | None) -> None:
        self.market(symbol).max_fill_qty = max_fill_qty
        self.on_change()

    # == funding ================================================================================
    def settle_funding(self, symbol: str, rate: Decimal | None = None, *, when: int | None = None) -> Decimal:
        """Settle the symbol's funding at the current mark: ``rate`` (control API, replayed file) or the rate
        the premium index gives. Each side pays ``d × amount × mark × rate`` (longs pay a positive rate); the
        symbol's total is one income row and one ACCOUNT_UPDATE m=FUNDING_FEE with the same time."""
        market = self.market(symbol)
        state = self.funding[symbol]
        now = when if when is not None else self.clock()
        applied = rate if rate is not None else state.rate
        state.settle(now, market.mark, applied)
        if rate is not None:
            state.set_rate(rate)  # a rate set from outside stays shown until it is replaced
        market.funding_rate = state.rate
        market.next_funding_time = state.next_time
        self.on_mark(symbol)
        held = [p for p in self.account.positions.values() if p.symbol == symbol and p.amount != 0]
        total = ZERO
        for pos in held:
            direction = side_sign(pos.position_side) if pos.position_side != "BOTH" else 1
            total -= pos.amount * direction * market.mark * applied
        total = money(total)
        self.last_funding_time = now
        if not held:
            self.on_change()
            return ZERO
        self.account.wallet += total
        self._income(symbol, "FUNDING_FEE", total, now, "")
        self._emit_account("FUNDING_FEE", [], now, change=total, symbol=symbol)
        self._after()
        return total

    def funding_due(self, now: int) -> list[str]:
        return [s for s, state in self.funding.items() if now >= state.next_time]

    def sample_premium(self, symbol: str, premium: Decimal) -> None:
        state = self.funding[symbol]
        state.sample(premium)
        self.markets[symbol].funding_rate = state.rate

    # == time ===================================================================================
    def expire_due(self, now: int) -> None:
        """GTD orders past their goodTillDate expire; countdownCancelAll deadlines cancel their symbol."""
        for order in self.open_orders():
            if order.time_in_force == "GTD" and 0 < order.good_till <= now:
                self._finish(order, "EXPIRED")
        for symbol, (deadline, _span) in list(self.account.countdowns.items()):
            if now >= deadline:
                del self.account.countdowns[symbol]
                for order in self.open_orders(symbol):
                    self._finish(order, "CANCELED")
        self.on_change()

    # == risk ===================================================================================
    def _after(self) -> None:
        """After anything that moves money or prices: margin call and liquidation checks."""
        self._check_liquidation()
        self.on_change()

    def _check_liquidation(self) -> None:
        if self._liquidating:
            return
        ratio = self.risk.margin_ratio()
        if ratio is None:
            self._margin_called = False
            return
        if ratio < MARGIN_CALL_RESET:
            self._margin_called = False
        elif ratio >= MARGIN_CALL_RATIO and not self._margin_called and ratio < 1:
            self._margin_called = True
            self.on_user_event(self.margin_call())
        if ratio >= 1:
            self._liquidating = True
            try:
                self._liquidate()
            finally:
                self._liquidating = False
                self._margin_called = False

    def _liquidate(self) -> None:
        """Cancel everything, close every position with autoclose- LIQUIDATION orders, clear the insurance fee."""
        now = self.clock()
        for order in self.open_orders():
            self._finish(order, "EXPIRED", reason="5")
        for algo in self.open_algos():
            algo.status = "EXPIRED"
            algo.update_time = now
            self._emit_algo(algo)
        held = sorted(self.risk.positions(), key=lambda p: abs(self.risk.notional(p)), reverse=True)
        closed: dict[str, Decimal] = {}
        for seq, pos in enumerate(held):
            if pos.amount == 0:
                continue
            symbol = pos.symbol
            spec = self.specs[symbol]
            side = closing_side(pos.position_side) if pos.position_side != "BOTH" else (
                "SELL" if pos.amount > 0 else "BUY")
            qty = abs(pos.amount)
            limit = self.risk.bankruptcy_price(symbol) or self.markets[symbol].mark
            order_id = self.next_id("order_id")
            order = SimOrder(
                order_id=order_id, client_order_id=f"autoclose-{now}{seq:06d}", symbol=symbol, side=side,
                position_side=pos.position_side, type="LIQUIDATION", orig_type="LIQUIDATION", time_in_force="IOC",
                qty=qty, price=(limit / spec.tick).to_integral_value() * spec.tick, stop_price=ZERO,
                working_type="CONTRACT_PRICE", status="NEW", time=now, update_time=now, stp="NONE",
                priority=order_id, liquidation=True)
            self.account.orders[order.order_id] = order
            self.account.force_orders.append(order.order_id)
            self._emit_order(order, "NEW")
            cap = self.markets[symbol].max_fill_qty
            self.markets[symbol].max_fill_qty = None
            try:
                if self.book_on[symbol]:
                    self._take_book(order)
                else:
                    self._take_flat(order)
            finally:
                self.markets[symbol].max_fill_qty = cap
            if order.is_open and order.remaining > 0:
                self._finish(order, "EXPIRED", reason="5")
            closed[symbol] = closed.get(symbol, ZERO) + order.cum_quote
            self.on_force_order(order)
        if not closed:
            return
        left = self.account.wallet
        fees = {s: money(n * Decimal(self.specs[s].liquidation_fee)) for s, n in closed.items()}
        total_fee = min(max(left, ZERO), sum(fees.values(), ZERO))
        change = -total_fee
        remaining = total_fee
        biggest = max(closed, key=lambda s: closed[s])
        rows: dict[str, Decimal] = {}
        for symbol in sorted(fees, key=lambda s: s != biggest):
            part = min(remaining, fees[symbol])
            rows[symbol] = -part
            remaining -= part
        after = left - total_fee
        if after < 0:
            rows[biggest] = rows.get(biggest, ZERO) - after
            change -= after
            after = ZERO
        self.account.wallet = after
        for symbol, amount in rows.items():
            if amount != 0:
                self._income(symbol, "INSURANCE_CLEAR", money(amount), now, "")
        self._emit_account("INSURANCE_CLEAR", [], now, change=money(change))

    def margin_call(self) -> w.MarginCall:
        rows = []
        for pos in self.risk.positions():
            spec = self.specs[pos.symbol]
            rows.append(w.MarginCallPosition(
                s=pos.symbol, ps=pos.position_side, pa=fixed(self.risk.signed(pos), spec.quantity_precision),
                mt="CROSSED", iw="0", mp=fixed(self.markets[pos.symbol].mark, 8),
                up=fixed(self.risk.unrealized(pos), 8), mm=fixed(money(self.risk.maintenance(pos)), 8)))
        return w.MarginCall(E=self.clock(), cw=fixed(money(self.account.wallet), 8), p=rows)

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
            q=fixed(order.qty, qp), p=fixed(order.price, pp), ap=average(order, pp),
            sp=fixed(order.stop_price, pp), x=x, X=order.status, i=order.order_id,
            l=fixed(trade.qty if trade else ZERO, qp), z=fixed(order.executed, qp),
            L=fixed(trade.price if trade else ZERO, pp), N="USDT",
            n=fixed(trade.commission, 8) if trade else "0",
            T=trade.time if trade else order.update_time, t=trade.trade_id if trade else 0,
            b=fixed(self._notional(order.symbol, "BUY"), 5), a=fixed(self._notional(order.symbol, "SELL"), 5),
            m=trade.maker if trade else False, R=order.reduce_only, wt=order.working_type, ot=order.orig_type,
            ps=order.position_side, cp=order.close_position,
            AP=fixed(algo.activate_price, pp) if trailing and algo and algo.activate_price else "0",
            cr=str(algo.callback_rate) if trailing and algo and algo.callback_rate else "0",
            pP=order.price_protect, si=0, ss=0, rp=fixed(trade.realized_pnl if trade else ZERO, 8),
            V=order.stp, pm=order.price_match, gtd=order.good_till, er=order.expire_reason)
        return w.OrderTradeUpdate(E=now, T=body.T, o=body)

    def trade_lite(self, order: SimOrder, trade: SimTrade) -> w.TradeLite:
        spec = self.specs[order.symbol]
        pp, qp = spec.price_precision, spec.quantity_precision
        return w.TradeLite(E=self.clock(), T=trade.time, s=order.symbol, q=fixed(order.qty, qp),
                           p=fixed(order.price, pp), m=trade.maker, c=order.client_order_id, S=order.side,
                           L=fixed(trade.price, pp), l=fixed(trade.qty, qp), t=trade.trade_id, i=order.order_id)

    def _emit_order(self, order: SimOrder, x: str, trade: SimTrade | None = None) -> None:
        self.journal.order(order)
        self.on_user_event(self.order_update(order, x, trade))

    def account_update(self, reason: str, positions: Iterable[SimPosition], now: int, *,
                       change: Decimal = ZERO, symbol: str | None = None) -> w.AccountUpdate:
        wallet = fixed(money(self.account.wallet), 8)
        rows = []
        for pos in positions:
            spec = self.specs[pos.symbol]
            rows.append(w.AccountUpdatePosition(
                s=pos.symbol, pa=fixed(self.risk.signed(pos), spec.quantity_precision),
                ep=fixed(money(pos.entry_price), 5), bep=fixed(money(self.risk.break_even(pos)), 5),
                cr=fixed(pos.realized, 8), up=fixed(self.unrealized(pos), 8), mt="cross", iw="0",
                ps=pos.position_side, ma="USDT"))
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
        unset: Any = msgspec.UNSET
        if algo.status == "TRIGGERING":
            ap = aq = act = unset
        elif child is not None:
            ap, aq, act = average(child, pp), fixed(child.executed, qp), child.type
        else:
            ap, aq, act = "0", "0", "0"
        body = w.AlgoUpdateOrder(
            caid=algo.client_algo_id, aid=algo.algo_id, at="CONDITIONAL", o=algo.order_type, s=algo.symbol,
            S=algo.side, ps=algo.position_side, f=algo.time_in_force, q=fixed(algo.qty, qp), X=algo.status,
            ai=str(algo.actual_order_id) if algo.actual_order_id is not None else "", ap=ap, aq=aq, act=act,
            tp=fixed(algo.trigger_price, pp), p=fixed(algo.price, pp), V=algo.stp, wt=algo.working_type,
            pm="NONE", cp=algo.close_position, pP=algo.price_protect, R=algo.reduce_only, tt=algo.trigger_time,
            gtd=algo.good_till, rm=algo.reject_reason if algo.reject_reason is not None else unset)
        return w.AlgoUpdate(T=algo.update_time, E=self.clock(), o=body)

    def _emit_algo(self, algo: SimAlgo, child: SimOrder | None = None) -> None:
        self.journal.algo(algo)
        self.on_user_event(self.algo_update(algo, child))


__all__ = ["CONDITIONAL_TYPES", "Exchange", "Journal", "NullJournal", "average", "fixed", "money"]
