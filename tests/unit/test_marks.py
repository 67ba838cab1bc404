"""Pages marked a byte each and read back eight at a time (engine.hotpath.marks): the marked
pages, in order, whatever the scratch held before and wherever the VM's range ends."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from engine.hotpath.bits import bit_width, lowest_set_bit
from engine.hotpath.marks import marked_pages, padded_marks


@pytest.mark.parametrize("interpreted", [False, True])
@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 64, 1_001])
def test_the_marked_pages_come_back_in_order_after_those_already_there(
    size: int, interpreted: bool
) -> None:
    """(interpreted: the functions as plain Python, their bit count lowest_set_bit's own.)"""
    rng = np.random.default_rng(size)
    pad, read = (padded_marks, marked_pages)
    if interpreted:
        pad, read = padded_marks.py_func, marked_pages.py_func
    scratch = np.full(size + 7, 1, dtype=np.uint8)  # stale ones past the range must not count
    marks = pad(scratch, size)
    assert marks.size % 8 == 0 and marks.size - size < 8
    assert not marks[size:].any()
    wanted = rng.random(size) < 0.2
    marks[:size] = wanted
    out = np.full(size + 3, -1, dtype=np.int64)
    out[:3] = [7, 8, 9]  # already gathered: kept, the marked appended after them
    n = read(marks, 500, out, 3)
    assert out[:n].tolist() == [7, 8, 9, *(500 + np.flatnonzero(wanted)).tolist()]


@pytest.mark.parametrize("word", [1, 2, 0b1011000, 1 << 40, (1 << 63) | (1 << 5), (1 << 64) - 1])
def test_the_bit_counts_are_the_same_compiled_and_interpreted(word: int) -> None:
    """lowest_set_bit and bit_width: the processor's counts in compiled code, Python's
    integers otherwise, one answer."""
    w = np.uint64(word)
    want = ((word & -word).bit_length() - 1, word.bit_length())
    assert (lowest_set_bit(w), bit_width(w)) == want
    assert _both_compiled(w) == want


@njit(cache=False)
def _both_compiled(word: np.uint64) -> tuple[int, int]:
    return lowest_set_bit(word), bit_width(word)
