"""The scenario schema, declared once as param classes: it drives TOML, --set, links and widgets.

Every field carries its bounds and a doc string; `to_dict` turns a section back into the plain
nested dict that `engine.scenario.validation.from_dict` reads.
"""

from __future__ import annotations

import copy
from typing import Any

import param

from engine.presets import DEVICE_PRESETS
from engine.settings import Section

SCHEMA_VERSION = 1


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
    notice = param.String(
        "", doc="What to notice in the views: where to look and what to compare, in a sentence."
    )
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
        """An independent copy: editing it leaves this scenario as it is."""
        return copy.deepcopy(self)


SECTIONS: dict[str, type[Section]] = {
    "host": Host,
    "device": Device,
    "scheduler": Scheduler,
    "recording": Recording,
    "faults": Faults,
}


# -- serialisation ---------------------------------------------------------------------------


def to_dict(obj: Section) -> dict[str, Any]:
    """A plain nested dict (TOML- and JSON-ready) of a section, None values left out."""
    out = obj.plain()
    if isinstance(obj, Scenario):
        out = {"version": SCHEMA_VERSION, **out}
    return out
