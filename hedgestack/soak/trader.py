"""The scripted trader of ``hedgestack soak``: a week of a discretionary trader's habits, compressed.

Six VPs on both symbols and both sides (two on BTCUSDT LONG and two on ETHUSDT SHORT, so transfers have
somewhere to go) take, at random: market entries, limit entries that later fill, get amended or get
cancelled, partial and full closes (market or limit), TP/SL set, moved and cleared, transfers between VPs of
one side, and orders "from the Binance app" (the simulator's control API) that land on UNASSIGNED. When the
orchestrator asks, a foreign close larger than UNASSIGNED holds makes a MISMATCH; whenever a side is in
MISMATCH the trader reconciles it, keeping each VP's share of the side.

The trader works in **lanes**, threads that act at once as several people at one desk would: one lane per VP
(its entries, closes, limit orders, amends, cancels, TP/SL and transfers out of it) and a desk lane (the other
app's orders, the requested MISMATCH and the reconciles). Commands on different VPs of one side therefore meet
in the engine concurrently. Every lane paces itself on the terminal's booked fill count to ``rate`` fills/s.
Refusals of the engine and of the exchange are part of trading (a close on a locked side, a TP/SL that would not
fit) and are counted by code; anything else is an error and is reported. The summary gives each action's
median and 90th-percentile duration.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import requests

from hedgestack.domain.enums import OrderRole, OrderType, PositionSide
from hedgestack.domain.errors import HedgestackError, VenueRejected

if TYPE_CHECKING:
    from collections.abc import Callable

    from hedgestack.engine.terminal import Terminal

#: (symbol, side, name) of the VPs the trader keeps.
PLAN: tuple[tuple[str, PositionSide, str], ...] = (
    ("BTCUSDT", PositionSide.LONG, "Trend"), ("BTCUSDT", PositionSide.LONG, "Swing"),
    ("BTCUSDT", PositionSide.SHORT, "Hedge"), ("ETHUSDT", PositionSide.LONG, "EthTrend"),
    ("ETHUSDT", PositionSide.SHORT, "EthShort"), ("ETHUSDT", PositionSide.SHORT, "EthScalp"),
)
#: Per symbol: the quantity step, the price tick, one fill's liquidity (orders split into fills of this
#: size, as a taker order on Binance trades once per resting maker order it meets; the soak's simulator is
#: configured with it) and the largest VP the trader lets grow.
SIZES: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {
    "BTCUSDT": (Decimal("0.001"), Decimal("0.10"), Decimal("0.002"), Decimal("0.200")),
    "ETHUSDT": (Decimal("0.001"), Decimal("0.01"), Decimal("0.030"), Decimal("3.000")),
}
#: An entry is this many fills' liquidity (at random): a busy desk's orders meet several makers each, and
#: Binance's 1,200 orders a minute (TP/SL resizes included) leave room for ~80 fills/s only at several fills
#: per order.
ENTRY_PIECES = (3, 16)
#: After a refusal a lane waits this long before its next look (a person reads the message; no busy loop).
REFUSAL_PAUSE = 0.05
#: The smallest entry per symbol (above the minimum notional at the start prices).
MIN_ENTRY: dict[str, Decimal] = {"BTCUSDT": Decimal("0.002"), "ETHUSDT": Decimal("0.030")}


@dataclass(frozen=True)
class VpLook:
    vp_id: str
    name: str
    symbol: str
    side: PositionSide
    qty: Decimal
    has_tpsl: bool


@dataclass(frozen=True)
class OrderLook:
    client_order_id: str
    vp_id: str
    role: OrderRole
    order_type: OrderType
    created_at: int
    remaining: Decimal


@dataclass(frozen=True)
class Look:
    """What the trader sees before each action (read on the terminal's loop)."""

    vps: tuple[VpLook, ...]
    unassigned: dict[tuple[str, PositionSide], Decimal]
    orders: tuple[OrderLook, ...]
    mismatched: tuple[tuple[str, PositionSide], ...]
    marks: dict[str, Decimal]


def _on_tick(price: Decimal, tick: Decimal) -> Decimal:
    """``price`` rounded down to a multiple of the tick size (0.10 is not an exponent: 95000.13 → 95000.10)."""
    return (price / tick).to_integral_value(ROUND_DOWN) * tick


async def _look(t: Terminal) -> Look:
    ledger = t.ledger
    vps = tuple(VpLook(v.vp_id, v.name, v.symbol, v.position_side, v.qty, v.tp_price is not None
                       or v.sl_price is not None)
                for v in ledger.vps.values() if not v.system and not v.archived)
    unassigned = {(v.symbol, v.position_side): v.qty for v in ledger.vps.values() if v.system}
    orders = tuple(OrderLook(o.client_order_id, o.vp_id, o.role, o.order_type, o.created_at, o.remaining)
                   for o in ledger.open_orders() if not o.is_algo)
    mismatched = tuple(k for k in t.truth.sides if t.truth.locked(*k))
    return Look(vps, unassigned, orders, mismatched, dict(t.market.marks))


class ScriptedTrader:
    """Trades on ``terminal`` from its own thread until :meth:`stop`."""

    def __init__(self, terminal: Terminal, control_url: str, *, rate: float, seed: int,
                 foreign_share: float = 0.12) -> None:
        self.t = terminal
        self.control = control_url.rstrip("/") + "/sim/v1"
        self.http = requests.Session()
        self.rate = rate
        self.seed = seed
        self.rng = random.Random(seed)  # the desk lane's (and the wind-down's)
        self.foreign_share = foreign_share
        self.actions: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.durations: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.reconciles = 0
        self._stop = threading.Event()
        self._want_mismatch = threading.Event()
        self._count = threading.Lock()  # the counters above, from every lane
        self._foreign_seq = 0
        self._threads: list[threading.Thread] = []
        self.vp_ids: dict[str, str] = {}

    # -- life ---------------------------------------------------------------------------------------
    def ensure_vps(self) -> None:
        """Create the plan's VPs that do not exist yet (a restarted trader finds its VPs by name)."""
        look = self.t.run_sync(_look(self.t))
        by_name = {v.name: v.vp_id for v in look.vps}
        for symbol, side, name in PLAN:
            if name not in by_name:
                by_name[name] = self.t.sync.create_vp(name, symbol, str(side)).id
        self.vp_ids = {name: by_name[name] for _, _, name in PLAN}

    def start(self) -> ScriptedTrader:
        self.ensure_vps()
        lanes: list[tuple[str, Callable[[random.Random], None]]] = [("desk", self.desk_step)]
        lanes += [(name, partial(self.vp_step, self.vp_ids[name])) for _, _, name in PLAN]
        for index, (name, step) in enumerate(lanes):
            rng = self.rng if index == 0 else random.Random(self.seed * 100 + index)
            thread = threading.Thread(target=self._run, args=(step, rng, len(lanes)), name=f"soak-{name}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def request_mismatch(self) -> None:
        """Next desk action: a foreign close larger than UNASSIGNED holds on some side."""
        self._want_mismatch.set()

    def _run(self, step: Callable[[random.Random], None], rng: random.Random, lanes: int) -> None:
        start = time.monotonic()
        base = self.t.stats.fills
        while not self._stop.is_set():
            done = self.t.stats.fills - base
            due = self.rate * (time.monotonic() - start)
            if due - done > 2 * self.rate:  # far behind (a fault, a restart): do not burst to catch up
                start, base = time.monotonic(), self.t.stats.fills
                continue
            if done >= due:
                self._stop.wait(min(0.05, (done - due + 1) / self.rate))
                continue
            step(rng)
            if lanes > 1 and step == self.desk_step:
                self._stop.wait(0.05)  # the desk acts on the side, the lanes on their VPs

    # -- one action ---------------------------------------------------------------------------------
    def desk_step(self, rng: random.Random) -> None:
        """What the desk does: heal a MISMATCH, make one when asked, trade from the other app now and then."""
        look = self.t.run_sync(_look(self.t))
        if look.mismatched:
            self._act("reconcile", lambda: self._heal(look, *look.mismatched[0]))
            return
        if self._want_mismatch.is_set():
            self._want_mismatch.clear()
            self._act("foreign_overclose", lambda: self._foreign_overclose(look, rng))
            return
        if rng.random() < self.foreign_share:
            self._act("foreign", lambda: self._foreign(look, rng))

    def vp_step(self, vp_id: str, rng: random.Random) -> None:
        """One action of a VP's lane."""
        look = self.t.run_sync(_look(self.t))
        vp = next((v for v in look.vps if v.vp_id == vp_id), None)
        mark = None if vp is None else look.marks.get(vp.symbol)
        if vp is None or mark is None:
            self._stop.wait(0.05)
            return
        step, tick, _, cap = SIZES[vp.symbol]
        mine = [o for o in look.orders if o.vp_id == vp.vp_id and o.order_type is OrderType.LIMIT]
        # what a close can still take: the VP's quantity less its resting closes (the terminal refuses more)
        free = vp.qty - sum((o.remaining for o in mine if o.role is OrderRole.CLOSE), Decimal(0))
        roll = rng.random()
        if vp.qty >= cap or (vp.qty > 0 and roll < 0.30):
            close_qty = (free * Decimal(rng.choice((25, 50, 75, 100))) / 100).quantize(step, ROUND_DOWN)
            if close_qty <= 0:
                # everything is committed to resting closes: pull one or move it to the market
                self._rework(rng, mine, mark, tick, vp.side)
            elif rng.random() < 0.8:
                self._act("close_market", lambda: self.t.sync.close_vp(vp.vp_id, qty=str(close_qty)))
            else:
                price = self._near(rng, mark, tick, vp.side, closing=True)
                self._act("close_limit", lambda: self.t.sync.close_vp(vp.vp_id, "LIMIT", qty=str(close_qty),
                                                                      price=str(price)))
        elif roll < 0.62:
            qty = self._entry_qty(rng, vp.symbol)
            self._act("entry_market", lambda: self.t.sync.place_order(vp.vp_id, str(vp.side.opening_side),
                                                                       "MARKET", str(qty)))
        elif roll < 0.72 and len(mine) < 2:
            qty = self._entry_qty(rng, vp.symbol)
            price = self._near(rng, mark, tick, vp.side, closing=False)
            self._act("entry_limit", lambda: self.t.sync.place_order(
                vp.vp_id, str(vp.side.opening_side), "LIMIT", str(qty), str(price), time_in_force="GTC"))
        elif roll < 0.78 and mine:
            self._rework(rng, mine, mark, tick, vp.side)
        elif roll < 0.90 and vp.qty > 0:
            if vp.has_tpsl and rng.random() < 0.2:
                self._act("tpsl_clear", lambda: self.t.sync.clear_tpsl(vp.vp_id))
            else:
                tp, sl = self._tpsl_prices(rng, mark, tick, vp.side)
                self._act("tpsl_set", lambda: self.t.sync.set_tpsl(vp.vp_id, tp_price=str(tp), sl_price=str(sl)))
        elif vp.qty > 0:
            others = [o for o in look.vps if o.symbol == vp.symbol and o.side == vp.side and o.vp_id != vp.vp_id]
            if others:
                qty = max(step, (vp.qty * Decimal(rng.choice((25, 50))) / 100).quantize(step, ROUND_DOWN))
                self._act("transfer", lambda: self.t.sync.transfer(vp.vp_id, rng.choice(others).vp_id,
                                                                   str(min(qty, vp.qty))))
        else:
            qty = self._entry_qty(rng, vp.symbol)
            self._act("entry_market", lambda: self.t.sync.place_order(vp.vp_id, str(vp.side.opening_side),
                                                                       "MARKET", str(qty)))

    def _rework(self, rng: random.Random, mine: list[OrderLook], mark: Decimal, tick: Decimal,
                side: PositionSide) -> None:
        """Cancel one of the VP's resting limit orders, or move it to a new price."""
        if not mine:
            return
        order = rng.choice(mine)
        if rng.random() < 0.5:
            self._act("cancel", lambda: self.t.sync.cancel_order(order.client_order_id))
        else:
            price = self._near(rng, mark, tick, side, closing=order.role is OrderRole.CLOSE)
            self._act("amend", lambda: self.t.sync.amend_order(order.client_order_id, price=str(price)))

    def _act(self, name: str, action: Callable[[], Any]) -> None:
        began = time.perf_counter()
        refusal: str | None = None
        error: str | None = None
        try:
            action()
        except VenueRejected as exc:
            refusal = f"binance {exc.binance_code}"
        except HedgestackError as exc:
            refusal = exc.code
        except Exception as exc:  # noqa: BLE001 - reported, the soak goes on
            error = f"{name}: {type(exc).__name__}: {exc}"
        took = time.perf_counter() - began
        with self._count:
            self.actions[name] += 1
            self.durations.setdefault(name, []).append(took)
            if refusal is not None:
                self.refusals[refusal] += 1
            if error is not None:
                self.errors.append(error)
        if refusal is not None or error is not None:
            self._stop.wait(REFUSAL_PAUSE)

    # -- sizes and prices ---------------------------------------------------------------------------
    def _entry_qty(self, rng: random.Random, symbol: str) -> Decimal:
        step, _, piece, _ = SIZES[symbol]
        pieces = rng.randint(*ENTRY_PIECES)
        return max(MIN_ENTRY[symbol], (piece * pieces).quantize(step))

    def _near(self, rng: random.Random, mark: Decimal, tick: Decimal, side: PositionSide, *,
              closing: bool) -> Decimal:
        """A limit price a few basis points on the passive side (it fills when the walk comes to it)."""
        bps = Decimal(rng.randint(1, 8)) / 10_000
        buying = (side is PositionSide.LONG) != closing
        return _on_tick(mark * (1 - bps) if buying else mark * (1 + bps), tick)

    def _tpsl_prices(self, rng: random.Random, mark: Decimal, tick: Decimal,
                     side: PositionSide) -> tuple[Decimal, Decimal]:
        up = Decimal(rng.randint(8, 40)) / 10_000
        down = Decimal(rng.randint(8, 40)) / 10_000
        if side is PositionSide.LONG:
            return _on_tick(mark * (1 + up), tick), _on_tick(mark * (1 - down), tick)
        return _on_tick(mark * (1 - down), tick), _on_tick(mark * (1 + up), tick)

    # -- the other app --------------------------------------------------------------------------------
    def _foreign_order(self, symbol: str, side: PositionSide, *, closing: bool, qty: Decimal) -> None:
        self._foreign_seq += 1
        order_side = side.closing_side if closing else side.opening_side
        resp = self.http.post(self.control + "/external-order", timeout=10, json={
            "symbol": symbol, "side": str(order_side), "positionSide": str(side), "type": "MARKET",
            "quantity": str(qty), "clientOrderId": f"web_soak{self.t.stats.fills}_{self._foreign_seq}"})
        if resp.status_code != 200:
            with self._count:
                self.refusals[f"binance {resp.json().get('code')}"] += 1

    def _foreign(self, look: Look, rng: random.Random) -> None:
        symbol, side, _ = rng.choice(PLAN)
        held = look.unassigned.get((symbol, side), Decimal(0))
        step = SIZES[symbol][0]
        if held >= MIN_ENTRY[symbol] and rng.random() < 0.4:
            # a close from the app that UNASSIGNED can take: the side stays consistent
            qty = (held / 2).quantize(step, ROUND_DOWN)
            self._foreign_order(symbol, side, closing=True, qty=max(qty, MIN_ENTRY[symbol]) if qty <= held
                                else held)
        else:
            self._foreign_order(symbol, side, closing=False, qty=self._entry_qty(rng, symbol))

    def _foreign_overclose(self, look: Look, rng: random.Random) -> None:
        """A close from the app of more than UNASSIGNED holds: no VP can take it, so the side mismatches."""
        sides = {(v.symbol, v.side): Decimal(0) for v in look.vps}
        for v in look.vps:
            sides[(v.symbol, v.side)] += v.qty
        candidates = [(k, q) for k, q in sides.items() if q >= MIN_ENTRY[k[0]]]
        if not candidates:
            with self._count:
                self.refusals["NOTHING_TO_OVERCLOSE"] += 1
            return
        (symbol, side), held = rng.choice(candidates)
        spare = look.unassigned.get((symbol, side), Decimal(0))
        self._foreign_order(symbol, side, closing=True, qty=spare + MIN_ENTRY[symbol])

    def _heal(self, look: Look, symbol: str, side: PositionSide) -> None:
        """Reconcile a side in MISMATCH, keeping each VP's share of what the exchange holds."""
        exchange_qty = self.t.sync.state().external_position(symbol, side).qty
        mine = [v for v in look.vps if v.symbol == symbol and v.side == side]
        total = sum((v.qty for v in mine), Decimal(0)) + look.unassigned.get((symbol, side), Decimal(0))
        step = SIZES[symbol][0]
        assignments = []
        for v in mine:
            share = (v.qty * exchange_qty / total).quantize(step, ROUND_DOWN) if total > 0 else Decimal(0)
            assignments.append({"virtual_position_id": v.vp_id, "qty": str(share)})
        self.t.sync.reconcile(symbol, str(side), assignments)
        with self._count:
            self.reconciles += 1

    # -- the end ------------------------------------------------------------------------------------
    def wind_down(self) -> None:
        """Cancel every open order and clear every TP/SL, so nothing more trades while the books are checked."""
        look = self.t.run_sync(_look(self.t))
        for order in look.orders:
            self._act("cancel", partial(self.t.sync.cancel_order, order.client_order_id))
        for vp in look.vps:
            if vp.has_tpsl:
                self._act("tpsl_clear", partial(self.t.sync.clear_tpsl, vp.vp_id))

    def heal_all(self) -> None:
        look = self.t.run_sync(_look(self.t))
        for symbol, side in look.mismatched:
            self._act("reconcile", partial(self._heal, look, symbol, side))

    def summary(self) -> dict[str, Any]:
        with self._count:
            took = {name: {"p50_ms": round(statistics.median(d) * 1000, 1),
                           "p90_ms": round(sorted(d)[int(len(d) * 0.9)] * 1000, 1)}
                    for name, d in sorted(self.durations.items()) if d}
            return {"actions": dict(self.actions), "refusals": dict(self.refusals), "errors": self.errors[:50],
                    "error_count": len(self.errors), "reconciles": self.reconciles, "action_ms": took}


__all__ = ["PLAN", "ScriptedTrader"]
