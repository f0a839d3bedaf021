"""``Component``: the base of the screen's own JavaScript components (grid, chart, text panes, freshness).

Panel looks up its design's modifiers (the theme's stylesheets, read and resolved again) on every property
update of every component, and uses them only when the update changes ``stylesheets``. The screen's components
change many times a second during a burst of fills (a tenth of the dashboard process's loop went there at 200
fills/s), so theirs skip the lookup unless ``stylesheets`` is among the changes; a component is rendered with
its design's stylesheets as any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from panel.custom import JSComponent

if TYPE_CHECKING:
    import param
    from bokeh.document import Document


class Component(JSComponent):
    """A ``JSComponent`` whose updates do not look its design up again (see the module text)."""

    def _update_properties(self, *events: param.parameterized.Event, doc: Document) -> dict[str, Any]:
        if any(event.name == "stylesheets" for event in events):
            return super()._update_properties(*events, doc=doc)
        return self._process_param_change({event.name: event.new for event in events})


__all__ = ["Component"]
