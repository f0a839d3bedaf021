"""What the simulator's HTTP handlers need of the server that hosts them (so they never import it back).

``ControlHost`` serves ``/sim/v1`` (control.py), ``MarketHost`` the Binance market-data routes (rest.py). The
``SimServer`` is both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from decimal import Decimal

    from hedgestack.venue.binance import schemas as w
    from hedgestack.venue.sim.exchange import Exchange
    from hedgestack.venue.sim.funding import FundingRow
    from hedgestack.venue.sim.history import SymbolHistory
    from hedgestack.venue.sim.persist import Identity
    from hedgestack.venue.sim.streams import Streams


class ControlHost(Protocol):
    exchange: Exchange
    identity: Identity

    def apply_price(self, symbol: str, last: Decimal, mark: Decimal | None, *, qty: Decimal = ...) -> None: ...
    def commit(self) -> None: ...
    def push_mark(self, symbol: str, *, slow: bool = True) -> None: ...
    async def inject_fault(self, kind: str, data: dict[str, Any]) -> None: ...
    async def reset(self) -> None: ...
    def truth(self) -> dict[str, Any]: ...


class MarketHost(Protocol):
    exchange: Exchange
    streams: Streams

    def history(self, symbol: str) -> SymbolHistory: ...
    def funding_history(self, symbol: str) -> list[FundingRow]: ...
    def depth_snapshot(self, symbol: str, limit: int) -> w.Depth: ...
    def book_ticker(self, symbol: str) -> w.BookTickerRest: ...
    def ticker(self, symbol: str) -> w.Ticker24h: ...
    def open_interest(self, symbol: str) -> Decimal: ...


__all__ = ["ControlHost", "MarketHost"]
