"""The layout a trader sees: empty state, chart + ticket + at least four VP rows on two sides without scrolling at
1400×900, no horizontal scrolling at 1400, usable at 1024×768, dark by default and light on request; the
screenshots README shows (docs/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hedgestack.engine.terminal import Terminal
from tests.e2e.conftest import Control
from tests.e2e.helpers import DOCS, TIMEOUT, cell, open_dashboard, shot, side_row, vp_row

pytestmark = pytest.mark.ui


def test_empty_state_says_how_to_start(page: Page, served: str, artifacts: Path) -> None:
    open_dashboard(page, served)
    expect(page.locator(".hs-positions .hs-grid-empty")).to_contain_text("create a virtual position to start",
                                                                      timeout=TIMEOUT)
    expect(page.locator(".hs-ticket-hint")).to_contain_text("No VP of BTCUSDT selected")
    expect(page.locator(".hs-ticket-submit button")).to_be_disabled()
    shot(page, artifacts / "ui_empty.png")


@pytest.fixture(scope="module")
def four_vps(terminal: Terminal, control: Control) -> None:
    """Four VPs on two sides of BTCUSDT, with a TP/SL, a resting order and a foreign fill."""
    t = terminal
    trend = t.sync.create_vp("Trend", "BTCUSDT", "LONG")
    swing = t.sync.create_vp("Swing", "BTCUSDT", "LONG")
    hedge = t.sync.create_vp("Hedge", "BTCUSDT", "SHORT")
    scalp = t.sync.create_vp("Scalp", "BTCUSDT", "SHORT")
    t.sync.place_order(trend.id, "BUY", "MARKET", "0.010")
    control.price("BTCUSDT", "95400", "95400")
    t.sync.place_order(swing.id, "BUY", "MARKET", "0.006")
    t.sync.place_order(hedge.id, "SELL", "MARKET", "0.004")
    control.price("BTCUSDT", "95200", "95200")
    t.sync.place_order(scalp.id, "SELL", "MARKET", "0.002")
    t.sync.wait_idle()
    t.sync.set_tpsl(trend.id, tp_price="97000", sl_price="93500")
    t.sync.place_order(swing.id, "BUY", "LIMIT", "0.003", "94000")
    t.sync.wait_idle()


def on_screen(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_1400_shows_chart_ticket_and_four_vp_rows_without_scrolling(page: Page, served: str, four_vps: None,
                                                                    theme: str) -> None:
    open_dashboard(page, served, theme=theme, size="1400")
    for name in ("Trend", "Swing", "Hedge", "Scalp"):
        expect(vp_row(page, name)).to_be_visible(timeout=TIMEOUT)
    expect(cell(side_row(page, "BTCUSDT", "LONG"), "status")).to_have_text("OK", timeout=TIMEOUT)
    expect(page.locator(".hs-chart .hs-chart-box")).to_have_attribute("data-bars", "500", timeout=TIMEOUT)
    for selector in (".hs-chart", ".hs-ticket-submit"):
        box = on_screen(page, selector)
        assert box["y"] >= 0 and box["y"] + box["height"] <= 900, (selector, box)
    for name in ("Trend", "Swing", "Hedge", "Scalp"):
        box = cell(vp_row(page, name), "status").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900 and box["x"] + box["width"] <= 1400, name
    # no horizontal scrolling: the page, and every column of the positions table at once
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    wrap = page.locator(".hs-positions .hs-grid-wrap")
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the positions table scrolls sideways"
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == ("rgb(11, 14, 17)" if theme == "dark" else "rgb(245, 245, 245)")
    shot(page, DOCS / f"dashboard-{theme}.png")
    if theme == "dark":
        shot(page, DOCS / "dashboard.png")


def test_1024_is_usable(page: Page, served: str, four_vps: None) -> None:
    open_dashboard(page, served, size="1024")
    for selector in (".hs-chart", ".hs-ticket-submit", ".hs-ticket-size"):
        box = on_screen(page, selector)
        assert box["x"] + box["width"] <= 1024 and box["y"] + box["height"] <= 768, (selector, box)
    for name in ("Trend", "Swing", "Hedge", "Scalp"):
        box = cell(vp_row(page, name), "size").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 768 and box["x"] + box["width"] <= 1024, name
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, DOCS / "dashboard-1024.png")
    # a refusal next to the create controls gets a line of its own rather than a 40 px column
    page.locator(".hs-create-name input").fill("Trend")
    page.locator(".hs-create-submit button").click()
    feedback = page.locator(".hs-create-feedback")
    expect(feedback).to_contain_text("NAME_TAKEN", timeout=TIMEOUT)
    box = on_screen(page, ".hs-create-feedback .hs-fb-error")
    assert box["width"] >= 200 and box["height"] <= 40 and box["x"] + box["width"] <= 1024, box


SCROLLERS = """() => {
  const out = [];
  const walk = (root) => root.querySelectorAll('*').forEach((el) => {
    const cs = getComputedStyle(el);
    const scrolls = ['auto', 'scroll'].includes(cs.overflowX) || ['auto', 'scroll'].includes(cs.overflowY);
    if (scrolls && el.clientWidth > 0 && el.clientHeight > 0) {
      out.push({ what: `${el.tagName}#${el.id}.${String(el.className).slice(0, 60)}`, color: cs.backgroundColor,
                 image: cs.backgroundImage });
    }
    if (el.shadowRoot) walk(el.shadowRoot);
  });
  walk(document);
  return out;
}"""


def test_scroll_containers_paint_no_background_of_their_own(page: Page, served: str, four_vps: None) -> None:
    """Chromium repaints a scroll container's own background whole whenever its content's extent changes (a figure
    in a cell): on the main area that was the whole screen at every mark. Backgrounds sit on boxes that do not
    scroll (the page, a card, the grid's host)."""
    open_dashboard(page, served, size="1400")
    expect(vp_row(page, "Trend")).to_be_visible(timeout=TIMEOUT)
    scrollers = page.evaluate(SCROLLERS)
    assert len(scrollers) >= 3, scrollers  # the main area, the positions table, the action card
    painted = [s for s in scrollers if s["color"] != "rgba(0, 0, 0, 0)" or s["image"] != "none"]
    assert painted == [], painted


def test_numbers_are_formatted_per_symbol_with_the_exact_value_on_hover(page: Page, served: str,
                                                                        four_vps: None) -> None:
    open_dashboard(page, served)
    trend = vp_row(page, "Trend")
    expect(cell(trend, "size")).to_have_text("0.010", timeout=TIMEOUT)
    expect(cell(trend, "entry")).to_have_text("95,000.0")
    long_side = side_row(page, "BTCUSDT", "LONG")
    entry = cell(long_side, "entry")
    assert entry.get_attribute("title") == "95150"  # (0.010 × 95,000 + 0.006 × 95,400) ÷ 0.016, unrounded
    expect(entry).to_have_text("95,150.0")
    net = cell(trend, "net")
    expect(net).to_have_class("neg")  # the fee
    assert (net.text_content() or "").startswith("-") and "fees" in (net.get_attribute("title") or "")
    for col in ("upnl", "realized"):
        text = cell(vp_row(page, "Scalp"), col).text_content() or ""
        assert not text.startswith("-0.00") and not text.startswith("+0.00"), (col, text)


def test_venue_and_freshness_badges(page: Page, served: str) -> None:
    open_dashboard(page, served)
    expect(page.locator(".hs-freshness .hs-venue")).to_have_text("SIM")
    expect(page.locator(".hs-freshness .hs-conn")).to_have_text("Connected")
    expect(page.locator(".hs-freshness .hs-ago")).to_contain_text("last exchange event", timeout=TIMEOUT)
    expect(page.locator(".hs-header")).not_to_contain_text("LIVE")


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize("size", ["1400", "1024"])
def test_notices_cover_no_control(page: Page, served: str, terminal: Terminal, four_vps: None, size: str) -> None:
    """A notice shows over the chart's top, under the header's figures: not over the ticket, the action card or
    the tables, where a toast sliding in takes the click meant for a button."""
    open_dashboard(page, served, size=size)
    expect(vp_row(page, "Scalp")).to_be_visible(timeout=TIMEOUT)
    scalp = next(vp for vp in terminal.sync.state().virtual_positions if vp.name == "Scalp")
    terminal.sync.place_order(scalp.id, "SELL", "MARKET", "0.002")
    toast = page.locator(".notyf__toast", has_text="Filled · Scalp: SELL 0.002").first
    expect(toast).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(400)  # its slide-in animation
    box = toast.bounding_box()
    assert box is not None
    header = on_screen(page, "#header")
    assert box["y"] >= header["y"] + header["height"], (box, header)  # the figures stay readable
    for selector in (".hs-ticket", ".hs-actions", ".hs-tabs"):
        assert not _overlap(box, on_screen(page, selector)), (selector, box)
    terminal.sync.place_order(scalp.id, "BUY", "MARKET", "0.002")  # Scalp as the other tests know it
    terminal.sync.wait_idle()
