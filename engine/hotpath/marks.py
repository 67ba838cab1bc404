"""Pages marked a byte each, read back eight at a time (compiled): how the hot path's gathers
find a few pages among a VM's thousands.

A loop that appends the pages passing a test, one branch a page, runs a page at a time; a
loop that writes the test's outcome as a byte a page has no branch and vectorises (thirty-two
pages a step where the figures compared are bytes). The marked pages are then read back a
word of eight bytes at a time, a word with none marked costing one comparison."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.bits import lowest_set_bit


@njit(cache=True, nogil=True)
def padded_marks(mark: np.ndarray, size: int) -> np.ndarray:
    """The first `size` bytes of the scratch `mark` (at least size + 7 bytes), to be marked,
    with the padding to whole words of eight zeroed."""
    marks = mark[: -(-size // 8) * 8]
    marks[size:] = 0
    return marks


@njit(cache=True, nogil=True)
def marked_pages(marks: np.ndarray, lo: int, out: np.ndarray, n: int) -> int:
    """Append lo + i for each i whose byte in marks is 1 (zeros and ones, whole words of
    eight), ascending, to out at n; returns out's new length."""
    words = marks.view(np.uint64)
    for w in range(words.size):
        word = words[w]
        while word:  # a marked page's byte is 1: one bit of the word each
            out[n] = lo + 8 * w + (lowest_set_bit(word) >> 3)
            word &= word - np.uint64(1)
            n += 1
    return n
