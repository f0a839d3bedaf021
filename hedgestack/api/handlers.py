"""The REST routes of the seed (state, virtual positions, orders, close, TP/SL, reconcile) and the extensions
(archive, rename, amend, clear TP/SL, transfers, order history, health)."""

from __future__ import annotations

from hedgestack.api import validation as v
from hedgestack.api.base import ApiHandler
from hedgestack.api.context import VENUE_HEADER
from hedgestack.api.errors import ApiError
from hedgestack.api.health import health
from hedgestack.domain.errors import UnknownOrder, UnknownVp, ValidationError

_VP_ID = v.VpId()


def vp_path(vp_id: str) -> str:
    """A VP id from the path: one that cannot be an id is simply unknown (404)."""
    try:
        return _VP_ID.check("id", vp_id)
    except Exception:  # noqa: BLE001 - any malformed id
        raise UnknownVp(f"no live virtual position {vp_id[:40]!r}") from None


def order_path(order_ref: str) -> str:
    """An orderId (digits; also an algoId) or one of our clientOrderIds."""
    if not (1 <= len(order_ref) <= 36) or not all(c.isalnum() or c in "-_.:/" for c in order_ref):
        raise UnknownOrder(f"no order of ours with id {order_ref[:40]!r}")
    return order_ref


class StateHandler(ApiHandler):
    async def get(self) -> None:
        args = self.no_query("fills")
        limit = 50
        if "fills" in args:
            if not args["fills"].isdigit() or not 0 <= int(args["fills"]) <= 1000:
                raise ApiError(400, "INVALID_PARAMETER", "fills must be an integer in [0, 1000]")
            limit = int(args["fills"])
        t = await self.terminal()
        self.reply(await t.state(recent_fills=limit))


class VirtualPositionsHandler(ApiHandler):
    async def post(self) -> None:
        body = self.body(v.CREATE_VP)
        t = await self.terminal()
        self.reply(await t.create_vp(body["name"], body["symbol"], body["positionSide"]), 201)


class VirtualPositionHandler(ApiHandler):
    async def get(self, vp_id: str) -> None:
        self.no_query()
        t = await self.terminal()
        self.reply(await t.vp(vp_path(vp_id)))

    async def patch(self, vp_id: str) -> None:
        body = self.body(v.RENAME_VP)
        t = await self.terminal()
        self.reply(await t.rename_vp(vp_path(vp_id), body["name"]))

    async def delete(self, vp_id: str) -> None:
        self.no_body()
        t = await self.terminal()
        self.reply(await t.archive_vp(vp_path(vp_id)))


class CloseHandler(ApiHandler):
    sends_orders = True

    async def post(self, vp_id: str) -> None:
        body = self.body(v.CLOSE_VP)
        vp_id = vp_path(vp_id)
        t = await self.order_terminal()
        self.reply(await t.close_vp(vp_id, body["type"], percent=body.get("percent"), qty=body.get("qty"),
                                    price=body.get("price"), time_in_force=body.get("timeInForce")))


class TpSlHandler(ApiHandler):
    sends_orders = True

    async def post(self, vp_id: str) -> None:
        body = self.body(v.SET_TPSL)
        vp_id = vp_path(vp_id)
        t = await self.order_terminal()
        self.reply(await t.set_tpsl(vp_id, **body))

    async def delete(self, vp_id: str) -> None:
        self.no_body()
        t = await self.terminal()
        self.reply(await t.clear_tpsl(vp_path(vp_id)))


class OrdersHandler(ApiHandler):
    sends_orders = True

    async def post(self) -> None:
        body = self.body(v.PLACE_ORDER)
        t = await self.order_terminal()
        result = await t.place_order(
            body["virtual_position_id"], body["side"], body["type"], body["qty"], body.get("price"),
            time_in_force=body.get("timeInForce"), trigger_price=body.get("triggerPrice"),
            trigger_type=body.get("triggerType"), reduce_only=body.get("reduceOnly", False),
            symbol=body["symbol"], position_side=body["positionSide"])
        self.reply(result)


class CancelHandler(ApiHandler):
    async def post(self, order_ref: str) -> None:
        self.no_body()
        t = await self.terminal()
        self.reply(await t.cancel_order(order_path(order_ref)))


class AmendHandler(ApiHandler):
    sends_orders = True

    async def post(self, order_ref: str) -> None:
        body = self.body(v.AMEND_ORDER)
        ref = order_path(order_ref)
        t = await self.order_terminal()
        self.reply(await t.amend_order(ref, price=body.get("price"), qty=body.get("qty")))


class ReconcileHandler(ApiHandler):
    async def post(self) -> None:
        body = self.body(v.RECONCILE)
        t = await self.terminal()
        self.reply(await t.reconcile(body["symbol"], body["positionSide"], body["assignments"]))


class TransfersHandler(ApiHandler):
    async def post(self) -> None:
        body = self.body(v.TRANSFER)
        t = await self.terminal()
        self.reply(await t.transfer(body["from_vp"], body["to_vp"], body["qty"]))


class HealthHandler(ApiHandler):
    """200 only while the engine is live; 503 (same body) while it starts, reconnects or stopped."""

    async def get(self) -> None:
        self.no_query()
        t = await self.ctx.engine()
        self.set_header(VENUE_HEADER, t.venue_name)
        status, body = await health(self.ctx)
        self.reply(body, status)


class InstrumentsHandler(ApiHandler):
    """``GET /v1/instruments``: every traded symbol's trading rules (tick, step, minimums), as
    ``Terminal.instrument(symbol)`` gives them (extension)."""

    async def get(self) -> None:
        args = self.no_query("symbol")
        t = await self.terminal()
        symbols = [v.Symbol().check("symbol", args["symbol"])] if "symbol" in args else list(t.symbols)
        self.reply([t.instrument(symbol) for symbol in symbols])


class CandlesHandler(ApiHandler):
    """``GET /v1/candles?symbol=&interval=1m&limit=500``: klines from the venue, oldest first (extension)."""

    async def get(self) -> None:
        args = self.no_query("symbol", "interval", "limit")
        if "symbol" not in args:
            raise ValidationError("symbol is required, e.g. ?symbol=BTCUSDT", code="MISSING_FIELD")
        symbol = v.Symbol().check("symbol", args["symbol"])
        limit = 500
        if "limit" in args:
            if not args["limit"].isdigit() or len(args["limit"]) > 6:
                raise ApiError(400, "INVALID_PARAMETER", "limit must be an integer in [1, 1500]")
            limit = int(args["limit"])
        t = await self.terminal()
        self.reply(await t.candles(symbol, args.get("interval", "1m"), limit))
