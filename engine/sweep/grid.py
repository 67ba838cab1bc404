"""The grid of a sweep: its axes and runs, run keys, and how axis values change a scenario.

A run's key is a hash of its full, validated scenario, so the key follows every parameter and
the same sweep always expands to the same keys in the same (grid) order.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ScenarioError
from engine.scenario import from_dict, set_path
from engine.sweep.errors import SweepError

SPECIAL = ("policy", "vm_count", "overcommit")
KEY_VERSION = "vmswap-run-2"  # change to invalidate every journal when a run's meaning changes


@dataclass(frozen=True)
class Ratio:
    """What a ratio sweep divides: `of`'s metric ÷ the least of the baseline settings' metric."""

    metric: str
    of: str | dict[str, Any]
    of_label: str
    baseline: tuple[str | dict[str, Any], ...]  # one setting, or every best-demand candidate
    to_label: str

    @property
    def baseline_labels(self) -> tuple[str, ...]:
        return tuple(policy_label(p) for p in self.baseline)

    @property
    def policies(self) -> list[str | dict[str, Any]]:
        """The policy axis of the sweep: `of`, then the baseline settings."""
        return [self.of, *self.baseline]


@dataclass(frozen=True)
class Axis:
    """One varied quantity: a special name (policy, vm_count, overcommit) or a scenario path."""

    name: str
    values: tuple[Any, ...]
    labels: tuple[Any, ...]  # what the results column shows for each value


@dataclass(frozen=True)
class Run:
    """One simulation: its key (hash of the full scenario), its column values and scenario."""

    key: str
    labels: dict[str, Any]
    scenario: dict[str, Any]

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.labels.items())


@dataclass
class Sweep:
    """A validated sweep: the base scenario as a dict, fixed settings, axes, seeds, metrics."""

    name: str
    source: str
    base: dict[str, Any]
    fixed: dict[str, Any]
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]
    description: str = ""
    ratio: Ratio | None = None  # a ratio sweep's policies and metric (engine.sweep.ratio)
    _runs: list[Run] | None = field(default=None, repr=False)

    @property
    def n_runs(self) -> int:
        n = len(self.seeds)
        for a in self.axes:
            n *= len(a.values)
        return n

    @property
    def columns(self) -> list[str]:
        """Columns of the results table, in order."""
        names = [a.name for a in self.axes if a.name not in ("policy", "vm_count")]
        return ["run", "policy", "vm_count", *names, "seed", *self.metrics]

    def runs(self) -> list[Run]:
        """Every run in grid order (axes as in the file, seeds innermost), each validated."""
        if self._runs is None:
            self._runs = list(_expand(self))
        return self._runs


def run_key(scenario: Mapping[str, Any]) -> str:
    """A stable hash of a validated scenario dict (policy and seed included)."""
    text = json.dumps(scenario, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{KEY_VERSION}\n{text}".encode()).hexdigest()[:20]


def make_run(scenario: Mapping[str, Any], labels: dict[str, Any]) -> Run:
    """Validate a scenario dict into a Run (ScenarioError if it is not a valid scenario)."""
    canonical = from_dict(scenario).to_dict()
    return Run(run_key(canonical), labels, canonical)


# -- applying axis values to a scenario dict -------------------------------------------------


def assign(data: dict[str, Any], path: str, value: Any) -> None:
    """set_path, plus one `[*]` wildcard: `vms[*].memory_mib` sets it in every VM."""
    head, star, tail = path.partition("[*]")
    if not star:
        set_path(data, path, copy.deepcopy(value))
        return
    node: Any = data
    if head:
        for part in head.split("."):
            node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, list):
        raise ScenarioError(f"{head!r} is not a list, so [*] cannot apply", field=path)
    for i in range(len(node)):
        assign(data, f"{head}[{i}]{tail}", value)


def set_vm_count(data: dict[str, Any], n: int) -> None:
    """Keep the first n VMs, or replicate the list in turn (`web`, `db`, `web-2`, `db-2`, …)."""
    vms = data["vms"]
    base = len(vms)
    if n <= base:
        data["vms"] = vms[:n]
        return
    names = {vm["name"] for vm in vms}
    out = list(vms)
    for i in range(base, n):
        clone = copy.deepcopy(vms[i % base])
        name = f"{clone['name']}-{i // base + 1}"
        while name in names:
            name += "x"
        clone["name"] = name
        names.add(name)
        out.append(clone)
    data["vms"] = out


def set_overcommit(data: dict[str, Any], ratio: float) -> None:
    """Size host memory so that the VMs' total memory is `ratio` times it."""
    total = sum(int(vm.get("memory_mib", 1024)) for vm in data["vms"])
    data.setdefault("host", {})["memory_mib"] = max(1, round(total / ratio))


def set_policy(data: dict[str, Any], value: str | Mapping[str, Any]) -> None:
    """A name keeps the base's switches when it names the base's policy (as `simulate` does);
    a table replaces the policy table."""
    if isinstance(value, str):
        current = data.get("policy") or {}
        data["policy"] = dict(current) if current.get("name") == value else {"name": value}
    else:
        data["policy"] = {k: v for k, v in value.items() if k != "label"}


def build(base: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The base with settings applied in a fixed order: vm_count (so `vms[i]` paths refer to
    the final list and `vms[*]` reaches the replicas), the policy (so `policy.x` paths refine
    it), the scenario paths, then overcommit (which needs the final VM sizes)."""
    data = copy.deepcopy(dict(base))
    if "vm_count" in settings:
        set_vm_count(data, settings["vm_count"])
    if "policy" in settings:
        set_policy(data, settings["policy"])
    for path, value in settings.items():
        if path not in SPECIAL:
            assign(data, path, value)
    if "overcommit" in settings:
        set_overcommit(data, settings["overcommit"])
    return data


def policy_label(value: str | Mapping[str, Any]) -> str:
    """`demand`, or `demand:victims=random` for a table (its own `label` wins)."""
    if isinstance(value, str):
        return value
    if "label" in value:
        return str(value["label"])
    switches = [f"{k}={v}" for k, v in value.items() if k not in ("name", "label")]
    return ":".join([str(value.get("name", "demand")), *switches])


def _expand(sweep: Sweep) -> Iterator[Run]:
    default_policy = policy_label(sweep.fixed.get("policy", sweep.base["policy"]["name"]))
    others = [a.name for a in sweep.axes if a.name not in ("policy", "vm_count")]
    for combo in itertools.product(*(range(len(a.values)) for a in sweep.axes)):
        point = dict(sweep.fixed)
        chosen: dict[str, Any] = {"policy": default_policy}
        for axis, i in zip(sweep.axes, combo, strict=True):
            point[axis.name] = axis.values[i]
            chosen[axis.name] = axis.labels[i]
        try:
            data = from_dict(build(sweep.base, point)).to_dict()
        except ScenarioError as exc:
            at = ", ".join(f"{k}={chosen[k]}" for k in chosen if k in point)
            raise SweepError(f"at {at}: {exc}", source=sweep.source, field="axes") from None
        labels = {"policy": chosen["policy"], "vm_count": len(data["vms"])}
        labels.update((name, chosen[name]) for name in others)
        for seed in sweep.seeds:
            scenario = {**copy.deepcopy(data), "seed": seed}
            yield Run(run_key(scenario), {**labels, "seed": seed}, scenario)
