"""Ratio sweeps (the operating envelope): the `[ratio]` table, its runs, and the ratio of one
policy's lost time to the best demand paging's, checked against `engine.best_demand` run
directly; a 2×2 envelope on a real local Dask cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engine.best_demand import READAHEAD_SETTINGS, best_demand
from engine.cli import main
from engine.metrics import lost_time_ns
from engine.scenario import from_dict
from engine.simulator import simulate
from engine.sweep import (
    BEST_DEMAND,
    SweepError,
    load_sweep,
    ratio_cells,
    ratio_rows,
    ratio_text,
    run_sweep,
    sweep_from_dict,
)

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"
ENVELOPES = sorted((ROOT / "scenarios" / "sweeps").glob("envelope_*.toml"))


def envelope(**over: Any) -> dict[str, Any]:
    """A 2×2 envelope of short quickstart runs that swap: host memory × device, one seed."""
    data: dict[str, Any] = {
        "name": "tiny-envelope",
        "base": str(QUICKSTART),
        "seeds": [3],
        "metrics": ["slowdown"],
        "set": {"duration_ms": 30.0},
        "axes": {"host.memory_mib": [48, 96], "device.preset": ["nvme-ssd", "sata-ssd"]},
        "ratio": {"of": "predictive", "to": BEST_DEMAND, "metric": "lost_time_ns"},
    }
    data.update(over)
    return data


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(SweepError) as info:
        sweep_from_dict(data, source="s.toml")
    return str(info.value)


def test_a_ratio_sweep_runs_its_policy_and_every_readahead_setting() -> None:
    """[ratio] adds a policy axis: `of`, then demand under each best-demand readahead setting."""
    sweep = sweep_from_dict(envelope())
    assert sweep.ratio is not None
    policies = list(dict.fromkeys(r.labels["policy"] for r in sweep.runs()))
    assert policies[0] == "predictive"
    assert len(policies) == 1 + len(READAHEAD_SETTINGS)
    assert sweep.n_runs == 2 * 2 * (1 + len(READAHEAD_SETTINGS))
    # The metric and the footprint are kept whatever `metrics` says.
    assert {"lost_time_ns", "touched_pages", "host_frames"} <= set(sweep.metrics)
    demand = [r.scenario["policy"] for r in sweep.runs() if r.labels["policy"] != "predictive"]
    assert {(p["readahead"], p["page_cluster"]) for p in demand} == set(READAHEAD_SETTINGS)
    assert all(p["victims"] == "lru" for p in demand)  # the base's victims kept


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"axes": {"policy": ["demand"]}}, "axes.policy", ["takes its policies", "ratio"]),
        ({"ratio": {"off": "predictive"}}, "ratio.off", ["did you mean 'of'", "allowed"]),
        ({"ratio": {"metric": "lost_tme_ns"}}, "ratio.metric", ["lost_time_ns"]),
        ({"ratio": {"of": "predictve"}}, "ratio", ["predictve"]),
        ({"ratio": {"of": 3}}, "ratio.of", ["policy name or a table"]),
        ({"ratio": "predictive"}, "ratio", ["expected a table"]),
    ],
)
def test_a_bad_ratio_table_is_named(over: dict, field: str, words: list[str]) -> None:
    """A wrong [ratio] is one SweepError naming the field and what is allowed."""
    message = error_of(envelope(**over))
    assert f"s.toml: {field}:" in message
    for w in words:
        assert w in message


def test_a_set_policy_path_the_ratio_policy_lacks_is_named_when_read() -> None:
    """A `set` of `policy.victims` refines every policy of the ratio's axis: with `of` the
    oracle (which has no victims setting) the file is refused when read, naming the policy
    and the key, not later when its runs are expanded."""
    data = envelope(ratio={"of": "oracle"})
    data["set"] = {"duration_ms": 30.0, "policy.victims": "fifo"}
    message = error_of(data)
    assert "s.toml: ratio:" in message
    assert "'oracle'" in message and "policy.victims" in message and "allowed" in message


def test_a_set_policy_path_every_policy_takes_is_applied_to_each_run() -> None:
    """With `of` demand paging, the same `set` is valid and reaches every run's policy."""
    data = envelope(ratio={"of": {"name": "demand", "label": "demand-fifo"}})
    data["set"] = {"duration_ms": 30.0, "policy.victims": "fifo"}
    sweep = sweep_from_dict(data)
    assert {r.scenario["policy"]["victims"] for r in sweep.runs()} == {"fifo"}


def test_the_best_baseline_is_the_least_and_a_zero_gives_no_ratio() -> None:
    """Per point and seed the least baseline metric wins (ties: the earlier setting), and a
    baseline of 0 gives no ratio rather than a division by zero."""
    sweep = sweep_from_dict(envelope(axes={"device.preset": ["nvme-ssd", "sata-ssd"]}))
    labels = ["predictive", *sweep.ratio.baseline_labels]  # type: ignore[union-attr]
    lost = {"nvme-ssd": [50, 80, 40, 40, *[90] * 4], "sata-ssd": [10, 0, *[5] * 6]}
    frame = pd.DataFrame(
        [
            {"policy": p, "vm_count": 4, "device.preset": d, "seed": 3, "lost_time_ns": v}
            for d, values in lost.items()
            for p, v in zip(labels, values, strict=True)
        ]
    )
    rows = ratio_rows(sweep, frame).set_index("device.preset")
    assert rows.loc["nvme-ssd", "ratio"] == pytest.approx(50 / 40)
    assert rows.loc["nvme-ssd", "baseline"] == labels[2]  # the first of the two 40s
    assert rows.loc["sata-ssd", "baseline"] == labels[1]
    assert pd.isna(rows.loc["sata-ssd", "ratio"])
    cells = ratio_cells(rows.reset_index(), "device.preset", "vm_count")
    assert list(cells["device.preset"]) == ["nvme-ssd"]  # no ratio, no cell
    text = ratio_text(sweep, frame)
    assert "device.preset=nvme-ssd: 1.250 [one seed]" in text
    assert "device.preset=sata-ssd: no ratio (the baseline's lost_time_ns is 0)" in text


@pytest.mark.parametrize("path", ENVELOPES, ids=[p.name for p in ENVELOPES])
def test_shipped_envelopes_compare_predictive_with_best_demand(path: Path) -> None:
    """Each shipped envelope sweep is a ratio of predictive's lost time to best demand's, over
    two axes and several seeds."""
    sweep = load_sweep(path)
    assert sweep.ratio is not None
    assert (sweep.ratio.of_label, sweep.ratio.to_label) == ("predictive", BEST_DEMAND)
    assert sweep.ratio.metric == "lost_time_ns"
    assert len([a for a in sweep.axes if a.name != "policy"]) == 2
    assert len(sweep.seeds) >= 3


CLOCK_DEMAND = {"name": "demand", "victims": "clock"}


@pytest.mark.parametrize(
    ("scenario", "cli_sets", "sweep_sets"),
    [
        ("quickstart.toml", ["--set", "policy.victims=clock"], {"policy": CLOCK_DEMAND}),
        ("patent_demo.toml", [], {}),  # predictive's scenario: demand paging's defaults
    ],
    ids=["demand-clock", "predictive"],
)
def test_the_sweep_and_the_cli_try_the_same_best_demand_candidates(
    scenario: str, cli_sets: list[str], sweep_sets: dict[str, Any], capsys: Any
) -> None:
    """A best-demand ratio sweep runs exactly the demand configs, in order, that `vmswap compare
    --best-demand` tries on the same scenario (both take engine.best_demand's candidates)."""
    base = ROOT / "scenarios" / scenario
    short = ["--set", "duration_ms=30"]
    argv = ["compare", str(base), *short, *cli_sets, "--seeds", "1", "--best-demand", "--json"]
    assert main(argv) == 0
    tried = [c["config"] for c in json.loads(capsys.readouterr().out)["best_demand"]["candidates"]]
    data = {
        "name": "same-candidates",
        "base": str(base),
        "seeds": [1],
        "set": {"duration_ms": 30.0, **sweep_sets},
        "ratio": {"of": "oracle"},
    }
    sweep = sweep_from_dict(data)
    ran = {r.labels["policy"]: r.scenario["policy"] for r in sweep.runs()}
    assert sweep.ratio is not None
    assert [ran[label] for label in sweep.ratio.baseline_labels] == tried
    assert len(tried) == len(READAHEAD_SETTINGS)


@pytest.mark.slow
def test_an_envelope_on_dask_divides_by_the_best_demand_computed_directly() -> None:
    """A 2×2 envelope on a local Dask cluster of 2 workers: each cell's ratio is predictive's
    lost time ÷ best_demand's least lost time, both simulated here, in this process."""
    sweep = sweep_from_dict(envelope())
    outcome = run_sweep(sweep, workers=2)
    rows = ratio_rows(sweep, outcome.frame)
    assert len(rows) == 4
    by_key = {r.key: r for r in sweep.runs()}
    own = outcome.frame[outcome.frame["policy"] == "predictive"]
    for record in own.to_dict("records"):
        scenario = from_dict(by_key[record["run"]].scenario)
        predictive = lost_time_ns(simulate(scenario, None, record=False).summary)
        _, candidates = best_demand(scenario, {"name": "demand", "victims": "lru"})
        least_ns = min(c["lost_time_ms"] for c in candidates) * 1e6
        row = rows[
            (rows["host.memory_mib"] == record["host.memory_mib"])
            & (rows["device.preset"] == record["device.preset"])
        ].iloc[0]
        assert least_ns > 0  # every cell swaps, so the ratio is defined
        assert row["ratio"] == pytest.approx(predictive / least_ns, rel=1e-9)
        assert row["real_overcommit"] > 0
