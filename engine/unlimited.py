"""The executor of a run with unlimited memory (the baseline slowdown divides by).

With a frame for every page, a vCPU's progress depends only on its CPU time and on which of
its references are first touches (each costs a minor fault). So references are drawn only
while they can still be first touches: once every page a stream can reach in the coming
stretch (`pages_within`) has been touched, that stretch is all hits and its references are
counted, not drawn. The figures are those of run_fast exactly (references, first touches,
CPU time, the pages touched, the slices); tests compare the two. It keeps no recency (last
use, reference bits): nothing is ever evicted, so a Simulation uses it only for demand
paging without a recording (`Simulation._only_first_touches_cost`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.executor import DONE, RAN_TO_END, SLEEP
from engine.hotpath.first_touch import run_first_touches
from engine.pool import UNTOUCHED

if TYPE_CHECKING:
    from engine.machine import Machine
    from engine.vcpu import VCpu

MAX_DRAWN = 1 << 15  # references drawn at once while first touches are still possible


@dataclass(frozen=True)
class UnlimitedOutcome:
    """What a finished run with unlimited memory tells: the references each VM made (the
    slowdown baseline; read-only, shared) and the distinct guest pages touched (real
    overcommit's numerator)."""

    references: np.ndarray
    touched_pages: int

    @classmethod
    def of(cls, machine: Machine) -> UnlimitedOutcome:
        """The outcome of the run that just finished on machine."""
        refs = machine.counters.references.copy()
        refs.flags.writeable = False
        # A page leaves UNTOUCHED on its first reference and never returns to it.
        touched = int(np.count_nonzero(machine.pool.state != UNTOUCHED))
        return cls(refs, touched)


class UnlimitedExecutor:
    """Runs vCPUs on a machine with unlimited memory (`run`, the signature of run_fast).

    Remembers, per vCPU, the stream position up to which it has no first touch left."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.all_hits_until: dict[int, int] = {}

    def run(self, sim: Machine, vc: VCpu, pcpu: int, t: int, t_end: int) -> tuple[int, str]:
        """Run vc from t until t_end, the end of its burst or of its stream, as run_fast would."""
        while t < t_end:
            if vc.stream_done():
                return t, DONE
            if vc.burst_left_ns <= 0:
                return t, SLEEP
            t = self._advance(vc, t, t_end)
        return t, RAN_TO_END

    def _advance(self, vc: VCpu, t: int, t_end: int) -> int:
        """Run some of vc's references from t (at least one); returns the time after them."""
        m, cpu = self.machine, vc.cpu_ns
        # The most references that can run: as many as time, burst and stream allow if every
        # one is a hit (a first touch only makes one longer).
        most = min(-(-(t_end - t) // cpu), -(-vc.burst_left_ns // cpu), vc.refs_left())
        c = m.counters
        hits_until = self._hits_until(vc)
        if hits_until > vc.pos:
            n = min(most, hits_until - vc.pos)
            t += n * cpu
        else:
            rel, _ = vc.stream.take(vc.pos, min(most, MAX_DRAWN))
            n, t, firsts = run_first_touches(
                rel, vc.base, m.pool.state, cpu, t, t_end, vc.burst_left_ns, m.minor_ns
            )
            if firsts:
                m.pool.free_frames -= firsts
                c.minor_faults[vc.vm] += firsts
                c.fault_cpu_ns[vc.vm] += firsts * m.minor_ns
        vc.consume(n)
        c.references[vc.vm] += n
        c.cpu_ns[vc.vm] += n * cpu
        return int(t)

    def _hits_until(self, vc: VCpu) -> int:
        """The position up to which vc's references are all hits (at most vc.pos if the
        pages its stream reaches from vc.pos are not all touched yet)."""
        known = self.all_hits_until.get(vc.index, 0)
        if known > vc.pos:
            return known
        lo, hi, until = vc.stream.source.pages_within(vc.pos)
        # Each page the VM touched was a minor fault: with fewer faults than pages in range,
        # some are untouched, and the pages need not be looked at (a large VM's never are).
        if self.machine.counters.minor_faults[vc.vm] < hi - lo:
            return vc.pos
        pages = self.machine.pool.state[vc.base + lo : vc.base + hi]
        if np.any(pages == UNTOUCHED):
            return vc.pos
        self.all_hits_until[vc.index] = until
        return until
