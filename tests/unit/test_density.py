"""Density: the galloping-and-bisection search, density from a sweep's grid, and the real
search on the engine checked against a scan of every VM count."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import load_scenario, with_overrides
from engine.cli import main as cli_main
from engine.density import (
    DensitySearch,
    density_from_rows,
    evaluate_here,
    find_density,
    meets,
    probe_run,
)
from engine.sweep import Run

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"


def search(max_vms: int, ok: Sequence[bool]) -> DensitySearch:
    """Run a search where count n meets the target iff ok[n - 1]."""
    s = DensitySearch(max_vms)
    while (n := s.next_probe()) is not None:
        assert 1 <= n <= max_vms
        assert n not in [p for p, _ in s.probes], "a count was probed twice"
        s.record(n, ok[n - 1])
    return s


@settings(max_examples=300, deadline=None)
@given(data=st.data(), max_vms=st.integers(1, 256))
def test_a_monotone_target_is_found_exactly_in_log_probes(data: Any, max_vms: int) -> None:
    """When slowdown grows with the count, the search returns the exact largest count that
    meets the target, in at most 2·⌈log2 max⌉ + 2 probes."""
    answer = data.draw(st.integers(0, max_vms))
    s = search(max_vms, [n <= answer for n in range(1, max_vms + 1)])
    assert s.density == answer
    assert s.capped == (answer == max_vms)
    assert len(s.probes) <= 2 * math.ceil(math.log2(max_vms)) + 2 if max_vms > 1 else 1


@settings(max_examples=300, deadline=None)
@given(ok=st.lists(st.booleans(), min_size=1, max_size=100))
def test_any_answer_meets_the_target_next_to_a_count_that_misses(ok: list[bool]) -> None:
    """Whatever the curve, the answer d met the target (or is 0) and d+1 missed it (or d is
    the maximum): the search never reports a count it did not see pass."""
    s = search(len(ok), ok)
    d = s.density
    assert d == 0 or ok[d - 1]
    assert d == len(ok) or not ok[d]
    seen = dict(s.probes)
    assert d == 0 or seen[d] is True
    assert d == len(ok) or seen[d + 1] is False


def test_meets_needs_a_known_slowdown_at_most_the_target() -> None:
    """A run meets the target at or under it; a missing slowdown never meets it."""
    assert meets({"slowdown": 1.1}, 1.1)
    assert not meets({"slowdown": 1.1000001}, 1.1)
    assert not meets({"slowdown": None}, 10.0)


def test_density_from_a_grid_stops_at_the_first_miss() -> None:
    """From a sweep grid, density is the largest count whose smaller counts all met the
    target; 0 when the smallest count misses; NaN and None miss."""
    rows = [
        ("lru", 1, 1, 1.0), ("lru", 1, 2, 1.05), ("lru", 1, 4, 1.2), ("lru", 1, 8, 1.01),
        ("lru", 2, 2, 1.3), ("lru", 2, 1, 1.0),
        ("rnd", 1, 1, float("nan")), ("rnd", 1, 2, 1.0),
        ("rnd", 2, 1, None),
    ]  # fmt: skip
    assert density_from_rows(rows, 1.1) == {"lru": [(1, 2), (2, 1)], "rnd": [(1, 0), (2, 0)]}


class Counting:
    """The in-process evaluator, remembering every summary (so a scan reuses the search's)."""

    def __init__(self) -> None:
        self.summaries: dict[str, Mapping[str, Any]] = {}
        self.runs = 0

    def __call__(self, runs: Sequence[Run]) -> dict[str, Mapping[str, Any]]:
        todo = [r for r in runs if r.key not in self.summaries]
        self.runs += len(todo)
        self.summaries.update(evaluate_here(todo))
        return {r.key: self.summaries[r.key] for r in runs}


@pytest.mark.slow
def test_engine_density_matches_a_scan_of_every_count() -> None:
    """On quickstart (300 ms) with target 1.2, each policy's density equals the largest count
    whose every smaller count met the target in a scan of 1..6 VMs; LRU packs more VMs than
    random victims, and the search ran fewer runs than the scan."""
    scenario = with_overrides(load_scenario(QUICKSTART), ["duration_ms=300"])
    policies: list[Any] = ["demand", {"name": "demand", "victims": "random", "label": "esx"}]
    evaluate = Counting()
    found = find_density(scenario, 1.2, policies=policies, seeds=[1], max_vms=6, evaluate=evaluate)
    searched = evaluate.runs
    assert [r.policy for r in found] == ["demand", "esx"]
    for policy, result in zip(policies, found, strict=True):
        runs = [probe_run(scenario.to_dict(), policy, result.policy, 1, n) for n in range(1, 7)]
        slowdowns = [evaluate([run])[run.key]["slowdown"] for run in runs]
        expected = 0
        for n, slowdown in enumerate(slowdowns, start=1):
            if slowdown > 1.2:
                break
            expected = n
        assert result.densities == [expected], (result.policy, slowdowns)
    assert found[0].densities[0] > found[1].densities[0] > 0
    assert searched < evaluate.runs == 12


def test_cli_density_json(capsys: Any) -> None:
    """`vmswap density --json` gives per-policy densities, spread and probes; a max reached
    is marked capped."""
    code = cli_main(
        ["density", str(QUICKSTART), "--target-slowdown", "1.5", "--seeds", "2",
         "--max-vms", "2", "--set", "duration_ms=60", "--workers", "0", "--json"]
    )  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    [policy] = doc["policies"]
    assert policy["policy"] == "demand" and policy["seeds"] == [1, 2]
    assert policy["densities"] == [2, 2] and policy["capped"] == [True, True]
    assert policy["min"] == policy["max"] == policy["median"] == 2
    assert [p["vm_count"] for p in policy["probes"]] == [1, 2, 1, 2]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--target-slowdown", "0.9"], "expected 1.0 or more"),
        (["--target-slowdown", "1.1", "--policies", "demand:victims"], "NAME:KEY=VALUE"),
        (["--target-slowdown", "1.1", "--policies", "nosuch"], "unknown policy 'nosuch'"),
        (["--target-slowdown", "1.1", "--max-vms", "300"], "--max-vms: 300"),
        (["--target-slowdown", "1.1", "--workers", "2", "--cluster", "tcp://x:1"], "--workers"),
        (["--target-slowdown", "1.1", "--seeds", "0"], "--seeds: 0"),
    ],
)
def test_cli_density_errors_are_one_line(args: list[str], words: str, capsys: Any) -> None:
    """Bad arguments print one line naming the option and exit 2, before any run."""
    assert cli_main(["density", str(QUICKSTART), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
