"""A model-based attack on the Terminal: random interleavings of everything a trader, the market, other apps and the
network do, with the invariants checked after every step.

Each example starts a fresh simulated account (persisted, so the simulator itself can be restarted) and a terminal
on a fresh data directory, then runs a sequence of rules: create/archive VPs; market, limit and stop entries;
closes by % and quantity, market and limit; TP/SL set, moved and cleared; amend; cancel; transfer; reconcile of a
MISMATCH; price moves that fill resting orders and trigger TP/SL; trades "from another app" that open and close;
funding; user-stream disconnects, pauses and duplicates; lost REST answers; 429 bursts; clean terminal restarts;
simulator restarts with its persisted state; and a fresh simulator on the same data directory (refused).

After every step, once the terminal has settled (every exchange trade in the book, nothing pending, TP/SL idle):

- DESIGN.md's invariants 1–5 (the audit against the simulator's own record: nothing lost, doubled or
  misattributed, intents before trades, no orphan orders);
- honest status: a side that says OK has Σ VP == the exchange's quantity; a side whose VPs differ from the
  exchange beyond the grace period says MISMATCH;
- protection: a VP that holds quantity with TP/SL configured has both legs live with its quantity, or its status
  is ERROR with a reason;
- the state equals a replay of the log from zero.

A failing sequence shrinks (hypothesis) to a short program; paste it into ``test_stateful_regressions.py``.
CI runs the ``ci`` profile (a few minutes); ``pytest --hypothesis-profile=long tests/engine/test_stateful.py``
runs many more.
"""

from __future__ import annotations

import shutil
import tempfile
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from hedgestack.domain.errors import HedgestackError
from hedgestack.engine.identity import LedgerOfAnotherVenue
from hedgestack.engine.terminal import Terminal
from hedgestack.engine.views import SideStatus
from hedgestack.venue.sim import SimConfig, SimServer
from tests.support.simctl import Control, wait_until

pytestmark = [pytest.mark.slow]

D = Decimal
SYMBOLS = ("BTCUSDT", "ETHUSDT")
BASE = {"BTCUSDT": D(95000), "ETHUSDT": D(3500)}
TICK = {"BTCUSDT": D("0.1"), "ETHUSDT": D("0.01")}
STEP = {"BTCUSDT": D("0.001"), "ETHUSDT": D("0.001")}
UNIT = {"BTCUSDT": D("0.002"), "ETHUSDT": D("0.05")}  # above the minimum notional at the base prices

#: the ``long`` profile (registered in tests/conftest.py) runs many more and longer sequences
LONG = settings.default.max_examples >= 200
if LONG:
    pytestmark.append(pytest.mark.timeout(0))  # a long run is many minutes by design


def _on_tick(symbol: str, price: Decimal) -> Decimal:
    return (price / TICK[symbol]).to_integral_value(ROUND_DOWN) * TICK[symbol]


class TerminalMachine(RuleBasedStateMachine):
    vps = Bundle("vps")

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="hedgestack-stateful-"))
        self.sim_state = self.root / "simulator.sqlite"
        self.sim = self._start_sim()
        self.control = Control(self.sim.url)
        self.prices = dict(BASE)
        for symbol, price in self.prices.items():
            self.control.price(symbol, str(price), str(price))
        self.t = self._terminal()
        self.names = 0

    # -- plumbing ----------------------------------------------------------------------------------
    def _start_sim(self) -> SimServer:
        return SimServer.start_in_thread(SimConfig(market="static", seed=7, persist=str(self.sim_state)))

    def _terminal(self) -> Terminal:
        return Terminal.sim(self.root / "data", sim_url=self.sim.url, poll_interval=1.0, mismatch_grace=0.5,
                            publish_interval=1.0, check_invariants_live=True).start_sync()

    def teardown(self) -> None:
        try:
            self.t.stop_sync()
        finally:
            self.sim.stop()
            shutil.rmtree(self.root, ignore_errors=True)

    def _try(self, call: Any) -> Any:
        """A command's refusal is a typed error (part of the model: refusals send nothing)."""
        try:
            return call()
        except HedgestackError as exc:
            assert exc.code and exc.message
            return None

    def _live_vps(self) -> list[Any]:
        return [v for v in self.t.sync.state().virtual_positions if not v.system and not v.archived]

    # -- VPs ---------------------------------------------------------------------------------------
    @initialize(target=vps)
    def first_vp(self) -> str:
        return self.t.sync.create_vp("first", "BTCUSDT", "LONG").id

    @rule(target=vps, symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(("LONG", "SHORT")))
    def create_vp(self, symbol: str, side: str) -> str:
        self.names += 1
        return self.t.sync.create_vp(f"vp{self.names}", symbol, side).id

    @rule(vp=vps)
    def archive(self, vp: str) -> None:
        self._try(lambda: self.t.sync.archive_vp(vp))

    # -- orders ------------------------------------------------------------------------------------
    def _vp(self, vp_id: str) -> Any:
        try:
            return self.t.sync.vp(vp_id)
        except HedgestackError:
            return None

    @rule(vp=vps, units=st.integers(1, 3))
    def market_entry(self, vp: str, units: int) -> None:
        view = self._vp(vp)
        if view is None:
            return
        side = "BUY" if view.position_side == "LONG" else "SELL"
        self._try(lambda: self.t.sync.place_order(vp, side, "MARKET", str(UNIT[view.symbol] * units)))

    @rule(vp=vps, ticks=st.integers(1, 30))
    def limit_entry(self, vp: str, ticks: int) -> None:
        view = self._vp(vp)
        if view is None:
            return
        long = view.position_side == "LONG"
        price = _on_tick(view.symbol, self.prices[view.symbol] + (-1 if long else 1) * ticks * TICK[view.symbol] * 10)
        self._try(lambda: self.t.sync.place_order(vp, "BUY" if long else "SELL", "LIMIT", str(UNIT[view.symbol]),
                                                  str(price)))

    @rule(vp=vps, ticks=st.integers(5, 40))
    def stop_entry(self, vp: str, ticks: int) -> None:
        view = self._vp(vp)
        if view is None:
            return
        long = view.position_side == "LONG"
        trigger = _on_tick(view.symbol, self.prices[view.symbol] + (1 if long else -1) * ticks * TICK[view.symbol] * 10)
        self._try(lambda: self.t.sync.place_order(vp, "BUY" if long else "SELL", "STOP_MARKET", str(UNIT[view.symbol]),
                                                  trigger_price=str(trigger)))

    @rule(vp=vps, percent=st.sampled_from(("25", "50", "75", "100")), limit=st.booleans())
    def close_percent(self, vp: str, percent: str, limit: bool) -> None:
        view = self._vp(vp)
        if view is None:
            return
        if limit:
            long = view.position_side == "LONG"
            price = _on_tick(view.symbol, self.prices[view.symbol] * (D("1.002") if long else D("0.998")))
            self._try(lambda: self.t.sync.close_vp(vp, "LIMIT", percent=percent, price=str(price)))
        else:
            self._try(lambda: self.t.sync.close_vp(vp, percent=percent))

    @rule(vp=vps, units=st.integers(1, 2))
    def close_qty(self, vp: str, units: int) -> None:
        view = self._vp(vp)
        if view is None:
            return
        self._try(lambda: self.t.sync.close_vp(vp, qty=str(STEP[view.symbol] * units)))

    @rule(vp=vps, tp=st.integers(5, 50), sl=st.integers(5, 50), which=st.sampled_from(("both", "tp", "sl")))
    def set_tpsl(self, vp: str, tp: int, sl: int, which: str) -> None:
        view = self._vp(vp)
        if view is None:
            return
        sign = 1 if view.position_side == "LONG" else -1
        unit = self.prices[view.symbol] / 1000
        tp_price = _on_tick(view.symbol, self.prices[view.symbol] + sign * tp * unit)
        sl_price = _on_tick(view.symbol, self.prices[view.symbol] - sign * sl * unit)
        kwargs = {"tp_price": str(tp_price)} if which == "tp" else {"sl_price": str(sl_price)} if which == "sl" \
            else {"tp_price": str(tp_price), "sl_price": str(sl_price)}
        self._try(lambda: self.t.sync.set_tpsl(vp, **kwargs))

    @rule(vp=vps)
    def clear_tpsl(self, vp: str) -> None:
        self._try(lambda: self.t.sync.clear_tpsl(vp))

    def _open_orders(self) -> list[Any]:
        return [o for o in self.t.sync.state().open_orders if o.role not in ("TP", "SL")]

    @rule(index=st.integers(0, 10), ticks=st.integers(-5, 5))
    def amend(self, index: int, ticks: int) -> None:
        orders = [o for o in self._open_orders() if o.type == "LIMIT"]
        if orders:
            order = orders[index % len(orders)]
            assert order.price is not None
            price = _on_tick(order.symbol, order.price + ticks * TICK[order.symbol] * 10)
            self._try(lambda: self.t.sync.amend_order(order.client_order_id, price=str(price)))

    @rule(index=st.integers(0, 10))
    def cancel(self, index: int) -> None:
        orders = self._open_orders()
        if orders:
            self._try(lambda: self.t.sync.cancel_order(orders[index % len(orders)].client_order_id))

    @rule(a=vps, b=vps, units=st.integers(1, 3))
    def transfer(self, a: str, b: str, units: int) -> None:
        view = self._vp(a)
        if view is not None:
            self._try(lambda: self.t.sync.transfer(a, b, str(STEP[view.symbol] * units)))

    @rule()
    def reconcile_mismatches(self) -> None:
        state = self.t.sync.state()
        for symbol, sides in state.reconcile_detail.items():
            for side, detail in sides.items():
                if detail.status is not SideStatus.MISMATCH:
                    continue
                mine = [v for v in state.virtual_positions if v.symbol == symbol and v.position_side == side
                        and not v.system and not v.archived]
                total = sum((v.net_qty for v in mine), D(0))
                assignments = []
                for v in mine:
                    share = (v.net_qty * detail.exchange_qty / total).quantize(STEP[symbol], ROUND_DOWN) \
                        if total > 0 else D(0)
                    assignments.append({"virtual_position_id": v.id, "qty": str(min(share, detail.exchange_qty))})
                self._try(lambda s=symbol, p=side, a=assignments: self.t.sync.reconcile(s, p, a))

    # -- the market and other apps -----------------------------------------------------------------
    @rule(symbol=st.sampled_from(SYMBOLS), move=st.integers(-30, 30))
    def move_price(self, symbol: str, move: int) -> None:
        price = _on_tick(symbol, self.prices[symbol] * (1 + D(move) / 1000))
        price = min(max(price, BASE[symbol] * D("0.9")), BASE[symbol] * D("1.1"))
        self.prices[symbol] = _on_tick(symbol, price)
        self.control.price(symbol, str(self.prices[symbol]), str(self.prices[symbol]))

    @rule(symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(("LONG", "SHORT")), opening=st.booleans(),
          units=st.integers(1, 2))
    def foreign_trade(self, symbol: str, side: str, opening: bool, units: int) -> None:
        held = self.control.account()
        amount = next((abs(D(str(p["positionAmt"]))) for p in held["positions"]
                       if p["symbol"] == symbol and p["positionSide"] == side), D(0))
        qty = UNIT[symbol] * units if opening else min(amount, STEP[symbol] * units)
        if qty <= 0:
            return
        order_side = ("BUY" if side == "LONG" else "SELL") if opening else ("SELL" if side == "LONG" else "BUY")
        self.control.post("/external-order", {"symbol": symbol, "side": order_side, "positionSide": side,
                                              "type": "MARKET", "quantity": str(qty)})

    @rule(symbol=st.sampled_from(SYMBOLS), rate=st.sampled_from(("0.0001", "-0.0002", "0.0003")))
    def funding(self, symbol: str, rate: str) -> None:
        self.control.post("/funding", {"symbol": symbol, "rate": rate})

    # -- faults and restarts -----------------------------------------------------------------------
    @rule(kind=st.sampled_from(("disconnect_user_stream", "duplicate_events", "lose_rest_response", "rate_limit",
                                "pause_user_stream", "expire_listen_key")))
    def fault(self, kind: str) -> None:
        data: dict[str, Any] = {"seconds": 0.5} if kind == "pause_user_stream" else \
            {"count": 3} if kind in ("duplicate_events", "rate_limit", "lose_rest_response") else {}
        self.control.fault(kind, **data)

    @rule()
    def restart_terminal(self) -> None:
        self.t.stop_sync()
        self.t = self._terminal()

    @rule()
    def restart_simulator(self) -> None:
        """The simulator goes down and comes back from its persisted state (a new port: the terminal follows)."""
        self.t.stop_sync()
        self.sim.stop()
        self.sim = self._start_sim()
        self.control = Control(self.sim.url)
        for symbol, price in self.prices.items():
            self.control.price(symbol, str(price), str(price))
        self.t = self._terminal()

    @rule()
    def fresh_simulator_is_refused(self) -> None:
        """Another exchange on this data directory: refused, nothing written; the real one goes on."""
        self.t.stop_sync()
        other = SimServer.start_in_thread(SimConfig(market="static", seed=8))
        try:
            Control(other.url).price("BTCUSDT", "95000")
            stranger = Terminal.sim(self.root / "data", sim_url=other.url, poll_interval=0.3)
            with pytest.raises(LedgerOfAnotherVenue):
                stranger.start_sync()
            stranger.stop_sync()
        finally:
            other.stop()
        self.t = self._terminal()

    # -- the invariants ------------------------------------------------------------------------------
    def _settle(self) -> None:
        def done() -> bool:
            truth = self.control.account()
            count = self.t.run_sync(self.t.inspect(lambda ledger: ledger.trade_count))
            return count == len(truth["trades"]) and self.t.tpsl.idle()

        wait_until(done, timeout=30, interval=0.05)
        self.t.sync.wait_idle(timeout=30)

    @invariant()
    def books_agree_with_the_exchange(self) -> None:
        self._settle()
        truth = self.control.account()
        report = self.t.sync.audit(truth, check_sides=False)
        assert report.ok, report.as_dict()
        assert report.logged == report.trades == len(truth["trades"])
        assert self.t.sync.replay_equal()
        exchange = {(p["symbol"], p["positionSide"]): abs(D(str(p["positionAmt"]))) for p in truth["positions"]}

        def honest() -> bool:
            state = self.t.sync.state()
            for symbol, sides in state.reconcile_detail.items():
                for side, detail in sides.items():
                    theirs = exchange.get((symbol, side), D(0))
                    if detail.status is SideStatus.OK and detail.vp_qty != theirs:
                        raise AssertionError(f"{symbol} {side} says OK: VPs {detail.vp_qty}, exchange {theirs}")
                    if detail.vp_qty != theirs and detail.status is not SideStatus.MISMATCH:
                        return False  # inside its grace period: look again
            return True

        wait_until(honest, timeout=10, interval=0.1)

    @invariant()
    def every_position_is_protected(self) -> None:
        def protected() -> bool:
            truth = self.control.account()
            legs: dict[str, list[dict[str, Any]]] = {}
            for leg in truth["open_algo_orders"]:
                legs.setdefault(str(leg["clientAlgoId"])[3:9], []).append(leg)
            for vp in self.t.sync.state().virtual_positions:
                tpsl = vp.tpsl
                if vp.system or vp.net_qty == 0 or tpsl is None or (tpsl.tp_price is None and tpsl.sl_price is None):
                    continue
                if tpsl.sync_status == "ERROR":
                    assert tpsl.sync_reason, vp
                    continue
                closing = "SELL" if vp.position_side == "LONG" else "BUY"  # a stop *entry* is not a leg
                mine = [leg for leg in legs.get(vp.id[3:9], []) if leg["orderType"] in
                        ("TAKE_PROFIT_MARKET", "STOP_MARKET") and leg["side"] == closing]
                wanted = {"TAKE_PROFIT_MARKET"} if tpsl.sl_price is None else {"STOP_MARKET"} \
                    if tpsl.tp_price is None else {"TAKE_PROFIT_MARKET", "STOP_MARKET"}
                if {leg["orderType"] for leg in mine} != wanted or len(mine) != len(wanted):
                    return False
            return True

        wait_until(protected, timeout=15, interval=0.1)


TestTerminalMachine = TerminalMachine.TestCase
TestTerminalMachine.settings = settings(max_examples=200 if LONG else 8, stateful_step_count=40 if LONG else 12,
                                        deadline=None, suppress_health_check=list(HealthCheck))
