"""Many users on one server: 20 sessions (websocket clients driving the page's own protocol,
see benchmarks/load_sessions.py) play at once on the served app; the server stays responsive,
each session sees only its own seed and run, and the server's memory comes back after they
close. Plus, without a server: nothing a session changes lives in module globals, and a
closed session leaves no widget behind.

Asserts behaviour and generous bounds, never a time; the benchmark prints the figures."""

from __future__ import annotations

import gc
import importlib.util
import logging
import runpy
import sys
import time
import uuid
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
N_SESSIONS = 20
PLAY_S = 6.0
# What the server may keep after 20 sessions closed, over its RSS after a first round of 20
# (the allocator keeps freed memory; a leaked session is ~10 MiB, so 20 of them exceed this).
KEPT_MIB = 150.0
DISCARD_S = 35.0  # Bokeh discards a closed session within 15 s + 17 s by default
SETTLE_S = 60.0


def load_sessions() -> ModuleType:
    """benchmarks/load_sessions.py, the driver shared with the benchmark."""
    name = "vmswap_load_sessions"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks/load_sessions.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def server_pid(app_url: str) -> int:
    """The process (a child of this one) listening on the app's port."""
    port = urlsplit(app_url).port
    for child in psutil.Process().children(recursive=True):
        try:
            conns = child.net_connections(kind="inet")
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns):
            return child.pid
    raise AssertionError(f"no child process listens on port {port}")


@pytest.mark.ui
@pytest.mark.slow
def test_twenty_sessions_play_at_once_and_stay_apart(app_url: str) -> None:
    """20 sessions each set their own seed, play at max speed together and pause: every one
    gets frames of its own run and reads its own seed back, /liveness answers throughout;
    once they closed, every session's runner thread has ended and the server's RSS is back
    near its level before them."""
    ls = load_sessions()
    pid = server_pid(app_url)
    start = ls.rss_mib(pid)
    warm = ls.run_load(app_url, N_SESSIONS, 2.0, seed_base=100, pid=pid)
    assert warm.errors == []
    time.sleep(DISCARD_S)  # the warm-up sessions are discarded: the baseline
    baseline, baseline_threads = ls.rss_mib(pid), ls.threads(pid)

    load = ls.run_load(app_url, N_SESSIONS, PLAY_S, seed_base=ls.SEED_BASE, pid=pid)
    peak = max([*load.rss_during_mib, ls.rss_mib(pid)])
    assert load.errors == []
    for s in load.sessions:
        assert s.rtts_s, f"session {s.seed} got no frame while playing"
        assert s.read_back_seed == s.seed, f"session {s.seed} reads {s.read_back_seed}"
        assert s.widget_seed == s.seed
        assert s.message == "", s.message
        assert all(0 <= f < 100 for f in s.frames)
    assert load.liveness_s, "the server answered no /liveness request while they played"

    time.sleep(DISCARD_S)
    after = ls.settle_rss(pid, baseline + KEPT_MIB / 2, SETTLE_S)
    after_threads = ls.threads(pid)
    rtts = load.rtts_s
    print(
        f"\n{N_SESSIONS} sessions: frame round trip p50 {ls.percentile(rtts, 0.5) * 1e3:.0f} ms, "
        f"p95 {ls.percentile(rtts, 0.95) * 1e3:.0f} ms; /liveness p95 "
        f"{ls.percentile(load.liveness_s, 0.95) * 1e3:.0f} ms; RSS start {start:.0f} MiB, "
        f"after a first round {baseline:.0f}, peak {peak:.0f}, after closing {after:.0f} MiB; "
        f"threads {baseline_threads} before, {after_threads} after"
    )
    # Every session was torn down: its runner thread ended (controller.close, runner.shutdown).
    assert after_threads <= baseline_threads
    assert after <= baseline + KEPT_MIB, (start, baseline, peak, after)


# -- without a server ----------------------------------------------------------------------------


def _module_state() -> dict[str, Any]:
    """Every mutable value bound at module level in webapp/ (its repr, to compare)."""
    out = {}
    for name, module in sorted(sys.modules.items()):
        if not name.startswith("webapp") or module is None:
            continue
        for key, value in vars(module).items():
            if isinstance(value, dict | list | set | bytearray) and not key.startswith("__"):
                out[f"{name}.{key}"] = repr(value)
    return out


def test_sessions_share_nothing_in_module_globals() -> None:
    """Two sessions built, run and edited differently leave every module-level dict, list and
    set of webapp/ as it was, and neither sees the other's edits (the run cache is shared
    by design: keyed by the inputs, it never holds a session's state)."""
    from tests.security import new_session, small_link
    from webapp.controller import SyncRunner

    new_session({"run": [small_link().encode()]})  # imports everything first
    before = _module_state()
    a = new_session({"run": [small_link(11).encode()]})
    b = new_session({"run": [small_link(12).encode()]})
    for s in (a, b):
        s.controller.runner = SyncRunner()
        s.controller.start_run()
    a.state.scenario.seed = 21
    b.state.step_n = 77
    b.state.speed = 0
    assert (a.state.scenario.seed, b.state.scenario.seed) == (21, 12)
    assert (a.state.step_n, a.state.speed) != (77, 0)
    assert a.state.runs is not b.state.runs and a.state.runs.a is not b.state.runs.a
    assert a.state.scenario is not b.state.scenario
    assert a.state.policy_a is not b.state.policy_a
    changed = {k for k, v in _module_state().items() if before.get(k) != v}
    assert changed <= {"webapp.runs.RUN_CACHE", "webapp.runner.RUN_CACHE"}, changed


def test_a_closed_session_leaves_no_widget_behind() -> None:
    """After a session ends (its transport closed, as app.py does when Bokeh discards it) no
    widget of its transport bar is still alive."""
    from tests.security import new_session
    from webapp.views.transport import Transport

    session = new_session()
    transport = Transport(session.state, session.controller)
    refs = [weakref.ref(w) for w in (transport.copy, transport.link, transport.play)]
    transport.close()
    del transport, session
    gc.collect()
    assert [r() for r in refs] == [None, None, None]


def test_running_the_app_script_registers_no_logger_per_session() -> None:
    """Executing webapp/app.py the way Bokeh does for each session adds no logger named
    after that session's module."""
    name = f"bokeh_app_{uuid.uuid4().hex}"
    runpy.run_path(str(ROOT / "webapp" / "app.py"), run_name=name)
    assert name not in logging.Logger.manager.loggerDict
