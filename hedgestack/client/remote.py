"""``hedgestack.connect(url)``: a client of a running ``hedgestack serve`` with the local terminal's Python API.

:class:`RemoteTerminal` implements :class:`~hedgestack.engine.facade.TerminalApi` over the REST API and the event
stream, so a notebook, the dashboard and a script work unchanged on either:

- commands and reads are coroutines, awaitable from any loop (they run on the client's own loop, in a thread of
  its own, like the terminal's), and blocking through ``t.sync.<method>(...)``;
- results are the same typed views, rebuilt from the wire by the one mapping (``views.from_json``);
- refusals raise the same typed errors: the REST envelope's code is turned back into its class by the one code
  table (``domain.errors.error_from_envelope``);
- ``fills()``, ``orders()``, ``vp_history()`` and ``sql()`` are polars frames read from Arrow IPC streams (the
  same columns the local terminal's frames have, no row-by-row JSON);
- ``add_listener`` and ``events()`` receive the engine's events from ``/v1/stream`` (one WebSocket per client),
  listeners on the client's thread;
- the token goes in ``Authorization: Bearer``; on the LIVE venue, order-sending requests carry the confirmation
  once this client session confirmed (``connect(..., confirm_live=True)`` or :meth:`RemoteTerminal.confirm_live`),
  else they raise ``LiveConfirmationRequired`` as the REST API answers.

Arguments are read as the local terminal reads them (strings or enums, decimals as ``str``/``int``/``Decimal``,
never ``float``) and sent in the REST API's exact form.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import polars as pl
import pyarrow as pa

from hedgestack.client.events import Dispatcher, Listener, connection_event, describe
from hedgestack.domain.enums import OrderStatus, OrderType, PositionSide, Side, TriggerType
from hedgestack.domain.errors import (
    HedgestackError,
    RequestRefused,
    ValidationError,
    VenueUnavailable,
    error_from_envelope,
)
from hedgestack.domain.numbers import D, to_str
from hedgestack.engine.views import (
    ALL_EVENT_TYPES,
    EVENT_TYPES,
    EXTENSION_EVENT_TYPES,
    CancelAck,
    CandleView,
    ConnectionView,
    Envelope,
    InstrumentView,
    OrderAck,
    OrderView,
    ReconcileResult,
    StateView,
    TransferResult,
    View,
    VirtualPositionView,
    envelope_from_json,
    from_json,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
    from concurrent.futures import Future
    from decimal import Decimal

log = logging.getLogger("hedgestack.client")
T = TypeVar("T")
V = TypeVar("V", bound=View)

#: the REST API's LIVE confirmation header (hedgestack/api/context.py)
CONFIRM_HEADER = "X-Hedgestack-Confirm-Live"
#: a request without an answer within this many seconds fails (exports get ``EXPORT_TIMEOUT``)
REQUEST_TIMEOUT = 30.0
EXPORT_TIMEOUT = 600.0
#: how long ``connect`` waits for the server's engine to be live
CONNECT_TIMEOUT = 60.0
#: the stream reconnects after this long, doubling up to ``RECONNECT_MAX``
RECONNECT_MIN, RECONNECT_MAX = 0.05, 2.0
#: the largest stream message accepted (a SNAPSHOT of a big account)
MAX_MESSAGE = 64 * 1024 * 1024


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class _SyncProxy:
    """``t.sync.<method>(...)``: the method on the client's loop, blocking for its result."""

    def __init__(self, client: RemoteTerminal) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if asyncio.iscoroutine(result):
                return self._client.run_sync(result)
            return result

        return call


def _trigger(value: Any) -> str | None:
    """A trigger type as the local terminal reads it (LAST/MARK accepted), in the API's spelling; bad text is
    refused here with the local terminal's ValidationError, nothing sent."""
    return None if value is None else TriggerType.parse(_text(value)).value


def _text(value: Any) -> str:
    """An enum argument as the local terminal reads it (``kind(str(value).upper())``)."""
    if isinstance(value, enum.Enum):
        value = value.value
    return str(value).upper()


def _dec(value: Any, field: str) -> str:
    """A decimal argument, read as the local terminal reads it (``D``: no float), in plain notation."""
    return to_str(D(value, field=field))


def _opt_dec(value: Any, field: str) -> str | None:
    return None if value is None else _dec(value, field)


def _drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


class RemoteTerminal:
    """A running ``hedgestack serve`` as a :class:`~hedgestack.engine.facade.TerminalApi`."""

    def __init__(self, url: str, token: str | None = None, *, confirm_live: bool = False,
                 request_timeout: float = REQUEST_TIMEOUT) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError(f"url must be the http(s) address of hedgestack serve, e.g. "
                                  f"http://127.0.0.1:3001, got {url!r}", code="INVALID_URL")
        self.url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self._ws_url = urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc,
                                   parts.path + "/v1/stream", "", ""))
        token = token if token is not None else os.environ.get("HEDGESTACK_TOKEN") or None
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._confirm_live = confirm_live
        self._timeout = request_timeout
        self.sync = _SyncProxy(self)
        self.venue_name = "unknown"
        self.symbols: tuple[str, ...] = ()
        self._connection = "DISCONNECTED"
        self._instruments: dict[str, InstrumentView] = {}
        self._vp_sides: dict[str, tuple[str, PositionSide]] = {}
        self._dispatcher = Dispatcher()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._stream_up = threading.Event()
        self._closed = False
        self.reconnects = 0
        self.stream_messages = 0

    def __repr__(self) -> str:
        return f"<RemoteTerminal {self.url} venue={self.venue_name} connection={self.connection}>"

    # == the client's loop ===========================================================================
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                ready.set()
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="hedgestack-client", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
        return self._loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The client's own loop (listeners run on it)."""
        return self._ensure_loop()

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule a coroutine on the client's loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the client's loop and block for its result (not from the client's loop)."""
        if self._on_loop():
            coro.close()
            raise RuntimeError("run_sync called on the client's own loop: await the coroutine instead")
        return self.submit(coro).result(timeout)

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the client's loop, from whatever loop the caller is on."""
        if self._on_loop():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    # == start / stop ================================================================================
    def open(self, timeout: float = CONNECT_TIMEOUT) -> RemoteTerminal:
        """Reach the server, wait until its engine is live, load the instruments and start the stream."""
        self.run_sync(self._open(timeout), timeout + 10)
        return self

    async def _open(self, timeout: float) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                connector=aiohttp.TCPConnector(limit=32, keepalive_timeout=10))
        deadline = time.monotonic() + timeout
        while True:
            status, health = await self._health()
            if status == 200 or health.get("status") not in ("starting", None):
                break
            if time.monotonic() > deadline:
                raise VenueUnavailable(f"hedgestack serve at {self.url} did not go live within {timeout:g} s "
                                       f"(status {health.get('status')})", code="ENGINE_STARTING")
            await asyncio.sleep(0.2)
        if health.get("status") in ("failed", "stopping"):
            raise VenueUnavailable(f"hedgestack serve at {self.url}: engine {health.get('status')}: "
                                   f"{health.get('reason')}", code="ENGINE_STOPPED")
        self.venue_name = str(health.get("venue", "unknown"))
        self.symbols = tuple(health.get("symbols", ()))
        self._connection = str(health.get("connection", "DISCONNECTED"))
        rows = await self._get("/v1/instruments")
        self._instruments = {row["symbol"]: from_json(InstrumentView, row) for row in rows}
        self._stream_up.clear()
        self._stream_task = asyncio.get_running_loop().create_task(self._stream(), name="hedgestack-stream")
        first = asyncio.get_running_loop().run_in_executor(None, self._stream_up.wait, timeout)
        if not await first:
            raise VenueUnavailable(f"the event stream of {self.url} did not open within {timeout:g} s",
                                   code="SERVE_UNREACHABLE")

    async def _health(self) -> tuple[int, dict[str, Any]]:
        """``GET /v1/health``: (200, body) live, (503, body) not live; any other answer raises its error."""
        status, body = await self._request("GET", "/v1/health", raw_status=True)
        if status not in (200, 503) or not isinstance(body, dict) or "status" not in body:
            raise self._error(status, json.dumps(body).encode(), "application/json")
        return status, body

    def close(self) -> None:
        """Close the stream and the connections, stop the client's thread (the server keeps running)."""
        if self._loop is None or self._closed:
            return
        self._closed = True
        if not self._on_loop():
            try:
                self.run_sync(self._close(), 10)
            except Exception:  # noqa: BLE001 - closing anyway
                log.debug("closing the client", exc_info=True)
        loop, thread = self._loop, self._thread
        self._loop = None
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._connection = "STOPPED"

    async def _close(self) -> None:
        self._dispatcher.close_all()
        if self._stream_task is not None:
            self._stream_task.cancel()
            await asyncio.gather(self._stream_task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # the local terminal's lifecycle names, so a notebook's last cell works on either
    async def start(self) -> RemoteTerminal:
        return self

    def start_sync(self, timeout: float = CONNECT_TIMEOUT) -> RemoteTerminal:
        return self

    async def stop(self) -> None:
        self.close()

    def stop_sync(self) -> None:
        self.close()

    def __enter__(self) -> RemoteTerminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def confirm_live(self) -> None:
        """Confirm, for this client session, trading on the LIVE account: order-sending requests carry
        ``X-Hedgestack-Confirm-Live: yes`` from now on."""
        self._confirm_live = True

    # == HTTP ========================================================================================
    async def _request(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
                       orders: bool = False, raw: bool = False, raw_status: bool = False,
                       timeout: float | None = None) -> Any:
        if self._session is None:
            raise VenueUnavailable("the client is closed", code="CLIENT_CLOSED")
        headers = {CONFIRM_HEADER: "yes"} if orders and self._confirm_live else {}
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        if data is not None:
            headers["Content-Type"] = "application/json"
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        attempts = 2 if method == "GET" else 1
        for attempt in range(attempts):
            try:
                async with self._session.request(
                        method, self.url + path, data=data, params=query, headers=headers,
                        timeout=aiohttp.ClientTimeout(total=timeout or self._timeout)) as resp:
                    content = await resp.read()
                    if raw_status:
                        try:
                            return resp.status, json.loads(content) if content else {}
                        except ValueError:
                            return resp.status, {"error": "HTTP_ERROR", "message": content[:200].decode(
                                errors="replace")}
                    if resp.status >= 400:
                        raise self._error(resp.status, content, resp.headers.get("Content-Type", ""))
                    if raw:
                        return content
                    return json.loads(content) if content else None
            except aiohttp.ServerDisconnectedError as exc:
                if attempt + 1 < attempts:
                    continue  # an idle keep-alive connection the server had closed: a GET is safe to repeat
                raise self._unreachable(method, path, exc) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise self._unreachable(method, path, exc) from None
        raise AssertionError("unreachable")

    def _unreachable(self, method: str, path: str, exc: BaseException) -> VenueUnavailable:
        outcome = "" if method == "GET" else " (the request may or may not have been carried out: its events " \
                                              "and state() tell)"
        return VenueUnavailable(f"hedgestack serve at {self.url} did not answer {method} {path}: "
                                f"{describe(exc)}{outcome}", code="SERVE_UNREACHABLE")

    def _error(self, status: int, content: bytes, ctype: str) -> HedgestackError:
        try:
            data = json.loads(content) if ctype.startswith("application/json") else None
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return error_from_envelope(data["error"], str(data.get("message", "")), status)
        text = content[:200].decode(errors="replace")
        if status >= 500:
            return VenueUnavailable(f"hedgestack serve answered {status}: {text}", code="SERVE_ERROR")
        return RequestRefused(f"hedgestack serve answered {status}: {text}", code="HTTP_ERROR")

    async def _get(self, path: str, **params: Any) -> Any:
        return await self._request("GET", path, params=params)

    async def _view(self, cls: type[V], method: str, path: str, body: Any = None, *,
                    orders: bool = False) -> V:
        data = await self._request(method, path, body=body, orders=orders)
        return from_json(cls, data)

    def _frame(self, method: str, path: str, params: Mapping[str, Any], body: Any = None) -> pl.DataFrame:
        """A table export as a polars frame (Arrow IPC stream), blocking (not from the client's loop)."""
        if self._on_loop():
            raise RuntimeError("frames block: call fills()/orders()/vp_history()/sql() from another thread")
        content = self.run_sync(self._request(method, path, params={**params, "format": "arrow"}, body=body,
                                              raw=True, timeout=EXPORT_TIMEOUT))
        frame = pl.from_arrow(pa.ipc.open_stream(content).read_all())
        assert isinstance(frame, pl.DataFrame)
        return frame

    # == the stream ==================================================================================
    async def _stream(self) -> None:
        """Read ``/v1/stream`` (all event types) for as long as the client lives, reconnecting."""
        assert self._session is not None
        delay = RECONNECT_MIN
        params = {"types": ",".join(EXTENSION_EVENT_TYPES)}
        was_up = False
        while not self._closed:
            reason = "closed by the server"
            try:
                async with self._session.ws_connect(self._ws_url, params=params, heartbeat=20.0,
                                                    max_msg_size=MAX_MESSAGE, autoping=True) as ws:
                    async for message in ws:
                        if message.type is aiohttp.WSMsgType.TEXT:
                            self._on_message(message.data, was_up)
                            if not was_up:
                                was_up = True
                                delay = RECONNECT_MIN
                        elif message.type is aiohttp.WSMsgType.ERROR:
                            reason = describe(ws.exception() or RuntimeError("error"))
                            break
                    if ws.close_code is not None:
                        reason = f"closed by the server ({ws.close_code})"
            except asyncio.CancelledError:
                raise
            except aiohttp.WSServerHandshakeError as exc:
                reason = f"refused ({exc.status})"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                reason = describe(exc)
            if self._closed:
                return
            if was_up:
                self.reconnects += 1
                log.warning("the event stream of %s was lost (%s); reconnecting", self.url, reason)
                self._set_connection("DISCONNECTED", f"stream to hedgestack serve lost: {reason}")
                was_up = False
            self._stream_up.clear()
            await asyncio.sleep(delay)
            delay = min(RECONNECT_MAX, delay * 2)

    def _on_message(self, text: str, was_up: bool) -> None:
        data = json.loads(text)
        self.stream_messages += 1
        if data.get("type") == "SNAPSHOT":
            state = from_json(StateView, data["payload"])
            self._learn_state(state)
            if was_up or self.reconnects:
                # after a reconnect: make front-ends reload, as after an exchange reconnect
                self._set_connection("SYNCING", "stream to hedgestack serve restored")
            self._set_connection(state.connection, None)
            self._stream_up.set()
            return
        try:
            envelope = envelope_from_json(data)
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable stream message of type %r", data.get("type"))
            return
        if envelope.type == "CONNECTION_STATE":
            assert isinstance(envelope.payload, ConnectionView)
            self._connection = envelope.payload.state
        elif envelope.type == "VIRTUAL_POSITION_UPDATE":
            self._learn_vp(envelope.payload)  # type: ignore[arg-type]
        self._dispatcher.dispatch(envelope)

    def _set_connection(self, state: str, reason: str | None) -> None:
        previous, self._connection = self._connection, state
        if state != previous:
            self._dispatcher.dispatch(connection_event(state, previous, self.reconnects, reason, now_ms()))

    def _learn_state(self, state: StateView) -> None:
        for vp in state.virtual_positions:
            self._learn_vp(vp)

    def _learn_vp(self, vp: VirtualPositionView) -> VirtualPositionView:
        self._vp_sides[vp.id] = (vp.symbol, vp.position_side)
        return vp

    # == what front-ends use =========================================================================
    @property
    def connection(self) -> str:
        """The engine's exchange connection (STARTING, SYNCING, CONNECTED, STALE, DISCONNECTED, STOPPED) as
        the stream last said; DISCONNECTED while the stream to the server itself is down."""
        return self._connection

    def add_listener(self, listener: Listener, types: Iterable[str] = ALL_EVENT_TYPES) -> Callable[[], None]:
        """Call ``listener(envelope)`` for every event of ``types``, on the client's thread (be quick: hand work
        to your own loop); returns a function that removes it."""
        return self._dispatcher.add_listener(listener, types)

    async def events(self, types: Iterable[str] = EVENT_TYPES, *, maxsize: int = 10_000) -> AsyncIterator[Envelope]:
        """The events of ``types`` (the seed's seven by default) as they happen, on the caller's loop. A caller
        that falls ``maxsize`` events behind is cut off (``StopAsyncIteration``)."""
        sub = self._dispatcher.subscribe(maxsize, types)
        try:
            while (envelope := await sub.get()) is not None:
                yield envelope
        finally:
            sub.close()

    def instrument(self, symbol: str) -> InstrumentView:
        """The trading rules of ``symbol`` (loaded when the client connected)."""
        try:
            return self._instruments[symbol]
        except KeyError:
            raise ValidationError(f"symbol {symbol!r} is not traded here; symbols: {list(self.symbols)}",
                                  code="UNKNOWN_SYMBOL") from None

    async def candles(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[CandleView]:
        self.instrument(symbol)
        rows = await self._call(self._get("/v1/candles", symbol=symbol, interval=interval, limit=int(limit)))
        return [from_json(CandleView, row) for row in rows]

    # == state =======================================================================================
    async def state(self, *, recent_fills: int = 50) -> StateView:
        async def run() -> StateView:
            state = from_json(StateView, await self._get("/v1/state", fills=int(recent_fills)))
            self._learn_state(state)
            return state

        return await self._call(run())

    async def vp(self, vp_id: str) -> VirtualPositionView:
        return self._learn_vp(await self._call(self._view(VirtualPositionView, "GET",
                                                          f"/v1/virtual-positions/{vp_id}")))

    async def order_history(self, *, vp: str | None = None, symbol: str | None = None) -> list[OrderView]:
        rows = await self._call(self._get("/v1/orders/history", vp=vp, symbol=symbol))
        return [from_json(OrderView, row) for row in rows]

    # == analytics (polars frames over Arrow) ========================================================
    def fills(self, *, vp: str | None = None, symbol: str | None = None, since: int | None = None,
              until: int | None = None, limit: int | None = None) -> pl.DataFrame:
        """Fills in time order (the local terminal's columns), optionally by VP, symbol, [since, until)."""
        return self._frame("GET", "/v1/fills", {"vp": vp, "symbol": symbol, "since": since, "until": until,
                                                "limit": limit})

    def orders(self, *, vp: str | None = None, symbol: str | None = None) -> pl.DataFrame:
        return self._frame("GET", "/v1/orders/history", {"vp": vp, "symbol": symbol})

    def vp_history(self, *, vp: str | None = None) -> pl.DataFrame:
        return self._frame("GET", "/v1/vp-history", {"vp": vp})

    def sql(self, query: str) -> pl.DataFrame:
        """One read-only SELECT over the views fills, orders, vp_history, marks, vp_eod_current, vp_equity (the
        server refuses anything else with INVALID_QUERY)."""
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("query must be a non-empty SQL string", code="INVALID_QUERY")
        return self._frame("POST", "/v1/sql", {}, {"query": query})

    # == commands ====================================================================================
    async def create_vp(self, name: str, symbol: str, position_side: str | PositionSide) -> VirtualPositionView:
        body = {"name": name, "symbol": symbol, "positionSide": _text(position_side)}
        return self._learn_vp(await self._call(self._view(VirtualPositionView, "POST", "/v1/virtual-positions",
                                                          body)))

    async def rename_vp(self, vp_id: str, name: str) -> VirtualPositionView:
        return await self._call(self._view(VirtualPositionView, "PATCH", f"/v1/virtual-positions/{vp_id}",
                                           {"name": name}))

    async def archive_vp(self, vp_id: str) -> VirtualPositionView:
        return await self._call(self._view(VirtualPositionView, "DELETE", f"/v1/virtual-positions/{vp_id}"))

    async def _side_of(self, vp_id: str) -> tuple[str, PositionSide]:
        side = self._vp_sides.get(vp_id)
        if side is None:
            vp = await self._view(VirtualPositionView, "GET", f"/v1/virtual-positions/{vp_id}")
            side = (vp.symbol, vp.position_side)
            self._vp_sides[vp_id] = side
        return side

    async def place_order(self, vp_id: str, side: str | Side, order_type: str | OrderType, qty: str | Decimal,
                          price: str | Decimal | None = None, *, time_in_force: str | None = None,
                          trigger_price: str | Decimal | None = None, trigger_type: str | None = None,
                          reduce_only: bool = False, symbol: str | None = None,
                          position_side: str | None = None) -> OrderAck:
        """Place an order into a VP: {orderId, clientOrderId, status} (see ``Terminal.place_order``)."""
        body = _drop_none({
            "virtual_position_id": vp_id, "side": _text(side), "type": _text(order_type), "qty": _dec(qty, "qty"),
            "price": _opt_dec(price, "price"),
            "timeInForce": None if time_in_force is None else _text(time_in_force),
            "triggerPrice": _opt_dec(trigger_price, "trigger_price"),
            "triggerType": _trigger(trigger_type),
            "reduceOnly": True if reduce_only else None,
            "symbol": symbol, "positionSide": None if position_side is None else _text(position_side)})

        async def run() -> OrderAck:
            if "symbol" not in body or "positionSide" not in body:
                known_symbol, known_side = await self._side_of(vp_id)
                body.setdefault("symbol", known_symbol)
                body.setdefault("positionSide", known_side.value)
            return await self._view(OrderAck, "POST", "/v1/orders", body, orders=True)

        return await self._call(run())

    async def cancel_order(self, order_ref: str | int) -> CancelAck:
        return await self._call(self._view(CancelAck, "POST", f"/v1/orders/{order_ref}/cancel"))

    async def amend_order(self, order_ref: str | int, *, price: str | Decimal | None = None,
                          qty: str | Decimal | None = None) -> OrderAck:
        body = _drop_none({"price": _opt_dec(price, "price"), "qty": _opt_dec(qty, "qty")})
        return await self._call(self._view(OrderAck, "POST", f"/v1/orders/{order_ref}/amend", body, orders=True))

    async def close_vp(self, vp_id: str, order_type: str = "MARKET", *, percent: str | Decimal | None = None,
                       qty: str | Decimal | None = None, price: str | Decimal | None = None,
                       time_in_force: str | None = None) -> OrderAck:
        body = _drop_none({"type": _text(order_type), "percent": _opt_dec(percent, "percent"),
                           "qty": _opt_dec(qty, "qty"), "price": _opt_dec(price, "price"),
                           "timeInForce": None if time_in_force is None else _text(time_in_force)})
        return await self._call(self._view(OrderAck, "POST", f"/v1/virtual-positions/{vp_id}/close", body,
                                           orders=True))

    async def set_tpsl(self, vp_id: str, *, tp_price: str | Decimal | None = None, tp_trigger_type: str | None = None,
                       sl_price: str | Decimal | None = None, sl_trigger_type: str | None = None,
                       qty: str | Decimal | None = None) -> VirtualPositionView:
        body = _drop_none({
            "tp_price": _opt_dec(tp_price, "tp_price"),
            "tp_trigger_type": _trigger(tp_trigger_type),
            "sl_price": _opt_dec(sl_price, "sl_price"),
            "sl_trigger_type": _trigger(sl_trigger_type),
            "qty": _opt_dec(qty, "qty")})
        return await self._call(self._view(VirtualPositionView, "POST", f"/v1/virtual-positions/{vp_id}/tpsl",
                                           body, orders=True))

    async def clear_tpsl(self, vp_id: str) -> VirtualPositionView:
        return await self._call(self._view(VirtualPositionView, "DELETE", f"/v1/virtual-positions/{vp_id}/tpsl"))

    async def transfer(self, from_vp: str, to_vp: str, qty: str | Decimal) -> TransferResult:
        body = {"from_vp": from_vp, "to_vp": to_vp, "qty": _dec(qty, "qty")}
        return await self._call(self._view(TransferResult, "POST", "/v1/transfers", body))

    async def reconcile(self, symbol: str, position_side: str | PositionSide,
                        assignments: dict[str, str | Decimal] | list[dict[str, Any]]) -> ReconcileResult:
        if isinstance(assignments, dict):
            rows = [{"virtual_position_id": vp_id, "qty": _dec(qty, "qty")} for vp_id, qty in assignments.items()]
        else:
            rows = [{**row, "qty": _dec(row["qty"], "qty")} if isinstance(row, dict) and "qty" in row else row
                    for row in assignments]
        body = {"symbol": symbol, "positionSide": _text(position_side), "assignments": rows}
        return await self._call(self._view(ReconcileResult, "POST", "/v1/reconcile", body))

    # == for scripts and tests ========================================================================
    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until the engine is CONNECTED, no order of ours is PENDING and no TP/SL is SYNCING (the local
        ``Terminal.wait_idle``, read from ``state()``)."""
        deadline = time.monotonic() + timeout
        while True:
            state = await self.state(recent_fills=0)
            if state.connection == "CONNECTED" and not any(o.status is OrderStatus.PENDING for o in
                                                           state.open_orders) and \
                    not any(vp.tpsl is not None and vp.tpsl.sync_status.value == "SYNCING"
                            for vp in state.virtual_positions):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("terminal not idle in time")
            await asyncio.sleep(0.05)


def connect(url: str, token: str | None = None, *, confirm_live: bool = False,
            timeout: float = CONNECT_TIMEOUT) -> RemoteTerminal:
    """A client of the ``hedgestack serve`` at ``url`` with the local terminal's Python API (``TerminalApi``).

    ``token``: the server's ``HEDGESTACK_TOKEN`` (default: that environment variable). ``confirm_live``: on the
    LIVE venue, this client session confirms trading on the real account (else its first order-sending call
    raises ``LiveConfirmationRequired``; :meth:`RemoteTerminal.confirm_live` confirms later). Waits up to
    ``timeout`` seconds for the server's engine to be live."""
    client = RemoteTerminal(url, token, confirm_live=confirm_live)
    try:
        return client.open(timeout)
    except BaseException:
        client.close()
        raise
