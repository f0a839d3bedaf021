"""``GET /v1/fills`` and ``GET /v1/orders/history``: JSON (seed field names), Parquet or Arrow IPC stream.

JSON rows are the views' JSON (``views.to_json`` of ``FillView`` / ``OrderView``); Parquet and Arrow keep the
snake_case columns with the same meanings (``realized_pnl`` is the VP's, ``exchange_rp`` the exchange's)."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING, Any

from hedgestack.api.base import ApiHandler
from hedgestack.api.errors import ApiError
from hedgestack.api.handlers import vp_path
from hedgestack.api.validation import Symbol
from hedgestack.engine.views import OrderView, fill_view_from_row, frame

if TYPE_CHECKING:
    import polars as pl

FORMATS = {"json": "application/json; charset=utf-8", "parquet": "application/vnd.apache.parquet",
           "arrow": "application/vnd.apache.arrow.stream"}
MAX_LIMIT = 1_000_000


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

    def send_frame(self, frame: pl.DataFrame, fmt: str) -> None:
        """Parquet or an Arrow IPC stream of ``frame``."""
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
        if fmt == "json":
            self.reply([fill_view_from_row(r) for r in frame.iter_rows(named=True)])
        else:
            self.send_frame(frame, fmt)


class OrderHistoryHandler(_TableHandler):
    params = ("vp", "symbol")

    async def get(self) -> None:
        _, fmt, filters = self.common()
        t = await self.terminal()
        orders = await t.order_history(**filters)
        if fmt == "json":
            self.reply(orders)
        else:
            self.send_frame(frame(orders, OrderView), fmt)
