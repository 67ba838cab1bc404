"""Load: N concurrent sessions on one `panel serve`, each playing an animation.

Each session is a websocket client (`bokeh.client`, no browser) that does what the page's
JavaScript does: announces the document ready, acknowledges every frame it receives (the
`painted_seq` of the frame clock), sets its own seed in the seed field, picks "max" speed,
clicks Play, plays, clicks Pause and reads the share link back. Prints (a benchmark, never a
pass/fail on time):

- the frame round trip (acknowledgement sent → next frame received, less the time the server
  says it held that frame on purpose: the frame governor's pacing, see webapp/governor.py,
  which is the session's least interval and the wait for the send time it reserved so that
  frames reach the loop one at a time; a timer, not a queue: the loop serves others
  meanwhile), p50 and p95, for one session alone and for N together, and their ratio (a peer
  measured in the same run); also the raw time between acknowledgement and frame (pacing
  included), and frames per second per session (what the governor lowers);
- the latency of GET /liveness while the N sessions play, p50 and p95;
- the server's RSS (/proc/PID/status) at baseline, and at the peak and after the sessions
  closed in each of several rounds (does it creep?). The server discards a closed session
  within about a second (serve_command: Bokeh's defaults would take 15 s + 17 s).

The server runs in a process of its own (`panel serve`, as users run it). The clients run in
`--client-procs` processes of their own too (default 4, 5 sessions each for 20), not as 20
threads of one Python process: there they would queue for one interpreter lock to decode
their frames, and the round trip would measure the clients' queue as much as the server.
With 0 they run as threads of this process (what the test does: fewer processes to start).
The clients read the server's messages in a loop (`read_messages_in_a_loop`): bokeh.client's
own reader recurses once per message, and a session playing alone ended in RecursionError.

`tests/ui/test_load.py` drives the same `run_load` and asserts behaviour and bounds only.

Run: .venv/bin/python benchmarks/load_sessions.py [--sessions 20] [--seconds 8] [--rounds 3]
[--seeds N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import html
import multiprocessing
import re
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED_BASE = 1000  # session i sets seed SEED_BASE + i
LINK_SEED = 5  # the seed of the link every session opens
FIRST_FRAME_S = 180.0  # a cold, busy server simulates before the first frame
# The served app checks for closed sessions every DISCARD_MS and discards them DISCARD_MS
# after their connection closed (Bokeh's defaults, 17 s and 15 s, only make a test wait).
DISCARD_MS = 500


def serve_command(discard_ms: int = DISCARD_MS) -> list[str]:
    """`panel serve webapp/app.py` as users run it (PORT filled in by tests.served), but
    discarding closed sessions within about twice discard_ms."""
    return [
        sys.executable,
        *("-m", "panel", "serve", "webapp/app.py", "--address", "127.0.0.1", "--port", "PORT"),
        *("--allow-websocket-origin", "127.0.0.1:PORT", "--liveness"),
        *("--check-unused-sessions", str(discard_ms), "--unused-session-lifetime", str(discard_ms)),
        *("--setup", "webapp/warmup.py"),
    ]


def session_link(seed: int = LINK_SEED, n_seeds: int | None = None) -> str:
    """The share value every session opens: a small swapping scenario of 100 frames (short:
    20 sessions each simulate their own seed on a server with two cores), with n_seeds seeds
    (the app's default when None: the first shown, the others run in the background)."""
    from engine import from_dict
    from engine.policies import validate_policy
    from webapp import urlcodec
    from webapp.state import default_policies

    vms = [
        {"name": "a", "memory_mib": 4, "workload": {"kind": "zipf", "zipf_alpha": 0.8}},
        {"name": "b", "memory_mib": 4, "workload": {"kind": "scan", "pages": 700}},
        {"name": "c", "memory_mib": 4, "workload": {"kind": "uniform", "pages": 600}},
    ]
    scenario = from_dict(
        {
            "name": "load",
            "seed": seed,
            "duration_ms": 100.0,
            "host": {"pcpus": 2, "memory_mib": 6, "swap_mib": 64, "step_us": 500},
            "scheduler": {"kind": "credit", "slice_ms": 5.0},
            "recording": {"frame_ms": 1.0, "columns": 32},
            "vms": vms,
        }
    )
    a, b = default_policies(scenario.policy)
    return urlcodec.encode(
        scenario.to_dict(), validate_policy(a), validate_policy(b), n_seeds=n_seeds
    )


def heavy_scenario(n_vms: int) -> Any:
    """A scenario whose recording is as large as a link can make it per VM: 4,096 frames
    (the recorder's most), 2,048 columns per VM, a keyframe at every frame (each ~57 kB per
    VM: ~235 MB per VM per run). The simulated work itself is small (few references)."""
    from engine import from_dict
    from engine.recording import MAX_FRAMES

    frame_ms = 0.1  # the schema's least
    vms = [
        {
            "name": f"vm{i}",
            "memory_mib": 16,
            "workload": {"kind": "uniform", "cpu_ns_per_ref": 20_000},
        }
        for i in range(n_vms)
    ]
    return from_dict(
        {
            "name": "heavy recording",
            "seed": 3,
            "duration_ms": MAX_FRAMES * frame_ms,
            # a frame is taken at a step: steps as short as frames
            "host": {"pcpus": 1, "memory_mib": 8 * n_vms, "swap_mib": 64 * n_vms, "step_us": 100},
            "recording": {"frame_ms": frame_ms, "columns": 2048, "keyframe_every": 1},
            "vms": vms,
        },
        source="link",
    )


def heavy_link() -> str:
    """The share value of the heaviest heavy_scenario the budget allows (the most VMs whose
    recording it accepts). A budget that does not count recording bytes yet gets 2 VMs
    (~470 MB per run, what a 512 MiB recording budget allows): more would test the machine,
    not the server."""
    from engine.errors import VmswapError
    from engine.policies import validate_policy
    from engine.scenario import budget
    from webapp import urlcodec
    from webapp.runner import check_limits
    from webapp.state import default_policies

    check_recording = getattr(budget, "check_recording", None)
    scenario = heavy_scenario(2)
    if check_recording is not None:
        for n_vms in range(8, 0, -1):
            try:
                scenario = heavy_scenario(n_vms)
                check_limits(scenario)
                check_recording(scenario)
            except VmswapError:
                continue
            break
    a, b = default_policies(scenario.policy)
    return urlcodec.encode(scenario.to_dict(), validate_policy(a), validate_policy(b))


def open_until_first_frame(url: str, link: str, first_frame_s: float = FIRST_FRAME_S) -> str:
    """Open a session on link, wait until its first frame is shown (its runs are computed),
    close it; the error ("" when none)."""

    async def drive(doc: Any) -> None:
        clock = acknowledge_frames(doc)
        await until(lambda: clock.seq > 0, first_frame_s, "the first frame")

    # In a thread of its own: the caller's thread may already run an event loop (a test
    # process that also drives Chromium through Playwright's synchronous API does).
    out: list[str] = []
    worker = threading.Thread(target=lambda: out.append(run_client(url, link, drive)))
    worker.start()
    worker.join()
    return out[0] if out else "the client thread ended without a result"


def close_while_playing(url: str, link: str, frames: int = 3) -> str:
    """Open a session on link, play it at max speed and close it after `frames` frames, with
    frames still in flight (as a closed browser tab does); the error ("" when none)."""
    from bokeh.events import ButtonClick

    async def drive(doc: Any) -> None:
        seen: list[int] = []
        clock = acknowledge_frames(doc, seen.append)
        await until(lambda: clock.seq > 0, FIRST_FRAME_S, "the first frame")
        clock.painted_seq = clock.seq
        play = [m for m in doc.models if "vm-btn-play" in css_classes(m)]
        if not play:
            raise RuntimeError("the page has no play button")
        doc.callbacks.send_event(ButtonClick(play[0]))
        await until(lambda: len(seen) >= frames, FIRST_FRAME_S, f"{frames} frames")

    out: list[str] = []
    worker = threading.Thread(target=lambda: out.append(run_client(url, link, drive)))
    worker.start()
    worker.join()
    return out[0] if out else "the client thread ended without a result"


def css_classes(model: Any) -> list[str]:
    """A client model's CSS classes ([] for a model without the property). Asked of the class
    first: Bokeh answers a missing attribute of a model by ranking every property name by
    similarity (difflib) for its error message, and a session scanning the page's models
    that way built ~1,600 such messages that nobody reads."""
    if not hasattr(type(model), "css_classes"):
        return []
    return list(model.css_classes or [])


def shown_text(markup: str) -> str:
    """What a plain-text pane shows: its model's escaped markup without the tags."""
    return html.unescape(re.sub(r"<[^>]*>", "", html.unescape(markup))).strip()


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def rss_mib(pid: int) -> float:
    """Resident set of a process and its children, MiB (VmRSS in /proc/PID/status)."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def threads(pid: int) -> int:
    """Threads of a process (each open session that has simulated holds a runner thread)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


# -- one session -------------------------------------------------------------------------------


@dataclass
class SessionResult:
    seed: int
    rtts_s: list[float] = field(default_factory=list)  # less the server's deliberate hold
    raw_rtts_s: list[float] = field(default_factory=list)  # acknowledgement → next frame
    frames: list[int] = field(default_factory=list)
    read_back_seed: int | None = None
    widget_seed: int | None = None
    message: str = ""
    error: str = ""


class LoadSession:
    """One websocket client driving one session of the app; runs in its own thread with its
    own event loop (a Bokeh client document is not thread-safe)."""

    def __init__(self, url: str, seed: int, link: str, play: threading.Event, ready: Callable):
        self.url = url
        self.result = SessionResult(seed)
        self.link = link
        self.play = play
        self.ready = ready
        self.stop_play = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"load-{seed}", daemon=True)
        self._acked: dict[int, float] = {}
        self._playing_since = float("inf")

    def start(self) -> None:
        self.thread.start()

    def join(self, timeout_s: float) -> None:
        self.thread.join(timeout_s)

    def _run(self) -> None:
        self.result.error = run_client(self.url, self.link, self._drive)

    async def _drive(self, doc: Any) -> None:
        from bokeh.events import ButtonClick

        found: dict[str, Any] = {}
        scanned_at: dict[str, int] = {}

        def by_class(name: str) -> Any:
            # Polled every 50 ms by twenty sessions of one process: a scan of the document's
            # ~1,000 models each time cost the clients as much CPU as the server spent on all
            # the pages, so a model found is kept and the models are scanned again only
            # when their number changed (the editors arrive after the first frame).
            kept = found.get(name)
            if kept is not None and doc.get_model_by_id(kept.id) is not kept:
                del found[name]  # replaced (a rebuilt editor): look again
                scanned_at.pop(name, None)
            if name not in found and scanned_at.get(name) != len(doc.models):
                scanned_at[name] = len(doc.models)
                hits = [m for m in doc.models if name in css_classes(m)]
                if hits:
                    found[name] = hits[0]
            return found.get(name)

        def on_frame(seq: int) -> None:
            now = time.perf_counter()
            acked = self._acked.get(seq - 1, -1.0)
            if acked >= self._playing_since and not self.stop_play.is_set():
                held = float(getattr(clock, "held_ms", 0.0) or 0.0) / 1000.0
                self.result.raw_rtts_s.append(now - acked)
                self.result.rtts_s.append(max(0.0, now - acked - held))
                self.result.frames.append(int(clock.frame))
            self._acked[seq] = time.perf_counter()

        clock = acknowledge_frames(doc, on_frame)
        await until(lambda: clock.seq > 0, FIRST_FRAME_S, "the first frame")
        clock.painted_seq = clock.seq
        self._acked[clock.seq] = time.perf_counter()

        # Its own seed, typed into the seed field (there once the first frame was painted).
        await until(lambda: by_class("vm-field-seed") is not None, FIRST_FRAME_S, "the seed field")
        by_class("vm-field-seed").value = self.result.seed
        await until(
            lambda: self._share_seed(by_class("vm-share-url")) == self.result.seed,
            FIRST_FRAME_S,
            "the run of its seed",
        )
        by_class("vm-speed").value = "0"  # max: every frame, as fast as acknowledged
        self.ready()
        await until(self.play.is_set, 3600, "the others")  # run_load bounds the wait
        play = by_class("vm-btn-play")
        doc.callbacks.send_event(ButtonClick(play))
        self._playing_since = time.perf_counter()
        await until(self.stop_play.is_set, 3600, "the end of play")
        doc.callbacks.send_event(ButtonClick(play))
        await asyncio.sleep(1.0)  # the share link is written once paused (debounced)
        await until(lambda: "Play" in str(play.label), 60, "the pause")
        self.result.read_back_seed = self._share_seed(by_class("vm-share-url"))
        self.result.widget_seed = by_class("vm-field-seed").value
        message = by_class("vm-message")
        self.result.message = shown_text(str(getattr(message, "text", "") or ""))

    @staticmethod
    def _share_seed(link_input: Any) -> int | None:
        return _seed_of_link(str(getattr(link_input, "value", "") or ""))


@functools.lru_cache(maxsize=64)
def _seed_of_link(value: str) -> int | None:
    """The seed of a share link (None: not a link of a run). Cached: sessions poll their
    link every 50 ms, and it changes only when their run does."""
    from webapp import urlcodec

    if "run=" not in value:
        return None
    try:
        return urlcodec.decode(value.split("run=", 1)[1]).scenario.seed
    except urlcodec.LinkError:
        return None


OPEN_AT_ONCE = 4
_opening = threading.BoundedSemaphore(OPEN_AT_ONCE)


def run_client(url: str, link: str, drive: Callable[[Any], Any]) -> str:
    """Open one session of the app on `link` as a websocket client, run `await drive(doc)` on
    its document in this thread's own event loop, close it; the error ("" when none)."""
    import panel
    import panel.models.tabulator  # noqa: F401 - loaded lazily by Panel, needed here
    from bokeh.client import pull_session
    from tornado.ioloop import IOLoop

    # The app's own Bokeh models, which a client must know to read the document.
    # (the frame clock, the guided tour, the upload size check)
    from webapp.views import clock, tour_guide, upload_guard  # noqa: F401

    read_messages_in_a_loop()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    where = {"url": url, "io_loop": IOLoop.current(), "arguments": {"run": link}}
    error: list[str] = []
    try:
        # Pages are requested a few at a time: bokeh.client gives up on a page after 20 s
        # (a browser waits longer), and a cold server builds twenty at once more slowly.
        with _opening:
            session = open_session(lambda: pull_session(**where))
        done: list[bool] = []

        async def run() -> None:
            try:
                await drive(session.document)
            except Exception as exc:  # reported, not lost in a thread
                error.append(f"{type(exc).__name__}: {exc}")
            finally:
                done.append(True)
                session.close()

        IOLoop.current().add_callback(run)
        # The client reads the server's messages only while this runs (bokeh.client's own
        # testing loop; it returns once `run` closes the session).
        session._loop_until_closed()
        if not done and not error:
            error.append("the server closed the session")
    except Exception as exc:
        error.append(f"{type(exc).__name__}: {exc}")
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return error[0] if error else ""


def read_messages_in_a_loop() -> None:
    """Make bokeh.client read the server's messages in a loop rather than by recursion.

    Its connection reads each message in a coroutine that, once the message is applied,
    awaits the read of the next one (`_handle_messages` → `_next` → `CONNECTED_AFTER_ACK.run`
    → `_handle_messages` → ...): the chain of awaiting coroutines grows by three frames per
    message and unwinds only when the connection stops. A session playing alone at max speed
    receives a few hundred frames in seconds, and its client ended in `RecursionError`
    (raised wherever the stack happened to be deepest: in `make_id`, while the
    acknowledgement of a frame built its message); before that, every message resumed the
    whole chain, so the client's own cost per frame grew with the frames it had received.
    The loop below takes the same steps in the same order (apply a PATCH-DOC, ignore other
    messages, hand over to `_next` when the state changed or the loop's predicate holds) on
    a flat stack. Installed once per process, for the benchmark's and the test's clients."""
    from bokeh.client import connection, states

    cls: Any = connection.ClientConnection
    if getattr(cls, "_vmswap_flat_reads", False):
        return

    async def handle_messages(self: Any) -> None:
        while True:
            message = await self._pop_message()
            if message is None:
                error = states.ErrorReason.HTTP_ERROR
                closed = states.DISCONNECTED(error, 500, "Internal server error.")
                await self._transition_to_disconnected(closed)
                return
            if message.msgtype == "PATCH-DOC":
                self._session._handle_patch(message)
            until = self._until_predicate
            if not isinstance(self._state, states.CONNECTED_AFTER_ACK) or (
                until is not None and until()
            ):
                await self._next()  # stops the loop, or runs the new state
                return

    cls._handle_messages = handle_messages
    cls._vmswap_flat_reads = True


OPEN_ATTEMPTS = 3


def open_session(pull: Callable[[], Any], attempts: int = OPEN_ATTEMPTS) -> Any:
    """`pull()` (bokeh.client.pull_session), tried again when it timed out: bokeh.client
    gives up on the websocket upgrade after 20 s, where a browser keeps waiting, and a server
    building twenty pages on a busy machine can take longer. Other errors are not retried."""
    for attempt in range(1, attempts + 1):
        try:
            return pull()
        except OSError as exc:
            if "Timeout" not in str(exc) or attempt == attempts:
                raise
    raise AssertionError("unreachable")


def acknowledge_frames(doc: Any, on_frame: Callable[[int], None] | None = None) -> Any:
    """The page's frame clock, acknowledged as the page does after painting each frame (the
    player sends the next frame only then); `on_frame(seq)` is told of each one first."""
    from bokeh.events import DocumentReady

    clock = doc.get_model_by_name("vmswap-clock")
    if clock is None:
        raise RuntimeError("the page has no frame clock")

    def painted(attr: str, old: int, new: int) -> None:
        if on_frame is not None:
            on_frame(new)
        clock.painted_seq = new  # what the page's requestAnimationFrame callback does

    clock.on_change("seq", painted)
    doc.callbacks.send_event(DocumentReady())
    return clock


async def until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout_s:g} s")
        await asyncio.sleep(0.05)


# -- many sessions -------------------------------------------------------------------------------


@dataclass
class LoadReport:
    sessions: list[SessionResult]
    liveness_s: list[float]
    play_s: float
    rss_during_mib: list[float]
    ready_s: float = 0.0  # from opening the sessions until each showed its own seed

    @property
    def rtts_s(self) -> list[float]:
        return [r for s in self.sessions for r in s.rtts_s]

    @property
    def raw_rtts_s(self) -> list[float]:
        return [r for s in self.sessions for r in s.raw_rtts_s]

    def frames_per_s(self) -> list[float]:
        """Frames each session received per second of play."""
        return [len(s.rtts_s) / self.play_s for s in self.sessions] if self.play_s else []

    @property
    def errors(self) -> list[str]:
        return [f"seed {s.seed}: {s.error}" for s in self.sessions if s.error]


def run_load(
    url: str,
    n_sessions: int,
    play_s: float,
    seed_base: int = SEED_BASE,
    pid: int | None = None,
    join_s: float = 600.0,
    min_frames: int = 0,
    max_play_s: float = 300.0,
    own_seeds: bool = True,
    client_procs: int = 0,
    n_seeds: int | None = None,
) -> LoadReport:
    """Open n sessions, wait until each shows its own seed, play them all at once for play_s
    seconds while timing /liveness, pause, read back, close. With min_frames, play goes on
    (up to max_play_s) until every session has had that many frames: on a busy machine the
    server is slower, but each session must still be served. Without own_seeds every session
    keeps the link's seed: no session simulates anything but the first (a cheap warm-up of
    n open pages). With client_procs > 0 the sessions are spread over that many client
    processes (see the module's docstring). n_seeds: seeds per session (session_link)."""
    link = session_link(LINK_SEED, n_seeds)
    if client_procs > 0:
        return _run_load_in_processes(
            url, n_sessions, play_s, seed_base, pid, join_s, min_frames, max_play_s, own_seeds,
            client_procs, link,
        )  # fmt: skip
    play = threading.Event()
    ready: list[int] = []
    lock = threading.Lock()

    def one_ready() -> None:
        with lock:
            ready.append(1)

    seeds = [seed_base + i if own_seeds else LINK_SEED for i in range(n_sessions)]
    sessions = [LoadSession(url, seed, link, play, one_ready) for seed in seeds]
    for s in sessions:
        s.start()
    deadline = time.monotonic() + join_s
    ready_s, liveness, rss, played_s = _ready_then_play(
        url,
        lambda: len(ready) + sum(not s.thread.is_alive() for s in sessions) >= n_sessions,
        lambda: any(len(s.result.rtts_s) < min_frames and s.thread.is_alive() for s in sessions),
        play,
        (join_s, play_s, max_play_s),
        pid,
    )
    for s in sessions:
        s.stop_play.set()
    for s in sessions:
        s.join(max(1.0, deadline - time.monotonic()))
    return LoadReport([s.result for s in sessions], liveness, played_s, rss, ready_s)


def _ready_then_play(
    url: str,
    all_ready: Callable[[], bool],
    short: Callable[[], bool],
    play: Any,
    seconds: tuple[float, float, float],
    pid: int | None,
) -> tuple[float, list[float], list[float], float]:
    """Wait (up to join_s) until every session is ready or ended (an error ends one: waiting
    for it would wait in vain), then set `play` and time /liveness (and the server's RSS)
    for play_s, or longer while some live session is `short` of frames, up to max_play_s.
    Returns (ready_s, liveness_s, rss_mib, played_s)."""
    join_s, play_s, max_play_s = seconds
    opened = time.monotonic()
    while time.monotonic() < opened + join_s and not all_ready():
        time.sleep(0.1)
    ready_s = time.monotonic() - opened
    liveness: list[float] = []
    rss: list[float] = []
    play.set()
    started = time.monotonic()
    end, give_up = started + play_s, started + max(play_s, max_play_s)
    base = url.rsplit("/", 1)[0]
    while time.monotonic() < end or (short() and time.monotonic() < give_up):
        t0 = time.perf_counter()
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/liveness", timeout=30):
            liveness.append(time.perf_counter() - t0)
        if pid is not None:
            rss.append(rss_mib(pid))
        time.sleep(0.1)
    return ready_s, liveness, rss, time.monotonic() - started


def _client_process(
    url: str,
    seeds: list[int],
    first: int,
    link: str,
    play: Any,
    stop: Any,
    ready: Any,
    frames: Any,
    ended: Any,
    results: Any,
) -> None:
    """A client process: sessions first.. of the load as threads, their frame counts and ends
    written to shared arrays, their results put on a queue once play stops."""
    sessions = [LoadSession(url, seed, link, play, lambda: _add_one(ready)) for seed in seeds]
    for s in sessions:
        s.start()
    while True:
        alive = False
        for i, s in enumerate(sessions):
            frames[first + i] = len(s.result.rtts_s)
            ended[first + i] = 0 if s.thread.is_alive() else 1
            alive = alive or s.thread.is_alive()
            if stop.is_set():
                s.stop_play.set()
        if not alive:
            break
        time.sleep(0.1)
    results.put([(first + i, dataclasses.asdict(s.result)) for i, s in enumerate(sessions)])


def _add_one(counter: Any) -> None:
    with counter.get_lock():
        counter.value += 1


def _run_load_in_processes(
    url: str,
    n_sessions: int,
    play_s: float,
    seed_base: int,
    pid: int | None,
    join_s: float,
    min_frames: int,
    max_play_s: float,
    own_seeds: bool,
    client_procs: int,
    link: str,
) -> LoadReport:
    """run_load with the sessions spread over client processes (forked: they inherit this
    module, however it was imported)."""
    ctx = multiprocessing.get_context("fork")
    seeds = [seed_base + i if own_seeds else LINK_SEED for i in range(n_sessions)]
    play, stop = ctx.Event(), ctx.Event()
    ready = ctx.Value("i", 0)
    frames, ended = ctx.Array("i", n_sessions), ctx.Array("i", n_sessions)
    results = ctx.Queue()
    procs = []
    per = -(-n_sessions // client_procs)
    for first in range(0, n_sessions, per):
        args = (url, seeds[first : first + per], first, link, play, stop, ready, frames, ended)
        procs.append(ctx.Process(target=_client_process, args=(*args, results), daemon=True))
    for p in procs:
        p.start()
    deadline = time.monotonic() + join_s
    ready_s, liveness, rss, played_s = _ready_then_play(
        url,
        lambda: ready.value + sum(ended[:]) >= n_sessions,
        lambda: any(frames[i] < min_frames and not ended[i] for i in range(n_sessions)),
        play,
        (join_s, play_s, max_play_s),
        pid,
    )
    stop.set()
    by_index: dict[int, SessionResult] = {}
    for _ in procs:
        try:
            for i, fields in results.get(timeout=max(1.0, deadline - time.monotonic())):
                by_index[i] = SessionResult(**fields)
        except Exception:  # a client process that died reports nothing: its sessions error
            break
    for p in procs:
        p.join(5)
    out = [
        by_index.get(i, SessionResult(seed, error="its client process reported nothing"))
        for i, seed in enumerate(seeds)
    ]
    return LoadReport(out, liveness, played_s, rss, ready_s)


def settle_rss(pid: int, below_mib: float, timeout_s: float) -> float:
    """Wait (collecting garbage takes the server a while) until the RSS is below a bound or
    the time is up; the last figure."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = rss_mib(pid)
        if now <= below_mib or time.monotonic() > deadline:
            return now
        time.sleep(1.0)


def quantiles(label: str, values: list[float]) -> str:
    p50, p95 = percentile(values, 0.5) * 1e3, percentile(values, 0.95) * 1e3
    return f"  {label:<34} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({len(values)} samples)"


def rss_after_close(pid: int, wait_s: float = 3 * DISCARD_MS / 1000 + 3.0) -> float:
    """The server's RSS once the sessions just closed were discarded and their memory given
    back (webapp.lifecycle trims RELEASE_DELAY_S after a session is destroyed)."""
    time.sleep(wait_s)
    return rss_mib(pid)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8.0, help="how long all of them play")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of N sessions (RSS creep)")
    parser.add_argument(
        "--client-procs", type=int, default=4, help="client processes (0: threads of this one)"
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds per session (default: the app's)"
    )
    args = parser.parse_args()
    from tests.served import served_app

    n = args.sessions
    procs = args.client_procs
    print(
        f"load: {n} sessions playing at max speed for {args.seconds:g} s on one panel serve; "
        f"clients in {procs or 'this'} process{'es' if procs > 1 else ''}"
    )
    with served_app(serve_command(), name=None) as app:
        pid = app.proc.pid
        start = rss_mib(pid)
        # A first round of the same size: imports, caches and the allocator's high-water mark.
        warm = run_load(
            app.url, n, 2.0, seed_base=100, pid=pid, client_procs=procs, n_seeds=args.seeds
        )
        baseline, baseline_threads = rss_after_close(pid), threads(pid)
        print(f"  server RSS at start {start:.0f} MiB; after a first round of {n}: {baseline:.0f}")
        alone = run_load(
            app.url, 1, args.seconds, seed_base=500, pid=pid, client_procs=procs,
            n_seeds=args.seeds,
        )  # fmt: skip
        print(quantiles("frame round trip, 1 session:", alone.rtts_s))
        print(quantiles("  ack → next frame (raw):", alone.raw_rtts_s))
        print(f"    frames per second: {alone.frames_per_s()[0]:.1f}")
        rounds, errors = [], warm.errors + alone.errors
        for r in range(args.rounds):
            load = run_load(
                app.url, n, args.seconds, seed_base=SEED_BASE + r * n, pid=pid,
                client_procs=procs, n_seeds=args.seeds,
            )  # fmt: skip
            peak = max([*load.rss_during_mib, rss_mib(pid)])
            after = rss_after_close(pid)
            rounds.append(load)
            errors += load.errors
            own = sum(s.read_back_seed == s.seed for s in load.sessions)
            frames = [len(s.frames) for s in load.sessions]
            print(f"  round {r + 1}:")
            print(quantiles(f"  frame round trip, {n} sessions:", load.rtts_s))
            print(quantiles("    ack → next frame (raw):", load.raw_rtts_s))
            fps = load.frames_per_s()
            print(
                f"    frames per second per session: min {min(fps):.1f}, "
                f"median {statistics.median(fps):.1f}, max {max(fps):.1f}"
            )
            print(quantiles(f"  GET /liveness while {n} play:", load.liveness_s))
            print(
                f"    frames per session: min {min(frames)}, median {statistics.median(frames):g}, "
                f"max {max(frames)}; sessions reading back their own seed: {own}/{n}"
            )
            print(
                f"    server RSS: peak {peak:.0f} MiB, after they closed {after:.0f} MiB "
                f"({after - baseline:+.0f} MiB over the baseline); threads {threads(pid)} "
                f"(baseline {baseline_threads})"
            )
    together = [r for load in rounds for r in load.rtts_s]
    ratio = percentile(together, 0.95) / percentile(alone.rtts_s, 0.95)
    print(quantiles(f"frame round trip, {n} sessions, all rounds:", together))
    print(f"  p95 round trip, {n} sessions / 1 session: {ratio:.1f}x (goal: at most 3x)")
    for e in errors:
        print(f"  error: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
