"""The served script (`panel serve webapp/app.py`): one `create_app()` per browser session."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import panel as pn
from panel.io.state import set_curdoc

from webapp import page_scripts, priority, synced_refs, warmup
from webapp.closed_pages import quiet_closed_page_writes
from webapp.controller import Controller, SyncRunner, ThreadRunner
from webapp.doc_timers import DocTimers, LoopPoster, page_open
from webapp.governor import GOVERNOR
from webapp.layout import build
from webapp.lifecycle import on_destroyed
from webapp.playback import governed
from webapp.state import SessionState, default_scenario_file
from webapp.urlcodec import QUERY_KEY
from webapp.views.clock import keys_callback
from webapp.views.dashboard import Dashboard
from webapp.views.sidebar import Sidebar
from webapp.views.transport import Transport
from webapp.wire import no_delay

log = logging.getLogger("webapp.app")  # not __name__: bokeh_app_<uuid>, one per session


def create_app() -> pn.template.BootstrapTemplate:
    """Build one session's state, controller, views and page."""
    doc = pn.state.curdoc
    served = doc is not None and getattr(doc, "session_context", None) is not None
    # The visitor waits from now on, for this page and then for each new run's first frame:
    # the server's background work pauses meanwhile (not while a run computes: it may be the
    # very background run this session waits for). From the start of the build, which takes
    # most of a second of the server's CPU: a simulation stepping beside it delayed the page.
    waiting = priority.SessionHold()
    if served:
        waiting.start()
    state = SessionState()
    dashboard = Dashboard(doc if served else None)
    runner: Any = SyncRunner()
    if served:
        runner = ThreadRunner(LoopPoster(doc))
    timers = DocTimers(doc) if served else None
    location = pn.state.location if served else None
    base_url = ""
    if location is not None and location.href:
        base_url = location.href.split("?", 1)[0]

    def url_sink(query: str) -> None:
        if location is not None:
            location.search = query

    controller = Controller(
        state,
        dashboard,
        runner,
        timers or _NoTimers(),
        url_sink,
        base_url,
        found_runner=SyncRunner() if served else None,
        batch=dashboard.batch,
        page_open=partial(page_open, doc) if served else None,
    )
    link = pn.state.session_args.get(QUERY_KEY) if served else None
    if link:
        controller.load_link(link[0].decode("ascii", errors="replace"), run=False)
    else:
        controller.load_file(default_scenario_file(), run=False)
    dashboard.prepare(state.scenario.to_dict(), (state.policy_a.label(), state.policy_b.label()))
    sidebar = Sidebar(state, controller, deferred=served)
    transport = Transport(state, controller)
    template, populate = build(state, controller, dashboard, sidebar, transport, deferred=served)

    if served:
        clock = dashboard.clock
        state.param.watch(lambda e: waiting.start(), "runs")
        state.param.watch(lambda e: waiting.end() if e.new else None, "busy")

        def populate_open_page() -> None:
            # No editors for a page closed meanwhile (Bokeh keeps its session a while before
            # destroying it): building them took ~0.4 s of the loop, and the next visitor's
            # page waited behind that. Looked at again each second until a page is back
            # (never once the session is destroyed: its timers go with it).
            if not page_open(doc):
                timers.call_later(1.0, populate_open_page)
                return
            build_editors(doc, populate)

        def painted(attr: str, old: int, new: int) -> None:
            waiting.end()
            with set_curdoc(doc):
                controller.painted(new)
            if not sidebar.populated:
                # The first frame is on screen: now the rest of the page.
                timers.call_later(0.05, populate_open_page)

        def key(attr: str, old: str, new: str) -> None:
            with set_curdoc(doc):
                controller.key(new)

        # Many sessions share this loop: frames are paced so that none is starved.
        # (partial, not a lambda: Panel clears this script's names when the session ends)
        governed(controller.player, GOVERNOR, dashboard.hold, partial(setattr, clock, "held_ms"))
        clock.on_change("painted_seq", painted)
        quiet_closed_page_writes()  # a page closed mid-play is no error
        clock.on_change("key", key)
        doc.js_on_event("document_ready", keys_callback(clock))
        pn.state.onload(lambda: no_delay(doc))

        # The runner first: a run that the controller's close cancels then ends after the
        # runner knows the session is gone, and is released rather than posted to the page
        # being destroyed (a post there kept the whole session alive).
        pn.state.on_session_destroyed(
            on_destroyed(
                runner.shutdown, controller.close, waiting.end, watch=controller, document=doc
            )
        )

    if served and not controller.run_if_cached():
        # Simulate once the page is up: the first paint must not wait for (or compete with) it.
        pn.state.onload(lambda: controller.request_run(delay=0.0))
    if served:
        # ... and the editors at the latest a few seconds after the page is up (a failed
        # first run paints no frame).
        pn.state.onload(lambda: timers.call_later(4.0, populate_open_page))
    else:
        controller.request_run(delay=0.0)
    return template


def build_editors(doc: Any, populate: Callable[[], None]) -> None:
    """Build a served page's editors (`populate`) as its visitor waits for them: the
    server's background work pauses meanwhile, and the page's models are walked once.

    Measured with an 8-VM page and its four background seeds computing, the build held the
    server's loop 1.22-1.27 s; with one walk 0.88-0.90 s; with the seeds paused as well
    0.55-0.57 s (a simulation stepping beside it took about half the loop's time)."""
    hold_id = priority.hold()
    try:
        with synced_refs.one_walk(doc):
            populate()
    finally:
        priority.release(hold_id)


class _NoTimers:
    """Outside a server (e.g. `python webapp/app.py` for a smoke check) nothing is deferred."""

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Any:
        fn()
        return None

    def cancel(self, handle: Any) -> None:
        return None

    def now(self) -> float:
        return time.monotonic()


# Served by `panel serve`: Panel runs this file as a module named bokeh_app_<uuid> per session.
# (What `pn.state.served` checks, without its inspect.stack(): that reads the source of every
# frame of the server's stack, ~0.2 s of a first page's build and ~50 ms of each later one.)
SERVED = __name__.startswith("bokeh_app_")
if pn.state.curdoc is not None and SERVED:
    synced_refs.install()  # each frame's message without a walk over every model of the page
    page_scripts.install()  # no MathJax or WebGL bundle for a page that draws neither
    # Already done when the server ran webapp/warmup.py at start (--setup); else the first
    # session starts it, and its own run waits for the warm-up's rather than computing twice.
    warmup.start()
    # The page's roots go into the document under one freeze: Bokeh otherwise walks every
    # model of the page again after each of them (a dozen walks of ~650 models, ~0.35 s of
    # the server's CPU per visitor on a 2-core machine).
    with pn.state.curdoc.models.freeze():
        create_app().servable()
