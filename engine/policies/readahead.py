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


def next_window(prev_offset: int, offset: int, hits: int, max_pages: int, prev_win: int) -> int:
    """`__swapin_nr_pages`: pages to read around `offset`.

    hits + 2, rounded up to a power of two of at least 4; with no hits, 2 pages if the fault
    is next to the previous one and 1 otherwise; never above max_pages, and never below half
    the previous window (it does not shrink too fast)."""
    pages = hits + 2
    if pages == 2:
        if offset != prev_offset + 1 and offset != prev_offset - 1:
            pages = 1
    else:
        roundup = 4
        while roundup < pages:
            roundup <<= 1
        pages = roundup
    pages = min(pages, max_pages)
    return max(pages, prev_win // 2)


class AdaptiveWindow:
    """`swapin_nr_pages` per VM: the hits since the last fault decide the next window.

    Hits are readahead pages found by a later touch (the engine's `prefetch_used` counter
    moves exactly then). The previous offset is remembered only from faults that found no
    hits, as the kernel does."""

    def __init__(self, n_vms: int, page_cluster: int):
        self.max_pages = 1 << page_cluster
        self.prev_offset = np.zeros(n_vms, dtype=np.int64)
        self.prev_win = np.zeros(n_vms, dtype=np.int64)
        self.hits_seen = np.zeros(n_vms, dtype=np.int64)
        self.windows: list[list[int]] = [[] for _ in range(n_vms)]  # each fault's window

    def pages(self, vm: int, offset: int, used_so_far: int) -> int:
        """The window for a fault of vm at swap offset `offset` (pages within the VM),
        given the VM's readahead pages used so far."""
        if self.max_pages <= 1:
            return 1
        hits = used_so_far - int(self.hits_seen[vm])
        self.hits_seen[vm] = used_so_far
        win = next_window(
            int(self.prev_offset[vm]), offset, hits, self.max_pages, int(self.prev_win[vm])
        )
        if not hits:
            self.prev_offset[vm] = offset
        self.prev_win[vm] = win
        self.windows[vm].append(win)
        return win


def aligned_block(offset: int, pages: int) -> tuple[int, int]:
    """[start, end) of the `pages`-aligned block holding offset (pages a power of two)."""
    start = offset & ~(pages - 1)
    return start, start + pages
