"""What a policy sees of a simulation: the machine, the scheduler's plan, and read-only views
of who runs where. Never the Simulation itself, so a policy cannot reach past this surface.

A policy reads state and asks the machine for services (`prefetch`, `evict`, `write_back`,
`cancel_ops`, `count_gated_dispatch`); the machine applies them and counts what they cause.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.scheduler import Plan
    from engine.vcpu import VCpu


class PolicyContext:
    """The narrow interface between the engine and a policy (all read-only to the policy).

    - `machine`: page pool, device, counters, clock (`machine.now_ns`), watermarks, services.
    - `plan()`: the scheduler's current plan; `boundary_plan`: the plan as it stood at the
      last step boundary (what dispatches are measured against).
    - `vcpu_vm`: int64 array, vCPU → VM. `vcpus`: the vCPUs themselves, for the clairvoyant
      policies that read a vCPU's reference stream ahead of its position.
    - `running[p]`: the vCPU on pCPU p (-1: idle); `slice_end[p]`: when its slice ends;
      `pcpu_time[p]`: how far pCPU p has run in the current step.
    - Figures of the run: `n_pcpus`, `n_vms`, `step_ns`, `slice_ns` (the scheduler's slice),
      `plan_tolerance_ns` (how far from plan a dispatch still counts as planned),
      `plan_horizon_ns` (how far ahead the plan looks), `seed` (the scenario's).
    """

    def __init__(
        self,
        machine: Machine,
        plan: Callable[[], Plan],
        boundary_plan: Plan,
        vcpus: Sequence[VCpu],
        running: Sequence[int],
        slice_end: Sequence[int],
        pcpu_time: Sequence[int],
        *,
        step_ns: int,
        slice_ns: int,
        plan_tolerance_ns: int,
        plan_horizon_ns: int,
        seed: int,
    ) -> None:
        self.machine = machine
        self.plan = plan
        self.boundary_plan = boundary_plan  # refreshed by the engine at every boundary
        self.vcpus = tuple(vcpus)
        self.vcpu_vm = np.array([vc.vm for vc in self.vcpus], dtype=np.int64)
        self.vcpu_vm.flags.writeable = False
        self.running = running
        self.slice_end = slice_end
        self.pcpu_time = pcpu_time
        self.n_pcpus = len(running)
        self.n_vms = machine.n_vms
        self.step_ns = step_ns
        self.slice_ns = slice_ns
        self.plan_tolerance_ns = plan_tolerance_ns
        self.plan_horizon_ns = plan_horizon_ns
        self.seed = seed
