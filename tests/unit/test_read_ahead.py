"""Blocks drawn ahead on the helper thread: the same references, handed to their reader."""

from __future__ import annotations

import numpy as np
import pytest

from engine import workloads
from engine.scenario import Workload
from engine.workloads import BLOCK_REFS, RefStream, blocks, stream_seed
from engine.workloads.read_ahead import READ_AHEAD

MIXED = {
    "kind": "mixture",
    "components": [{"kind": "zipf", "pages": 900, "weight": 0.7}, {"kind": "scan", "weight": 0.3}],
    "write_fraction": 0.2,
}
KINDS = [
    {"kind": "uniform", "write_fraction": 0.3},
    {"kind": "zipf", "write_fraction": 0.3},
    {"kind": "phased", "phase_refs": 50_000, "write_fraction": 0.1},
    MIXED,
]


def _stream(fields: dict) -> RefStream:
    return RefStream(Workload(**fields), 4096, stream_seed(3, "vm", 0))


def _read_in_pieces(fields: dict) -> tuple[np.ndarray, np.ndarray]:
    """Six blocks read in pieces of growing length, waiting for the helper between reads."""
    s = _stream(fields)
    pos, pages, writes = 0, [], []
    for n in (1_000, BLOCK_REFS, 2 * BLOCK_REFS, 3 * BLOCK_REFS - 1_000):
        p, w = s.take(pos, n)
        pages.append(p.copy())
        writes.append(w.copy())
        pos += n
        READ_AHEAD.wait()
    return np.concatenate(pages), np.concatenate(writes)


@pytest.fixture(autouse=True)
def _fresh_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with no kept blocks and the helper on, whatever the machine."""
    workloads.forget_kept_blocks()
    monkeypatch.setattr(READ_AHEAD, "enabled", True)


@pytest.mark.parametrize("fields", KINDS, ids=lambda f: f["kind"])
def test_blocks_drawn_ahead_are_the_blocks_the_reader_draws(fields, monkeypatch):
    """With the helper drawing ahead, a stream gives exactly the references and write flags
    it gives with every block drawn by its reader; the helper did draw some of them."""
    helper_drew = []
    draw_ahead = blocks.Blocks.draw_ahead

    def counted(self: blocks.Blocks, i: int) -> None:
        before = len(self.kept)
        draw_ahead(self, i)
        helper_drew.extend(range(before, len(self.kept)))

    monkeypatch.setattr(blocks.Blocks, "draw_ahead", counted)
    ahead_p, ahead_w = _read_in_pieces(fields)
    assert helper_drew, "no block was drawn ahead"
    workloads.forget_kept_blocks()
    monkeypatch.setattr(READ_AHEAD, "enabled", False)
    own_p, own_w = _read_in_pieces(fields)
    assert np.array_equal(ahead_p, own_p) and np.array_equal(ahead_w, own_w)


def test_a_block_drawn_ahead_but_not_kept_goes_to_its_reader(monkeypatch):
    """With no budget to keep blocks, a block drawn ahead is held for the reader (it does not
    draw a private copy of the stream) and is handed out once."""
    monkeypatch.setattr(blocks, "_CACHE", blocks.StreamCache(0, most_streams=4))
    s = _stream(MIXED)
    first = s.take(0, 100)[0].copy()
    READ_AHEAD.wait()
    shared = s.blocks
    assert shared.kept == [None, None] and set(shared.ahead) == {1}
    p, _ = s.take(BLOCK_REFS, 100)
    assert s.blocks is shared and shared.ahead == {}
    workloads.forget_kept_blocks()
    monkeypatch.setattr(READ_AHEAD, "enabled", False)
    own = _stream(MIXED).take(0, BLOCK_REFS + 100)[0]
    assert np.array_equal(first, own[:100]) and np.array_equal(p, own[BLOCK_REFS:])


def test_a_draw_ahead_that_fails_fails_the_reader_the_same_way(monkeypatch):
    """An error while drawing ahead is raised to the stream's reader at its next read (its
    generators may be part-way through a block): never a stream with a gap."""
    s = _stream({"kind": "zipf"})
    s.take(0, 100)
    READ_AHEAD.wait()
    source = s.blocks.source

    def broken(start: int, n: int) -> np.ndarray:
        raise MemoryError("no room for the block")

    monkeypatch.setattr(source, "pages", broken)
    s.take(BLOCK_REFS, 100)  # block 1, drawn ahead already; block 2 is asked for and fails
    READ_AHEAD.wait()
    with pytest.raises(MemoryError, match="no room"):
        s.take(2 * BLOCK_REFS, 100)


def test_a_single_core_draws_nothing_ahead(monkeypatch):
    """Disabled (one core), asking for a block draws nothing: the reader draws its own."""
    monkeypatch.setattr(READ_AHEAD, "enabled", False)
    s = _stream({"kind": "uniform"})
    s.take(0, 100)
    READ_AHEAD.wait()
    assert len(s.blocks.kept) == 1
