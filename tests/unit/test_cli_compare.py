"""`vmswap compare` and `vmswap ablate`: output contract, switches, one-line errors."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.policies.predictive import MECHANISMS
from tests.conftest import SCENARIOS

DEMO = str(SCENARIOS / "patent_demo.toml")
SHORT = ["--set", "duration_ms=120"]


def compare_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["compare", DEMO, *SHORT, *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_compare_json_has_both_runs_and_their_differences(capsys):
    """--json prints {a, b, delta}: each run's policy and summary, b − a, per VM too."""
    out = compare_json(capsys)
    assert out["a"]["policy"] == "demand"
    assert out["b"]["policy"] == "predictive"
    a, b = out["a"]["summary"], out["b"]["summary"]
    for key in ("major_faults", "stall_ns", "slowdown", "prefetch_accuracy", "coverage"):
        assert key in a and key in b
    assert out["delta"]["major_faults"] == b["major_faults"] - a["major_faults"]
    assert [v["name"] for v in out["delta"]["vms"]] == ["web", "db", "app", "cache"]
    vm0 = out["delta"]["vms"][0]
    assert (
        vm0["major_faults"]
        == out["b"]["vms"][0]["major_faults"] - out["a"]["vms"][0]["major_faults"]
    )
    assert a["coverage"] == 0.0  # demand paging removes none of its own faults


def test_policy_switches_go_to_the_policies_that_take_them(capsys):
    """--set policy.gating=false reaches predictive; demand, which has no such switch, runs
    as before; a switch both take reaches both."""
    out = compare_json(capsys, "--set", "policy.gating=false", "--set", "policy.victims=clock")
    assert out["b"]["config"]["gating"] is False
    assert out["b"]["summary"]["gated_dispatches"] == 0
    assert "gating" not in out["a"]["config"]
    assert out["a"]["config"]["victims"] == out["b"]["config"]["victims"] == "clock"


def test_horizon_zero_compares_equal_to_demand(capsys):
    """compare --b predictive --set policy.horizon_ms=0 shows no difference at all."""
    out = compare_json(capsys, "--set", "policy.horizon_ms=0")
    assert out["a"]["summary"] == out["b"]["summary"]
    assert out["a"]["vms"] == out["b"]["vms"]


def test_any_two_policies_compare_with_coverage_against_demand(capsys):
    """leap against oracle: coverage still counts faults removed from demand paging's."""
    out = compare_json(capsys, "--a", "leap", "--b", "oracle")
    assert out["a"]["policy"] == "leap" and out["b"]["policy"] == "oracle"
    assert out["b"]["summary"]["coverage"] > out["a"]["summary"]["coverage"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "policy.gatting=false"], "did you mean 'gating'"),
        (["--set", "policy.name=oracle"], "--a and --b"),
        (["--b", "predictiv"], "did you mean 'predictive'"),
        (["--set", "policy.horizon_ms=-5"], "policy.horizon_ms"),
        (["--set", "host.pcpus=0"], "host.pcpus"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(capsys, args, message):
    """A bad switch, policy or field is one line on stderr, exit status 2."""
    assert main(["compare", DEMO, *SHORT, *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_compare_prints_a_table(capsys):
    """Without --json: a header and one row per metric with both runs and b − a."""
    assert main(["compare", DEMO, *SHORT]) == 0
    out = capsys.readouterr().out
    assert "demand" in out and "predictive" in out and "b - a" in out
    assert "major faults" in out and "gating delay, ms" in out


def test_ablate_switches_each_mechanism_off_in_turn(capsys):
    """ablate --json: demand, predictive, horizon 0 and one row per mechanism; horizon 0 is
    demand paging exactly."""
    assert main(["ablate", DEMO, "--set", "duration_ms=80", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    labels = [r["variant"] for r in out["runs"]]
    assert labels == ["demand", "predictive", "horizon 0", *(f"no {m}" for m in MECHANISMS)]
    by = {r["variant"]: r for r in out["runs"]}
    keys = set(by["demand"]["summary"]) - {"mean_lead_ms"}
    assert {k: by["horizon 0"]["summary"][k] for k in keys} == {
        k: by["demand"]["summary"][k] for k in keys
    }
    for m in MECHANISMS:
        assert by[f"no {m}"]["config"][m] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "policy.name=oracle"], "ablate always runs demand and predictive"),
        (["--set", "policy.prefetch_ms=0"], "no chosen policy (predictive) has this switch"),
    ],
)
def test_ablate_refuses_what_it_cannot_apply(capsys, args, message):
    """ablate chooses its own policies: naming one, or a switch predictive lacks, is one line
    on stderr and exit status 2, before anything runs."""
    assert main(["ablate", DEMO, *SHORT, *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
