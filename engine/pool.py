"""The page pool: every guest page's state in flat numpy arrays, frame and swap-slot accounting.

Pages of all VMs share one index space (VM k owns [base[k], base[k+1])). There is no Python
object per page. Transitions that free or take frames and swap slots happen only here (and in
the compiled kernels of `engine.hotpath`, which mirror these methods and are checked against
them), so the invariants (no page lost, frames and slots never over-committed) live in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

import numpy as np

from engine.device import Op
from engine.hotpath.reclaim import evict_pages, finish_writes
from engine.hotpath.slots import (
    N_OP_COLUMNS,
    N_SCALARS,
    OP_HI,
    OP_LO,
    OP_VM,
    S_FREE_FRAMES,
    S_FREE_SLOTS,
    S_N_OPS,
)
from engine.page_states import (
    CLEAN,
    DIRTY,
    HOLDS_FRAME,
    HOLDS_SLOT,
    N_STATES,
    PREFETCHED,
    READING,
    STATE_NAMES,
    SWAPPED,
    UNTOUCHED,
    WRITING,
)

__all__ = [
    "CLEAN",
    "DIRTY",
    "HOLDS_FRAME",
    "HOLDS_SLOT",
    "N_STATES",
    "PREFETCHED",
    "READING",
    "STATE_NAMES",
    "SWAPPED",
    "UNTOUCHED",
    "WRITING",
    "PagePool",
    "evictable",
]
NO_LANES = np.zeros(0, dtype=np.int64)  # evict_pages starts no write for the pool


def evictable(states: np.ndarray) -> np.ndarray:
    """Resident pages that reclaim may take (clean, dirty, prefetched)."""
    return (states >= CLEAN) & (states <= PREFETCHED)


class PagePool:
    """State, LRU/FIFO/CLOCK metadata and free-frame/slot counters for every page."""

    def __init__(self, vm_pages: Sequence[int], frames: int, swap_pages: int):
        self.vm_pages = np.asarray(vm_pages, dtype=np.int64)
        self.base = np.concatenate([[0], np.cumsum(self.vm_pages)]).astype(np.int64)
        n = int(self.base[-1])
        self.n_pages = n
        self.frames = int(frames)
        self.swap_pages = int(swap_pages)
        self.state = np.zeros(n, dtype=np.int8)
        self.vm_of = np.repeat(np.arange(len(vm_pages), dtype=np.int16), self.vm_pages)
        self.last_use_ns = np.zeros(n, dtype=np.int64)  # LRU key: time of the last access
        self.load_ns = np.zeros(n, dtype=np.int64)  # FIFO key: when it became resident
        self.ref_bit = np.zeros(n, dtype=bool)  # CLOCK's reference bit
        self.evicted_for_prefetch = np.zeros(n, dtype=bool)  # for the pollution metric
        self.any_evicted_for_prefetch = False  # whether any flag above was ever set
        self.free_frames = self.frames
        self.free_slots = self.swap_pages
        # Times pages became evictable again keeping old keys: a page rescued from its write
        # (touched, so a new last use, but its old load time) and a failed write (both old).
        # victims.Oldest remakes its kept list when the count for its key changes.
        self.rescues = 0
        self.write_failures = 0

    # -- queries ------------------------------------------------------------------------------
    def vm_range(self, vm: int) -> tuple[int, int]:
        return int(self.base[vm]), int(self.base[vm + 1])

    def frames_used(self) -> int:
        return self.frames - self.free_frames

    def count_states(self) -> np.ndarray:
        return np.bincount(self.state, minlength=N_STATES)

    # -- transitions used by reclaim, prefetch and the device ---------------------------------
    def evict(
        self,
        pages: np.ndarray,
        now_ns: int,
        write_cls: int,
        batch: int,
        wasted: np.ndarray,
        refused: np.ndarray | None = None,
    ) -> tuple[int, list[Op]]:
        """Evict distinct pages (those not resident and evictable are skipped): clean ones are
        dropped at once; dirty ones get a swap slot and a write (returned as ops, grouped by
        VM, in page order) while they keep their frame. Dirty pages that find no free slot
        stay resident and are counted per VM in refused: a full swap device throttles, it
        never loses a page. Returns (frames freed now, write ops).

        Compiled (engine.hotpath.reclaim.evict_pages, which direct reclaim in the
        per-reference kernel runs too), so one eviction costs one call, not a dozen."""
        pages = np.asarray(pages, dtype=np.int64)
        if pages.size == 0:
            return 0, []
        if refused is None:
            refused = np.zeros(len(self.vm_pages), dtype=np.int64)
        scalars, ops, op_pages = self.eviction_buffers(pages.size, batch)
        freed = evict_pages(
            pages, now_ns, self.state, self.vm_of, scalars, wasted, refused, batch, False,
            NO_LANES, NO_LANES, ops, op_pages,
        )  # fmt: skip
        return int(freed), self.after_eviction(scalars, ops, op_pages, write_cls, now_ns)

    def eviction_buffers(
        self, n_pages: int, batch: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What a compiled eviction of up to n_pages works in: the scalars (free frames and
        slots), and room for its writes (engine.hotpath.slots' OP_ columns) and their pages."""
        scalars = np.zeros(N_SCALARS, dtype=np.int64)
        scalars[S_FREE_FRAMES] = self.free_frames
        scalars[S_FREE_SLOTS] = self.free_slots
        # At most one short write per VM beyond the full ones.
        ops = np.empty((n_pages // batch + self.vm_pages.size, N_OP_COLUMNS), dtype=np.int64)
        return scalars, ops, np.empty(n_pages, dtype=np.int64)

    def after_eviction(
        self,
        scalars: np.ndarray,
        ops: np.ndarray,
        op_pages: np.ndarray,
        write_cls: int,
        now_ns: int,
    ) -> list[Op]:
        """A compiled eviction took effect: the frames and slots it left, and its writes as
        device operations of write_cls (not yet on the device)."""
        self.free_frames = int(scalars[S_FREE_FRAMES])
        self.free_slots = int(scalars[S_FREE_SLOTS])
        return [
            Op(write_cls, vm, op_pages[lo:hi].copy(), now_ns)
            for vm, lo, hi in ops[: scalars[S_N_OPS], [OP_VM, OP_LO, OP_HI]].tolist()
        ]

    def finish_write(self, op: Op) -> int:
        """A write ended: pages still WRITING become SWAPPED and free their frames. A page that
        was touched meanwhile (rescued, now DIRTY) keeps its frame. Returns frames freed."""
        pages = op.pages[self.state[op.pages] == WRITING]
        if op.failed:
            # The copy on swap is not valid: the page stays resident and dirty.
            self.state[pages] = DIRTY
            self.free_slots += int(pages.size)
            self.write_failures += 1
            return 0
        self.state[pages] = SWAPPED
        self.free_frames += int(pages.size)
        return int(pages.size)

    def finish_writes(self, ops: list[Op], swap_out: np.ndarray) -> int:
        """finish_write of several successful writes, in order, in one compiled pass
        (engine.hotpath.reclaim.finish_writes); each one's swapped-out pages are added to
        swap_out per VM. Returns frames freed."""
        pages = np.concatenate([op.pages for op in ops])
        # fromiter, not cumsum of a list: numpy's list path costs more than the writes here.
        ends = np.fromiter(accumulate(op.pages.size for op in ops), dtype=np.int64, count=len(ops))
        vms = np.fromiter((op.vm for op in ops), dtype=np.int64, count=len(ops))
        freed = int(finish_writes(pages, ends, vms, self.state, swap_out))
        self.free_frames += freed
        return freed

    def start_prefetch(self, pages: np.ndarray, now_ns: int) -> None:
        """Swapped pages get a frame and go in flight."""
        self.state[pages] = READING
        self.free_frames -= int(pages.size)

    def finish_prefetch(self, op: Op, now_ns: int) -> None:
        pages = op.pages[self.state[op.pages] == READING]
        if op.failed or op.cancelled:
            self.state[pages] = SWAPPED
            self.free_frames += int(pages.size)
            return
        self.state[pages] = PREFETCHED
        self.load_ns[pages] = op.done_ns
        self.last_use_ns[pages] = op.done_ns
        self.ref_bit[pages] = False

    def check(self) -> None:
        """Assert the accounting invariants (used by tests)."""
        counts = self.count_states()
        used = int(counts[HOLDS_FRAME].sum())
        slots = int(counts[HOLDS_SLOT].sum())
        assert used == self.frames - self.free_frames, (used, self.frames, self.free_frames)
        assert 0 <= self.free_frames <= self.frames, self.free_frames
        assert slots == self.swap_pages - self.free_slots, (slots, self.free_slots)
        assert 0 <= self.free_slots <= self.swap_pages, self.free_slots
