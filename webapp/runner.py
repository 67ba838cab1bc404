"""Where and how policy A and B are simulated for the web app: the limits a shared server
puts on a scenario (links are untrusted input too), cancellable runs through a cache of
finished ones, and the runners that execute them (at once in tests, on a worker thread in a
served session, with the result handed back to the session's event loop).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine import Scenario, from_dict
from engine.errors import ScenarioError
from engine.policies import validate_policy
from engine.scenario import check_recording
from engine.simulator import RunResult, Simulation, baseline_references
from webapp import priority, shared_runs
from webapp.lifecycle import trim_heap
from webapp.runs import RunPair, derive
from webapp.seeds import SeedRecord, seed_record, with_seed
from webapp.state import SCENARIO_DIR

TRACE_ROOTS = (SCENARIO_DIR, SCENARIO_DIR.parent.parent / "shared" / "traces")

# What one browser session may ask of this shared server (links are untrusted input too).
LIMITS = {
    "vms": 64,
    "guest_pages": 4_000_000,
    "steps": 400_000,
    "references": 150_000_000,
}


YieldTo = Callable[[threading.Event], None]  # background work's pause between steps
PageOpen = Callable[[], bool]  # whether the page a session's background work is for is open


class Cancelled(Exception):
    """A newer request superseded this run."""


class Runner(Protocol):
    def submit(self, fn: Callable[[], Any], done: Callable[[Any], None]) -> None: ...


class SyncRunner:
    """Runs at once, in the caller's thread (tests)."""

    def submit(self, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to `done`, which reports it
            result = exc
        done(result)


# Simulations running at once in one server, whatever the number of sessions. They hold the
# GIL most of the time: with one thread per session computing, the event loop that sends
# every session's frames would get a 1/(sessions + 1) share of it, and playing sessions
# would starve while others simulate. Runs wait their turn instead (first come, first
# served), and the event loop keeps at least a third.
COMPUTE_SLOTS = 2
LATE_RELEASE_S = 1.0  # after a run that outlived its session: the moment its future is dropped
_compute_slots = threading.BoundedSemaphore(COMPUTE_SLOTS)
_in_slot = threading.local()  # .held: this thread computes inside one of the slots


@contextlib.contextmanager
def _slot_set_aside() -> Iterator[None]:
    """While background work waits (webapp.priority), its compute slot is free for a
    visitor's own run, and taken back before the next step."""
    if not getattr(_in_slot, "held", False):
        yield
        return
    _compute_slots.release()
    _in_slot.held = False
    try:
        yield
    finally:
        _compute_slots.acquire()
        _in_slot.held = True


def background_yield(cancel: threading.Event, page_open: PageOpen | None = None) -> None:
    """Background work's pause between steps (webapp.priority), its slot set aside meanwhile.
    Given `page_open`, work for one session's page stops (PageClosed) when that page has
    closed."""
    if page_open is not None and not page_open():
        raise PageClosed
    priority.yield_to_foreground(cancel, _slot_set_aside)


class PageClosed(Cancelled):
    """The page a session's background run was for has closed: the run stopped, to start
    again if the page comes back (webapp.background).

    Bokeh keeps a session up to half a minute after its page closed (the page may come back:
    a network blip, a laptop waking), and the session's statistics went on computing
    meanwhile: a core busy for a page nobody saw (measured: 3.0 s of the server's CPU in the
    3 s after a page closed, against 0.05-0.14 s now). A run stops rather than pausing where
    it is: a paused run would hold the run in flight that another session (the same link
    reloaded) waits for (webapp.shared_runs), and its worker thread, which the server's exit
    joins."""


class ThreadRunner:
    """One worker thread per session, computing in one of the server's COMPUTE_SLOTS; `post(fn)`
    must run fn on the session's event loop (webapp.doc_timers.LoopPoster, through tornado's
    thread-safe add_callback).

    Nothing it hands over outlives `shutdown`: a result (or a run's exception, whose traceback
    holds the run's frames and so its whole simulation) posted to the loop but not delivered
    yet is dropped at shutdown (a closing session's loop may never run it, and would keep it
    past the session's one release, webapp.lifecycle), and a release follows; a run ending
    after shutdown schedules a release of its own. So the order in which the session's
    closers run (the controller's cancel before or after this shutdown) does not matter: a
    run cancelled by the close may end on either side of it."""

    def __init__(self, post: Callable[[Callable[[], None]], None]):
        self.post = post
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vmswap-run")
        self.closed = False
        self._lock = threading.Lock()  # closed and the undelivered results change together
        self._undelivered: dict[int, list[Any]] = {}  # id -> [result] posted, not yet run

    def submit(self, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        def in_turn() -> Any:
            with _compute_slots:
                _in_slot.held = True
                try:
                    return fn()
                finally:
                    _in_slot.held = False

        def finished(future: Future) -> None:
            exc = future.exception()
            box = [exc if exc is not None else future.result(), done]
            with self._lock:
                closed = self.closed
                if not closed:
                    self._undelivered[id(box)] = box
            if closed:
                # The session is gone and its memory was released when it closed; this run
                # (cancelled, or a background seed) ended later. Release again once the
                # future holding it is dropped.
                box.clear()
                release_later_s(LATE_RELEASE_S)
                return
            self.post(lambda: self._deliver(box))

        self.pool.submit(in_turn).add_done_callback(finished)

    def _deliver(self, box: list[Any]) -> None:
        """On the session's loop: hand the result over, unless shutdown dropped it (with the
        session's callback: what a dropped post holds keeps nothing of the session alive)."""
        with self._lock:
            self._undelivered.pop(id(box), None)
            if not box:
                return
            result, done = box
            box.clear()
        done(result)

    def shutdown(self) -> None:
        """The session closed: cancel what has not started, drop what was not delivered
        (and release it once dropped), and let a run still going release itself at its end."""
        with self._lock:
            self.closed = True
            dropped = [box for box in self._undelivered.values() if box]
            for box in dropped:
                box.clear()
            self._undelivered.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if dropped:
            release_later_s(LATE_RELEASE_S)


def release_later_s(delay_s: float) -> None:
    """Collect and trim (webapp.lifecycle.trim_heap) on a timer thread after delay_s."""
    timer = threading.Timer(delay_s, trim_heap)
    timer.daemon = True
    timer.start()


# -- limits, one run, a pair ---------------------------------------------------------------


def resolve_traces(data: dict[str, Any], extra_roots: Sequence[Path] = ()) -> dict[str, Any]:
    """Trace paths made absolute (relative ones are relative to scenarios/) and checked to lie
    under a trace root: a link must not make the server read arbitrary files. `extra_roots`
    are this session's own folders (its uploaded traces), never another session's."""
    roots = [r.resolve() for r in (*TRACE_ROOTS, *extra_roots)]

    def fix(w: dict[str, Any], where: str) -> None:
        if w.get("kind") == "trace" and isinstance(w.get("path"), str) and w["path"]:
            try:
                p = Path(w["path"])
                p = (p if p.is_absolute() else SCENARIO_DIR / p).resolve()
            except (ValueError, OSError):  # a NUL byte, a name too long, a loop of links
                raise ScenarioError(
                    "not a usable file name; trace files must lie under scenarios/ or the "
                    "shared traces folder",
                    field=f"{where}.path",
                ) from None
            if not any(p.is_relative_to(r) for r in roots):
                raise ScenarioError(
                    "trace files must lie under scenarios/ or the shared traces folder",
                    field=f"{where}.path",
                )
            w["path"] = str(p)
        for j, c in enumerate(w.get("components") or []):
            if isinstance(c, dict):
                fix(c, f"{where}.components[{j}]")

    for i, vm in enumerate(data.get("vms") or []):
        if isinstance(vm, dict) and isinstance(vm.get("workload"), dict):
            fix(vm["workload"], f"vms[{i}].workload")
    return data


def web_references(s: Scenario) -> float:
    """The most references one run of `s` can make: every pCPU busy for the whole duration at
    the cheapest reference (what LIMITS["references"] bounds)."""
    cheapest = min(
        [vm.workload.cpu_ns_per_ref for vm in s.vms]
        + [int(c.get("cpu_ns_per_ref", 200)) for vm in s.vms for c in vm.workload.components]
    )
    return s.host.pcpus * s.duration_ms * 1e6 / max(1, cheapest)


def check_limits(s: Scenario) -> None:
    """Refuse scenarios too big for an interactive, shared server, with the reason; every run
    here is recorded, so the recording's budget applies too."""
    check_recording(s)
    pages = sum(s.vm_pages(vm) for vm in s.vms)
    steps = s.duration_ms * 1000.0 / s.host.step_us
    checks = (
        ("vms", len(s.vms), "VMs"),
        ("guest_pages", pages, "guest pages"),
        ("steps", steps, "simulation steps (duration_ms / step_us)"),
        ("references", web_references(s), "page references (pCPUs × duration / cpu_ns_per_ref)"),
    )
    for key, value, what in checks:
        if value > LIMITS[key]:
            raise ScenarioError(
                f"too large for the web app: {value:,.0f} {what}, at most {LIMITS[key]:,}; "
                "run it with `vmswap run` instead"
            )


def run_key(scenario: dict[str, Any], policy: dict[str, Any], record: bool = True) -> str:
    """The cache key of a run: recorded runs (those shown) and unrecorded ones (figures only:
    best demand's candidates) are kept apart, as only the first can be displayed."""
    return json.dumps(
        [scenario, policy] if record else [scenario, policy, "unrecorded"], sort_keys=True
    )


class Progress:
    """How far the pair being computed has got, in simulated time: written by the worker
    thread after every simulation step, read by the session's event loop (a periodic poll).
    One tuple is swapped in whole, so a reader never sees one run's label with another's
    clock, and neither side waits for the other."""

    def __init__(self) -> None:
        self.now: tuple[str, int, int] = ("", 0, 0)  # (what runs, simulated ns, of ns)

    def update(self, what: str, sim_ns: int, end_ns: int) -> None:
        self.now = (what, int(sim_ns), int(end_ns))

    def fraction(self) -> float | None:
        """Share of the current run's simulated time done; None while no clock is known."""
        _, sim_ns, end_ns = self.now
        return min(1.0, sim_ns / end_ns) if end_ns > 0 else None

    def text(self) -> str:
        """The line the page shows: 'computing A (1 of 3): 37 % of simulated time'."""
        what, _, _ = self.now
        if not what:
            return ""
        done = self.fraction()
        if done is None:
            return f"computing {what}…"
        return f"computing {what}: {int(done * 100)} % of simulated time"


def run_one(
    scenario: Scenario,
    scenario_dict: dict[str, Any],
    policy: dict[str, Any],
    cancel: threading.Event,
    progress: Progress | None = None,
    what: str = "",
    yield_to: YieldTo | None = None,
    record: bool = True,
) -> RunResult:
    """One recorded run (from the cache when the same inputs ran before); stops when cancelled.
    `progress` hears the simulated clock after every step, labelled `what`; background work
    passes `yield_to`, called between steps (webapp.priority: a waiting visitor goes first).
    `record=False`: the figures only (a recorded run of the same inputs serves as well)."""
    progress = progress or Progress()
    key = run_key(scenario_dict, policy, record)
    recorded_key = run_key(scenario_dict, policy)
    hit = shared_runs.find(key)
    if hit is None and not record:
        hit = shared_runs.find(recorded_key)
    if hit is not None:
        progress.update(what, 1, 1)
        return hit

    def pause() -> None:
        # Background work's pause between steps. A visitor may have computed this very run
        # meanwhile (webapp.shared_runs), or its recorded twin (a visitor showing the seed
        # this figures-only run is for): then it stops here and takes the visitor's run.
        if yield_to is None:
            return
        yield_to(cancel)
        if not record and (twin := shared_runs.find(recorded_key)) is not None:
            shared_runs.settle(key, twin)
        if shared_runs.landed_beside(key):
            raise shared_runs.LandedBeside

    def simulate() -> RunResult:
        # The engine runs the unlimited-memory baseline in one call (cached per scenario):
        # its clock is not visible from here, so it is named without a percentage. That call
        # cannot be stopped, so a run cancelled meanwhile (a background seed when the visitor
        # switches scenario) must not start one: it would hold the session's worker. Nor
        # may background work start one while a visitor waits (it cannot pause inside).
        pause()
        if cancel.is_set():
            raise Cancelled
        progress.update("the unlimited-memory baseline (for slowdown)", 0, 0)
        base = baseline_references(scenario)
        if cancel.is_set():
            raise Cancelled
        sim = Simulation(scenario, policy, record=record)
        progress.update(what, sim.now_ns, sim.end_ns)

        def stepped(now_ns: int) -> None:
            progress.update(what, now_ns, sim.end_ns)
            pause()
            if cancel.is_set():
                raise Cancelled

        result = sim.run(baseline_refs=base, on_step=stepped)
        return result

    def cancelled() -> bool:
        if cancel.is_set():
            raise Cancelled
        return False

    # Another session (or the server's warm-up) computing the same run: wait for it (unless
    # that is background work, which may be paused, and this is not).
    return shared_runs.compute_once(key, simulate, cancelled, background=yield_to is not None)


def host_faults(result: RunResult) -> tuple[np.ndarray, np.ndarray]:
    """(frame times, cumulative host major faults) of a recorded run."""
    rec = result.recording
    row = list(rec.counter_names).index("major_faults")
    times = np.asarray(rec.times_ns, dtype=np.int64)
    return times, np.asarray([int(c[row].sum()) for c in rec.counters], dtype=np.int64)


def compute_results(
    scenario_dict: dict[str, Any],
    policy_a: dict[str, Any],
    policy_b: dict[str, Any],
    cancel: threading.Event,
    progress: Progress | None = None,
    yield_to: YieldTo | None = None,
    record: bool = True,
) -> tuple[RunResult, RunResult, RunResult]:
    """Simulate A and B and return them with demand paging's run (the reference coverage is
    measured against: one of the two when either is demand, else a third run).
    `record=False`: whole-run figures only, no frames (see run_one)."""
    scenario = from_dict(scenario_dict)
    n = 2 if "demand" in (policy_a["name"], policy_b["name"]) else 3

    def run(policy: dict[str, Any], what: str) -> RunResult:
        return run_one(scenario, scenario_dict, policy, cancel, progress, what, yield_to, record)

    ra = run(policy_a, f"A (1 of {n})")
    rb = run(policy_b, f"B (2 of {n})")
    if policy_a["name"] == "demand":
        return ra, rb, ra
    if policy_b["name"] == "demand":
        return ra, rb, rb
    return ra, rb, run(validate_policy({"name": "demand"}), "demand paging for coverage (3 of 3)")


def compute_pair(
    scenario_dict: dict[str, Any],
    policy_a: dict[str, Any],
    policy_b: dict[str, Any],
    cancel: threading.Event,
    progress: Progress | None = None,
) -> RunPair:
    """Simulate A and B (and demand paging, for coverage, when neither is demand);
    `progress` follows each run's simulated clock."""
    ra, rb, reference = compute_results(scenario_dict, policy_a, policy_b, cancel, progress)
    times, faults = host_faults(reference)
    return RunPair(
        scenario_dict,
        policy_a,
        policy_b,
        derive(ra),
        derive(rb),
        int(reference.summary["major_faults"]),
        times,
        faults,
    )


def compute_seed(
    scenario_dict: dict[str, Any],
    policy_a: dict[str, Any],
    policy_b: dict[str, Any],
    seed: int,
    cancel: threading.Event,
    progress: Progress | None = None,
    page_open: PageOpen | None = None,
) -> SeedRecord:
    """One more seed of the scenario for the statistics over seeds: its whole-run figures
    only. Its runs record no frames: the animation stays on the seed shown, and a recording
    is most of what a run weighs (up to ~235 MB a VM), while the record needs the summary
    alone (which recording does not change). A recorded run of the same inputs, when cached,
    serves as well. Showing this seed later (the seed picker, Controller.show_seed) computes
    its recorded runs then, as for any seed not in the cache. `page_open`: whether the page
    the statistics are for is open (when it is not, they stop with PageClosed before their
    next step: webapp.background starts them again once it is back)."""
    data = with_seed(scenario_dict, seed)
    # Statistics are background work: they pause while a visitor waits for a page or frame,
    # and they are for a page: they stop when it is closed.
    yield_to = (
        background_yield if page_open is None else partial(background_yield, page_open=page_open)
    )
    ra, rb, reference = compute_results(
        data, policy_a, policy_b, cancel, progress, yield_to, record=False
    )
    return seed_record(seed, ra, rb, int(reference.summary["major_faults"]))
