"""The scenario schema, declared once as param classes: it drives TOML, --set, links and widgets.

Every field carries its bounds and a doc string. `from_dict` validates a whole nested dict and
either returns a complete Scenario or raises one ScenarioError naming the field path
(`vms[2].memory_mib`), the value and what is allowed; nothing is ever half-loaded.
"""

from __future__ import annotations

import copy
import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import param

from engine.errors import ScenarioError, did_you_mean, unknown_name
from engine.presets import DEVICE_PRESETS

SCHEMA_VERSION = 1


class Section(param.Parameterized):
    """A table of the scenario file; `name` (param's own) is never part of the schema."""

    def fields(self) -> list[str]:
        return [n for n in self.param if n != "name"]


class Host(Section):
    pcpus = param.Integer(4, bounds=(1, 256), doc="Physical CPUs that run vCPUs.")
    memory_mib = param.Integer(
        4096, bounds=(1, 1 << 24), doc="Host memory available to guests, MiB."
    )
    page_kib = param.Selector(default=4, objects=[4, 2048], doc="Page size, KiB.")
    low_watermark_pct = param.Number(
        1.0, bounds=(0.0, 50.0), doc="Background reclaim starts below this % of frames free."
    )
    high_watermark_pct = param.Number(
        2.0, bounds=(0.0, 50.0), doc="Background reclaim frees frames up to this % free."
    )
    swap_mib = param.Integer(16384, bounds=(0, 1 << 26), doc="Swap device capacity, MiB.")
    fault_mode = param.Selector(
        default="stall",
        objects=["stall", "yield"],
        doc="stall: a faulting vCPU holds its pCPU; yield: it gives the pCPU up (async PF).",
    )
    minor_fault_us = param.Number(
        0.5, bounds=(0.0, 1000.0), doc="CPU cost of a first-touch (zero-fill) fault, µs."
    )
    step_us = param.Integer(
        1000,
        bounds=(10, 1_000_000),
        doc="Resolution of cross-CPU interactions: reclaim, wake-ups, device dispatch, µs.",
    )
    reclaim_batch_pages = param.Integer(
        32, bounds=(1, 65536), doc="Pages one direct reclaim frees (Linux SWAP_CLUSTER_MAX)."
    )
    write_batch_pages = param.Integer(
        32, bounds=(1, 4096), doc="Most pages in one swap write operation."
    )


class Device(Section):
    preset = param.Selector(
        default="nvme-ssd",
        objects=[*DEVICE_PRESETS, "custom"],
        doc="A device from the presets table, or custom (set every figure).",
    )
    latency_us = param.Number(
        None, allow_None=True, bounds=(0.01, 1e6), doc="Per-operation latency, µs."
    )
    bandwidth_mbps = param.Number(
        None, allow_None=True, bounds=(0.1, 1e6), doc="Total bandwidth, MB/s."
    )
    channels = param.Integer(
        None, allow_None=True, bounds=(1, 1024), doc="Operations served in parallel."
    )

    def resolved(self) -> tuple[float, float, int]:
        """(latency_us, bandwidth_mbps, channels): explicit values over the preset's."""
        if self.preset == "custom":
            base = (self.latency_us or 100.0, self.bandwidth_mbps or 1000.0, self.channels or 1)
            return base
        p = DEVICE_PRESETS[self.preset]
        return (
            p.latency_us if self.latency_us is None else self.latency_us,
            p.bandwidth_mbps if self.bandwidth_mbps is None else self.bandwidth_mbps,
            p.channels if self.channels is None else self.channels,
        )


class Scheduler(Section):
    kind = param.Selector(
        default="credit", objects=["rr", "credit"], doc="Round robin or Xen-credit-like."
    )
    slice_ms = param.Number(30.0, bounds=(0.1, 1000.0), doc="Time slice (quantum), ms.")
    accounting_ms = param.Number(
        30.0, bounds=(1.0, 10000.0), doc="Credit accounting period, ms (Xen: 30)."
    )
    tick_ms = param.Number(10.0, bounds=(0.1, 1000.0), doc="Credit debit tick, ms (Xen: 10).")


class Activity(Section):
    kind = param.Selector(
        default="always",
        objects=["always", "duty", "random"],
        doc="always runnable; duty: fixed bursts and sleeps; random: exponential ones.",
    )
    burst_ms = param.Number(
        50.0, bounds=(0.01, 1e7), doc="CPU time a VM runs before it sleeps (mean if random), ms."
    )
    sleep_ms = param.Number(50.0, bounds=(0.0, 1e7), doc="Length of a sleep (mean), ms.")


class Workload(Section):
    kind = param.Selector(
        default="zipf",
        objects=["uniform", "zipf", "scan", "phased", "mixture", "trace"],
        doc="The reference stream's shape.",
    )
    pages = param.Integer(
        0, bounds=(0, 1 << 32), doc="Pages the workload spans (0: the whole VM memory)."
    )
    zipf_alpha = param.Number(0.9, bounds=(0.0, 5.0), doc="Zipf exponent (zipf, phased).")
    scatter = param.Boolean(True, doc="Spread hot pages over the span instead of packing them.")
    write_fraction = param.Number(
        0.3,
        bounds=(0.0, 1.0),
        doc="Share of references that write (a trace that records writes uses its own).",
    )
    cpu_ns_per_ref = param.Integer(
        200, bounds=(1, 10_000_000), doc="CPU time one reference stands for, ns."
    )
    ws_pages = param.Integer(
        0, bounds=(0, 1 << 32), doc="Working set of one phase (phased; 0: a quarter of pages)."
    )
    phase_refs = param.Integer(1_000_000, bounds=(1, 1 << 40), doc="References per phase (phased).")
    components = param.List(
        default=[], item_type=dict, doc="Sub-workloads with a 'weight' each (mixture)."
    )
    weight = param.Number(1.0, bounds=(0.0, 1e9), doc="Share of a mixture component.")
    path = param.String(
        "", doc="Trace file, relative to the scenario file (trace); each vCPU replays all of it."
    )
    format = param.String("auto", doc="Trace format (trace): auto, text, lirs, ucsd, lackey...")
    compact = param.Boolean(
        False, doc="Number the trace's distinct pages 0, 1, 2… in address order first (trace)."
    )
    page_scale = param.Integer(
        1, bounds=(1, 1 << 20), doc="Trace pages per VM page: a page becomes page // this (trace)."
    )
    page_offset = param.Integer(0, bounds=(0, 1 << 40), doc="Added to every trace page (trace).")
    loop = param.Boolean(
        True, doc="Start the trace again when it ends; else the vCPU finishes there (trace)."
    )
    time_scale = param.Number(
        1.0,
        bounds=(0.001, 1000.0),
        doc="Trace references per reference made: above 1 skips some (time runs faster), "
        "below 1 repeats each (trace).",
    )


class VM(Section):
    name = param.String("vm", doc="The VM's name; seeds its reference streams.")
    vcpus = param.Integer(1, bounds=(1, 64), doc="Virtual CPUs.")
    memory_mib = param.Integer(1024, bounds=(1, 1 << 22), doc="Guest memory, MiB.")
    weight = param.Integer(256, bounds=(1, 65535), doc="Scheduler weight (Xen default 256).")
    cap_pct = param.Integer(
        0, bounds=(0, 6400), doc="CPU cap, % of one pCPU (0: uncapped), credit scheduler."
    )
    activity = param.ClassSelector(class_=Activity, default=Activity(), instantiate=True)
    workload = param.ClassSelector(class_=Workload, default=Workload(), instantiate=True)

    def fields(self) -> list[str]:
        return ["name", *[n for n in self.param if n != "name"]]


class Faults(Section):
    read_error_rate = param.Number(
        0.0, bounds=(0.0, 1.0), doc="Share of swap read attempts that fail; reads are retried."
    )
    write_error_rate = param.Number(
        0.0, bounds=(0.0, 1.0), doc="Share of swap writes that fail; the page stays dirty."
    )
    latency_spike_rate = param.Number(
        0.0, bounds=(0.0, 1.0), doc="Share of device operations that take a latency spike."
    )
    latency_spike_us = param.Number(
        10_000.0, bounds=(0.0, 1e7), doc="Extra latency of a spike, µs."
    )
    plan_error_rate = param.Number(
        0.0, bounds=(0.0, 1.0), doc="Share of planned slices handed to the policy wrongly."
    )


class Recording(Section):
    enabled = param.Boolean(True, doc="Record frames for the web app.")
    frame_ms = param.Number(20.0, bounds=(0.1, 60000.0), doc="Simulated time per frame, ms.")
    columns = param.Integer(
        512, bounds=(1, 2048), doc="Most page bins per VM in the residency picture."
    )
    keyframe_every = param.Integer(32, bounds=(1, 10000), doc="A full frame every N frames.")


class Scenario(Section):
    name = param.String("scenario", doc="A short name.")
    description = param.String("", doc="What the scenario shows.")
    seed = param.Integer(1, bounds=(0, 2**63 - 1), doc="Seed of every random stream.")
    duration_ms = param.Number(1000.0, bounds=(1.0, 3_600_000.0), doc="Simulated time, ms.")
    host = param.ClassSelector(class_=Host, default=Host(), instantiate=True)
    device = param.ClassSelector(class_=Device, default=Device(), instantiate=True)
    scheduler = param.ClassSelector(class_=Scheduler, default=Scheduler(), instantiate=True)
    policy = param.Dict(default={}, doc="name = a registered policy, and its switches.")
    vms = param.List(default=[], item_type=VM, doc="The virtual machines.")
    faults = param.ClassSelector(class_=Faults, default=Faults(), instantiate=True)
    recording = param.ClassSelector(class_=Recording, default=Recording(), instantiate=True)

    def fields(self) -> list[str]:
        return ["name", *[n for n in self.param if n != "name"]]

    def __init__(self, **params: Any):
        params.setdefault("policy", {"name": "demand"})
        super().__init__(**params)

    # -- derived figures used throughout the engine ------------------------------------------
    @property
    def page_bytes(self) -> int:
        return int(self.host.page_kib) * 1024

    def vm_pages(self, vm: VM) -> int:
        return max(1, (vm.memory_mib * 1024 * 1024) // self.page_bytes)

    @property
    def host_frames(self) -> int:
        return max(1, (self.host.memory_mib * 1024 * 1024) // self.page_bytes)

    @property
    def policy_name(self) -> str:
        return str(self.policy.get("name", "demand"))

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def copy(self) -> Scenario:
        return from_dict(self.to_dict())


SECTIONS: dict[str, type[Section]] = {
    "host": Host,
    "device": Device,
    "scheduler": Scheduler,
    "recording": Recording,
    "faults": Faults,
}


# -- validation ------------------------------------------------------------------------------


def _allowed(p: param.Parameter) -> str:
    if isinstance(p, param.Selector):
        return "one of " + ", ".join(repr(o) for o in p.objects)
    if isinstance(p, param.Boolean):
        return "true or false"
    if isinstance(p, param.Integer | param.Number):
        lo, hi = p.bounds or (None, None)
        kind = "an integer" if isinstance(p, param.Integer) else "a number"
        if lo is not None and hi is not None:
            return f"{kind} from {lo:g} to {hi:g}"
        return kind
    if isinstance(p, param.String):
        return "a string"
    return type(p).__name__


def _coerce(p: param.Parameter, value: Any, where: str, source: str | None) -> Any:
    """Check one scalar against its parameter; the message names field, value and range."""

    def fail(why: str = "") -> ScenarioError:
        return ScenarioError(
            f"{value!r} is not allowed{why}; expected {_allowed(p)}", source=source, field=where
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
    if isinstance(p, param.String) and len(value) > 4096:
        raise fail(" (longer than 4096 characters)")
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


MAX_GUEST_PAGES = 64 * 1024 * 1024  # 256 GiB of 4 KiB pages: ~1.5 GiB of page arrays
MAX_WORK_REFS = 10_000_000_000  # references a scenario may ask for (about half an hour)


def work_estimate(s: Scenario) -> int:
    """The most references a run can make: every vCPU busy for the whole duration."""
    duration_ns = s.duration_ms * 1e6
    return int(sum(vm.vcpus * duration_ns / vm.workload.cpu_ns_per_ref for vm in s.vms))


def check_budget(s: Scenario, max_refs: int = MAX_WORK_REFS, source: str | None = None) -> None:
    """Refuse a scenario whose work or memory exceeds the budget, saying what to lower."""
    pages = sum(s.vm_pages(vm) for vm in s.vms)
    if pages > MAX_GUEST_PAGES:
        raise ScenarioError(
            f"the VMs have {pages:,} pages in all; at most {MAX_GUEST_PAGES:,} are allowed "
            "(lower vms[].memory_mib or use 2048 KiB pages)",
            source=source,
            field="vms",
        )
    work = work_estimate(s)
    if work > max_refs:
        raise ScenarioError(
            f"the run could make {work:,} references (vCPUs x duration / cpu_ns_per_ref); "
            f"the budget is {max_refs:,}: shorten duration_ms, or raise cpu_ns_per_ref",
            source=source,
            field="duration_ms",
        )


def _check_whole(s: Scenario, source: str | None) -> None:
    """Rules that span fields."""
    check_budget(s, MAX_WORK_REFS, source)
    h = s.host
    if h.low_watermark_pct > h.high_watermark_pct:
        raise ScenarioError(
            f"{h.low_watermark_pct} is above high_watermark_pct {h.high_watermark_pct}; "
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


# -- serialisation ---------------------------------------------------------------------------


def to_dict(obj: Section) -> dict[str, Any]:
    """A plain nested dict (TOML- and JSON-ready) of a section, None values left out."""
    out: dict[str, Any] = {}
    for key in obj.fields():
        value = getattr(obj, key)
        if value is None:
            continue
        if isinstance(value, Section):
            out[key] = to_dict(value)
        elif isinstance(value, list):
            out[key] = [to_dict(v) if isinstance(v, Section) else copy.deepcopy(v) for v in value]
        elif isinstance(value, dict):
            out[key] = copy.deepcopy(value)
        else:
            out[key] = value
    if isinstance(obj, Scenario):
        out = {"version": SCHEMA_VERSION, **out}
    return out


def loads_scenario(text: str, source: str = "<string>") -> Scenario:
    """Parse TOML text into a validated Scenario."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", source=source) from exc
    return from_dict(data, source=source)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; trace paths become absolute (relative to the file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("no such scenario file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read: {exc}", source=str(path)) from None
    scenario = loads_scenario(text, source=str(path))
    for vm in scenario.vms:
        _resolve_trace_paths(vm.workload, p.parent)
    return scenario


def _resolve_trace_paths(w: Workload, base: Path) -> None:
    if w.kind == "trace" and w.path and not Path(w.path).is_absolute():
        w.path = str((base / w.path).resolve())
    for c in w.components:
        if c.get("kind") == "trace" and c.get("path") and not Path(c["path"]).is_absolute():
            c["path"] = str((base / c["path"]).resolve())


def dumps_toml(scenario: Scenario) -> str:
    """The scenario as TOML text that `loads_scenario` reads back to an equal scenario."""
    d = scenario.to_dict()
    lines: list[str] = []
    for key, value in d.items():
        if not isinstance(value, dict | list):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in d.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
    for vm in d.get("vms", []):
        lines.append("\n[[vms]]")
        for k, v in vm.items():
            if not isinstance(v, dict):
                lines.append(f"{k} = {_toml_value(v)}")
        for k, v in vm.items():
            if isinstance(v, dict):
                lines.append(f"[vms.{k}]")
                lines.extend(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
    return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


# -- overrides: --set path=value --------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A TOML value (`3`, `2.5`, `true`, `"x"`, `[1, 2]`), or the bare text as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for raw in path.split("."):
        name, _, rest = raw.partition("[")
        if name:
            parts.append(name)
        while rest:
            idx, _, rest = rest.partition("]")
            if not idx.isdigit():
                raise ScenarioError(f"bad index [{idx}] in {path!r}", field=path)
            parts.append(int(idx))
            rest = rest.lstrip("[")
    if not parts:
        raise ScenarioError("empty path in --set", field=path)
    return parts


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `vms[2].memory_mib`-style path in a scenario dict (validated later, as a whole)."""
    parts = _split_path(path)
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                n = len(node) if isinstance(node, list) else 0
                raise ScenarioError(f"index {part} is out of range (there are {n})", field=path)
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise ScenarioError(f"{part!r} is not a table", field=path)
            if part not in node:
                node[part] = [] if isinstance(nxt, int) else {}
            node = node[part]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ScenarioError(f"index {last} is out of range", field=path)
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(f"cannot set {last!r} here", field=path)


def with_overrides(scenario: Scenario, assignments: Sequence[str]) -> Scenario:
    """A new Scenario with `path=value` assignments applied; the original is untouched."""
    data = scenario.to_dict()
    for a in assignments:
        path, sep, text = a.partition("=")
        if not sep or not path.strip():
            raise ScenarioError(f"--set expects path=value, got {a!r}")
        set_path(data, path.strip(), parse_value(text.strip()))
    return from_dict(data, source="--set")
