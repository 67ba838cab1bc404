"""The controller: effects of the session state. Re-simulate on edits (debounced, cancellable,
off the event loop), move frames, answer keys, edit the VM list, write the share link.

It talks to the outside through three small seams so tests need no browser: a `Runner` (where
simulations run), `Timers` (debounce and playback pacing) and a display (the Dashboard).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import param

from engine import Scenario, from_dict, load_scenario
from engine.errors import VmswapError, plain, show_value
from engine.policies import validate_policy
from engine.scenario import VM, Section, Workload, to_dict
from webapp import downloads, shared_runs, tuning, urlcodec
from webapp.playback import Player, Timers
from webapp.runner import (
    TRACE_ROOTS,
    Cancelled,
    PageOpen,
    Progress,
    Runner,
    SyncRunner,
    ThreadRunner,
    check_limits,
    compute_pair,
    resolve_traces,
    run_key,
)
from webapp.runs import RunPair
from webapp.seed_set import SeedSet
from webapp.seeds import DEFAULT_SEEDS, seed_list, with_seed
from webapp.state import (
    CUSTOM,
    SCENARIO_DIR,
    SessionState,
    copy_vm,
    default_policies,
    default_scenario_file,
    new_vm_name,
    policy_label,
    scenario_files,
    unwatch_tree,
    watch_tree,
)

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.4
URL_DEBOUNCE_S = 0.4
PROGRESS_PERIOD_S = 0.25  # how often the page hears how far a run has got
VM_INDEX = re.compile(r"\bvms\[(\d+)\]")
MAX_MESSAGE_CHARS = 500  # a message is read in the page, not scrolled
__all__ = ["Controller", "SyncRunner", "ThreadRunner", "compute_pair"]


class Display(Protocol):
    """What the controller needs from the main area (the Dashboard)."""

    seq: int

    def set_runs(
        self, runs: RunPair, labels: tuple[str, str], frame: int = 0, vm: int = 0
    ) -> int: ...

    def show(self, frame: int, *, playing: bool = False, vm: int | None = None) -> int: ...

    def set_follow(self, follow: bool) -> None: ...

    def set_seeds(self, stats: Any, shown_seed: int | None) -> None: ...


class Controller:
    """Reacts to one session's state."""

    def __init__(
        self,
        state: SessionState,
        display: Display,
        runner: Runner,
        timers: Timers,
        url_sink: Callable[[str], None] | None = None,
        base_url: str = "",
        found_runner: Runner | None = None,
        batch: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
        page_open: PageOpen | None = None,
    ):
        self.state = state
        self.display = display
        self.runner = runner
        # Where a pair whose runs are all finished already (the warm-up's, a cached one) is
        # put together: served, at once on the event loop, so switching to a shipped scenario
        # never queues behind this session's background seeds or waits for a compute slot.
        self.found_runner = found_runner
        # What a whole-scenario change sends (sidebar, panes, the runs' first frame when they
        # are found) leaves in one message when `batch()` is the document's hold: the browser
        # then lays the page out once, not once for each of some 200 messages.
        self.batch = batch or contextlib.nullcontext
        self.timers = timers
        self.url_sink = url_sink
        self.base_url = base_url
        self.trace_roots: list[Path] = []  # this session's uploaded traces (the Traces tab)
        self.on_close: list[Callable[[], None]] = []  # what else ends with the session
        self.player = Player(state, timers, self._push)
        self.player.page_open = page_open
        self.generation = 0
        self.cancel = threading.Event()
        self.pending_frame: int | None = None
        self.pending_vm: int | None = None
        self._debounce: Any = None
        self._url_timer: Any = None
        self._progress_timer: Any = None
        self._polling = False
        self._watchers: list[tuple[Any, Any]] = []
        self._quiet = False
        self._from_player = False
        self._sticky_message = False
        self.runs_started = 0
        self.loaded_file = CUSTOM  # the shipped scenario loaded last ('reset' goes back to it)
        # Many seeds: the seeds done for the runs on display, and the others in the background.
        # (they wait while the page is closed: `page_open`, None where there is no page)
        self.seed_set = SeedSet(
            state, display, timers, lambda: self.runner, self.readable, page_open
        )
        self.pending_seed: int | None = None  # the seed a link asks to show
        self.requested_seed: int | None = None  # the seed being fetched for display
        state.param.watch(self._on_frame, "frame")
        state.param.watch(self._on_playing, "playing")
        state.param.watch(self._on_file, "scenario_file")
        state.param.watch(self._on_scenario, "scenario")
        state.param.watch(self._on_vm, "selected_vm")
        state.param.watch(lambda e: self.display.set_follow(e.new), "follow")
        state.param.watch(lambda e: self._schedule_url(), "speed")
        state.param.watch(self._on_n_seeds, "n_seeds")
        for choice in (state.policy_a, state.policy_b):
            choice.param.watch(self._on_policy_object, "switches")
            choice.param.watch(self._edited, ["policy", "best_demand"])
        # How the best-demand sides of the seeds on display were chosen (pane -> Tuning).
        self.set_tunings: dict[str, tuning.Tuning] = {}
        self._rewatch()

    @contextlib.contextmanager
    def _silenced(self) -> Iterator[None]:
        """The controller's own changes to state inside the block are not edits: its watchers
        let them pass (no re-run, no switch to 'custom'). Ended however the block ends, and
        nested blocks leave the outer one silenced: a watcher that raised once used to leave
        every later edit of the session ignored."""
        before, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = before

    # -- loading ------------------------------------------------------------------------------
    def load_file(self, name: str, run: bool = True) -> None:
        """Load scenarios/<name>.toml with its default A and B (and run them unless told not).
        Only a shipped scenario's name is accepted: nothing else reaches the file system."""
        if name not in scenario_files():
            self.report("That is not one of the shipped scenarios; pick one from the list.")
            return
        try:
            scenario = load_scenario(SCENARIO_DIR / f"{name}.toml")
        except VmswapError as exc:
            self.report(f"Could not load scenario {name!r}: {exc}")
            return
        a, b = default_policies(scenario.policy)
        self.loaded_file = name
        self._load(scenario, a, b, frame=0, vm=0, file=name, run=run)

    def load_link(self, text: str, run: bool = True) -> bool:
        """Open a share link; on failure say why and keep what is shown (or the default)."""
        try:
            shared = urlcodec.decode(text)
            data = resolve_traces(shared.scenario.to_dict(), self.trace_roots)
            scenario = from_dict(data, source="link")
            check_limits(scenario)
        except (urlcodec.LinkError, VmswapError) as exc:
            problem = str(exc)
        except Exception:  # a bug, not the link's fault: logged, and the page still explains
            log.exception("opening a shared link failed")
            problem = "vmswap could not read it (the details are in the server's log)"
        else:
            if shared.speed is not None:
                self.state.speed = shared.speed
            with self._silenced():
                self.state.n_seeds = shared.n_seeds or DEFAULT_SEEDS
            self.pending_seed = shared.shown_seed
            self._load(
                scenario,
                shared.policy_a,
                shared.policy_b,
                shared.frame,
                shared.vm,
                CUSTOM,
                run,
                shared.best_demand,
            )
            return True
        self.report(f"Could not open the shared link: {problem}", sticky=True)
        if self.state.runs is None and not self.state.busy:
            self.load_file(self.state.scenario_file or default_scenario_file(), run=run)
        return False

    def _load(
        self,
        scenario: Scenario,
        a: dict[str, Any],
        b: dict[str, Any],
        frame: int,
        vm: int,
        file: str,
        run: bool = True,
        best_demand: tuple[str, ...] = (),
    ) -> None:
        """Show `scenario` with policies `a` and `b` (`best_demand`: the sides, "A" or "B",
        whose demand paging has its readahead tuned)."""
        st = self.state
        with self._silenced():
            st.playing = False
            st.scenario_file = file
            st.policy_a.load(a)
            st.policy_b.load(b)
            st.policy_a.best_demand = "A" in best_demand
            st.policy_b.best_demand = "B" in best_demand
            st.scenario = scenario
            st.selected_vm = min(vm, len(scenario.vms) - 1)
        self._rewatch()
        self.pending_frame, self.pending_vm = frame, st.selected_vm
        if run:
            self.request_run(delay=0.0)

    # -- edits ----------------------------------------------------------------------------------
    def _rewatch(self) -> None:
        unwatch_tree(self._watchers)
        self._watchers = watch_tree(self.state.scenario, self._edited)
        for choice in (self.state.policy_a, self.state.policy_b):
            self._watchers += watch_tree(choice.switches, self._edited)

    def _edited(self, event: Any) -> None:
        if self._quiet:
            return
        if getattr(event, "name", None) == "vms":
            self._rewatch()
        if self.state.scenario_file != CUSTOM:
            with self._silenced():
                self.state.scenario_file = CUSTOM
        self.state.edits += 1
        self.request_run()

    def _on_policy_object(self, event: Any) -> None:
        self._rewatch()

    def _on_scenario(self, event: Any) -> None:
        if not self._quiet:
            self._rewatch()
            self.request_run()

    def _on_file(self, event: Any) -> None:
        if not self._quiet and event.new != CUSTOM:
            with self.batch():
                self.load_file(event.new)

    # -- whole-scenario actions ---------------------------------------------------------------
    def reset_scenario(self) -> None:
        """Back to the shipped scenario's own values and default policies (the one picked
        last, or the one this scenario is named after)."""
        files = scenario_files()
        name = self.state.scenario.name
        target = self.loaded_file if self.loaded_file in files else name
        if target not in files:
            self.report(
                f"This scenario ({name!r}) is not a shipped one: there are no defaults to reset"
                " to. Pick a scenario from the list."
            )
            return
        self.load_file(target)

    def new_seed(self) -> None:
        """The next seed (seed + 1): another draw of every random stream, as reproducible
        as the first."""
        s = self.state.scenario
        bound = s.param.seed.bounds[1] if s.param.seed.bounds else None
        seed = 0 if bound is not None and s.seed >= bound else s.seed + 1
        self.set_field(s, "seed", seed)

    def swap_policies(self) -> None:
        """A takes B's policy and switches, B takes A's; the frame on display stays."""
        st = self.state
        a, b = st.policy_a.to_dict(), st.policy_b.to_dict()
        tuned_a, tuned_b = st.policy_a.best_demand, st.policy_b.best_demand
        if a == b and tuned_a == tuned_b:
            return
        with self._silenced():
            st.policy_a.load(b)
            st.policy_b.load(a)
            st.policy_a.best_demand, st.policy_b.best_demand = tuned_b, tuned_a
        self._rewatch()
        self.pending_frame, self.pending_vm = st.frame, st.selected_vm
        self.state.edits += 1
        self.request_run(delay=0.0)

    # -- the VM table --------------------------------------------------------------------------
    def add_vm(self) -> None:
        vms = list(self.state.scenario.vms)
        mib = vms[-1].memory_mib if vms else 64
        vms.append(VM(name=new_vm_name([v.name for v in vms], f"vm{len(vms)}"), memory_mib=mib))
        self._set_vms(vms, len(vms) - 1)

    def duplicate_vm(self, i: int | None = None) -> None:
        vms = list(self.state.scenario.vms)
        i = self.state.selected_vm if i is None else i
        if not 0 <= i < len(vms):
            return
        vms.insert(i + 1, copy_vm(vms[i], new_vm_name([v.name for v in vms], vms[i].name)))
        self._set_vms(vms, i + 1)

    def remove_vm(self, i: int | None = None) -> None:
        vms = list(self.state.scenario.vms)
        i = self.state.selected_vm if i is None else i
        if len(vms) <= 1:
            self.report("A scenario needs at least one VM.")
            return
        if not 0 <= i < len(vms):
            return
        del vms[i]
        self._set_vms(vms, min(i, len(vms) - 1))

    def attach_trace(self, workload: dict[str, Any]) -> None:
        """Give the selected VM a trace workload (from the Traces tab) and run again."""
        vms = list(self.state.scenario.vms)
        i = self.state.selected_vm
        if not 0 <= i < len(vms):
            self.report("Select a VM to attach the trace to.")
            return
        vm = copy_vm(vms[i], vms[i].name)
        try:
            vm.workload = Workload(**workload)
        except ValueError as exc:
            self.report(f"Could not attach the trace: {exc}")
            return
        vms[i] = vm
        if self._set_vms(vms, i):
            self.report(f"The trace now drives {vm.name}; A and B run again.")

    def _set_vms(self, vms: list[VM], selected: int) -> bool:
        """Put a new list of VMs in the scenario if it stays valid (else say why, keep it)."""
        data = self.state.scenario.to_dict()
        data["vms"] = [to_dict(vm) for vm in vms]
        try:
            self._check_scenario(data)
        except VmswapError as exc:
            self.report(f"Not changed: {self.readable(exc, [vm.name for vm in vms])}.")
            return False
        with self._silenced():
            self.state.selected_vm = selected
        self.state.scenario.vms = vms  # the tree watcher rewatches and re-runs
        return True

    # -- one field from a widget ---------------------------------------------------------------
    def set_field(self, section: Section, field: str, value: Any) -> bool:
        """Apply a widget's value to one field of the scenario or of a policy's switches, if
        the whole stays valid; otherwise say why in words and keep the field as it was (the
        widget shows it again). Values arrive as the browser sends them (numpy scalars from
        the table, floats for integers): they are made plain Python here, at the boundary."""
        value = _python_value(section.param[field], value)
        old = getattr(section, field)
        if type(value) is type(old) and value == old:
            return True
        try:
            self._check_field(section, field, value)
            with param.edit_constant(section):  # a VM's name is param's own, constant
                setattr(section, field, value)
        except (VmswapError, ValueError, TypeError) as exc:
            self.report(f"Not changed: {self.readable(exc)}. It stays {show_value(old)}.")
            return False
        return True

    def _check_field(self, section: Section, field: str, value: Any) -> None:
        """Raise the error the scenario (or the policy) would have with `field` = `value`."""
        st = self.state
        for choice, label in ((st.policy_a, "policy A"), (st.policy_b, "policy B")):
            if section is choice.switches:
                validate_policy({**choice.to_dict(), field: value}, source=label)
                return
        path = _path_of(st.scenario, section)
        if path is None:
            raise VmswapError(f"{field}: this form no longer edits the scenario on display")
        data = st.scenario.to_dict()
        node: Any = data
        for key in path:
            node = node[key]
        node[field] = value
        self._check_scenario(data)

    def _check_scenario(self, data: dict[str, Any], source: str | None = None) -> Scenario:
        """The scenario `data` describes, validated and within the web app's limits, or
        ScenarioError (trace paths checked against this session's folders)."""
        scenario = from_dict(resolve_traces(data, self.trace_roots), source=source)
        check_limits(scenario)
        return scenario

    # -- running --------------------------------------------------------------------------------
    def inputs(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Validated (scenario, A, B) dicts of what the widgets hold, or ScenarioError."""
        scenario = self._check_scenario(self.state.scenario.to_dict(), source="scenario")
        a = validate_policy(self.state.policy_a.to_dict(), source="policy A")
        b = validate_policy(self.state.policy_b.to_dict(), source="policy B")
        return scenario.to_dict(), a, b

    def tuned_sides(self) -> tuple[str, ...]:
        """The sides ("A", "B") that are best demand: their readahead is chosen per scenario."""
        st = self.state
        return tuple(p for p, c in (("A", st.policy_a), ("B", st.policy_b)) if c.tuned)

    def request_run(self, delay: float = DEBOUNCE_S) -> None:
        """Run again after `delay` seconds without a further request (debounce). The seeds
        still running in the background are for the inputs before this change: stopped."""
        self.seed_set.stop()
        if self._debounce is not None:
            self.timers.cancel(self._debounce)
            self._debounce = None
        if delay <= 0:
            self.start_run()
        else:
            self._debounce = self.timers.call_later(delay, self.start_run)

    def run_if_cached(self) -> bool:
        """Show the runs at once if every one of them is cached (a shared link opened again,
        a reload): the page is then served with its data, no round trip."""
        try:
            scenario, a, b = self.inputs()
        except VmswapError:
            return False
        found = tuning.resolved(scenario, a, b, self.tuned_sides())
        shown = with_seed(scenario, self._seed_to_show(scenario))
        if found is None or not all_found(shown, found[0], found[1]):
            return False
        runner, self.runner = self.runner, SyncRunner()
        try:
            self.start_run()
        finally:
            self.runner = runner
        return self.state.runs is not None

    def start_run(self) -> None:
        """Run the scenario's first seed (or the one a link asks to show) for display; the
        other seeds follow in the background once it is painted."""
        self._debounce = None
        try:
            scenario, a, b = self.inputs()
        except VmswapError as exc:
            self.pending_seed = None
            self.report(f"Not run: {self.readable(exc)}. Showing the last good run.")
            return
        self.seed_set.stop()
        shown = self._seed_to_show(scenario)
        self.pending_seed = self.requested_seed = None
        self.runs_started += 1
        tuned = self.tuned_sides()
        self._submit_pair(with_seed(scenario, shown), a, b, fresh=(scenario, a, b), tuned=tuned)

    def _seed_to_show(self, scenario: dict[str, Any]) -> int:
        """The seed a link asks to show, if it is one of the scenario's seeds; else its own."""
        seeds = seed_list(scenario["seed"], self.state.n_seeds)
        wanted = self.pending_seed
        return wanted if wanted is not None and wanted in seeds else seeds[0]

    def show_seed(self, seed: int) -> None:
        """Show another of the seeds (the picker offers those done): its runs come from the
        cache when they are still there. The frame and VM on display stay; the seeds in the
        background go on."""
        target = self.requested_seed if self.requested_seed is not None else self.state.shown_seed
        inputs = self.seed_set.inputs
        if inputs is None or seed == target or seed not in self.seed_set.seeds():
            return
        scenario, a, b = inputs
        self.requested_seed = seed
        st = self.state
        self.pending_frame, self.pending_vm = st.frame, st.selected_vm
        self.seed_set.background.make_way(
            lambda: self._submit_pair(with_seed(scenario, seed), a, b, fresh=None)
        )

    def _submit_pair(
        self,
        scenario: dict[str, Any],
        a: dict[str, Any],
        b: dict[str, Any],
        fresh: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None,
        tuned: tuple[str, ...] = (),
    ) -> None:
        """Compute the pair to display on the runner. `fresh`: the inputs of a new set of
        seeds (their records start again); None: another seed of the set on display.
        `tuned`: the sides of a fresh set that are best demand (their readahead is chosen on
        the set's own seed first; the other seeds keep the choice)."""
        self.cancel.set()  # a run still going is superseded
        self.cancel = cancel = threading.Event()
        self.generation += 1
        generation = self.generation
        self.state.busy = True
        progress = Progress()
        self._stop_progress()
        self._progress_timer = self.timers.call_later(
            PROGRESS_PERIOD_S, lambda: self._show_progress(generation, progress)
        )
        runner = self.runner
        own = fresh[0] if fresh is not None else scenario
        tuned = tuned if fresh is not None else ()

        def job() -> RunPair:
            if tuned:
                return tuning.tuned_pair(own, scenario, a, b, tuned, cancel, progress)
            return compute_pair(scenario, a, b, cancel, progress)

        found = tuning.resolved(own, a, b, tuned)
        if self.found_runner is not None and found and all_found(scenario, found[0], found[1]):
            runner = self.found_runner
        runner.submit(job, lambda out: self._finished(generation, out, fresh))

    def _show_progress(self, generation: int, progress: Progress) -> None:
        """Put how far the run has got in the page, and look again a moment later, for as
        long as this run is the one computing (on the event loop; it only reads `progress`)."""
        self._progress_timer = None
        if generation != self.generation or not self.state.busy or self._polling:
            return
        self._polling = True  # timers that call at once (no server) must not recurse
        try:
            self.state.progress = progress.text()
            self._progress_timer = self.timers.call_later(
                PROGRESS_PERIOD_S, lambda: self._show_progress(generation, progress)
            )
        finally:
            self._polling = False

    def _stop_progress(self) -> None:
        if self._progress_timer is not None:
            self.timers.cancel(self._progress_timer)
            self._progress_timer = None
        self.state.progress = ""

    def _finished(
        self,
        generation: int,
        outcome: Any,
        fresh: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None = None,
    ) -> None:
        if generation != self.generation:
            return
        st = self.state
        st.busy = False
        self._stop_progress()
        self.requested_seed = None
        if isinstance(outcome, Cancelled):
            return
        if isinstance(outcome, VmswapError):
            self.report(f"Not run: {self.readable(outcome)}. Showing the last good run.")
            return
        if isinstance(outcome, BaseException):
            log.error("simulation failed", exc_info=outcome)
            self.report(
                f"The simulation failed ({type(outcome).__name__}: {str(outcome)[:200]}). "
                "Showing the last good run."
            )
            return
        runs: RunPair = outcome
        if fresh is not None:
            # The seeds after the first keep best demand's choice: they run the chosen configs.
            self.set_tunings = runs.tunings
            fresh = (fresh[0], runs.policy_a, runs.policy_b)
        else:
            runs.tunings = self.set_tunings
        frame = self.pending_frame if self.pending_frame is not None else st.frame
        frame = min(max(frame, 0), runs.n_frames - 1)
        vm = self.pending_vm if self.pending_vm is not None else st.selected_vm
        vm = min(max(vm, 0), len(runs.vm_names) - 1)
        self.pending_frame = self.pending_vm = None
        with self._silenced():
            st.playing = False
            st.runs = runs
            st.frame = frame
            st.selected_vm = vm
        self.seed_set.arrived(runs, fresh)
        self.display.set_runs(runs, self.labels(runs), frame, vm)
        if not self._sticky_message:
            st.message = ""
        self._schedule_url()

    def _on_n_seeds(self, event: Any) -> None:
        """More or fewer seeds: the missing ones run at once; if the seed on display is no
        longer one of them, the first is shown. While new inputs wait or run for display, the
        new number applies to them alone."""
        fresh_pending = self._debounce is not None or (
            self.state.busy and self.requested_seed is None
        )
        if self._quiet or self.seed_set.inputs is None or fresh_pending:
            return
        self.seed_set.resize()
        seeds = self.seed_set.seeds()
        if self.state.shown_seed not in seeds:
            self.show_seed(seeds[0])
        self._schedule_url()

    @staticmethod
    def labels(runs: RunPair) -> tuple[str, str]:
        """Each side's label: its policy and switches, or how best demand chose it."""
        a, b = (
            runs.tunings[p].label() if p in runs.tunings else policy_label(cfg)
            for p, cfg in (("A", runs.policy_a), ("B", runs.policy_b))
        )
        return a, b

    def readable(self, error: BaseException | str, vm_names: list[str] | None = None) -> str:
        """An error's text for the page: server folders shortened, and each VM named beside
        its index (`vms[1] (db).memory_mib`), as the table shows names, not indices."""
        names = [vm.name for vm in self.state.scenario.vms] if vm_names is None else vm_names

        def name(m: re.Match[str]) -> str:
            i = int(m.group(1))
            return f"{m.group(0)} ({names[i]})" if i < len(names) else m.group(0)

        return VM_INDEX.sub(name, self.without_server_paths(error))

    def without_server_paths(self, error: BaseException | str) -> str:
        """An error's text with the server's own folders (scenarios/, shared traces, this
        session's uploads) shortened to names a visitor may see."""
        text = str(error)
        folders = [
            (r.resolve(), label)
            for r, label in zip(TRACE_ROOTS, ("scenarios", "traces"), strict=False)
        ]
        folders += [(Path(r).resolve(), "uploads") for r in self.trace_roots]
        for folder, label in sorted(folders, key=lambda f: -len(str(f[0]))):
            text = text.replace(str(folder), label)
        return text

    def report(self, message: str, sticky: bool = False) -> None:
        """Show a readable message in the page (sticky ones survive the next good run)."""
        self._sticky_message = sticky
        if len(message) > MAX_MESSAGE_CHARS:  # a quoted value may be 4,096 characters long
            head = (MAX_MESSAGE_CHARS - 3) * 2 // 3  # keep the end: it says what is allowed
            message = f"{message[:head]} … {message[-(MAX_MESSAGE_CHARS - 3 - head) :]}"
        self.state.message = message

    def dismiss(self) -> None:
        self._sticky_message = False
        self.state.message = ""

    # -- frames ---------------------------------------------------------------------------------
    def _push(self, frame: int) -> int:
        """The player's way to send a frame."""
        self._from_player = True
        try:
            if self.state.frame == frame:
                return self.display.show(frame, playing=True, vm=self.state.selected_vm)
            self.state.frame = frame
        finally:
            self._from_player = False
        return self.display.seq

    def _on_frame(self, event: Any) -> None:
        if self._quiet:
            return
        runs = self.state.runs
        if runs is not None and event.new > runs.n_frames - 1:
            self.state.frame = runs.n_frames - 1
            return
        self.display.show(event.new, playing=self.state.playing, vm=self.state.selected_vm)
        if self.state.playing and not self._from_player:
            self.player.reanchor()
        if not self.state.playing:
            self._schedule_url()

    def _on_playing(self, event: Any) -> None:
        if not event.new and not self._quiet and self.state.runs is not None:
            # Paused: bring the secondary views (charts, log, hover) up to the frame.
            self.display.show(self.state.frame, playing=False, vm=self.state.selected_vm)
            self._schedule_url()

    def _on_vm(self, event: Any) -> None:
        if self._quiet or self.state.runs is None:
            return
        self.display.show(self.state.frame, playing=False, vm=event.new)
        self._schedule_url()

    def painted(self, seq: int) -> None:
        self.player.painted(seq)
        self.seed_set.painted()

    def step(self, n: int) -> None:
        """Move n frames (negative: back), pausing playback."""
        runs = self.state.runs
        if runs is None:
            return
        self.state.playing = False
        self.state.frame = min(max(self.state.frame + n, 0), runs.n_frames - 1)

    def goto(self, frame: int) -> None:
        runs = self.state.runs
        if runs is None:
            return
        self.state.playing = False
        self.state.frame = min(max(frame, 0), runs.n_frames - 1)

    def key(self, key: str) -> None:
        """A keyboard shortcut from the page ('toggle', 'forward', 'back_n', ... [':n'])."""
        name = key.split(":", 1)[0]
        n = self.state.step_n
        actions = {
            "toggle": self.toggle,
            "forward": lambda: self.step(1),
            "back": lambda: self.step(-1),
            "forward_n": lambda: self.step(n),
            "back_n": lambda: self.step(-n),
            "first": lambda: self.goto(0),
            "last": lambda: self.goto(10**9),
        }
        action = actions.get(name)
        if action is not None:
            action()

    def toggle(self) -> None:
        if self.state.runs is not None:
            self.state.playing = not self.state.playing

    # -- sharing and downloads ---------------------------------------------------------------------
    def share_query(self) -> str:
        runs = self.state.runs
        if runs is None:
            return ""
        st = self.state
        # The scenario with its own seed (the first of the seeds), and the seed on display.
        inputs = self.seed_set.inputs
        scenario = inputs[0] if inputs is not None else runs.scenario_dict
        shown = int(runs.scenario_dict["seed"])
        # A best-demand side travels as its switches and the flag: the link chooses again.
        tuned = runs.tunings
        code = urlcodec.encode(
            scenario,
            tuned["A"].base if "A" in tuned else runs.policy_a,
            tuned["B"].base if "B" in tuned else runs.policy_b,
            st.frame,
            st.selected_vm,
            st.speed if st.speed != st.param.speed.default else None,
            st.n_seeds if st.n_seeds != DEFAULT_SEEDS else None,
            shown if shown != scenario["seed"] else None,
            tuple(tuned),
        )
        return f"?{urlcodec.QUERY_KEY}={code}"

    def _schedule_url(self) -> None:
        if self._url_timer is not None:
            self.timers.cancel(self._url_timer)
        self._url_timer = self.timers.call_later(URL_DEBOUNCE_S, self.sync_url)

    def sync_url(self) -> None:
        """Write the share link (and the address bar) — only while paused: the browser's history
        API is too slow to follow playback."""
        self._url_timer = None
        if self.state.playing:
            return
        query = self.share_query()
        if not query:
            return
        self.state.share_url = f"{self.base_url}{query}"
        if self.url_sink is not None:
            self.url_sink(query)

    def download_toml(self) -> str:
        runs = self.state.runs
        if runs is None:
            return ""
        return downloads.scenario_toml(
            runs.scenario_dict, runs.policy_a, runs.policy_b, runs.tunings
        )

    def download_csv(self) -> str:
        return "" if self.state.runs is None else downloads.results_csv(self.state.runs)

    def download_json(self) -> str:
        runs = self.state.runs
        return "" if runs is None else downloads.results_json(runs, self.state.frame)

    def close(self) -> None:
        """The session ended: stop timers and any run, and remove what the session made."""
        for fn in self.on_close:
            fn()
        self.cancel.set()
        self.seed_set.close()
        self.player.stop()
        for handle in (self._debounce, self._url_timer, self._progress_timer):
            if handle is not None:
                self.timers.cancel(handle)


def all_found(scenario: dict[str, Any], a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether every run the pair needs (A, B, and demand paging for coverage when neither
    is) is finished already: pinned by the warm-up or in the run cache."""
    needed = [a, b] if "demand" in (a["name"], b["name"]) else [a, b, {"name": "demand"}]
    return all(shared_runs.find(run_key(scenario, validate_policy(p))) is not None for p in needed)


def _python_value(p: param.Parameter, value: Any) -> Any:
    """A widget's value as the schema stores it: numpy scalars made plain, 48.0 for an integer
    field made 48, 2 for a number field made 2.0 (anything else is left for validation)."""
    value = plain(value)
    if isinstance(value, bool):
        return value
    if isinstance(p, param.Integer):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if isinstance(p, param.Number) and isinstance(value, int):
        return float(value)
    return value


def _path_of(root: Section, target: Section) -> list[str | int] | None:
    """The keys that lead from a scenario's dict to `target`'s table (['vms', 2, 'workload']),
    or None when `target` is not part of this scenario."""
    if root is target:
        return []
    for name in root.fields():
        value = getattr(root, name)
        children = enumerate(value) if isinstance(value, list) else [(None, value)]
        for i, child in children:
            if isinstance(child, Section):
                below = _path_of(child, target)
                if below is not None:
                    return [name, *([] if i is None else [i]), *below]
    return None
