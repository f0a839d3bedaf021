"""The chart shows the trade: timeframes from the venue's klines, the selected VP's symbol, labelled lines (entry,
TP, SL, resting orders), fill markers; a click fills the ticket's price; dragging the TP line moves it after a
confirmation."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from hedgestack.engine.terminal import Terminal
from tests.e2e.helpers import TIMEOUT, buy_market, cell, create_vp, engine_vp, open_dashboard, select_vp, shot, vp_row

pytestmark = pytest.mark.ui
BACKENDS = ("local", "serve")  # see tests/e2e/conftest.py
BOX = ".hs-chart .hs-chart-box"


def line_y(page: Page, line_id: str) -> float:
    y = page.locator(BOX).evaluate("(box, id) => box.hsLineY(id)", line_id)
    assert y is not None, line_id
    return float(y)


def lines(page: Page) -> dict[str, Any]:
    return {line["id"]: line for line in json.loads(page.locator(BOX).get_attribute("data-lines") or "[]")}


def test_timeframes_symbol_lines_and_markers(page: Page, served: str, terminal: Terminal, artifacts: Path) -> None:
    open_dashboard(page, served)
    create_vp(page, "Trend")
    buy_market(page, "Trend", "0.010")
    vp_id = engine_vp(terminal, "Trend").id
    terminal.sync.set_tpsl(vp_id, tp_price="96000", sl_price="94000")
    terminal.sync.place_order(vp_id, "BUY", "LIMIT", "0.002", "94500")
    box = page.locator(BOX)
    expect(box).to_have_attribute("data-label", "BTCUSDT · 1m", timeout=TIMEOUT)
    expect(box).to_have_attribute("data-markers", re.compile(r"[1-9]"), timeout=TIMEOUT)
    expect(box).to_have_attribute("data-lines", re.compile(r'"tp:'), timeout=TIMEOUT)
    expect(box).to_have_attribute("data-lines", re.compile(r'"order:'), timeout=TIMEOUT)
    drawn = lines(page)
    assert {f"entry:{vp_id}", f"tp:{vp_id}", f"sl:{vp_id}"} <= set(drawn)

    for frame in ("5m", "1h", "1d"):
        page.locator(".hs-timeframe .bk-btn", has_text=re.compile(rf"^{frame}$")).click()
        expect(box).to_have_attribute("data-label", f"BTCUSDT · {frame}", timeout=TIMEOUT)
        expect(box).to_have_attribute("data-bars", re.compile(r"[1-9]"), timeout=TIMEOUT)
    page.locator(".hs-timeframe .bk-btn", has_text=re.compile(r"^1m$")).click()

    # the chart follows the selected VP's symbol
    create_vp(page, "Eth", symbol="ETHUSDT")
    select_vp(page, "Eth")
    expect(box).to_have_attribute("data-label", "ETHUSDT · 1m", timeout=TIMEOUT)
    expect(page.locator(".hs-chart-symbol select")).to_have_value(re.compile("ETHUSDT"))
    select_vp(page, "Trend")
    expect(box).to_have_attribute("data-label", "BTCUSDT · 1m", timeout=TIMEOUT)
    shot(page, artifacts / "ui_chart_lines.png")


def test_click_fills_the_ticket_price(page: Page, served: str) -> None:
    open_dashboard(page, served)
    select_vp(page, "Trend")
    page.locator(".hs-ticket-type .bk-btn", has_text="Market").first.click()
    bounds = page.locator(BOX).bounding_box()
    assert bounds is not None
    page.mouse.click(bounds["x"] + 200, bounds["y"] + 60)
    expect(page.locator(".hs-ticket-price input")).to_have_value(re.compile(r"^\d+\.\d$"), timeout=TIMEOUT)
    expect(page.locator(".hs-ticket-type .bk-active")).to_have_text("Limit")
    price = Decimal(page.locator(".hs-ticket-price input").input_value())
    assert Decimal("90000") < price < Decimal("100000")


def test_drag_the_tp_line_with_confirmation(page: Page, served: str, terminal: Terminal) -> None:
    open_dashboard(page, served)
    select_vp(page, "Trend")
    vp_id = engine_vp(terminal, "Trend").id
    box = page.locator(BOX)
    expect(box).to_have_attribute("data-lines", re.compile(rf'"tp:{vp_id}","pinned":null'),
                                  timeout=TIMEOUT)
    bounds = box.bounding_box()
    assert bounds is not None
    y = line_y(page, f"tp:{vp_id}")
    x = bounds["x"] + 150
    page.mouse.move(x, bounds["y"] + y)
    page.mouse.down()
    page.mouse.move(x, bounds["y"] + y - 20, steps=5)
    page.mouse.move(x, bounds["y"] + y - 40, steps=5)
    page.mouse.up()
    confirm = page.locator(".hs-drag-confirm")
    expect(confirm).to_contain_text("Move the TP of Trend from 96,000.0 to", timeout=TIMEOUT)
    question = confirm.locator("div").filter(has_text="Move the TP").last.inner_text()
    match = re.search(r"to ([\d,.]+)\?", question)
    assert match is not None, question
    new_price = Decimal(match.group(1).replace(",", ""))
    assert new_price > Decimal("96000")
    assert engine_vp(terminal, "Trend").tpsl.tp_price == Decimal("96000")  # nothing moved before the confirmation
    confirm.locator(".hs-confirm-yes button").click()
    expect(cell(vp_row(page, "Trend"), "tpsl")).to_contain_text(f"{new_price:,.1f} / 94,000.0", timeout=TIMEOUT)
    assert engine_vp(terminal, "Trend").tpsl.tp_price == new_price

    # a drag cancelled: the line goes back, the engine is untouched
    y = line_y(page, f"sl:{vp_id}")
    bounds = box.bounding_box()
    assert bounds is not None
    page.mouse.move(x, bounds["y"] + y)
    page.mouse.down()
    page.mouse.move(x, bounds["y"] + y + 30, steps=5)
    page.mouse.up()
    expect(confirm).to_be_visible(timeout=TIMEOUT)
    expect(confirm).to_contain_text("Move the SL of Trend", timeout=TIMEOUT)
    confirm.locator(".hs-confirm-no button").click()
    expect(confirm).to_be_hidden(timeout=TIMEOUT)
    assert engine_vp(terminal, "Trend").tpsl.sl_price == Decimal("94000")
    expect(box).to_have_attribute("data-lines", re.compile(rf'"sl:{vp_id}"'), timeout=TIMEOUT)
    assert abs(line_y(page, f"sl:{vp_id}") - y) < 2
