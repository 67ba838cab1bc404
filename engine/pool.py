"""The page pool: every guest page's state in flat numpy arrays, frame and swap-slot accounting.

Pages of all VMs share one index space (VM k owns [base[k], base[k+1])). There is no Python
object per page. Transitions that free or take frames and swap slots happen only here, so the
invariants (no page lost, frames and slots never over-committed) live in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.device import Op

# Page states. Resident states are contiguous so a range test finds them.
UNTOUCHED = 0  # never touched: first touch is a minor (zero-fill) fault
CLEAN = 1  # resident, with a valid copy on swap: dropped without I/O
DIRTY = 2  # resident, no valid swap copy: must be written before its frame is freed
PREFETCHED = 3  # resident and clean, brought in ahead of use and not touched since
SWAPPED = 4  # only on swap
READING = 5  # a prefetch read is in flight (holds a frame and a slot)
WRITING = 6  # being written out to free its frame (holds both until the write ends)
STATE_NAMES = ("untouched", "clean", "dirty", "prefetched", "swapped", "reading", "writing")
N_STATES = len(STATE_NAMES)

HOLDS_FRAME = np.array([False, True, True, True, False, True, True])
HOLDS_SLOT = np.array([False, True, False, True, True, True, True])


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
        self, pages: np.ndarray, now_ns: int, write_cls: int, batch: int, wasted: np.ndarray
    ) -> tuple[int, list[Op]]:
        """Evict resident pages: clean ones are dropped at once; dirty ones get a swap slot and
        a write (returned as ops, grouped by VM) while they keep their frame. Dirty pages that
        find no free slot stay resident: a full swap device throttles, it never loses a page.
        Returns (frames freed now, write ops)."""
        if pages.size == 0:
            return 0, []
        st = self.state[pages]
        drop = pages[(st == CLEAN) | (st == PREFETCHED)]
        pre = pages[st == PREFETCHED]
        if pre.size:
            np.add.at(wasted, self.vm_of[pre], 1)
        self.state[drop] = SWAPPED
        self.free_frames += int(drop.size)
        dirty = pages[st == DIRTY]
        if dirty.size > self.free_slots:
            dirty = dirty[: self.free_slots]
        ops: list[Op] = []
        if dirty.size:
            self.state[dirty] = WRITING
            self.free_slots -= int(dirty.size)
            dirty = np.sort(dirty)
            if self.vm_of[dirty[0]] == self.vm_of[dirty[-1]]:  # sorted, so all of one VM
                groups = [dirty]
            else:
                groups = np.split(dirty, np.flatnonzero(np.diff(self.vm_of[dirty])) + 1)
            for group in groups:
                for lo in range(0, group.size, batch):
                    part = group[lo : lo + batch]
                    ops.append(Op(write_cls, int(self.vm_of[part[0]]), part, now_ns))
        return int(drop.size), ops

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
