"""benchmarks/results_table.py states verdicts and the ablation over seeds, with intervals
(short runs here; the published tables use the shipped durations)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from engine.scenario import load_scenario, with_overrides
from tests.conftest import ROOT, SCENARIOS


@pytest.fixture(scope="module")
def results_table() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "results_table", ROOT / "benchmarks" / "results_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def short(name: str, quick: bool, *overrides: str):
    return with_overrides(load_scenario(SCENARIOS / f"{name}.toml"), ["duration_ms=60", *overrides])


def test_verdict_tables_state_each_metric_over_seeds(results_table, monkeypatch):
    """A verdict table has a row per metric: A and B as mean ± half-width, B − A as
    mean [lo, hi], lost time first with warm-up and steady state; a policy this build lacks
    is said not to have run."""
    monkeypatch.setattr(results_table, "load", short)
    monkeypatch.setattr(
        results_table,
        "VERDICTS",
        (("patent_demo", "demand", "predictive"), ("patent_demo", "predictive", "no-such")),
    )
    lines = results_table.verdict_section(False, 2, lambda _: None)
    text = "\n".join(lines)
    assert "### patent_demo: predictive against demand" in text
    assert "Seeds 5, 6; warm-up the first 12 ms of 60 ms." in text
    head = next(i for i, line in enumerate(lines) if line.startswith("| metric |"))
    assert lines[head] == "| metric | A: demand | B: predictive | B − A [95 % interval] |"
    first = lines[head + 2]
    assert first.startswith("| lost time ms | ") and first.count("±") == 2 and "[" in first
    assert lines[head + 3].startswith("| warm-up lost time ms |")
    assert lines[head + 4].startswith("| steady-state lost time ms |")
    assert "B ÷ A on each seed, mean [95 % interval]: lost time ms: " in text
    assert "Not run: no policy no-such in this build." in text


def test_ablation_table_pairs_each_variant_with_predictive(results_table, monkeypatch):
    """The ablation table over seeds: full predictive against itself is +0 [+0, +0]."""
    monkeypatch.setattr(results_table, "load", short)
    monkeypatch.setattr(results_table, "ABLATION_SCENARIOS", ("patent_demo",))
    lines = results_table.ablation_section(False, 2, lambda _: None)
    row = next(line for line in lines if line.startswith("| predictive |"))
    assert row.endswith("| +0 [+0, +0] |")
    assert "lost ms − predictive" in "\n".join(lines)


def test_regenerating_keeps_the_block_other_scripts_wrote(results_table, tmp_path) -> None:
    """The lines between the kept markers survive a regeneration; no markers, nothing kept."""
    out = tmp_path / "results.md"
    assert results_table.kept_block(out) == []
    out.write_text("# old\n<!-- kept:begin -->\n## grid\n| a |\n<!-- kept:end -->\ntail\n")
    assert results_table.kept_block(out) == [
        "<!-- kept:begin -->",
        "## grid",
        "| a |",
        "<!-- kept:end -->",
        "",
    ]
