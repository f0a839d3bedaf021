"""Navigation → dashboard usable, and the ticket's local refusal, in Chromium: medians over several runs.

Setup: a Terminal on the embedded simulator (static market), four VPs on two sides of BTCUSDT (one with TP/SL),
the dashboard served by ``pn.serve`` (threaded, the page ``Dashboard.template()``), Debian's chromium through
playwright at 1400×900. Times are taken on the page's own clock:

- ``usable``: each run opens a **new browser context** (no cache, no cookies: a first visit) and navigates; a
  script installed before the page's own runs a check on every animation frame and records
  ``performance.now()`` (milliseconds since navigation started) at the first frame where a VP row is in the
  positions table, the ticket's submit button is there and the chart holds its candles (``data-bars`` > 0);
  ``first_paint`` is Chromium's first-contentful-paint of the same navigation.
- ``refusal``: in one page, the ticket holds a LIMIT price off the tick (``94000.05``) or a MARKET size off the
  step (``0.0015``); each round clicks submit from page JavaScript and times click → the refusal's text in the
  DOM, and → the next animation frame (painted). The codes seen are listed.
  Esc clears the ticket between rounds (outside the timing).

Usage: .venv/bin/python benchmarks/ui_page.py [--navigations 10] [--refusals 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import time
from typing import Any

import panel as pn

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: a deep querySelector (Panel's components render in shadow roots)
DEEP_JS = """
window.__errorText = () => {
  const host = window.__deep('.hs-ticket-error');
  const shown = host && (host.shadowRoot || host).querySelector('.hs-fb-error');
  return shown ? shown.textContent : '';
};
window.__deep = (selector, root = document) => {
  const found = root.querySelector(selector);
  if (found) return found;
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) {
      const inner = window.__deep(selector, el.shadowRoot);
      if (inner) return inner;
    }
  }
  return null;
};
"""

USABLE_JS = DEEP_JS + """
window.__usable = null;
const check = () => {
  if (window.__usable !== null) return;
  const row = window.__deep('tr.vp');
  const submit = window.__deep('.hs-ticket-submit');
  const button = submit && (submit.shadowRoot || submit).querySelector('button');
  const chart = window.__deep('.hs-chart-box');
  if (row && button && chart && Number(chart.dataset.bars || 0) > 0) {
    window.__usable = performance.now();
    return;
  }
  requestAnimationFrame(check);
};
requestAnimationFrame(check);
"""

TIME_REFUSAL_JS = """
() => new Promise((resolve) => {
  const host = window.__deep('.hs-ticket-error');
  const root = host.shadowRoot || host;
  const submit = window.__deep('.hs-ticket-submit');
  const button = (submit.shadowRoot || submit).querySelector('button');
  let dom = null;
  const observer = new MutationObserver(() => {
    if (dom !== null || !window.__errorText()) return;
    dom = performance.now() - start;
    observer.disconnect();
    requestAnimationFrame(() => resolve([dom, performance.now() - start, window.__errorText()]));
  });
  observer.observe(root, { subtree: true, childList: true, characterData: true });
  setTimeout(() => { observer.disconnect(); resolve([null, null, ""]); }, 10000);
  const start = performance.now();
  button.click();
})
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "min_ms": None, "max_ms": None}
    return {"p50_ms": round(statistics.median(values), 1), "min_ms": round(min(values), 1),
            "max_ms": round(max(values), 1)}


def navigate(browser: Any, url: str) -> tuple[float, float | None]:
    """One first visit: (usable ms, first-contentful-paint ms) after navigation started."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.add_init_script(USABLE_JS)
        page.goto(url)
        page.wait_for_function("() => window.__usable !== null", timeout=120_000, polling=100)
        usable = float(page.evaluate("() => window.__usable"))
        fcp = page.evaluate("() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime")
        return usable, (float(fcp) if fcp is not None else None)
    finally:
        context.close()


def refusals(browser: Any, url: str, rounds: int,
             warmup: int) -> tuple[list[float], list[float], int, list[str]]:
    """(click → refusal in the DOM, click → painted, misses, the refusals' codes) over ``rounds`` clicks."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.add_init_script(DEEP_JS)
    page.goto(url)
    page.locator(".hs-positions tr.vp td[data-col='pos']", has_text="Trend").click()
    page.locator(".hs-actions-title", has_text="Trend").wait_for(timeout=30_000)
    page.locator(".hs-ticket-side .bk-btn", has_text="BUY").click()
    dom: list[float] = []
    painted: list[float] = []
    misses = 0
    codes: set[str] = set()
    for i in range(warmup + rounds):
        page.keyboard.press("Escape")
        page.wait_for_function("() => !window.__errorText()", timeout=10_000)
        if i % 2 == 0:
            page.locator(".hs-ticket-type .bk-btn", has_text="Limit").first.click()
            page.locator(".hs-ticket-price input").fill("94000.05")
            page.locator(".hs-ticket-size input").fill("0.002")
        else:
            page.locator(".hs-ticket-type .bk-btn", has_text="Market").first.click()
            page.locator(".hs-ticket-size input").fill("0.0015")
        time.sleep(0.5)  # the typed values are in the session (a busy machine: give it time)
        took_dom, took_paint, text = page.evaluate(TIME_REFUSAL_JS)
        if i < warmup:
            continue
        if took_dom is None:
            misses += 1
        else:
            dom.append(float(took_dom))
            codes.add(text.split(":")[0])
            painted.append(float(took_paint))
    page.close()
    return dom, painted, misses, sorted(codes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--navigations", type=int, default=10)
    parser.add_argument("--refusals", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from hedgestack.engine.terminal import Terminal
    from hedgestack.ui import dashboard

    t = Terminal.sim(tempfile.mkdtemp(prefix="hedgestack-uipage-"), market="static", seed=11).start_sync()
    vps = {}
    for name, side, opening in (("Trend", "LONG", "BUY"), ("Swing", "LONG", "BUY"), ("Hedge", "SHORT", "SELL"),
                                ("Scalp", "SHORT", "SELL")):
        vps[name] = t.sync.create_vp(name, "BTCUSDT", side)
        t.sync.place_order(vps[name].id, opening, "MARKET", "0.005")
    t.sync.wait_idle()
    mark = t.sync.state().marks.get("BTCUSDT")
    if mark is not None:
        t.sync.set_tpsl(vps["Trend"].id, tp_price=str(round(mark * 102 / 100)), sl_price=str(round(mark * 98 / 100)))
    pn.extension(inline=True, notifications=True)
    port = free_port()
    server = pn.serve({"/": lambda: dashboard(t).template()}, port=port, address="127.0.0.1", show=False,
                      threaded=True, websocket_origin=[f"127.0.0.1:{port}"])
    url = f"http://127.0.0.1:{port}/"
    usable: list[float] = []
    fcp: list[float] = []
    load_before = os.getloadavg()[0]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for _attempt in range(100):  # the server is up once it answers
                try:
                    navigate(browser, url)  # warm-up: Python imports, Bokeh's first document
                    break
                except Exception:  # noqa: BLE001 - the server is still starting
                    time.sleep(0.2)
            for _ in range(args.navigations):
                took, paint = navigate(browser, url)
                usable.append(took)
                if paint is not None:
                    fcp.append(paint)
            dom, painted, misses, codes = refusals(browser, url, args.refusals, args.warmup)
            browser.close()
    finally:
        server.stop()
        t.stop_sync()
    result = {"benchmark": "ui_page", "cpus": os.cpu_count(),
              "navigation": {"runs": len(usable), "usable": summary(usable), "first_paint": summary(fcp)},
              "local_refusal": {"clicks": len(dom), "missed": misses, "codes": codes, "dom": summary(dom),
                                "painted": summary(painted)},
              "load_1min_before": round(load_before, 2), "load_1min_after": round(os.getloadavg()[0], 2)}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
