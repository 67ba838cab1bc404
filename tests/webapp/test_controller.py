"""The controller without a browser: re-runs, messages, frames, keys, the VM table, links,
limits and downloads."""

from __future__ import annotations

import ast
import csv
import io
import json
import tomllib
from pathlib import Path

import pytest

from engine import from_dict, loads_scenario
from webapp.controller import DEBOUNCE_S, URL_DEBOUNCE_S, Controller, SyncRunner
from webapp.state import SessionState, default_policies
from webapp.views.dashboard import Dashboard

ROOT = Path(__file__).resolve().parents[2]


def test_state_module_imports_no_panel():
    """webapp/state.py is plain param: no panel or bokeh import."""
    tree = ast.parse((ROOT / "webapp" / "state.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m for m in names if m.split(".")[0] in ("panel", "bokeh")}


def test_sessions_share_no_state(timers):
    """Two sessions get distinct state, scenario and policy objects."""
    s1, s2 = SessionState(), SessionState()
    assert s1.scenario is not s2.scenario and s1.policy_a is not s2.policy_a
    assert s1.policy_b.switches is not s2.policy_b.switches
    s1.scenario.seed = 99
    assert s2.scenario.seed != 99


def test_loading_a_file_sets_scenario_and_default_policies(timers):
    """quickstart loads with demand in A and another registered policy in B."""
    state = SessionState()
    c = Controller(state, Dashboard(), SyncRunner(), timers)
    c.load_file("quickstart", run=False)
    assert state.scenario.name == "quickstart" and state.scenario_file == "quickstart"
    assert state.policy_a.policy == "demand"
    _, b = default_policies(state.scenario.policy)
    assert state.policy_b.policy == b["name"]


def test_an_edit_reruns_after_the_debounce(app, timers):
    """Changing a widget's parameter runs again only once the debounce has passed."""
    state, c, _ = app
    before = state.runs
    started = c.runs_started
    state.scenario.seed = state.scenario.seed + 1
    state.scenario.seed = state.scenario.seed + 1  # a second edit within the debounce
    assert c.runs_started == started
    timers.advance(DEBOUNCE_S + 0.01)
    assert c.runs_started == started + 1
    assert state.runs is not before and state.runs.scenario_dict["seed"] == state.scenario.seed
    assert state.message == ""


def test_an_edit_after_a_failing_watcher_still_reruns(app, timers):
    """The controller's own switch to 'custom' is silenced only while it lasts: a watcher that
    raises during it leaves the next edit an edit (it re-runs), not ignored for the session."""
    state, c, _ = app
    c.load_file("quickstart", run=False)  # a shipped file: an edit switches to 'custom'
    calls: list[str] = []

    def fails_once(event) -> None:
        calls.append(event.new)
        if len(calls) == 1:
            raise RuntimeError("a view failed")

    state.param.watch(fails_once, "scenario_file")
    with pytest.raises(RuntimeError, match="a view failed"):
        state.scenario.seed = state.scenario.seed + 1
    assert not c._quiet
    started = c.runs_started
    state.scenario.seed = state.scenario.seed + 1
    timers.advance(DEBOUNCE_S + 0.01)
    assert c.runs_started == started + 1
    assert state.runs.scenario_dict["seed"] == state.scenario.seed


def test_a_policy_switch_changes_run_b(app, timers):
    """Flipping one of B's switches re-runs with that switch in B's policy."""
    state, _, _ = app
    state.policy_b.switches.victims = "random"
    timers.advance(DEBOUNCE_S + 0.01)
    assert state.runs.policy_b["victims"] == "random"


def test_a_bad_edit_keeps_the_last_good_run(app, timers):
    """A cross-field error shows a message naming the field; the run on display stays."""
    state, _, _ = app
    good = state.runs
    state.scenario.host.low_watermark_pct = 40.0
    state.scenario.host.high_watermark_pct = 10.0
    timers.advance(DEBOUNCE_S + 0.01)
    assert "low_watermark_pct" in state.message and "last good run" in state.message
    assert state.runs is good


def test_oversized_scenarios_are_refused(app, timers):
    """A run too big for the shared server is refused with the reason."""
    state, _, _ = app
    state.scenario.duration_ms = 60_000.0
    timers.advance(DEBOUNCE_S + 0.01)
    assert "too large for the web app" in state.message


def test_trace_paths_must_stay_under_the_trace_roots(app, timers):
    """A trace workload pointing outside scenarios/ or the shared traces is refused."""
    state, _, _ = app
    good = state.runs
    w = state.scenario.vms[0].workload
    w.path = "/etc/passwd"
    w.kind = "trace"
    timers.advance(DEBOUNCE_S + 0.01)
    assert "trace files must lie under" in state.message and state.runs is good


def test_steps_keys_and_bounds(app):
    """Steps and shortcuts move the frame and stay within the run."""
    state, c, _ = app
    n = state.runs.n_frames
    c.step(1)
    assert state.frame == 1
    state.step_n = 3
    c.key("forward_n:7")
    assert state.frame == 4
    c.key("back:8")
    assert state.frame == 3
    c.key("last:9")
    assert state.frame == n - 1
    c.step(100)
    assert state.frame == n - 1
    c.key("first:10")
    assert state.frame == 0
    c.key("toggle:11")
    assert state.playing
    c.key("back:12")
    assert not state.playing and state.frame == 0


def test_play_sends_the_next_frame_only_after_the_paint(app, timers):
    """At max speed each painted acknowledgement releases exactly one more frame."""
    state, c, d = app
    state.speed = 0
    state.playing = True
    assert state.frame == 1
    seq = d.seq
    timers.advance(0.5)
    assert state.frame == 1  # nothing more without an acknowledgement
    c.painted(seq)
    assert state.frame == 2 and d.seq == seq + 1
    c.painted(seq)  # a stale acknowledgement releases nothing
    assert state.frame == 2


def test_play_waits_for_the_next_frame_to_be_due(app, timers):
    """At 10 simulated ms per second, 5 ms frames are due every 0.5 s."""
    state, c, d = app
    state.speed = 10
    state.playing = True
    first = state.frame
    c.painted(d.seq)
    assert state.frame == first
    timers.advance(0.51)
    assert state.frame == first + 1


def test_a_slow_browser_makes_playback_skip_frames(app, timers):
    """When paints come late the player jumps to where the play position is."""
    state, c, d = app
    state.speed = 1000  # 5 ms frames due every 5 ms of wall time
    state.playing = True
    timers.advance(0.006)
    assert state.frame == 1
    timers.t += 0.02  # the browser took 20 ms to paint
    c.painted(d.seq)
    assert state.frame >= 4


def test_lost_acknowledgements_do_not_stall_playback(app, timers):
    """Without an acknowledgement for 2 s the player moves on (hidden tab, lost message)."""
    state, _, _ = app
    state.speed = 0
    state.playing = True
    timers.advance(2.1)
    assert state.frame == 2


def test_loop_wraps_and_no_loop_stops(app, timers):
    """At the last frame playback wraps to 0 with loop on, and stops with loop off."""
    state, c, d = app
    n = state.runs.n_frames
    state.speed = 0
    c.goto(n - 2)
    state.loop = True
    state.playing = True
    assert state.frame == n - 1
    c.painted(d.seq)
    assert state.frame == 0
    c.goto(n - 1)
    state.loop = False
    state.playing = True  # at the end, play starts from the beginning
    assert state.frame == 0
    state.playing = False
    c.goto(n - 2)
    state.playing = True
    assert state.frame == n - 1 and state.playing
    c.painted(d.seq)
    assert state.frame == n - 1 and not state.playing


def test_the_url_is_written_only_while_paused(app, timers):
    """Frames during playback write no URL; pausing writes one (debounced) share link."""
    state, c, d = app
    timers.advance(URL_DEBOUNCE_S + 0.01)
    urls = c.urls
    urls.clear()
    state.speed = 0
    state.playing = True
    for _ in range(3):
        c.painted(d.seq)
        timers.advance(URL_DEBOUNCE_S + 0.01)
    assert urls == []
    state.playing = False
    timers.advance(URL_DEBOUNCE_S + 0.01)
    assert len(urls) == 1 and urls[0].startswith("?run=v1.")
    assert state.share_url == "http://x/app" + urls[0]


def test_a_share_link_reproduces_the_run_in_a_fresh_session(app, timers):
    """The link opened by a new session gives the same scenario, policies, frame and VM."""
    state, c, _ = app
    state.policy_b.switches.victims = "fifo"
    timers.advance(DEBOUNCE_S + 0.01)
    c.goto(5)
    state.selected_vm = 1
    query = c.share_query()
    fresh = SessionState()
    c2 = Controller(fresh, Dashboard(), SyncRunner(), timers)
    assert c2.load_link(query.split("=", 1)[1])
    assert fresh.runs.scenario_dict == state.runs.scenario_dict
    assert fresh.runs.policy_a == state.runs.policy_a
    assert fresh.runs.policy_b == state.runs.policy_b
    assert (fresh.frame, fresh.selected_vm) == (5, 1)
    assert fresh.runs.a.result.summary == state.runs.a.result.summary


def test_a_bad_link_says_so_and_falls_back(timers):
    """A damaged link leaves a readable message and the default scenario loaded."""
    state = SessionState()
    c = Controller(state, Dashboard(), SyncRunner(), timers)
    assert not c.load_link("v1.not-a-real-link", run=False)
    assert state.message.startswith("Could not open the shared link:")
    assert "Traceback" not in state.message
    assert state.scenario.name == "quickstart"


def test_vm_table_add_duplicate_remove(app, timers):
    """Rows are added with unique names, duplicated with their settings, removed (not the last)."""
    state, c, _ = app
    names = lambda: [vm.name for vm in state.scenario.vms]  # noqa: E731
    n = len(names())
    c.add_vm()
    assert len(names()) == n + 1 and len(set(names())) == n + 1
    assert state.selected_vm == n
    state.scenario.vms[0].workload.zipf_alpha = 1.3
    c.duplicate_vm(0)
    assert state.scenario.vms[1].workload.zipf_alpha == 1.3
    assert state.scenario.vms[1].workload is not state.scenario.vms[0].workload
    assert len(set(names())) == n + 2
    timers.advance(DEBOUNCE_S + 0.01)
    assert len(state.runs.vm_names) == n + 2
    while len(state.scenario.vms) > 1:
        c.remove_vm(0)
    c.remove_vm(0)
    assert len(state.scenario.vms) == 1 and "at least one VM" in state.message


def test_downloads_are_readable(app):
    """The TOML loads back to the scenario with A's policy; CSV and JSON hold both panes."""
    state, c, _ = app
    toml_text = c.download_toml()
    back = loads_scenario(toml_text)
    assert back.to_dict()["vms"] == state.runs.scenario_dict["vms"]
    assert back.policy == state.runs.policy_a
    tomllib.loads(toml_text)
    rows = list(csv.DictReader(io.StringIO(c.download_csv())))
    assert len(rows) == 2 * (len(state.runs.vm_names) + 1)
    assert {r["pane"] for r in rows} == {"A", "B"}
    doc = json.loads(c.download_json())
    assert set(doc["results"]) == {"A", "B"} and doc["scenario"] == state.runs.scenario_dict


def test_a_failed_simulation_is_a_message_not_a_crash(app, timers, monkeypatch):
    """An unexpected error in a run becomes a one-line message; the last run stays."""
    state, _, _ = app
    good = state.runs
    import webapp.controller as ctl

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ctl, "compute_pair", boom)
    state.scenario.seed += 1
    timers.advance(DEBOUNCE_S + 0.01)
    assert "RuntimeError: disk on fire" in state.message and state.runs is good
    assert "\n" not in state.message


def test_from_dict_accepts_what_the_app_runs(app):
    """The scenario dict on display validates through the engine schema."""
    state, _, _ = app
    assert from_dict(state.runs.scenario_dict).to_dict() == state.runs.scenario_dict


def test_the_thread_runner_hands_results_back_through_post():
    """Results and errors of the worker thread reach `done` only via `post` (the event loop)."""
    import threading as th

    from webapp.runner import ThreadRunner

    posted: list = []
    arrived = th.Event()

    def post(fn):
        posted.append(fn)
        arrived.set()

    runner = ThreadRunner(post)
    got: list = []
    runner.submit(lambda: 42, got.append)
    assert arrived.wait(10)
    assert got == []  # nothing ran on the worker thread's side
    posted.pop()()
    assert got == [42]
    arrived.clear()
    runner.submit(lambda: 1 / 0, got.append)
    assert arrived.wait(10)
    posted.pop()()
    assert isinstance(got[-1], ZeroDivisionError)
    runner.shutdown()


def test_socket_tuning_is_a_no_op_without_a_session():
    """Outside a served session there are no sockets to tune, and nothing fails."""
    from webapp.wire import corked, no_delay, session_sockets

    assert session_sockets(None) == []
    no_delay(None)
    with corked(None):
        pass


def test_an_uploaded_trace_attaches_to_the_selected_vm(app, timers, tmp_path):
    """A trace from the Traces tab drives the selected VM; the upload folder is accepted for
    this session only, and a path outside every allowed folder is still refused."""
    import numpy as np

    from webapp.trace_view import TraceState

    state, c, _ = app
    uploads = TraceState(c.attach_trace)
    c.trace_roots.append(uploads.upload_dir)
    path = uploads.upload_dir / "t.npz"
    np.savez(path, pages=np.arange(300, dtype=np.int64) % 200, writes=np.zeros(300, dtype=bool))
    state.selected_vm = 1
    c.attach_trace({"kind": "trace", "path": str(path), "format": "npz"})
    assert "trace now drives" in state.message
    timers.advance(DEBOUNCE_S + 0.01)
    assert state.runs.scenario_dict["vms"][1]["workload"]["kind"] == "trace"

    outside = tmp_path / "elsewhere.npz"
    np.savez(outside, pages=np.arange(10, dtype=np.int64))
    c.attach_trace({"kind": "trace", "path": str(outside), "format": "npz"})
    good = state.runs
    timers.advance(DEBOUNCE_S + 0.01)
    assert state.runs is good
    assert "trace files must lie under" in state.message
    uploads.close()


def test_each_download_button_serves_its_own_file(app):
    """The transport bar's three download buttons: each file holds what its name says."""
    from webapp.views.transport import Transport

    state, c, _ = app
    transport = Transport(state, c)
    served = {d.filename.rsplit(".", 1)[1]: d.callback().getvalue() for d in transport.downloads}
    assert served == {
        "toml": c.download_toml(),
        "csv": c.download_csv(),
        "json": c.download_json(),
    }
    transport.close()
