"""Best demand in the Compare tab without a browser: the side runs the setting the engine
chooses, says which in its label, keeps it for the other seeds, travels in the share link,
lands in the downloads, and is not chosen twice."""

from __future__ import annotations

import csv
import io
import json
import threading
import tomllib

import pytest

from engine import from_dict
from engine.best_demand import best_demand, setting_label
from engine.errors import ScenarioError
from engine.policies import validate_policy
from tests.webapp.test_urlcodec import _pack
from webapp import tuning, urlcodec
from webapp.controller import DEBOUNCE_S, Controller, SyncRunner
from webapp.runner import LIMITS, Cancelled, Progress
from webapp.state import SessionState
from webapp.sweep_limits import WEB_MAX_SWEEP_REFS
from webapp.views.dashboard import Dashboard


def tuned_a(app, timers):
    """The app's side A (demand paging) made best demand, and its runs in."""
    state, controller, dashboard = app
    state.policy_a.best_demand = True
    timers.advance(DEBOUNCE_S + 0.01)
    assert state.runs is not None and "A" in state.runs.tunings, state.message
    return state, controller, dashboard


def test_best_demand_runs_the_setting_the_engine_chooses(app, timers, small_dict):
    """Side A as best demand runs engine.best_demand's choice, with the same candidates and
    lost times; the run shown loses the chosen candidate's time; the label names it."""
    state, _, dashboard = tuned_a(app, timers)
    base = validate_policy(state.policy_a.to_dict())
    chosen, candidates = best_demand(from_dict(small_dict), base)
    runs = state.runs
    assert runs.policy_a == chosen
    got = runs.tunings["A"]
    assert [c["lost_time_ms"] for c in got.candidates] == [c["lost_time_ms"] for c in candidates]
    assert [c["config"] for c in got.candidates] == [c["config"] for c in candidates]
    assert runs.a.result.summary["lost_time_ns"] / 1e6 == pytest.approx(
        min(c["lost_time_ms"] for c in candidates), abs=1e-9
    )
    title = dashboard.titles["A"].object
    assert f"best demand: {setting_label(chosen)}" in title
    assert "the least lost time of 7 readahead settings" in title
    assert f"on seed {small_dict['seed']}); the other seeds keep this setting" in title


def test_the_box_shows_on_demand_sides_and_locks_their_readahead(app, timers):
    """The sidebar offers best demand under a demand side only; ticked, that side's readahead
    switches are shown but not editable (they are chosen); unticked, editable again."""
    from webapp.views.sidebar import Sidebar

    state, controller, _ = app
    sidebar = Sidebar(state, controller)
    box = sidebar.best_demand["A"]
    assert box in sidebar.policy_boxes["A"].objects
    assert sidebar.best_demand["B"] not in sidebar.policy_boxes["B"].objects
    readahead = sidebar.policy_forms["A"][0].widgets["readahead"]
    box.value = True
    assert state.policy_a.best_demand and readahead.disabled
    assert not sidebar.policy_forms["A"][0].widgets["victims"].disabled
    box.value = False
    assert not readahead.disabled


def test_the_other_seeds_keep_the_setting_chosen_on_the_first(app, timers, small_dict):
    """The seeds after the first run the chosen config, not the side's own readahead."""
    state, controller, _ = tuned_a(app, timers)
    scenario, a, b = controller.seed_set.inputs
    assert scenario["seed"] == small_dict["seed"]
    assert a == state.runs.tunings["A"].chosen and b == state.runs.policy_b


def test_the_link_carries_best_demand_and_reproduces_it(app, timers):
    """The share link names the best-demand side and its switches (not the winner); opened
    in a fresh session it ticks the box and shows the same chosen run."""
    state, controller, _ = tuned_a(app, timers)
    controller.sync_url()
    code = state.share_url.split(f"?{urlcodec.QUERY_KEY}=", 1)[1]
    shared = urlcodec.decode(code)
    assert shared.best_demand == ("A",)
    assert shared.policy_a == validate_policy(state.policy_a.to_dict())
    fresh = SessionState()
    other = Controller(fresh, Dashboard(), SyncRunner(), timers)
    assert other.load_link(code)
    assert fresh.policy_a.best_demand and not fresh.policy_b.best_demand
    assert fresh.runs.policy_a == state.runs.policy_a
    assert fresh.runs.tunings["A"].candidates == state.runs.tunings["A"].candidates


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (["C"], 'must list the sides "A", "B" or both'),
        ("A", 'must list the sides "A", "B" or both'),
        (["A", "A"], "once each"),
        ([], 'must list the sides "A", "B" or both'),
        ([{"A": 1}], 'must list the sides "A", "B" or both'),
        ({"A": True}, 'must list the sides "A", "B" or both'),
        (["B"], "best demand tunes demand paging only"),
    ],
)
def test_a_bad_best_demand_in_a_link_is_refused_in_words(small_dict, value, words):
    """A link's best demand must list sides A and B at most once each, and only demand sides."""
    payload = {"s": small_dict, "a": {"name": "demand"}, "b": {"name": "predictive"}, "bd": value}
    with pytest.raises(urlcodec.LinkError, match=words):
        urlcodec.decode(_pack(payload))


def test_a_bad_link_keeps_the_page_working(timers, small_dict):
    """A link asking best demand of a non-demand side: one readable sticky message."""
    a, b = validate_policy({"name": "demand"}), validate_policy({"name": "predictive"})
    state = SessionState()
    c = Controller(state, Dashboard(), SyncRunner(), timers)
    assert not c.load_link(urlcodec.encode(small_dict, a, b, best_demand=("B",)), run=False)
    assert state.message.startswith("Could not open the shared link:")
    assert "demand paging only" in state.message and "\n" not in state.message


def test_switching_best_demand_off_and_on_runs_no_candidate_again(app, timers, monkeypatch):
    """Once chosen, best demand off and on again (and a swap of A and B) runs none of the
    candidates again: the choice is cached."""
    state, controller, _ = tuned_a(app, timers)
    chosen = state.runs.policy_a
    runs_made: list[dict] = []
    real = tuning.run_one

    def counting(*args, **kwargs):
        runs_made.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(tuning, "run_one", counting)
    for tuned in (False, True):
        state.policy_a.best_demand = tuned
        timers.advance(DEBOUNCE_S + 0.01)
    controller.swap_policies()
    assert runs_made == []
    assert state.policy_b.best_demand and not state.policy_a.best_demand
    assert state.runs.policy_b == chosen and "B" in state.runs.tunings


def test_the_candidates_count_against_the_web_limits(small_dict):
    """Every candidate meets the limits of any run here, and all seven together stay within
    what a sweep launched from the page may ask."""
    assert tuning.N_CANDIDATES * LIMITS["references"] <= WEB_MAX_SWEEP_REFS
    big = {**small_dict, "duration_ms": 100_000.0, "host": {**small_dict["host"], "step_us": 100}}
    base = validate_policy({"name": "demand"})
    with pytest.raises(ScenarioError, match="too large for the web app"):
        tuning.tune(big, base, threading.Event())


def test_a_cancelled_choice_stops_and_is_not_kept(small_dict):
    """Cancelled (a newer edit), the choice stops before its next candidate and nothing is
    cached as chosen."""
    scenario = {**small_dict, "seed": small_dict["seed"] + 41}
    base = validate_policy({"name": "demand"})
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        tuning.tune(scenario, base, cancel)
    assert tuning.cached(scenario, base) is None


def test_progress_names_the_candidate_being_run(small_dict):
    """While best demand chooses, the page hears which setting of seven runs, then A and B."""
    seen: list[str] = []

    class Heard(Progress):
        def update(self, what: str, sim_ns: int, end_ns: int) -> None:
            super().update(what, sim_ns, end_ns)
            if not seen or seen[-1] != what:
                seen.append(what)

    scenario = {**small_dict, "seed": small_dict["seed"] + 40}  # nothing cached for it yet
    a, b = validate_policy({"name": "demand"}), validate_policy({"name": "predictive"})
    pair = tuning.tuned_pair(scenario, scenario, a, b, ("A",), threading.Event(), Heard())
    tried = [w for w in seen if w.startswith("best demand for A: setting ")]
    assert len(tried) == tuning.N_CANDIDATES and tried[0].endswith("(off)")
    assert seen[-1].startswith("B (2 of 2)") and pair.tunings["A"].seed == scenario["seed"]


def test_downloads_name_the_setting_and_every_candidates_lost_time(app, timers):
    """JSON: best_demand.A with the setting, the seed and seven lost times; CSV: the side's
    rows name the setting, and one row per candidate says whether it was chosen; TOML: the
    chosen config as the scenario's policy, with a comment saying how it was chosen."""
    state, controller, _ = tuned_a(app, timers)
    doc = json.loads(controller.download_json())
    got = doc["best_demand"]["A"]
    assert got["setting"] == setting_label(state.runs.policy_a)
    assert got["chosen_on_seed"] == state.runs.tunings["A"].seed
    assert len(got["candidates"]) == tuning.N_CANDIDATES
    assert all(isinstance(c["lost_time_ms"], float) for c in got["candidates"])
    rows = list(csv.DictReader(io.StringIO(controller.download_csv())))
    tried = [r for r in rows if r["name"].startswith("(best demand candidate")]
    assert len(tried) == tuning.N_CANDIDATES
    assert [r["best_demand_setting"] for r in tried if r["chosen"] == "True"] == [got["setting"]]
    host = next(r for r in rows if r["pane"] == "A" and r["name"] == "(host)")
    assert host["best_demand_setting"] == got["setting"]
    saved = controller.download_toml()
    assert f"# policy A is best demand: {got['setting']}: the least lost time" in saved
    assert from_dict(tomllib.loads(saved)).policy == state.runs.policy_a
