"""Text a user supplied (file names, scenario and VM names, descriptions, messages that quote
input) on the page: always shown as text, never read as Markdown or HTML.

`PlainText` and `PlainAlert` are panes whose `object` is plain text: it is HTML-escaped before
it leaves the server and is never parsed as Markdown, so `<img onerror=…>` shows as those
characters, `__proto__` is not bold, and `![x](http://…)` loads nothing. Use them for every
pane that can carry user text; keep `pn.pane.Markdown` for text written here.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param
from panel.io.resources import CDN_DIST
from panel.pane.alert import ALERT_TYPES


def as_html(text: Any) -> str:
    """`text` as an HTML fragment that shows exactly those characters (lines kept)."""
    return html.escape("" if text is None else str(text)).replace("\n", "<br>")


class PlainText(pn.pane.HTML):
    """A pane showing its object as plain text: escaped, no Markdown, no math, no script."""

    def __init__(self, object: Any = "", **params: Any):
        params["disable_math"] = True  # `$$…$$` in a name stays text
        super().__init__(object, **params)

    def _transform_object(self, obj: Any) -> dict[str, Any]:
        # The HTML model decodes its text once in the browser, hence the outer escape.
        return {"object": html.escape(f'<div class="vm-plain">{as_html(obj)}</div>')}


class PlainAlert(PlainText):
    """A Bootstrap-style alert box whose message is plain text (see PlainText)."""

    alert_type = param.Selector(default="warning", objects=ALERT_TYPES)

    _rename = {"alert_type": None}  # noqa: RUF012 (Panel's class-level mapping)

    _stylesheets = [f"{CDN_DIST}css/alerts.css"]  # noqa: RUF012 (Panel's class-level list)

    def __init__(self, object: Any = "", **params: Any):
        if "sizing_mode" not in params and "width" not in params:
            params["sizing_mode"] = "stretch_width"
        super().__init__(object, **params)

    def _process_param_change(self, params: dict[str, Any]) -> dict[str, Any]:
        if "css_classes" in params or "alert_type" in params:
            params["css_classes"] = [*self.css_classes, "alert", f"alert-{self.alert_type}"]
        return super()._process_param_change(params)
