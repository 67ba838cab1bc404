"""The policy plug-in interface: override a few small methods, the engine does the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.settings import Section

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.policies.context import PolicyContext


class Policy:
    """Base of every paging policy.

    - `victims(n, now_ns, clean_only)`: up to n evictable pages to reclaim (clean_only when
      the swap device is full).
    - `readahead_cluster(vm)`: pages read with a demand fault, aligned cluster (1: none).
    - `fault_prefetch(vm, page, now_ns)`: extra pages to read on a major fault (Leap-like);
      only consulted when `vector_readahead` is False; `stream_fault_read(vm)` and
      `row_fault_read()` say when the compiled executor can compute that answer itself
      (the stream's next swapped pages; Leap's trend, Linux's adaptive window).
    - `on_step(now_ns, step_end_ns)`: called at each step boundary; may prefetch or evict
      through `self.machine.prefetch(...)` / `self.machine.evict(...)`.
    - `on_dispatch`, `on_deschedule`: scheduler events. `ready(vcpu, now_ns)`: dispatch gating.
    - `on_end(end_ns)`: the run ends; book what is still open (a vCPU still held back).

    A policy sees `self.ctx` (a PolicyContext: the plan, who runs where, vCPU → VM) and
    `self.machine` (its state and services), never the Simulation. It reads state and asks
    the machine to act; the machine counts what the policy causes.

    Two declared switches tell the engine how to drive the policy:
    - `vector_readahead`: True, a major fault reads the aligned cluster `readahead_cluster(vm)`
      (asked once per step, so the fast executor can batch it); False, the executors ask
      `fault_prefetch` at each major fault.
    - `horizon_ns`: how far ahead the policy reads the plan; the engine makes the plan reach
      at least that far (0: the engine's own horizon suffices).
    """

    name: ClassVar[str] = "base"
    menu_rank: ClassVar[int] = 100  # place in menus, lower first; new policies go last
    Params: ClassVar[type[Section]] = Section
    # Switches an earlier version had, by name: the one value still read (and then ignored,
    # because it is what the policy does now) and why the switch went. Old share links and
    # saved scenarios carry every switch of their day.
    retired: ClassVar[dict[str, tuple[object, str]]] = {}
    vector_readahead: bool = True  # False: the executors ask fault_prefetch at each fault
    horizon_ns: int = 0  # how far ahead the policy reads the plan, ns
    # True: on_step does nothing and readahead_cluster never changes, so steps may run in
    # one compiled call without asking (engine.quiet_steps checks the rest).
    quiet_boundary: bool = False

    def __init__(self, params: dict[str, Any], ctx: PolicyContext):
        self.params = params
        self.ctx = ctx
        self.machine: Machine = ctx.machine

    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        raise NotImplementedError

    def readahead_cluster(self, vm: int) -> int:
        return 1

    def fault_prefetch(self, vm: int, page: int, now_ns: int) -> np.ndarray | None:
        return None

    def stream_fault_read(self, vm: int) -> tuple[int, int]:
        """(references, pages) when fault_prefetch's answer for vm is always the next `pages`
        swapped pages that the faulting vCPU's stream uses within `references` from the fault:
        the compiled executor then reads them itself. (0, 0): ask fault_prefetch."""
        return 0, 0

    def row_fault_read(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, settings) when fault_prefetch is computed from per-VM rows of integers the
        compiled executor can read and update too (engine.hotpath.row_fault: Leap's trend,
        Linux's adaptive window): it then reads the pages itself. None: ask fault_prefetch."""
        return None

    def on_step(self, now_ns: int, step_end_ns: int) -> None:
        return None

    def on_dispatch(self, vcpu: int, pcpu: int, now_ns: int) -> None:
        return None

    def on_deschedule(self, vcpu: int, now_ns: int, reason: str) -> None:
        return None

    def ready(self, vcpu: int, now_ns: int) -> bool:
        return True

    def on_end(self, end_ns: int) -> None:
        """The run ends at end_ns (after the running slices ended): book what is still open."""
        return None

    def after_run(self, vm: int, pages: np.ndarray, major_pages: np.ndarray) -> None:
        """Pages a vCPU of vm touched in one executed chunk, and those that major-faulted."""
        return None

    def report(self) -> dict[str, Any]:
        """What a reader needs to trust the run's figures, in plain values (for instance why
        the policy stood down); empty for a policy that always acts."""
        return {}
