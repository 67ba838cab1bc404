"""What a visitor can make the server read, or reach: scenario names stay in scenarios/ (no
`..`, absolute paths or symlinks out), a link's trace paths stay under the trace roots, a
message never shows where the server keeps its files, the server listens on 127.0.0.1 unless
told otherwise, and the Sweep tab does not connect to an address a visitor types."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from engine import load_scenario
from tests.security import ROOT, apply_link, new_session, problems_of, raw_link, small_link
from tests.served import served_app

OUTSIDE = """name = "outside"
description = "a scenario file that lies outside scenarios/"
duration_ms = 50.0
[[vms]]
name = "leak"
memory_mib = 4
"""


def payload() -> dict[str, Any]:
    import base64
    import json
    import zlib

    return json.loads(zlib.decompress(base64.urlsafe_b64decode(small_link()[3:] + "==")))


def webapp_modules() -> list[Any]:
    """The loaded webapp modules (a name such as SCENARIO_DIR is bound in several)."""
    return [m for name, m in sorted(sys.modules.items()) if name.startswith("webapp") and m]


@pytest.fixture
def scenarios_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of scenarios/ the web app uses instead of the real one, and a file outside it."""
    import webapp.controller  # noqa: F401 - load every module that binds the folder

    copy_dir = tmp_path / "app" / "scenarios"
    shutil.copytree(ROOT / "scenarios", copy_dir, symlinks=True)
    (tmp_path / "outside.toml").write_text(OUTSIDE, encoding="utf-8")
    real = ROOT / "scenarios"
    for module in webapp_modules():
        for name, value in list(vars(module).items()):
            if isinstance(value, Path) and value == real:
                monkeypatch.setattr(module, name, copy_dir)
            elif isinstance(value, tuple) and real in value:
                monkeypatch.setattr(
                    module, name, tuple(copy_dir if v == real else v for v in value)
                )
    return copy_dir


# -- scenario names ------------------------------------------------------------------------------


def test_the_picker_offers_only_the_shipped_scenarios() -> None:
    """The scenario picker's choices are the stems of scenarios/*.toml (and 'from a link')."""
    from webapp.state import CUSTOM, SessionState

    shipped = sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml"))
    assert SessionState().param.scenario_file.objects == [CUSTOM, *shipped]


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "../README", "sweeps/x"])
def test_the_picker_refuses_a_name_it_does_not_offer(name: str) -> None:
    """Setting the picker to any other name is refused before a file is opened."""
    session = new_session()
    before = session.state.scenario
    with pytest.raises(ValueError):
        session.state.scenario_file = name
    assert session.state.scenario is before


@pytest.mark.parametrize("how", ["relative", "absolute", "dotdot-etc"])
def test_load_file_stays_in_scenarios(how: str, scenarios_copy: Path) -> None:
    """Controller.load_file (what the picker calls) opens only a shipped scenario; any other
    name is refused with a message that names no server path."""
    outside = scenarios_copy.parent.parent / "outside"
    name = {
        "relative": f"../../{outside.name}",
        "absolute": str(outside),
        "dotdot-etc": "../../../../../../etc/passwd",
    }[how]
    session = new_session()
    before = session.state.scenario
    session.controller.load_file(name, run=False)  # raises nothing
    assert session.state.scenario is before, "a file outside scenarios/ was loaded"
    assert problems_of(session.state.message) == [], session.state.message
    assert str(scenarios_copy) not in session.state.message


def test_a_symlink_out_of_scenarios_is_not_a_scenario(scenarios_copy: Path) -> None:
    """A scenarios/*.toml symlink to a file elsewhere is neither offered nor loaded."""
    from webapp.state import SessionState, scenario_files

    (scenarios_copy / "escape.toml").symlink_to(scenarios_copy.parent.parent / "outside.toml")
    assert "escape" not in scenario_files()
    assert "escape" not in SessionState().param.scenario_file.objects
    session = new_session()
    before = session.state.scenario
    session.controller.load_file("escape", run=False)
    assert session.state.scenario is before
    assert session.state.message


def test_a_symlink_inside_scenarios_still_works(scenarios_copy: Path) -> None:
    """A symlink that stays inside scenarios/ is an ordinary shipped scenario."""
    from webapp.state import scenario_files

    (scenarios_copy / "alias.toml").symlink_to(scenarios_copy / "quickstart.toml")
    assert "alias" in scenario_files()
    session = new_session()
    session.controller.load_file("alias", run=False)
    assert session.state.scenario.name == "quickstart", session.state.message


# -- trace paths inside a link's scenario ------------------------------------------------------


def link_with_trace(path: str, *, component: bool = False) -> str:
    data = copy.deepcopy(payload())
    trace = {"kind": "trace", "path": path}
    if component:
        trace = {"kind": "mixture", "components": [{"kind": "uniform", "pages": 64}, trace]}
    data["s"]["vms"][0]["workload"] = trace
    return raw_link(data)


ESCAPES = [
    "/etc/passwd",
    "/proc/self/environ",
    "//etc/passwd",
    "../../../../../../etc/passwd",
    "traces/../../../../../../etc/shadow",
    "../webapp/app.py",
    "../.git/config",
    str(Path.home() / ".ssh" / "id_rsa"),
]


@pytest.mark.parametrize("component", [False, True], ids=["workload", "mixture-component"])
@pytest.mark.parametrize("path", ESCAPES)
def test_a_trace_path_out_of_the_trace_roots_is_refused(path: str, component: bool) -> None:
    """A link's trace path that resolves outside scenarios/ and the shared traces is refused
    with a message, before anything is read."""
    session = new_session({"run": [small_link().encode()]})
    before = session.state.scenario
    assert apply_link(session, link_with_trace(path, component=component)) is False
    assert session.state.scenario is before
    assert "trace files must lie under" in session.state.message
    assert problems_of(session.state.message) == []


def test_a_symlinked_trace_out_of_the_roots_is_refused(scenarios_copy: Path) -> None:
    """A link naming a symlink that lies in scenarios/ but points out is refused."""
    (scenarios_copy / "traces" / "escape.trace").symlink_to("/etc/passwd")
    session = new_session({"run": [small_link().encode()]})
    assert apply_link(session, link_with_trace("traces/escape.trace")) is False
    assert "trace files must lie under" in session.state.message


def test_a_trace_path_inside_the_roots_is_taken() -> None:
    """A link to a shipped trace (relative to scenarios/) opens."""
    shipped = sorted((ROOT / "scenarios" / "traces").glob("*.npz"))
    assert shipped
    session = new_session({"run": [small_link().encode()]})
    assert apply_link(session, link_with_trace(f"traces/{shipped[0].name}")), session.state.message


def test_every_shipped_scenario_keeps_its_traces_inside_the_roots() -> None:
    """The trace paths of every shipped scenario pass the same check a link's do."""
    from webapp.controller import resolve_traces

    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        resolve_traces(load_scenario(path).to_dict())


@pytest.mark.parametrize("path", ["traces/no-such.trace", "traces"])
def test_a_failed_trace_run_names_no_server_path(path: str) -> None:
    """A link's missing trace (or a folder) is reported without the server's folders."""
    from webapp.controller import SyncRunner

    session = new_session({"run": [link_with_trace(path).encode()]})
    session.controller.runner = SyncRunner()
    session.controller.start_run()
    assert session.state.message.startswith("Not run"), session.state.message
    assert problems_of(session.state.message) == [], session.state.message


# -- the address the server listens on ----------------------------------------------------------


def make_run_command() -> list[str]:
    """The command `make run` runs (make -n prints it without running anything)."""
    # Under `make test` this runs inside make: drop the parent's flags and directory notes.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", "run", "PORT=PORT"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    lines = [x for x in out.replace("\\\n", " ").split("\n") if not x.startswith("make")]
    line = " ".join(lines[-2:])
    serve = re.search(r"(\S*python\S*\s+-m\s+panel\s+serve\s+.*)", line)
    assert serve, out
    return serve.group(1).split()


def test_make_run_serves_on_127_0_0_1() -> None:
    """`make run` passes --address 127.0.0.1 and allows websocket origins on that host only."""
    cmd = make_run_command()
    assert cmd[cmd.index("--address") + 1] == "127.0.0.1"
    origins = [cmd[i + 1] for i, c in enumerate(cmd) if c == "--allow-websocket-origin"]
    assert origins and all(o.split(":")[0] in ("127.0.0.1", "localhost") for o in origins)


@pytest.mark.slow
def test_the_served_app_listens_on_loopback_only() -> None:
    """The command `make run` runs, started on a free port, listens on 127.0.0.1 and nowhere
    else."""
    cmd = [sys.executable if c.endswith("python") else c for c in make_run_command()]
    with served_app(cmd, name="security-address") as app:
        proc = psutil.Process(app.proc.pid)
        family = {
            (c.laddr.ip, c.laddr.port)
            for p in [proc, *proc.children(recursive=True)]
            for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        }
    assert family, "the server listens nowhere"
    assert {ip for ip, _ in family} == {"127.0.0.1"}, family


def test_the_readme_and_docs_say_how_to_expose_it() -> None:
    """README and docs/security.md name the address, the websocket origins and a proxy."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "127.0.0.1" in readme and "--allow-websocket-origin" in readme
    doc = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    for needed in ("--address", "--allow-websocket-origin", "reverse proxy", "authentication"):
        assert needed in doc, needed


# -- the Sweep tab's scheduler address ---------------------------------------------------------


def held_sweeps(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Replace the sweep runner: a launched sweep is recorded and ends at once (nothing
    connects, no cluster starts)."""
    from engine.errors import VmswapError
    from webapp import sweep_view

    calls: list[Any] = []

    def held(*args: Any, **kwargs: Any) -> None:
        calls.append(kwargs)
        raise VmswapError("held by the test")

    monkeypatch.setattr(sweep_view, "run_sweep", held)
    return calls


def launch(state: Any) -> bool:
    try:
        return bool(state.launch())
    finally:
        state.cancel()
        state.join(60)


def test_a_visitor_cannot_point_the_sweep_at_a_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without VMSWAP_SWEEP_ADDRESSES set by whoever runs the server, a sweep on an address
    is refused with a message and nothing connects."""
    from webapp.sweep_view import SweepState

    monkeypatch.delenv("VMSWAP_SWEEP_ADDRESSES", raising=False)
    calls = held_sweeps(monkeypatch)
    s = SweepState(cluster="address", address="tcp://127.0.0.1:9", vm_counts="1", seeds=1)
    assert not launch(s)
    assert calls == []
    assert "address" in s.error


def test_the_operator_may_allow_a_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    """An address listed in VMSWAP_SWEEP_ADDRESSES is used as typed."""
    from webapp.sweep_view import SweepState

    monkeypatch.setenv("VMSWAP_SWEEP_ADDRESSES", "tcp://127.0.0.1:9")
    calls = held_sweeps(monkeypatch)
    s = SweepState(cluster="address", address="tcp://127.0.0.1:9", vm_counts="1", seeds=1)
    assert launch(s)
    assert calls and calls[0]["address"] == "tcp://127.0.0.1:9"


def test_a_visitor_cannot_start_more_workers_than_cores() -> None:
    """A local sweep asks for at most as many workers as the server has cores (or 2)."""
    from webapp.sweep_view import SweepState

    hi = SweepState(vm_counts="1", seeds=1).param.workers.bounds[1]
    assert hi is not None and hi <= max(2, os.cpu_count() or 1)


def test_a_sweep_launched_from_the_page_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """8 VM counts x every policy x 1,000 seeds is refused from the page, with a message."""
    from webapp.sweep_view import SweepState

    calls = held_sweeps(monkeypatch)
    s = SweepState(vm_counts="1, 2, 3, 4, 5, 6, 7, 8", seeds=1000)
    assert not launch(s)
    assert calls == []
    assert "runs" in s.error
