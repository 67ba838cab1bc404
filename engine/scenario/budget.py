"""The budget: how much work and memory one scenario may ask of the machine that runs it."""

from __future__ import annotations

from engine.errors import ScenarioError
from engine.scenario.schema import Scenario

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
