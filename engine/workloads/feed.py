"""Blocks of reference streams drawn by a forked child for its parent (engine.baseline_beside).

`vmswap run` forks a child for the unlimited-memory baseline, and that run reads the same
streams as the parent's (common random numbers). So the child draws each block once for both:
it writes every block it draws into memory shared with the parent and names it on a pipe, and
after its baseline it draws on ahead of what the parent has asked for. The parent takes a block
from there when the child has drawn it or will; otherwise (a block the child skipped, past the
feed's capacity, the child gone) it draws the block itself, its generators moved past the
blocks it was fed. A block is the same whoever draws it: the child's generators start where
the parent's stood at the fork, and each stream's blocks are drawn in order.

Both sides keep to one rule that makes waiting safe: the child names a stream's blocks in
increasing order and never waits for the parent, so a block the parent waits for comes, or a
later one of that stream does (then it never will), or the pipe ends.
"""

from __future__ import annotations

import mmap
import os
import select
import struct
from collections.abc import Sequence

import numpy as np

from engine.workloads.blocks import BLOCK_REFS, Blocks

# The feed's shared memory for all streams together (touched only as blocks are written).
FEED_BYTES = 64 * 1024 * 1024
# In the feed's last part the child keeps each stream this many blocks ahead of the parent.
BLOCKS_AHEAD = 4
# A note on the pipe: the stream's index and the block's (ENDED: no more blocks of it).
NOTE = struct.Struct("<qq")
ENDED = -1
# How long the child sleeps while every stream is far enough ahead of the parent.
IDLE_S = 0.002


class BlockFeed:
    """The shared blocks of some streams and the pipes between the parent and the child.

    Made in the parent before the fork; then `serve_in_child()` in the child and
    `attach_in_parent()` in the parent, and `close()` when the parent needs no more."""

    def __init__(self, streams: Sequence[Blocks], most_refs: Sequence[int]):
        """Room for each stream's blocks up to most_refs references (what its vCPU can make),
        within FEED_BYTES for all."""
        self.streams = list(streams)
        n = max(1, len(self.streams))
        self.caps: list[int] = []
        self.pages: list[np.ndarray] = []
        self.writes: list[np.ndarray] = []
        for blocks, refs in zip(self.streams, most_refs, strict=True):
            item = np.dtype(blocks.page_dtype).itemsize
            cap = min(-(-refs // BLOCK_REFS), FEED_BYTES // n // ((item + 1) * BLOCK_REFS))
            cap = max(cap, 0)
            area = mmap.mmap(-1, max(1, cap * BLOCK_REFS * (item + 1)))
            self.pages.append(
                np.frombuffer(area, dtype=blocks.page_dtype, count=cap * BLOCK_REFS).reshape(
                    cap, BLOCK_REFS
                )
            )
            self.writes.append(
                np.frombuffer(
                    area, dtype=bool, count=cap * BLOCK_REFS, offset=cap * BLOCK_REFS * item
                ).reshape(cap, BLOCK_REFS)
            )
            self.caps.append(cap)
        # At most one note per block of room and one per stream with room: with FEED_BYTES
        # that is far below a pipe's buffer, so the child never waits to write a note.
        # The block each stream of the parent asked for last: where the child feeds ahead of.
        # Read without a lock: a stale value only changes which block the child draws next.
        self.asked = np.frombuffer(mmap.mmap(-1, 8 * n), dtype=np.int64)
        self.notes_r, self.notes_w = os.pipe()  # child -> parent: NOTEs
        self.stop_r, self.stop_w = os.pipe()  # the parent closes its end: the child stops
        # The parent's view: blocks named so far, the last named per stream, streams ended.
        self.fed: list[dict[int, tuple[np.ndarray, np.ndarray]]] = [{} for _ in self.streams]
        self.last_named = [-1] * len(self.streams)
        self.ended = [cap == 0 for cap in self.caps]
        self.unread = b""
        self.closed = False  # the parent's ends of the pipes

    # -- the child ------------------------------------------------------------------------------
    def serve_in_child(self) -> None:
        """In the child: from now on name every block its streams draw (call first)."""
        os.close(self.notes_r)
        os.close(self.stop_w)
        for index, blocks in enumerate(self.streams):
            blocks.on_drawn = _Publisher(self, index)

    def feed_ahead(self) -> None:
        """In the child, once its own work is done: draw on, each stream's next block where the
        parent is closest to the blocks drawn, until the parent stops the feed or every stream
        is drawn to its capacity."""
        while not self._stopped(0.0):
            open_streams = [s for s in range(len(self.streams)) if not self.ended[s]]
            if not open_streams:
                break
            lead = {s: len(self.streams[s].kept) - int(self.asked[s]) for s in open_streams}
            s = min(open_streams, key=lambda k: (lead[k], k))
            if lead[s] > BLOCKS_AHEAD:
                self._stopped(IDLE_S)  # far enough ahead everywhere: wait for the parent
                continue
            blocks = self.streams[s]
            blocks.block(len(blocks.kept))  # drawn and named by its publisher

    def _stopped(self, wait_s: float) -> bool:
        """Whether the parent has stopped the feed (its end of the stop pipe closed)."""
        ready, _, _ = select.select([self.stop_r], [], [], wait_s)
        return bool(ready)

    def publish(self, s: int, i: int, pages: np.ndarray, writes: np.ndarray) -> None:
        """In the child: put block i of stream s in shared memory and name it; past the
        stream's capacity (or a page its type cannot hold), name the stream ended."""
        if self.ended[s]:
            return
        if i >= self.caps[s] or (
            pages.size and int(pages.max()) > np.iinfo(self.pages[s].dtype).max
        ):
            self.ended[s] = True
            os.write(self.notes_w, NOTE.pack(s, ENDED))
            return
        self.pages[s][i] = pages
        self.writes[s][i] = writes
        # The pipe orders the writes above before the parent's reads (a system call each).
        os.write(self.notes_w, NOTE.pack(s, i))

    # -- the parent -----------------------------------------------------------------------------
    def attach_in_parent(self) -> None:
        """In the parent: its streams take blocks from the feed (call right after the fork)."""
        os.close(self.notes_w)
        os.close(self.stop_r)
        for index, blocks in enumerate(self.streams):
            blocks.feed, blocks.feed_index = self, index

    def take(self, s: int, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """In the parent: block i of stream s from the child (waiting for it if the child will
        still draw it), or None where the parent must draw it itself."""
        self.asked[s] = i
        while i not in self.fed[s]:
            if self.ended[s] or self.last_named[s] >= i or i >= self.caps[s]:
                return None
            self._read_notes()
        return self.fed[s].pop(i)

    def _read_notes(self) -> None:
        """Wait for the child's next notes and record them; at the pipe's end every stream
        is ended."""
        try:
            data = os.read(self.notes_r, 64 * NOTE.size)
        except OSError:
            data = b""
        if not data:
            self.ended = [True] * len(self.streams)
            return
        data = self.unread + data
        whole = len(data) - len(data) % NOTE.size
        self.unread = data[whole:]
        for s, i in NOTE.iter_unpack(data[:whole]):
            if i == ENDED:
                self.ended[s] = True
                continue
            self.last_named[s] = i
            pages, writes = self.pages[s][i], self.writes[s][i]
            pages.flags.writeable = False
            writes.flags.writeable = False
            self.fed[s][i] = (pages, writes)

    def close(self) -> None:
        """In the parent: stop the child's feed and take blocks only from its own draws."""
        for blocks in self.streams:
            if blocks.feed is self:
                blocks.feed = None
        if not self.closed:  # once: a descriptor's number may be another file's afterwards
            self.closed = True
            os.close(self.stop_w)
            os.close(self.notes_r)
        self.ended = [True] * len(self.streams)


class _Publisher:
    """The child's hook on one stream's Blocks: each block drawn goes to the parent."""

    def __init__(self, feed: BlockFeed, index: int):
        self.feed, self.index = feed, index

    def __call__(self, i: int, pages: np.ndarray, writes: np.ndarray) -> None:
        self.feed.publish(self.index, i, pages, writes)
