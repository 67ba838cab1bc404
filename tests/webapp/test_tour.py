"""The guided first visit without a browser: its steps point at views the layout builds, its
texts are plain and about the tour's scenario, and starting it loads that scenario."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import panel as pn
import pytest
from bokeh.model import Model

from webapp.state import scenario_files
from webapp.tour import STEPS, TOUR_SCENARIO, steps_data
from webapp.views.tour_guide import CLOSED, STATIC, TourGuide, tour_targets

# Characters that HTML or Markdown would read as markup rather than text.
MARKUP = re.compile(r"[<>&*_`#\[\]|\\]|\]\(|^\s*[-+]\s|^\s*\d+\.\s", re.MULTILINE)


def objects_in(obj: Any) -> Iterator[Any]:
    """Every Panel object and Bokeh model reachable from `obj` in a built layout."""
    yield obj
    if isinstance(obj, Model):
        yield from obj.references()
        return
    if isinstance(obj, pn.pane.Bokeh) and obj.object is not None:
        yield from objects_in(obj.object)
    for child in getattr(obj, "objects", None) or []:
        yield from objects_in(child)


@pytest.fixture
def page(app: Any) -> list[Any]:
    """Everything the page of a session holds: header, sidebar and main, all built now."""
    from webapp.layout import build
    from webapp.views.sidebar import Sidebar
    from webapp.views.transport import Transport

    state, controller, dashboard = app
    sidebar = Sidebar(state, controller, deferred=False)
    template, _ = build(state, controller, dashboard, sidebar, Transport(state, controller))
    roots = [*template.header.objects, *template.sidebar.objects, *template.main.objects]
    return [o for root in roots for o in objects_in(root)]


def test_every_step_names_a_view_the_layout_builds(page: list[Any]) -> None:
    """Each step's CSS class is carried by at least one view laid out on the page."""
    carried = {c for o in page for c in (getattr(o, "css_classes", None) or [])}
    missing = [s.target for s in STEPS if s.target not in carried]
    assert missing == [], f"steps whose view is not on the page: {missing}"


def test_the_guide_sits_in_the_header_once(page: list[Any]) -> None:
    """The page holds exactly one tour guide (its Tour button), with every step in it."""
    guides = [o for o in page if isinstance(o, TourGuide)]
    assert len(guides) == 1
    assert guides[0].steps == steps_data()
    assert guides[0].step == CLOSED


def test_five_steps_one_per_view_each_with_its_own_views(app: Any) -> None:
    """Five steps, five different views, and each names a class that some view carries."""
    _, _, dashboard = app
    targets = tour_targets(dashboard)
    assert len(STEPS) == 5
    assert len({s.target for s in STEPS}) == 5
    assert {s.target for s in STEPS} == set(targets)
    for css_class, views in targets.items():
        assert views, css_class
        assert len({id(v) for v in views}) == len(views)
    seen = [id(v) for views in targets.values() for v in views]
    assert len(seen) == len(set(seen)), "a view belongs to one step only"


@pytest.mark.parametrize("step", STEPS, ids=[s.target for s in STEPS])
def test_each_text_is_plain_and_about_the_tour_scenario(step: Any) -> None:
    """Title and text are non-empty plain text (no HTML or Markdown markup), short enough to
    read at a glance, and each text says what to look for in the tour's scenario."""
    assert step.title.strip() and step.text.strip()
    assert len(step.title) <= 60
    assert 80 <= len(step.text) <= 600, len(step.text)
    for text in (step.title, step.text):
        # The scenario's own name (patent_demo) is the one underscore allowed.
        assert MARKUP.search(text.replace(TOUR_SCENARIO, "scenario")) is None, text
        assert text == text.strip() and "  " not in text
    assert TOUR_SCENARIO in step.text
    assert re.fullmatch(r"vm-tour-[a-z-]+", step.target)


def test_the_tour_scenario_is_shipped() -> None:
    """The scenario the texts talk about is one the app ships (a renamed file breaks this)."""
    assert TOUR_SCENARIO in scenario_files()


def guide(current: str) -> tuple[TourGuide, list[str]]:
    loads: list[str] = []
    return TourGuide(loads.append, lambda: current), loads


def test_starting_the_tour_loads_its_scenario() -> None:
    """From any other scenario (or an edited one), starting the tour loads patent_demo once;
    moving between steps and closing load nothing more."""
    for current in ("quickstart", ""):
        tour, loads = guide(current)
        tour.start()
        tour.next()
        tour.next()
        tour.back()
        assert tour.step == 1
        tour.close()
        assert tour.step == CLOSED
        assert loads == [TOUR_SCENARIO]


def test_the_tour_keeps_the_scenario_when_it_is_already_shown() -> None:
    """Starting on patent_demo itself reloads nothing: the visitor's frame and run stay."""
    tour, loads = guide(TOUR_SCENARIO)
    tour.start()
    tour.close()
    tour.start()
    assert loads == []


def test_steps_stay_within_the_tour() -> None:
    """Back on the first step and Next on the last stay there; no step below 'closed'."""
    tour, _ = guide(TOUR_SCENARIO)
    tour.start()
    tour.back()
    assert tour.step == 0
    for _ in range(len(STEPS) + 2):
        tour.next()
    assert tour.step == len(STEPS) - 1
    with pytest.raises(ValueError):
        tour.step = -2


def test_the_browser_side_shows_text_as_text_and_loads_nothing() -> None:
    """static/tour.js sets every text with textContent (never as HTML) and names no URL or
    import: the tour works offline."""
    js = (STATIC / "tour.js").read_text(encoding="utf-8")
    css = (STATIC / "tour.css").read_text(encoding="utf-8")
    assert "textContent" in js
    for markup_sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert markup_sink not in js
    for source in (js, css):
        assert re.search(r"https?:|//cdn|@import|url\(", source) is None
        assert not re.search(r"^\s*import\s", source, re.MULTILINE)


def test_the_card_knows_when_a_run_is_computing(page: list[Any], app: Any) -> None:
    """The guide mirrors the session's busy flag (the card says the views may still show
    the previous run while patent_demo computes)."""
    state, _, _ = app
    guide = next(o for o in page if isinstance(o, TourGuide))
    assert guide.busy is state.busy is False
    state.busy = True
    assert guide.busy is True
    state.busy = False
    assert guide.busy is False
