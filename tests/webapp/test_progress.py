"""While a run computes, the page says how far it has got in simulated time."""

from __future__ import annotations

import re
import threading

from engine import from_dict
from engine.policies import validate_policy
from tests.helpers import small_scenario
from webapp import runner as runner_module
from webapp.controller import PROGRESS_PERIOD_S, Controller, SyncRunner
from webapp.runner import Progress, compute_pair
from webapp.state import SessionState
from webapp.views.dashboard import Dashboard

LINE = re.compile(r"computing (.+?) \((\d) of (\d)\): (\d+) % of simulated time")


class LoggedProgress(Progress):
    """Keeps every (what, fraction) the worker reported."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, float | None]] = []

    def update(self, what: str, sim_ns: int, end_ns: int) -> None:
        super().update(what, sim_ns, end_ns)
        self.log.append((what, self.fraction()))


def _by_run(log: list[tuple[str, float | None]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for what, done in log:
        if done is not None:
            out.setdefault(what, []).append(done)
    return out


def test_each_run_reports_its_clock_up_to_100_percent():
    """A, B and the demand reference each report a simulated clock that never goes back and
    ends at 100 %; the line names the run and its place among the three."""
    data = small_scenario(seed=911).to_dict()
    progress = LoggedProgress()
    a, b = validate_policy({"name": "leap"}), validate_policy({"name": "predictive"})
    compute_pair(data, a, b, threading.Event(), progress)
    runs = _by_run(progress.log)
    assert list(runs) == ["A (1 of 3)", "B (2 of 3)", "demand paging for coverage (3 of 3)"]
    for what, fractions in runs.items():
        assert fractions == sorted(fractions), what
        assert fractions[-1] == 1.0, what
        assert any(0.0 < f < 1.0 for f in fractions), what  # seen on the way, not only at ends
    last = "computing demand paging for coverage (3 of 3): 100 % of simulated time"
    assert progress.text() == last


def test_a_cached_run_reports_100_percent_at_once():
    """A run taken from the cache is done: it reports 100 % and nothing before it."""
    data = small_scenario(seed=912).to_dict()
    a, b = validate_policy({"name": "demand"}), validate_policy({"name": "predictive"})
    compute_pair(data, a, b, threading.Event())
    progress = LoggedProgress()
    compute_pair(data, a, b, threading.Event(), progress)
    assert progress.log == [("A (1 of 2)", 1.0), ("B (2 of 2)", 1.0)]


def test_no_clock_reads_as_computing_without_a_percentage():
    """Before a run's clock is known the line has no percentage (nothing made up)."""
    p = Progress()
    assert p.text() == ""
    p.update("the unlimited-memory baseline (for slowdown)", 0, 0)
    assert p.text() == "computing the unlimited-memory baseline (for slowdown)…"
    p.update("A (1 of 2)", 37, 100)
    assert p.text() == "computing A (1 of 2): 37 % of simulated time"


def test_the_page_shows_progress_while_the_run_computes(timers, monkeypatch):
    """The session's periodic poll puts the worker's progress in the state while busy (here
    the poll's timer fires from inside the run, as the event loop would while the worker
    thread computes); the percentages rise to 100 % and the line clears when the run is in."""
    state = SessionState()
    controller = Controller(state, Dashboard(), SyncRunner(), timers)
    shown: list[str] = []
    state.param.watch(lambda e: shown.append(e.new), "progress")
    update = runner_module.Progress.update

    def update_and_tick(self, what, sim_ns, end_ns):
        update(self, what, sim_ns, end_ns)
        timers.advance(PROGRESS_PERIOD_S)

    monkeypatch.setattr(runner_module.Progress, "update", update_and_tick)
    data = small_scenario(seed=913).to_dict()
    controller._load(from_dict(data), {"name": "demand"}, {"name": "predictive"}, 0, 0, "")
    assert state.runs is not None, state.message
    assert "computing the unlimited-memory baseline (for slowdown)…" in shown
    lines = [LINE.fullmatch(s) for s in shown if s and "baseline" not in s]
    assert lines and all(lines), shown
    percent = {}
    for m in lines:
        percent.setdefault(m.group(1), []).append(int(m.group(4)))
    assert list(percent) == ["A", "B"]
    for values in percent.values():
        assert values == sorted(values) and values[-1] == 100 and values[0] < 100
    assert state.progress == "" and not state.busy
    assert controller._progress_timer is None
