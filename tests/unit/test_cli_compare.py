"""`vmswap compare` and `vmswap ablate`: output contract, switches, seeds and intervals,
warm-up apart from steady state, one-line errors."""

from __future__ import annotations

import json

import pytest

from engine.cli import ablate as ablate_cli
from engine.cli import main
from engine.policies.predictive import MECHANISMS
from tests.conftest import SCENARIOS

DEMO = str(SCENARIOS / "patent_demo.toml")
SHORT = ["--set", "duration_ms=120", "--seeds", "1"]
TINY = ["--set", "duration_ms=60"]


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
    assert main(["ablate", DEMO, "--set", "duration_ms=80", "--seeds", "1", "--json"]) == 0
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


def test_compare_states_each_metric_over_seeds_with_paired_intervals(capsys):
    """--seeds 3: the scenario's seed and the two after it; each metric's interval is of the
    per-seed figures, B − A's of the per-seed differences; the first seed's runs are in full."""
    out = compare_json(capsys, *TINY, "--seeds", "3")
    first = out["seeds"][0]
    assert out["seeds"] == [first, first + 1, first + 2]
    assert [s["seed"] for s in out["per_seed"]] == out["seeds"]
    assert out["per_seed"][0]["a"] == out["a"]["summary"]
    lost = out["intervals"]["lost_time_ms"]
    a = [s["a"]["lost_time_ms"] for s in out["per_seed"]]
    b = [s["b"]["lost_time_ms"] for s in out["per_seed"]]
    assert lost["a"]["mean"] == pytest.approx(sum(a) / 3)
    assert lost["b"]["mean"] == pytest.approx(sum(b) / 3)
    assert lost["delta"]["mean"] == pytest.approx(lost["b"]["mean"] - lost["a"]["mean"])
    assert lost["delta"]["n"] == 3
    assert lost["delta"]["lo"] <= lost["delta"]["mean"] <= lost["delta"]["hi"]
    assert len({round(x, 6) for x in a + b}) > 1  # the seeds really differ
    # Seed first + 1 of the series is the run of that seed alone.
    again = compare_json(capsys, *TINY, "--seeds", "1", "--set", f"seed={first + 1}")
    assert again["a"]["summary"] == out["per_seed"][1]["a"]
    assert again["b"]["summary"] == out["per_seed"][1]["b"]


def test_warm_up_and_steady_state_add_up_to_the_run(capsys):
    """The first fifth of the run is warm-up by default; warm-up plus steady state is the
    whole run's lost time and faults; --warmup-share 0 makes it all steady state."""
    out = compare_json(capsys, "--warmup-share", "0.5")
    assert out["warmup_ms"] == 60.0
    for run in (out["a"], out["b"]):
        s = run["summary"]
        assert s["warmup_lost_time_ms"] + s["steady_lost_time_ms"] == pytest.approx(
            s["lost_time_ms"]
        )
        assert s["warmup_major_faults"] + s["steady_major_faults"] == s["major_faults"]
        assert s["warmup_lost_time_ms"] > 0 and s["steady_lost_time_ms"] > 0
    assert compare_json(capsys)["warmup_ms"] == 24.0
    whole = compare_json(capsys, "--warmup-share", "0")["b"]["summary"]
    assert whole["warmup_major_faults"] == 0
    assert whole["steady_lost_time_ms"] == pytest.approx(whole["lost_time_ms"])


def test_identical_policies_differ_by_exactly_nothing_over_seeds(capsys):
    """predictive with horizon 0 is demand paging: on every seed B − A is 0, so the paired
    interval is [0, 0] although each policy's own figures spread over the seeds."""
    out = compare_json(capsys, *TINY, "--seeds", "2", "--set", "policy.horizon_ms=0")
    for key in ("lost_time_ms", "steady_lost_time_ms", "major_faults", "slowdown"):
        d = out["intervals"][key]["delta"]
        assert (d["mean"], d["lo"], d["hi"]) == (0.0, 0.0, 0.0)
    assert out["intervals"]["references"]["a"]["half_width"] > 0


def test_compare_table_shows_mean_half_width_and_the_paired_interval(capsys):
    """The table: one row per metric, A and B as mean ± half-width, B − A as mean [lo, hi];
    --metric adds a row for any numeric summary figure."""
    assert main(["compare", DEMO, *TINY, "--seeds", "2", "--metric", "minor_faults"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "seeds 5, 6" in lines[1] and "warm-up is the first 12 ms" in lines[1]
    assert "b - a [95% interval]" in lines[2]
    lost = next(line for line in lines if line.startswith("lost time, ms"))
    assert lost.count("±") == 2 and "[" in lost and "]" in lost
    assert any(line.startswith("  steady state") for line in lines)
    assert any(line.startswith("minor_faults") for line in lines)


def test_compare_says_when_the_seeds_changed_nothing(capsys):
    """Traces replayed on a fixed schedule (real_programs) give the same run on every seed:
    the table says so under its zero-width intervals. Where the seeds differ (patent_demo's
    workloads draw their references), it says nothing of the kind."""
    real = str(SCENARIOS / "real_programs.toml")
    assert main(["compare", real, "--set", "duration_ms=40", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "every one of the 2 seeds gave the same figures" in out
    assert main(["compare", DEMO, *TINY, "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "gave the same figures" not in out
    references = next(line for line in out.splitlines() if line.startswith("references"))
    assert "± 0 " not in references  # (the seeds drew different streams)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "0"], "--seeds takes a whole number from 1 to 100, got '0'"),
        (["--seeds", "five"], "--seeds takes a whole number"),
        (["--warmup-share", "1.5"], "--warmup-share takes a share of the run from 0 to 0.9"),
        (["--metric", "stall_mss"], "did you mean 'stall_ms'"),
    ],
)
def test_bad_seed_options_are_one_line_and_exit_2(capsys, args, message):
    """A bad --seeds, --warmup-share or --metric is one line on stderr, exit status 2."""
    code = None
    try:
        code = main(["compare", DEMO, *TINY, "--seeds", "1", *args])
    except SystemExit as exc:  # argparse refuses before anything runs
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_ablate_over_seeds_pairs_each_variant_with_full_predictive(capsys, monkeypatch):
    """ablate --seeds 2: each variant's mean and interval; its lost time minus predictive's
    is paired by seed, so predictive against itself is exactly 0 and horizon 0 (demand
    paging exactly) differs from predictive as demand does."""
    # The JSON and the table print the same ablation (a deterministic run of every variant on
    # each seed): the table is drawn from the first call's result, not simulated again.
    real, made = ablate_cli.ablate_seeds, []

    def ablate_once(scenario, *args):
        key = (scenario.to_dict(), args)
        if not made:
            made.append((key, real(scenario, *args)))
        assert key == made[0][0], "the table's ablation is not the JSON's"
        return made[0][1]

    monkeypatch.setattr(ablate_cli, "ablate_seeds", ablate_once)
    assert main(["ablate", DEMO, *TINY, "--seeds", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["seed"] for s in out["per_seed"]] == out["seeds"] == [5, 6]
    iv = out["intervals"]
    assert iv["predictive"]["lost_time_ms"]["delta"]["half_width"] == 0.0
    assert iv["horizon 0"]["lost_time_ms"] == iv["demand"]["lost_time_ms"]
    per = [s["demand"]["lost_time_ms"] for s in out["per_seed"]]
    assert iv["demand"]["lost_time_ms"]["mean"]["mean"] == pytest.approx(sum(per) / 2)
    assert main(["ablate", DEMO, *TINY, "--seeds", "2"]) == 0
    table = capsys.readouterr().out
    assert "lost ms - predictive" in table and "±" in table
