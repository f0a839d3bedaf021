"""The history as tables: ``GET /v1/fills``, ``GET /v1/orders/history``, ``GET /v1/vp-history`` and
``POST /v1/sql``, each as JSON, Parquet or an Arrow IPC stream (``?format=json|parquet|arrow``).

JSON rows of fills and orders are the views' JSON (``views.to_json`` of ``FillView`` / ``OrderView``); Parquet and
Arrow keep the snake_case columns with the same meanings (``realized_pnl`` is the VP's, ``exchange_rp`` the
exchange's), exactly the frames ``Terminal.fills()`` / ``orders()`` / ``vp_history()`` / ``sql()`` return, so
``hedgestack.connect``'s client reads them back unchanged (Arrow: no conversion on either side). Queries run on
a worker thread, never on the loop."""

from __future__ import annotations

import asyncio
import datetime
import io
import threading
from decimal import Decimal
from typing import Any

import polars as pl
import pyarrow as pa

from hedgestack.api import validation as v
from hedgestack.api.base import ApiHandler
from hedgestack.api.errors import ApiError
from hedgestack.api.handlers import vp_path
from hedgestack.api.sqlguard import check_query
from hedgestack.api.validation import Symbol
from hedgestack.domain.errors import ValidationError
from hedgestack.domain.numbers import to_str
from hedgestack.engine.views import OrderView, fill_view_from_row, frame

FORMATS = {"json": "application/json; charset=utf-8", "parquet": "application/vnd.apache.parquet",
           "arrow": "application/vnd.apache.arrow.stream"}
MAX_LIMIT = 1_000_000
#: rows per Arrow record batch (the reader decodes batches in parallel)
ARROW_BATCH = 128 * 1024
#: a remote query is interrupted after this long (seconds) ...
SQL_TIMEOUT = 30.0
#: ... and may return at most this many rows
SQL_MAX_ROWS = 5_000_000
SQL_BODY = v.Body(required={"query": v.Text("one SELECT over the views fills, orders, vp_history, marks, "
                                            "vp_eod_current, vp_equity", max_length=20_000,
                                            example="SELECT vp_id, sum(qty) FROM fills GROUP BY 1")},
                  description="a read-only query over the analytics views")


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

    async def send_frame(self, frame: pl.DataFrame, fmt: str) -> None:
        """Parquet or an Arrow IPC stream of ``frame`` (encoded on a worker thread); JSON rows otherwise."""
        if fmt == "json":
            self.reply(rows_json(frame))
            return
        payload = await asyncio.get_running_loop().run_in_executor(None, encode_frame, frame, fmt)
        name = self.request.path.rstrip("/").rsplit("/", 1)[-1]
        self.set_header("Content-Type", FORMATS[fmt])
        self.set_header("Content-Disposition", f'attachment; filename="{name}.{fmt}"')
        self.finish(payload)


def encode_frame(frame: pl.DataFrame, fmt: str) -> bytes:
    """Parquet, or an Arrow IPC stream with LZ4-compressed buffers (a standard part of Arrow IPC every reader
    takes: ~5× fewer bytes to copy and send for a few hundred ms of CPU per million rows)."""
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.write_parquet(buf)
        return buf.getvalue()
    table = frame.to_arrow(compat_level=pl.CompatLevel.newest())  # string views: no copy on either side
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")) as writer:
        writer.write_table(table, max_chunksize=ARROW_BATCH)
    return sink.getvalue().to_pybytes()


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return to_str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def rows_json(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as JSON objects: decimals as unrounded strings, dates ISO."""
    return [{k: _cell(x) for k, x in row.items()} for row in frame.iter_rows(named=True)]


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
            await self.send_frame(frame, fmt)


class OrderHistoryHandler(_TableHandler):
    params = ("vp", "symbol")

    async def get(self) -> None:
        _, fmt, filters = self.common()
        t = await self.terminal()
        orders = await t.order_history(**filters)
        if fmt == "json":
            self.reply(orders)
        else:
            await self.send_frame(frame(orders, OrderView), fmt)


class VpHistoryHandler(_TableHandler):
    """``GET /v1/vp-history?vp=``: every change of every VP (fills and the rest), as ``Terminal.vp_history()``."""

    params = ("vp",)

    async def get(self) -> None:
        _, fmt, filters = self.common()
        t = await self.terminal()
        history = await asyncio.get_running_loop().run_in_executor(None, lambda: t.vp_history(**filters))
        await self.send_frame(history, fmt)


class SqlHandler(_TableHandler):
    """``POST /v1/sql {"query": "SELECT ..."}``: one read-only query over the analytics views (see
    :mod:`hedgestack.api.sqlguard`), as ``Terminal.sql()``; interrupted after ``SQL_TIMEOUT`` seconds."""

    async def post(self) -> None:
        _, fmt, _ = self.common()
        query = check_query(self.body(SQL_BODY)["query"])
        t = await self.terminal()
        analytics = t.analytics()
        cursor = analytics.connection
        timer = threading.Timer(SQL_TIMEOUT, cursor.interrupt)
        timer.daemon = True

        def run() -> pl.DataFrame:
            timer.start()
            try:
                return analytics.sql(query)
            finally:
                timer.cancel()

        try:
            result = await asyncio.get_running_loop().run_in_executor(None, run)
        except ValidationError as exc:
            if "interrupt" in exc.message.lower():
                raise ValidationError(f"query interrupted after {SQL_TIMEOUT:g} s", code="QUERY_TIMEOUT") from None
            raise
        if result.height > SQL_MAX_ROWS:
            raise ValidationError(f"the result has {result.height} rows, more than {SQL_MAX_ROWS}: aggregate or "
                                  "add LIMIT", code="RESULT_TOO_LARGE")
        await self.send_frame(result, fmt)
