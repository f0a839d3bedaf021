"""``hedgestack quickstart``: two ideas on one BTCUSDT LONG, on the embedded simulator, in the terminal.

Starts a simulator (seeded random market) and a terminal on ``--data-dir``, opens two VPs (a trend and a
swing position) on the same real position, buys into both at different prices, sets a TP/SL on one and
closes half of the other, then prints the real position beside its VPs: one exchange entry price, two VP
entry prices and PnLs. The log stays in the data directory: run ``hedgestack serve`` on it afterwards.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from hedgestack.engine.terminal import Terminal

if TYPE_CHECKING:
    import argparse


def main(args: argparse.Namespace) -> int:
    console = Console()
    with console.status("starting the simulator and the terminal"):
        t = Terminal.sim(args.data_dir, market="random", seed=args.seed).start_sync()
    try:
        stamp = time.strftime("%H:%M:%S")  # names are unique per side among live VPs: rerunnable
        trend = t.sync.create_vp(f"Trend {stamp}", "BTCUSDT", "LONG")
        swing = t.sync.create_vp(f"Swing {stamp}", "BTCUSDT", "LONG")
        t.sync.place_order(trend.id, "BUY", "MARKET", "0.010")
        time.sleep(1.5)  # let the random walk move the price
        t.sync.place_order(swing.id, "BUY", "MARKET", "0.006")
        time.sleep(1.5)
        mark = t.sync.state().marks["BTCUSDT"]
        t.sync.set_tpsl(trend.id, tp_price=str((mark * Decimal("1.03")).quantize(Decimal("0.1"))),
                        sl_price=str((mark * Decimal("0.97")).quantize(Decimal("0.1"))))
        t.sync.close_vp(swing.id, percent="50")
        time.sleep(1.0)
        state = t.sync.state()
        table = Table(title="BTCUSDT LONG: one real position, two virtual positions")
        for column in ("position", "qty", "avg entry", "uPnL", "realized", "fees", "net", "TP / SL"):
            table.add_column(column, justify="right" if column != "position" else "left")
        ext = next(p for p in state.external_positions
                   if p.symbol == "BTCUSDT" and p.position_side == "LONG")
        table.add_row("[bold]Binance (real)[/bold]", str(ext.qty), _fmt(ext.avg_entry_price),
                      _fmt(ext.unrealized_pnl), "", "", "", "")
        for vp in state.virtual_positions:
            if vp.symbol == "BTCUSDT" and vp.position_side == "LONG":
                tpsl = vp.tpsl
                legs = "- / -" if tpsl is None else (f"{tpsl.tp_price or '-'} / {tpsl.sl_price or '-'} "
                                                     f"{tpsl.sync_status}")
                table.add_row(f"  VP {vp.name}", str(vp.net_qty), _fmt(vp.avg_entry), _fmt(vp.unrealized_pnl),
                              _fmt(vp.realized_pnl), _fmt(vp.fees), _fmt(vp.net_pnl), legs)
        console.print(table)
        detail = state.reconcile_detail["BTCUSDT"]["LONG"]
        console.print(f"consistency: {detail.status}; event log in {args.data_dir}")
        fills = Table(title="fills, attributed by clientOrderId")
        for column in ("VP", "side", "qty", "price", "fee", "realized (VP)"):
            fills.add_column(column, justify="left" if column == "VP" else "right")
        for row in t.fills().iter_rows(named=True):
            fills.add_row(row["vp_name"], row["side"], _fmt(row["qty"], 3), _fmt(row["price"]),
                          _fmt(row["commission"], 4), _fmt(row["realized_pnl"], 4))
        console.print(fills)
    finally:
        t.stop_sync()
    return 0


def _fmt(value: object, places: int = 2) -> str:
    if value in (None, ""):
        return ""
    return f"{Decimal(str(value)):,.{places}f}"
