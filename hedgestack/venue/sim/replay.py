"""Binance's public data files (data.binance.vision), read exactly as downloaded, as a stream of market events.

Layout (reference/binance-usdm-risk-market.md §6): ``{SYMBOL}-{interval}-{date}.zip`` for klines,
markPriceKlines, indexPriceKlines, premiumIndexKlines (the same name for all four: the kind is the folder the
file was downloaded into, ``.../markPriceKlines/BTCUSDT/1m/``, or, for a lone file, a mark-price kline is one
whose volume columns are all 0); ``{SYMBOL}-{kind}-{date}.zip`` for trades, aggTrades, bookTicker, fundingRate.
One CSV per zip (a bare ``.csv`` or a ``.parquet`` with the same columns is read too), with or without the
header line (the first field decides: a digit means no header); timestamps in milliseconds or microseconds
(values above 10^14 are microseconds). A folder stands for every such file inside it.

Columns (by position):

- klines: open_time, open, high, low, close, volume, close_time, quote_volume, count, taker_buy_volume, ...
  → four trades a candle (open, then high and low in the candle's direction, then close), a quarter of the
  volume each, spread over the candle;
- mark/index/premium klines: the same 12 columns → the mark price (mark klines; index and premium klines are
  read and ignored, with a log line);
- trades: id, price, qty, quote_qty, time, is_buyer_maker; aggTrades: agg_trade_id, price, quantity,
  first_trade_id, last_trade_id, transact_time, is_buyer_maker → one trade each;
- bookTicker: update_id, best_bid_price, best_bid_qty, best_ask_price, best_ask_qty, transaction_time,
  event_time → the top of the book;
- fundingRate: calc_time, funding_interval_hours, last_funding_rate → a settlement at that rate.

A file that cannot be read raises ``ReplayError`` with one line naming the file and the reason.
"""

from __future__ import annotations

import heapq
import io
import logging
import re
import zipfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from hedgestack.progress import progress

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

log = logging.getLogger(__name__)

KLINE_KINDS = ("klines", "markPriceKlines", "indexPriceKlines", "premiumIndexKlines")
NAMED_KINDS = ("aggTrades", "trades", "bookTicker", "fundingRate", "bookDepth", "metrics")
_INTERVAL = re.compile(r"^(1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1mo|1M)$")
_SPAN = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
         "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
         "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000, "1mo": 2_592_000_000,
         "1M": 2_592_000_000}


class ReplayError(ValueError):
    """A replay file that cannot be used; the message is one line: ``replay file NAME: reason``."""


@dataclass(frozen=True, slots=True)
class Trade:
    time: int
    symbol: str
    price: Decimal
    qty: Decimal
    buyer_maker: bool


@dataclass(frozen=True, slots=True)
class Quote:
    time: int
    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal


@dataclass(frozen=True, slots=True)
class Mark:
    time: int
    symbol: str
    mark: Decimal


@dataclass(frozen=True, slots=True)
class Funding:
    time: int
    symbol: str
    rate: Decimal
    interval_hours: int


Event = Trade | Quote | Mark | Funding


@dataclass(frozen=True, slots=True)
class ReplayFile:
    """One file, parsed: its symbol, kind and rows (strings, oldest first)."""

    path: Path
    symbol: str
    kind: str
    interval: str | None
    frame: pl.DataFrame

    def events(self) -> Iterator[Event]:
        return _events(self)

    def first_time(self) -> int:
        return _ms(int(self.frame.row(0)[_time_column(self.kind)])) if self.frame.height else 0


def _time_column(kind: str) -> int:
    return {"trades": 4, "aggTrades": 5, "bookTicker": 5, "fundingRate": 0}.get(kind, 0)


def _ms(value: int) -> int:
    """Milliseconds from a millisecond or microsecond timestamp."""
    return value // 1000 if value > 10**14 else value


def _dec(text: str, path: Path, what: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ReplayError(f"replay file {path.name}: {what} {text!r} is not a number") from None


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files of the given paths, a folder standing for every .zip/.csv/.parquet inside it (sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in (".zip", ".csv", ".parquet")))
        else:
            out.append(path)
    return out


def _read_bytes(path: Path) -> tuple[bytes, str]:
    """The CSV text of a file (the one CSV of a zip), and the name it had."""
    if not path.exists():
        raise ReplayError(f"replay file {path}: no such file")
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if not members:
                    raise ReplayError(f"replay file {path.name}: the zip holds no .csv file")
                return archive.read(members[0]), members[0]
        except zipfile.BadZipFile:
            raise ReplayError(f"replay file {path.name}: not a zip archive") from None
    return path.read_bytes(), path.name


def _kind_of(path: Path, name: str) -> tuple[str, str, str | None]:
    """(symbol, kind, interval) from the file name and the folders it sits in."""
    stem = Path(name).stem
    parts = stem.split("-")
    if len(parts) < 2:
        raise ReplayError(f"replay file {path.name}: the name is not SYMBOL-KIND-DATE or SYMBOL-INTERVAL-DATE")
    symbol = parts[0].upper()
    if parts[1] in NAMED_KINDS:
        return symbol, parts[1], None
    if _INTERVAL.match(parts[1]):
        folders = {p for p in path.parts}
        kind = next((k for k in KLINE_KINDS if k in folders), "klines?")
        return symbol, kind, parts[1]
    raise ReplayError(f"replay file {path.name}: unknown kind {parts[1]!r} (klines, markPriceKlines, trades, "
                      f"aggTrades, bookTicker or fundingRate)")


_COLUMNS = {"klines": 12, "markPriceKlines": 12, "indexPriceKlines": 12, "premiumIndexKlines": 12,
            "trades": 6, "aggTrades": 7, "bookTicker": 7, "fundingRate": 3}


def read_file(path: Path) -> ReplayFile:
    """Parse one file (see the module text)."""
    if path.suffix == ".parquet":
        try:
            frame = pl.read_parquet(path).select(pl.all().cast(pl.String))
        except Exception as exc:  # noqa: BLE001 - any reader failure is a one-line error
            raise ReplayError(f"replay file {path.name}: not a readable Parquet file ({type(exc).__name__})") from None
        name = path.name
    else:
        data, name = _read_bytes(path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ReplayError(f"replay file {path.name}: not a CSV text file (use the .zip as downloaded, "
                              "or the .csv inside it)") from None
        first = text.lstrip()[:1]
        if not first:
            raise ReplayError(f"replay file {path.name}: empty")
        header = not (first.isdigit() or first == "-")
        try:
            frame = pl.read_csv(io.StringIO(text), has_header=header, infer_schema=False)
        except Exception as exc:  # noqa: BLE001
            raise ReplayError(f"replay file {path.name}: not a CSV table ({type(exc).__name__})") from None
    symbol, kind, interval = _kind_of(path, name)
    if kind == "klines?":  # a kline file outside Binance's folders: mark price klines carry no volume
        volumes = frame.get_column(frame.columns[5]) if frame.width > 5 else None
        kind = "markPriceKlines" if volumes is not None and bool((volumes.cast(pl.Float64) == 0).all()) \
            else "klines"
    expected = _COLUMNS.get(kind)
    if expected is None:
        raise ReplayError(f"replay file {path.name}: {kind} files are not replayed (klines, markPriceKlines, "
                          "trades, aggTrades, bookTicker, fundingRate)")
    if frame.width < expected:
        raise ReplayError(f"replay file {path.name}: {frame.width} columns, {kind} files have {expected}")
    if kind in ("aggTrades", "bookTicker") and frame.height:
        last = str(frame.row(0)[6]).strip().lower()
        if kind == "aggTrades" and last not in ("true", "false"):
            raise ReplayError(f"replay file {path.name}: column 7 should be is_buyer_maker (true/false)")
    return ReplayFile(path=path, symbol=symbol, kind=kind, interval=interval, frame=frame)


def _events(f: ReplayFile) -> Iterator[Event]:
    symbol, path = f.symbol, f.path
    if f.kind == "klines":
        span = _SPAN.get(f.interval or "1m", 60_000)
        for row in f.frame.iter_rows():
            t0 = _ms(int(row[0]))
            o, h, lo, c = (_dec(x, path, "price") for x in row[1:5])
            quarter = _dec(row[5], path, "volume") / 4
            path_prices = (o, h, lo, c) if c >= o else (o, lo, h, c)
            for k, price in enumerate(path_prices):
                # the buyers take the way up, the sellers the way down
                up = k == 0 or price >= path_prices[k - 1]
                yield Trade(t0 + k * span // 4, symbol, price, quarter, buyer_maker=not up)
    elif f.kind == "markPriceKlines":
        for row in f.frame.iter_rows():
            yield Mark(_ms(int(row[0])), symbol, _dec(row[1], path, "price"))
            yield Mark(_ms(int(row[6])), symbol, _dec(row[4], path, "price"))
    elif f.kind in ("indexPriceKlines", "premiumIndexKlines"):
        log.info("replay file %s: %s are not used by the simulator", path.name, f.kind)
        return
    elif f.kind == "trades":
        for row in f.frame.iter_rows():
            yield Trade(_ms(int(row[4])), symbol, _dec(row[1], path, "price"), _dec(row[2], path, "qty"),
                        str(row[5]).strip().lower() == "true")
    elif f.kind == "aggTrades":
        for row in f.frame.iter_rows():
            yield Trade(_ms(int(row[5])), symbol, _dec(row[1], path, "price"), _dec(row[2], path, "quantity"),
                        str(row[6]).strip().lower() == "true")
    elif f.kind == "bookTicker":
        for row in f.frame.iter_rows():
            yield Quote(_ms(int(row[5])), symbol, _dec(row[1], path, "price"), _dec(row[2], path, "qty"),
                        _dec(row[3], path, "price"), _dec(row[4], path, "qty"))
    elif f.kind == "fundingRate":
        for row in f.frame.iter_rows():
            yield Funding(_ms(int(row[0])), symbol, _dec(row[2], path, "rate"), int(Decimal(row[1])))


def load(paths: Sequence[Path], symbols: set[str], *, show_progress: bool | None = None) -> list[ReplayFile]:
    """Read every file (a progress bar while loading), checking each symbol is simulated."""
    files = expand(paths)
    if not files:
        raise ReplayError("replay: no files given")
    out = []
    with progress(show_progress) as bar:
        task = bar.add_task("loading replay files", total=len(files))
        for path in files:
            parsed = read_file(path)
            if parsed.symbol not in symbols:
                raise ReplayError(f"replay file {path.name}: {parsed.symbol} is not one of the simulator's "
                                  f"contracts ({', '.join(sorted(symbols))})")
            out.append(parsed)
            bar.advance(task)
    return out


def merged(files: Sequence[ReplayFile]) -> Iterator[Event]:
    """Every event of every file in time order (a stable merge)."""
    streams: list[Any] = [((e.time, i, e) for e in f.events()) for i, f in enumerate(files)]
    for _time, _i, event in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
        yield event


def first_prices(files: Sequence[ReplayFile]) -> dict[str, Decimal]:
    """The first traded (or quoted, or marked) price of each symbol."""
    prices: dict[str, Decimal] = {}
    for event in merged(files):
        if event.symbol in prices:
            continue
        if isinstance(event, Trade):
            prices[event.symbol] = event.price
        elif isinstance(event, Quote):
            prices[event.symbol] = (event.bid + event.ask) / 2
        elif isinstance(event, Mark):
            prices[event.symbol] = event.mark
        if len(prices) == len({f.symbol for f in files}):
            break
    return prices


__all__ = ["Event", "Funding", "Mark", "Quote", "ReplayError", "ReplayFile", "Trade", "expand", "first_prices",
           "load", "merged", "read_file"]
