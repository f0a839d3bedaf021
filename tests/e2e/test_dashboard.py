"""The issue's browser scenario on the served dashboard: two VPs, TP/SL, TP hit, a 50 % close, a MISMATCH
with its highlight and locked controls, and a reconcile from the panel that unlocks them."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from hedgestack.engine.terminal import Terminal
from tests.e2e.conftest import Control

pytestmark = pytest.mark.ui
TIMEOUT = 15_000
#: the README's screenshot of the dashboard (committed), refreshed by the trader scenario
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


def vp_row(page: Page, name: str) -> Locator:
    return page.locator(".hs-positions .tabulator-row").filter(
        has=page.locator('.tabulator-cell[tabulator-field="VP"]', has_text=name))


def cell(row: Locator, field: str) -> Locator:
    return row.locator(f'.tabulator-cell[tabulator-field="{field}"]')


def group_row(page: Page, position: str) -> Locator:
    return page.locator(".hs-positions .tabulator-row").filter(
        has=page.locator('.tabulator-cell[tabulator-field="Position"]', has_text=position))


def create_vp(page: Page, name: str) -> None:
    page.locator(".hs-create-name input").fill(name)
    page.locator(".hs-create-symbol select").select_option("BTCUSDT")
    page.locator(".hs-create-side select").select_option("LONG")
    page.locator(".hs-create-submit button").click()
    expect(page.locator(".hs-create-result")).to_contain_text(f"created {name}", timeout=TIMEOUT)


def buy(page: Page, name: str, qty: str) -> None:
    page.locator(".hs-ticket-vp select").select_option(label=f"{name} · BTCUSDT LONG")
    page.locator(".hs-ticket-action button", has_text="BUY").click()
    page.locator(".hs-ticket-type select").select_option("MARKET")
    page.locator(".hs-ticket-qty input").fill(qty)
    page.locator(".hs-ticket-submit button").click()
    expect(page.locator(".hs-ticket-result")).to_contain_text("VP-", timeout=TIMEOUT)


def select_vp(page: Page, name: str) -> None:
    page.locator(".hs-vp-select select").select_option(label=f"{name} · BTCUSDT LONG")


def test_trader_scenario(page: Page, served: str, terminal: Terminal, control: Control, artifacts: Path) -> None:
    page.set_viewport_size({"width": 1500, "height": 1500})
    page.goto(served)
    expect(page.locator(".hs-header")).to_contain_text("SIM", timeout=TIMEOUT)
    expect(page.locator(".hs-header")).to_contain_text("CONNECTED", timeout=TIMEOUT)

    # two VPs on BTCUSDT LONG, one buy each at different prices: each row has its own avg entry
    create_vp(page, "Alpha")
    create_vp(page, "Beta")
    buy(page, "Alpha", "0.010")
    expect(cell(vp_row(page, "Alpha"), "Qty")).to_have_text("0.01", timeout=TIMEOUT)
    control.price("BTCUSDT", "96000", "96000")
    buy(page, "Beta", "0.010")
    expect(cell(vp_row(page, "Beta"), "Qty")).to_have_text("0.01", timeout=TIMEOUT)
    expect(cell(vp_row(page, "Alpha"), "Avg entry")).to_have_text("95000")
    expect(cell(vp_row(page, "Beta"), "Avg entry")).to_have_text("96000")
    expect(cell(group_row(page, "BTCUSDT LONG"), "Qty")).to_have_text("0.02", timeout=TIMEOUT)
    expect(cell(group_row(page, "BTCUSDT LONG"), "VP")).to_contain_text("OK")
    page.screenshot(path=str(artifacts / "ui_01_two_vps.png"), full_page=True)

    # TP/SL on Alpha (TP on LAST, SL on MARK): both legs live, sync OK
    select_vp(page, "Alpha")
    page.locator(".hs-tp-price input").fill("97000")
    page.locator(".hs-tp-trigger select").select_option("LAST")
    page.locator(".hs-sl-price input").fill("90000")
    page.locator(".hs-sl-trigger select").select_option("MARK")
    page.locator(".hs-set-tpsl button").click()
    alpha = vp_row(page, "Alpha")
    expect(cell(alpha, "Sync")).to_have_text("OK", timeout=TIMEOUT)
    expect(cell(alpha, "TP")).to_have_text("97000 LAST", timeout=TIMEOUT)
    expect(cell(alpha, "SL")).to_have_text("90000 MARK", timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "ui_02_tpsl_ok.png"), full_page=True)
    # the README's picture: the served page at a laptop's size, two VPs, Alpha's TP/SL on the chart
    page.set_viewport_size({"width": 1400, "height": 900})
    page.wait_for_timeout(800)  # the layout settles after the resize
    DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS_SCREENSHOT))
    page.set_viewport_size({"width": 1500, "height": 1500})

    # the price goes through the TP: Alpha is flat, its SL gone; Beta untouched
    control.price("BTCUSDT", "97100", "97100")
    expect(cell(alpha, "Qty")).to_have_text("0", timeout=TIMEOUT)
    expect(cell(alpha, "SL")).to_have_text("", timeout=TIMEOUT)
    expect(cell(alpha, "TP")).to_have_text("", timeout=TIMEOUT)
    expect(cell(vp_row(page, "Beta"), "Qty")).to_have_text("0.01")
    page.screenshot(path=str(artifacts / "ui_03_tp_hit.png"), full_page=True)

    # close 50 % of Beta from its action card
    select_vp(page, "Beta")
    page.locator(".hs-close-50 button").click()
    beta = vp_row(page, "Beta")
    expect(cell(beta, "Qty")).to_have_text("0.005", timeout=TIMEOUT)
    expect(page.locator(".hs-close-50 button")).to_be_enabled()

    # a foreign close of 0.004 (from the Binance app): the side no longer matches the VPs → MISMATCH
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "LONG",
                                     "type": "MARKET", "quantity": "0.004", "clientOrderId": "web_ui_close"})
    group = group_row(page, "BTCUSDT LONG")
    expect(cell(group, "VP")).to_contain_text("MISMATCH", timeout=TIMEOUT)
    color = cell(group, "VP").evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(248, 215, 218)", color
    for css in (".hs-close-25", ".hs-close-50", ".hs-close-100", ".hs-close-custom", ".hs-set-tpsl",
                ".hs-clear-tpsl"):
        expect(page.locator(f"{css} button")).to_be_disabled(timeout=TIMEOUT)
    expect(page.locator(".hs-lock-note")).to_contain_text("MISMATCH")
    page.screenshot(path=str(artifacts / "ui_04_mismatch.png"), full_page=True)

    # reconcile from the panel: the exchange holds 0.001, all of it to Beta
    page.locator(".hs-rec-side select").select_option(label="BTCUSDT LONG")
    expect(page.locator(".hs-rec-exchange")).to_have_text("0.001", timeout=TIMEOUT)
    expect(page.locator(".hs-rec-diff")).to_have_text("-0.004")
    page.locator(".hs-rec-input-Alpha input").fill("0")
    page.locator(".hs-rec-input-Beta input").fill("0.001")
    page.locator(".hs-rec-submit button").click()
    expect(page.locator(".hs-rec-result")).to_contain_text("OK", timeout=TIMEOUT)
    expect(cell(group, "VP")).to_contain_text("OK", timeout=TIMEOUT)
    expect(cell(beta, "Qty")).to_have_text("0.001", timeout=TIMEOUT)
    for css in (".hs-close-50", ".hs-set-tpsl"):
        expect(page.locator(f"{css} button")).to_be_enabled(timeout=TIMEOUT)
    page.screenshot(path=str(artifacts / "ui_05_reconciled.png"), full_page=True)


def test_refusal_is_shown_inline(page: Page, served: str) -> None:
    page.goto(served)
    page.locator(".hs-ticket-vp select").wait_for(timeout=TIMEOUT)
    page.locator(".hs-ticket-qty input").fill("0.0000001")
    page.locator(".hs-ticket-submit button").click()
    expect(page.locator(".hs-ticket-error")).to_contain_text(":", timeout=TIMEOUT)
