"""View-models: ``param`` classes fed by the engine (initial ``state()`` then bus envelopes).

They hold what the views show and no business rule: figures come from the engine as decimal strings and
are only formatted, summed for display, or compared for change here.
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any

import param

from hedgestack.domain.enums import OrderStatus

POSITION_SIDES = ("LONG", "SHORT")
OPEN_STATUSES = {s.value for s in OrderStatus if s.is_open}  # the domain decides what is open


def dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def fmt(value: Any, places: int | None = None) -> str:
    """Display a decimal string: normalized, optionally quantized; '' for missing."""
    if value in (None, ""):
        return ""
    d = dec(value)
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places))
    text = format(d.normalize(), "f") if places is None else format(d, "f")
    return "0" if text in ("-0", "") else text


class TerminalModel(param.Parameterized):
    """Everything the dashboard shows about one terminal, kept current from the bus."""

    venue = param.String(default="sim", constant=True)
    connection = param.String(default="STARTING")
    wallet_balance = param.String(default="")
    total_upnl = param.String(default="0")
    total_net = param.String(default="0")
    symbols = param.List(default=[], constant=True)
    positions_version = param.Integer(default=0, doc="bumped when VPs, exchange sides or consistency change")
    orders_version = param.Integer(default=0)
    fills_version = param.Integer(default=0)
    marks_version = param.Integer(default=0)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.vps: dict[str, dict[str, Any]] = {}
        self.externals: dict[tuple[str, str], dict[str, Any]] = {}
        self.consistency: dict[tuple[str, str], str] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.fills: dict[str, dict[str, Any]] = {}
        self.marks: dict[str, str] = {}
        self.pnl_points: list[tuple[str, str, int, float]] = []  # (vp_id, name, ts, net incl. uPnL) not yet plotted
        self.last_applied_ts = 0

    # -- loading ---------------------------------------------------------------------------------
    def load(self, state: dict[str, Any], orders: list[dict[str, Any]] | None = None) -> None:
        """Replace the model's content with a ``Terminal.state()`` snapshot (and an order history)."""
        self.vps = {vp["id"]: vp for vp in state["virtual_positions"]}
        self.externals = {(e["symbol"], e["positionSide"]): e for e in state["external_positions"]}
        self.consistency = {(symbol, side): status for symbol, sides in state["reconcile"].items()
                            for side, status in sides.items()}
        for order in orders or []:
            self.orders.setdefault(order["clientOrderId"], order)
        for order in state["open_orders"]:
            self.orders[order["clientOrderId"]] = order
        for fill in state["fills"]:
            self.fills[f'{fill["symbol"]}:{fill["tradeId"]}'] = fill
        self.marks = dict(state.get("marks") or {})
        with param.edit_constant(self):
            self.venue = state["venue"]
        self.connection = state["connection"]
        self.wallet_balance = fmt(state["wallet_balance"], 2) if state.get("wallet_balance") else ""
        self._totals()
        for vp in self.vps.values():
            self._pnl_point(vp)
        self.param.update(positions_version=self.positions_version + 1, orders_version=self.orders_version + 1,
                          fills_version=self.fills_version + 1, marks_version=self.marks_version + 1)

    # -- events ----------------------------------------------------------------------------------
    def apply(self, envelopes: list[dict[str, Any]]) -> set[str]:
        """Fold a batch of bus envelopes (and the UI's own ``RESYNC`` snapshots); returns what changed."""
        changed: set[str] = set()
        for env in envelopes:
            kind, payload = env["type"], env["payload"]
            self.last_applied_ts = max(self.last_applied_ts, int(env.get("ts") or 0))
            if kind == "VIRTUAL_POSITION_UPDATE":
                self.vps[payload["id"]] = payload
                self._pnl_point(payload)
                changed.add("positions")
            elif kind == "FILL":
                self.fills[f'{payload["symbol"]}:{payload["tradeId"]}'] = payload
                changed.add("fills")
            elif kind == "ORDER_UPSERT":
                self.orders[payload["clientOrderId"]] = payload
                changed.add("orders")
            elif kind == "EXTERNAL_POSITION_UPDATE":
                self.externals[(payload["symbol"], payload["positionSide"])] = payload
                changed.add("positions")
            elif kind == "CONSISTENCY_STATUS":
                self.consistency[(payload["symbol"], payload["positionSide"])] = payload["status"]
                changed.add("positions")
            elif kind == "TPSL_SYNC_STATUS":
                vp = self.vps.get(payload["vp_id"])
                if vp is not None and vp.get("tpsl"):
                    vp["tpsl"] = {**vp["tpsl"], "sync_status": payload["status"], "sync_reason": payload["reason"],
                                  "tp_order_id": payload["tp_order_id"], "sl_order_id": payload["sl_order_id"]}
                    changed.add("positions")
            elif kind == "WS_RECONNECT":
                self.connection = payload.get("state", self.connection)
            elif kind == "ACCOUNT_STATUS":
                self.wallet_balance = fmt(payload["wallet_balance"], 2) if payload.get("wallet_balance") else ""
            elif kind == "CONNECTION_STATE":
                self.connection = payload["state"]
            elif kind == "MARK_PRICE":
                self.marks[payload["symbol"]] = payload["markPrice"]
                changed.add("marks")
                for row in payload["virtual_positions"]:
                    vp = self.vps.get(row["id"])
                    if vp is not None:
                        vp.update(mark_price=row["mark_price"], unrealized_pnl=row["unrealized_pnl"])
                        self._pnl_point(vp)
                        changed.add("positions")
            elif kind == "RESYNC":
                self.load(payload)
                changed.update({"positions", "orders", "fills"})
        if "positions" in changed:
            self._totals()
        self.param.update(**{f"{name}_version": getattr(self, f"{name}_version") + 1 for name in changed})
        return changed

    def _totals(self) -> None:
        live = [vp for vp in self.vps.values() if not vp.get("archived")]
        # one update: the header re-renders once, not once per figure
        self.param.update(total_upnl=fmt(sum((dec(vp["unrealized_pnl"]) for vp in live), Decimal(0)), 2),
                          total_net=fmt(sum((dec(vp["net_pnl"]) for vp in live), Decimal(0)), 2))

    def _pnl_point(self, vp: dict[str, Any]) -> None:
        if vp.get("archived"):
            return
        total = dec(vp["net_pnl"]) + dec(vp["unrealized_pnl"])
        self.pnl_points.append((vp["id"], vp["name"], int(time.time() * 1000), float(total)))

    # -- queries for the views -------------------------------------------------------------------
    def live_vps(self, symbol: str | None = None, *, include_system: bool = False) -> list[dict[str, Any]]:
        out = [vp for vp in self.vps.values() if not vp.get("archived") and (include_system or not vp["system"])
               and (symbol is None or vp["symbol"] == symbol)]
        return sorted(out, key=lambda vp: (vp["symbol"], vp["positionSide"], vp["system"], vp["created_at"] or 0))

    def side_status(self, symbol: str, side: str) -> str:
        return self.consistency.get((symbol, side), "OK")

    def locked(self, vp_id: str | None) -> bool:
        vp = self.vps.get(vp_id or "")
        return vp is not None and self.side_status(vp["symbol"], vp["positionSide"]) == "MISMATCH"

    def open_orders(self) -> list[dict[str, Any]]:
        return [o for o in self.orders.values() if o["status"] in OPEN_STATUSES]

    def vp_label(self, vp: dict[str, Any]) -> str:
        return f'{vp["name"]} · {vp["symbol"]} {vp["positionSide"]}'


class OrderTicketModel(param.Parameterized):
    """The order ticket's inputs; submitting calls ``place_order`` or ``close_vp``."""

    symbol = param.Selector(default="BTCUSDT", objects=["BTCUSDT"], check_on_set=False)
    vp_id = param.Selector(default=None, objects=[], allow_None=True, check_on_set=False, label="Virtual position")
    action = param.Selector(default="BUY", objects=["BUY", "SELL"], label="Side")
    order_type = param.Selector(default="MARKET", objects=["MARKET", "LIMIT", "STOP_MARKET"], label="Type")
    qty = param.String(default="", label="Quantity")
    percent = param.Selector(default="", objects=["", "25", "50", "75", "100"], label="% of VP (close)")
    price = param.String(default="", label="Price (limit) / stop price")
    time_in_force = param.Selector(default="GTC", objects=["GTC", "IOC", "FOK"], label="Time in force")
    hint = param.String(default="", constant=True)
    error = param.String(default="", constant=True)
    result = param.String(default="", constant=True)


class VpActionsModel(param.Parameterized):
    """Inputs of the per-VP action card (close, TP/SL, transfer, rename, archive)."""

    vp_id = param.Selector(default=None, objects=[], allow_None=True, check_on_set=False, label="Virtual position")
    close_type = param.Selector(default="MARKET", objects=["MARKET", "LIMIT"], label="Close as")
    close_price = param.String(default="", label="Limit price")
    close_qty = param.String(default="", label="Custom qty")
    tp_price = param.String(default="", label="TP price")
    tp_trigger = param.Selector(default="LAST", objects=["LAST", "MARK"], label="TP trigger")
    sl_price = param.String(default="", label="SL price")
    sl_trigger = param.Selector(default="MARK", objects=["LAST", "MARK"], label="SL trigger")
    transfer_to = param.Selector(default=None, objects=[], allow_None=True, check_on_set=False, label="Transfer to")
    transfer_qty = param.String(default="", label="Transfer qty")
    new_name = param.String(default="", label="New name")
    locked = param.Boolean(default=False, constant=True)
    error = param.String(default="", constant=True)
    result = param.String(default="", constant=True)


class CreateVpModel(param.Parameterized):
    vp_name = param.String(default="", label="Name")
    symbol = param.Selector(default="BTCUSDT", objects=["BTCUSDT"], check_on_set=False)
    position_side = param.Selector(default="LONG", objects=list(POSITION_SIDES), label="Side")
    error = param.String(default="", constant=True)
    result = param.String(default="", constant=True)
