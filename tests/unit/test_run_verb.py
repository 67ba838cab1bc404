"""Simulation.run: one verb to run to a time or to the end, with simulate()'s slowdown."""

from __future__ import annotations

import pytest

from engine import Simulation, load_scenario, simulate
from tests.conftest import SCENARIOS


def quickstart() -> Simulation:
    return Simulation(load_scenario(SCENARIOS / "quickstart.toml"), "predictive", record=False)


def test_run_gives_the_summary_simulate_gives():
    """run() to the end gives simulate()'s summary, slowdown included (same baseline)."""
    scenario = load_scenario(SCENARIOS / "quickstart.toml")
    by_verb = Simulation(scenario, "predictive", record=False).run()
    by_function = simulate(scenario, "predictive", record=False)
    assert by_verb.summary["slowdown"] is not None and by_verb.summary["slowdown"] >= 1.0
    assert by_verb.summary == by_function.summary
    assert by_verb.vms == by_function.vms


def test_run_until_stops_at_the_first_boundary_past_it_and_goes_on():
    """run(until=t) returns None at the first step boundary >= t; run() then finishes the
    run exactly as an uninterrupted one."""
    sim = quickstart()
    t = 7 * sim.step_ns + 1
    assert sim.run(until=t) is None
    assert sim.now_ns == 8 * sim.step_ns
    assert sim.run(until=t) is None and sim.now_ns == 8 * sim.step_ns  # already there
    assert sim.run().summary == quickstart().run().summary


def test_run_until_past_the_end_stops_at_the_end_unfinished():
    """run(until) beyond the end stops at the end without finishing; run() then finishes."""
    sim = quickstart()
    assert sim.run(until=sim.end_ns * 2) is None
    assert sim.now_ns == sim.end_ns
    assert sim.run().summary["slowdown"] is not None


def test_a_finished_run_returns_its_result_again():
    """Running a finished simulation changes nothing and returns the same result."""
    sim = quickstart()
    first = sim.run()
    assert sim.run() is first


def test_on_step_hears_every_step_and_can_abandon():
    """on_step gets the clock after each step (or run of quiet steps made in one call), up
    to where run stops; an exception raised in it ends the run."""
    sim = quickstart()
    heard: list[int] = []
    sim.run(until=3 * sim.step_ns, on_step=heard.append)
    assert heard[-1] == 3 * sim.step_ns and heard == sorted(set(heard))
    assert set(heard) <= {sim.step_ns, 2 * sim.step_ns, 3 * sim.step_ns}

    class Stop(Exception):
        pass

    def stop(now_ns: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        sim.run(on_step=stop)
    assert 4 * sim.step_ns <= sim.now_ns < sim.end_ns


def test_without_baseline_the_slowdown_is_left_out():
    """with_baseline=False measures the engine alone: no slowdown, the rest the same."""
    plain = quickstart().run(with_baseline=False)
    full = quickstart().run()
    assert "slowdown" not in plain.summary and "slowdown" in full.summary
    same = {k: v for k, v in full.summary.items() if "slowdown" not in k}
    assert {k: v for k, v in plain.summary.items() if "slowdown" not in k} == same
