"""What a trader does on the served dashboard, as playwright steps (selectors pierce the components' shadow
roots)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from hedgestack.engine.terminal import Terminal
from hedgestack.ui.ticket import UNIT_LABELS

TIMEOUT = 15_000
DOCS = Path(__file__).resolve().parents[2] / "docs"
SIZES = {"1400": {"width": 1400, "height": 900}, "1024": {"width": 1024, "height": 768}}


def open_dashboard(page: Page, url: str, *, theme: str = "dark", size: str = "1400") -> None:
    page.set_viewport_size(SIZES[size])
    page.goto(f"{url}?theme={theme}")
    expect(page.locator(".hs-freshness .hs-conn")).to_have_text("Connected", timeout=30_000)
    page.locator(".hs-positions table").wait_for(timeout=TIMEOUT)


def vp_row(page: Page, name: str) -> Locator:
    return page.locator(".hs-positions tr.vp").filter(
        has=page.locator('td[data-col="pos"]', has_text=name))


def side_row(page: Page, symbol: str, side: str) -> Locator:
    return page.locator(f'.hs-positions tr[data-key="side:{symbol}:{side}"]')


def cell(row: Locator, col: str) -> Locator:
    return row.locator(f'td[data-col="{col}"]')


def tab(page: Page, name: str) -> None:
    page.locator(".hs-tabs .bk-tab", has_text=name).first.click()


def create_vp(page: Page, name: str, symbol: str = "BTCUSDT", side: str = "LONG") -> None:
    tab(page, "Positions")
    page.locator(".hs-create-symbol select").select_option(symbol)
    page.locator(".hs-create-side .bk-btn", has_text=side).click()
    page.locator(".hs-create-name input").fill(name)
    page.locator(".hs-create-submit button").click()
    expect(page.locator(".hs-create-feedback")).to_contain_text(f"created {name}", timeout=TIMEOUT)
    expect(vp_row(page, name)).to_have_count(1, timeout=TIMEOUT)


def select_vp(page: Page, name: str) -> None:
    tab(page, "Positions")
    cell(vp_row(page, name), "pos").click()
    expect(page.locator(".hs-actions-title")).to_contain_text(name, timeout=TIMEOUT)


def ticket(page: Page, *, side: str, order_type: str, size: str, unit: str = "QTY", price: str = "",
           trigger: str = "") -> None:
    """Fill the ticket (the VP is the selected one) without sending."""
    page.locator(".hs-ticket-side .bk-btn", has_text=side).click()
    page.locator(".hs-ticket-type .bk-btn", has_text=order_type).first.click()
    if price:
        page.locator(".hs-ticket-price input").fill(price)
    if trigger:
        page.locator(".hs-ticket-trigger input").fill(trigger)
    page.locator(".hs-ticket-unit select").select_option(label=UNIT_LABELS[unit])
    page.locator(".hs-ticket-size input").fill(size)


def place(page: Page, **kw: Any) -> None:
    ticket(page, **kw)
    page.locator(".hs-ticket-submit button").click()


def buy_market(page: Page, name: str, qty: str) -> None:
    select_vp(page, name)
    place(page, side="BUY", order_type="Market", size=qty)
    expect(page.locator(".hs-ticket-status")).to_contain_text("FILLED", timeout=TIMEOUT)


def engine_vp(terminal: Terminal, name: str) -> Any:
    return next(vp for vp in terminal.sync.state().virtual_positions if vp.name == name)


def engine_open_orders(terminal: Terminal, vp_id: str) -> list[Any]:
    return [o for o in terminal.sync.state().open_orders if o.virtual_position_id == vp_id]


def notice(page: Page, text: str) -> Locator:
    return page.locator(".notyf__toast, .notyf__message", has_text=text).first


def notice_shown_and_gone(page: Page, text: str) -> None:
    """Wait until the notice ``text`` has shown and every notice has gone: a toast that slides in between
    playwright's check of a control and its click takes the click (the notices show over the chart's top, away
    from the controls, but a test should not depend on where)."""
    expect(notice(page, text)).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".notyf__toast")).to_have_count(0, timeout=TIMEOUT)


def shot(page: Page, path: Path, **kw: Any) -> None:
    path.parent.mkdir(exist_ok=True)
    page.wait_for_timeout(600)  # the chart's last frame
    page.screenshot(path=str(path), **kw)
