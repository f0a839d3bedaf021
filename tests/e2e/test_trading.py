"""A trader's session on the served dashboard: VPs created, entries from the ticket (market, USDT-sized, hotkeys),
the final status in the ticket, TP/SL from the action card, a TP hit announced, a 50 % close, a foreign close
that raises MISMATCH (announced, locked controls), and the safe reconcile that heals it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hedgestack.engine.terminal import Terminal
from tests.e2e.conftest import Control
from tests.e2e.helpers import (
    DOCS,
    TIMEOUT,
    buy_market,
    cell,
    create_vp,
    engine_vp,
    notice,
    open_dashboard,
    place,
    select_vp,
    shot,
    side_row,
    tab,
    ticket,
    vp_row,
)

pytestmark = pytest.mark.ui
#: the trader's session runs on a Terminal in this process and on ``hedgestack serve`` (the dashboard process a
#: ``hedgestack.connect`` client of the engine process)
BACKENDS = ("local", "serve")


def test_trader_session(page: Page, served: str, terminal: Terminal, control: Control, artifacts: Path) -> None:
    open_dashboard(page, served)
    create_vp(page, "Alpha")
    page.locator(".hs-create-name input").fill("Beta")
    page.locator(".hs-create-name input").press("Enter")  # Enter in the name box creates too
    expect(vp_row(page, "Beta")).to_have_count(1, timeout=TIMEOUT)

    # a market BUY from the ticket: the row, the ticket's final status (FILLED at the average) and a notice
    buy_market(page, "Alpha", "0.010")
    expect(cell(vp_row(page, "Alpha"), "size")).to_have_text("0.010", timeout=TIMEOUT)
    expect(page.locator(".hs-ticket-status")).to_contain_text("FILLED · BUY 0.010 BTCUSDT @ 95,000.0 avg")
    expect(notice(page, "Filled · Alpha: BUY 0.010 BTCUSDT LONG @ 95,000.0")).to_be_visible(timeout=TIMEOUT)

    # sized in USDT: 1,000 USDT at the mark 96,000 → 0.010 (rounded down to the step), shown before sending
    control.price("BTCUSDT", "96000", "96000")
    select_vp(page, "Beta")
    ticket(page, side="BUY", order_type="Market", size="1000", unit="USDT")
    expect(page.locator(".hs-ticket-preview")).to_contain_text("= 0.010 BTC ≈ 960.00 USDT", timeout=TIMEOUT)
    page.keyboard.press("Enter")  # Enter in the ticket submits
    expect(cell(vp_row(page, "Beta"), "size")).to_have_text("0.010", timeout=TIMEOUT)
    expect(cell(vp_row(page, "Beta"), "entry")).to_have_text("96,000.0")
    expect(cell(side_row(page, "BTCUSDT", "LONG"), "size")).to_have_text("0.020", timeout=TIMEOUT)

    # hotkeys: S arms SELL (a close of Beta, red), B back to BUY, Esc clears the ticket
    page.locator(".hs-chart").click(position={"x": 30, "y": 30})  # focus out of the boxes
    page.keyboard.press("s")
    expect(page.locator(".hs-ticket-submit button")).to_have_text("SELL · close Beta", timeout=TIMEOUT)
    color = page.locator(".hs-ticket-submit button").evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(246, 70, 93)", color
    page.keyboard.press("b")
    expect(page.locator(".hs-ticket-submit button")).to_have_text("BUY · open Beta", timeout=TIMEOUT)
    assert page.locator(".hs-ticket-submit button").evaluate(
        "e => getComputedStyle(e).backgroundColor") == "rgb(14, 203, 129)"
    page.keyboard.press("Escape")
    expect(page.locator(".hs-ticket-size input")).to_have_value("", timeout=TIMEOUT)

    # TP/SL on Alpha from its action card (titled with Alpha): both legs live, on the chart as labelled lines
    select_vp(page, "Alpha")
    page.locator(".hs-tp-price input").fill("97000")
    page.locator(".hs-tp-trigger select").select_option("LAST")
    page.locator(".hs-sl-price input").fill("90000")
    page.locator(".hs-set-tpsl button").click()
    alpha = vp_row(page, "Alpha")
    expect(cell(alpha, "tpsl")).to_have_text("97,000.0 / 90,000.0", timeout=TIMEOUT)
    expect(cell(alpha, "status")).to_have_text("TP/SL OK", timeout=TIMEOUT)
    lines = page.locator(".hs-chart .hs-chart-box")
    expect(lines).to_have_attribute("data-lines", __import__("re").compile(r'"tp:'), timeout=TIMEOUT)
    shot(page, artifacts / "ui_trading_tpsl.png")

    # the price goes through the TP: announced, Alpha flat, Beta untouched
    control.price("BTCUSDT", "97100", "97100")
    expect(cell(alpha, "size")).to_have_text("0.000", timeout=TIMEOUT)
    expect(notice(page, "TP filled · Alpha")).to_be_visible(timeout=TIMEOUT)
    expect(cell(vp_row(page, "Beta"), "size")).to_have_text("0.010")

    # 50 % of Beta from its card
    select_vp(page, "Beta")
    page.locator(".hs-close-50 button").click()
    expect(cell(vp_row(page, "Beta"), "size")).to_have_text("0.005", timeout=TIMEOUT)

    # a close from another app: MISMATCH, announced; the row is marked and reducing controls locked
    control.post("/external-order", {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "LONG",
                                     "type": "MARKET", "quantity": "0.004", "clientOrderId": "web_ui_close"})
    group = side_row(page, "BTCUSDT", "LONG")
    # (hedgestack serve polls the exchange every 5 s and confirms a difference after 3 s: a longer deadline)
    expect(cell(group, "status")).to_have_text("MISMATCH", timeout=4 * TIMEOUT)
    expect(group).to_have_class(__import__("re").compile("mismatch"))
    expect(notice(page, "MISMATCH BTCUSDT LONG")).to_be_visible(timeout=TIMEOUT)
    for css in (".hs-close-25", ".hs-close-100", ".hs-close-custom", ".hs-set-tpsl", ".hs-clear-tpsl"):
        expect(page.locator(f"{css} button")).to_be_disabled(timeout=TIMEOUT)
    expect(page.locator(".hs-lock-note")).to_contain_text("MISMATCH")
    expect(cell(vp_row(page, "Beta"), "status")).to_have_text("locked")
    shot(page, DOCS / "dashboard-mismatch.png")  # docs/dashboard.md

    # reconcile: the inputs hold the current quantities, the plan shows before → after, nothing is written
    # before the confirmation
    tab(page, "Reconcile")
    expect(page.locator(".hs-rec-side select")).to_contain_text("BTCUSDT LONG · MISMATCH")
    expect(page.locator(".hs-rec-exchange")).to_have_text("0.001", timeout=TIMEOUT)
    expect(page.locator(".hs-rec-input-Beta input")).to_have_value("0.005")
    expect(page.locator(".hs-rec-input-Alpha input")).to_have_value("0.000")
    page.locator(".hs-rec-input-Beta input").fill("0.001")
    page.locator(".hs-rec-input-Beta input").press("Tab")
    preview = page.locator('.hs-rec-preview tr[data-key]').filter(has_text="Beta")
    expect(preview).to_contain_text("0.005 @ 96,000.0", timeout=TIMEOUT)
    expect(preview).to_contain_text("0.001 @ 95,500.0")
    page.locator(".hs-rec-submit button").click()
    expect(page.locator(".hs-rec-confirm")).to_contain_text("Reconcile BTCUSDT LONG: Alpha 0.000 → 0.000, "
                                                            "Beta 0.005 → 0.001", timeout=TIMEOUT)
    assert engine_vp(terminal, "Beta").net_qty.normalize() == Decimal("0.005")
    shot(page, DOCS / "dashboard-reconcile.png")  # docs/dashboard.md
    page.locator(".hs-rec-confirm .hs-confirm-yes button").click()
    expect(page.locator(".hs-rec-feedback")).to_contain_text("Reconciled BTCUSDT LONG: OK", timeout=TIMEOUT)
    expect(notice(page, "BTCUSDT LONG matches the exchange again")).to_be_visible(timeout=TIMEOUT)
    tab(page, "Positions")
    expect(cell(group, "status")).to_have_text("OK", timeout=TIMEOUT)
    expect(cell(vp_row(page, "Beta"), "size")).to_have_text("0.001", timeout=TIMEOUT)
    expect(page.locator(".hs-close-50 button")).to_be_enabled(timeout=TIMEOUT)


def test_an_ok_side_cannot_be_reconciled_by_accident(page: Page, served: str, terminal: Terminal) -> None:
    open_dashboard(page, served)
    tab(page, "Reconcile")
    expect(page.locator(".hs-rec-summary")).to_contain_text("OK", timeout=TIMEOUT)
    expect(page.locator(".hs-rec-input").first.locator("input")).to_be_disabled()
    expect(page.locator(".hs-rec-submit button")).to_be_disabled()
    page.locator(".hs-rec-reassign input").check()  # the deliberate reassign mode
    expect(page.locator(".hs-rec-input").first.locator("input")).to_be_enabled(timeout=TIMEOUT)
    expect(page.locator(".hs-rec-submit button")).to_be_disabled()  # nothing changed yet


def test_local_refusal_is_instant_and_the_exchanges_is_verbatim(page: Page, served: str, terminal: Terminal) -> None:
    open_dashboard(page, served)
    select_vp(page, "Beta")
    error = page.locator(".hs-ticket-error")
    place(page, side="BUY", order_type="Limit", price="94000.05", size="0.002")
    expect(error).to_contain_text("PRICE_TICK_SIZE: Price not increased by tick size", timeout=2_000)
    # Esc clears the boxes; the same price typed again reaches the ticket (it once read as no price at all)
    page.keyboard.press("Escape")
    expect(error).to_have_text("", timeout=TIMEOUT)
    place(page, side="BUY", order_type="Limit", price="94000.05", size="0.002")
    expect(error).to_contain_text("PRICE_TICK_SIZE: Price not increased by tick size", timeout=2_000)
    place(page, side="BUY", order_type="Market", size="0.001")
    expect(error).to_contain_text("MIN_NOTIONAL: Order's notional must be no smaller than 100", timeout=2_000)
    before = len(terminal.sync.order_history())
    place(page, side="BUY", order_type="Market", size="100")  # the exchange: not enough margin
    expect(error).to_contain_text("Binance -2019", timeout=TIMEOUT)
    assert len(terminal.sync.order_history()) >= before
