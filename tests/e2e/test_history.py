"""Order history with paging, filters (VP, symbol, role) and TP/SL churn hidden; trade history; exports of every
fill and order as CSV and Parquet, downloaded from the page."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Page, expect

from hedgestack.engine.terminal import Terminal
from tests.e2e.conftest import Control, wait_until
from tests.e2e.helpers import TIMEOUT, open_dashboard, tab

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def history(terminal: Terminal, control: Control) -> str:
    """30 small round trips on one VP, and a TP/SL moved three times (churn: legs cancelled unfilled)."""
    t = terminal
    vp = t.sync.create_vp("Busy", "BTCUSDT", "LONG")

    def holds(qty: str) -> None:  # the fill arrives on the user stream after the order's answer
        wait_until(lambda: str(t.sync.vp(vp.id).net_qty.normalize()) == qty, timeout=15)

    for _ in range(15):
        t.sync.place_order(vp.id, "BUY", "MARKET", "0.002")
        holds("0.002")
        t.sync.place_order(vp.id, "SELL", "MARKET", "0.002")
        holds("0")
    t.sync.place_order(vp.id, "BUY", "MARKET", "0.004")
    holds("0.004")
    for tp in ("97000", "97500", "98000"):
        t.sync.set_tpsl(vp.id, tp_price=tp, sl_price="90000")
        t.sync.wait_idle()
    return vp.id


def rows(page: Page, css: str) -> int:
    return page.locator(f"{css} tr[data-key]").count()


def test_paging_filters_and_churn(page: Page, served: str, terminal: Terminal, history: str) -> None:
    open_dashboard(page, served)
    tab(page, "Order history")
    label = page.locator(".hs-history-page")
    expect(label).to_contain_text(re.compile(r"page 1 of 2 · 3\d orders"), timeout=TIMEOUT)
    assert rows(page, ".hs-order-history") == 25
    page.locator(".hs-history-next button").click()
    expect(label).to_contain_text("page 2 of 2", timeout=TIMEOUT)

    page.locator(".hs-order-history").first.scroll_into_view_if_needed()
    tab_panel = page.locator(".hs-tabs")
    tab_panel.locator(".hs-filter-role select:visible").first.select_option(label="TP")
    expect(label).to_contain_text("page 1 of 1 · 1 orders", timeout=TIMEOUT)  # the live TP only
    page.locator(".hs-hide-churn input").uncheck()
    expect(label).to_contain_text(re.compile(r"· [3-9] orders"), timeout=TIMEOUT)  # with the replaced legs
    statuses = page.locator('.hs-order-history td[data-col="status"]').all_text_contents()
    assert "CANCELED" in statuses
    tab_panel.locator(".hs-filter-role select:visible").first.select_option(label="All roles")
    tab_panel.locator(".hs-filter-symbol select:visible").first.select_option(label="ETHUSDT")
    expect(label).to_contain_text("no orders", timeout=TIMEOUT)


def test_trade_history_and_exports(page: Page, served: str, terminal: Terminal, history: str,
                                   tmp_path: Path) -> None:
    open_dashboard(page, served)
    tab(page, "Trade history")
    expect(page.locator(".hs-fills-page")).to_contain_text(re.compile(r"page 1 of 2 · 31 fills"), timeout=TIMEOUT)
    fills = terminal.fills()
    orders = terminal.orders()
    for what, kind, expected in (("fills", "csv", fills.height), ("fills", "parquet", fills.height),
                                 ("orders", "csv", orders.height), ("orders", "parquet", orders.height)):
        if what == "orders":
            tab(page, "Order history")
        with page.expect_download(timeout=30_000) as download:
            page.locator(f".hs-export-{what}-{kind} a, .hs-export-{what}-{kind} button").first.click()
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        frame = pl.read_csv(path) if kind == "csv" else pl.read_parquet(path)
        assert frame.height == expected, (what, kind)
        assert ("trade_id" if what == "fills" else "client_order_id") in frame.columns
