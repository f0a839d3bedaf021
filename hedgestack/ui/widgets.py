"""Small building blocks shared by the views: command feedback, the confirmation bar, cheap text panes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import panel as pn
import param

from hedgestack.ui.component import Component

if TYPE_CHECKING:
    from collections.abc import Callable

    from hedgestack.ui.commands import Feedback


class TextHTML(Component):
    """A piece of HTML that changes often (figures, answers, hints). Panel's HTML pane re-sends its stylesheets,
    styles and classes on every change and makes Bokeh lay the whole page out again (an idle page on a moving
    market spent most of its CPU there); this one only replaces its own content. ``object`` may be a reference
    (``pn.bind(...)``)."""

    object = param.String(default="", allow_refs=True)

    _esm = """
export function render({ model, el }) {
  const draw = () => { el.innerHTML = model.object; };
  model.on("object", draw);
  draw();
}
"""

    def __init__(self, object: Any = "", **params: Any) -> None:  # noqa: A002 - Panel's pane API
        super().__init__(object=object, **params)


def feedback_pane(feedback: Feedback, css: str, **layout: Any) -> pn.viewable.Viewable:
    """The refusal (red) or the result (muted) of the last command of a control, right under it."""
    def html(error: str, result: str) -> str:
        if error:
            return f'<div class="hs-fb hs-fb-error">{_escape(error)}</div>'
        if result:
            return f'<div class="hs-fb hs-fb-result">{_escape(result)}</div>'
        return ""

    layout = {"margin": (4, 6), "sizing_mode": "stretch_width", **layout}
    return TextHTML(pn.bind(html, feedback.param.error, feedback.param.result), css_classes=[css, "hs-feedback"],
                    **layout)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def set_options(select: pn.widgets.Select | pn.widgets.RadioButtonGroup, options: Any) -> None:
    """Assign options only when they differ (an equal assignment still costs a round of events)."""
    if select.options != options:
        select.options = options


class ConfirmBar(pn.viewable.Viewer):
    """"Do this? [Confirm] [Cancel]", shown only while a question is open."""

    question = param.String(default="")
    css = param.String(default="hs-confirm")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._on_confirm: Callable[[], None] | None = None
        self._on_cancel: Callable[[], None] | None = None
        self._text = TextHTML("", css_classes=["hs-confirm-text"], margin=(4, 6), sizing_mode="stretch_width")
        self._yes = pn.widgets.Button(label="Confirm", color="primary", css_classes=["hs-confirm-yes"],
                                      width=90, margin=(2, 4))
        self._no = pn.widgets.Button(label="Cancel", css_classes=["hs-confirm-no"], width=80, margin=(2, 4))
        self._yes.on_click(lambda _e: self.confirm())
        self._no.on_click(lambda _e: self.cancel())
        self._layout = pn.Row(self._text, self._yes, self._no, visible=False, css_classes=[self.css, "hs-confirm"],
                              sizing_mode="stretch_width", margin=(2, 0))

    @property
    def open(self) -> bool:
        return self._on_confirm is not None

    def ask(self, question: str, on_confirm: Callable[[], None], on_cancel: Callable[[], None] | None = None) -> None:
        self._on_confirm, self._on_cancel = on_confirm, on_cancel
        self._text.object = _escape(question)
        self.question = question
        self._layout.visible = True

    def confirm(self) -> None:
        action = self._on_confirm
        self._close()
        if action is not None:
            action()

    def cancel(self) -> None:
        action = self._on_cancel if self._on_confirm is not None else None
        self._close()
        if action is not None:
            action()

    def _close(self) -> None:
        self._on_confirm = self._on_cancel = None
        self.question = ""
        self._layout.visible = False

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


__all__ = ["ConfirmBar", "TextHTML", "feedback_pane", "set_options"]
