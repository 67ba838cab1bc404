"""The oracle's compiled look-ahead window: links to each page's next use, as a scan finds."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.lookahead import (
    COARSE_TOP,
    advance_next_use,
    coarse_shift,
    coarse_use,
    draw_window,
    link_window,
)

FAR = 1 << 61


@pytest.mark.parametrize("pages", [1, 40, 5_000])
def test_links_and_first_uses_are_a_scans(pages: int) -> None:
    """Each position links to the next position of its page (FAR: none left), and the first
    uses are each page's first position, in stream order, whatever the scratch held."""
    rng = np.random.default_rng(pages)
    rel = rng.integers(0, pages, size=3_000).astype(np.int64)
    last = np.full(pages, 12345, dtype=np.int64)  # stale content must not matter
    next_same, first = link_window(rel, 700, FAR, last)
    for i in range(rel.size):
        later = np.flatnonzero(rel[i + 1 :] == rel[i])
        assert next_same[i] == (700 + i + 1 + int(later[0]) if later.size else FAR)
    _, want_first = np.unique(rel, return_index=True)
    np.testing.assert_array_equal(first, np.sort(want_first))


def _bytes_of(next_pos: np.ndarray, start: int, shift: int) -> np.ndarray:
    """Each next use's byte, by Python integers: its distance from the window's start in
    units of 2**shift (before the start: 0), at most COARSE_TOP."""
    return np.array(
        [min(max(int(at) - start, 0) >> shift, COARSE_TOP) for at in next_pos], dtype=np.uint8
    )


@pytest.mark.parametrize("start", [0, 1_000])
def test_advancing_sets_the_next_use_of_the_pages_passed_only(start: int) -> None:
    """Moving from index lo to hi gives each page referenced there its next use at or after
    hi, and its byte with it; every other page keeps what it had."""
    rng = np.random.default_rng(2)
    rel = rng.integers(0, 60, size=500).astype(np.int64)
    next_same, _ = link_window(rel, start, FAR, np.empty(60, dtype=np.int64))
    next_pos = np.full(70, -7, dtype=np.int64)
    coarse = np.full(70, 9, dtype=np.uint8)
    advance_next_use(next_pos, rel, next_same, 100, 230, coarse, start, 3)
    for page in range(70):
        if page in rel[100:230]:
            later = np.flatnonzero(rel[230:] == page)
            want = start + 230 + int(later[0]) if later.size else FAR
            assert next_pos[page] == want
            assert coarse[page] == _bytes_of(np.array([want]), start, 3)[0]
        else:
            assert next_pos[page] == -7 and coarse[page] == 9


@pytest.mark.parametrize("window_refs", [1, 2, 255, 256, 257, 1 << 18, (1 << 24) + 3])
def test_every_use_in_a_window_has_a_byte_of_its_own_order(window_refs: int) -> None:
    """At coarse_shift of the window size, the uses of a window fill the bytes' range
    without saturating early (the last use's byte is more than half the top), and a later
    use never has a lesser byte; a use that never comes has the top byte, and so does any
    position far past the window's end, whatever the start."""
    shift = coarse_shift(window_refs)
    for start in (0, 77, 1 << 40):
        uses = start + np.unique(np.linspace(0, window_refs - 1, 600).astype(np.int64))
        got = np.array([coarse_use(int(u), start, shift) for u in uses])
        assert (np.diff(got.astype(np.int64)) >= 0).all()
        assert int(got[-1]) <= COARSE_TOP
        if window_refs > 256:
            assert int(got[-1]) > COARSE_TOP // 2
        assert coarse_use(FAR, start, shift) == COARSE_TOP
        assert coarse_use(start + (window_refs << 9), start, shift) == COARSE_TOP
        # (a position before the window, or the least of all, counts as its start)
        assert coarse_use(start - 5, start, shift) == 0
        assert coarse_use(np.iinfo(np.int64).min, start, shift) == 0


@pytest.mark.parametrize("pages", [1, 40, 5_000])
def test_a_drawn_window_has_link_windows_links_and_each_pages_first_use(pages: int) -> None:
    """draw_window writes the references and link_window's links into the (longer) rows, sets each
    page's next use to its first use in the window (FAR: none) and its byte, whatever
    next_pos and the bytes held, and leaves its all-FAR scratch all FAR, over windows drawn
    one after another."""
    rng = np.random.default_rng(pages + 2)
    last = np.full(pages + 3, FAR, dtype=np.int64)
    rel = np.full(3_500, -5, dtype=np.int64)
    links = np.full(3_500, -6, dtype=np.int64)
    for start, size in ((0, 3_000), (2_000, 2_500), (9_000, 0), (9_000, 1)):
        src = rng.integers(0, pages, size=size).astype(np.int64)
        want_links, want_first = link_window(src, start, FAR, np.empty(pages, dtype=np.int64))
        next_pos = np.full(pages + 3, -7, dtype=np.int64)
        coarse = np.full(pages + 3, 3, dtype=np.uint8)
        draw_window(src, start, FAR, last, rel, links, next_pos, coarse, 4)
        np.testing.assert_array_equal(rel[:size], src)
        np.testing.assert_array_equal(links[:size], want_links)
        want_next = np.full(pages + 3, FAR, dtype=np.int64)
        want_next[src[want_first]] = start + want_first
        np.testing.assert_array_equal(next_pos, want_next)
        np.testing.assert_array_equal(coarse, _bytes_of(want_next, start, 4))
        assert (last == FAR).all()
        assert (rel[3_000:] == -5).all() and (links[3_000:] == -6).all()
