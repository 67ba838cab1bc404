"""The Sweep tab keeps a shared server's limits: every run within the Compare tab's, the
sweep's references within a total, and any form (deep TOML included) ends in a readable
message on the page, never an exception."""

from __future__ import annotations

import pytest

from engine import from_dict
from engine.sweep import sweep_from_dict
from tests.helpers import QueuedRunner
from tests.security import problems_of
from webapp.runner import LIMITS, web_references
from webapp.sweep_limits import MAX_TOML_DEPTH, WEB_MAX_SWEEP_REFS
from webapp.sweep_view import SweepState, SweepView


def refused(state: SweepState) -> str:
    """Launch: refused, nothing started, with a readable message."""
    try:
        ok = state.launch()
    except BaseException as exc:  # the property under test
        pytest.fail(f"{type(exc).__name__} escaped launch(): {exc}")
    assert ok is False and not state.running
    assert problems_of(state.error) == [], state.error
    return state.error


def test_the_default_form_is_within_the_limits() -> None:
    """The form as it opens is a sweep the page accepts (the limits refuse only big ones)."""
    state = SweepState()
    sweep = sweep_from_dict(state.sweep_dict())
    total = sum(web_references(from_dict(r.scenario)) for r in sweep.runs())
    assert total <= WEB_MAX_SWEEP_REFS


def test_a_run_over_the_compare_tabs_limit_is_refused() -> None:
    """1,000 runs of 100 s each (within the engine's budget): refused, naming the
    run and the web limit, as the Compare tab refuses the same scenario."""
    state = SweepState(policies="demand", vm_counts="1", seeds=1000)
    state.fixed = "duration_ms = 100_000.0"
    message = refused(state)
    assert "too large for the web app" in message and "run policy=demand" in message
    assert f"{LIMITS['references']:,}" in message


def test_runs_within_the_limit_but_too_many_in_all_are_refused() -> None:
    """Each run within the Compare tab's limit, their sum over the sweep's: refused."""
    state = SweepState(policies="demand", vm_counts="1", seeds=1)
    state.fixed = "duration_ms = 2_000.0"
    one = web_references(from_dict(sweep_from_dict(state.sweep_dict()).runs()[0].scenario))
    assert one <= LIMITS["references"]
    state.seeds = int(WEB_MAX_SWEEP_REFS // one) + 1
    message = refused(state)
    assert f"at most {WEB_MAX_SWEEP_REFS:,}" in message and "references in all" in message


@pytest.mark.parametrize(
    "fixed",
    [
        "x = " + "[" * 2000 + "]" * 2000,
        "x = " + "{a = " * 2000 + "1" + "}" * 2000,
        ".".join(["x"] * 5000) + " = 1",
        "x = " + "[" * (MAX_TOML_DEPTH + 1) + "]" * (MAX_TOML_DEPTH + 1),
    ],
    ids=["arrays", "inline-tables", "dotted-keys", "just-over"],
)
@pytest.mark.parametrize("box", ["fixed", "extra_axes"])
def test_deeply_nested_toml_is_a_readable_message(box: str, fixed: str) -> None:
    """A TOML box nested past MAX_TOML_DEPTH: the message names the box and the depth; the
    download says so too instead of failing."""
    state = SweepState()
    setattr(state, box, fixed)
    message = refused(state)
    assert "nest more than" in message
    assert ("fixed settings" if box == "fixed" else "more axes") in message
    state.error = ""
    assert state.sweep_file().read().startswith(b"# not a valid sweep:")
    assert "nest more than" in state.error


def test_launch_checks_the_runs_on_the_runner_and_shows_a_refusal() -> None:
    """The Launch button hands the expansion and checks to the runner (a worker thread when
    served); their refusal then shows in the page's error, and nothing starts."""
    runner = QueuedRunner()
    view = SweepView(SweepState(policies="demand", vm_counts="1", seeds=1000), runner=runner)
    view.state.fixed = "duration_ms = 100_000.0"
    view.launch_button.clicks += 1
    assert len(runner.jobs) == 1 and view.state.error == "" and view.launch_button.disabled
    runner.run_all()
    assert "too large for the web app" in view.state.error and not view.state.running
    assert not view.launch_button.disabled
