"""The Panel terminal dashboard: ``dashboard(terminal)`` is the one factory, inline and served."""

from __future__ import annotations

from typing import Any

__all__ = ["Dashboard", "dashboard"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from hedgestack.ui import app

        return getattr(app, name)
    raise AttributeError(name)
