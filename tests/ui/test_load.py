"""Many users on one server: 20 sessions (websocket clients driving the page's own protocol,
see benchmarks/load_sessions.py) play at once on the served app; the server stays responsive,
each session sees only its own seed and run, and the server's memory comes back after they
close, also after the heaviest link a session may open. Plus, without a server: nothing a
session changes lives in module globals, and a closed session leaves no widget behind.

Asserts behaviour and generous bounds, never a time; the benchmark prints the figures."""

from __future__ import annotations

import gc
import importlib.util
import logging
import runpy
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.served import Served, served_app

ROOT = Path(__file__).resolve().parents[2]
N_SESSIONS = 20
PLAY_S = 1.0  # all of them play at least this long...
MIN_FRAMES = 3  # ... and until every one had this many frames (a busy machine takes longer)
MAX_PLAY_S = 240.0  # a session with fewer frames after this long is starved: the test fails
# Seeds per session: the one shown and one more in the background, still computing while the
# others play (the app's default of 5 would add 60 more simulations to the test's cost and
# nothing to what it checks).
N_SEEDS = 2
# What the server may keep after 20 sessions closed, over its RSS after a first round of 20
# (a leaked session is ~10 MiB, so 20 of them exceed this).
KEPT_MIB = 150.0
RETURNED_MIB = 100.0  # what a closed heavy session may leave behind
SETTLE_S = 120.0  # generous: collecting and trimming waits for the event loop


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


@pytest.fixture(scope="module")
def load_server() -> Iterator[Served]:
    """The app served as users run it, but discarding closed sessions within about a second
    (Bokeh's defaults, 15 s + 17 s, would only make these tests wait), and without the warm-up
    of the default scenario: these sessions open links, and its CPU would only slow them."""
    command = load_sessions().serve_command()
    with served_app(command, name="load-server", env={"VMSWAP_WARM": "none"}) as app:
        yield app


@pytest.mark.ui
@pytest.mark.slow  # 3-10 min on a busy 2-core machine: 41 websocket sessions, 41 simulations
def test_twenty_sessions_play_at_once_and_stay_apart(load_server: Served) -> None:
    """20 sessions each set their own seed and play at max speed together: every one keeps
    getting frames of its own run (none is starved, however busy the machine), reads its own
    seed back, /liveness answers throughout; once they closed, every session's runner thread
    has ended and the server's RSS is back near its level before them; a page closed while
    playing leaves no traceback through the app's code in the server's log."""
    ls = load_sessions()
    pid = load_server.proc.pid
    start = ls.rss_mib(pid)
    # As many first sessions, on one seed (one simulation): imports, first-use allocations
    # and the allocator's high-water mark of 20 open pages are not a leak.
    warm = ls.run_load(load_server.url, N_SESSIONS, 0.5, pid=pid, own_seeds=False, n_seeds=N_SEEDS)
    assert warm.errors == []
    baseline = ls.rss_after_close(pid)  # the warm-up sessions discarded
    baseline_threads = ls.threads(pid)

    load = ls.run_load(
        load_server.url,
        N_SESSIONS,
        PLAY_S,
        seed_base=ls.SEED_BASE,
        pid=pid,
        min_frames=MIN_FRAMES,
        max_play_s=MAX_PLAY_S,
        n_seeds=N_SEEDS,
    )
    peak = max([*load.rss_during_mib, ls.rss_mib(pid)])
    assert load.errors == []
    for s in load.sessions:
        assert len(s.rtts_s) >= MIN_FRAMES, (
            f"session {s.seed} got {len(s.rtts_s)} frames in {load.play_s:.0f} s of play"
        )
        assert s.read_back_seed == s.seed, f"session {s.seed} reads {s.read_back_seed}"
        assert s.widget_seed == s.seed
        assert s.message == "", s.message
        assert all(0 <= f < 100 for f in s.frames)
    assert load.liveness_s, "the server answered no /liveness request while they played"

    # A tab closed while its frames are in flight: the writes that fail are no error.
    assert ls.close_while_playing(load_server.url, ls.session_link(ls.LINK_SEED, N_SEEDS)) == ""
    after = ls.settle_rss(pid, baseline + KEPT_MIB, SETTLE_S)
    deadline = time.monotonic() + SETTLE_S
    while ls.threads(pid) > baseline_threads and time.monotonic() < deadline:
        time.sleep(0.5)
    after_threads = ls.threads(pid)
    rtts = load.rtts_s
    print(
        f"\n{N_SESSIONS} sessions ready in {load.ready_s:.0f} s, played {load.play_s:.1f} s: "
        f"frame round trip p50 {ls.percentile(rtts, 0.5) * 1e3:.0f} ms, "
        f"p95 {ls.percentile(rtts, 0.95) * 1e3:.0f} ms; "
        f"/liveness p95 {ls.percentile(load.liveness_s, 0.95) * 1e3:.0f} ms; RSS start "
        f"{start:.0f} MiB, after a first round {baseline:.0f}, "
        f"peak {peak:.0f}, after closing {after:.0f} MiB; "
        f"threads {baseline_threads} before, {after_threads} after"
    )
    # Every session was torn down: its runner thread ended (controller.close, runner.shutdown).
    assert after_threads <= baseline_threads
    assert after <= baseline + KEPT_MIB, (start, baseline, peak, after)
    # (Bokeh's own tracebacks are not checked: on a very busy machine a client that gave up
    # waiting for its page leaves some, which say nothing about the app.)
    log = load_server.log_text()
    ours = [line for line in log.splitlines() if f'File "{ROOT / "webapp"}' in line]
    assert "never retrieved" not in log and ours == [], log[-3000:]


@pytest.mark.ui
@pytest.mark.slow  # ~20-40 s: the heaviest recording a link may ask for, twice (A and B)
def test_a_closed_heavy_session_gives_its_memory_back(load_server: Served) -> None:
    """The heaviest link the budget allows (4,096 frames of 2,048 columns per VM with a
    keyframe at every frame: ~0.9 GB of recordings in one session) is opened until its first
    frame, then closed: the server's RSS returns to within 100 MB of its level before."""
    ls = load_sessions()
    pid = load_server.proc.pid
    # Warm: imports and first-use allocations are not what a session keeps.
    assert ls.open_until_first_frame(load_server.url, ls.session_link()) == ""
    before = ls.rss_after_close(pid)
    peaks: list[float] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peaks.append(ls.rss_mib(pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert ls.open_until_first_frame(load_server.url, ls.heavy_link()) == ""
    finally:
        done.set()
        watcher.join()
    peak = max(peaks)
    after = ls.settle_rss(pid, before + RETURNED_MIB, SETTLE_S)
    print(
        f"\nserver RSS before {before:.0f} MiB, peak {peak:.0f} MiB, after closing {after:.0f} MiB"
    )
    assert peak > before + 2 * RETURNED_MIB, "the link was not heavy: it proves nothing"
    assert after <= before + RETURNED_MIB, (before, peak, after)


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


def test_opening_a_session_retries_only_a_timed_out_upgrade() -> None:
    """A websocket upgrade that timed out (a busy server) is tried again, up to the limit;
    any other error is reported at once, not hidden by retries."""
    ls = load_sessions()
    calls: list[int] = []

    def slow_twice() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("error code: 599, given message: Timeout during request")
        return "session"

    assert ls.open_session(slow_twice, attempts=3) == "session" and len(calls) == 3
    calls.clear()
    with pytest.raises(OSError, match="Timeout"):
        ls.open_session(slow_twice, attempts=2)

    def refused() -> str:
        calls.append(1)
        raise OSError("Connection refused")

    calls.clear()
    with pytest.raises(OSError, match="refused"):
        ls.open_session(refused)
    assert len(calls) == 1


def test_the_benchmark_client_reads_thousands_of_messages_on_a_flat_stack() -> None:
    """bokeh.client, with the benchmark's reader installed, applies every one of 5,000
    messages in order and stops when its loop's predicate holds, without RecursionError (its
    own reader nests three frames per message)."""
    import asyncio

    from bokeh.client.connection import ClientConnection
    from bokeh.client.states import CONNECTED_AFTER_ACK

    load_sessions().read_messages_in_a_loop()
    applied: list[int] = []

    class Message:
        def __init__(self, n: int) -> None:
            self.n, self.msgtype = n, "PATCH-DOC" if n % 2 else "OK"

    class Session:
        def _handle_patch(self, message: Message) -> None:
            applied.append(message.n)

    class Loop:
        stopped = False

        def stop(self) -> None:
            self.stopped = True

    pending = list(range(5_000))
    connection: Any = ClientConnection.__new__(ClientConnection)

    async def pop() -> Message | None:
        await asyncio.sleep(0)  # a real read suspends too
        return Message(pending.pop(0)) if pending else None

    connection._pop_message = pop
    connection._session, connection._loop = Session(), Loop()
    connection._state = CONNECTED_AFTER_ACK()
    connection._until_predicate = lambda: len(applied) >= 2_400
    # On a thread of its own: a browser test before this one in the same process leaves
    # Playwright's event loop running on the main thread, where asyncio.run is refused.
    errors: list[BaseException] = []

    def read() -> None:
        try:
            asyncio.run(connection._next())
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(timeout=120)
    assert not reader.is_alive() and errors == []
    assert applied == list(range(1, 4_800, 2)) and connection._loop.stopped


def test_another_sessions_events_change_nothing_on_this_page() -> None:
    """Panel's process-wide busy state goes on and off around every event of every session
    (a click, a typed seed); a page built by the app is not told: none of its models changes
    (else each click of one visitor sends a message to every open page)."""
    import panel as pn
    from bokeh.document import Document

    from tests.security import new_session
    from webapp.layout import build
    from webapp.views.sidebar import Sidebar
    from webapp.views.transport import Transport

    session = new_session({"run": [load_sessions().session_link().encode()]})
    state, controller = session.state, session.controller
    sidebar = Sidebar(state, controller, deferred=True)
    transport = Transport(state, controller)
    template, _ = build(state, controller, session.dashboard, sidebar, transport, deferred=True)
    indicators = list(pn.state._indicators)
    doc = template.server_doc(Document())
    changes: list[Any] = []
    doc.on_change(changes.append)
    try:
        pn.state._add_busy_event("another-session-click")
        assert pn.state.busy  # the process-wide flag did go on...
        pn.state._remove_busy_event("another-session-click")
        assert changes == []  # ... and this page heard nothing of it
    finally:
        transport.close()
        pn.state._indicators[:] = indicators
