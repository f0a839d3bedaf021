"""The price chart: TradingView Lightweight Charts (bundled, offline) with the trade drawn on it.

Why Lightweight Charts rather than Bokeh: it is a trading chart (candles with a live price axis, labelled price
lines whose labels sit on the axis, bar markers, time axis that follows the market), it draws on canvas at a
fraction of Bokeh's cost per update, and its coordinate API lets the screen turn a click into a price and a drag
of a line into a new TP/SL. Bokeh would have needed all of that built by hand. The library comes from the npm
registry (``static/chart/package.json``, pinned) and is bundled with ``static/chart/src.js`` into
``static/chart.bundle.js`` (``npm run build`` there): no CDN, so it works offline, served and inline.

What is drawn (:func:`chart_lines`, :func:`chart_markers`):

- candles and volume of the symbol on screen, for the chosen timeframe (1m … 1d), from ``TerminalApi.candles``;
- for every live VP of the symbol that holds something: its entry, TP and SL ("TP 97,000.0 · Trend"); the
  selected VP's lines are thicker; TP/SL lines can be dragged (then confirmed) unless the VP is locked;
- the liquidation price of each exchange side that holds a position;
- every resting order of ours (limit and stop orders, not the TP/SL legs drawn above);
- fills as markers (BUY below the bar, SELL above).

Lines are kept in view: the price range widens to lines near the candles, and lines farther away are pinned at
the top or bottom edge with an arrow and their price in the label.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import param

from hedgestack.domain.enums import OrderRole, OrderType, PositionSide, Side
from hedgestack.ui import format as fmt
from hedgestack.ui.component import Component
from hedgestack.ui.format import places_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from hedgestack.engine.views import CandleView, InstrumentView
    from hedgestack.ui.models import AccountModel

STATIC = Path(__file__).parent / "static"
TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")
#: bars loaded when the symbol or the timeframe changes; the latest bars are refreshed every REFRESH_S
HISTORY_BARS = 500
REFRESH_S = 2.0
MAX_MARKERS = 300

COLORS = {"entry": "#f0b90b", "tp": "#0ecb81", "sl": "#f6465d", "liq": "#ff8a00", "buy": "#2ebd85",
          "sell": "#e0294a"}


class LightweightChart(Component):
    """The chart widget (``static/chart.bundle.js``)."""

    candles = param.List(default=[], doc="[[open_time_ms, o, h, l, c, v], ...]")
    tail = param.List(default=[], doc="the latest bars, merged into the series")
    lines = param.List(default=[])
    lines_version = param.Integer(default=0, doc="bumped to redraw the lines as sent (a cancelled drag)")
    markers = param.String(default="[]", doc="JSON of [{t, side, text}]: one string, which Bokeh sends without walking "
                           "every marker for references on each change (~25 ms for 300 markers, per session)")
    theme: param.Selector[str] = param.Selector(default="dark", objects=["dark", "light"])
    precision = param.Integer(default=2)
    min_move = param.Number(default=0.01)
    label = param.String(default="")

    _bundle = STATIC / "chart.bundle.js"
    _esm = STATIC / "chart.bundle.js"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._click: list[Callable[[str], None]] = []
        self._drag: list[Callable[[str, str], None]] = []

    def on_click(self, callback: Callable[[str], None]) -> None:
        """``callback(price)`` when the trader clicks a price on the chart (rounded to the tick)."""
        self._click.append(callback)

    def on_drag(self, callback: Callable[[str, str], None]) -> None:
        """``callback(line_id, price)`` when a draggable line is dropped at a new price."""
        self._drag.append(callback)

    def _handle_msg(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        if msg.get("type") == "click":
            for on_click in self._click:
                on_click(str(msg["price"]))
        elif msg.get("type") == "drag":
            for on_drag in self._drag:
                on_drag(str(msg["id"]), str(msg["price"]))


def bars(candles: list[CandleView]) -> list[list[float]]:
    """Candles for the chart (floats: drawing only; every figure the trader acts on stays exact)."""
    return [[c.open_time, float(c.open), float(c.high), float(c.low), float(c.close), float(c.volume)]
            for c in candles]


def price_format(instrument: InstrumentView) -> tuple[int, float]:
    """(precision, min move) of the chart's price axis: the tick's."""
    return places_of(instrument.tick_size), float(instrument.tick_size)


def chart_lines(model: AccountModel, symbol: str, selected: str | None) -> list[dict[str, Any]]:
    """Every labelled line of ``symbol``: VP entries and TP/SL, liquidation prices, resting orders."""
    inst = model.instruments.get(symbol)
    if inst is None:
        return []
    tick, step = inst.tick_size, inst.step_size
    lines: list[dict[str, Any]] = []

    def add(line_id: str, price_: Decimal | None, title: str, color: str, *, style: str = "solid",
            width: int = 1, kind: str, drag: bool = False) -> None:
        if price_ is None or price_ <= 0:
            return
        lines.append({"id": line_id, "price": float(price_), "title": title, "color": color, "style": style,
                      "width": width, "kind": kind, "drag": drag})

    for vp in model.live_vps(symbol, include_system=True):
        if vp.net_qty == 0:
            continue
        bold = 2 if vp.id == selected else 1
        side = "L" if vp.position_side is PositionSide.LONG else "S"
        add(f"entry:{vp.id}", vp.avg_entry,
            f"{vp.name} {side} {fmt.qty(vp.net_qty, step)} @ {fmt.price(vp.avg_entry, tick)}", COLORS["entry"],
            width=bold, kind="entry")
        if vp.tpsl is not None and not vp.system:
            movable = not vp.locked
            add(f"tp:{vp.id}", vp.tpsl.tp_price, f"TP {fmt.price(vp.tpsl.tp_price, tick)} · {vp.name}", COLORS["tp"],
                style="dashed", width=bold, kind="tp", drag=movable)
            add(f"sl:{vp.id}", vp.tpsl.sl_price, f"SL {fmt.price(vp.tpsl.sl_price, tick)} · {vp.name}", COLORS["sl"],
                style="dashed", width=bold, kind="sl", drag=movable)
    for side in (PositionSide.LONG, PositionSide.SHORT):
        ext = model.externals.get((symbol, side))
        if ext is not None and ext.qty != 0 and ext.liquidation_price:
            add(f"liq:{side.value}", ext.liquidation_price,
                f"Liq. {side.value} {fmt.price(ext.liquidation_price, tick)}", COLORS["liq"], style="dashed",
                width=2, kind="liq")
    for order in model.open_orders():
        if order.symbol != symbol or order.role in (OrderRole.TP, OrderRole.SL):
            continue
        at = order.price if order.type.has_limit_price else order.trigger_price
        if order.type is OrderType.MARKET or at is None:
            continue
        kind = "STOP " if order.type.is_conditional else ""
        remaining = order.qty - order.filled_qty
        add(f"order:{order.client_order_id}", at,
            f"{kind}{order.side.value} {fmt.qty(remaining, step)} @ {fmt.price(at, tick)} · "
            f"{model.vp_name(order.virtual_position_id)}", COLORS["buy" if order.side is Side.BUY else "sell"],
            style="dashed", kind="order")
    return lines


def chart_markers(model: AccountModel, symbol: str) -> list[dict[str, Any]]:
    """The symbol's fills as bar markers (the newest ``MAX_MARKERS``)."""
    inst = model.instruments.get(symbol)
    step = inst.step_size if inst else Decimal("0.001")
    fills = sorted((f for f in model.fills.values() if f.symbol == symbol), key=lambda f: f.time)[-MAX_MARKERS:]
    return [{"t": f.time, "side": f.side.value,
             "text": f"{f.side.value[0]} {fmt.qty(f.qty, step)} {f.vp_name or model.vp_name(f.virtual_position_id)}"}
            for f in fills]


def drag_target(line_id: str) -> tuple[str, str] | None:
    """(leg, vp id) of a draggable line id (``tp:VP`` / ``sl:VP``)."""
    leg, _, vp_id = line_id.partition(":")
    return (leg, vp_id) if leg in ("tp", "sl") and vp_id else None


__all__ = ["COLORS", "HISTORY_BARS", "LightweightChart", "REFRESH_S", "TIMEFRAMES", "bars", "chart_lines",
           "chart_markers", "drag_target", "price_format"]
