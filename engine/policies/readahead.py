"""Linux's swap readahead window, as the kernel computes it: the aligned page-cluster block
around a faulting swap offset, sized by readahead hits since the last fault.

Follows mm/swap_state.c of Linux 6.x (read at the 6.10-era source: `__swapin_nr_pages`,
`swapin_nr_pages`, `swap_cluster_readahead`, and `swap_cache_get_folio`, which counts a hit
into `swapin_readahead_hits` when a fault finds a page readahead brought in). The heuristic
itself has been unchanged since Linux 3.6 (2012, "swap: add a simple detector for
inappropriate swapin readahead"). One difference, stated in docs/policies.md: the kernel
keeps one window for the whole host, this keeps one per VM.
"""

from __future__ import annotations

import numpy as np

# `__swapin_nr_pages`, compiled: the executor's own fault reads use it too.
from engine.hotpath.adaptive_fault import (
    A_HITS_SEEN,
    A_PREV_OFFSET,
    A_PREV_WIN,
    next_window,
    window_rows,
)
from engine.hotpath.row_config import C_KIND, C_MAX_WINDOW, N_CONFIG, ROW_ADAPTIVE

__all__ = ["AdaptiveWindow", "aligned_block", "next_window"]


class AdaptiveWindow:
    """`swapin_nr_pages` per VM: the hits since the last fault decide the next window.

    Hits are readahead pages found by a later touch (the engine's `prefetch_used` counter
    moves exactly then). The previous offset is remembered only from faults that found no
    hits, as the kernel does. Each VM's figures are one row of `rows`
    (engine.hotpath.adaptive_fault), which the compiled executor's fault reads update too."""

    def __init__(self, n_vms: int, page_cluster: int):
        self.max_pages = 1 << page_cluster
        self.rows = window_rows(n_vms)
        self.config = np.zeros(N_CONFIG, dtype=np.int64)  # for the compiled reads
        self.config[C_KIND] = ROW_ADAPTIVE
        self.config[C_MAX_WINDOW] = self.max_pages
        # Each fault's window as this model saw it (the faults the compiled executor reads
        # itself are not listed: tests/unit/test_readahead.py runs the per-reference model).
        self.windows: list[list[int]] = [[] for _ in range(n_vms)]

    def pages(self, vm: int, offset: int, used_so_far: int) -> int:
        """The window for a fault of vm at swap offset `offset` (pages within the VM),
        given the VM's readahead pages used so far."""
        if self.max_pages <= 1:
            return 1
        row = self.rows[vm]
        hits = used_so_far - int(row[A_HITS_SEEN])
        row[A_HITS_SEEN] = used_so_far
        win = int(
            next_window(int(row[A_PREV_OFFSET]), offset, hits, self.max_pages, int(row[A_PREV_WIN]))
        )
        if not hits:
            row[A_PREV_OFFSET] = offset
        row[A_PREV_WIN] = win
        self.windows[vm].append(win)
        return win


def aligned_block(offset: int, pages: int) -> tuple[int, int]:
    """[start, end) of the `pages`-aligned block holding offset (pages a power of two)."""
    start = offset & ~(pages - 1)
    return start, start + pages
