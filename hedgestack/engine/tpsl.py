"""The TP/SL manager: each VP's protection, kept live on the exchange.

Per VP: one TP (TAKE_PROFIT_MARKET, default trigger LAST) and one SL (STOP_MARKET, default trigger MARK), each an
algo order whose quantity is ``net_qty − open closes`` rounded down to the step (so open closes + max(TP, SL)
never exceed net_qty: invariant 3).

**Protection invariant** (DESIGN.md, 6): a VP that holds quantity and has TP/SL configured has both legs live on
the exchange within a few seconds of any change, or its status is ERROR with a reason and a loud notice (logged as
an error, published as TPSL_SYNC_STATUS). The manager works through the order gateway's public calls only, and
the MISMATCH lock never applies to it: it keeps re-creating and resizing legs on a locked side (the lock stops the
*user's* new reducing commands; existing protection is never removed).

How it syncs:

- **Coalesced.** Every change (a fill, a close placed or gone, a transfer, a reconcile, a new TP/SL) asks for a
  re-sync of the VP (:meth:`TpSlManager.request`); requests within ``DEBOUNCE`` seconds, and any arriving while a
  sync runs, make one sync: one cancel + create per leg per burst of quantity changes, not per fill.
- **Resize = cancel, then create at once**, the cancel first so two legs of one kind are never live together;
  untriggered conditional orders cannot be modified on Binance.
- **Retried until live.** A failed create leaves the VP in ERROR (with the exchange's reason) and is retried with
  back-off (0.5 s doubling, at most 30 s) for as long as the VP needs protection; the status does not flap
  between retries (it stays ERROR until the legs are live, then OK).
- **One-cancels-other.** When a leg starts executing (TRIGGERING), its sibling is cancelled at once: Binance has no
  atomic OCO for conditional orders, so between a trigger and that cancel both exist. When a leg has filled, the
  VP's TP/SL configuration is cleared. When the VP is flat, both legs go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import TYPE_CHECKING

from hedgestack.domain.enums import OrderRole, OrderStatus, OrderType, SyncStatus, TriggerType
from hedgestack.domain.errors import HedgestackError
from hedgestack.domain.events import TpSlSet, TpSlSync
from hedgestack.domain.numbers import ZERO
from hedgestack.domain.rules import tpsl_target_qty
from hedgestack.engine.views import TpSlStatusView, tpsl_view

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from decimal import Decimal

    from hedgestack.domain.ledger import OrderBook
    from hedgestack.engine.book import Book
    from hedgestack.engine.bus import EventBus
    from hedgestack.engine.gateway import OrderGateway
    from hedgestack.engine.market import Market

log = logging.getLogger("hedgestack.tpsl")

_IN_FLIGHT = (OrderStatus.TRIGGERING, OrderStatus.TRIGGERED)
_LEG_TYPE = {OrderRole.TP: OrderType.TAKE_PROFIT_MARKET, OrderRole.SL: OrderType.STOP_MARKET}
#: requests for one VP within this many seconds make one sync
DEBOUNCE = 0.03
MAX_BACKOFF = 30.0


class TpSlManager:
    def __init__(self, book: Book, market: Market, gateway: OrderGateway, bus: EventBus,
                 clock: Callable[[], int]) -> None:
        self.book = book
        self.market = market
        self.gateway = gateway
        self.bus = bus
        self.clock = clock
        self._pending: set[str] = set()
        self._wake: asyncio.Event | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._failures: dict[str, int] = {}
        self._retry: dict[str, asyncio.TimerHandle] = {}
        self._busy = 0
        self._held: Counter[str] = Counter()

    # -- scheduling -------------------------------------------------------------------------------
    def request(self, vp_id: str) -> None:
        """Ask for a re-sync of this VP's legs (coalesced; on the terminal's loop)."""
        self._pending.add(vp_id)
        if self._wake is not None:
            self._wake.set()

    def request_all(self) -> None:
        """Re-sync every VP that has TP/SL configured or a leg open (start, reconnect)."""
        ledger = self.book.ledger
        for vp in ledger.vps.values():
            if vp.tp_price is not None or vp.sl_price is not None or self._legs(vp.vp_id):
                self.request(vp.vp_id)

    def idle(self) -> bool:
        return not self._pending and self._busy == 0

    @contextlib.contextmanager
    def hold(self, vp_ids: Iterable[str]) -> Iterator[None]:
        """No sync of these VPs' legs while a command changes their quantities over several awaits (a reconcile,
        a transfer): a sync in between would size legs on the quantity before the change. Their syncs run when
        the hold ends."""
        held = list(dict.fromkeys(vp_ids))
        self._held.update(held)
        try:
            yield
        finally:
            self._held.subtract(held)
            for vp_id in held:
                if self._held[vp_id] <= 0:
                    del self._held[vp_id]
                self.request(vp_id)

    async def run(self) -> None:
        """The manager's task."""
        self._wake = asyncio.Event()
        if self._pending:
            self._wake.set()
        while True:
            await self._wake.wait()
            await asyncio.sleep(DEBOUNCE)  # let a burst of changes arrive: one sync for all of them
            self._wake.clear()
            while self._pending:
                vp_id = self._pending.pop()
                try:
                    await self.sync_now(vp_id)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - one VP's failure must not stop the others
                    log.exception("TP/SL sync of %s failed", vp_id)
                    self._schedule_retry(vp_id)

    def _lock(self, vp_id: str) -> asyncio.Lock:
        return self._locks.setdefault(vp_id, asyncio.Lock())

    # -- figures ----------------------------------------------------------------------------------
    def target_qty(self, vp_id: str) -> Decimal:
        """What the VP's legs must carry now: net_qty less its open closes, rounded down to the step."""
        ledger = self.book.ledger
        vp = ledger.vps[vp_id]
        return self.market.rules(vp.symbol).round_qty_down(tpsl_target_qty(ledger, vp_id), OrderType.MARKET)

    def _legs(self, vp_id: str) -> list[OrderBook]:
        return [o for o in self.book.ledger.open_orders(vp_id) if o.role in (OrderRole.TP, OrderRole.SL)]

    def legs_in_flight(self, vp_id: str) -> bool:
        return any(leg.status in _IN_FLIGHT for leg in self._legs(vp_id))

    # -- the exchange's word on a leg -------------------------------------------------------------
    def leg_update(self, order: OrderBook, status: OrderStatus, executed: Decimal) -> None:
        """An ALGO_UPDATE of one of our legs (already in the book)."""
        vp = self.book.ledger.vps.get(order.vp_id)
        if vp is None:
            return
        if status in _IN_FLIGHT:
            # executing: take the sibling off at once (OCO is not atomic on Binance)
            for leg in self._legs(vp.vp_id):
                if leg.client_order_id != order.client_order_id and leg.status not in _IN_FLIGHT:
                    asyncio.get_running_loop().create_task(self._cancel_quietly(leg))
            return
        if status is OrderStatus.FINISHED and executed > 0:
            # this leg closed the VP's position: the sibling goes and the configuration is cleared
            self.book.append([TpSlSet(ts=self.clock(), vp_id=vp.vp_id, tp_price=None, tp_trigger=vp.tp_trigger,
                                      sl_price=None, sl_trigger=vp.sl_trigger)])
            self._failures.pop(vp.vp_id, None)
        elif status in (OrderStatus.REJECTED, OrderStatus.EXPIRED) or (
                status is OrderStatus.FINISHED and executed == 0):
            self._status(vp.vp_id, SyncStatus.ERROR, f"{order.role} leg {status}: {order.reason or 'no fill'}; "
                         "re-arming")
        self.request(order.vp_id)

    async def _cancel_quietly(self, leg: OrderBook) -> None:
        try:
            if leg.is_open:
                await self.gateway.cancel(leg)
        except HedgestackError as exc:  # already gone or not cancellable: the next sync sorts it out
            log.info("sibling cancel of %s: %s", leg.client_order_id, exc)
        self.request(leg.vp_id)

    # -- the sync ---------------------------------------------------------------------------------
    async def make_room(self, vp_id: str, allowed: Decimal) -> None:
        """Before a close (or transfer, reconcile) that needs it: cancel the legs larger than ``allowed``; they
        come back at the new size with the next sync."""
        async with self._lock(vp_id):
            for leg in self._legs(vp_id):
                if leg.remaining > allowed and leg.status not in _IN_FLIGHT:
                    await self.gateway.cancel(leg)
        self.request(vp_id)

    async def sync_now(self, vp_id: str) -> None:
        self._busy += 1
        try:
            async with self._lock(vp_id):
                if vp_id in self._held:
                    return  # the hold's end asks again
                await self._sync(vp_id)
        finally:
            self._busy -= 1

    async def _sync(self, vp_id: str) -> None:
        ledger = self.book.ledger
        vp = ledger.vps.get(vp_id)
        if vp is None:
            return
        legs = self._legs(vp_id)
        if any(leg.status in _IN_FLIGHT for leg in legs):
            return  # a leg is executing: its ALGO_UPDATE brings us back
        if vp.qty == 0 and (vp.tp_price is not None or vp.sl_price is not None):
            self.book.append([TpSlSet(ts=self.clock(), vp_id=vp_id, tp_price=None, tp_trigger=vp.tp_trigger,
                                      sl_price=None, sl_trigger=vp.sl_trigger)])
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
            if configured and vp.sync_status is not SyncStatus.OK:
                self._healed(vp_id)
            return
        if configured and vp.sync_status is not SyncStatus.ERROR:
            self._status(vp_id, SyncStatus.SYNCING, None)  # an ERROR stays until the legs are live
        try:
            for leg in cancel:
                await self.gateway.cancel(leg)
            for role in create:
                want = desired[role]
                assert want is not None
                if (self.target_qty(vp_id) if self.book.ledger.vps[vp_id].qty > 0 else ZERO) != target:
                    self.request(vp_id)  # a close or fill moved the quantity while the old legs went: size again
                    return
                await self.gateway.place(vp_id, vp.position_side.closing_side, _LEG_TYPE[role], role, target, None,
                                         want[0], want[1], None)
        except HedgestackError as exc:
            self._failed(vp_id, f"{exc.code}: {exc.message}", configured)
            return
        now = self.book.ledger.vps[vp_id]
        if now.tp_price is not None or now.sl_price is not None:
            self._healed(vp_id)
        else:
            self._failures.pop(vp_id, None)

    def _failed(self, vp_id: str, reason: str, configured: bool) -> None:
        failures = self._failures.get(vp_id, 0) + 1
        self._failures[vp_id] = failures
        vp = self.book.ledger.vps[vp_id]
        if configured and vp.qty > 0:
            log.error("PROTECTION: %s (%s) holds %s without live TP/SL legs: %s (try %s, retrying)", vp.name, vp_id,
                      vp.qty, reason, failures)
            self._status(vp_id, SyncStatus.ERROR, reason)
        else:
            log.warning("TP/SL sync of %s failed (%s), try %s", vp_id, reason, failures)
        self._schedule_retry(vp_id)

    def _schedule_retry(self, vp_id: str) -> None:
        failures = max(1, self._failures.get(vp_id, 1))
        delay = min(MAX_BACKOFF, 0.5 * 2 ** (failures - 1))
        old = self._retry.pop(vp_id, None)
        if old is not None:
            old.cancel()
        self._retry[vp_id] = asyncio.get_running_loop().call_later(delay, self.request, vp_id)

    def _healed(self, vp_id: str) -> None:
        self._failures.pop(vp_id, None)
        retry = self._retry.pop(vp_id, None)
        if retry is not None:
            retry.cancel()
        self._status(vp_id, SyncStatus.OK, None)

    def _status(self, vp_id: str, status: SyncStatus, reason: str | None) -> None:
        ledger = self.book.ledger
        vp = ledger.vps[vp_id]
        if vp.sync_status is status and vp.sync_reason == reason:
            return
        self.book.append([TpSlSync(ts=self.clock(), vp_id=vp_id, status=status, reason=reason)])
        tpsl = tpsl_view(ledger, ledger.view(vp_id))
        self.bus.publish("TPSL_SYNC_STATUS", TpSlStatusView(
            vp_id=vp_id, status=status, reason=reason, tp_order_id=None if tpsl is None else tpsl.tp_order_id,
            sl_order_id=None if tpsl is None else tpsl.sl_order_id))


__all__ = ["TpSlManager"]
