"""The simulation loop: steps of simulated time in which pCPUs run vCPUs against the page pool.

At each step boundary, in this order: finished device operations take effect, the scheduler
does its accounting, sleepers wake, background reclaim runs below the low watermark, the
policy acts on the plan (prefetch, proactive eviction), queued device work is dispatched,
the plan is refreshed and a frame is recorded. Then each pCPU in turn runs vCPUs to the end
of the step. `step_us` is thus the resolution of every cross-CPU interaction.

The host's memory side (pool, device, counters, clock and the paging services the executors
and policies call) is an `engine.machine.Machine`; a policy sees a `PolicyContext`, never
this class; a vCPU's own state is in `engine.vcpu`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from engine.bounded_cache import BoundedCache
from engine.compiled_pcpus import CompiledPcpus, may_compile_pcpus
from engine.device import SwapDevice
from engine.executor import BLOCK, DONE, RAN_TO_END, SLEEP, run_fast, run_reference
from engine.machine import Machine
from engine.metrics import Counters, summarise
from engine.policies import get_policy, validate_policy
from engine.policies.context import PolicyContext
from engine.pool import PagePool
from engine.quiet_steps import QuietSteps, may_run_quiet
from engine.recording import Recorder
from engine.scenario import Host, Scenario
from engine.scheduler import Plan, make_scheduler
from engine.unlimited import UnlimitedExecutor, UnlimitedOutcome
from engine.vcpu import BLOCKED, FINISHED, RUNNABLE, RUNNING, SLEEPING, VCpu
from engine.vcpu import FOREVER as FOREVER
from engine.workloads import RefStream, stream_seed


@dataclass
class Slice:
    pcpu: int
    vcpu: int
    start_ns: int
    end_ns: int
    reason: str


@dataclass
class RunResult:
    """What one run produced: a summary, per-VM figures, and the recording (if any)."""

    policy: str
    summary: dict[str, Any]
    vms: list[dict[str, Any]]
    recording: Any = None
    slices: list[Slice] = field(default_factory=list)
    policy_report: dict[str, Any] = field(default_factory=dict)  # Policy.report() at the end

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "summary": self.summary, "vms": self.vms}


class Simulation:
    """One scenario under one policy: a Machine, the scheduler, the vCPUs and the policy.

    `run()` to the end (or `run(until=t)` to a time), or `step()` a step at a time."""

    def __init__(
        self,
        scenario: Scenario,
        policy: str | dict[str, Any] | None = None,
        *,
        executor: str = "fast",
        record: bool | None = None,
        unlimited_memory: bool = False,
        quiet_steps: bool = True,
    ):
        """`quiet_steps=False` runs every step in Python (engine.quiet_steps otherwise runs
        the steps that need no Python in one compiled call, and engine.compiled_pcpus the
        pCPUs of a step whose boundary needed Python, with the same results)."""
        self.scenario = scenario
        s = scenario
        if policy is None:
            policy_cfg = dict(s.policy)
        elif isinstance(policy, str):
            base = dict(s.policy) if s.policy_name == policy else {}
            policy_cfg = validate_policy({**base, "name": policy})
        else:
            policy_cfg = validate_policy(dict(policy))
        self.policy_cfg = policy_cfg
        self.unlimited = unlimited_memory
        self.machine = m = Machine(s, unlimited_memory=unlimited_memory)
        self.step_ns = int(s.host.step_us * 1000)
        self.end_ns = int(s.duration_ms * 1e6)
        self.run_vcpu = run_fast if executor == "fast" else run_reference
        self.n_vms = m.n_vms
        vm_pages = [s.vm_pages(vm) for vm in s.vms]

        self.vcpus: list[VCpu] = []
        for k, vm in enumerate(s.vms):
            for j in range(vm.vcpus):
                seed = stream_seed(s.seed, vm.name, j)
                stream = RefStream(vm.workload, vm_pages[k], seed)
                act_rng = np.random.default_rng(
                    np.random.SeedSequence([s.seed, zlib.crc32(vm.name.encode()), j, 7])
                )
                limit = stream.source.__dict__.get("done_at")
                self.vcpus.append(
                    VCpu(
                        len(self.vcpus),
                        k,
                        int(m.pool.base[k]),
                        vm_pages[k],
                        stream,
                        vm.activity,
                        act_rng,
                        limit,
                    )
                )
        self.scheduler = make_scheduler(
            s.scheduler,
            s.host.pcpus,
            [v.vm for v in self.vcpus],
            [vm.weight for vm in s.vms],
            [vm.cap_pct for vm in s.vms],
        )
        for v in self.vcpus:
            self.scheduler.enqueue(v.index, 0)
        self.n_pcpus = s.host.pcpus
        self.running = [-1] * self.n_pcpus
        self.slice_end = [0] * self.n_pcpus
        self.slice_start = [0] * self.n_pcpus
        self.pcpu_time = [0] * self.n_pcpus
        self.slices: list[Slice] = []
        self.plan_tolerance_ns = max(self.step_ns, 1_000_000)
        self.plan_horizon_ns = max(100_000_000, 3 * self.scheduler.slice_ns)
        self._plan: Plan = Plan.empty(0)
        self._plan_version = -1
        self._plans_made = 0
        self._result: RunResult | None = None  # set once the run is finished
        self.ctx = PolicyContext(
            m,
            self.plan,
            self._plan,
            self.vcpus,
            self.running,
            self.slice_end,
            self.pcpu_time,
            step_ns=self.step_ns,
            slice_ns=int(self.scheduler.slice_ns),
            plan_tolerance_ns=self.plan_tolerance_ns,
            plan_horizon_ns=self.plan_horizon_ns,
            seed=s.seed,
        )
        self.policy = m.policy = get_policy(policy_cfg["name"])(policy_cfg, self.ctx)
        # The plan must reach as far as the policy looks ahead.
        self.plan_horizon_ns = max(self.plan_horizon_ns, self.policy.horizon_ns)
        self.ctx.plan_horizon_ns = self.plan_horizon_ns
        if record is None:
            record = s.recording.enabled
        self.recorder = m.recorder = Recorder(self) if record else None
        if unlimited_memory and executor == "fast" and self._only_first_touches_cost():
            self.run_vcpu = UnlimitedExecutor(m).run
        self._quiet = QuietSteps(self) if quiet_steps and may_run_quiet(self) else None
        # Made by the first step (as the kernels' workspace it reads: with the policy as it is
        # then) where the run can use it.
        self._pcpus: CompiledPcpus | None = None
        self._pcpus_to_make = quiet_steps and self._quiet is None

    def _only_first_touches_cost(self) -> bool:
        """Whether, with unlimited memory, a reference can cost only CPU or a first touch:
        demand paging (it fetches and evicts nothing without a major fault, and there is none)
        in a run that records nothing (a recording shows recency, which that executor keeps
        out of)."""
        return self.policy_cfg["name"] == "demand" and self.recorder is None

    # -- the machine's state, for readers of a Simulation ---------------------------------------
    @property
    def pool(self) -> PagePool:
        return self.machine.pool

    @property
    def counters(self) -> Counters:
        return self.machine.counters

    @property
    def device(self) -> SwapDevice:
        return self.machine.device

    @property
    def host(self) -> Host:
        return self.machine.host

    @property
    def now_ns(self) -> int:
        """The clock (the machine's): the start of the current step, or the end once run."""
        return self.machine.now_ns

    @now_ns.setter
    def now_ns(self, t: int) -> None:
        self.machine.now_ns = t

    @property
    def boundary_plan(self) -> Plan:
        """The plan as it stood at the last step boundary."""
        return self.ctx.boundary_plan

    def plan(self) -> Plan:
        """The scheduler's current plan (recomputed only when its state changed)."""
        if self._plan_version != self.scheduler.version:
            running = [(v, p, self.slice_end[p]) for p, v in enumerate(self.running) if v >= 0]
            idle = [p for p, v in enumerate(self.running) if v < 0]
            wakeups = [(vc.wake_ns, vc.index) for vc in self.vcpus if vc.status == SLEEPING]
            wakeups += [(vc.blocked_until, vc.index) for vc in self.vcpus if vc.status == BLOCKED]
            plan = self.scheduler.plan(self.now_ns, self.plan_horizon_ns, running, wakeups, idle)
            self._plan = self._mispredict(plan)
            self._plan_version = self.scheduler.version
        return self._plan

    def _mispredict(self, plan: Plan) -> Plan:
        """Injected plan errors: some planned slices name another vCPU than will run."""
        faults = self.machine.faults
        if faults.plan_error_rate <= 0 or plan.vcpu.size == 0:
            return plan
        self._plans_made += 1
        counters = np.arange(plan.vcpu.size, dtype=np.uint64) + np.uint64(self._plans_made << 20)
        wrong = faults.plan_wrong(counters)
        vcpu = plan.vcpu.copy()
        shift = 1 + (counters[wrong] % np.uint64(max(1, len(self.vcpus) - 1))).astype(np.int64)
        vcpu[wrong] = (vcpu[wrong] + shift) % len(self.vcpus)
        return Plan(vcpu, plan.pcpu, plan.start_ns, plan.end_ns, plan.made_ns)

    # -- the loop -----------------------------------------------------------------------------
    def _boundary(self, T: int, T_end: int) -> None:
        m = self.machine
        m.now_ns = T
        m.complete_until(T)
        self.scheduler.boundary(T)
        for vc in self.vcpus:
            if vc.status == SLEEPING and vc.wake_ns <= T:
                vc.status = RUNNABLE
                vc.burst_left_ns = vc.draw_burst()
                vc.enqueued_ns = T
                self.scheduler.enqueue(vc.index, T, woke=True)
            elif vc.status == BLOCKED and vc.blocked_until <= T:
                vc.status = RUNNABLE
                vc.blocked_until = -1
                vc.enqueued_ns = T
                self.scheduler.enqueue(vc.index, T, woke=True)
        # Readahead follows major faults, and unlimited memory has none.
        if self.policy.vector_readahead and not self.unlimited:
            for vm in range(self.n_vms):
                m.ra_cluster[vm] = self.policy.readahead_cluster(vm)
        if not self.unlimited:
            m.background_reclaim(T)
            self.policy.on_step(T, T_end)
        m.device.dispatch(T, T_end)
        self.ctx.boundary_plan = self.plan()
        if self.recorder is not None:
            self.recorder.maybe_record(T)

    def _dispatch(self, p: int, t: int) -> int:
        policy, vcpus = self.policy, self.vcpus
        # A vCPU another pCPU released later in this step is not yet there to be taken.
        v, _ = self.scheduler.pick(t, lambda x: vcpus[x].enqueued_ns <= t and policy.ready(x, t))
        if v < 0:
            return -1
        vc = self.vcpus[v]
        c = self.machine.counters
        c.dispatches[vc.vm] += 1
        predicted = self.ctx.boundary_plan.next_start(v)
        if predicted >= 0 and abs(predicted - t) <= self.plan_tolerance_ns:
            c.planned_dispatches[vc.vm] += 1
        c.wait_ns[vc.vm] += max(0, t - vc.enqueued_ns)
        vc.status = RUNNING
        self.running[p] = v
        self.slice_start[p] = t
        self.slice_end[p] = t + self.scheduler.slice_for(v)
        policy.on_dispatch(v, p, t)
        return v

    def _deschedule(self, p: int, t: int, reason: str) -> None:
        v = self.running[p]
        vc = self.vcpus[v]
        ran = t - self.slice_start[p]
        self.machine.counters.run_ns[vc.vm] += ran
        self.scheduler.charge(v, ran, t)
        self.slices.append(Slice(p, v, self.slice_start[p], t, reason))
        self.running[p] = -1
        if reason == SLEEP:
            vc.status = SLEEPING
            vc.wake_ns = t + vc.draw_sleep()
        elif reason == BLOCK:
            vc.status = BLOCKED
        elif reason == DONE:
            vc.status = FINISHED
        else:
            vc.status = RUNNABLE
            vc.enqueued_ns = t
            self.scheduler.enqueue(v, t)
        self.policy.on_deschedule(v, t, reason)

    def _run_pcpu(self, p: int, T: int, T_end: int, resume: tuple[int, int] | None = None) -> None:
        """pCPU p runs vCPUs until T_end; `resume` = (t, why) goes on from the compiled step
        loop, which stopped at t with its running vCPU's kernel stopped for why."""
        t = max(self.pcpu_time[p], T) if resume is None else resume[0]
        while resume is not None or t < T_end:
            v = self.running[p]
            if v < 0:
                v = self._dispatch(p, t)
                if v < 0:
                    later = [
                        self.vcpus[x].enqueued_ns
                        for x in self.scheduler.queue
                        if t < self.vcpus[x].enqueued_ns < T_end
                    ]
                    if later:
                        t = min(later)
                        continue
                    t = T_end
                    break
            vc = self.vcpus[v]
            t_end = min(T_end, self.slice_end[p])
            if resume is not None:
                t, why = run_fast(self.machine, vc, p, t, t_end, pending=resume[1])
                resume = None
            else:
                t, why = self.run_vcpu(self.machine, vc, p, t, t_end)
            if why == RAN_TO_END and t < self.slice_end[p]:
                break  # the step is over, the slice goes on
            self._deschedule(p, t, why if why != RAN_TO_END else "slice")
        self.pcpu_time[p] = t

    def step(self) -> bool:
        """Advance one step; False once the scenario's duration is reached."""
        return self._step()

    def _step(self, until: int | None = None) -> bool:
        """step(); given `until`, after its boundary in Python the pCPUs may go on in the
        compiled loop of quiet steps, through that step and the next ones before until."""
        T = self.now_ns
        if self.end_ns <= T:
            return False
        T_end = min(T + self.step_ns, self.end_ns)
        self._boundary(T, T_end)
        quiet = self._quiet
        if until is not None and quiet is not None and quiet.advance(self, until, True):
            return True
        if self._pcpus_to_make:
            self._pcpus_to_make = False
            self._pcpus = CompiledPcpus(self) if may_compile_pcpus(self) else None
        if self._pcpus is not None:
            self._pcpus.run(self, T, T_end)
        else:
            for p in range(self.n_pcpus):
                self._run_pcpu(p, T, T_end)
        self.now_ns = T_end
        return True

    @overload
    def run(
        self,
        until: None = None,
        *,
        baseline_refs: np.ndarray | None = None,
        with_baseline: bool = True,
        on_step: Callable[[int], None] | None = None,
    ) -> RunResult: ...

    @overload
    def run(
        self,
        until: int,
        *,
        baseline_refs: np.ndarray | None = None,
        with_baseline: bool = True,
        on_step: Callable[[int], None] | None = None,
    ) -> None: ...

    def run(
        self,
        until: int | None = None,
        *,
        baseline_refs: np.ndarray | None = None,
        with_baseline: bool = True,
        on_step: Callable[[int], None] | None = None,
    ) -> RunResult | None:
        """Run to the end and return the RunResult; or, given `until` (ns), only advance to
        the first step boundary at or past it (or the end) and return None.

        The result's slowdown is measured against the unlimited-memory baseline exactly as
        `simulate()` does (`baseline_references`, cached per scenario; pass `baseline_refs`
        when it is already known; `with_baseline=False` skips it and leaves slowdown out,
        for measuring the engine alone). After `run(until=t)` the run goes on with another `run`
        or `step`, so figures can be read at t. `on_step(now_ns)` hears the clock after every
        step, or after every run of quiet steps made in one compiled call (engine.quiet_steps;
        a run stops at every frame it records): progress, and raise in it to abandon the run.
        Running a finished simulation returns its result again."""
        if self._result is not None:
            return None if until is not None else self._result
        stop = self.end_ns if until is None else min(until, self.end_ns)
        while self.now_ns < stop:
            # Steps that need no Python run in one compiled call (engine.quiet_steps); one
            # whose boundary needs Python goes on there after it.
            if not (self._quiet is not None and self._quiet.advance(self, stop)) and not self._step(
                stop
            ):
                break
            if on_step is not None:
                on_step(self.now_ns)
        if until is not None:
            return None
        if baseline_refs is None and with_baseline and not self.unlimited:
            baseline_refs = baseline_references(self.scenario)
        return self.finish(baseline_refs)

    def finish(self, baseline_refs: np.ndarray | None = None) -> RunResult:
        """End the run at end_ns: running slices end, finished I/O lands, the summary is made
        (slowdown against baseline_refs when given). Prefer `run()`, which finds the baseline."""
        T = self.end_ns
        for p in range(self.n_pcpus):
            if self.running[p] >= 0:
                self._deschedule(p, max(T, self.pcpu_time[p]), "end")
        self.policy.on_end(T)
        self.machine.complete_until(T)
        if self.recorder is not None:
            self.recorder.finish(T)
        self._result = self.result(baseline_refs)
        return self._result

    def result(self, baseline_refs: np.ndarray | None) -> RunResult:
        summary, vms = summarise(
            self.counters,
            [vm.name for vm in self.scenario.vms],
            self.end_ns,
            baseline_refs,
            self.machine.device_summary(self.end_ns),
            self.scenario.page_bytes,
        )
        rec = self.recorder.recording if self.recorder is not None else None
        return RunResult(
            self.policy_cfg["name"], summary, vms, rec, self.slices, self.policy.report()
        )


# Shared by every session of a served app (each simulates on its own thread): locked, and
# bounded by bytes (an entry is one int64 per VM and a count, plus its key, the scenario's JSON).
BASELINE_CACHE_BYTES = 8 * 1024 * 1024
_BASELINE_CACHE: BoundedCache[UnlimitedOutcome] = BoundedCache(BASELINE_CACHE_BYTES)


def unlimited_outcome(
    scenario: Scenario, on_step: Callable[[int], None] | None = None
) -> UnlimitedOutcome:
    """The scenario run with unlimited memory: each VM's useful work (the denominator of
    slowdown) and the distinct pages touched (engine.overcommit's figure), from one run.

    It is the same whatever the policy and recording (nothing is ever evicted, so no policy
    decides anything), so those are left out of the cache key: comparing policies on one
    scenario, switching policy in the web app, or a run and its overcommit line, run it once.
    `on_step` hears the clock after each step of that run, if it is made here."""

    def unlimited() -> UnlimitedOutcome:
        sim = Simulation(scenario, {"name": "demand"}, record=False, unlimited_memory=True)
        sim.run(on_step=on_step)
        return UnlimitedOutcome.of(sim.machine)

    return _BASELINE_CACHE.get_or_compute(_baseline_key(scenario), unlimited)


def _baseline_key(scenario: Scenario) -> str:
    """The baseline cache's key: the scenario without its policy and recording."""
    same_for_all = {k: v for k, v in scenario.to_dict().items() if k not in ("policy", "recording")}
    return json.dumps(same_for_all, sort_keys=True)


def known_unlimited_outcome(scenario: Scenario) -> UnlimitedOutcome | None:
    """The scenario's unlimited-memory outcome if it is cached, without computing it."""
    return _BASELINE_CACHE.get(_baseline_key(scenario))


def remember_unlimited_outcome(scenario: Scenario, outcome: UnlimitedOutcome) -> None:
    """Cache an outcome computed elsewhere (engine.baseline_beside: a forked child's) as if
    `unlimited_outcome` had computed it here."""
    _BASELINE_CACHE.put(_baseline_key(scenario), outcome)


def baseline_references(scenario: Scenario) -> np.ndarray:
    """Useful work per VM with unlimited memory: the denominator of slowdown (cached with the
    rest of `unlimited_outcome`). The array returned is shared: read it, never write it."""
    return unlimited_outcome(scenario).references


def simulate(
    scenario: Scenario,
    policy: str | dict[str, Any] | None = None,
    *,
    executor: str = "fast",
    record: bool | None = None,
) -> RunResult:
    """Run a scenario under a policy (the scenario's own by default) and summarise it:
    `Simulation(...).run()`, with the baseline run first (as the app and the CLI see it)."""
    base = baseline_references(scenario)
    return Simulation(scenario, policy, executor=executor, record=record).run(baseline_refs=base)
