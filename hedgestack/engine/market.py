"""Market state: the symbols' trading rules, marks, last prices, funding rates and recent candles.

Fed by the venue at start (exchangeInfo, premiumIndex) and by the market stream (markPrice@1s, kline_1m). Mark
samples are kept for the store (one per symbol per second) and handed to it in batches. Listeners hear every
mark move (the presenter publishes MARK_PRICE; the exchange truth recomputes the sides' uPnL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from hedgestack.domain.errors import ValidationError

if TYPE_CHECKING:
    from decimal import Decimal

    from hedgestack.domain.filters import SymbolFilters
    from hedgestack.venue.port import ExchangeRules, Kline, MarkPrice, Premium

MarkListener = Callable[[str], None]
#: candles kept per symbol
KEEP_CANDLES = 1000


class Market:
    def __init__(self, symbols: Iterable[str]) -> None:
        self.symbols = tuple(symbols)
        self.filters: dict[str, SymbolFilters] = {}
        self.marks: dict[str, Decimal] = {}
        self.last_prices: dict[str, Decimal] = {}
        self.funding_rates: dict[str, Decimal] = {}
        self.candles: dict[str, list[Kline]] = {}
        self._samples: list[tuple[str, int, Decimal]] = []
        self._last_sample: dict[str, int] = {}
        self._listeners: list[MarkListener] = []

    def load(self, rules: ExchangeRules, premiums: Iterable[Premium]) -> None:
        """The rules of our symbols (UNKNOWN_SYMBOL for one the venue does not list) and their first marks."""
        missing = [s for s in self.symbols if s not in rules.filters]
        if missing:
            raise ValidationError(f"unknown symbols: {missing}", code="UNKNOWN_SYMBOL")
        self.filters = {s: rules.filters[s] for s in self.symbols}
        for premium in premiums:
            self.marks[premium.symbol] = premium.mark_price
            self.funding_rates[premium.symbol] = premium.last_funding_rate

    def rules(self, symbol: str) -> SymbolFilters:
        try:
            return self.filters[symbol]
        except KeyError:
            raise ValidationError(f"symbol {symbol!r} is not traded here; symbols: {list(self.symbols)}",
                                  code="UNKNOWN_SYMBOL") from None

    def mark(self, symbol: str) -> Decimal | None:
        return self.marks.get(symbol)

    def last_or_mark(self, symbol: str) -> Decimal | None:
        return self.last_prices.get(symbol, self.marks.get(symbol))

    def on_mark(self, listener: MarkListener) -> None:
        self._listeners.append(listener)

    # -- the stream --------------------------------------------------------------------------------
    def mark_price(self, message: MarkPrice) -> None:
        if message.symbol not in self.filters:
            return
        self.marks[message.symbol] = message.mark
        if message.funding_rate is not None:
            self.funding_rates[message.symbol] = message.funding_rate
        if message.event_time - self._last_sample.get(message.symbol, 0) >= 1000:
            self._last_sample[message.symbol] = message.event_time
            self._samples.append((message.symbol, message.event_time, message.mark))
        for listener in list(self._listeners):
            listener(message.symbol)

    def kline(self, message: Kline) -> None:
        if message.symbol not in self.filters:
            return
        self.last_prices[message.symbol] = message.close
        bars = self.candles.setdefault(message.symbol, [])
        if bars and bars[-1].open_time == message.open_time:
            bars[-1] = message
        else:
            bars.append(message)
            del bars[:-KEEP_CANDLES]

    def take_samples(self) -> list[tuple[str, int, Decimal]]:
        """The mark samples gathered since the last call (for the store's marks table)."""
        taken, self._samples = self._samples, []
        return taken


__all__ = ["Market"]
