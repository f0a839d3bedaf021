"""The remaining controls against the served page: amend and cancel an open LIMIT order, transfer between two VPs
(both rows repainted: the old display bug is fixed, not excused), rename, close a custom quantity, archive a flat
VP (and the refusal to archive one that holds something). Each step asserts what the trader sees and the
engine's state."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from hedgestack.engine.terminal import Terminal
from tests.e2e.helpers import (
    TIMEOUT,
    buy_market,
    cell,
    create_vp,
    engine_open_orders,
    engine_vp,
    notice_shown_and_gone,
    open_dashboard,
    place,
    select_vp,
    shot,
    tab,
    vp_row,
)

pytestmark = pytest.mark.ui
BACKENDS = ("local", "serve")  # see tests/e2e/conftest.py


def open_order_row(page: Page, vp_name: str) -> Locator:
    return page.locator(".hs-open-orders tr[data-key]").filter(
        has=page.locator('td[data-col="vp"]', has_text=vp_name))


def test_amend_then_cancel_an_open_limit_order(page: Page, served: str, terminal: Terminal, artifacts: Path) -> None:
    open_dashboard(page, served)
    create_vp(page, "Lim")
    place(page, side="BUY", order_type="Limit", price="93000", size="0.005")
    expect(page.locator(".hs-ticket-status")).to_contain_text("NEW · resting BUY 0.005 BTCUSDT @ 93,000.0",
                                                              timeout=TIMEOUT)
    tab(page, "Open orders")
    row = open_order_row(page, "Lim")
    expect(cell(row, "price")).to_have_text("93,000.0", timeout=TIMEOUT)
    expect(cell(row, "qty")).to_have_text("0.005")
    vp_id = engine_vp(terminal, "Lim").id
    [first] = engine_open_orders(terminal, vp_id)

    # amend price and quantity: the order is replaced (cancel + new); the row is clicked to load it
    cell(row, "status").click()
    expect(page.locator(".hs-amend-price input")).to_have_value("93000", timeout=TIMEOUT)
    page.locator(".hs-amend-price input").fill("94000")
    page.locator(".hs-amend-qty input").fill("0.004")
    page.locator(".hs-amend button").click()
    expect(page.locator(".hs-orders-feedback")).to_contain_text("amended", timeout=TIMEOUT)
    expect(cell(row, "price")).to_have_text("94,000.0", timeout=TIMEOUT)
    expect(cell(row, "qty")).to_have_text("0.004")
    expect(row).to_have_count(1)
    [amended] = engine_open_orders(terminal, vp_id)
    assert (amended.price, amended.qty) == (Decimal("94000"), Decimal("0.004"))
    assert amended.client_order_id != first.client_order_id and amended.replaces == first.client_order_id
    shot(page, artifacts / "ui_amended.png")

    # cancel it from its row: gone from the table and from the engine's open orders
    row.locator("button", has_text="Cancel").click()
    expect(row).to_have_count(0, timeout=TIMEOUT)
    assert engine_open_orders(terminal, vp_id) == []


def test_transfer_repaints_both_rows(page: Page, served: str, terminal: Terminal) -> None:
    open_dashboard(page, served)
    for name in ("From", "To"):
        create_vp(page, name)
    buy_market(page, "From", "0.010")
    expect(cell(vp_row(page, "From"), "size")).to_have_text("0.010", timeout=TIMEOUT)

    select_vp(page, "From")
    page.locator(".hs-transfer-to select").select_option(label="To · BTCUSDT LONG")
    page.locator(".hs-transfer-qty input").fill("0.004")
    page.locator(".hs-transfer button").click()
    expect(page.locator(".hs-actions-feedback")).to_contain_text("transferred 0.004 to To", timeout=TIMEOUT)
    assert engine_vp(terminal, "From").net_qty == Decimal("0.006")
    assert (engine_vp(terminal, "To").net_qty, engine_vp(terminal, "To").avg_entry) == (Decimal("0.004"),
                                                                                        Decimal("95000"))
    expect(cell(vp_row(page, "From"), "size")).to_have_text("0.006", timeout=TIMEOUT)
    expect(cell(vp_row(page, "To"), "size")).to_have_text("0.004", timeout=TIMEOUT)
    expect(cell(vp_row(page, "To"), "entry")).to_have_text("95,000.0")


def test_rename_close_custom_and_archive(page: Page, served: str, terminal: Terminal) -> None:
    open_dashboard(page, served)
    for name in ("Src", "Dst", "Spare"):
        create_vp(page, name)
    buy_market(page, "Src", "0.006")
    buy_market(page, "Dst", "0.004")
    notice_shown_and_gone(page, "Filled · Dst")  # no toast sliding in while the card is clicked

    # rename Dst → Swing: the row, the selectors and the engine follow
    select_vp(page, "Dst")
    page.locator(".hs-new-name input").fill("Swing")
    page.locator(".hs-rename button").click()
    expect(page.locator(".hs-actions-feedback")).to_contain_text("renamed to Swing", timeout=TIMEOUT)
    expect(cell(vp_row(page, "Swing"), "size")).to_have_text("0.004", timeout=TIMEOUT)
    expect(vp_row(page, "Dst")).to_have_count(0)
    expect(page.locator(".hs-actions-title")).to_contain_text("Swing")
    expect(page.locator(".hs-ticket-vp select")).to_contain_text("Swing · LONG")

    # close a custom quantity of Src (market): 0.006 − 0.002
    select_vp(page, "Src")
    page.locator(".hs-close-qty input").fill("0.002")
    page.locator(".hs-close-custom button").click()
    expect(page.locator(".hs-actions-feedback")).to_contain_text("close 0.002", timeout=TIMEOUT)
    expect(cell(vp_row(page, "Src"), "size")).to_have_text("0.004", timeout=TIMEOUT)
    assert engine_vp(terminal, "Src").net_qty == Decimal("0.004")
    notice_shown_and_gone(page, "Filled · Src")

    # archiving a VP that holds something is refused next to the button; a flat one leaves the table
    page.locator(".hs-archive button").click()
    expect(page.locator(".hs-actions-feedback")).to_contain_text("VP_NOT_FLAT", timeout=TIMEOUT)
    assert not engine_vp(terminal, "Src").archived
    select_vp(page, "Spare")
    page.locator(".hs-archive button").click()
    expect(page.locator(".hs-actions-feedback")).to_contain_text("archived Spare", timeout=TIMEOUT)
    expect(vp_row(page, "Spare")).to_have_count(0, timeout=TIMEOUT)
    assert all(vp.name != "Spare" for vp in terminal.sync.state().virtual_positions)


def test_vp_guard_refusal_comes_back_verbatim(page: Page, served: str, terminal: Terminal) -> None:
    open_dashboard(page, served)
    create_vp(page, "Tiny")
    buy_market(page, "Tiny", "0.002")
    place(page, side="SELL", order_type="Market", size="0.005")
    expect(page.locator(".hs-ticket-error")).to_contain_text("VP_GUARD", timeout=TIMEOUT)
    expect(page.locator(".hs-ticket-error")).to_contain_text("Tiny holds 0.002")
    assert engine_vp(terminal, "Tiny").net_qty == Decimal("0.002")
