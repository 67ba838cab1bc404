"""The policy plug-in interface: override a few small methods, the engine does the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.scenario import Section

if TYPE_CHECKING:
    from engine.simulator import Simulation


class Policy:
    """Base of every paging policy.

    - `victims(n, now_ns, clean_only)`: up to n evictable pages to reclaim (clean_only when
      the swap device is full).
    - `readahead_cluster(vm)`: pages read with a demand fault, aligned cluster (1: none).
    - `fault_prefetch(vm, page, now_ns)`: extra pages to read on a major fault (Leap-like);
      only consulted when `vector_readahead` is False.
    - `on_step(now_ns, step_end_ns)`: called at each step boundary; may prefetch or evict
      through `self.sim.prefetch(...)` / `self.sim.evict(...)`.
    - `on_dispatch`, `on_deschedule`: scheduler events. `ready(vcpu, now_ns)`: dispatch gating.
    """

    name: ClassVar[str] = "base"
    Params: ClassVar[type[Section]] = Section
    vector_readahead: bool = True  # False: the executors ask fault_prefetch at each fault

    def __init__(self, params: dict[str, Any], sim: Simulation):
        self.params = params
        self.sim = sim

    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        raise NotImplementedError

    def readahead_cluster(self, vm: int) -> int:
        return 1

    def fault_prefetch(self, vm: int, page: int, now_ns: int) -> np.ndarray | None:
        return None

    def on_step(self, now_ns: int, step_end_ns: int) -> None:
        return None

    def on_dispatch(self, vcpu: int, pcpu: int, now_ns: int) -> None:
        return None

    def on_deschedule(self, vcpu: int, now_ns: int, reason: str) -> None:
        return None

    def ready(self, vcpu: int, now_ns: int) -> bool:
        return True

    def after_run(self, vm: int, pages: np.ndarray, major_pages: np.ndarray) -> None:
        """Pages a vCPU of vm touched in one executed chunk, and those that major-faulted."""
        return None

    def report(self) -> dict[str, Any]:
        """What a reader needs to trust the run's figures, in plain values (for instance why
        the policy stood down); empty for a policy that always acts."""
        return {}
