"""Best demand: demand paging under each readahead setting, and the one that loses least."""

from __future__ import annotations

import json

import pytest

from engine.best_demand import READAHEAD_SETTINGS, best_demand, lost_time_ns, setting_label
from engine.cli import main
from engine.simulator import simulate
from tests.conftest import SCENARIOS
from tests.helpers import small_scenario

DEMO = str(SCENARIOS / "patent_demo.toml")
SHORT = ["--set", "duration_ms=120"]


def test_best_demand_is_the_candidate_that_loses_least():
    """Every readahead setting is tried once, each lost time is that run's, and the chosen
    one has the least (ties to the first)."""
    scenario = small_scenario()
    chosen, candidates = best_demand(scenario, {"name": "demand", "victims": "clock"})
    tried = [(c["config"]["readahead"], c["config"]["page_cluster"]) for c in candidates]
    assert tried == list(READAHEAD_SETTINGS)
    least = min(c["lost_time_ms"] for c in candidates)
    first = next(c for c in candidates if c["lost_time_ms"] == least)
    assert chosen == first["config"] and chosen["victims"] == "clock"
    again = simulate(scenario, chosen, record=False)
    assert lost_time_ns(again.summary) / 1e6 == least


def test_setting_labels_name_the_window():
    """Labels say the mode and the block size in pages."""
    assert setting_label({"readahead": "off", "page_cluster": 3}) == "off"
    assert setting_label({"readahead": "fixed", "page_cluster": 2}) == "fixed 4 pages"
    assert setting_label({"readahead": "adaptive", "page_cluster": 3}) == "adaptive up to 8 pages"


def test_compare_best_demand_judges_against_the_chosen_setting(capsys):
    """compare --best-demand runs demand with the chosen readahead and reports every
    candidate; the table names the choice."""
    assert main(["compare", DEMO, *SHORT, "--seeds", "1", "--best-demand", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    chosen = out["best_demand"]["chosen"]
    assert out["a"]["config"] == chosen
    assert len(out["best_demand"]["candidates"]) == len(READAHEAD_SETTINGS)
    least = min(c["lost_time_ms"] for c in out["best_demand"]["candidates"])
    assert out["a"]["summary"]["stall_ns"] / 1e6 == pytest.approx(least)
    assert main(["compare", DEMO, *SHORT, "--seeds", "1", "--best-demand"]) == 0
    assert f"best demand: readahead {setting_label(chosen)}" in capsys.readouterr().out


def test_best_demand_needs_demand_in_the_comparison(capsys):
    """--best-demand with neither policy demand is a one-line error, exit non-zero."""
    assert main(["compare", DEMO, *SHORT, "--a", "leap", "--best-demand"]) != 0
    err = capsys.readouterr().err
    assert "--best-demand needs demand" in err and "Traceback" not in err
