"""The story beside the views: each scenario's notice, and the reasons the run gives when the
sides are the same, a policy stood down or backed off, or nothing swapped."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from engine import from_dict, load_scenario
from engine.overcommit import touched_pages
from engine.policies import validate_policy
from tests.helpers import small_scenario
from webapp.controller import compute_pair
from webapp.state import SCENARIO_DIR, scenario_files
from webapp.views.dashboard import Dashboard, legend_html
from webapp.views.palette import STATE_COLOURS
from webapp.views.story import explanations, scenario_help, story_html

LABELS = ("demand", "predictive")


def pair(**over: Any) -> Any:
    """Demand against predictive on a variant of the small scenario."""
    data = small_scenario(**over).to_dict()
    a, b = validate_policy({"name": "demand"}), validate_policy({"name": "predictive"})
    return compute_pair(data, a, b, threading.Event())


@pytest.mark.parametrize("name", scenario_files())
def test_every_shipped_scenario_says_what_to_notice(name):
    """Each shipped scenario carries a notice of its own, a sentence or three long."""
    notice = load_scenario(SCENARIO_DIR / f"{name}.toml").notice
    assert 40 <= len(notice) <= 400, notice
    assert notice != load_scenario(SCENARIO_DIR / f"{name}.toml").description


def test_a_disk_with_one_channel_makes_predictive_stand_down_in_words():
    """On one HDD channel predictive stands down; the page says so and says the sides match."""
    runs = pair(device={"preset": "hdd-7200"}, duration_ms=40.0)
    lines = explanations(runs, LABELS)
    assert runs.b.result.policy_report["stood_down"]
    assert lines[0].startswith("A and B are the same run, because B (predictive) stood down")
    assert "channel" in lines[0] and "2 pCPUs" in lines[0]


def test_a_mostly_wrong_plan_is_named_with_its_accuracy_and_the_bar():
    """A predictive run that ends backed off gives its plan accuracy against the bar."""
    data = small_scenario(duration_ms=40.0).to_dict()
    b = validate_policy({"name": "predictive", "backoff_below": 1.0})  # no plan is that good
    runs = compute_pair(data, validate_policy({"name": "demand"}), b, threading.Event())
    report = runs.b.result.policy_report
    assert report["backed_off_at_end"], report
    accuracy = f"{100 * report['plan_accuracy']:.0f} %"
    text = " ".join(explanations(runs, LABELS))
    assert f"B (predictive) backed off: plan accuracy {accuracy} < 100 %" in text


def test_nothing_swapped_says_why_with_the_real_overcommit():
    """When the touched pages fit in memory, the page says so with touched ÷ frames."""
    runs = pair(host={"memory_mib": 64}, duration_ms=30.0)
    assert runs.a.result.summary["major_faults"] == runs.b.result.summary["major_faults"] == 0
    text = " ".join(explanations(runs, LABELS))
    assert "A and B are the same run: nothing was read back from swap" in text
    assert "16,384 frames" in text and "real overcommit 0." in text


def test_the_real_overcommit_is_the_one_definition_not_the_pages_a_run_touched():
    """The picker's help gives engine.overcommit's real overcommit (pages touched with
    unlimited memory ÷ frames), not a run's minor faults: where both sides swap, those also
    count swap-cache hits (here 2,720 against 2,324 pages touched)."""
    runs = pair(host={"memory_mib": 3})
    scenario = from_dict(runs.scenario_dict)
    touched, frames = touched_pages(scenario), scenario.host_frames
    text = scenario_help(scenario, runs)
    assert f"Real overcommit: {touched / frames:.2f}× ({touched:,} pages touched" in text
    ran = max(runs.a.result.summary["minor_faults"], runs.b.result.summary["minor_faults"])
    assert ran != touched, (ran, touched)


def test_a_run_where_both_sides_act_needs_no_excuse(small_runs):
    """A pair whose sides differ and act gives no reason sentence."""
    assert not (small_runs.a.counters == small_runs.b.counters).all()
    assert all("same run" not in line for line in explanations(small_runs, LABELS))


def test_the_notice_is_text_never_markup():
    """A notice from a link with HTML and Markdown reaches the page escaped, as typed."""
    page = story_html("<img src=x onerror=alert(1)> **bold** [a](http://x)", None, LABELS)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "**bold** [a](http://x)" in page


def test_the_dashboard_shows_the_notice_of_the_runs_scenario(small_dict):
    """After a run, the story pane holds that scenario's notice and nothing else's."""
    d = Dashboard()
    runs = compute_pair(
        {**small_dict, "notice": "look at strip c"},
        validate_policy({"name": "demand"}),
        validate_policy({"name": "demand", "victims": "random"}),
        threading.Event(),
    )
    d.set_runs(runs, ("demand", "demand random"))
    assert "look at strip c" in d.story.object


def test_the_legend_explains_every_page_state_colour():
    """The heatmap legend names each state with its colour and what it means."""
    html = legend_html(["a"])
    assert "how to read the heatmaps" in html
    for state, colour in STATE_COLOURS.items():
        assert f'background:{colour}"></i><b>{state}</b>: ' in html
