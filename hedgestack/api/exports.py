"""``GET /v1/fills`` and ``GET /v1/orders/history``: JSON (seed field names), Parquet or Arrow IPC stream."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal
from typing import Any

import polars as pl

from hedgestack.api.base import ApiHandler
from hedgestack.api.errors import ApiError
from hedgestack.api.handlers import vp_path
from hedgestack.api.validation import Symbol

FORMATS = {"json": "application/json; charset=utf-8", "parquet": "application/vnd.apache.parquet",
           "arrow": "application/vnd.apache.arrow.stream"}
MAX_LIMIT = 1_000_000


def _dec(value: Any) -> str | None:
    if value is None:
        return None
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def fill_record(r: dict[str, Any]) -> dict[str, Any]:
    """One fill as the FILL event's payload (seed style names)."""
    return {"tradeId": _id(r["trade_id"]), "orderId": _id(r["order_id"]), "clientOrderId": r["client_order_id"],
            "virtual_position_id": r["vp_id"], "vp_name": r["vp_name"], "symbol": r["symbol"], "side": r["side"],
            "positionSide": r["position_side"], "qty": _dec(r["qty"]), "price": _dec(r["price"]),
            "commission": _dec(r["commission"]), "commissionAsset": r["commission_asset"],
            "realizedPnl": _dec(r["realized_pnl"]), "maker": r["maker"], "time": r["ts"]}


def order_record(r: dict[str, Any]) -> dict[str, Any]:
    """One order as the seed's OrderRecord (+ role, filled_qty, trigger fields, updated_at, reason)."""
    return {"orderId": _id(r["order_id"]), "clientOrderId": r["client_order_id"],
            "virtual_position_id": r["vp_id"], "symbol": r["symbol"], "side": r["side"],
            "positionSide": r["position_side"], "type": r["order_type"], "qty": _dec(r["qty"]),
            "price": _dec(r["price"]), "status": r["status"], "reduceOnly": r["role"] in ("CLOSE", "TP", "SL"),
            "created_at": r["created_at"], "role": r["role"], "filled_qty": _dec(r["filled_qty"]),
            "trigger_price": _dec(r["trigger_price"]), "trigger_type": r["trigger_type"],
            "timeInForce": r["time_in_force"], "updated_at": r["updated_at"], "reason": r["reason"]}


def _ms(args: dict[str, str], name: str) -> int | None:
    text = args.get(name)
    if text is None:
        return None
    if not text.isdigit() or len(text) > 15:
        raise ApiError(400, "INVALID_PARAMETER", f"{name} must be a non-negative integer (times in Unix ms), "
                       f"got {text[:40]!r}")
    return int(text)


class _TableHandler(ApiHandler):
    params: tuple[str, ...] = ()

    def common(self) -> tuple[dict[str, str], str, dict[str, Any]]:
        args = self.no_query(*self.params, "format")
        fmt = args.get("format", "json")
        if fmt not in FORMATS:
            raise ApiError(400, "INVALID_FORMAT", f"format must be one of {', '.join(FORMATS)}")
        filters: dict[str, Any] = {}
        if "vp" in args:
            filters["vp"] = vp_path(args["vp"])
        if "symbol" in args:
            filters["symbol"] = Symbol().check("symbol", args["symbol"])
        return args, fmt, filters

    def send_frame(self, frame: pl.DataFrame, fmt: str, record: Any) -> None:
        if fmt == "json":
            self.reply([record(r) for r in frame.iter_rows(named=True)])
            return
        buf = io.BytesIO()
        if fmt == "parquet":
            frame.write_parquet(buf)
        else:
            frame.write_ipc_stream(buf)
        name = self.request.path.rstrip("/").rsplit("/", 1)[-1]
        self.set_header("Content-Type", FORMATS[fmt])
        self.set_header("Content-Disposition", f'attachment; filename="{name}.{fmt}"')
        self.finish(buf.getvalue())


class FillsHandler(_TableHandler):
    params = ("vp", "symbol", "since", "until", "limit")

    async def get(self) -> None:
        args, fmt, filters = self.common()
        since, until, limit = _ms(args, "since"), _ms(args, "until"), _ms(args, "limit")
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, "INVALID_PARAMETER", f"limit must be in [1, {MAX_LIMIT}]")
        t = await self.terminal()
        frame = await asyncio.get_running_loop().run_in_executor(
            None, lambda: t.fills(**filters, since=since, until=until, limit=limit))
        self.send_frame(frame, fmt, fill_record)


class OrderHistoryHandler(_TableHandler):
    params = ("vp", "symbol")

    async def get(self) -> None:
        _, fmt, filters = self.common()
        t = await self.terminal()
        frame = await asyncio.get_running_loop().run_in_executor(None, lambda: t.orders(**filters))
        self.send_frame(frame, fmt, order_record)
