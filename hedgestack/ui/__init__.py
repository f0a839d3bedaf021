"""The Panel terminal dashboard: ``dashboard(terminal)`` is the one factory, inline and served."""

from __future__ import annotations

from typing import Any

import panel as pn

__all__ = ["dashboard"]


class _Placeholder(pn.viewable.Viewer):
    def __init__(self, terminal: Any, **params: Any) -> None:
        super().__init__(**params)
        self._terminal = terminal

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.pane.Markdown("# hedgestack\nDashboard loading…")


def dashboard(terminal: Any) -> pn.viewable.Viewer:
    """Build the trader's dashboard for ``terminal``."""
    return _Placeholder(terminal)
