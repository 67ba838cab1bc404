"""The oracle's own work told apart from the engine's: a run of the oracle records its decisions
(the victims it gives, the pages a fault reads, what its step hook asks the machine to do), and
a second run replays them through the same engine path while choosing nothing.

The replayed run's time is the floor the engine path sets for the oracle: what a run would cost
if the oracle's choices were free. Its ratio to demand paging's time says how much of issue
14's "oracle within 1.5x of demand" the engine path alone already takes, and the rest is the
oracle's own work. The replay is checked, not assumed: its summary must equal the recorded
run's, figure for figure, or `replayed_run` raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.machine import Machine
from engine.policies.context import PolicyContext
from engine.policies.oracle import Oracle
from engine.policies.registry import REGISTRY
from engine.scenario import Scenario
from engine.simulator import RunResult, Simulation, baseline_references

# The machine's services the oracle's step hook calls (evict for room, write_back ahead of
# reclaim, prefetch): what a replayed step calls again, with the same arguments.
STEP_SERVICES = ("evict", "write_back", "prefetch")

Call = tuple[str, tuple[Any, ...], dict[str, Any]]
_NONE = object()  # an iterator's end, where None is a decision (no fault read)


@dataclass
class DecisionLog:
    """Everything the oracle decided in one run, in the order the engine asked."""

    # Each reclaim's question (n, clean_only) and the victims the oracle gave.
    victims: list[tuple[tuple[int, bool], np.ndarray]] = field(default_factory=list)
    fault_reads: list[np.ndarray | None] = field(default_factory=list)
    steps: list[list[Call]] = field(default_factory=list)


def _copied(value: Any) -> Any:
    """An argument as it was at the call (the oracle reuses its buffers)."""
    return value.copy() if isinstance(value, np.ndarray) else value


@contextlib.contextmanager
def _service_calls(machine: Machine) -> Iterator[list[Call]]:
    """The step services called on machine while the block runs, top-level calls only (one
    that a service makes itself is replayed by replaying its caller)."""
    calls: list[Call] = []
    depth = [0]
    for name in STEP_SERVICES:
        service = getattr(machine, name)

        def logged(*args: Any, _service: Any = service, _name: str = name, **kwargs: Any) -> Any:
            if depth[0] == 0:
                calls.append((_name, tuple(map(_copied, args)), dict(kwargs)))
            depth[0] += 1
            try:
                return _service(*args, **kwargs)
            finally:
                depth[0] -= 1

        setattr(machine, name, logged)  # an instance attribute, over the class's method
    try:
        yield calls
    finally:
        for name in STEP_SERVICES:
            delattr(machine, name)


class RecordingOracle(Oracle):
    """The oracle, noting each decision in `log` as it makes it (`log`: set on a subclass made
    for the run, as the registry hands out classes)."""

    log: DecisionLog

    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        chosen = super().victims(n, now_ns, clean_only)
        self.log.victims.append(((n, clean_only), chosen.copy()))
        return chosen

    def fault_prefetch(self, vm: int, page: int, now_ns: int) -> np.ndarray | None:
        pages = super().fault_prefetch(vm, page, now_ns)
        self.log.fault_reads.append(None if pages is None else pages.copy())
        return pages

    def on_step(self, now_ns: int, step_end_ns: int) -> None:
        with _service_calls(self.machine) as calls:
            super().on_step(now_ns, step_end_ns)
        self.log.steps.append(calls)


class ReplayingOracle(Oracle):
    """The oracle's class (so the engine drives it as it drives the oracle: the same switches,
    the same compiled paths), answering from `log` instead of choosing."""

    log: DecisionLog

    def __init__(self, params: dict[str, Any], ctx: PolicyContext):
        super().__init__(params, ctx)
        self._victims = iter(self.log.victims)
        self._fault_reads = iter(self.log.fault_reads)
        self._steps = iter(self.log.steps)

    def decisions_left(self) -> bool:
        """Whether any recorded decision was not asked for."""
        return any(
            next(it, _NONE) is not _NONE for it in (self._victims, self._fault_reads, self._steps)
        )

    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        asked, chosen = _next(self._victims, "victims")
        if asked != (n, clean_only):
            raise ReplayDiverged(
                f"the replay asked for victims (n, clean_only) {(n, clean_only)} where the "
                f"oracle's run was asked {asked}"
            )
        return chosen

    def fault_prefetch(self, vm: int, page: int, now_ns: int) -> np.ndarray | None:
        return _next(self._fault_reads, "fault reads")

    def on_step(self, now_ns: int, step_end_ns: int) -> None:
        for name, args, kwargs in _next(self._steps, "steps"):
            getattr(self.machine, name)(*args, **kwargs)


class ReplayDiverged(RuntimeError):
    """The replayed run went another way than the recorded one (other questions, more of them,
    or another summary): the engine path did not see the same decisions at the same moments,
    so its time is not the oracle's floor."""


def _next(decisions: Iterator[Any], what: str) -> Any:
    try:
        return next(decisions)
    except StopIteration:
        raise ReplayDiverged(
            f"the replay asked for more {what} than the oracle's run made"
        ) from None


def _run_as(
    cls: type[RecordingOracle | ReplayingOracle], scenario: Scenario, log: DecisionLog
) -> tuple[RunResult, Oracle]:
    """`simulate(scenario, "oracle", record=False)` with the policy made as cls, on log: the
    registry hands it out under the oracle's name while the run is set up, so the engine
    makes it exactly where and how it makes the oracle."""
    baseline = baseline_references(scenario)
    on_log = type(cls.__name__, (cls,), {"log": log})
    registered, REGISTRY["oracle"] = REGISTRY["oracle"], on_log
    try:
        sim = Simulation(scenario, "oracle", record=False)
    finally:
        REGISTRY["oracle"] = registered
    policy = sim.policy
    assert isinstance(policy, Oracle) and type(policy) is on_log
    return sim.run(baseline_refs=baseline), policy


def recorded_run(scenario: Scenario) -> tuple[RunResult, DecisionLog]:
    """The oracle's run of scenario (as `simulate` runs it, without recording) and its log."""
    log = DecisionLog()
    return _run_as(RecordingOracle, scenario, log)[0], log


def replayed_run(scenario: Scenario, log: DecisionLog, expected: RunResult) -> RunResult:
    """The run again with every decision taken from log; raises ReplayDiverged when its
    summary is not the recorded run's (`expected`)."""
    result, policy = _run_as(ReplayingOracle, scenario, log)
    assert isinstance(policy, ReplayingOracle)
    if policy.decisions_left():
        raise ReplayDiverged("the replayed run ended before it had asked for every decision made")
    if result.summary != expected.summary:
        differ = sorted(k for k in expected.summary if result.summary.get(k) != expected.summary[k])
        raise ReplayDiverged(f"the replayed run differs from the oracle's in {differ}")
    return result
