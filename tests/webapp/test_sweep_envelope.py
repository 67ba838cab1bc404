"""The operating envelope in the Sweep tab, without a browser: a shipped envelope sweep file is
loaded, and a tiny sweep result becomes the ratio heatmap, on a diverging scale centred on 1
with a legend saying which side is predictive's."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import panel as pn
import pytest
from bokeh.models import ColorBar, HoverTool, LogColorMapper

from engine.sweep import load_sweep, ratio_rows, sweep_from_dict
from webapp.sweep_charts import axis_names, ratio_figure, ratio_heatmap
from webapp.sweep_view import FORM, SweepState

ROOT = Path(__file__).resolve().parents[2]
SLICE = ROOT / "scenarios" / "sweeps" / "envelope_slice.toml"


def small_envelope() -> object:
    """The slice envelope cut to 2 × 2 cells and 3 seeds (only expanded, never run)."""
    return sweep_from_dict(
        {
            "base": str(ROOT / "scenarios" / "quickstart.toml"),
            "seeds": [1, 2, 3],
            "set": {"duration_ms": 30.0},
            "axes": {
                "scheduler.slice_ms": [5.0, 30.0],
                "faults.plan_error_rate": [0.0, 0.5],
            },
            "ratio": {"of": "predictive", "to": "best-demand"},
        }
    )


def tiny_result(sweep: object) -> pd.DataFrame:
    """A results table for every run of a ratio sweep, with made-up lost times: predictive's
    is 100 ms × (1 + plan error rate) + seed, each demand setting's 100 ms plus its index."""
    rows = []
    for run in sweep.runs():  # type: ignore[attr-defined]
        labels = run.labels
        policy = labels["policy"]
        if policy == "predictive":
            lost = 100e6 * (1 + labels["faults.plan_error_rate"]) + labels["seed"] * 1e6
        else:
            lost = 100e6 + sweep.ratio.baseline_labels.index(policy) * 1e6  # type: ignore[attr-defined]
        rows.append(
            {"run": run.key, **labels, "lost_time_ns": lost, "touched_pages": 900,
             "host_frames": 600}
        )  # fmt: skip
    return pd.DataFrame(rows)


def renderers(fig: object, kind: type) -> list:
    return list(fig.select({"type": kind}))  # type: ignore[attr-defined]


def test_the_heatmap_is_centred_on_one_and_says_which_side_wins() -> None:
    """Ratio 1 sits at the middle of a log colour scale (low × high = 1), low ratios are blue,
    the legend says < 1 means predictive loses less, and each cell shows its mean over seeds."""
    sweep = small_envelope()
    rows = ratio_rows(sweep, tiny_result(sweep))
    fig = ratio_heatmap(
        rows, "scheduler.slice_ms", "faults.plan_error_rate",
        of_label="predictive", to_label="best-demand", metric="lost_time_ns",
    )  # fmt: skip
    (mapper,) = renderers(fig, LogColorMapper)
    assert mapper.low * mapper.high == pytest.approx(1.0)
    assert mapper.high >= 1.5  # error rate 0.5 gives ratios above 1.5
    assert mapper.palette[0] == "#053061" and mapper.palette[-1] == "#67001f"  # blue low
    assert "< 1: predictive loses less" in fig.title.text
    (bar,) = renderers(fig, ColorBar)
    assert bar.title == "predictive ÷ best-demand"
    source = fig.renderers[0].data_source.data
    # Seeds 1–3 add 1–3 ms to predictive's lost time; the best demand setting is the first.
    cell = dict(zip(zip(source["x"], source["y"], strict=True), source["v"], strict=True))
    assert cell[("30.0", "0.5")] == pytest.approx((150 + 2) / 100)
    assert cell[("5.0", "0.0")] == pytest.approx(102 / 100)
    assert len(cell) == 2 * 2
    (hover,) = renderers(fig, HoverTool)
    assert "95 % interval" in dict(hover.tooltips)


def test_the_overcommit_axis_states_the_measured_ratio() -> None:
    """On an overcommit axis the ticks give touched pages ÷ frames, not only the setting."""
    rows = pd.DataFrame(
        {
            "overcommit": [2.0, 2.0, 3.0, 3.0],
            "device.preset": ["nvme-ssd", "optane"] * 2,
            "seed": [1] * 4,
            "ratio": [0.5, 0.8, 1.2, 2.0],
            "baseline": ["demand (off)"] * 4,
            "real_overcommit": [1.07, 1.09, 1.6, 1.62],
        }
    )
    fig = ratio_heatmap(
        rows, "overcommit", "device.preset",
        of_label="predictive", to_label="best-demand", metric="lost_time_ns",
    )  # fmt: skip
    assert list(fig.x_range.factors) == ["1.07–1.09 (set 2)", "1.60–1.62 (set 3)"]
    assert "touched pages ÷ frames" in fig.xaxis[0].axis_label
    mapper = renderers(fig, LogColorMapper)[0]
    assert math.isclose(mapper.high, 2.0) and math.isclose(mapper.low, 0.5)


def test_an_overcommit_every_run_shares_is_one_figure_on_its_tick() -> None:
    """When every run of a setting has the same real overcommit the tick gives it once."""
    rows = pd.DataFrame({"overcommit": [2.0, 2.0], "real_overcommit": [1.0742, 1.0742]})
    assert axis_names("overcommit", rows) == {"2.0": "1.07 (set 2)"}


def test_a_loaded_envelope_file_shows_its_ratio_heatmap() -> None:
    """Choosing envelope_slice.toml in the Sweep tab launches that file's sweep, and its
    result shows the ratio heatmap over its two axes; another sweep's result clears it."""
    state = SweepState(source="envelope_slice.toml")
    form = state.form()
    assert form is not None, state.error
    sweep = sweep_from_dict(form.table)
    shipped = load_sweep(SLICE)
    assert (sweep.axes, sweep.seeds, sweep.ratio) == (shipped.axes, shipped.seeds, shipped.ratio)
    assert state.sweep_file().read() == SLICE.read_bytes()
    outcome = SimpleNamespace(frame=tiny_result(sweep), total=sweep.n_runs, cached=0, elapsed_s=1.0)
    state._on_results(outcome, sweep)
    assert (state.ratio_x, state.ratio_y) == ("scheduler.slice_ms", "faults.plan_error_rate")
    pane = ratio_figure(state.ratio_rows, state.ratio, state.ratio_x, state.ratio_y)
    assert isinstance(pane, pn.pane.Bokeh)
    assert renderers(pane.object, LogColorMapper)
    # Back to the form: an ordinary sweep has no ratio heatmap.
    state.source = FORM
    state._on_results(outcome, SimpleNamespace(ratio=None, metrics=("lost_time_ns",)))
    assert state.ratio_rows is None
    assert isinstance(ratio_figure(state.ratio_rows, state.ratio, None, None), pn.pane.Markdown)
