"""Blocks drawn by a forked child for its parent (engine.workloads.feed): the same blocks as
drawn alone, whichever side draws each."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import fresh_python_json

# Run in a fresh process (it forks). Three streams: Zipf, a mixture whose child jumps ahead
# (a private copy of the stream in the child, so the feed goes on from where it was), and a
# phased one; room for twelve blocks in all, then the parent draws the rest itself. The parent
# takes blocks in turn from each; then fresh copies of the streams draw them alone.
PROGRAM = """
import json, os, sys
import numpy as np
from engine.scenario.schema import Workload
from engine.workloads.blocks import Blocks
from engine.workloads.feed import BlockFeed, _block_bytes
from engine.workloads.seeding import stream_seed

kinds = [
    Workload(kind="zipf", pages=3000, write_fraction=0.3),
    Workload(kind="mixture", pages=3000, components=[{"kind": "zipf"}, {"kind": "scan"}]),
    Workload(kind="phased", pages=3000, ws_pages=500, phase_refs=100_000),
]
def streams():
    return [Blocks(w, 4000, stream_seed(9, f"vm{k}", 0), shared=True) for k, w in enumerate(kinds)]

fed = streams()
feed = BlockFeed(fed, feed_bytes=12 * _block_bytes(fed[0].page_dtype))
pid = os.fork()
if pid == 0:
    code = 1
    try:
        feed.serve_in_child()
        fed[0].block(0)
        fed[1].block(0)
        jumped = fed[1].block(5)  # a jump in the child's run: not drawn from the shared stream
        feed.feed_ahead()
        code = 0 if jumped is None else 3
    finally:
        os._exit(code)
feed.attach_in_parent()
taken = [[], [], []]
from_child = 0
own_take = feed.take
def counted(s, i):
    global from_child
    got = own_take(s, i)
    from_child += got is not None
    return got
feed.take = counted
for i in range(8):
    for s in range(3):
        got = fed[s].block(i)
        taken[s].append([got[0].astype(np.int64).tolist(), got[1].tolist()])
ended = feed.ended
feed.close()
_, status = os.waitpid(pid, 0)
alone = streams()
same = all(
    taken[s][i] == [alone[s].block(i)[0].astype(np.int64).tolist(), alone[s].block(i)[1].tolist()]
    for i in range(8)
    for s in range(3)
)
print(json.dumps({
    "same": same,
    "status": os.waitstatus_to_exitcode(status),
    "from_child": from_child,
    "ended": ended,
    "feed_attached": [b.feed is not None for b in fed],
}))
"""


def test_blocks_from_the_feed_are_the_blocks_drawn_alone() -> None:
    """Every block the parent takes, fed by the child or drawn itself once the shared memory
    is full, is the block the stream draws alone; a jump in the child's own run leaves the
    shared stream where it was; the child ends when the parent closes the feed."""
    if sys.platform != "linux":
        pytest.skip("the feed is used beside a forked child, on Linux only")
    got = fresh_python_json(PROGRAM)
    assert got["same"] is True
    assert got["status"] == 0  # and the jump drew nothing from the shared stream
    assert 3 <= got["from_child"] <= 12  # block 0 of each stream at least; room for 12
    assert got["ended"] is True  # 24 blocks taken, room for 12: the feed said so
    assert got["feed_attached"] == [False, False, False]
