"""The header: the venue (SIM / TESTNET / LIVE), the connection's freshness, and the account's figures.

The venue badge says which exchange this is (LIVE in red: real money); the connection badge says what the engine
says about its link to that exchange: Connected, Syncing…, Stale, Disconnected (Starting, Stopped), with "last
exchange event Xs ago". The age is counted in the browser (``Freshness``, a small JS component), so an idle page
costs the server nothing each second; the server sends the time of the last event and its own clock once per
change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import panel as pn
import param

from hedgestack.ui import format as fmt
from hedgestack.ui.component import Component
from hedgestack.ui.models import AccountModel, now_ms
from hedgestack.ui.pump import SessionFeed, Throttle
from hedgestack.ui.widgets import TextHTML

#: the header's figures and the last event's time are redrawn at most this often (seconds)
FIGURES_EVERY_S = 0.5
#: the time of the last exchange event is sent to the browser when it moved this much (the browser counts the age
#: itself and shows under 2 s as "<2s": on a moving market the badge then changes nothing, instead of a re-render
#: twice a second)
EVENT_AGE_STEP_MS = 1000
CONNECTION_LABELS = {"CONNECTED": "Connected", "SYNCING": "Syncing…", "STALE": "Stale", "DISCONNECTED": "Disconnected",
                     "STARTING": "Starting…", "STOPPED": "Stopped"}


class Freshness(Component):
    """Venue badge, connection badge and the age of the last exchange event (counted client-side)."""

    venue = param.String(default="sim")
    state = param.String(default="STARTING")
    label = param.String(default="Starting…")
    last_event_at = param.Integer(default=None, allow_None=True)
    server_now = param.Integer(default=0)

    _esm = """
function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 2) return "<2s";
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
// write only what differs: every DOM write costs the page a style pass, a layout and a repaint
function put(el, key, value) {
  if (el[key] !== value) el[key] = value;
}
export function render({ model, el }) {
  const venue = document.createElement("span");
  const conn = document.createElement("span");
  const ago = document.createElement("span");
  ago.className = "hs-ago";
  el.append(venue, conn, ago);
  let offset = 0;
  function draw() {
    put(venue, "className", `hs-badge hs-venue hs-venue-${model.venue}`);
    put(venue, "textContent", model.venue.toUpperCase());
    put(venue, "title", model.venue === "live" ? "the LIVE Binance account: real money" :
      model.venue === "testnet" ? "Binance's testnet: no real money" : "the simulated exchange: no real money");
    put(conn, "className", `hs-badge hs-conn hs-conn-${model.state}`);
    if (conn.dataset.state !== model.state) conn.dataset.state = model.state;
    put(conn, "textContent", model.label);
    put(conn, "title", "the engine's link to the exchange");
    offset = Date.now() - model.server_now;
    tick();
  }
  function tick() {
    if (model.last_event_at === null || model.last_event_at === undefined) {
      put(ago, "textContent", "no exchange event yet");
      return;
    }
    put(ago, "textContent", `last exchange event ${age(Date.now() - offset - model.last_event_at)} ago`);
  }
  const timer = setInterval(tick, 1000);
  model.on(["venue", "state", "label", "last_event_at", "server_now"], draw);
  model.on("remove", () => clearInterval(timer));
  draw();
}
"""
    _stylesheets = ["""
:host { display: flex; align-items: center; gap: 8px; white-space: nowrap; }
.hs-badge { padding: 2px 9px; border-radius: 3px; font: 600 12px/18px system-ui, sans-serif; color: #fff; }
.hs-venue-sim { background: #5e6673; } .hs-venue-testnet { background: #b7860b; }
.hs-venue-live { background: #d9304e; box-shadow: 0 0 0 2px rgba(217, 48, 78, 0.35); }
.hs-conn-CONNECTED { background: #0b8a5b; }
.hs-conn-SYNCING, .hs-conn-STARTING { background: #b7860b; }
.hs-conn-STALE { background: #d9730d; }
.hs-conn-DISCONNECTED { background: #d9304e; }
.hs-conn-STOPPED { background: #5e6673; }
.hs-ago { font: 12px system-ui, sans-serif; color: var(--hs-muted, #848e9c); }
"""]


def _figure(label: str, value: fmt.Num, css: str, tone: str = "") -> str:
    cls = f"hs-fig-value {tone or value.tone}".strip()
    return (f'<span class="hs-fig {css}"><span class="hs-fig-label">{label}</span> '
            f'<span class="{cls}" title="{value.title}">{value.text}</span></span>')


class Header(pn.viewable.Viewer):
    """Badges and the account's figures (wallet, available, margin ratio, uPnL and net PnL of the VPs).

    A change of the connection's state is shown at once; the time of the last exchange event and the figures at
    most every FIGURES_EVERY_S (a burst moves them on every batch)."""

    def __init__(self, model: AccountModel, feed: SessionFeed, **params: Any) -> None:
        super().__init__(**params)
        self.model = model
        self.freshness = Freshness(venue=model.venue, css_classes=["hs-freshness"], margin=(0, 8))
        self.figures = TextHTML("", css_classes=["hs-figures"], margin=(0, 8), sizing_mode="stretch_width")
        self._throttled_badges = Throttle(feed, FIGURES_EVERY_S, self._badges)
        self._throttled_figures = Throttle(feed, FIGURES_EVERY_S, self._figures)
        model.param.watch(lambda *_e: self._throttled_badges.now(), ["connection"])
        model.param.watch(lambda *_e: self._throttled_badges(), ["last_event_at"])
        model.param.watch(lambda *_e: self._throttled_figures(), ["account", "positions_version"])
        self._throttled_badges.now()
        self._throttled_figures.now()

    def _badges(self) -> None:
        m = self.model
        label = CONNECTION_LABELS.get(m.connection, m.connection.title())
        shown = self.freshness.last_event_at
        if (m.venue, m.connection, label) == (self.freshness.venue, self.freshness.state, self.freshness.label) \
                and m.last_event_at is not None and shown is not None and m.last_event_at - shown < EVENT_AGE_STEP_MS:
            return  # the browser counts the age itself: a newer event within its resolution changes nothing shown
        self.freshness.param.update(venue=m.venue, state=m.connection, label=label, last_event_at=m.last_event_at,
                                    server_now=now_ms())

    def _figures(self) -> None:
        m, a = self.model, self.model.account
        live = m.live_vps(include_system=True)
        upnl = sum((vp.unrealized_pnl for vp in live), Decimal(0))
        net = sum((vp.net_pnl for vp in live), Decimal(0))
        ratio = fmt.ratio_pct(a.margin_ratio)
        ratio_tone = ""
        if a.margin_ratio is not None:
            ratio_tone = "neg" if a.margin_ratio >= 80 else "warn" if a.margin_ratio >= 50 else "pos"
        self.figures.object = "".join((
            _figure("Wallet", fmt.money(a.wallet_balance), "hs-wallet"),
            _figure("Available", fmt.money(a.available_balance), "hs-available"),
            _figure("Margin balance", fmt.money(a.margin_balance), "hs-margin-balance"),
            _figure("Margin ratio", ratio, "hs-margin-ratio", ratio_tone),
            _figure("uPnL", fmt.pnl(upnl), "hs-upnl"),
            _figure("Net PnL", fmt.pnl(net), "hs-net"),
        ))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(self.freshness, self.figures, css_classes=["hs-header"], sizing_mode="stretch_width",
                      margin=0, align="center")


__all__ = ["CONNECTION_LABELS", "Freshness", "Header"]
