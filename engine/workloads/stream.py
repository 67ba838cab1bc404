"""A vCPU's reference stream: pages and write flags by position, read from the stream's
blocks (engine.workloads.blocks) as the vCPU makes progress."""

from __future__ import annotations

import numpy as np

from engine.scenario.schema import Workload
from engine.workloads.blocks import BLOCK_REFS, Blocks, stream_blocks


def _to_front(buf: np.ndarray, lo: int, hi: int) -> None:
    """buf[lo:hi] moved to buf[:hi - lo], in pieces no longer than lo: no piece overlaps its
    destination, so none needs the temporary copy (fresh memory) numpy makes for overlaps."""
    for at in range(0, hi - lo, lo):
        size = min(lo, hi - lo - at)
        buf[at : at + size] = buf[lo + at : lo + at + size]


class RefStream:
    """The references of one vCPU: pages (relative to its VM) and write flags, by position.

    `take(pos, n)` returns views that stay valid until the next call; blocks are generated in
    order and cached, so position i holds the same reference however the stream is consumed.
    """

    def __init__(self, w: Workload, vm_pages: int, seed: np.random.SeedSequence):
        self.workload, self.vm_pages = w, vm_pages
        self.seed_key = (seed.entropy, seed.spawn_key)
        self.blocks = stream_blocks(w, vm_pages, seed)
        self.source = self.blocks.source
        self.cpu_ns = int(w.cpu_ns_per_ref)
        self.base = 0  # stream position of the buffers' entry `lo`
        self.generated = 0
        # The references [base, base + hi - lo) are entries [lo, hi) of the buffers; past hi
        # is room for the next blocks (_room_for).
        self.pages_buf = np.empty(0, dtype=np.int64)
        self.writes_buf = np.empty(0, dtype=bool)
        self.lo = self.hi = 0

    def _generate_block(self) -> tuple[np.ndarray, np.ndarray]:
        i = self.generated // BLOCK_REFS
        got = self.blocks.block(i)
        if got is None:
            # Not kept (or skipped by a stream that jumped ahead): this stream makes its own
            # generators and moves them to block i (a rare fallback).
            seed = np.random.SeedSequence(self.seed_key[0], spawn_key=self.seed_key[1])
            self.blocks = Blocks(self.workload, self.vm_pages, seed, shared=False)
            got = self.blocks.block(i)
            assert got is not None
        self.generated += BLOCK_REFS
        return got

    def _room_for(self, n: int) -> None:
        """Room past hi for n more references. The references kept move to the front of the
        buffers when they fit there with the n (views handed out by an earlier take may see
        them move: their contract ends at the next take); else the buffers are replaced by
        ones with half as much again as that room. So a stream read far ahead copies each
        reference about twice, where joining the blocks copied the whole buffer on every
        block, and its buffers are allocated a few times a run, not at every block. (When
        they move, lo > 0: hi + n is past the end, so the part kept is shorter than hi.)"""
        if self.hi + n <= self.pages_buf.size:
            return
        kept = self.hi - self.lo
        if kept + n <= self.pages_buf.size:
            _to_front(self.pages_buf, self.lo, self.hi)
            _to_front(self.writes_buf, self.lo, self.hi)
        else:
            size = kept + n + max(BLOCK_REFS, kept // 2)
            pages = np.empty(size, dtype=np.int64)
            writes = np.empty(size, dtype=bool)
            pages[:kept] = self.pages_buf[self.lo : self.hi]
            writes[:kept] = self.writes_buf[self.lo : self.hi]
            self.pages_buf, self.writes_buf = pages, writes
        self.lo, self.hi = 0, kept

    def take(self, pos: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Pages and write flags of references [pos, pos + n); pos never goes backwards.
        Whole blocks before pos that were never read are skipped, not drawn."""
        lo = self.lo + pos - self.base
        if pos < self.base or pos - self.base >= BLOCK_REFS or lo + n > self.hi:
            self._move_to(pos, n)  # (most calls read what is buffered: no call)
            lo = self.lo + pos - self.base
        hi = min(lo + n, self.hi)
        return self.pages_buf[lo:hi], self.writes_buf[lo:hi]

    def _move_to(self, pos: int, n: int) -> None:
        """The buffers from pos's block on (the blocks before it dropped) and through
        pos + n."""
        if pos < self.base:
            raise ValueError("a reference stream cannot go backwards")
        drop = pos - self.base
        if drop >= BLOCK_REFS:
            keep_from = min(drop, self.hi - self.lo)
            self.lo += keep_from
            self.base += keep_from
        first = pos - pos % BLOCK_REFS
        if first > self.generated:  # nothing buffered: start at pos's block
            self.base = self.generated = first
        need = pos + n - (self.base + self.hi - self.lo)
        for _ in range(-(-need // BLOCK_REFS) if need > 0 else 0):
            pages, writes = self._generate_block()
            self._room_for(pages.size)
            self.pages_buf[self.hi : self.hi + pages.size] = pages
            self.writes_buf[self.hi : self.hi + pages.size] = writes
            self.hi += pages.size
