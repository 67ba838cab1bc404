"""Sweeps: the file schema, the grid, run keys and the journal; then real Dask clusters: the
same table from 1 and 2 workers, resume after an interrupt, and dead workers as clear errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dask
import pandas as pd
import psutil
import pytest
from distributed import Client, LocalCluster

from engine.cli import main as cli_main
from engine.density import evaluate_here
from engine.sweep import (
    ClusterError,
    Journal,
    Progress,
    SweepError,
    journal_path,
    load_sweep,
    open_client,
    results_frame,
    run_sweep,
    sweep_from_dict,
)

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"
SWEEPS = sorted((ROOT / "scenarios" / "sweeps").glob("*.toml"))


def tiny(**over: Any) -> dict[str, Any]:
    """8 short runs that swap: two demand variants × 2 and 5 VMs × 2 seeds (~0.1–0.5 s each)."""
    data: dict[str, Any] = {
        "name": "tiny",
        "base": str(QUICKSTART),
        "seeds": [1, 2],
        "set": {"duration_ms": 40.0, "host.memory_mib": 32},
        "axes": {
            "policy": ["demand", {"label": "esx", "name": "demand", "victims": "random"}],
            "vm_count": [2, 5],
        },
    }
    data.update(over)
    return data


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(SweepError) as info:
        sweep_from_dict(data, source="s.toml")
    return str(info.value)


@pytest.fixture(scope="module")
def serial_frame() -> pd.DataFrame:
    """The tiny sweep run in this process, one run after another, without Dask."""
    sweep = sweep_from_dict(tiny())
    return results_frame(sweep, evaluate_here(sweep.runs()))


# -- the file schema -------------------------------------------------------------------------


@pytest.mark.parametrize("path", SWEEPS, ids=[p.name for p in SWEEPS])
def test_shipped_sweep_files_load_and_expand(path: Path) -> None:
    """Every sweep in scenarios/sweeps validates and expands to distinct runs."""
    sweep = load_sweep(path)
    runs = sweep.runs()
    assert len(runs) == sweep.n_runs > 1
    assert len({r.key for r in runs}) == len(runs)


def test_unknown_key_is_named_with_a_hint() -> None:
    """A misspelt top-level key names itself, suggests the right one and lists the allowed."""
    data = tiny()
    data["axis"] = data.pop("axes")
    msg = error_of(data)
    assert msg.startswith("s.toml: axis: unknown key (did you mean 'axes'?)")


@pytest.mark.parametrize(
    ("axes", "field", "words"),
    [
        ({"host.pcpus": [2, 0]}, "axes.host.pcpus", ["0", "an integer from 1 to 256"]),
        ({"host": {"pcpus": [2, 0]}}, "axes.host.pcpus", ["an integer from 1 to 256"]),
        ({"device.preset": ["nvme-ssd", "nvme"]}, "axes.device.preset", ["did you mean"]),
        ({"vm_count": [2, 300]}, "axes.vm_count[1]", ["300", "from 1 to 256"]),
        ({"overcommit": [1.5, 0]}, "axes.overcommit[1]", ["above 0"]),
        ({"policy": ["demand", "nosuch"]}, "axes.policy", ["unknown policy 'nosuch'"]),
        ({"host.pcpus": []}, "axes.host.pcpus", ["at least one value"]),
        ({"host.pcpus": 4}, "axes.host.pcpus", ["expected a list"]),
        ({"host.pcpus": [2, 2]}, "axes.host.pcpus[1]", ["listed twice"]),
        ({"host.pcpus": [2, "x"]}, "axes.host.pcpus", ["mix"]),
        ({"seed": [1, 2]}, "axes.seed", ["seeds"]),
        ({"vms[9].memory_mib": [64]}, "axes.vms[9].memory_mib", ["out of range"]),
    ],
)
def test_a_bad_axis_is_named_with_its_value(axes: dict, field: str, words: list[str]) -> None:
    """Each bad axis gives one message naming the file, the axis and what is allowed."""
    msg = error_of(tiny(axes=axes))
    assert msg.startswith(f"s.toml: {field}: "), msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"seeds": []}, "seeds", ["non-empty list"]),
        ({"seeds": [1, -1]}, "seeds[1]", ["-1"]),
        ({"seeds": 0}, "seeds", ["count from 1"]),
        ({"metrics": ["slowdwn"]}, "metrics[0]", ["did you mean 'slowdown'"]),
        ({"base": "nowhere.toml"}, "base", ["no such scenario file"]),
        ({"base": 3}, "base", ["path of a scenario file"]),
        ({"set": {"host.pcpus": 0}}, "set", ["host.pcpus"]),
        ({"set": {"vm_count": 0}}, "set.vm_count", ["from 1 to 256"]),
    ],
)
def test_bad_top_level_values_are_named(over: dict, field: str, words: list[str]) -> None:
    """Seeds, metrics, base and fixed settings are checked with the field in the message."""
    msg = error_of(tiny(**over))
    assert msg.startswith(f"s.toml: {field}: "), msg
    for w in words:
        assert w in msg, msg


def test_too_many_runs_is_refused() -> None:
    """A grid above the limit is an error before anything is expanded."""
    msg = error_of(tiny(seeds=1000, axes={"host.swap_mib": list(range(1000, 1200))}))
    assert "200,000 runs" in msg


# -- the grid --------------------------------------------------------------------------------


def test_grid_order_columns_and_labels() -> None:
    """Runs come in grid order (axes as written, seeds innermost) with labelled columns."""
    sweep = sweep_from_dict(tiny())
    assert sweep.columns[:4] == ["run", "policy", "vm_count", "seed"]
    got = [(r.labels["policy"], r.labels["vm_count"], r.labels["seed"]) for r in sweep.runs()]
    assert got[:4] == [("demand", 2, 1), ("demand", 2, 2), ("demand", 5, 1), ("demand", 5, 2)]
    assert got[4][0] == "esx"
    assert sweep.runs()[4].scenario["policy"]["victims"] == "random"


def test_vm_count_trims_or_replicates_in_turn() -> None:
    """vm_count keeps the first VMs or appends copies in turn, with unique names."""
    sweep = sweep_from_dict(tiny(axes={"vm_count": [1, 6]}, seeds=[1]))
    one, six = (r.scenario["vms"] for r in sweep.runs())
    assert [v["name"] for v in one] == ["web"]
    assert [v["name"] for v in six] == ["web", "db", "batch", "cache", "web-2", "db-2"]
    assert six[4]["workload"] == six[0]["workload"]


def test_overcommit_sizes_host_memory_after_the_vm_count() -> None:
    """overcommit sets host memory to the final VMs' total over the ratio."""
    sweep = sweep_from_dict(tiny(axes={"vm_count": [4, 8], "overcommit": [2.0]}, seeds=[1]))
    assert [r.scenario["host"]["memory_mib"] for r in sweep.runs()] == [4 * 96 // 2, 8 * 96 // 2]


def test_wildcard_path_reaches_every_vm_including_replicas() -> None:
    """`vms[*].field` sets the field in every VM, after vm_count has replicated them."""
    sweep = sweep_from_dict(tiny(axes={"vm_count": [6], "vms[*].memory_mib": [64, 80]}, seeds=[1]))
    for run, size in zip(sweep.runs(), (64, 80), strict=True):
        assert [v["memory_mib"] for v in run.scenario["vms"]] == [size] * 6


def test_policy_name_keeps_base_switches_and_a_table_replaces_them() -> None:
    """A policy name equal to the base's keeps its switches; a table is taken as written."""
    base = sweep_from_dict(tiny(seeds=[1])).base["policy"]
    sweep = sweep_from_dict(
        tiny(seeds=[1], axes={"policy": ["demand", {"name": "demand", "readahead": "off"}]})
    )
    named, table = (r.scenario["policy"] for r in sweep.runs())
    assert named == base
    assert table["readahead"] == "off" and table["victims"] == "lru"  # schema default


def test_run_keys_are_stable_and_follow_every_parameter() -> None:
    """The same sweep read twice gives the same keys; any parameter change gives new ones."""
    a = [r.key for r in sweep_from_dict(tiny()).runs()]
    b = [r.key for r in sweep_from_dict(tiny()).runs()]
    c = [
        r.key
        for r in sweep_from_dict(tiny(set={"duration_ms": 41.0, "host.memory_mib": 32})).runs()
    ]
    assert a == b
    assert not set(a) & set(c)


# -- the journal -----------------------------------------------------------------------------


def test_journal_skips_a_cut_line_and_never_glues_to_it(tmp_path: Path) -> None:
    """A line cut short by a kill is ignored, and the next record starts on its own line."""
    j = Journal(tmp_path / "r.runs.jsonl")
    j.append("a", {"summary": {"x": 1}})
    with j.path.open("a") as f:
        f.write('{"run": "b", "summ')
    j.append("c", {"summary": {"x": 3}})
    assert j.load() == {"a": {"x": 1}, "c": {"x": 3}}
    assert journal_path("out/results.parquet") == Path("out/results.runs.jsonl")


def test_cli_reports_a_bad_sweep_in_one_line(tmp_path: Path, capsys: Any) -> None:
    """`vmswap sweep` prints a user error as one line and exits 2, before any cluster starts."""
    bad = tmp_path / "bad.toml"
    bad.write_text(f'base = "{QUICKSTART}"\n[axes]\n"host.pcpus" = [0]\n')
    assert cli_main(["sweep", str(bad), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "axes.host.pcpus" in err and "from 1 to 256" in err
    assert cli_main(["sweep", str(bad), "--out", str(tmp_path / "r.xlsx")]) == 2


# -- real Dask clusters ----------------------------------------------------------------------


@pytest.mark.slow
def test_one_and_two_workers_give_the_serial_table(
    tmp_path: Path, serial_frame: pd.DataFrame
) -> None:
    """1 and 2 local workers give exactly the in-process table, written and read back."""
    sweep = sweep_from_dict(tiny())
    frames = {}
    for n in (1, 2):
        seen: list[Progress] = []
        outcome = run_sweep(sweep, workers=n, progress=seen.append)
        assert outcome.ran == 8 and outcome.cached == 0
        assert seen[-1].done == 8 and max(p.workers for p in seen) == n
        frames[n] = outcome.frame
    pd.testing.assert_frame_equal(frames[1], serial_frame)
    pd.testing.assert_frame_equal(frames[2], serial_frame)
    assert serial_frame["major_faults"].sum() > 0  # the 5-VM runs do swap
    from engine.sweep import write_results

    write_results(frames[2], tmp_path / "r.parquet")
    write_results(frames[2], tmp_path / "r.csv")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), serial_frame)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "r.csv"), serial_frame)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_without_rerunning(
    tmp_path: Path, serial_frame: pd.DataFrame
) -> None:
    """Ctrl-C (SIGINT) on `vmswap sweep` after some runs keeps them; the rerun runs only the
    rest, every run is journalled once, and the table equals an uninterrupted one."""
    sweep_file = tmp_path / "tiny.toml"
    sweep_file.write_text(
        f'base = "{QUICKSTART}"\nseeds = [1, 2]\n'
        '[set]\nduration_ms = 40.0\n"host.memory_mib" = 32\n[axes]\n'
        'policy = ["demand", { label = "esx", name = "demand", victims = "random" }]\n'
        "vm_count = [2, 5]\n"
    )
    out = tmp_path / "results.parquet"
    journal = journal_path(out)
    cmd = [sys.executable, "-m", "engine.cli", "sweep", str(sweep_file), "--out", str(out)]
    # Ctrl-C's default action in the child, whatever this process inherited: a test run
    # started in the background of a script has SIGINT ignored, and the child would inherit
    # that and finish every run instead of stopping.
    proc = subprocess.Popen(
        [*cmd, "--workers", "1"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    spawned: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            spawned.update(p.pid for p in _descendants(proc.pid))
            if journal.exists() and journal.read_text().count("\n") >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "resume" in err
    first = Journal(journal).load()
    assert 2 <= len(first) < 8
    deadline = time.monotonic() + 20
    while any(psutil.pid_exists(pid) for pid in spawned) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in spawned if psutil.pid_exists(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "the interrupted sweep left worker processes behind"

    done = subprocess.run(
        [*cmd, "--workers", "2"], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert f"({len(first)} from the journal, {8 - len(first)} run now)" in done.stderr
    lines = [line for line in journal.read_text().splitlines() if line.strip()]
    keys = [line.split('"run": "')[1][:20] for line in lines]
    assert len(keys) == len(set(keys)) == 8, "a finished run was run again"
    pd.testing.assert_frame_equal(pd.read_parquet(out), serial_frame)


def _in_thread(target: Any, timeout_s: float) -> BaseException | None:
    """Run target in a thread; its exception, or a failure if it outlives the timeout."""
    box: list[BaseException | None] = [None]

    def body() -> None:
        try:
            target()
        except BaseException as exc:
            box[0] = exc

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(timeout_s)
    assert not t.is_alive(), f"still waiting after {timeout_s} s: a hang"
    return box[0]


@pytest.mark.slow
def test_a_worker_killed_under_a_run_is_a_clear_error() -> None:
    """SIGKILL of the worker process mid-run, with no retry allowed: a ClusterError naming the
    run and the dead worker within the timeout, not a hang."""
    sweep = sweep_from_dict(tiny(set={"duration_ms": 600.0}, seeds=[1, 2, 3]))
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            # As engine.sweep.cluster does: the scheduler's HTTP server on a free local port, so
            # another cluster on the machine holding 8787 cannot fail this test.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=50,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        pids = list(client.run(os.getpid).values())

        def kill_after_first(p: Progress) -> None:
            if p.done == 1:
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)

        error = _in_thread(
            lambda: run_sweep(sweep, client=client, progress=kill_after_first), timeout_s=120
        )
    assert isinstance(error, ClusterError), repr(error)
    msg = str(error)
    assert "the worker running it died" in msg and "Dask gave up" in msg
    assert "1 of 12 runs finished" in msg
    assert "policy=" in msg and "seed=" in msg


@pytest.mark.slow
def test_the_last_worker_of_a_remote_cluster_dying_is_a_clear_error() -> None:
    """On a cluster given by address, a killed `dask worker` with nobody to replace it gives a
    ClusterError after the grace period instead of waiting forever."""
    sweep = sweep_from_dict(tiny(set={"duration_ms": 600.0}, seeds=[1, 2, 3]))
    with LocalCluster(n_workers=0, dashboard_address=None, silence_logs=50) as scheduler:
        address = scheduler.scheduler_address
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
             "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:

            def kill_after_first(p: Progress) -> None:
                if p.done == 1:
                    worker.kill()

            error = _in_thread(
                lambda: run_sweep(
                    sweep, address=address, progress=kill_after_first, no_worker_grace_s=3
                ),
                timeout_s=120,
            )
        finally:
            worker.kill()
            worker.wait()
    assert isinstance(error, ClusterError), repr(error)
    assert "no Dask worker has been connected for 3 s (1 at the start)" in str(error)


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    """An address where no scheduler listens fails within the connect timeout, with advice."""
    expected = "cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 2 s"
    with (
        pytest.raises(ClusterError, match=expected),
        open_client("tcp://127.0.0.1:9", connect_timeout_s=2),
    ):
        pass


def test_a_policy_path_axis_refines_the_policy_axis() -> None:
    """`policy.victims` applies after the policy axis, to whichever policy it chose."""
    sweep = sweep_from_dict(
        tiny(seeds=[1], axes={"policy": ["demand"], "policy.victims": ["lru", "fifo"]})
    )
    assert [r.scenario["policy"]["victims"] for r in sweep.runs()] == ["lru", "fifo"]
    assert sweep.columns[:4] == ["run", "policy", "vm_count", "policy.victims"]


def test_progress_bar_on_a_pipe_prints_whole_lines_and_the_end() -> None:
    """Off a terminal the bar prints plain lines (at most every 10 s) and always the last."""
    import io

    from engine.cli.sweep import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar("s", stream=stream)
    for done in range(3, 11):
        bar(Progress(total=10, done=done, cached=3, workers=2, elapsed_s=done))
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("s [#########") and "3/10 runs (3 from the journal)" in lines[0]
    assert lines[-1].startswith("s [" + "#" * 30 + "] 10/10 runs (3 from the journal), 2 workers")
