"""The Sweep tab without a browser: per-session state, the form as a sweep, a real run on a
local cluster, the derived density and heatmap, downloads, and readable failures."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from engine.sweep import load_sweep, sweep_from_dict
from webapp.sweep_charts import density_data, density_figure, heatmap_data, heatmap_figure
from webapp.sweep_view import SweepState, create_sweep_view

ROOT = Path(__file__).resolve().parents[2]


def small_form(state: SweepState) -> None:
    """Two demand variants × 2 and 5 VMs × 2 seeds, short and swapping."""
    state.policies = "demand, demand:victims=random"
    state.vm_counts = "2, 5"
    state.overcommit = ""
    state.fixed = 'duration_ms = 40.0\n"host.memory_mib" = 32'
    state.seeds = 2
    state.metrics = ["slowdown", "major_faults"]
    state.workers = 2
    state.timeout_s = 60.0


def test_each_view_has_its_own_state() -> None:
    """Two sessions' views share nothing: changing one form leaves the other as it was."""
    a, b = create_sweep_view(), create_sweep_view()
    assert a.state is not b.state
    a.state.vm_counts = "7"
    assert b.state.vm_counts != "7"
    assert a.__panel__() is not b.__panel__()


def test_the_form_is_a_valid_sweep_and_a_loadable_file(tmp_path: Path) -> None:
    """The form gives the sweep table; its TOML download loads back to the same runs."""
    state = SweepState()
    small_form(state)
    state.devices = ["nvme-ssd", "optane"]
    state.extra_axes = '"host.pcpus" = [2, 4]'
    sweep = sweep_from_dict(state.sweep_dict())
    assert [a.name for a in sweep.axes] == ["policy", "vm_count", "device.preset", "host.pcpus"]
    assert sweep.n_runs == 2 * 2 * 2 * 2 * 2
    text = state.sweep_toml()
    tomllib.loads(text)
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "quickstart.toml").write_text((ROOT / "scenarios/quickstart.toml").read_text())
    (tmp_path / "sweeps" / "s.toml").write_text(text)
    again = load_sweep(tmp_path / "sweeps" / "s.toml")
    assert [r.key for r in again.runs()] == [r.key for r in sweep.runs()]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("vm_counts", "2, x", "VM counts: 'x' is not a number"),
        ("vm_counts", "0", "axes.vm_count[0]"),
        ("policies", "demand, nosuch", "unknown policy 'nosuch'"),
        ("fixed", "duration_ms = ", "fixed settings: not valid TOML"),
        ("extra_axes", '"host.pcpus" = [0]', "axes.host.pcpus"),
    ],
)
def test_a_bad_form_shows_a_named_error_and_starts_nothing(
    field: str, value: str, words: str
) -> None:
    """A bad field is reported by name in `error`; no sweep starts."""
    state = SweepState()
    small_form(state)
    setattr(state, field, value)
    assert state.launch() is False
    assert words in state.error
    assert not state.running


@pytest.mark.slow
def test_a_launch_runs_on_a_local_cluster_and_fills_the_results() -> None:
    """Launch runs the sweep on 2 local workers in the background; progress, the table, the
    density and heatmap data and both downloads follow from it."""
    view = create_sweep_view()
    state = view.state
    # Before any results: a few lines on what a sweep is, none of the results' own controls.
    assert view.intro.visible and "**density**" in view.intro.object
    assert not any(p.visible for p in (view.table, view.heat_controls, view.downloads))
    small_form(state)
    seen: list[int] = []
    state.param.watch(lambda e: seen.append(e.new), "done")
    assert state.launch() is True
    assert state.running and view.cancel_button.disabled is False
    assert state.join(timeout_s=180), "the sweep did not end within 180 s"
    assert state.error == ""
    assert not state.running
    frame = state.results
    assert len(frame) == 8 and seen[-1] == 8
    assert list(frame.columns) == [
        "run", "policy", "vm_count", "seed", "slowdown", "major_faults"
    ]  # fmt: skip
    assert state.heat_x == "policy" and state.heat_y == "vm_count"
    assert not view.intro.visible
    assert all(p.visible for p in (view.table, view.heat_controls, view.downloads))

    dens = density_data(frame, target_slowdown=1e6)
    assert set(dens["group"]) == {"demand", "demand:victims=random"}
    assert set(dens["density"]) == {5}  # every count meets an unreachable-to-miss target
    dens = density_data(frame, target_slowdown=1.0)
    assert set(dens["density"]) == {0}  # these runs all swap, so none meets 1.0
    cells = heatmap_data(frame, "policy", "vm_count", "slowdown")
    assert len(cells) == 4
    expected = frame.groupby(["policy", "vm_count"])["slowdown"].mean().to_numpy()
    assert cells["slowdown"].to_numpy().tolist() == expected.tolist()
    density_figure(frame, 1.5).get_root()
    heatmap_figure(frame, "policy", "vm_count", "slowdown").get_root()

    csv = pd.read_csv(state.results_csv())
    pd.testing.assert_frame_equal(csv, frame)
    pd.testing.assert_frame_equal(
        pd.read_parquet(io.BytesIO(state.results_parquet().read())), frame
    )

    # A second launch of the same form takes every run from the session's journal.
    assert state.launch() is True
    assert state.join(timeout_s=60)
    assert state.cached == 8 and "8 from earlier launches" in state.status
    pd.testing.assert_frame_equal(state.results, frame)
    folder = state._journal.path.parent
    state.close()
    assert not folder.exists()


@pytest.mark.slow
def test_an_unreachable_address_ends_as_a_message_not_a_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Launching on an address where no scheduler listens ends with a readable error."""
    monkeypatch.setenv("VMSWAP_SWEEP_ADDRESSES", "tcp://127.0.0.1:9")  # the operator allows it
    state = SweepState()
    small_form(state)
    state.cluster = "address"
    state.address = "tcp://127.0.0.1:9"
    assert state.launch() is True
    assert state.join(timeout_s=60), "still waiting after 60 s: a hang"
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in state.error
    assert "launch again to resume" in state.error
    assert not state.running
    state.close()
