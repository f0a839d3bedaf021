"""The dashboard's remaining controls, driven in chromium against the served page: amend and cancel an open
LIMIT order, transfer between two VPs (xfail: an open display bug, see the test), rename, close a custom
quantity, archive a flat VP (and the refusal to archive one that holds something), and the order ticket's
inline errors for refused orders (min notional, VP guard). Each step asserts what the trader sees and the
engine's state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from hedgestack.engine.terminal import Terminal
from tests.e2e.test_dashboard import TIMEOUT, buy, cell, create_vp, select_vp, vp_row

pytestmark = pytest.mark.ui


def open_order_row(page: Page, vp_name: str) -> Locator:
    return page.locator(".hs-open-orders .tabulator-row").filter(
        has=page.locator('.tabulator-cell[tabulator-field="VP"]', has_text=vp_name))


def engine_vp(terminal: Terminal, name: str) -> dict[str, Any]:
    return next(vp for vp in terminal.sync.state().to_json()["virtual_positions"] if vp["name"] == name)


def engine_open_orders(terminal: Terminal, vp_id: str) -> list[dict[str, Any]]:
    return [o for o in terminal.sync.state().to_json()["open_orders"] if o["virtual_position_id"] == vp_id]


def ticket(page: Page, name: str, action: str, order_type: str, qty: str, price: str = "") -> None:
    page.locator(".hs-ticket-vp select").select_option(label=f"{name} · BTCUSDT LONG")
    page.locator(".hs-ticket-action button", has_text=action).click()
    page.locator(".hs-ticket-type select").select_option(order_type)
    page.locator(".hs-ticket-qty input").fill(qty)
    page.locator(".hs-ticket-price input").fill(price)
    page.locator(".hs-ticket-submit button").click()


def test_amend_then_cancel_an_open_limit_order(page: Page, served: str, terminal: Terminal,
                                               artifacts: Path) -> None:
    page.set_viewport_size({"width": 1500, "height": 1500})
    page.goto(served)
    create_vp(page, "Lim")
    ticket(page, "Lim", "BUY", "LIMIT", "0.005", "93000")
    expect(page.locator(".hs-ticket-result")).to_contain_text("VP-", timeout=TIMEOUT)
    row = open_order_row(page, "Lim")
    expect(cell(row, "Price")).to_have_text("93000", timeout=TIMEOUT)
    expect(cell(row, "Qty")).to_have_text("0.005")
    vp_id = engine_vp(terminal, "Lim")["id"]
    [first] = engine_open_orders(terminal, vp_id)

    # amend price and quantity: the order is replaced (cancel + new), the table shows the new one only
    cell(row, "Status").click()
    page.locator(".hs-amend-price input").fill("94000")
    page.locator(".hs-amend-qty input").fill("0.004")
    page.locator(".hs-amend button").click()
    expect(page.locator(".hs-orders-result")).to_contain_text("amended", timeout=TIMEOUT)
    expect(cell(row, "Price")).to_have_text("94000", timeout=TIMEOUT)
    expect(cell(row, "Qty")).to_have_text("0.004")
    expect(row).to_have_count(1)
    [amended] = engine_open_orders(terminal, vp_id)
    assert (amended["price"], amended["qty"]) == ("94000", "0.004")
    assert amended["clientOrderId"] != first["clientOrderId"] and amended["replaces"] == first["clientOrderId"]
    page.screenshot(path=str(artifacts / "ui_06_amended.png"), full_page=True)

    # cancel it: gone from the table and from the engine's open orders
    cell(row, "Status").click()
    page.locator(".hs-cancel button").click()
    expect(page.locator(".hs-orders-result")).to_contain_text("cancel sent", timeout=TIMEOUT)
    expect(row).to_have_count(0, timeout=TIMEOUT)
    assert engine_open_orders(terminal, vp_id) == []


@pytest.mark.xfail(strict=False, reason="open bug: now and then the destination VP's row keeps its old Qty in "
                   "the browser after a transfer, while the engine and the server's table value hold the new one "
                   "(seen at HEAD before this change too; Panel Tabulator update lost in the browser)")
def test_transfer_between_two_vps(page: Page, served: str, terminal: Terminal) -> None:
    page.set_viewport_size({"width": 1500, "height": 1500})
    page.goto(served)
    for name in ("From", "To"):
        create_vp(page, name)
    buy(page, "From", "0.010")
    expect(cell(vp_row(page, "From"), "Qty")).to_have_text("0.01", timeout=TIMEOUT)

    # transfer 0.004 From → To: moved at From's average cost, nothing sent to the exchange
    select_vp(page, "From")
    page.locator(".hs-transfer-to select").select_option(label="To · BTCUSDT LONG")
    page.locator(".hs-transfer-qty input").fill("0.004")
    page.locator(".hs-transfer button").click()
    expect(page.locator(".hs-actions-result")).to_contain_text("transferred", timeout=TIMEOUT)
    assert engine_vp(terminal, "From")["net_qty"] == "0.006"
    assert (engine_vp(terminal, "To")["net_qty"], engine_vp(terminal, "To")["avg_entry"]) == ("0.004", "95000")
    expect(cell(vp_row(page, "From"), "Qty")).to_have_text("0.006", timeout=TIMEOUT)
    expect(cell(vp_row(page, "To"), "Qty")).to_have_text("0.004", timeout=TIMEOUT)
    expect(cell(vp_row(page, "To"), "Avg entry")).to_have_text("95000")


def test_rename_close_custom_and_archive(page: Page, served: str, terminal: Terminal, artifacts: Path) -> None:
    page.set_viewport_size({"width": 1500, "height": 1500})
    page.goto(served)
    for name in ("Src", "Dst", "Spare"):
        create_vp(page, name)
    buy(page, "Src", "0.006")
    expect(cell(vp_row(page, "Src"), "Qty")).to_have_text("0.006", timeout=TIMEOUT)
    buy(page, "Dst", "0.004")
    expect(cell(vp_row(page, "Dst"), "Qty")).to_have_text("0.004", timeout=TIMEOUT)

    # rename Dst → Swing: the row, the selectors and the engine follow
    select_vp(page, "Dst")
    page.locator(".hs-new-name input").fill("Swing")
    page.locator(".hs-rename button").click()
    expect(page.locator(".hs-actions-result")).to_contain_text("renamed", timeout=TIMEOUT)
    expect(cell(vp_row(page, "Swing"), "Qty")).to_have_text("0.004", timeout=TIMEOUT)
    expect(vp_row(page, "Dst")).to_have_count(0)
    expect(page.locator(".hs-vp-select select")).to_contain_text("Swing · BTCUSDT LONG")
    assert not any(vp["name"] == "Dst" for vp in terminal.sync.state().to_json()["virtual_positions"])
    assert engine_vp(terminal, "Swing")["net_qty"] == "0.004"

    # close a custom quantity of Src (market): 0.006 − 0.002
    select_vp(page, "Src")
    page.locator(".hs-close-qty input").fill("0.002")
    page.locator(".hs-close-custom button").click()
    expect(page.locator(".hs-actions-result")).to_contain_text("close order", timeout=TIMEOUT)
    expect(cell(vp_row(page, "Src"), "Qty")).to_have_text("0.004", timeout=TIMEOUT)
    assert engine_vp(terminal, "Src")["net_qty"] == "0.004"

    # archiving a VP that holds something is refused inline; a flat one is archived and leaves the table
    page.locator(".hs-archive button").click()
    expect(page.locator(".hs-actions-error")).to_contain_text("VP_NOT_FLAT", timeout=TIMEOUT)
    assert not engine_vp(terminal, "Src")["archived"]
    spare_id = engine_vp(terminal, "Spare")["id"]
    select_vp(page, "Spare")
    page.locator(".hs-archive button").click()
    expect(page.locator(".hs-actions-result")).to_contain_text("archived", timeout=TIMEOUT)
    expect(vp_row(page, "Spare")).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator(".hs-vp-select select")).not_to_contain_text("Spare")
    assert spare_id not in {vp["id"] for vp in terminal.sync.state().to_json()["virtual_positions"]}  # live VPs only
    assert terminal.run_sync(_archived(terminal, spare_id))
    page.screenshot(path=str(artifacts / "ui_07_transfer_rename_archive.png"), full_page=True)


def test_refused_orders_show_inline_in_the_ticket(page: Page, served: str, terminal: Terminal,
                                                  artifacts: Path) -> None:
    page.set_viewport_size({"width": 1500, "height": 1500})
    page.goto(served)
    create_vp(page, "Tiny")
    vp_id = engine_vp(terminal, "Tiny")["id"]
    error = page.locator(".hs-ticket-error")

    # below the exchange's min notional (0.001 × 95000 = 95 < 100): refused before sending
    ticket(page, "Tiny", "BUY", "MARKET", "0.001")
    expect(error).to_be_visible(timeout=TIMEOUT)
    expect(error).to_contain_text("MIN_NOTIONAL")
    expect(error).to_contain_text("notional must be no smaller than 100")
    page.screenshot(path=str(artifacts / "ui_08_ticket_refusal.png"), full_page=True)

    # the VP guard: closing more than the VP holds would reduce another VP's quantity
    buy(page, "Tiny", "0.002")
    expect(error).to_be_hidden(timeout=TIMEOUT)  # a successful order clears the previous error
    expect(cell(vp_row(page, "Tiny"), "Qty")).to_have_text("0.002", timeout=TIMEOUT)
    ticket(page, "Tiny", "SELL", "MARKET", "0.005")
    expect(error).to_contain_text("VP_GUARD", timeout=TIMEOUT)
    expect(error).to_contain_text("Tiny holds 0.002")
    expect(cell(vp_row(page, "Tiny"), "Qty")).to_have_text("0.002")
    assert engine_vp(terminal, "Tiny")["net_qty"] == "0.002"
    assert engine_open_orders(terminal, vp_id) == []


async def _archived(terminal: Terminal, vp_id: str) -> bool:
    return terminal.ledger.vps[vp_id].archived
