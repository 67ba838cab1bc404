"""Page layout: a Bootstrap template (its resources are served by Panel itself, no CDN), the
sidebar, the transport bar and the A/B panes, and a Sweep tab when that view exists."""

from __future__ import annotations

import html
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import panel as pn

from webapp.controller import Controller
from webapp.offline import keep_stylesheets_local
from webapp.state import SessionState
from webapp.views.dashboard import Dashboard
from webapp.views.seeds import SeedsBar
from webapp.views.sidebar import Sidebar
from webapp.views.text import PlainAlert
from webapp.views.tour_guide import tour_guide
from webapp.views.transport import Transport

STATIC = Path(__file__).resolve().parent.parent / "static"
keep_stylesheets_local()  # before any component is built
# The sidebar holds the Compare tab's controls: open on Compare, folded away on the other tabs
# (the template's own toggle still opens it). The template's #sidebar is in the page itself.
SIDEBAR_PER_TAB_JS = """
const compare = cb_obj.active === 0;
const sidebar = document.getElementById('sidebar');
if (sidebar) { sidebar.classList.toggle('show', compare); }
const toggle = document.getElementById('sidebar-toggle');
if (toggle) { toggle.setAttribute('aria-expanded', String(compare)); }
"""


def app_css() -> str:
    return (STATIC / "app.css").read_text(encoding="utf-8")


def sweep_view() -> Any | None:
    """The colleague-provided Sweep tab, if `webapp/sweep_view.py` exists (optional feature:
    without it the page simply has no Sweep tab)."""
    try:
        from webapp.sweep_view import create_sweep_view
    except ModuleNotFoundError as exc:
        if exc.name != "webapp.sweep_view":
            raise
        return None
    return create_sweep_view()


def trace_view(controller: Controller) -> Any | None:
    """The Traces tab: import a trace, see its heatmap and miss-ratio curve, attach it to the
    selected VM. Its uploads live in a per-session folder that only this session may use."""
    try:
        from webapp.trace_view import attach_to_session, create_trace_view
    except ModuleNotFoundError as exc:  # optional feature, like the Sweep tab
        if exc.name != "webapp.trace_view":
            raise
        return None
    view = create_trace_view()
    attach_to_session(view, controller.state, controller.attach_trace)
    controller.trace_roots.append(view.state.upload_dir)
    controller.on_close.append(view.state.close)
    return view


def available(module: str) -> bool:
    """Whether an optional tab's module exists (imported here: the server's warm-up has)."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return False
    return True


def lazy_tabs(first: tuple[str, Any], later: list[tuple[str, Callable[[], Any]]]) -> pn.Tabs:
    """Tabs whose `later` views are built the first time their tab is opened: most visits
    stay on the first, and the others' widgets and plots are most of a session's objects."""
    placeholder = '<span class="vm-desc">loading…</span>'
    tabs = pn.Tabs(first, *[(name, pn.pane.HTML(placeholder)) for name, _ in later], dynamic=True)
    builders = {i + 1: (name, build) for i, (name, build) in enumerate(later)}

    def opened(event: Any) -> None:
        name_build = builders.pop(event.new, None)
        if name_build is not None:
            name, build = name_build
            tabs[event.new] = (name, build())

    tabs.param.watch(opened, "active")
    return tabs


def _alert(state: SessionState, controller: Controller, css: str) -> pn.Row:
    # Messages may quote a link's text: shown as text, never as HTML or Markdown.
    text = PlainAlert(
        state.message,
        alert_type="warning",
        sizing_mode="stretch_width",
        css_classes=["vm-message"],
        margin=(0, 4),
    )
    close = pn.widgets.Button(
        label="✕", width=36, margin=(8, 4), color="light", description="dismiss"
    )
    close.on_click(lambda e: controller.dismiss())
    row = pn.Row(text, close, sizing_mode="stretch_width", visible=bool(state.message))

    def show(message: str) -> None:
        text.object = message
        row.visible = bool(message)

    state.param.watch(lambda e: show(e.new), "message")
    return row


def build(
    state: SessionState,
    controller: Controller,
    dashboard: Dashboard,
    sidebar: Sidebar,
    transport: Transport,
    deferred: bool = False,
) -> tuple[pn.template.BootstrapTemplate, Callable[[], None]]:
    """The page, and the function that completes it (`deferred`: the editors and everything
    below the panes come after the first frame is painted: the first paint is faster)."""
    css = app_css()
    dashboard.scrubber = transport.slider
    for pane in (
        dashboard.cards,
        dashboard.events,
        dashboard.legend,
        dashboard.story,
        dashboard.frame_label,
        *dashboard.titles.values(),
    ):
        pane.stylesheets = [*pane.stylesheets, css]

    brand = pn.pane.HTML(
        '<div class="vm-brand">'
        + (STATIC / "logo.svg").read_text(encoding="utf-8")
        + '<div class="vm-brand-sub">memory overcommit in a virtualised host:<br>'
        "paging policy A against policy B, frame by frame</div></div>",
        stylesheets=[css],
        margin=(0, 10),
    )
    spinner = pn.indicators.LoadingSpinner(
        value=False, size=24, color="light", bgcolor="dark", margin=(14, 6, 0, 20)
    )
    busy_text = pn.pane.HTML("", stylesheets=[css], margin=(16, 4, 0, 0))

    def busy(*_: Any) -> None:
        on = state.busy
        spinner.value = on
        spinner.visible = on
        # The controller's own words (no visitor text): how far the run has got.
        said = html.escape(state.progress or "simulating A and B…")
        busy_text.object = f'<span class="vm-busy vm-progress">{said}</span>' if on else ""

    state.param.watch(busy, ["busy", "progress"])
    busy()

    panes = pn.Row(
        *[
            pn.Column(
                dashboard.titles[p],
                pn.pane.Bokeh(dashboard.heatmaps[p].figure, sizing_mode="stretch_width"),
                pn.pane.Bokeh(dashboard.timelines[p].figure, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            )
            for p in ("A", "B")
        ],
        sizing_mode="stretch_width",
    )
    charts = pn.Row(
        pn.pane.Bokeh(dashboard.cumulative.faults, sizing_mode="stretch_width"),
        pn.pane.Bokeh(dashboard.cumulative.stall, sizing_mode="stretch_width"),
        pn.pane.Bokeh(dashboard.slowdown.figure, sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )
    vm_select = pn.widgets.Select(label="event log for VM", width=220, margin=(4, 10))

    def vm_options(_: Any = None) -> None:
        names = [vm.name for vm in state.scenario.vms]
        runs = state.runs
        if runs is not None:
            names = runs.vm_names
        vm_select.options = {n: i for i, n in enumerate(names)}
        vm_select.value = min(state.selected_vm, len(names) - 1)

    vm_select.param.watch(
        lambda e: setattr(state, "selected_vm", e.new) if e.new is not None else None, "value"
    )
    state.param.watch(vm_options, ["runs", "selected_vm"])
    vm_options()

    below = [charts, pn.Column(vm_select, dashboard.events, sizing_mode="stretch_width")]
    lower = pn.Column(*([] if deferred else below), sizing_mode="stretch_width")
    compare = pn.Column(
        _alert(state, controller, css),
        transport.bar(dashboard.frame_label),
        SeedsBar(state, controller, [css]).panel,
        dashboard.cards,
        dashboard.story,
        dashboard.legend,
        panes,
        lower,
        sizing_mode="stretch_width",
    )

    def populate() -> None:
        """What lies below the panes, added once the first frame is painted."""
        if not lower.objects:
            lower.objects = below
        sidebar.populate()

    later: list[tuple[str, Callable[[], Any]]] = []
    if available("webapp.trace_view"):
        later.append(("Traces", lambda: trace_view(controller)))
    if available("webapp.sweep_view"):
        later.append(("Sweep", sweep_view))
    main: Any = compare
    if later:
        main = lazy_tabs(("Compare", compare), later)
        main.jscallback(active=SIDEBAR_PER_TAB_JS)

    template = pn.template.BootstrapTemplate(
        title="vmswap",
        sidebar=[sidebar.panel],
        main=[main],
        header=[pn.Row(tour_guide(state, controller, dashboard), spinner, busy_text)],
        favicon=str(STATIC / "favicon.svg"),
        header_background="#0b3d5c",
        sidebar_width=360,
        # Not Panel's busy indicator: it shows whether any session of the server is handling
        # an event, and every click of any visitor sets it on and off in every open page
        # (two messages to each: with 20 pages playing, the server's loop spent most of its
        # time on them). The spinner above is this session's own.
        busy_indicator=None,
    )
    template.header.insert(0, brand)
    template.config.raw_css = [*template.config.raw_css, css]
    return template, populate
