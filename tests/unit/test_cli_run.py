"""`vmswap run` and `vmswap validate`: output contract, determinism, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.cli import main
from engine.overcommit import touched_pages
from engine.scenario import load_scenario
from tests.conftest import ROOT, SCENARIOS

QUICK = str(SCENARIOS / "quickstart.toml")
SHORT = ["--set", "duration_ms=150"]


def test_run_json_has_the_contract_keys(capsys):
    """--json prints one object with scenario, runs, and the summary keys users script on."""
    assert main(["run", QUICK, *SHORT, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scenario"] == "quickstart"
    summary = out["runs"][0]["summary"]
    for key in (
        "major_faults",
        "minor_faults",
        "stall_fraction",
        "swap_in_pages",
        "swap_out_pages",
        "slowdown",
        "sim_time_ns",
        "references",
    ):
        assert key in summary
    assert out["runs"][0]["policy"] == "demand"
    assert len(out["runs"][0]["vms"]) == 4


def test_run_several_policies(capsys):
    """--policy repeats: one run per policy, in order."""
    assert main(["run", QUICK, *SHORT, "--policy", "demand", "--policy", "demand", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["policy"] for r in runs] == ["demand", "demand"]
    assert runs[0]["summary"] == runs[1]["summary"]


def test_policy_switches_reach_the_policies_named_with_policy(capsys):
    """With --policy, `--set policy.X` is a switch of each named policy that takes it: the
    oracle's prefetch_ms and demand's victims in one command, though quickstart's own
    table is demand's."""
    args = ["run", QUICK, "--set", "duration_ms=300", "--policy", "oracle", "--policy", "demand"]
    args.append("--json")
    assert main([*args, "--set", "policy.prefetch_ms=0", "--set", "policy.victims=clock"]) == 0
    switched = json.loads(capsys.readouterr().out)["runs"]
    assert main(args) == 0
    plain = json.loads(capsys.readouterr().out)["runs"]
    assert [r["policy"] for r in switched] == ["oracle", "demand"]
    # No prefetch: the oracle issues none; clock instead of LRU: demand faults differently.
    assert switched[0]["summary"]["prefetch_issued"] == 0 < plain[0]["summary"]["prefetch_issued"]
    assert switched[1]["summary"]["major_faults"] != plain[1]["summary"]["major_faults"]


def test_setting_policy_name_starts_the_new_policy_from_its_defaults(capsys):
    """`--set policy.name=oracle` drops the scenario's demand switches (the oracle has none of
    them) and keeps the oracle switches set beside it, before or after the name."""
    base = ["run", QUICK, "--set", "duration_ms=300", "--json"]
    assert main([*base, "--set", "policy.prefetch_ms=0", "--set", "policy.name=oracle"]) == 0
    before = json.loads(capsys.readouterr().out)["runs"][0]
    assert main([*base, "--set", "policy.name=oracle", "--set", "policy.prefetch_ms=0"]) == 0
    after = json.loads(capsys.readouterr().out)["runs"][0]
    assert main([*base, "--policy", "oracle", "--set", "policy.prefetch_ms=0"]) == 0
    chosen = json.loads(capsys.readouterr().out)["runs"][0]
    assert before["policy"] == "oracle"
    assert before["summary"] == after["summary"] == chosen["summary"]
    assert before["summary"]["prefetch_issued"] == 0


def test_same_scenario_gives_byte_identical_json():
    """Two processes running the same scenario and seed print the same bytes."""
    cmd = [sys.executable, "-m", "engine.cli", "run", QUICK, *SHORT, "--json"]
    a = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True).stdout
    b = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=True).stdout
    assert a == b and len(a) > 100


def test_table_is_readable(capsys):
    """The default output is a table with labelled rows."""
    assert main(["run", QUICK, *SHORT]) == 0
    out = capsys.readouterr().out
    assert "major faults" in out and "slowdown" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nope.toml"], "no such scenario file"),
        (["run", QUICK, "--set", "host.pcpus=0"], "host.pcpus"),
        (["run", QUICK, "--set", "host.pcpu=2"], "did you mean 'pcpus'"),
        (["run", QUICK, "--policy", "lruu"], "unknown policy"),
        (["run", QUICK, "--policy", "oracle", "--set", "policy.victims=lru"], "allowed: fault"),
        (["run", QUICK, "--policy", "oracle", "--set", "policy.name=demand"], "with --policy"),
        (["run", QUICK, "--set", "policy.name=oracle", "--set", "policy.victims=lru"], "victims"),
        (["validate", "nope.toml"], "no such scenario file"),
    ],
)
def test_user_errors_are_one_line_exit_2(args, message):
    """Every error a user can cause exits non-zero with one line and no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_validate_reports_overcommit(capsys):
    """validate exits 0 for a good file and says how overcommitted it is as configured (guest
    memory ÷ host memory), naming it so: the real figure counts touched pages only."""
    assert main(["validate", QUICK]) == 0
    out = capsys.readouterr().out
    assert "configured overcommit 1.50x" in out
    assert "real overcommit" not in out


def test_validate_real_gives_the_touched_pages_over_frames(capsys):
    """With --real, validate also gives the real overcommit: the distinct pages an
    unlimited-memory run touches ÷ frames (engine.overcommit's, the descriptions' figure)."""
    assert main(["validate", QUICK, "--real"]) == 0
    out = capsys.readouterr().out
    scenario = load_scenario(QUICK)
    touched = touched_pages(scenario)
    assert f"real overcommit {touched / scenario.host_frames:.2f}x" in out
    assert f"{touched:,} distinct pages touched" in out


def test_validate_rejects_bad_file(tmp_path, capsys):
    """validate exits 2 on a bad file, naming the field."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[vms]]\nname = "a"\nvcpus = 0\n')
    assert main(["validate", str(bad)]) == 2
    assert "vms[0].vcpus" in capsys.readouterr().err


IMPORTS_OF_RUN = """
import sys
from engine.cli import main
main(["run", {quick!r}, "--set", "duration_ms=20", "--json"])
print(" ".join(sorted(m for m in sys.modules if m.startswith("engine."))))
"""


def test_run_imports_no_other_command():
    """`vmswap run` imports its own command's module, not the other commands' (nor the sweep
    package, density or capture behind them), so it does not wait for them."""
    proc = subprocess.run(
        [sys.executable, "-c", IMPORTS_OF_RUN.format(quick=QUICK)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    modules = set(proc.stdout.split("\n")[-2].split())
    assert "engine.cli.run" in modules
    for other in ("engine.cli.sweep", "engine.cli.compare", "engine.sweep", "engine.capture"):
        assert other not in modules


def test_help_lists_every_command(capsys):
    """`vmswap --help` (no command first) still lists every sub-command."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("run", "validate", "replay", "mrc", "capture", "sweep", "density", "ablate"):
        assert command in out


AS_THE_PROGRAM = """
import atexit, sys
from engine.cli import main
atexit.register(lambda: print("exit handlers ran"))
sys.argv = ["vmswap", *sys.argv[1:]]
main()
print("main returned")
"""


@pytest.mark.parametrize(("file", "status"), [(QUICK, 0), ("nope.toml", 2)])
def test_the_program_ends_its_process_with_the_commands_status(file, status):
    """main() run as the program (no argv) ends the process with the command's exit status
    and its output flushed, without Python's exit handlers; from code (with argv) it returns."""
    proc = subprocess.run(
        [sys.executable, "-c", AS_THE_PROGRAM, "validate", file],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == status
    assert ("overcommit" in proc.stdout) == (status == 0)
    assert "main returned" not in proc.stdout
    assert "exit handlers ran" not in proc.stdout
    assert main(["validate", QUICK]) == 0
