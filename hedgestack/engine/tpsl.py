"""TP/SL lifecycle per VP: one TP (TAKE_PROFIT_MARKET, default trigger LAST) and one SL (STOP_MARKET,
default trigger MARK), each an algo order whose quantity follows the VP.

Rule: the legs carry ``net_qty − open closes`` (rounded down to the step), so that open closes +
max(TP, SL) never exceed net_qty (invariant 3). One window cannot be closed from here: Binance has no
atomic OCO for conditional orders, so between a leg's trigger and its sibling's cancel (sent the moment the
ALGO_UPDATE says TRIGGERING) both exist; the invariant is checked when no leg is in flight.
Any change — a fill, a close placed or gone, a transfer,
a reconcile, a new price — re-syncs the VP by cancel + create (untriggered conditional orders cannot be
modified on Binance). Cancels always come before creates, so the guard holds at every instant. When one
leg fills, the other is cancelled and the VP's TP/SL is cleared (one-cancels-other); when the VP is flat,
both go. Status: SYNCING → OK, or ERROR with the reason, retried with back-off; a MISMATCH on the side
locks creation (cancelling stays allowed).
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from hedgestack.domain.enums import OrderRole, OrderStatus, OrderType, SyncStatus, TriggerType
from hedgestack.domain.errors import HedgestackError
from hedgestack.domain.events import TpSlSet, TpSlSync
from hedgestack.domain.ledger import OrderBook
from hedgestack.domain.numbers import ZERO
from hedgestack.domain.rules import tpsl_target_qty
from hedgestack.engine.views import TpSlStatusView, tpsl_view

if TYPE_CHECKING:
    from hedgestack.engine.terminal import Terminal

log = logging.getLogger("hedgestack.tpsl")

_IN_FLIGHT = (OrderStatus.TRIGGERING, OrderStatus.TRIGGERED)
_LEG_TYPE = {OrderRole.TP: OrderType.TAKE_PROFIT_MARKET, OrderRole.SL: OrderType.STOP_MARKET}
MAX_RETRIES = 6


class TpSlManager:
    def __init__(self, terminal: Terminal) -> None:
        self.t = terminal
        self._pending: set[str] = set()
        self._wake: asyncio.Event | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._failures: dict[str, int] = {}
        self._busy = 0

    # -- scheduling -------------------------------------------------------------------------------
    def request(self, vp_id: str) -> None:
        """Ask for a re-sync of this VP's legs (coalesced; runs on the terminal's loop)."""
        self._pending.add(vp_id)
        if self._wake is not None:
            self._wake.set()

    def idle(self) -> bool:
        return not self._pending and self._busy == 0

    async def run(self) -> None:
        self._wake = asyncio.Event()
        if self._pending:
            self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                vp_id = self._pending.pop()
                try:
                    await self.sync_now(vp_id)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001
                    log.exception("TP/SL sync of %s failed", vp_id)

    def _lock(self, vp_id: str) -> asyncio.Lock:
        return self._locks.setdefault(vp_id, asyncio.Lock())

    # -- figures ----------------------------------------------------------------------------------
    def target_qty(self, vp_id: str) -> Decimal:
        vp = self.t.ledger.vps[vp_id]
        return self.t.filters[vp.symbol].round_qty_down(tpsl_target_qty(self.t.ledger, vp_id), OrderType.MARKET)

    def _legs(self, vp_id: str) -> list[OrderBook]:
        return [o for o in self.t.ledger.open_orders(vp_id) if o.role in (OrderRole.TP, OrderRole.SL)]

    # -- events from the exchange ---------------------------------------------------------------------
    def on_leg_update(self, order: OrderBook, status: OrderStatus, executed: Decimal) -> None:
        vp = self.t.ledger.vps.get(order.vp_id)
        if vp is None:
            return
        if status in _IN_FLIGHT:
            # the leg is executing: take its sibling off at once, so the window in which both could close
            # the VP (and then another VP's quantity) is as short as Binance allows — OCO is not atomic there
            for leg in self._legs(vp.vp_id):
                if leg.client_order_id != order.client_order_id and leg.status not in _IN_FLIGHT:
                    asyncio.get_running_loop().create_task(self._cancel_quietly(leg.client_order_id))
            return
        if status is OrderStatus.FINISHED and executed > 0:
            # one-cancels-other: this leg closed the VP's position; the sibling goes and the config is cleared
            self.t._append([TpSlSet(ts=_now(), vp_id=vp.vp_id, tp_price=None, tp_trigger=vp.tp_trigger,
                                    sl_price=None, sl_trigger=vp.sl_trigger)])
            self._failures.pop(vp.vp_id, None)
        elif status in (OrderStatus.REJECTED, OrderStatus.EXPIRED) or (
                status is OrderStatus.FINISHED and executed == 0):
            self._failures[vp.vp_id] = self._failures.get(vp.vp_id, 0) + 1
            self._status(vp.vp_id, SyncStatus.ERROR, f"{order.role} leg {status}: {order.reason or 'no fill'}; "
                         "re-arming")
        self.request(order.vp_id)

    async def _cancel_quietly(self, client_order_id: str) -> None:
        try:
            await self.t._cancel_order(client_order_id, internal=True)
        except HedgestackError as exc:  # already gone or not cancellable: the next sync sorts it out
            log.info("sibling cancel of %s: %s", client_order_id, exc)

    def legs_in_flight(self, vp_id: str) -> bool:
        return any(leg.status in _IN_FLIGHT for leg in self._legs(vp_id))

    # -- the sync ---------------------------------------------------------------------------------
    async def make_room(self, vp_id: str, allowed: Decimal) -> None:
        """Before a close (or transfer) that needs it: cancel the legs larger than ``allowed``."""
        async with self._lock(vp_id):
            for leg in self._legs(vp_id):
                if leg.remaining > allowed and leg.status not in _IN_FLIGHT:
                    await self.t._cancel_order(leg.client_order_id, internal=True)
        self.request(vp_id)

    async def sync_now(self, vp_id: str) -> None:
        self._busy += 1
        try:
            async with self._lock(vp_id):
                await self._sync(vp_id)
        finally:
            self._busy -= 1

    async def _sync(self, vp_id: str) -> None:
        t = self.t
        ledger = t.ledger
        vp = ledger.vps.get(vp_id)
        if vp is None:
            return
        legs = self._legs(vp_id)
        if any(leg.status in _IN_FLIGHT for leg in legs):
            return  # a leg is executing: its ALGO_UPDATE brings us back
        if vp.qty == 0 and (vp.tp_price is not None or vp.sl_price is not None):
            t._append([TpSlSet(ts=_now(), vp_id=vp_id, tp_price=None, tp_trigger=vp.tp_trigger, sl_price=None,
                               sl_trigger=vp.sl_trigger)])
        target = self.target_qty(vp_id) if vp.qty > 0 else ZERO
        desired: dict[OrderRole, tuple[Decimal, TriggerType] | None] = {
            OrderRole.TP: (vp.tp_price, vp.tp_trigger) if vp.tp_price is not None and target > 0 else None,
            OrderRole.SL: (vp.sl_price, vp.sl_trigger) if vp.sl_price is not None and target > 0 else None,
        }
        keep: dict[OrderRole, OrderBook] = {}
        cancel: list[OrderBook] = []
        for leg in legs:
            want = desired[leg.role]
            if (want is not None and leg.role not in keep and leg.trigger_price == want[0]
                    and leg.trigger_type == want[1] and leg.remaining == target):
                keep[leg.role] = leg
            else:
                cancel.append(leg)
        create = [role for role, want in desired.items() if want is not None and role not in keep]
        configured = vp.tp_price is not None or vp.sl_price is not None
        if not cancel and not create:
            if configured and vp.sync_status is not SyncStatus.OK and self._failures.get(vp_id, 0) == 0:
                self._status(vp_id, SyncStatus.OK, None)
            return
        locked = t.consistency.get((vp.symbol, vp.position_side))
        self._status(vp_id, SyncStatus.SYNCING, None) if configured else None
        try:
            for leg in cancel:
                await t._cancel_order(leg.client_order_id, internal=True)
            if create and locked is not None and locked.value == "MISMATCH":
                self._status(vp_id, SyncStatus.ERROR, "locked: the side is in MISMATCH until reconciled")
                return
            for role in create:
                want = desired[role]
                assert want is not None
                await t._submit(vp_id, vp.position_side.closing_side, _LEG_TYPE[role], role, target, None, want[0],
                                want[1], None)
        except HedgestackError as exc:
            failures = self._failures.get(vp_id, 0) + 1
            self._failures[vp_id] = failures
            reason = f"{exc.code}: {exc.message}"
            log.warning("TP/SL sync of %s failed (%s), try %s", vp_id, reason, failures)
            if configured:
                self._status(vp_id, SyncStatus.ERROR, reason)
            if failures < MAX_RETRIES:
                asyncio.get_running_loop().call_later(min(30.0, 0.5 * 2 ** failures), self.request, vp_id)
            return
        self._failures[vp_id] = 0
        if configured and (vp.tp_price is not None or vp.sl_price is not None):
            self._status(vp_id, SyncStatus.OK, None)

    def _status(self, vp_id: str, status: SyncStatus, reason: str | None) -> None:
        t = self.t
        vp = t.ledger.vps[vp_id]
        if vp.sync_status is status and vp.sync_reason == reason:
            return
        t._append([TpSlSync(ts=_now(), vp_id=vp_id, status=status, reason=reason)], defer=True)
        tpsl = tpsl_view(t.ledger, t.ledger.view(vp_id))
        t.bus.publish("TPSL_SYNC_STATUS", TpSlStatusView(
            vp_id=vp_id, status=status, reason=reason, tp_order_id=None if tpsl is None else tpsl.tp_order_id,
            sl_order_id=None if tpsl is None else tpsl.sl_order_id))

def _now() -> int:
    from hedgestack.engine.terminal import now_ms

    return now_ms()
