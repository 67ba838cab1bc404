"""Validation: `from_dict` turns a nested dict into a complete Scenario or raises one error.

The ScenarioError names the field path (`vms[2].memory_mib`), the value and what is allowed;
nothing is ever half-loaded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import param

from engine.errors import ScenarioError, did_you_mean, show_range, show_value, unknown_name
from engine.limits import quote
from engine.scenario.budget import MAX_WORK_REFS, check_budget
from engine.scenario.schema import (
    SCHEMA_VERSION,
    SECTIONS,
    VM,
    Activity,
    Scenario,
    Section,
    Workload,
    to_dict,
)


def _allowed(p: param.Parameter) -> str:
    if isinstance(p, param.Selector):
        return "one of " + ", ".join(repr(o) for o in p.objects)
    if isinstance(p, param.Boolean):
        return "true or false"
    if isinstance(p, param.Integer | param.Number):
        lo, hi = p.bounds or (None, None)
        kind = "an integer" if isinstance(p, param.Integer) else "a number"
        if lo is not None and hi is not None:
            return f"{kind} from {show_range(lo, hi, p.name or '')}"
        return kind
    if isinstance(p, param.String):
        return "a string"
    return type(p).__name__


def _coerce(p: param.Parameter, value: Any, where: str, source: str | None) -> Any:
    """Check one scalar against its parameter; the message names field, value and range."""

    def fail(why: str = "") -> ScenarioError:
        return ScenarioError(
            f"{show_value(value)} is not allowed{why}; expected {_allowed(p)}",
            source=source,
            field=where,
        )

    if value is None and p.allow_None:
        return None
    if isinstance(p, param.Selector):
        if value not in p.objects:
            if isinstance(value, str):
                msg = unknown_name("value", value, [str(o) for o in p.objects])
                raise ScenarioError(msg, source=source, field=where)
            raise fail()
        return value
    if isinstance(p, param.Boolean):
        if not isinstance(value, bool):
            raise fail()
        return value
    if isinstance(p, param.Integer):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail()
        if isinstance(value, float):
            if not value.is_integer():
                raise fail()
            value = int(value)
    elif isinstance(p, param.Number):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail()
        if not math.isfinite(value):
            raise fail()
        value = float(value)
    if isinstance(p, param.Integer | param.Number) and p.bounds:
        lo, hi = p.bounds
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise fail()
    if isinstance(p, param.String) and not isinstance(value, str):
        raise fail()
    if isinstance(p, param.String) and len(value) > 4096:  # quoted short: it may be 10 MB
        raise ScenarioError(
            f"{quote(value)} is not allowed; expected a string of at most 4096 characters",
            source=source,
            field=where,
        )
    return value


def _section(cls: type[Section], data: Any, where: str, source: str | None) -> Section:
    if isinstance(data, Section):
        data = to_dict(data)
    if not isinstance(data, Mapping):
        raise ScenarioError(
            f"expected a table, found {type(data).__name__}", source=source, field=where
        )
    kwargs: dict[str, Any] = {}
    fields = cls().fields()
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            raise ScenarioError(
                f"unknown key{did_you_mean(str(key), fields)}; allowed: {', '.join(fields)}",
                source=source,
                field=path,
            )
        p = cls.param[key]
        if key == "activity":
            kwargs[key] = _section(Activity, value, path, source)
        elif key == "workload":
            kwargs[key] = _workload(value, path, source)
        elif key == "components":
            kwargs[key] = _components(value, path, source)
        else:
            kwargs[key] = _coerce(p, value, path, source)
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a cross-field rule param itself enforces
        raise ScenarioError(str(exc), source=source, field=where or None) from exc


def _workload(data: Any, where: str, source: str | None) -> Workload:
    w = _section(Workload, data, where, source)
    assert isinstance(w, Workload)
    if w.kind == "mixture" and not w.components:
        raise ScenarioError(
            "a mixture needs at least one entry in components", source=source, field=where
        )
    if w.kind == "trace" and not w.path:
        raise ScenarioError("a trace workload needs a path", source=source, field=where)
    return w


def _components(value: Any, where: str, source: str | None) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ScenarioError("expected a list of tables", source=source, field=where)
    if not value:
        return []
    if len(value) > 16:
        raise ScenarioError("at most 16 components", source=source, field=where)
    out = []
    for i, item in enumerate(value):
        sub = _workload(item, f"{where}[{i}]", source)
        if sub.kind == "mixture":
            raise ScenarioError(
                "a mixture cannot nest a mixture", source=source, field=f"{where}[{i}].kind"
            )
        out.append(to_dict(sub))
    if sum(float(c.get("weight", 1.0)) for c in out) <= 0:
        raise ScenarioError("component weights add up to zero", source=source, field=where)
    return out


def from_dict(data: Mapping[str, Any], source: str | None = None) -> Scenario:
    """Validate a nested dict (parsed TOML, decoded link) into a Scenario, or raise."""
    if not isinstance(data, Mapping):
        raise ScenarioError("a scenario must be a table", source=source)
    data = dict(data)
    version = data.pop("version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ScenarioError(
            f"schema version {version!r} is not supported; expected {SCHEMA_VERSION}",
            source=source,
            field="version",
        )
    fields = Scenario().fields()
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ScenarioError(
                f"unknown key{did_you_mean(str(key), fields)}; allowed: {', '.join(fields)}",
                source=source,
                field=str(key),
            )
        if key in SECTIONS:
            kwargs[key] = _section(SECTIONS[key], value, key, source)
        elif key == "vms":
            kwargs[key] = _vms(value, source)
        elif key == "policy":
            kwargs[key] = _policy(value, source)
        else:
            kwargs[key] = _coerce(Scenario.param[key], value, key, source)
    if "vms" not in kwargs:  # an empty file, or one without [[vms]]: nothing to run
        raise ScenarioError("expected at least one [[vms]] table", source=source, field="vms")
    scenario = Scenario(**kwargs)
    if "policy" not in kwargs:
        scenario.policy = _policy({"name": "demand"}, source)
    _check_whole(scenario, source)
    return scenario


def _vms(value: Any, source: str | None) -> list[VM]:
    if not isinstance(value, list) or not value:
        raise ScenarioError("expected at least one [[vms]] table", source=source, field="vms")
    if len(value) > 256:
        raise ScenarioError("at most 256 VMs", source=source, field="vms")
    vms = []
    for i, item in enumerate(value):
        vm = _section(VM, item, f"vms[{i}]", source)
        assert isinstance(vm, VM)
        vms.append(vm)
    names = [vm.name for vm in vms]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise ScenarioError(
                f"VM name {n!r} is used twice; names must be unique",
                source=source,
                field=f"vms[{i}].name",
            )
    return vms


def _policy(value: Any, source: str | None) -> dict[str, Any]:
    from engine.policies import validate_policy  # policies import the engine core, not us

    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping):
        raise ScenarioError("expected a table with a name", source=source, field="policy")
    return validate_policy(dict(value), source=source)


def _check_whole(s: Scenario, source: str | None) -> None:
    """Rules that span fields."""
    check_budget(s, MAX_WORK_REFS, source)
    h = s.host
    if h.low_watermark_pct > h.high_watermark_pct:
        raise ScenarioError(
            f"{show_value(h.low_watermark_pct)} is above high_watermark_pct "
            f"{show_value(h.high_watermark_pct)}; "
            "the low watermark must not exceed the high one",
            source=source,
            field="host.low_watermark_pct",
        )
    if s.device.preset == "custom":
        for f in ("latency_us", "bandwidth_mbps", "channels"):
            if getattr(s.device, f) is None:
                raise ScenarioError(
                    "a custom device needs latency_us, bandwidth_mbps and channels",
                    source=source,
                    field=f"device.{f}",
                )
    for i, vm in enumerate(s.vms):
        w = vm.workload
        if w.pages > s.vm_pages(vm):
            raise ScenarioError(
                f"{w.pages} pages exceed the VM's {s.vm_pages(vm)} pages "
                f"({vm.memory_mib} MiB of {s.host.page_kib} KiB pages)",
                source=source,
                field=f"vms[{i}].workload.pages",
            )
