"""Recovery: after every (re)connect of the user stream — start, disconnect, listenKey expiry — backfill
over REST what the stream may have missed, and apply it exactly once (the log deduplicates).

1. Orders: our open orders are compared with ``openOrders``/``openAlgoOrders``; those no longer open are
   queried for their final state; PENDING ones (lost answers) are resolved by clientOrderId.
2. Fills: ``userTrades`` per symbol from a **gap-free watermark** — the highest trade id up to which every
   trade of the account has been fetched over REST (fills seen on the stream do not move it, so a fill
   lost in a gap is always fetched again). Trades are joined to our orders by orderId; unknown orderIds
   are resolved (our pending orders, algo children via ``actualOrderId``, then a query by orderId);
   whatever is not ours is foreign and goes to UNASSIGNED.
3. Funding: ``income`` FUNDING_FEE rows, one settlement per (symbol, time).
4. Positions: ``positionRisk`` for the consistency check.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hedgestack.domain.enums import OrderStatus
from hedgestack.domain.errors import HedgestackError
from hedgestack.domain.events import Event, OrderUpdate
from hedgestack.domain.numbers import D
from hedgestack.engine import answers
from hedgestack.engine.views import ReconnectView

if TYPE_CHECKING:
    from hedgestack.engine.terminal import Terminal

log = logging.getLogger("hedgestack.recovery")

WEEK_MS = 7 * 24 * 3600 * 1000


async def backfill(t: Terminal, *, reason: str) -> None:
    from hedgestack.engine.terminal import now_ms

    assert t._sync_lock is not None
    async with t._sync_lock:
        t.connection = "SYNCING"
        t.bus.publish("WS_RECONNECT", ReconnectView(reason=reason, state="SYNCING"))
        started = now_ms()
        try:
            await _catch_up(t)
            await t._refresh_positions()
            await t._refresh_wallet()
        except HedgestackError as exc:
            log.error("backfill failed (%s): %s; retrying on the next reconnect/poll", reason, exc)
        t.connection = "CONNECTED"
        log.info("%s backfill took %s ms", reason, now_ms() - started)
        t.bus.publish("WS_RECONNECT", ReconnectView(reason=reason, state="CONNECTED"))
        for vp in list(t.ledger.vps.values()):
            if vp.tp_price is not None or vp.sl_price is not None or t.tpsl._legs(vp.vp_id):
                t.tpsl.request(vp.vp_id)
        t._check_consistency(confirmed=True)


async def catch_up(t: Terminal) -> None:
    """Orders, fills and funding the stream may have missed, without a reconnect (position-check path)."""
    assert t._sync_lock is not None
    async with t._sync_lock:
        try:
            await _catch_up(t)
        except HedgestackError as exc:
            log.error("catch-up failed: %s", exc)


async def _catch_up(t: Terminal) -> None:
    await _orders(t)
    for symbol in t.symbols:
        await _trades(t, symbol)
    await fetch_funding(t, since=None, live=False)


async def _orders(t: Terminal) -> None:

    ledger = t.ledger
    mine = [o for o in ledger.orders.values() if o.is_open]
    if not mine:
        return
    regular = {row["clientOrderId"]: row for row in await t.venue.open_orders()}
    algo = {row["clientAlgoId"]: row for row in await t.venue.open_algo_orders()}
    events: list[Event] = []
    for order in mine:
        cid = order.client_order_id
        if cid in t._in_flight:
            continue  # its create request is still running: its answer says where it is
        if order.is_algo:
            row: dict[str, Any] | None = algo.get(cid) or await t.venue.query_algo_order(cid)
            update = None if row is None else answers.from_algo_row(cid, row)
        else:
            row = regular.get(cid) or await t.venue.query_order(order.symbol, cid)
            update = None if row is None else answers.from_order_row(cid, row)
        if update is not None:
            events.append(update)
        elif order.status is OrderStatus.PENDING and t.may_conclude_never_received(order):
            events.append(answers.never_received(cid))  # else: its request may still arrive; asked again later
    if events:
        t._append(events)


async def _trades(t: Terminal, symbol: str) -> None:
    from hedgestack.engine.terminal import now_ms

    store = t._store()
    key = f"watermark:{symbol}"
    mark = store.get_meta(key)
    watermark = int(mark) if mark is not None else 0
    params: dict[str, Any] = {"fromId": watermark + 1} if watermark else {"startTime": now_ms() - WEEK_MS + 60_000}
    highest = watermark
    while True:
        rows = await t.venue.user_trades(symbol, limit=1000, **params)
        new = [r for r in rows if not t.ledger.has_trade(symbol, int(r["id"]))]
        if new:
            await _resolve_orders(t, symbol, {int(r["orderId"]) for r in new})
            events = [
                t.fill_event(
                    symbol=symbol,
                    position_side=r["positionSide"],
                    side=r["side"],
                    trade_id=int(r["id"]),
                    order_id=int(r["orderId"]),
                    client_order_id=_client_id(t, int(r["orderId"])),
                    qty=D(r["qty"]),
                    price=D(r["price"]),
                    commission=D(r["commission"]),
                    commission_asset=r["commissionAsset"],
                    realized=D(r["realizedPnl"]),
                    maker=bool(r["maker"]),
                    ts=int(r["time"]),
                )
                for r in new
            ]
            result = t._append(events)
            t.stats.backfilled_fills += sum(1 for _ in result.appended)
            for vp_id in result.touched:
                t.tpsl.request(vp_id)
        if rows:
            highest = max(highest, max(int(r["id"]) for r in rows))
        if len(rows) < 1000:
            break
        params = {"fromId": highest + 1}
    if highest != watermark:
        store.set_meta(key, str(highest))


def _client_id(t: Terminal, order_id: int) -> str | None:
    order = t.ledger.order_for_exchange_id(order_id)
    return None if order is None else order.client_order_id


async def _resolve_orders(t: Terminal, symbol: str, order_ids: set[int]) -> None:
    """Map exchange orderIds that fills name to our orders, when they are ours."""
    from hedgestack.engine.terminal import now_ms

    unknown = {oid for oid in order_ids if t.ledger.order_for_exchange_id(oid) is None}
    if not unknown:
        return
    events: list[Event] = []
    # algo children: actualOrderId → clientAlgoId
    rows = await t.venue.open_algo_orders() + await t.venue.all_algo_orders(
        symbol, startTime=now_ms() - WEEK_MS + 60_000
    )
    for row in rows:
        actual = answers.actual_order_id(row)
        if actual in unknown and row["clientAlgoId"] in t.ledger.orders:
            events.append(answers.from_algo_row(row["clientAlgoId"], row))
            unknown.discard(actual)
    for oid in sorted(unknown):
        try:
            row = await t.venue.call("futures_get_order", symbol=symbol, orderId=oid, retry_lost=True)
        except HedgestackError as exc:
            log.warning("cannot query order %s: %s (its fills go to UNASSIGNED)", oid, exc)
            continue
        cid = row.get("clientOrderId")
        order = t.ledger.orders.get(cid) if cid else None
        if order is not None and not order.is_algo:
            events.append(answers.from_order_row(cid, row))
        elif order is not None:
            events.append(OrderUpdate(ts=now_ms(), client_order_id=cid, status=order.status, actual_order_id=oid))
    if events:
        t._append(events)


async def fetch_funding(t: Terminal, *, since: int | None, live: bool) -> None:
    """Apply FUNDING_FEE income rows not yet in the log (one Funding event per symbol + time)."""
    from hedgestack.engine.terminal import now_ms

    store = t._store()
    key = "watermark:funding"
    start = since if since is not None else int(store.get_meta(key) or now_ms() - WEEK_MS + 60_000)
    rows = await t.venue.income(incomeType="FUNDING_FEE", startTime=start, limit=1000)
    events: list[Event] = []
    latest = start
    for row in rows:
        symbol = row.get("symbol")
        if symbol not in t.symbols:
            continue
        when = int(row["time"])
        latest = max(latest, when)
        if f"funding:{symbol}:{when}" in t.ledger.keys:
            continue
        events.append(
            t.funding_event(
                symbol, when, D(row["income"]), row.get("asset", "USDT"), live_rate=live and now_ms() - when < 120_000
            )
        )
    if events:
        t._append(events)
    if since is None or live:
        store.set_meta(key, str(latest))
