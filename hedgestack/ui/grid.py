"""``DataGrid``: the screen's tables (positions, orders, fills), a small ``JSComponent`` over ``static/grid.js``.

Why not Tabulator: a position table that repaints every row on each mark costs ~17 ms per update in the browser
(reference/stack-notes.md) and loads a large library; this grid keeps one ``<tr>`` per row key and rewrites only
the cells whose text, hover or tone changed, so a fill repaints a handful of cells. Cells come as
:class:`~hedgestack.ui.format.Num`-like triples ``[text, title, tone]`` (the exact value on hover, the tone a
colour), plain strings, or buttons (``{b: label, a: action}``) whose clicks come back as ``on_action``
callbacks. ``selected`` is the clicked row's key, two-way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import param

from hedgestack.ui.component import Component

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from hedgestack.ui.format import Num

STATIC = Path(__file__).parent / "static"
Cell = str | list[str] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    align: str = "right"
    width: int | None = None
    title: str = ""

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "label": self.label, "align": self.align}
        if self.width:
            out["width"] = self.width
        if self.title:
            out["title"] = self.title
        return out


def num(value: Num, extra_tone: str = "") -> list[str]:
    """A figure as a grid cell."""
    return [value.text, value.title, " ".join(t for t in (value.tone, extra_tone) if t)]


def text(value: str, title: str = "", tone: str = "") -> list[str]:
    return [value, title, tone]


def button(label: str, action: str, *, disabled: bool = False, tone: str = "", title: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"b": label, "a": action}
    if disabled:
        out["d"] = True
    if tone:
        out["t"] = tone
    if title:
        out["title"] = title
    return out


def row(key: str, cells: dict[str, Cell], *, cls: str = "", selectable: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"k": key, "v": cells}
    if cls:
        out["c"] = cls
    if selectable:
        out["s"] = True
    return out


class DataGrid(Component):
    """A keyed table; ``show(rows)`` sends only when something differs."""

    columns = param.List(default=[])
    rows = param.String(default="[]", doc="JSON of the rows: one string, which Bokeh sends without walking it for "
                                          "models (a list of rows was walked twice at every update, old and new: "
                                          "~10 ms a batch for the positions at 200 fills/s)")
    selected = param.String(default=None, allow_None=True)
    empty = param.String(default="")

    _esm = STATIC / "grid.js"
    _stylesheets = [(STATIC / "grid.css").read_text(encoding="utf-8")]

    def __init__(self, columns: Sequence[Column] = (), **params: Any) -> None:
        super().__init__(columns=[c.spec() for c in columns], **params)
        self._actions: list[Callable[[str, str], None]] = []
        self._shown: list[dict[str, Any]] = []

    @property
    def shown(self) -> list[dict[str, Any]]:
        """The rows the grid shows."""
        return self._shown

    def set_rows(self, rows: list[dict[str, Any]]) -> bool:
        """Bring the grid to ``rows``; False (nothing sent) when they equal what it shows."""
        if rows == self._shown:
            return False
        self._shown = rows
        self.rows = json.dumps(rows, separators=(",", ":"))
        return True

    def on_action(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(action, row_key)`` when a button in a cell is clicked."""
        self._actions.append(callback)

    def _handle_msg(self, msg: Any) -> None:
        if isinstance(msg, dict) and msg.get("type") == "action":
            for callback in self._actions:
                callback(str(msg.get("action")), str(msg.get("key")))


__all__ = ["Cell", "Column", "DataGrid", "button", "num", "row", "text"]
