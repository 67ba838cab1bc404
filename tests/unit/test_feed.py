"""Blocks drawn by a forked child for its parent (engine.workloads.feed): the same blocks as
drawn alone, whichever side draws each."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import fresh_python_json

# Run in a fresh process (it forks). Three streams: a Zipf stream the child draws well ahead,
# a mixture whose child jumps ahead (the parent draws the blocks it skipped), and a phased
# stream with room for two blocks only (the parent draws the rest). The parent takes blocks
# in turn from each, then a fresh copy of every stream draws them alone.
PROGRAM = """
import json, os, sys
import numpy as np
from engine.scenario.schema import Workload
from engine.workloads.blocks import Blocks
from engine.workloads.feed import BLOCK_REFS, BlockFeed
from engine.workloads.seeding import stream_seed

kinds = [
    Workload(kind="zipf", pages=3000, write_fraction=0.3),
    Workload(kind="mixture", pages=3000, components=[{"kind": "zipf"}, {"kind": "scan"}]),
    Workload(kind="phased", pages=3000, ws_pages=500, phase_refs=100_000),
]
def streams():
    return [Blocks(w, 4000, stream_seed(9, f"vm{k}", 0), shared=True) for k, w in enumerate(kinds)]

fed = streams()
feed = BlockFeed(fed, [20 * BLOCK_REFS, 20 * BLOCK_REFS, 2 * BLOCK_REFS])
pid = os.fork()
if pid == 0:
    try:
        feed.serve_in_child()
        fed[0].block(0)
        fed[1].block(0)
        fed[1].block(5)  # a jump: blocks 1-4 are skipped, never drawn by the child
        feed.feed_ahead()
    finally:
        os._exit(0)
feed.attach_in_parent()
taken = [[], [], []]
for i in range(8):
    for s in range(3):
        got = fed[s].block(i)
        taken[s].append([got[0].astype(np.int64).tolist(), got[1].tolist()])
from_child = [sorted(feed.fed[s]) for s in range(3)]
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
    "last_named": feed.last_named,
    "feed_attached": [b.feed is not None for b in fed],
}))
"""


def test_blocks_from_the_feed_are_the_blocks_drawn_alone() -> None:
    """Every block the parent takes, fed by the child or drawn itself (skipped by the child,
    past the feed's room), is the block the stream draws alone; the child ends when the parent
    closes the feed, and the parent's streams no longer wait for it."""
    if sys.platform != "linux":
        pytest.skip("the feed is used beside a forked child, on Linux only")
    got = fresh_python_json(PROGRAM)
    assert got["same"] is True
    assert got["status"] == 0
    zipf, mixture, phased = got["last_named"]
    assert zipf >= 7  # the child fed every block the parent took, and more
    assert mixture >= 5  # the jump's block and later ones came from the child
    assert phased == 1  # room for two blocks: blocks 2-7 were drawn by the parent
    assert got["feed_attached"] == [False, False, False]
