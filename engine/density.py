"""Consolidation density: the most VMs that meet a slowdown target, per policy, over seeds.

The search over the VM count gallops (1, 2, 4, …) until a count misses the target, then bisects
between the last count that met it and the first that missed. It assumes slowdown grows with
the VM count; where it does not, the answer is still a count that meets the target next to one
that misses it (or the largest count allowed).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ScenarioError, VmswapError
from engine.scenario import Scenario
from engine.sweep import MAX_VMS, Run, build, make_run, policy_label, run_one

# Evaluate a batch of runs (in-process, or on Dask): their summaries by run key.
Evaluator = Callable[[Sequence[Run]], Mapping[str, Mapping[str, Any]]]


@dataclass
class DensitySearch:
    """Galloping then bisection over 1..max_vms for one policy and seed."""

    max_vms: int
    lo: int = 0  # the largest count known to meet the target (0: none yet)
    hi: int | None = None  # the smallest count known to miss it
    probes: list[tuple[int, bool]] = field(default_factory=list)

    def next_probe(self) -> int | None:
        """The next VM count to try, or None when the answer is known."""
        if self.hi is None:
            return None if self.lo >= self.max_vms else min(self.max_vms, max(1, 2 * self.lo))
        return None if self.hi - self.lo <= 1 else (self.lo + self.hi) // 2

    def record(self, n: int, meets: bool) -> None:
        self.probes.append((n, meets))
        if meets:
            self.lo = max(self.lo, n)
        else:
            self.hi = n if self.hi is None else min(self.hi, n)

    @property
    def density(self) -> int:
        return self.lo

    @property
    def capped(self) -> bool:
        """True when even max_vms met the target (the true density may be higher)."""
        return self.hi is None and self.lo >= self.max_vms


def meets(summary: Mapping[str, Any], target_slowdown: float) -> bool:
    """A run meets the target when its host slowdown is known and at most the target."""
    slowdown = summary.get("slowdown")
    return slowdown is not None and float(slowdown) <= target_slowdown


@dataclass
class PolicyDensity:
    """One policy's answer: a density per seed and every probe that led to it."""

    policy: str
    seeds: list[int]
    densities: list[int]
    capped: list[bool]
    probes: list[dict[str, Any]]

    def stats(self) -> dict[str, float]:
        d = self.densities
        return {
            "min": min(d),
            "median": statistics.median(d),
            "mean": statistics.fmean(d),
            "max": max(d),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "seeds": self.seeds,
            "densities": self.densities,
            "capped": self.capped,
            **self.stats(),
            "probes": self.probes,
        }


def evaluate_here(runs: Sequence[Run]) -> dict[str, Mapping[str, Any]]:
    """The in-process evaluator: run each run in turn."""
    return {run.key: run_one(run.scenario)["summary"] for run in runs}


def check_request(
    scenario: Scenario,
    target_slowdown: float,
    policies: Sequence[str | Mapping[str, Any]],
    seeds: Sequence[int],
    max_vms: int,
) -> tuple[list[str | Mapping[str, Any]], list[str]]:
    """Check a density request before anything runs: (policies, their labels), or raise."""
    if not 1.0 <= target_slowdown <= 1e6:
        raise VmswapError(
            f"target slowdown {target_slowdown:g} is not allowed; expected 1.0 or more "
            "(1.0 is no loss against unlimited memory)"
        )
    if not 1 <= max_vms <= MAX_VMS:
        raise VmswapError(f"max VMs {max_vms} is not allowed; expected 1 to {MAX_VMS}")
    if not seeds:
        raise VmswapError("at least one seed is needed")
    chosen = list(policies) or [scenario.policy_name]
    labels = [policy_label(p) for p in chosen]
    if len(set(labels)) != len(labels):
        raise VmswapError(f"policies are listed twice: {', '.join(labels)}")
    base = scenario.to_dict()
    for policy, label in zip(chosen, labels, strict=True):
        probe_run(base, policy, label, seeds[0], max_vms)
    return chosen, labels


def find_density(
    scenario: Scenario,
    target_slowdown: float,
    *,
    policies: Sequence[str | Mapping[str, Any]] = (),
    seeds: Sequence[int] = (1,),
    max_vms: int = 64,
    evaluate: Evaluator = evaluate_here,
    on_round: Callable[[int, int], None] | None = None,
) -> list[PolicyDensity]:
    """For each policy, the most copies of the scenario's VMs (replicated in turn on the same
    host) whose slowdown stays at or under the target, for every seed.

    All searches advance together, one probe each per round, so an evaluator on a cluster
    runs a round's probes in parallel. on_round(round, runs) reports each round."""
    base = scenario.to_dict()
    chosen, labels = check_request(scenario, target_slowdown, policies, seeds, max_vms)
    searches = {(i, s): DensitySearch(max_vms) for i in range(len(chosen)) for s in seeds}
    probes: dict[tuple[int, int], list[dict[str, Any]]] = {k: [] for k in searches}
    round_no = 0
    while True:
        batch: dict[tuple[int, int], tuple[int, Run]] = {}
        for (i, s), search in searches.items():
            n = search.next_probe()
            if n is not None:
                batch[(i, s)] = (n, probe_run(base, chosen[i], labels[i], s, n))
        if not batch:
            break
        round_no += 1
        if on_round is not None:
            on_round(round_no, len({run.key for _, run in batch.values()}))
        summaries = evaluate([run for _, run in batch.values()])
        for (i, s), (n, run) in batch.items():
            summary = summaries[run.key]
            ok = meets(summary, target_slowdown)
            searches[(i, s)].record(n, ok)
            probes[(i, s)].append(
                {"seed": s, "vm_count": n, "slowdown": summary.get("slowdown"), "meets": ok}
            )
    return [
        PolicyDensity(
            labels[i],
            list(seeds),
            [searches[(i, s)].density for s in seeds],
            [searches[(i, s)].capped for s in seeds],
            [p for s in seeds for p in probes[(i, s)]],
        )
        for i in range(len(chosen))
    ]


def probe_run(
    base: Mapping[str, Any], policy: str | Mapping[str, Any], label: str, seed: int, n: int
) -> Run:
    """The run that tries n copies of the base's VMs under a policy and seed."""
    data = build(base, {"vm_count": n, "policy": policy})
    data["seed"] = seed
    try:
        return make_run(data, {"policy": label, "vm_count": n, "seed": seed})
    except ScenarioError as exc:
        raise VmswapError(f"policy {label}, {n} VMs, seed {seed}: {exc}") from None


def density_from_rows(
    rows: Iterable[tuple[Any, int, int, float | None]], target_slowdown: float
) -> dict[Any, list[tuple[int, int]]]:
    """Density from a sweep's grid: rows of (group, seed, vm_count, slowdown) give, per group,
    (seed, density) pairs. A density is the largest count whose every smaller count in the
    grid met the target too; 0 when the smallest count in the grid misses it."""
    by_group: dict[Any, dict[int, list[tuple[int, bool]]]] = {}
    for group, seed, count, slowdown in rows:
        ok = slowdown is not None and slowdown == slowdown and slowdown <= target_slowdown
        by_group.setdefault(group, {}).setdefault(seed, []).append((count, ok))
    out: dict[Any, list[tuple[int, int]]] = {}
    for group, per_seed in by_group.items():
        pairs = []
        for seed in sorted(per_seed):
            density = 0
            for count, ok in sorted(per_seed[seed]):
                if not ok:
                    break
                density = count
            pairs.append((seed, density))
        out[group] = pairs
    return out
