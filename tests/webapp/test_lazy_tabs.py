"""The page's other tabs (Traces, Sweep) are built the first time they are opened, not with
every session's page: the first paint and the server's work per visitor stay small."""

from __future__ import annotations

from typing import Any

import panel as pn

from webapp.layout import build
from webapp.views.sidebar import Sidebar
from webapp.views.transport import Transport


def test_other_tabs_are_built_on_first_opening(app: Any) -> None:
    """Before its tab is opened no trace or sweep view exists (no upload folder is made);
    opening each tab puts its real view there, once."""
    state, controller, dashboard = app
    sidebar = Sidebar(state, controller, deferred=False)
    template, _ = build(state, controller, dashboard, sidebar, Transport(state, controller))
    tabs = template.main.objects[0]
    assert isinstance(tabs, pn.Tabs)
    assert tabs._names == ["Compare", "Traces", "Sweep"]
    placeholder = pn.pane.HTML  # "loading…" until the tab is opened
    assert isinstance(tabs[1], placeholder) and isinstance(tabs[2], placeholder)
    assert controller.trace_roots == []
    tabs.active = 1
    traces = tabs[1]
    assert not isinstance(traces, placeholder)
    assert len(controller.trace_roots) == 1  # the trace view's upload folder
    assert isinstance(tabs[2], placeholder)
    tabs.active = 2
    assert not isinstance(tabs[2], placeholder)
    tabs.active = 1
    assert tabs[1] is traces and len(controller.trace_roots) == 1
    controller.close()
