"""The tour guide: a "Tour" button, a first-visit offer and the step card that walks through
the views of `webapp.tour`, highlighting each one.

The browser side (static/tour.js, static/tour.css: local files, nothing from a CDN) draws the
button, the offer and the card, finds each step's view by its CSS class, and keeps `step` in
sync; the server side puts those classes on the views and loads the tour's scenario when the
tour starts. Closing the tour changes nothing but `step`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import param
from panel.custom import JSComponent

from webapp.tour import DISMISSED_KEY, OPT_OUT_QUERY, TOUR_SCENARIO, steps_data

STATIC = Path(__file__).resolve().parents[2] / "static"
CLOSED = -1
TOUR_CSS = (STATIC / "tour.css").read_text(encoding="utf-8")


def tour_targets(dashboard: Any) -> dict[str, list[Any]]:
    """Each step's CSS class → the views (Panel panes or Bokeh figures) that carry it."""
    return {
        "vm-tour-heatmaps": [view.figure for view in dashboard.heatmaps.values()],
        "vm-tour-timelines": [view.figure for view in dashboard.timelines.values()],
        "vm-tour-cards": [dashboard.cards],
        "vm-tour-cumulative": [dashboard.cumulative.faults, dashboard.cumulative.stall],
        "vm-tour-per-vm": [dashboard.slowdown.figure],
    }


def mark_targets(dashboard: Any) -> None:
    """Put each step's class on its views (once: marking twice adds nothing)."""
    for css_class, views in tour_targets(dashboard).items():
        for view in views:
            if css_class not in view.css_classes:
                view.css_classes = [*view.css_classes, css_class]


class TourGuide(JSComponent):
    """The header's Tour button, the first-visit offer, and the step card."""

    steps = param.List(default=[], doc="The steps as dicts: target, title, text.")
    step = param.Integer(default=CLOSED, bounds=(CLOSED, None), doc="Step shown; -1: closed.")
    scenario = param.String(default=TOUR_SCENARIO, doc="The scenario the tour talks about.")
    opt_out_query = param.String(default=OPT_OUT_QUERY, doc="A link's opt-out of the offer.")
    dismissed_key = param.String(default=DISMISSED_KEY, doc="localStorage key of the answer.")
    busy = param.Boolean(default=False, doc="A run is computing: the views may lag the text.")
    card_css = param.String(default=TOUR_CSS, doc="Styles of the card, drawn outside the header.")

    _esm = STATIC / "tour.js"
    _stylesheets = [TOUR_CSS]  # noqa: RUF012 (Panel's class-level list)

    def __init__(self, load_scenario: Callable[[str], None], current: Callable[[], str], **params):
        """`load_scenario(name)` loads a shipped scenario; `current()` names the one shown
        (empty when it was edited or came from a link)."""
        params.setdefault("steps", steps_data())
        params.setdefault("margin", (10, 6, 0, 12))
        super().__init__(**params)
        self._load_scenario = load_scenario
        self._current = current
        self.param.watch(self._on_step, "step")

    def _on_step(self, event: Any) -> None:
        # Starting the tour (from closed) shows the scenario its texts talk about; moving
        # between steps or closing changes nothing else.
        if event.old == CLOSED and event.new != CLOSED and self._current() != self.scenario:
            self._load_scenario(self.scenario)

    def start(self) -> None:
        """Open the tour at its first step (as the Tour button does)."""
        self.step = 0

    def close(self) -> None:
        """Close the tour at whatever step (as Esc and the cross do)."""
        self.step = CLOSED

    def next(self) -> None:
        """The following step; the last one stays."""
        self.step = min(self.step + 1, len(self.steps) - 1)

    def back(self) -> None:
        """The step before; the first one stays."""
        self.step = max(self.step - 1, 0)


def tour_guide(state: Any, controller: Any, dashboard: Any) -> TourGuide:
    """The guide for one session: marks the views, loads the tour's scenario on start."""
    mark_targets(dashboard)
    guide = TourGuide(controller.load_file, lambda: state.scenario_file, busy=state.busy)
    # While patent_demo computes the views still show the previous run: the card says so.
    state.param.watch(lambda e: setattr(guide, "busy", e.new), "busy")
    return guide
