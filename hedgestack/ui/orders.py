"""Open orders (cancel, amend), order history (paging, filters by VP, symbol and role, TP/SL churn hidden) and trade
history, with exports of every fill and order (CSV or Parquet) from the terminal's full history.

Open is what the engine says (``OrderView.is_open``); "TP/SL churn" are the TP/SL legs the engine cancelled
without a fill when it resized or moved them (a cancel followed by its create), which say nothing to a trader
once replaced.
"""

from __future__ import annotations

import asyncio
import io
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import panel as pn
import param

from hedgestack.domain.enums import OrderRole, OrderStatus
from hedgestack.ui import format as fmt
from hedgestack.ui.commands import Commands, Feedback
from hedgestack.ui.grid import Column, DataGrid, button, num, row, text
from hedgestack.ui.widgets import TextHTML, feedback_pane, set_options

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import polars as pl

    from hedgestack.engine.views import FillView, OrderView
    from hedgestack.ui.models import AccountModel, Selection

T = TypeVar("T")
PAGE_SIZE = 25
ALL = ""
CHURN_STATUSES = frozenset({OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.EXPIRED_IN_MATCH,
                            OrderStatus.FINISHED})

ORDER_COLUMNS = (
    Column("time", "Time", "left"), Column("vp", "VP", "left"), Column("symbol", "Symbol", "left"),
    Column("side", "Side", "left"), Column("type", "Type", "left"), Column("role", "Role", "left"),
    Column("price", "Price"), Column("trigger", "Trigger"), Column("qty", "Qty"), Column("filled", "Filled"),
    Column("avg", "Avg price"), Column("tif", "TIF", "center"), Column("status", "Status", "left"),
)
OPEN_COLUMNS = (*ORDER_COLUMNS[:-1], Column("status", "Status", "left"), Column("cancel", "", "center"))
FILL_COLUMNS = (
    Column("time", "Time", "left"), Column("vp", "VP", "left"), Column("symbol", "Symbol", "left"),
    Column("side", "Side", "left"), Column("qty", "Qty"), Column("price", "Price"), Column("fee", "Fee"),
    Column("realized", "Realized"), Column("maker", "Maker", "center"), Column("trade", "Trade id"),
)


def is_churn(order: OrderView) -> bool:
    """A TP/SL leg that ended without a fill (replaced by a resize or a move, or cancelled with its VP)."""
    return order.role in (OrderRole.TP, OrderRole.SL) and order.status in CHURN_STATUSES and order.filled_qty == 0


def filter_orders(orders: Iterable[OrderView], *, vp: str = ALL, symbol: str = ALL, role: str = ALL,
                  hide_churn: bool = True) -> list[OrderView]:
    """Orders matching the filters, newest first."""
    out = [o for o in orders if (not vp or o.virtual_position_id == vp) and (not symbol or o.symbol == symbol)
           and (not role or o.role.value == role) and not (hide_churn and is_churn(o))]
    return sorted(out, key=lambda o: (-o.created_at, o.client_order_id))


def filter_fills(fills: Iterable[FillView], *, vp: str = ALL, symbol: str = ALL) -> list[FillView]:
    out = [f for f in fills if (not vp or f.virtual_position_id == vp) and (not symbol or f.symbol == symbol)]
    return sorted(out, key=lambda f: (-f.time, -f.trade_id))


@dataclass(frozen=True, slots=True)
class Page:
    number: int  # 1-based, clamped
    pages: int
    total: int

    def label(self, noun: str) -> str:
        if self.total == 0:
            return f"no {noun}"
        return f"page {self.number} of {self.pages} · {self.total} {noun}"


def page_of(items: Sequence[T], number: int, size: int = PAGE_SIZE) -> tuple[list[T], Page]:
    pages = max(1, math.ceil(len(items) / size))
    number = min(max(1, number), pages)
    start = (number - 1) * size
    return list(items[start:start + size]), Page(number, pages, len(items))


def order_cells(model: AccountModel, o: OrderView) -> dict[str, Any]:
    inst = model.instruments.get(o.symbol)
    tick = inst.tick_size if inst else Decimal("0.01")
    step = inst.step_size if inst else Decimal("0.001")
    status_tone = {OrderStatus.FILLED: "good", OrderStatus.REJECTED: "bad", OrderStatus.EXPIRED: "warn"}
    return {
        "time": text(fmt.clock(o.created_at), fmt.exact(Decimal(o.created_at)) + " ms"),
        "vp": text(model.vp_name(o.virtual_position_id), o.virtual_position_id),
        "symbol": text(o.symbol), "side": text(f"{o.side.value} {o.position_side.value}", "",
                                               "pos" if o.side.value == "BUY" else "neg"),
        "type": text(o.type.value, o.client_order_id), "role": text(o.role.value),
        "price": num(fmt.price(o.price, tick)), "trigger": num(fmt.price(o.trigger_price, tick)),
        "qty": num(fmt.qty(o.qty, step)), "filled": num(fmt.qty(o.filled_qty, step)),
        "avg": num(fmt.price(o.avg_price, tick)),
        "tif": text(o.time_in_force.value if o.time_in_force else ""),
        "status": text(o.status.value, o.reason or "", status_tone.get(o.status, "")),
    }


def fill_cells(model: AccountModel, f: FillView) -> dict[str, Any]:
    inst = model.instruments.get(f.symbol)
    tick = inst.tick_size if inst else Decimal("0.01")
    step = inst.step_size if inst else Decimal("0.001")
    return {
        "time": text(fmt.clock(f.time), f"{f.time} ms"),
        "vp": text(f.vp_name or model.vp_name(f.virtual_position_id), f.virtual_position_id),
        "symbol": text(f.symbol),
        "side": text(f"{f.side.value} {f.position_side.value}", "", "pos" if f.side.value == "BUY" else "neg"),
        "qty": num(fmt.qty(f.qty, step)), "price": num(fmt.price(f.price, tick)),
        "fee": text(f"{fmt.plain(f.commission, 4)} {f.commission_asset}", fmt.exact(f.commission)),
        "realized": num(fmt.pnl(f.realized_pnl)),
        "maker": text("maker" if f.maker else "taker"), "trade": text(str(f.trade_id), f"order {f.order_id}"),
    }


class OrdersFilter(Feedback):
    vp: param.Selector[str] = param.Selector(default=ALL, objects=[ALL], check_on_set=False)
    symbol: param.Selector[str] = param.Selector(default=ALL, objects=[ALL], check_on_set=False)
    role: param.Selector[str] = param.Selector(default=ALL, objects=[ALL] + [r.value for r in OrderRole],
                                               check_on_set=False)
    hide_churn = param.Boolean(default=True, label="Hide TP/SL churn")
    page = param.Integer(default=1)
    amend_price = param.String(default="")
    amend_qty = param.String(default="")


def export_bytes(frame: pl.DataFrame, kind: str) -> io.BytesIO:
    """A frame as CSV (decimals in plain notation) or Parquet."""
    buffer = io.BytesIO()
    if kind == "csv":
        frame.write_csv(buffer)
    else:
        frame.write_parquet(buffer)
    buffer.seek(0)
    return buffer


class OrdersView(pn.viewable.Viewer):
    """The three order/fill tabs' contents (``open_tab``, ``history_tab``, ``fills_tab``)."""

    def __init__(self, model: AccountModel, selection: Selection, terminal: Any, commands: Commands,
                 **params: Any) -> None:
        super().__init__(**params)
        self.model, self.selection, self.terminal, self.commands = model, selection, terminal, commands
        self.open_filter = OrdersFilter()
        self.history = OrdersFilter()
        self.trades = OrdersFilter()
        self.open_grid = DataGrid(OPEN_COLUMNS, empty="No open order.", css_classes=["hs-open-orders"],
                                  sizing_mode="stretch_both", min_height=120)
        self.history_grid = DataGrid(ORDER_COLUMNS, empty="No order matches.", css_classes=["hs-order-history"],
                                     sizing_mode="stretch_both", min_height=120)
        self.fills_grid = DataGrid(FILL_COLUMNS, empty="No fill yet.", css_classes=["hs-trade-history"],
                                   sizing_mode="stretch_both", min_height=120)
        self.history_page = TextHTML("", css_classes=["hs-history-page"], margin=(8, 6))
        self.fills_page = TextHTML("", css_classes=["hs-fills-page"], margin=(8, 6))
        self.open_grid.on_action(self._on_action)
        self.open_grid.param.watch(self._on_open_select, ["selected"])
        self.visible = {"open": True, "history": False, "fills": False}
        self._stale = {"history": True, "fills": True}
        self._selects: list[tuple[pn.widgets.Select, str]] = []
        model.param.watch(lambda *_e: self._orders_changed(), ["orders_version"])
        model.param.watch(lambda *_e: self._fills_changed(), ["fills_version"])
        model.param.watch(lambda *_e: self._names_changed(), ["positions_version"])
        for f, which in ((self.open_filter, "open"), (self.history, "history"), (self.trades, "fills")):
            f.param.watch(lambda e, w=which: self._filter_changed(w, e), ["vp", "symbol", "role", "hide_churn"])
            f.param.watch(lambda _e, w=which: self.refresh(w), ["page"])
        self._vp_options: dict[str, str] = {}
        self._names_changed()
        self.refresh("open")

    # -- refresh ---------------------------------------------------------------------------------
    def _filter_changed(self, which: str, _event: Any) -> None:
        f = {"open": self.open_filter, "history": self.history, "fills": self.trades}[which]
        if f.page != 1:
            f.page = 1  # refreshes
        else:
            self.refresh(which)

    def _orders_changed(self) -> None:
        self.refresh("open")
        self._stale["history"] = True
        if self.visible["history"]:
            self.refresh("history")

    def _fills_changed(self) -> None:
        self._stale["fills"] = True
        if self.visible["fills"]:
            self.refresh("fills")

    def _names_changed(self) -> None:
        m = self.model
        options = {"All VPs": ALL, **{m.vp_label(vp): vp.id for vp in m.live_vps(include_system=True)}}
        if options != self._vp_options:
            self._vp_options = options
            for select, kind in self._selects:
                if kind == "vp":
                    set_options(select, options)
            self.refresh("open")
            self._stale.update(history=True, fills=True)
            for which in ("history", "fills"):
                if self.visible[which]:
                    self.refresh(which)

    def show_tab(self, which: str | None) -> None:
        """The tab on screen changed: history tabs are rebuilt only while shown."""
        for key in self.visible:
            self.visible[key] = key == which or key == "open"
        if which in self._stale and self._stale[which]:
            self.refresh(which)

    def refresh(self, which: str) -> None:
        m = self.model
        if which == "open":
            f = self.open_filter
            orders = [o for o in m.open_orders() if (not f.vp or o.virtual_position_id == f.vp)
                      and (not f.symbol or o.symbol == f.symbol)]
            rows = []
            for o in orders:
                cells = order_cells(m, o)
                cells["cancel"] = button("Cancel", "cancel", tone="neg", title=f"cancel {o.client_order_id}")
                rows.append(row(o.client_order_id, cells, selectable=True))
            self.open_grid.set_rows(rows)
        elif which == "history":
            self._stale["history"] = False
            h = self.history
            items = filter_orders(m.orders.values(), vp=h.vp, symbol=h.symbol, role=h.role, hide_churn=h.hide_churn)
            shown, page = page_of(items, h.page)
            self.history_grid.set_rows([row(o.client_order_id, order_cells(m, o)) for o in shown])
            self.history_page.object = page.label("orders")
        elif which == "fills":
            self._stale["fills"] = False
            t = self.trades
            fills = filter_fills(m.fills.values(), vp=t.vp, symbol=t.symbol)
            shown_fills, page = page_of(fills, t.page)
            self.fills_grid.set_rows([row(f"{f.symbol}:{f.trade_id}", fill_cells(m, f)) for f in shown_fills])
            self.fills_page.object = page.label("fills")

    # -- commands --------------------------------------------------------------------------------
    def _on_action(self, action: str, key: str) -> None:
        if action == "cancel":
            self.commands.run(self.open_filter, lambda: self.terminal.cancel_order(key),
                              lambda r: f"cancel {key}: {r.status.value}")

    def _on_open_select(self, event: param.parameterized.Event) -> None:
        order = self.model.orders.get(event.new or "")
        if order is not None:
            self.open_filter.param.update(amend_price=fmt.exact(order.price) if order.price is not None else "",
                                          amend_qty=fmt.exact(order.qty))

    def amend(self, _event: Any = None) -> None:
        f = self.open_filter
        ref = self.open_grid.selected
        if not ref or ref not in self.model.orders or not self.model.orders[ref].is_open:
            f.show(error="NO_ORDER: click an open order first")
            return
        price, qty = f.amend_price.strip() or None, f.amend_qty.strip() or None
        self.commands.run(f, lambda: self.terminal.amend_order(ref, price=price, qty=qty),
                          lambda r: f"amended: {r.status.value} ({r.client_order_id})", orders=True)

    # -- exports ---------------------------------------------------------------------------------
    def _download(self, what: str, kind: str) -> pn.widgets.FileDownload:
        async def produce() -> io.BytesIO:
            def read() -> io.BytesIO:
                frame = self.terminal.fills() if what == "fills" else self.terminal.orders()
                return export_bytes(frame, kind)

            return await asyncio.to_thread(read)

        return pn.widgets.FileDownload(callback=produce, filename=f"hedgestack-{what}.{kind}", embed=False,
                                       label=f"{what.capitalize()} {kind.upper()}", color="light",
                                       width=110, margin=(2, 3), css_classes=[f"hs-export-{what}-{kind}"])

    # -- layout ----------------------------------------------------------------------------------
    def _filters(self, f: OrdersFilter, *, role: bool = False, churn: bool = False) -> list[Any]:
        vp = pn.widgets.Select.from_param(f.param.vp, label="", options=self._vp_options, width=200, margin=(2, 3),
                                          css_classes=["hs-filter-vp"])
        symbols = {"All symbols": ALL, **{s: s for s in self.model.symbols}}
        symbol = pn.widgets.Select.from_param(f.param.symbol, label="", options=symbols, width=120, margin=(2, 3),
                                              css_classes=["hs-filter-symbol"])
        self._selects.append((vp, "vp"))
        out: list[Any] = [vp, symbol]
        if role:
            roles = {"All roles": ALL, **{r.value: r.value for r in OrderRole}}
            out.append(pn.widgets.Select.from_param(f.param.role, label="", options=roles, width=110, margin=(2, 3),
                                                    css_classes=["hs-filter-role"]))
        if churn:
            out.append(pn.widgets.Checkbox.from_param(f.param.hide_churn, margin=(10, 6),
                                                      css_classes=["hs-hide-churn"]))
        return out

    def _pager(self, f: OrdersFilter, label: pn.viewable.Viewable, css: str) -> list[Any]:
        prev = pn.widgets.Button(label="‹ Prev", width=70, margin=(2, 3), css_classes=[f"{css}-prev"],
                                 color="light")
        nxt = pn.widgets.Button(label="Next ›", width=70, margin=(2, 3), css_classes=[f"{css}-next"],
                                color="light")
        prev.on_click(lambda _e: setattr(f, "page", max(1, f.page - 1)))
        nxt.on_click(lambda _e: setattr(f, "page", f.page + 1))
        return [prev, nxt, label]

    def open_tab(self) -> pn.viewable.Viewable:
        f = self.open_filter
        amend = pn.widgets.Button(label="Amend selected", width=120, margin=(2, 3), css_classes=["hs-amend"],
                                  color="light")
        amend.on_click(self.amend)
        price = pn.widgets.TextInput.from_param(f.param.amend_price, label="", placeholder="new price", width=110,
                                                margin=(2, 3), css_classes=["hs-amend-price"])
        qty = pn.widgets.TextInput.from_param(f.param.amend_qty, label="", placeholder="new qty", width=90,
                                              margin=(2, 3), css_classes=["hs-amend-qty"])
        return pn.Column(pn.Row(*self._filters(f), price, qty, amend, feedback_pane(f, "hs-orders-feedback"),
                                margin=0, sizing_mode="stretch_width"),
                         self.open_grid, sizing_mode="stretch_both", margin=0)

    def history_tab(self) -> pn.viewable.Viewable:
        h = self.history
        return pn.Column(pn.Row(*self._filters(h, role=True, churn=True),
                                *self._pager(h, self.history_page, "hs-history"),
                                pn.Spacer(sizing_mode="stretch_width"), self._download("orders", "csv"),
                                self._download("orders", "parquet"), margin=0, sizing_mode="stretch_width"),
                         self.history_grid, sizing_mode="stretch_both", margin=0)

    def fills_tab(self) -> pn.viewable.Viewable:
        t = self.trades
        return pn.Column(pn.Row(*self._filters(t), *self._pager(t, self.fills_page, "hs-fills"),
                                pn.Spacer(sizing_mode="stretch_width"), self._download("fills", "csv"),
                                self._download("fills", "parquet"), margin=0, sizing_mode="stretch_width"),
                         self.fills_grid, sizing_mode="stretch_both", margin=0)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.open_tab()


__all__ = ["OrdersFilter", "OrdersView", "Page", "export_bytes", "filter_fills", "filter_orders", "is_churn",
           "page_of"]
