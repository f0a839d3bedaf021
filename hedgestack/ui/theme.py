"""Dark (the default) and light themes: CSS variables on the page, which every component's shadow DOM inherits,
and the few stylesheets that dress Panel's widgets as a trading screen (green BUY, red SELL, compact inputs)."""

from __future__ import annotations

THEMES = ("dark", "light")

VARIABLES = {
    "dark": {
        "--hs-bg": "#0b0e11", "--hs-panel": "#161a1e", "--hs-border": "#2b3139",
        "--hs-border-soft": "rgba(132, 142, 156, 0.14)", "--hs-fg": "#eaecef", "--hs-muted": "#848e9c",
        "--hs-pos": "#0ecb81", "--hs-neg": "#f6465d", "--hs-warn": "#f0b90b", "--hs-accent": "#fcd535",
        "--hs-hover": "rgba(132, 142, 156, 0.10)", "--hs-selected": "rgba(252, 213, 53, 0.10)",
        "--hs-group": "#1e2329", "--hs-mismatch-bg": "rgba(246, 70, 93, 0.20)",
        "--hs-warn-bg": "rgba(240, 185, 11, 0.12)", "--hs-input": "#1e2329",
    },
    "light": {
        "--hs-bg": "#f5f5f5", "--hs-panel": "#ffffff", "--hs-border": "#eaecef",
        "--hs-border-soft": "rgba(112, 122, 138, 0.16)", "--hs-fg": "#1e2329", "--hs-muted": "#707a8a",
        "--hs-pos": "#03a66d", "--hs-neg": "#cf304a", "--hs-warn": "#c99400", "--hs-accent": "#c99400",
        "--hs-hover": "rgba(112, 122, 138, 0.08)", "--hs-selected": "rgba(252, 213, 53, 0.18)",
        "--hs-group": "#f0f1f2", "--hs-mismatch-bg": "rgba(207, 48, 74, 0.14)",
        "--hs-warn-bg": "rgba(201, 148, 0, 0.12)", "--hs-input": "#ffffff",
    },
}


def page_css(theme: str) -> str:
    """The document-level CSS of the served page (template ``raw_css``)."""
    variables = "; ".join(f"{k}: {v}" for k, v in VARIABLES[theme].items())
    return f"""
:root {{ {variables}; --hs-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }}
html, body {{ background: var(--hs-bg) !important; color: var(--hs-fg); }}
#header {{ background: var(--hs-panel) !important; border-bottom: 1px solid var(--hs-border);
          box-shadow: none !important; padding-top: 2px !important; padding-bottom: 2px !important; min-height: 44px; }}
#header .navbar-brand, #header .title {{ color: var(--hs-accent) !important; font-weight: 700; font-size: 1.1rem; }}
#main {{ background: transparent !important; padding: 4px 6px !important; }}
.main .card {{ background: transparent; }}
#sidebar {{ display: none !important; }}
#sidebar-toggle {{ display: none !important; }}
/* notices (app.NOTICE_POSITION, top centre) under the header's figures, over the chart's top */
.notyf {{ padding-top: 56px !important; }}
/* compact: a MISMATCH notice in Notyf's 300 px at 16 px covered a third of the chart */
.notyf__toast {{ max-width: min(480px, 32vw) !important; }}  /* within the chart at 1024 px too */
.notyf__ripple {{ width: 1100px !important; height: 1100px !important; }}  /* the colour fills the wider toast */
.notyf__wrapper {{ padding-top: 9px !important; padding-bottom: 9px !important; }}
.notyf__message {{ font: 13px/1.4 var(--hs-font); }}
"""


#: stylesheets given to components (they live in shadow roots: the page's CSS does not reach inside)
CARD = """
:host { background: var(--hs-panel); border: 1px solid var(--hs-border); border-radius: 4px; color: var(--hs-fg); }
"""
TEXT = """
:host { color: var(--hs-fg); font: 12px/1.4 var(--hs-font); }
.hs-dim { color: var(--hs-muted); }
.good, .pos { color: var(--hs-pos); } .bad, .neg { color: var(--hs-neg); } .warn { color: var(--hs-warn); }
.hs-fb { font-size: 12px; padding: 2px 0; }
.hs-fb-error { color: var(--hs-neg); font-weight: 600; }
.hs-fb-result { color: var(--hs-muted); }
.hs-label { color: var(--hs-muted); font: 12px var(--hs-font); }
.hs-fig { margin-right: 16px; font: 12px var(--hs-font); white-space: nowrap; }
.hs-fig-label { color: var(--hs-muted); }
.hs-fig-value { font-weight: 600; font-variant-numeric: tabular-nums; }
.hs-rec-status { font-weight: 700; }
b { font-weight: 600; }
"""
INPUT = """
:host { --hs-h: 28px; }
input, select { font: 12px var(--hs-font) !important; min-height: var(--hs-h) !important; height: var(--hs-h);
                padding: 2px 6px !important; }
.bk-input-group { font-size: 12px; }
label { font-size: 12px !important; }
"""
CHECKBOX = """
:host { font: 12px var(--hs-font); }
label { font-size: 12px !important; display: flex; align-items: center; gap: 4px; white-space: nowrap; }
input[type="checkbox"] { margin: 0 !important; }
"""
BUTTON = """
.bk-btn { font: 500 12px var(--hs-font) !important; min-height: 28px; padding: 3px 8px !important; }
"""
SIDE = """
.bk-btn { font: 600 13px var(--hs-font) !important; }
.bk-btn-group .bk-btn:nth-child(1).bk-active { background: var(--hs-pos) !important; color: #fff !important;
                                                border-color: var(--hs-pos) !important; }
.bk-btn-group .bk-btn:nth-child(2).bk-active { background: var(--hs-neg) !important; color: #fff !important;
                                                border-color: var(--hs-neg) !important; }
"""
SUBMIT = """
.bk-btn { font: 700 14px var(--hs-font) !important; color: #fff !important; border: none !important;
         transition: none !important; }
:host(.hs-buy) .bk-btn { background: var(--hs-pos) !important; }
:host(.hs-sell) .bk-btn { background: var(--hs-neg) !important; }
.bk-btn:disabled { opacity: 0.45; }
"""
TABS = """
:host { background: var(--hs-panel); border: 1px solid var(--hs-border); border-radius: 4px; }
.bk-header { border-bottom: 1px solid var(--hs-border) !important; }
.bk-tab { font: 500 13px var(--hs-font) !important; color: var(--hs-muted) !important; padding: 6px 14px !important;
          border: none !important; background: transparent !important; }
.bk-tab.bk-active { color: var(--hs-fg) !important; box-shadow: inset 0 -2px 0 var(--hs-accent); }
"""
CONFIRM = """
:host { background: var(--hs-warn-bg); border: 1px solid var(--hs-warn); border-radius: 4px; }
"""

__all__ = ["BUTTON", "CARD", "CHECKBOX", "CONFIRM", "INPUT", "SIDE", "SUBMIT", "TABS", "TEXT", "THEMES", "VARIABLES",
           "page_css"]
