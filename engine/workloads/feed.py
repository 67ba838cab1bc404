"""Blocks of reference streams drawn by a forked child for its parent (engine.baseline_beside).

`vmswap run` forks a child for the unlimited-memory baseline, and that run reads the same
streams as the parent's (common random numbers). So the child draws each block once for both:
it writes every block it draws into memory shared with the parent and names it on a pipe, and
after its baseline it draws on ahead of what the parent has asked for. The parent takes a block
from there when the child has drawn it or will; otherwise (the shared memory full, the child
gone) it draws the block itself, its generators moved past the blocks it was fed. A block is
the same whoever draws it: the child's generators start where the parent's stood at the fork,
and each stream's blocks are drawn in order (a jump ahead in the child's own run draws a
private copy of the stream: `Blocks.block`).

Waiting is safe because the child never waits for the parent: it names a stream's blocks in
increasing order, so a block the parent waits for comes, or the pipe says no more will, or
the pipe ends. And it never waits to write a note: they are fewer than a pipe holds.
"""

from __future__ import annotations

import mmap
import os
import select
import struct
from collections.abc import Sequence

import numpy as np

from engine.workloads.blocks import BLOCK_REFS, Blocks

# The shared memory for all streams' blocks (pages are touched only as blocks are written):
# at most 768 blocks, so at most 769 notes of 24 bytes, well within a pipe's 64 KiB.
FEED_BYTES = 96 * 1024 * 1024
# The child keeps each stream this many blocks ahead of what the parent has asked for: a few
# while its own run (the baseline, which the parent waits for at its end) still has steps to
# make, more once that is done (about 25 ms of nvme_8vm_2x's fastest stream).
AHEAD_DURING_OWN_RUN = 2
BLOCKS_AHEAD = 6
# A note on the pipe: the stream, the block and where it is in the shared memory; a stream of
# ALL_ENDED means the shared memory is full and no more blocks will come.
NOTE = struct.Struct("<qqq")
ALL_ENDED = -1
# How long the child sleeps while every stream is far enough ahead of the parent.
IDLE_S = 0.002


class BlockFeed:
    """The shared memory and the two pipes between the parent and the child.

    Made in the parent before the fork; then `serve_in_child()` in the child and
    `attach_in_parent()` in the parent, and `close()` in the parent when it needs no more."""

    def __init__(self, streams: Sequence[Blocks], feed_bytes: int = FEED_BYTES):
        self.streams = list(streams)
        self.arena = mmap.mmap(-1, max(1, feed_bytes))  # shared with the child after the fork
        self.used_bytes = 0  # the child's: where its next block goes
        # The block each of the parent's streams asked for last, which the child keeps ahead
        # of. Read without a lock: a stale value only changes which block is drawn next.
        self.asked = np.frombuffer(mmap.mmap(-1, 8 * max(1, len(self.streams))), dtype=np.int64)
        self.notes_r, self.notes_w = os.pipe()  # child -> parent: NOTEs
        self.stop_r, self.stop_w = os.pipe()  # the parent closes its end: the child stops
        self.ended = False  # no more blocks will come (either side's view)
        # The parent's view: blocks named and not taken yet, and the last named per stream.
        self.fed: list[dict[int, tuple[np.ndarray, np.ndarray]]] = [{} for _ in self.streams]
        self.last_named = [-1] * len(self.streams)
        self.unread = b""
        self.closed = False  # the parent's ends of the pipes

    # -- the child ------------------------------------------------------------------------------
    def serve_in_child(self) -> None:
        """In the child, right after the fork: from now on every block its streams draw goes
        to the parent."""
        os.close(self.notes_r)
        os.close(self.stop_w)
        for index, blocks in enumerate(self.streams):
            blocks.on_drawn = _Publisher(self, index)

    def keep_ahead(self, _now_ns: int = 0, ahead: int = AHEAD_DURING_OWN_RUN) -> None:
        """In the child, between steps of its own run (`Simulation.run`'s on_step): draw the
        next block of the stream whose parent is closest to the child's last block, until
        every stream is `ahead` blocks ahead of the parent or the shared memory is full."""
        while not self.ended and self.streams:
            lead = [len(b.kept) - int(self.asked[s]) for s, b in enumerate(self.streams)]
            s = min(range(len(self.streams)), key=lambda k: (lead[k], k))
            if lead[s] > ahead:
                return
            blocks = self.streams[s]
            blocks.block(len(blocks.kept))  # drawn, and published by the stream's hook

    def feed_ahead(self) -> None:
        """In the child, once its own run is done: keep ahead of the parent until it stops the
        feed (or the shared memory is full)."""
        while not self.ended and self.streams and not self._stopped(0.0):
            self.keep_ahead(ahead=BLOCKS_AHEAD)
            self._stopped(IDLE_S)  # ahead everywhere: wait for the parent to read on

    def _stopped(self, wait_s: float) -> bool:
        """Whether the parent has stopped the feed (its end of the stop pipe closed)."""
        ready, _, _ = select.select([self.stop_r], [], [], wait_s)
        return bool(ready)

    def publish(self, s: int, i: int, pages: np.ndarray, writes: np.ndarray) -> None:
        """In the child: put block i of stream s in the shared memory and name it (once it is
        full, say that no more will come)."""
        if self.ended:
            return
        dtype = self.streams[s].page_dtype
        too_large = pages.size and int(pages.max()) > np.iinfo(dtype).max
        at = self.used_bytes
        end = at + _block_bytes(dtype)
        if too_large or end > len(self.arena):
            self.ended = True
            os.write(self.notes_w, NOTE.pack(ALL_ENDED, 0, 0))
            return
        fed_pages, fed_writes = self._views(dtype, at)
        fed_pages[:] = pages
        fed_writes[:] = writes
        self.used_bytes = end
        # The pipe orders the writes above before the parent's reads (a system call each).
        os.write(self.notes_w, NOTE.pack(s, i, at))

    def _views(self, dtype: np.dtype, at: int) -> tuple[np.ndarray, np.ndarray]:
        """The pages and write flags of the block at byte `at` of the shared memory."""
        pages = np.frombuffer(self.arena, dtype=dtype, count=BLOCK_REFS, offset=at)
        writes = np.frombuffer(
            self.arena, dtype=bool, count=BLOCK_REFS, offset=at + BLOCK_REFS * dtype.itemsize
        )
        return pages, writes

    # -- the parent -----------------------------------------------------------------------------
    def attach_in_parent(self) -> None:
        """In the parent, right after the fork: its streams take blocks from the feed."""
        os.close(self.notes_w)
        os.close(self.stop_r)
        for index, blocks in enumerate(self.streams):
            blocks.feed, blocks.feed_index = self, index

    def take(self, s: int, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """In the parent: block i of stream s from the child (waiting for it if the child will
        still draw it), or None where the parent must draw it itself."""
        self.asked[s] = i
        while i not in self.fed[s]:
            if self.ended or self.last_named[s] >= i:
                return None
            self._read_notes()
        return self.fed[s].pop(i)

    def _read_notes(self) -> None:
        """Wait for the child's next notes and record them (at the pipe's end: no more)."""
        try:
            data = os.read(self.notes_r, 64 * NOTE.size)
        except OSError:
            data = b""
        if not data:
            self.ended = True
            return
        data = self.unread + data
        whole = len(data) - len(data) % NOTE.size
        self.unread = data[whole:]
        for s, i, at in NOTE.iter_unpack(data[:whole]):
            if s == ALL_ENDED:
                self.ended = True
                continue
            pages, writes = self._views(np.dtype(self.streams[s].page_dtype), at)
            pages.flags.writeable = False
            writes.flags.writeable = False
            self.fed[s][i] = (pages, writes)
            self.last_named[s] = i

    def close(self) -> None:
        """In the parent: stop the child's feed; its streams draw every block themselves."""
        for blocks in self.streams:
            if blocks.feed is self:
                blocks.feed = None
        if not self.closed:  # once: a descriptor's number may be another file's afterwards
            self.closed = True
            os.close(self.stop_w)
            os.close(self.notes_r)
        self.ended = True


def _block_bytes(dtype: np.dtype) -> int:
    """The shared memory one block takes: its pages, its write flags, rounded up to 8 bytes."""
    return -(-(BLOCK_REFS * (np.dtype(dtype).itemsize + 1)) // 8) * 8


class _Publisher:
    """The child's hook on one stream's Blocks: each block drawn goes to the parent."""

    def __init__(self, feed: BlockFeed, index: int):
        self.feed, self.index = feed, index

    def __call__(self, i: int, pages: np.ndarray, writes: np.ndarray) -> None:
        self.feed.publish(self.index, i, pages, writes)
