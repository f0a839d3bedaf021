"""Events as rows of the log's tables, and scanned rows back as the ledger's columns.

Writing (the append path): a fill fits its typed columns (``FILL_COLUMNS``; decimals as exact text for
DuckDB's DECIMAL columns) with ``payload`` NULL; any other event, or a fill with a figure its column cannot
hold exactly (:func:`fits`), keeps its JSON in ``payload``. Ledger figures go into the projection columns as
:func:`stored` gives them.

Reading (replay): a scanned Arrow batch becomes :class:`~hedgestack.domain.ledger.FillColumns`, decoded
column-wise: integers through numpy, low-cardinality text (symbols, VP ids, sides) and quantities and prices
through a dictionary (each distinct value converted once), money as the exact unscaled integers of its
DECIMAL column, and only the ``payload`` rows as JSON events. Nothing is rounded on the way back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hedgestack.domain.enums import PositionSide, Side
from hedgestack.domain.events import Event, Fill, decode_event, encode_event
from hedgestack.domain.ledger import MONEY_SCALE, QTY_SCALE, FillColumns, from_units
from hedgestack.domain.numbers import to_str
from hedgestack.store.schema import FILL_COLUMNS, PROJECTION_COLUMNS

#: the columns of an ``events`` row, in the order the append path writes them
EVENT_COLUMNS = ("seq", "ts", "recv_ts", "kind", "dedupe_key", "payload", *FILL_COLUMNS, *PROJECTION_COLUMNS)
#: the columns of a ``vp_changes`` row
CHANGE_COLUMNS = ("seq", "ts", "vp_id", "name", "symbol", "position_side", "event_kind", "net_qty", "avg_entry",
                  "realized_pnl", "realized_delta", "fees", "funding", "archived")
NO_FILL: tuple[None, ...] = (None,) * len(FILL_COLUMNS)
NO_PROJECTION: tuple[None, ...] = (None,) * len(PROJECTION_COLUMNS)
#: what replay reads of an ``events`` row
SCAN_COLUMNS = ("seq", "payload", "ts", *FILL_COLUMNS)
_WIDE = Context(prec=80, rounding=ROUND_HALF_EVEN)
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_POSITION_SIDES = {"LONG": PositionSide.LONG, "SHORT": PositionSide.SHORT}
_INT64_LIMIT = 1 << 63


# -- writing ----------------------------------------------------------------------------------------------
def fill_values(event: Fill) -> tuple[Any, ...]:
    """The ``FILL_COLUMNS`` of a fill row."""
    return (event.symbol, event.trade_id, event.order_id, event.client_order_id, event.vp_id, str(event.side),
            str(event.position_side), str(event.qty), str(event.price), str(event.commission),
            event.commission_asset, str(event.exchange_rp), event.maker)


def fits(value: Decimal, decimals: int = 18) -> bool:
    """True when DECIMAL(38, ``decimals``) holds ``value`` exactly: nothing beyond ``decimals`` decimal places,
    below 10^(38 - decimals)."""
    if not value.is_finite() or value.adjusted() >= 38 - decimals:
        return False
    exponent = value.as_tuple().exponent
    return (isinstance(exponent, int) and exponent >= -decimals) or value == value.quantize(
        Decimal(1).scaleb(-decimals), context=_WIDE)


def fill_payload(event: Fill) -> str | None:
    """NULL for a fill whose figures the typed columns hold exactly (all of Binance's); else its JSON, which
    replay then reads instead of the columns."""
    if fits(event.qty, QTY_SCALE) and fits(event.price) and fits(event.commission) and fits(event.exchange_rp):
        return None
    return encode_event(event).decode()


def event_payload(event: Event) -> str:
    """The JSON ``payload`` of an event that is not kept in typed columns."""
    return encode_event(event).decode()


def stored(value: Decimal, decimals: int = 18) -> str:
    """A ledger figure as the text a DECIMAL(38, ``decimals``) column takes: exact, or rounded half-even
    when it has more decimals (a funding share can)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -decimals:
        value = value.quantize(Decimal(1).scaleb(-decimals), context=_WIDE)
    return to_str(value)


# -- reading ----------------------------------------------------------------------------------------------
def scan_select(where: str, *, ordered: bool) -> str:
    """SQL: the :data:`SCAN_COLUMNS` of the ``events`` rows matching ``where`` (in seq order if ``ordered``;
    without it, in the order the table holds them, which the append path keeps as seq order)."""
    order = " ORDER BY seq" if ordered else ""
    return f"SELECT {', '.join(SCAN_COLUMNS)} FROM events WHERE {where}{order}"


def columns_from_arrow(batch: pa.RecordBatch | pa.Table) -> tuple[np.ndarray, FillColumns]:
    """A scanned batch (:data:`SCAN_COLUMNS`) as its seqs and the ledger's :class:`FillColumns`."""
    column = batch.column if isinstance(batch, pa.RecordBatch) else (lambda name: batch.column(name).combine_chunks())
    payload = _array(column("payload"))
    typed = pc.is_null(payload)
    events: dict[int, Event] = {}
    if payload.null_count != len(payload):
        for row in np.flatnonzero(~typed.to_numpy(zero_copy_only=False)).tolist():
            events[row] = decode_event(payload[row].as_py())
    vp_id = _array(column("vp_id"))
    if events:  # those rows are events, whatever their typed columns hold
        vp_id = pc.if_else(typed, vp_id, pa.scalar(None, pa.string()))
    qty_units, qty = _dictionary_units(_array(column("qty")), QTY_SCALE, decimals=True)
    price_units, _ = _dictionary_units(_array(column("price")), MONEY_SCALE, decimals=False)
    seqs = _array(column("seq")).to_numpy()
    return seqs, FillColumns(
        ts=_ints(_array(column("ts"))), symbol=_labels(_array(column("symbol"))),
        trade_id=_ints(_array(column("trade_id"))), order_id=_ints(_array(column("order_id"))),
        client_order_id=_array(column("client_order_id")).to_pylist(), vp_id=_labels(vp_id),
        side=_labels(_array(column("side")), _SIDES),
        position_side=_labels(_array(column("position_side")), _POSITION_SIDES),
        qty_units=qty_units, qty=qty, price_units=price_units,
        commission_units=_units(_array(column("commission"))),
        commission_asset=_labels(_array(column("commission_asset"))),
        # read only by a fill that takes the ledger's Decimal path: converted when asked for
        exchange_rp_units=_Lazy(_array(column("exchange_rp")), _unit),
        maker=_Lazy(_array(column("maker")), bool), events=events)


def _array(values: Any) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _ints(array: pa.Array) -> list[int]:
    """An integer column as Python ints (0 where NULL)."""
    if array.null_count:
        array = array.fill_null(0)
    return array.to_numpy().tolist()


def _labels(array: pa.Array, mapping: dict[str, Any] | None = None) -> list[Any]:
    """A low-cardinality text column as Python values (None where NULL), each distinct value made once (and
    interned: the ledger compares them with names it holds)."""
    encoded = array.dictionary_encode()
    values: list[Any] = [sys.intern(value) for value in encoded.dictionary.to_pylist()]
    if mapping is not None:
        values = [mapping[value] for value in values]
    if len(values) == 1 and array.null_count == 0:
        return values * len(array)
    values.append(None)
    indices = encoded.indices.fill_null(len(values) - 1).to_numpy()
    return _take(values, indices)


def _take(values: list[Any], indices: np.ndarray) -> list[Any]:
    table = np.empty(len(values), dtype=object)
    table[:] = values
    return table[indices].tolist()


def _unscaled(array: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A decimal128 array's unscaled values as (low 64 bits, high 64 bits, valid) numpy arrays."""
    words = np.frombuffer(array.buffers()[1], dtype=np.uint64)[2 * array.offset:2 * (array.offset + len(array))]
    low = words[0::2]
    high = words[1::2].view(np.int64)
    valid = (np.ones(len(array), dtype=bool) if array.null_count == 0
             else array.is_valid().to_numpy(zero_copy_only=False))
    return low, high, valid


def _units(array: pa.Array) -> list[int]:
    """A decimal128 column's exact unscaled integers (0 where NULL): numpy for those that fit 64 bits, Python
    for the others."""
    low, high, valid = _unscaled(array)
    signed = low.view(np.int64)
    small = np.where(signed >= 0, high == 0, high == -1)
    values = np.where(valid, signed, 0).tolist()
    for row in np.flatnonzero(valid & ~small).tolist():
        values[row] = (int(high[row]) << 64) + int(low[row])
    return values


def _unit(value: Any) -> int:
    """One decimal128 scalar's unscaled integer (0 for NULL)."""
    if not value.is_valid:
        return 0
    return int(value.as_py().scaleb(value.type.scale))


class _Lazy(Sequence[Any]):
    """A column converted row by row when read (for columns the ledger's fast path never reads)."""

    def __init__(self, array: pa.Array, convert: Callable[[Any], Any]) -> None:
        self._array = array
        self._convert = convert

    def __len__(self) -> int:
        return len(self._array)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        value = self._array[index]
        return self._convert(value) if self._convert is _unit else (
            None if not value.is_valid else self._convert(value.as_py()))

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))


def _dictionary_units(array: pa.Array, scale: int, *, decimals: bool) -> tuple[list[int], list[Any]]:
    """A decimal128 column of few distinct values: its unscaled integers (0 where NULL) and, with ``decimals``,
    its values as Decimals (None where NULL), each distinct value converted once."""
    encoded = array.dictionary_encode()
    distinct = _units(encoded.dictionary)
    indices = encoded.indices.fill_null(len(distinct)).to_numpy()
    units = _take([*distinct, 0], indices)
    if not decimals:
        return units, []
    return units, _take([*(from_units(value, scale) for value in distinct), None], indices)


def events_of(columns: FillColumns) -> list[Event]:
    """Every row of ``columns`` as an event, in order."""
    return list(columns.events_in_order())
