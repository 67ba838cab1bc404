"""Reading a sweep: the sweep file's schema, validated into a Sweep with one SweepError that
names the file, the field and what is allowed."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.device import CLASS_NAMES
from engine.errors import ScenarioError, did_you_mean
from engine.metrics import COUNTERS, derived
from engine.scenario import from_dict, load_scenario, parse_value, read_toml_file
from engine.sweep.errors import SweepError
from engine.sweep.grid import Axis, Sweep, build, policy_label
from engine.sweep.ratio import parse_ratio
from engine.sweep.task import FOOTPRINT_METRICS

TOP_KEYS = ("name", "description", "base", "seeds", "set", "axes", "metrics", "ratio")
DEFAULT_METRICS = (
    "slowdown",
    "major_faults",
    "stall_fraction",
    "swap_in_pages",
    "swap_out_pages",
    "references",
)
MAX_RUNS = 100_000
MAX_VMS = 256  # the schema's own limit on [[vms]]


def known_metrics() -> list[str]:
    """Every key of a run's summary that a sweep can keep."""
    names = [*COUNTERS, *derived(dict.fromkeys(COUNTERS, 0), 1.0), "sim_time_ns"]
    names += ["device_utilisation", *(f"device_{n}_pages" for n in CLASS_NAMES)]
    names += FOOTPRINT_METRICS
    return list(dict.fromkeys(names))


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; `base` is relative to the sweep file."""
    p = Path(path)
    data = read_toml_file(p, "sweep", SweepError)
    data.setdefault("name", p.stem)
    return sweep_from_dict(data, source=str(path), base_dir=p.parent)


def sweep_from_dict(
    data: Mapping[str, Any], *, source: str = "<sweep>", base_dir: str | Path = "."
) -> Sweep:
    """Validate a parsed sweep (file, web form) into a Sweep, or raise one SweepError."""

    def fail(message: str, where: str | None = None) -> SweepError:
        return SweepError(message, source=source, field=where)

    if not isinstance(data, Mapping):
        raise fail("a sweep must be a table")
    for key in data:
        if key not in TOP_KEYS:
            hint = did_you_mean(str(key), TOP_KEYS)
            raise fail(f"unknown key{hint}; allowed: {', '.join(TOP_KEYS)}", str(key))
    name = data.get("name", "sweep")
    description = data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise fail("expected a string", "name" if not isinstance(name, str) else "description")
    base_path = data.get("base")
    if not isinstance(base_path, str) or not base_path:
        raise fail("expected the path of a scenario file (relative to the sweep file)", "base")
    full = Path(base_dir) / base_path
    try:
        base = load_scenario(full).to_dict()
    except ScenarioError as exc:
        raise fail(f"the base scenario is not usable: {exc}", "base") from None

    fixed = _flatten(_table(data.get("set", {}), "set", fail), "set")
    axes_raw = _flatten(_table(data.get("axes", {}), "axes", fail), "axes")
    for where, value in axes_raw.items():
        if not isinstance(value, list):
            raise fail(f"expected a list of values, found {type(value).__name__}", where)
    settings = {k.removeprefix("set."): v for k, v in fixed.items()}
    for key, value in settings.items():
        _check_special(key, value, f"set.{key}", fail)
    try:
        fixed_base = build(base, settings)
        from_dict(fixed_base)
    except ScenarioError as exc:
        raise fail(str(exc), "set") from None

    axes = tuple(
        _axis(where.removeprefix("axes."), values, where, base, settings, fail)
        for where, values in axes_raw.items()
    )
    seeds = _seeds(data.get("seeds", [base.get("seed", 1)]), fail)
    metrics = _metrics(data.get("metrics", list(DEFAULT_METRICS)), fail)
    ratio = None
    if "ratio" in data:
        if any(a.name == "policy" for a in axes):
            raise fail("a sweep with [ratio] takes its policies from it; remove it", "axes.policy")
        ratio = parse_ratio(data["ratio"], fixed_base["policy"], fail)
        # The ratio's policies are one more axis: every run is an ordinary sweep run.
        axes = (*axes, _axis("policy", ratio.policies, "ratio", base, settings, fail))
        needed = [ratio.metric, *FOOTPRINT_METRICS]
        metrics = _metrics([*metrics, *needed], fail, where="ratio.metric")
    sweep = Sweep(name, source, base, settings, axes, seeds, metrics, description, ratio)
    if sweep.n_runs > MAX_RUNS:
        raise fail(f"{sweep.n_runs:,} runs is more than the {MAX_RUNS:,} a sweep may hold", "axes")
    return sweep


def _table(value: Any, where: str, fail: Callable[..., SweepError]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise fail(f"expected a table, found {type(value).__name__}", where)
    return value


def _flatten(table: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Nested tables to dotted paths: `[axes] device.preset = [...]` is `axes.device.preset`.
    A top-level `policy` table stays whole: it is a value, not a group of paths."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}.{key}"
        if isinstance(value, Mapping) and key == "policy" and prefix in ("set", "axes"):
            out[path] = dict(value)
        elif isinstance(value, Mapping):
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def _check_special(name: str, value: Any, where: str, fail: Callable[..., SweepError]) -> None:
    if name == "seed":
        raise fail("vary the seed with the top-level `seeds` list", where)
    if name == "vm_count" and (
        isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VMS
    ):
        raise fail(f"{value!r} is not allowed; expected an integer from 1 to {MAX_VMS}", where)
    if name == "overcommit" and (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1000
    ):
        raise fail(f"{value!r} is not allowed; expected a number above 0 and up to 1000", where)
    if name == "policy" and not isinstance(value, str | Mapping):
        raise fail(f"{value!r} is not allowed; expected a policy name or a table", where)


def parse_policy_spec(text: str) -> dict[str, Any]:
    """`NAME[:KEY=VALUE…]` (the CLI's and the web form's syntax) as a policy table with a label."""
    name, *switches = (part.strip() for part in text.strip().split(":"))
    table: dict[str, Any] = {"name": name, "label": text.strip()}
    for s in switches:
        key, sep, value = s.partition("=")
        if not sep or not key.strip():
            raise SweepError(f"{text!r}: expected NAME or NAME:KEY=VALUE[:KEY=VALUE…]")
        table[key.strip()] = parse_value(value.strip())
    return table


def _label(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def _axis(
    name: str,
    values: list[Any],
    where: str,
    base: Mapping[str, Any],
    settings: Mapping[str, Any],
    fail: Callable[..., SweepError],
) -> Axis:
    if not values:
        raise fail("an axis needs at least one value", where)
    if name == "seed":
        raise fail("vary the seed with the top-level `seeds` list", where)
    if name in ("name", "description") or name.startswith("recording"):
        raise fail("this field does not change a run's results; it cannot be an axis", where)
    for i, v in enumerate(values):
        _check_special(name, v, f"{where}[{i}]", fail)
    if name == "policy":
        labels = tuple(policy_label(v) for v in values)
        stored = tuple(v if isinstance(v, str) else dict(v) for v in values)
    else:
        kinds = {
            "number" if isinstance(v, int | float) and not isinstance(v, bool) else type(v).__name__
            for v in values
        }
        if len(kinds) > 1:
            raise fail(f"values mix {' and '.join(sorted(kinds))}; use one kind per axis", where)
        labels = tuple(_label(v) for v in values)
        stored = tuple(values)
    seen: set[Any] = set()
    for i, label in enumerate(labels):
        if label in seen:
            raise fail(f"{label!r} is listed twice", f"{where}[{i}]")
        seen.add(label)
    # Each value alone with the `set` table, built as a run is (the set's paths after the
    # axis's value): the message names the axis and the value when the file is read, not
    # when its runs are expanded. A `set` of `policy.x` refines every policy of the axis.
    for i, v in enumerate(stored):
        try:
            from_dict(build(base, {**settings, name: v}))
        except ScenarioError as exc:
            hint = " (the set table applies to every run)" if settings else ""
            message = f"{labels[i]!r} does not make a valid scenario: {exc}{hint}"
            raise fail(message, where) from None
    return Axis(name, stored, labels)


def _seeds(value: Any, fail: Callable[..., SweepError]) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_RUNS:
            raise fail(f"{value} is not allowed; expected a count from 1 to {MAX_RUNS}", "seeds")
        return tuple(range(1, value + 1))
    if not isinstance(value, list) or not value:
        raise fail("expected a count (seeds 1..N) or a non-empty list of seeds", "seeds")
    for i, s in enumerate(value):
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**63:
            allowed = "expected an integer from 0 to 2**63-1"
            raise fail(f"{s!r} is not allowed; {allowed}", f"seeds[{i}]")
        if value.index(s) != i:
            raise fail(f"{s} is listed twice", f"seeds[{i}]")
    return tuple(value)


def _metrics(
    value: Any, fail: Callable[..., SweepError], where: str | None = None
) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise fail("expected a non-empty list of summary metrics", "metrics")
    known = known_metrics()
    for i, m in enumerate(value):
        if m not in known:
            hint = did_you_mean(str(m), known)
            message = f"unknown metric {m!r}{hint}; allowed: {', '.join(known)}"
            raise fail(message, where or f"metrics[{i}]")
    return tuple(dict.fromkeys(value))
