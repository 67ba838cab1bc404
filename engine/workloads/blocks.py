"""The block cache of reference streams: a stream is drawn in fixed blocks, in order, and the
blocks are kept (within a byte budget shared by every session of a served app) for the next
run of the same stream, so a run after its unlimited-memory baseline, or another policy on
the same scenario and seed, reads them instead of drawing them again."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import numpy as np

from engine.scenario.schema import Workload, to_dict
from engine.workloads.scratch import thread_scratch
from engine.workloads.seeding import skip_draws
from engine.workloads.sources import make_source

BLOCK_REFS = 1 << 16

# Blocks drawn by every stream and kept for the next run of the same stream (the run that
# follows its unlimited-memory baseline, or another policy on the same scenario and seed),
# across all sessions of a served app; bounded by the bytes they hold.
STREAM_CACHE_BYTES = 128 * 1024 * 1024


class BlockSupply(Protocol):
    """Blocks drawn elsewhere (engine.workloads.feed: by a forked child)."""

    def take(self, s: int, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Block i of stream s, or None where the stream must draw it itself."""


class Blocks:
    """One stream's generators and the blocks they drew, in order: block i is the same
    whichever stream asks for it first, so streams of the same workload, span and seed share
    one. Keeps each block while the shared budget allows; a stream that needs a block that was
    not kept draws its own copy of the stream instead (`private`)."""

    def __init__(self, w: Workload, vm_pages: int, seed: np.random.SeedSequence, shared: bool):
        page_seed, write_seed = seed.spawn(2)
        self.source = make_source(w, vm_pages, np.random.default_rng(page_seed))
        self.write_rng = np.random.default_rng(write_seed)
        self.write_fraction = float(w.write_fraction)
        # The pages are below the span: the smallest unsigned type holds them (a quarter of
        # int64's bytes for a VM of up to 65,536 pages).
        self.page_dtype = np.min_scalar_type(max(0, vm_pages - 1))
        self.shared = shared
        self.kept: list[tuple[np.ndarray, np.ndarray] | None] = []
        # The block the generators stand at: len(kept), but for blocks a feed gave.
        self.rng_block = 0
        # Where blocks drawn by another process come from (engine.workloads.feed), and the
        # hook that hands each block drawn here to another process.
        self.feed: BlockSupply | None = None
        self.feed_index = 0
        self.on_drawn: Callable[[int, np.ndarray, np.ndarray], None] | None = None
        self.lock = threading.Lock()

    def block(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Block i (pages, write flags); None if it was passed (drawn and not kept, or
        skipped). The blocks between the last one drawn and i are skipped, not drawn: a stream
        that jumps ahead draws only what it reads."""
        with self.lock:
            if i < len(self.kept):
                return self.kept[i]
            if i > len(self.kept) and self.on_drawn is not None:
                # A jump would move the generators past blocks still to be handed on
                # (engine.workloads.feed): the stream that jumps draws a private copy.
                return None
            while len(self.kept) < i:
                self.kept.append(None)
            drawn = self.feed.take(self.feed_index, i) if self.feed is not None else None
            if drawn is None:
                while self.rng_block < i:
                    self._skip(self.rng_block * BLOCK_REFS)
                    self.rng_block += 1
                drawn = self._draw(i * BLOCK_REFS)
                self.rng_block = i + 1
                if self.on_drawn is not None:
                    self.on_drawn(i, *drawn)
            self.kept.append(self._keep(drawn) if self.shared else None)
            return drawn

    def _keep(self, drawn: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
        pages, writes = drawn
        if pages.size and int(pages.max()) > np.iinfo(self.page_dtype).max:
            return None  # never for pages below the span; a guard against a silent wrap
        pages = pages.astype(self.page_dtype, copy=False)  # a fed block's are already
        if not _CACHE.reserve(pages.nbytes + writes.nbytes):
            return None
        pages.flags.writeable = False
        writes.flags.writeable = False
        return pages, writes

    def _draw(self, start: int) -> tuple[np.ndarray, np.ndarray]:
        pages = self.source.pages(start, BLOCK_REFS)
        recorded = getattr(self.source, "writes", None)
        own = recorded(start, BLOCK_REFS) if recorded is not None else None
        if own is not None:
            writes = own
        elif self._draws_writes():
            writes = thread_scratch().uniform(self.write_rng, BLOCK_REFS) < self.write_fraction
        else:
            # A draw u in [0, 1) is never below 0 and always below 1: the flags are known
            # without drawing. The write generator serves only these flags, so skipping its
            # draws changes no other number.
            writes = np.full(BLOCK_REFS, self.write_fraction >= 1.0, dtype=bool)
        return pages, writes

    def _draws_writes(self) -> bool:
        """Whether the write flags come from the write generator (one double per reference):
        not when the source records its own (a trace with writes), nor for a fraction of 0
        or 1."""
        if getattr(self.source, "trace_writes", None) is not None:
            return False
        return 0.0 < self.write_fraction < 1.0

    def _skip(self, start: int) -> None:
        """Move both generators past the block at start, as _draw would, drawing neither where
        they can jump."""
        self.source.skip(start, BLOCK_REFS)
        if self._draws_writes() and not skip_draws(self.write_rng, BLOCK_REFS):
            self.write_rng.random(BLOCK_REFS)

    def kept_bytes(self) -> int:
        return sum(p.nbytes + w.nbytes for b in self.kept if b is not None for p, w in [b])


class StreamCache:
    """The shared blocks of recent streams, least recently used first, within a byte budget.
    Dropping a stream's entry frees its budget (a stream still reading it keeps its own
    reference, and no longer adds blocks to it)."""

    def __init__(self, budget_bytes: int, most_streams: int):
        self.budget_bytes, self.most_streams = budget_bytes, most_streams
        self.used_bytes = 0
        self.streams: OrderedDict[str, Blocks] = OrderedDict()
        self.lock = threading.Lock()

    def reserve(self, n_bytes: int) -> bool:
        """Count n_bytes more kept, if the budget allows."""
        with self.lock:
            if self.used_bytes + n_bytes > self.budget_bytes:
                return False
            self.used_bytes += n_bytes
            return True

    def blocks(self, w: Workload, vm_pages: int, seed: np.random.SeedSequence) -> Blocks:
        """This stream's shared blocks, made on first use."""
        key = json.dumps(
            [to_dict(w), vm_pages, str(seed.entropy), list(seed.spawn_key), seed.n_children_spawned]
        )
        if "trace" in key:  # a trace file can change under the same path: read it afresh
            return Blocks(w, vm_pages, seed, shared=False)
        with self.lock:
            found = self.streams.get(key)
            if found is not None:
                self.streams.move_to_end(key)
                return found
        made = Blocks(w, vm_pages, seed, shared=True)
        with self.lock:
            self.streams[key] = made
            # Past half the budget a new stream makes room: the oldest streams go.
            while len(self.streams) > 1 and (
                len(self.streams) > self.most_streams or self.used_bytes > self.budget_bytes // 2
            ):
                _, old = self.streams.popitem(last=False)
                old.shared = False
                self.used_bytes -= old.kept_bytes()
        return made

    def forget(self) -> None:
        """Drop every kept block (streams reading them keep their own references)."""
        with self.lock:
            for blocks in self.streams.values():
                blocks.shared = False
            self.streams.clear()
            self.used_bytes = 0


_CACHE = StreamCache(STREAM_CACHE_BYTES, most_streams=256)


def stream_blocks(w: Workload, vm_pages: int, seed: np.random.SeedSequence) -> Blocks:
    """The shared blocks of this stream (its workload, VM size and seed), made on first use."""
    return _CACHE.blocks(w, vm_pages, seed)


def forget_kept_blocks() -> None:
    """Make the next stream of any workload draw its blocks afresh (for timing the draws)."""
    _CACHE.forget()
