"""Whole-scenario actions and small aids: reset, new seed, swap A↔B, the speed in the share
link, the sidebar per tab, the "Advanced" fold, the picker's help, stalled shares named."""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import pytest
from panel.links import Callback

from engine import load_scenario
from webapp import urlcodec
from webapp.controller import Controller
from webapp.layout import SIDEBAR_PER_TAB_JS
from webapp.state import SCENARIO_DIR, SessionState
from webapp.views.dashboard import Dashboard
from webapp.views.sidebar import Sidebar, literal_markdown, split_switches
from webapp.views.timeline import stalled_vm


class NoRunner:
    """Takes runs and never finishes them: these tests look at what is asked for."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn: Any, done: Any) -> None:
        self.submitted += 1


@pytest.fixture
def idle(timers: Any) -> tuple[SessionState, Controller, NoRunner]:
    """A session with quickstart loaded and no simulation running."""
    state, runner = SessionState(), NoRunner()
    controller = Controller(state, Dashboard(), runner, timers)
    controller.load_file("quickstart", run=False)
    return state, controller, runner


def test_reset_brings_back_the_shipped_values_and_runs(idle, timers):
    """After edits, Reset restores the file's seed and VMs, the file's name, and runs."""
    state, controller, runner = idle
    shipped = load_scenario(SCENARIO_DIR / "quickstart.toml")
    controller.set_field(state.scenario, "seed", shipped.seed + 7)
    controller.remove_vm(0)
    assert state.scenario_file == ""
    controller.reset_scenario()
    assert state.scenario.seed == shipped.seed
    assert [vm.name for vm in state.scenario.vms] == [vm.name for vm in shipped.vms]
    assert state.scenario_file == "quickstart"
    timers.advance(1.0)
    assert runner.submitted >= 1


def test_reset_of_a_scenario_from_nowhere_says_why(app):
    """A scenario that is no shipped one (from a link) has no defaults: a message says so."""
    state, controller, _ = app
    controller.reset_scenario()
    assert "not a shipped one" in state.message and "'small'" in state.message


def test_new_seed_takes_the_next_seed_and_runs_again(idle, timers):
    """New seed is seed + 1 (reproducible), and A and B run again after the debounce."""
    state, controller, runner = idle
    seed = state.scenario.seed
    controller.new_seed()
    assert state.scenario.seed == seed + 1
    timers.advance(1.0)
    assert runner.submitted == 1


def test_swap_exchanges_the_policies_and_keeps_the_frame(idle):
    """Swap A↔B: A holds B's policy and switches, B holds A's; the frame stays on display."""
    state, controller, runner = idle
    state.policy_b.switches.horizon_ms = 90.0
    a, b = state.policy_a.to_dict(), state.policy_b.to_dict()
    state.frame = 12
    controller.swap_policies()
    assert state.policy_a.to_dict() == b and state.policy_b.to_dict() == a
    assert controller.pending_frame == 12
    assert runner.submitted == 1


def test_the_speed_travels_in_the_share_link(app, timers):
    """A link made at 500 ms/s opens at 500 ms/s in a fresh session; the default is left out."""
    state, controller, _ = app
    plain = controller.share_query()
    state.speed = 500
    query = controller.share_query()
    assert query != plain and '"sp"' not in plain
    fresh = SessionState()
    other = Controller(fresh, Dashboard(), NoRunner(), timers)
    assert other.load_link(query.split("=", 1)[1], run=False), fresh.message
    assert fresh.speed == 500


def test_a_speed_outside_the_menu_is_refused_in_words(small_dict):
    """A link whose speed is not one the app offers is refused, naming the allowed ones."""
    code = urlcodec.encode(small_dict, {"name": "demand"}, {"name": "demand"}, speed=7)
    with pytest.raises(urlcodec.LinkError, match=r"speed must be one of 0, 10, 20"):
        urlcodec.decode(code)
    assert urlcodec.decode(urlcodec.encode(small_dict, {}, {}, speed=2000)).speed == 2000


def test_the_tabs_fold_the_sidebar_away_outside_compare(monkeypatch):
    """With Traces and Sweep tabs, changing tab runs the script that shows the sidebar only
    on Compare (tab 0)."""
    from webapp import app as app_module

    monkeypatch.setattr(Controller, "request_run", lambda self, delay=0.0: None)
    template = app_module.create_app()
    tabs = [o for o in template.main.objects if isinstance(o, pn.Tabs)]
    assert tabs, "no tabs: nothing to fold the sidebar for"
    codes = [cb.code.get("active") for cb in Callback.registry.get(tabs[0], [])]
    assert SIDEBAR_PER_TAB_JS in codes
    assert "cb_obj.active === 0" in SIDEBAR_PER_TAB_JS and "'sidebar'" in SIDEBAR_PER_TAB_JS


def test_predictive_folds_its_tuning_into_advanced():
    """Predictive shows its on/off mechanisms and folds the numbers; demand folds nothing."""
    from engine.policies import REGISTRY

    shown, folded = split_switches(REGISTRY["predictive"].Params())
    assert "restore" in shown and "gating" in shown
    assert "horizon_ms" in folded and "backoff_below" in folded and not set(shown) & set(folded)
    assert split_switches(REGISTRY["demand"].Params())[1] == ()


def test_the_sidebar_has_a_collapsed_advanced_card_for_predictive(app):
    """In the sidebar, policy B (predictive) has a collapsed "Advanced" card; A has none."""
    state, controller, _ = app
    sidebar = Sidebar(state, controller)
    assert state.policy_b.policy == "predictive"
    card = sidebar.advanced["B"].card
    assert card.title == "Advanced" and card.collapsed and card.objects == []
    assert card in sidebar.policy_boxes["B"].objects and "A" not in sidebar.advanced
    card.collapsed = False
    assert "horizon_ms" in sidebar.advanced["B"].built[0].widgets and card.objects


def rendered(markdown: str) -> str:
    """What Panel makes of a widget's description (its Markdown parser), as plain text."""
    from panel.pane.markup import Markdown

    page = Markdown._get_parser("markdown-it", (), Markdown.hard_line_break).render(markdown)
    assert page.startswith("<p>") and page.count("<") == 2, page  # one paragraph, no markup
    return html.unescape(page[3:].rstrip().removesuffix("</p>"))


def test_the_scenario_help_says_more_than_its_kind(idle):
    """The picker's "?" gives the description and the configured overcommit, as text."""
    state, controller, _ = idle
    sidebar = Sidebar(state, controller, deferred=True)
    help_text = rendered(sidebar.picker.description)
    assert help_text.startswith(state.scenario.description)
    assert "configured overcommit" in help_text and "Shipped scenario." not in help_text


def test_help_text_from_a_link_stays_text():
    """Markdown, HTML and a bare link in a description come out of the help as typed."""
    text = "see [a](http://x.example) **b** <img src=x onerror=alert(1)> https://y.example &amp;"
    assert rendered(literal_markdown(text)) == text


def test_every_stalled_share_names_its_vm(small_runs):
    """Each stall mark's VM is that of the slice it was cut from (no empty 'VM:')."""
    s = small_runs.b
    vms = stalled_vm(s)
    assert vms.size and (vms >= 0).all()
    for j in range(vms.size):
        on = (
            (s.slice_pcpu == s.stall_pcpu[j])
            & (s.slice_start_ns <= s.stall_start_ns[j])
            & (s.slice_end_ns >= s.stall_end_ns[j])
        )
        assert s.slice_vm[on].tolist() == [vms[j]]
