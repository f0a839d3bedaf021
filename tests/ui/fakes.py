"""Engine views built by hand and a fake ``TerminalApi`` that records the commands it is given (for view-model
tests without a browser or an engine)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future
from dataclasses import replace
from decimal import Decimal
from typing import Any

from hedgestack.domain.enums import (
    ConsistencyStatus,
    OrderRole,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    SyncStatus,
    TimeInForce,
    TriggerType,
)
from hedgestack.engine.views import (
    AccountView,
    CandleView,
    ConsistencyView,
    Envelope,
    ExternalPositionView,
    FillView,
    InstrumentView,
    OrderAck,
    OrderView,
    SideStatus,
    SideStatusView,
    StateView,
    TpSlView,
    VirtualPositionView,
)

D = Decimal
BTC = InstrumentView(symbol="BTCUSDT", price_precision=2, quantity_precision=3, tick_size=D("0.10"),
                     min_price=D("261.10"), max_price=D("809484"), step_size=D("0.001"), min_qty=D("0.001"),
                     max_qty=D("1000"), market_step_size=D("0.001"), market_min_qty=D("0.001"),
                     market_max_qty=D("120"), min_notional=D("100"), multiplier_up=D("1.05"),
                     multiplier_down=D("0.95"))
ETH = InstrumentView(symbol="ETHUSDT", price_precision=2, quantity_precision=3, tick_size=D("0.01"),
                     min_price=D("39.86"), max_price=D("306177"), step_size=D("0.001"), min_qty=D("0.001"),
                     max_qty=D("10000"), market_step_size=D("0.001"), market_min_qty=D("0.001"),
                     market_max_qty=D("2000"), min_notional=D("20"), multiplier_up=D("1.05"),
                     multiplier_down=D("0.95"))
INSTRUMENTS = {"BTCUSDT": BTC, "ETHUSDT": ETH}
T0 = 1_760_000_000_000


def vp(vp_id: str, name: str, qty: str = "0", entry: str = "0", *, symbol: str = "BTCUSDT",
       side: PositionSide = PositionSide.LONG, system: bool = False, locked: bool = False, tp: str | None = None,
       sl: str | None = None, created_at: int = T0, **extra: Any) -> VirtualPositionView:
    tpsl = None
    if tp is not None or sl is not None:
        tpsl = TpSlView(tp_price=None if tp is None else D(tp), tp_trigger_type=TriggerType.LAST_PRICE,
                        sl_price=None if sl is None else D(sl), sl_trigger_type=TriggerType.MARK_PRICE,
                        tp_order_id="11" if tp else None, sl_order_id="12" if sl else None,
                        tp_client_order_id=None, sl_client_order_id=None, tp_qty=D(qty) if tp else None,
                        sl_qty=D(qty) if sl else None, sync_status=SyncStatus.OK, sync_reason=None)
    fields: dict[str, Any] = dict(
        id=vp_id, name=name, symbol=symbol, position_side=side, net_qty=D(qty), avg_entry=D(entry),
        unrealized_pnl=D(0), realized_pnl=D(0), tpsl=tpsl, created_at=created_at, fees=D(0), fees_by_asset={},
        funding=D(0), net_pnl=D(0), reset_at=None, mark_price=None, archived=False, system=system, locked=locked)
    fields.update(extra)
    return VirtualPositionView(**fields)


def ext(qty: str, entry: str = "95000", *, symbol: str = "BTCUSDT", side: PositionSide = PositionSide.LONG,
        **extra: Any) -> ExternalPositionView:
    return ExternalPositionView(symbol=symbol, position_side=side, qty=D(qty), avg_entry_price=D(entry),
                                unrealized_pnl=D(0), **extra)


def detail(status: SideStatus, exchange: str = "0", vps: str = "0", *, reason: str | None = None,
           confirmed_at: int | None = T0) -> SideStatusView:
    return SideStatusView(status=status, confirmed_at=confirmed_at, confirmed_by="rest", exchange_qty=D(exchange),
                          vp_qty=D(vps), reason=reason)


def consistency(status: SideStatus, exchange: str, vps: str, *, symbol: str = "BTCUSDT",
                side: PositionSide = PositionSide.LONG) -> ConsistencyView:
    return ConsistencyView(symbol=symbol, position_side=side, status=status.seed_status, exchange_qty=D(exchange),
                           vp_qty=D(vps), detail=detail(status, exchange, vps))


def order(cid: str, vp_id: str, *, side: Side = Side.BUY, type_: OrderType = OrderType.LIMIT, qty: str = "0.010",
          price: str | None = "94000", status: OrderStatus = OrderStatus.NEW, role: OrderRole = OrderRole.ENTRY,
          filled: str = "0", avg: str | None = None, created_at: int = T0, symbol: str = "BTCUSDT",
          position_side: PositionSide = PositionSide.LONG, reason: str | None = None,
          trigger: str | None = None, order_id: str | None = "1001") -> OrderView:
    return OrderView(order_id=order_id, client_order_id=cid, virtual_position_id=vp_id, symbol=symbol, side=side,
                     position_side=position_side, type=type_, qty=D(qty), price=None if price is None else D(price),
                     status=status, reduce_only=role.reduces, created_at=created_at, role=role, filled_qty=D(filled),
                     avg_price=None if avg is None else D(avg), trigger_price=None if trigger is None else D(trigger),
                     trigger_type=None, time_in_force=TimeInForce.GTC if type_ is OrderType.LIMIT else None,
                     is_algo=False, algo_id=None, actual_order_id=None, updated_at=created_at, reason=reason,
                     replaces=None)


def fill(trade_id: int, vp_id: str, *, vp_name: str | None, side: Side = Side.BUY, qty: str = "0.010",
         price: str = "95000", cid: str | None = "c1", order_id: int = 1001, realized: str | None = "0",
         time: int = T0, symbol: str = "BTCUSDT", position_side: PositionSide = PositionSide.LONG) -> FillView:
    return FillView(trade_id=trade_id, order_id=order_id, client_order_id=cid, virtual_position_id=vp_id,
                    vp_name=vp_name, symbol=symbol, side=side, position_side=position_side, qty=D(qty),
                    price=D(price), commission=D("0.38"), commission_asset="USDT",
                    realized_pnl=None if realized is None else D(realized), exchange_rp=D(0), maker=False, time=time)


def state(vps: Iterable[VirtualPositionView] = (), externals: Iterable[ExternalPositionView] = (),
          orders: Iterable[OrderView] = (), fills: Iterable[FillView] = (),
          details: dict[tuple[str, PositionSide], SideStatusView] | None = None,
          account: AccountView | None = None, connection: str = "CONNECTED", venue: str = "sim",
          marks: dict[str, Decimal] | None = None) -> StateView:
    details = details or {}
    detail_map: dict[str, dict[str, SideStatusView]] = {}
    reconcile: dict[str, dict[str, ConsistencyStatus]] = {}
    for symbol in INSTRUMENTS:
        for side in PositionSide:
            d = details.get((symbol, side), detail(SideStatus.OK))
            detail_map.setdefault(symbol, {})[side.value] = d
            reconcile.setdefault(symbol, {})[side.value] = d.status.seed_status
    account = account or AccountView(wallet_balance=D("10000"), available_balance=D("1000"))
    return StateView(external_positions=tuple(externals), virtual_positions=tuple(vps), open_orders=tuple(orders),
                     fills=tuple(fills), reconcile=reconcile, reconcile_detail=detail_map, account=account,
                     venue=venue, connection=connection, wallet_balance=account.wallet_balance,
                     marks=marks if marks is not None else {"BTCUSDT": D("95000"), "ETHUSDT": D("3500")})


def env(kind: str, payload: Any, ts: int = T0) -> Envelope:
    return Envelope(kind, payload, ts)


class _Sync:
    def __init__(self, terminal: FakeTerminal) -> None:
        self._t = terminal

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._t, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if asyncio.iscoroutine(result):
                return asyncio.run(result)
            return result

        return call


class FakeTerminal:
    """A ``TerminalApi`` over a fixed snapshot; commands are recorded and answered by ``answers``."""

    symbols = ("BTCUSDT", "ETHUSDT")

    def __init__(self, snapshot: StateView | None = None, *, venue: str = "sim") -> None:
        self.snapshot = snapshot or state()
        self.venue_name = venue
        self.connection = self.snapshot.connection
        self.sync = _Sync(self)
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.answers: dict[str, Any] = {}
        self.listeners: list[Callable[[Envelope], None]] = []
        self.history: list[OrderView] = []

    # what the dashboard reads
    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(asyncio.run(coro))
        except Exception as exc:  # noqa: BLE001 - a refusal: handed back as the future's exception
            future.set_exception(exc)
        return future

    async def state(self, *, recent_fills: int = 50) -> StateView:
        return self.snapshot

    async def order_history(self, *, vp: str | None = None, symbol: str | None = None) -> list[OrderView]:
        return list(self.history)

    def instrument(self, symbol: str) -> InstrumentView:
        return INSTRUMENTS[symbol]

    async def candles(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[CandleView]:
        self.calls.append(("candles", (symbol, interval, limit), {}))
        return [CandleView(open_time=T0 + i * 60_000, open=D("95000"), high=D("95100"), low=D("94900"),
                           close=D("95050"), volume=D("3"), closed=True) for i in range(min(limit, 5))]

    def add_listener(self, listener: Callable[[Envelope], None], types: Iterable[str] = ()) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, envelope: Envelope) -> None:
        for listener in list(self.listeners):
            listener(envelope)

    # commands: recorded, answered from ``answers`` (an exception is raised)
    def _answer(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.calls.append((name, args, kwargs))
        answer = self.answers.get(name)
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(*args, **kwargs)
        return answer

    async def place_order(self, *args: Any, **kwargs: Any) -> OrderAck:
        answer = self._answer("place_order", args, kwargs)
        return answer or OrderAck(order_id="1001", client_order_id="VP-test-1", status=OrderStatus.NEW)

    async def close_vp(self, *args: Any, **kwargs: Any) -> OrderAck:
        answer = self._answer("close_vp", args, kwargs)
        return answer or OrderAck(order_id="1002", client_order_id="VP-test-2", status=OrderStatus.NEW)

    async def set_tpsl(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer("set_tpsl", args, kwargs) or self.snapshot.virtual_positions[0]

    async def clear_tpsl(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer("clear_tpsl", args, kwargs)

    async def cancel_order(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer("cancel_order", args, kwargs)

    async def amend_order(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer("amend_order", args, kwargs)

    async def reconcile(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer("reconcile", args, kwargs)

    async def transfer(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer("transfer", args, kwargs)

    async def create_vp(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer("create_vp", args, kwargs)

    async def rename_vp(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer("rename_vp", args, kwargs)

    async def archive_vp(self, *args: Any, **kwargs: Any) -> Any:
        return self._answer("archive_vp", args, kwargs)

    def commands(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, kwargs) for n, args, kwargs in self.calls if n == name]


__all__ = ["BTC", "D", "ETH", "FakeTerminal", "INSTRUMENTS", "T0", "consistency", "detail", "env", "ext", "fill",
           "order", "replace", "state", "vp"]
