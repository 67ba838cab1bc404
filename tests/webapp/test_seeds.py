"""Many seeds in the app without a browser: the other seeds run in the background after the
first paints, stop when the inputs change or the session ends, the statistics shown are
engine.stats over the same runs, the seed shown can be picked, and the link keeps both."""

from __future__ import annotations

import re
import threading

import pytest

from engine.policies import validate_policy
from engine.stats import interval, paired_interval, verdict
from tests.helpers import QueuedRunner
from webapp import urlcodec
from webapp.controller import Controller, SyncRunner
from webapp.runner import compute_results, compute_seed
from webapp.seed_set import SEEDS_FALLBACK_S
from webapp.seeds import DEFAULT_SEEDS, seed_list, seed_stats, with_seed
from webapp.state import SessionState, default_policies
from webapp.views.cards import cards_html
from webapp.views.charts import slowdown_rows
from webapp.views.dashboard import Dashboard


@pytest.fixture(scope="module")
def policies(small_dict):
    a, b = default_policies(small_dict["policy"])
    return validate_policy(a), validate_policy(b)


@pytest.fixture(scope="module")
def three_seeds(small_dict, policies):
    """The small scenario's A, B and reference runs on its first three seeds."""
    a, b = policies
    seeds = seed_list(small_dict["seed"], 3)
    return seeds, [
        compute_results(with_seed(small_dict, s), a, b, threading.Event()) for s in seeds
    ]


def _outcome(fn):
    try:
        return fn()
    except Exception as exc:  # handed to `done`, as the runners do
        return exc


def _controller(timers, small_dict, runner, n_seeds=3):
    from engine import from_dict

    state = SessionState(n_seeds=n_seeds)
    c = Controller(state, Dashboard(), runner, timers)
    a, b = default_policies(small_dict["policy"])
    c._load(from_dict(small_dict), a, b, frame=0, vm=0, file="")
    return state, c


def test_seeds_are_the_scenarios_own_and_the_next_ones():
    """The seeds of a scenario with seed 5 are 5, 6, 7, …; past the largest seed, from 0."""
    assert seed_list(5, 3) == [5, 6, 7]
    assert seed_list(2**63 - 1, 2) == [2**63 - 1, 0]
    assert seed_list(5, 0) == [5]


def test_the_statistics_are_engine_stats_over_the_same_runs(small_dict, policies, three_seeds):
    """Mean and interval of each side and the paired B − A equal engine.stats.verdict over
    the summaries of the same runs."""
    a, b = policies
    seeds, results = three_seeds
    records = [compute_seed(small_dict, a, b, s, threading.Event()) for s in reversed(seeds)]
    stats = seed_stats(records)
    assert stats.seeds == tuple(seeds)
    expected = verdict([r[0].summary for r in results], [r[1].summary for r in results])
    for key in ("major_faults", "slowdown"):
        for side in ("a", "b", "delta"):
            assert stats.metrics[key][side] == expected[key][side], (key, side)
    stall_a = [r[0].summary["stall_ns"] / 1e6 for r in results]
    stall_b = [r[1].summary["stall_ns"] / 1e6 for r in results]
    assert stats.metrics["stall_ms"]["delta"] == paired_interval(stall_a, stall_b)
    vm = results[0][0].vms[0]["name"]
    per_vm = [next(v for v in r[1].vms if v["name"] == vm)["slowdown"] for r in results]
    assert stats.vm_slowdown[vm]["B"] == interval(per_vm)


def test_the_other_seeds_wait_for_the_first_paint(small_dict, timers):
    """Nothing else runs until the browser says the first seed is painted; then the other
    seeds run one at a time, and the page counts them ('seeds: 3 of 3')."""
    runner = QueuedRunner()
    state, c = _controller(timers, small_dict, runner)
    runner.run_all()
    assert state.runs is not None and state.seeds_done == [5]
    timers.advance(1.0)
    assert not runner.jobs and c.seed_set.background.runs_started == 0
    c.painted(c.display.seq)
    assert len(runner.jobs) == 1  # one seed at a time
    runner.run_all()
    assert state.seeds_done == [5, 6, 7] and c.seed_set.background.runs_started == 2
    assert state.seeds_progress == "seeds: 3 of 3"


def test_without_a_paint_the_seeds_start_after_the_fallback(small_dict, timers):
    """A page that never acknowledges a paint still gets its seeds, SEEDS_FALLBACK_S later."""
    runner = QueuedRunner()
    state, _c = _controller(timers, small_dict, runner, n_seeds=2)
    runner.run_all()
    timers.advance(SEEDS_FALLBACK_S - 0.1)
    assert not runner.jobs
    timers.advance(0.2)
    assert len(runner.jobs) == 1
    runner.run_all()
    assert state.seeds_done == [5, 6]


def test_an_edit_cancels_the_seeds_in_the_background(small_dict, timers):
    """Editing the scenario cancels the seed computing (its cancel flag is set), drops the
    rest, and a result that still arrives is ignored; the new runs start their own seeds."""
    runner = QueuedRunner()
    state, c = _controller(timers, small_dict, runner)
    runner.run_all()
    c.painted(c.display.seq)
    assert len(runner.jobs) == 1 and c.seed_set.background.running
    cancel = c.seed_set.background.cancel
    state.scenario.duration_ms = 40.0
    background = c.seed_set.background
    assert cancel.is_set() and not background.running and background.todo == []
    assert state.seeds_progress == "seeds: 1 of 3"
    runner.run_all()  # the cancelled seed, then (after the debounce) the new first run
    assert state.seeds_done == [5]
    timers.advance(1.0)
    runner.run_all()
    assert state.runs.scenario_dict["duration_ms"] == 40.0 and state.seeds_done == [5]


def test_closing_the_session_cancels_the_seeds(small_dict, timers):
    """The session ends: the seed computing is cancelled and no other starts."""
    runner = QueuedRunner()
    state, c = _controller(timers, small_dict, runner)
    runner.run_all()
    c.painted(c.display.seq)
    cancel = c.seed_set.background.cancel
    c.close()
    assert cancel.is_set()
    runner.run_all()
    assert not runner.jobs and state.seeds_done == [5]


def test_closing_the_session_leaves_its_document_alone(small_dict, timers):
    """Closing while seeds run publishes nothing: Bokeh may have destroyed the document."""
    runner = QueuedRunner()
    _, c = _controller(timers, small_dict, runner)
    runner.run_all()
    c.painted(c.display.seq)
    assert c.seed_set.background.running
    touched: list[object] = []
    c.display.set_seeds = lambda *args: touched.append(args)  # type: ignore[method-assign]
    c.close()
    runner.run_all()
    assert touched == []


def test_more_seeds_run_at_once_and_fewer_keep_those_wanted(small_dict, timers):
    """Raising the number of seeds runs the missing ones (the first is long painted);
    lowering it keeps the statistics of the seeds still wanted."""
    state, _c = _controller(timers, small_dict, SyncRunner(), n_seeds=1)
    assert state.seeds_done == [5] and state.seeds_progress == ""
    state.n_seeds = 3
    assert state.seeds_done == [5, 6, 7] and state.seed_stats.n == 3
    state.n_seeds = 2
    assert state.seeds_done == [5, 6] and state.seed_stats.n == 2


def test_cards_and_chart_show_the_statistics_over_seeds(small_dict, timers, three_seeds):
    """Once three seeds are in, each card reads 'B − A over 3 seeds: mean [lo, hi]' with the
    numbers of engine.stats, and each VM's bar is the mean with the interval as whisker."""
    _seeds, results = three_seeds
    state, c = _controller(timers, small_dict, SyncRunner())
    c.painted(c.display.seq)
    html = c.display.cards.object
    expected = verdict([r[0].summary for r in results], [r[1].summary for r in results])
    delta = expected["major_faults"]["delta"]
    card = re.search(r'data-metric="major_faults".*?</div></div></div>', html).group(0)
    assert f'data-lo="{delta.lo!r}" data-hi="{delta.hi!r}"' in card
    said = f"B − A over 3 seeds: {delta.mean:+,.0f} [{delta.lo:+,.0f}, {delta.hi:+,.0f}]"
    assert said.replace("-", "−") in card
    assert "mean over 3 seeds" in card and "seed 5 on display" in html
    bars, whiskers = slowdown_rows(state.runs, state.seed_stats)
    vm = state.runs.vm_names[0]
    k = bars["x"].index((vm, "B"))
    per_vm = interval(next(v for v in r[1].vms if v["name"] == vm)["slowdown"] for r in results)
    assert bars["slowdown"][k] == per_vm.mean
    w = whiskers["x"].index((vm, "B"))
    floor = 0.5 * min(y for y in (*bars["slowdown"], *bars["shown"]) if y > 0)
    assert (whiskers["lo"][w], whiskers["hi"][w]) == (max(per_vm.lo, floor), per_vm.hi)
    assert all(lo >= floor for lo in whiskers["lo"])
    assert "mean of 3 seeds (bar)" in c.display.slowdown.figure.title.text


def test_one_seed_shows_no_interval(small_runs):
    """With one seed in, the cards say nothing about seeds and no whisker is drawn."""
    from webapp.seeds import pair_record

    stats = seed_stats([pair_record(5, small_runs)])
    assert "over 1 seeds" not in cards_html(small_runs, frame=0, seeds=stats)
    assert "seeds" not in cards_html(small_runs, frame=0, seeds=stats)
    assert slowdown_rows(small_runs, stats)[1]["x"] == []


def test_picking_a_seed_shows_it_and_keeps_the_frame(small_dict, timers):
    """Picking a seed done shows its runs at the same frame; the statistics stay; a seed not
    among the seeds is ignored."""
    state, c = _controller(timers, small_dict, SyncRunner())
    c.painted(c.display.seq)
    stats = state.seed_stats
    state.frame = 4
    c.show_seed(7)
    assert state.shown_seed == 7 and state.runs.scenario_dict["seed"] == 7
    assert state.frame == 4 and state.seed_stats == stats
    assert 'data-metric="major_faults"' in c.display.cards.object
    assert "seed 7 on display" in c.display.cards.object
    c.show_seed(99)
    assert state.shown_seed == 7


def test_the_link_keeps_the_seed_shown_and_the_number_of_seeds(small_dict, timers):
    """A link made while seed 6 of 3 is shown opens on seed 6 with 3 seeds; the scenario in
    it keeps its own seed (the first); the defaults are left out of the link."""
    _state, c = _controller(timers, small_dict, SyncRunner())
    c.painted(c.display.seq)
    c.show_seed(6)
    query = c.share_query().split("=", 1)[1]
    shared = urlcodec.decode(query)
    assert (shared.scenario.seed, shared.n_seeds, shared.shown_seed) == (5, 3, 6)
    fresh = SessionState()
    other = Controller(fresh, Dashboard(), SyncRunner(), timers)
    assert other.load_link(query), fresh.message
    assert fresh.n_seeds == 3 and fresh.shown_seed == 6
    assert fresh.runs.scenario_dict["seed"] == 6 and fresh.seeds_done == [6]
    other.painted(other.display.seq)
    assert fresh.seeds_done == [5, 6, 7] and fresh.shown_seed == 6
    assert other.share_query().split("=", 1)[1] == query
    c.show_seed(5)
    plain = urlcodec.decode(c.share_query().split("=", 1)[1])
    assert plain.shown_seed is None and plain.n_seeds == 3
    assert DEFAULT_SEEDS != 3


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"n": 0}, "number of seeds must be a whole number from 1 to 20"),
        ({"n": 21}, "number of seeds must be a whole number from 1 to 20"),
        ({"n": "3"}, "number of seeds must be a whole number from 1 to 20"),
        ({"n": 2, "ss": 7}, "seed shown must be one of the seeds it runs (5 to 6)"),
        ({"ss": 4}, "seed shown must be one of the seeds it runs (5 to 9)"),
    ],
)
def test_a_link_with_bad_seeds_is_refused_in_words(small_dict, policies, extra, words):
    """A link whose number of seeds or seed shown is out of range says what is allowed."""
    import base64
    import json
    import zlib

    a, b = policies
    payload = {"s": small_dict, "a": a, "b": b, "f": 0, "vm": 0, **extra}
    raw = zlib.compress(json.dumps(payload).encode())
    text = "v1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(urlcodec.LinkError, match=re.escape(words)):
        urlcodec.decode(text)


def test_the_seed_count_is_in_the_sidebars_advanced_fold(small_dict, timers):
    """The sidebar's collapsed "Advanced" card holds a 1–20 seeds slider bound to the state."""
    from webapp.views.sidebar import Sidebar

    state, c = _controller(timers, small_dict, SyncRunner(), n_seeds=1)
    sidebar = Sidebar(state, c)
    card = next(o for o in sidebar.panel.objects if "vm-advanced-general" in o.css_classes)
    assert card.title == "Advanced" and card.collapsed and sidebar.n_seeds in card.objects
    assert (sidebar.n_seeds.start, sidebar.n_seeds.end, sidebar.n_seeds.value) == (1, 20, 1)
    sidebar.n_seeds.value = 2
    assert state.n_seeds == 2 and state.seeds_done == [5, 6]


def test_the_picker_offers_the_seeds_done_and_shows_the_one_picked(small_dict, timers):
    """The picker lists the seeds done (the scenario's own named so) with the one on display
    selected; choosing another shows it; the state moving the picker picks nothing."""
    from webapp.views.seeds import SeedsBar

    state, c = _controller(timers, small_dict, SyncRunner())
    bar = SeedsBar(state, c)
    assert list(bar.picker.options.values()) == [5] and bar.picker.disabled
    c.painted(c.display.seq)
    assert bar.picker.options == {"seed 5 (the scenario's own)": 5, "seed 6": 6, "seed 7": 7}
    assert bar.picker.value == 5 and not bar.picker.disabled
    assert "seeds: 3 of 3" in bar.count.object
    started = c.runs_started
    bar.picker.value = 6
    assert state.shown_seed == 6 and state.runs.scenario_dict["seed"] == 6
    c.show_seed(7)
    assert bar.picker.value == 7 and state.shown_seed == 7 and c.runs_started == started


def test_a_seed_picked_runs_before_the_seed_in_the_background(small_dict, timers):
    """Picking a seed while another computes in the background: that one is cancelled and
    queued again after the pick, so the seed the user waits for comes first; all finish."""
    runner = QueuedRunner()
    state, c = _controller(timers, small_dict, runner)
    runner.run_all()
    c.painted(c.display.seq)
    first = c.seed_set.background.cancel
    c.show_seed(7)
    assert first.is_set() and len(runner.jobs) == 3  # cancelled seed 6, the pick, seed 6
    for _ in range(2):  # the cancelled seed (its result, if any, is ignored), then the pick
        fn, done = runner.jobs.pop(0)
        done(_outcome(fn))
    assert state.shown_seed == 7 and state.seeds_done == [5]
    runner.run_all()
    assert state.shown_seed == 7 and state.runs.scenario_dict["seed"] == 7
    assert state.seeds_done == [5, 6, 7] and state.seeds_progress == "seeds: 3 of 3"


def test_a_link_to_a_cached_seed_opens_at_once_on_that_seed(small_dict, policies, timers):
    """A link whose seed shown ran before is served with its data (no job for the runner),
    on that seed; the other seeds wait for the paint."""
    from webapp.runner import compute_pair

    a, b = policies
    compute_pair(with_seed(small_dict, 6), a, b, threading.Event())
    link = urlcodec.encode(small_dict, a, b, n_seeds=3, shown_seed=6)
    runner = QueuedRunner()
    state = SessionState()
    c = Controller(state, Dashboard(), runner, timers)
    assert c.load_link(link, run=False), state.message
    assert c.run_if_cached()
    assert state.runs.scenario_dict["seed"] == 6 and state.shown_seed == 6
    assert not runner.jobs and state.seeds_done == [6]


def test_a_new_count_while_new_inputs_run_waits_for_them(small_dict, timers):
    """Changing the number of seeds while an edit's runs are pending starts no seed of the
    old inputs; the new runs' seeds use the new number."""
    runner = QueuedRunner()
    state, c = _controller(timers, small_dict, runner, n_seeds=1)
    runner.run_all()
    state.scenario.duration_ms = 40.0
    state.n_seeds = 2
    assert not runner.jobs and c.seed_set.background.runs_started == 0
    timers.advance(1.0)
    runner.run_all()
    c.painted(c.display.seq)
    runner.run_all()
    assert state.seeds_done == [5, 6] and state.runs.scenario_dict["duration_ms"] == 40.0
