"""The Panel terminal dashboard: ``dashboard(terminal)`` is the one factory, inline and served.

Modules: ``models`` (param view-models fed by the engine), ``views`` (``Viewer``s), ``pump`` (bus → session
feeds, coalesced per session), ``app`` (the ``Dashboard`` and the factory).
"""

from __future__ import annotations

from hedgestack.ui.app import Dashboard, dashboard

__all__ = ["Dashboard", "dashboard"]
