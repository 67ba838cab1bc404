"""The HTML panes rewritten during playback change no model reference on the page, so Bokeh
never recomputes the page's graph of models for them."""

from __future__ import annotations

from typing import Any

import panel as pn
from bokeh.document import Document
from bokeh.model.util import visit_value_and_its_immediate_references
from panel.io.state import set_curdoc

from webapp.views.dashboard import Dashboard


def _rewrite_events(pane: Any, doc: Document, text: str) -> list[str]:
    """The attributes changed on the page when the pane's object becomes `text` (as a frame
    does, with the session's document current) whose new value holds Bokeh models (what makes
    Bokeh recompute the page's graph of models)."""
    changes: list[Any] = []
    doc.on_change(changes.append)
    try:
        with set_curdoc(doc):
            pane.object = text
    finally:
        doc.remove_on_change(changes.append)
    out = set()
    for event in changes:
        held: list[Any] = []
        visit_value_and_its_immediate_references(getattr(event, "new", None), held.append)
        if held:
            out.add(event.attr)
    return sorted(out)


def test_playback_panes_send_only_their_text() -> None:
    """The cards, event log and frame label, first rewritten on a served page, change no model
    reference; a plain Panel HTML pane (the control) re-sends its stylesheets as new models
    (the page's graph of models is recomputed), once."""
    dashboard = Dashboard()
    control = pn.pane.HTML("<p>0</p>")
    panes = {
        "cards": dashboard.cards,
        "events": dashboard.events,
        "frame_label": dashboard.frame_label,
    }
    # In a page template, as the app serves them: a pane's first rewrite finds other
    # stylesheet models in the page's cache than the ones it was made with.
    doc = pn.template.BootstrapTemplate(main=[control, *panes.values()]).server_doc(Document())
    assert _rewrite_events(control, doc, "<p>1</p>") == ["stylesheets"]
    assert _rewrite_events(control, doc, "<p>2</p>") == []
    for name, pane in panes.items():
        assert _rewrite_events(pane, doc, f"<p>{name} 1</p>") == [], name
        shown = f"&lt;p&gt;{name} 1&lt;/p&gt;"  # the page's model holds the new text
        assert any(getattr(m, "text", None) == shown for m in doc.models), name
