"""What every front-end may use of a terminal: the local :class:`~hedgestack.engine.terminal.Terminal` and the
client of a running ``hedgestack serve`` (``hedgestack.connect(url)``) both provide it, so a notebook, the
dashboard and a script work unchanged on either.

Results are the typed views of :mod:`hedgestack.engine.views`; refusals raise the typed errors of
:mod:`hedgestack.domain.errors` (the same code whichever side refused). Every command is a coroutine that can be
awaited from any loop; ``t.sync.<command>(...)`` blocks for it (not from the terminal's own loop).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
    from concurrent.futures import Future
    from decimal import Decimal

    import polars as pl

    from hedgestack.domain.enums import OrderType, PositionSide, Side
    from hedgestack.engine.views import (
        CancelAck,
        CandleView,
        Envelope,
        InstrumentView,
        OrderAck,
        OrderView,
        ReconcileResult,
        StateView,
        TransferResult,
        VirtualPositionView,
    )

T = TypeVar("T")


@runtime_checkable
class TerminalApi(Protocol):
    """The terminal as its front-ends see it."""

    @property
    def symbols(self) -> tuple[str, ...]: ...
    @property
    def venue_name(self) -> str: ...  # sim | testnet | live
    @property
    def connection(self) -> str: ...  # STARTING, SYNCING, CONNECTED, STALE, DISCONNECTED, STOPPED
    @property
    def sync(self) -> Any: ...  # ``t.sync.<method>(...)``: the blocking form of every coroutine method

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]: ...

    # state
    async def state(self, *, recent_fills: int = 50) -> StateView: ...
    async def vp(self, vp_id: str) -> VirtualPositionView: ...
    async def order_history(self, *, vp: str | None = None, symbol: str | None = None) -> list[OrderView]: ...
    def instrument(self, symbol: str) -> InstrumentView: ...
    async def candles(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[CandleView]: ...

    # events
    def add_listener(self, listener: Callable[[Envelope], None], types: Iterable[str] = ...) -> Callable[[], None]: ...
    def events(self, types: Iterable[str] = ..., *, maxsize: int = 10_000) -> AsyncIterator[Envelope]: ...

    # analytics (polars)
    def fills(self, **filters: Any) -> pl.DataFrame: ...
    def orders(self, *, vp: str | None = None, symbol: str | None = None) -> pl.DataFrame: ...
    def vp_history(self, **filters: Any) -> pl.DataFrame: ...
    def sql(self, query: str) -> pl.DataFrame: ...

    # commands
    async def create_vp(self, name: str, symbol: str, position_side: str | PositionSide) -> VirtualPositionView: ...
    async def rename_vp(self, vp_id: str, name: str) -> VirtualPositionView: ...
    async def archive_vp(self, vp_id: str) -> VirtualPositionView: ...
    async def place_order(self, vp_id: str, side: str | Side, order_type: str | OrderType, qty: str | Decimal,
                          price: str | Decimal | None = None, *, time_in_force: str | None = None,
                          trigger_price: str | Decimal | None = None, trigger_type: str | None = None,
                          reduce_only: bool = False, symbol: str | None = None,
                          position_side: str | None = None) -> OrderAck: ...
    async def cancel_order(self, order_ref: str | int) -> CancelAck: ...
    async def amend_order(self, order_ref: str | int, *, price: str | Decimal | None = None,
                          qty: str | Decimal | None = None) -> OrderAck: ...
    async def close_vp(self, vp_id: str, order_type: str = "MARKET", *, percent: str | Decimal | None = None,
                       qty: str | Decimal | None = None, price: str | Decimal | None = None,
                       time_in_force: str | None = None) -> OrderAck: ...
    async def set_tpsl(self, vp_id: str, *, tp_price: str | Decimal | None = None, tp_trigger_type: str | None = None,
                       sl_price: str | Decimal | None = None, sl_trigger_type: str | None = None,
                       qty: str | Decimal | None = None) -> VirtualPositionView: ...
    async def clear_tpsl(self, vp_id: str) -> VirtualPositionView: ...
    async def transfer(self, from_vp: str, to_vp: str, qty: str | Decimal) -> TransferResult: ...
    async def reconcile(self, symbol: str, position_side: str | PositionSide,
                        assignments: dict[str, str | Decimal] | list[dict[str, Any]]) -> ReconcileResult: ...


__all__ = ["TerminalApi"]
