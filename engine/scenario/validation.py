"""Validation: `from_dict` turns a nested dict into a complete Scenario or raises one error.

The ScenarioError names the field path (`vms[2].memory_mib`), the value and what is allowed;
nothing is ever half-loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import ScenarioError, did_you_mean, show_value
from engine.policies import validate_policy
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
from engine.settings_check import coerce, read_section


def _section(cls: type[Section], data: Any, where: str, source: str | None) -> Section:
    """Read one scenario table; activity, workload and components are tables of their own."""
    nested = {
        "activity": lambda value, path, src: _section(Activity, value, path, src),
        "workload": _workload,
        "components": _components,
    }
    return read_section(cls, data, where, source, nested)


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
            kwargs[key] = coerce(Scenario.param[key], value, key, source)
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
