"""The oracle's compiled look-ahead window: links to each page's next use, as a scan finds."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.lookahead import advance_next_use, draw_window, link_window

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


def test_advancing_sets_the_next_use_of_the_pages_passed_only() -> None:
    """Moving from index lo to hi gives each page referenced there its next use at or after
    hi; every other page keeps what it had."""
    rng = np.random.default_rng(2)
    rel = rng.integers(0, 60, size=500).astype(np.int64)
    next_same, _ = link_window(rel, 0, FAR, np.empty(60, dtype=np.int64))
    next_pos = np.full(70, -7, dtype=np.int64)
    advance_next_use(next_pos, rel, next_same, 100, 230)
    for page in range(70):
        if page in rel[100:230]:
            later = np.flatnonzero(rel[230:] == page)
            assert next_pos[page] == (230 + int(later[0]) if later.size else FAR)
        else:
            assert next_pos[page] == -7


@pytest.mark.parametrize("pages", [1, 40, 5_000])
def test_a_drawn_window_has_link_windows_links_and_each_pages_first_use(pages: int) -> None:
    """draw_window writes the references and link_window's links into the (longer) rows, sets each
    page's next use to its first use in the window (FAR: none) whatever next_pos held, and
    leaves its all-FAR scratch all FAR, over windows drawn one after another."""
    rng = np.random.default_rng(pages + 2)
    last = np.full(pages + 3, FAR, dtype=np.int64)
    rel = np.full(3_500, -5, dtype=np.int64)
    links = np.full(3_500, -6, dtype=np.int64)
    for start, size in ((0, 3_000), (2_000, 2_500), (9_000, 0), (9_000, 1)):
        src = rng.integers(0, pages, size=size).astype(np.int64)
        want_links, want_first = link_window(src, start, FAR, np.empty(pages, dtype=np.int64))
        next_pos = np.full(pages + 3, -7, dtype=np.int64)
        draw_window(src, start, FAR, last, rel, links, next_pos)
        np.testing.assert_array_equal(rel[:size], src)
        np.testing.assert_array_equal(links[:size], want_links)
        want_next = np.full(pages + 3, FAR, dtype=np.int64)
        want_next[src[want_first]] = start + want_first
        np.testing.assert_array_equal(next_pos, want_next)
        assert (last == FAR).all()
        assert (rel[3_000:] == -5).all() and (links[3_000:] == -6).all()
