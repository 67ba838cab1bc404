"""The budget: how much work and memory one scenario may ask of the machine that runs it.

The numbers live in `engine.limits`; here they are applied to a scenario. Every check reads
the validated scenario only, so a refusal comes before the simulator allocates a page.
"""

from __future__ import annotations

from engine.errors import ScenarioError
from engine.limits import MAX_GUEST_PAGES, MAX_RECORDED_FRAMES, MAX_RECORDING_BYTES, MAX_WORK_REFS
from engine.scenario.schema import Scenario

__all__ = [
    "MAX_GUEST_PAGES",
    "MAX_RECORDING_BYTES",
    "MAX_WORK_REFS",
    "check_budget",
    "check_recording",
    "recording_bytes",
    "work_estimate",
]

# Per recorded frame, besides the residency picture: counters and prefetch counts per VM,
# device arrays, the scheduler's plan and the Python objects that hold them (an upper bound
# of what engine.recording keeps, measured on the shipped scenarios).
_FRAME_BYTES_PER_VM = 8 * 32
_FRAME_BYTES_PER_VCPU = 4 * 8 * 16
_FRAME_BYTES = 4096
_STATES = 7  # page states a residency cell counts (engine.pool.N_STATES)


def work_estimate(s: Scenario) -> int:
    """The most references a run can make: every vCPU busy for the whole duration."""
    duration_ns = s.duration_ms * 1e6
    return int(sum(vm.vcpus * duration_ns / vm.workload.cpu_ns_per_ref for vm in s.vms))


def recorded_frames(s: Scenario) -> int:
    """The most frames a recording of `s` holds: one per frame period, a last one at the end,
    and never more than engine.recording keeps (it coarsens the period of long runs)."""
    end_ns = int(s.duration_ms * 1e6)
    frame_ns = max(int(s.recording.frame_ms * 1e6), -(-end_ns // MAX_RECORDED_FRAMES), 1)
    return end_ns // frame_ns + 2


def recording_bytes(s: Scenario) -> int:
    """An upper bound of a recording's memory: keyframes hold every residency cell (4 bytes),
    a delta at worst every cell (8 bytes: index and value), plus what each frame keeps."""
    n_vms = len(s.vms)
    columns = max((min(s.recording.columns, s.vm_pages(vm)) for vm in s.vms), default=0)
    cells = n_vms * columns * _STATES
    frames = recorded_frames(s)
    keyframes = -(-frames // s.recording.keyframe_every)
    vcpus = sum(vm.vcpus for vm in s.vms)
    per_frame = _FRAME_BYTES + n_vms * _FRAME_BYTES_PER_VM + vcpus * _FRAME_BYTES_PER_VCPU
    return keyframes * cells * 4 + (frames - keyframes) * cells * 8 + frames * per_frame


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


def check_recording(s: Scenario, source: str | None = None) -> None:
    """Refuse a scenario whose recording could exceed MAX_RECORDING_BYTES (checked wherever a
    run is recorded: the web app records every run it shows; `vmswap run` records none)."""
    need = recording_bytes(s)
    if need > MAX_RECORDING_BYTES:
        raise ScenarioError(
            f"its recording could take {need / 2**20:,.0f} MiB; the budget is "
            f"{MAX_RECORDING_BYTES // 2**20:,} MiB: raise frame_ms or keyframe_every, lower "
            "columns, or shorten duration_ms",
            source=source,
            field="recording",
        )
