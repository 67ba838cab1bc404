"""A vCPU's reference stream: pages and write flags by position, read from the stream's
blocks (engine.workloads.blocks) as the vCPU makes progress."""

from __future__ import annotations

import numpy as np

from engine.scenario.schema import Workload
from engine.workloads.blocks import BLOCK_REFS, Blocks, stream_blocks


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
        self.base = 0  # position of buf[0]
        self.generated = 0
        self.pages_buf = np.empty(0, dtype=np.int64)
        self.writes_buf = np.empty(0, dtype=bool)

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

    def take(self, pos: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Pages and write flags of references [pos, pos + n); pos never goes backwards.
        Whole blocks before pos that were never read are skipped, not drawn."""
        if pos < self.base:
            raise ValueError("a reference stream cannot go backwards")
        drop = pos - self.base
        if drop > 0 and drop >= BLOCK_REFS:
            keep_from = min(drop, self.pages_buf.size)
            self.pages_buf = self.pages_buf[keep_from:]
            self.writes_buf = self.writes_buf[keep_from:]
            self.base += keep_from
        first = pos - pos % BLOCK_REFS
        if first > self.generated:  # nothing buffered: start at pos's block
            self.base = self.generated = first
        need = pos + n - (self.base + self.pages_buf.size)
        if need > 0:
            blocks = [self._generate_block() for _ in range(-(-need // BLOCK_REFS))]
            self.pages_buf = np.concatenate([self.pages_buf, *[b[0] for b in blocks]])
            self.writes_buf = np.concatenate([self.writes_buf, *[b[1] for b in blocks]])
        lo = pos - self.base
        return self.pages_buf[lo : lo + n], self.writes_buf[lo : lo + n]
