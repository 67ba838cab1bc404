"""Linux's adaptive swap readahead (engine.policies.readahead) as the compiled executor makes
it: on a major fault the hits since the VM's last fault size the aligned block read around it,
with no return to Python per fault (engine.hotpath.row_fault reads them).

A VM's window state is one int64 row (the columns below), which `AdaptiveWindow`, Python's
reference model, keeps too: a fault either of them handles leaves the row as the other expects.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.row_config import C_MAX_WINDOW

# Columns of a VM's row: the offset of the last fault that found no hits, the last window, the
# readahead hits counted at the last fault.
A_PREV_OFFSET = 0
A_PREV_WIN = 1
A_HITS_SEEN = 2
N_COLUMNS = 3


@njit(cache=True, nogil=True)
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


def window_rows(n_vms: int) -> np.ndarray:
    """Every VM's row before its first fault."""
    return np.zeros((n_vms, N_COLUMNS), dtype=np.int64)


@njit(cache=True, nogil=True)
def window_pages(
    row: np.ndarray, config: np.ndarray, page: int, used: int, vm_lo: int, out: np.ndarray
) -> int:
    """`DemandPaging.fault_prefetch` with adaptive readahead, on the row: sizes the window
    (`AdaptiveWindow.pages`) and writes the pages of its aligned block into out (at least
    config[C_MAX_WINDOW] long); returns how many (0: the faulting page alone). `used`: the
    VM's prefetched pages used so far (its counter as Python would read it now)."""
    max_pages = config[C_MAX_WINDOW]
    if max_pages <= 1:
        return 0
    offset = page - vm_lo
    hits = used - row[A_HITS_SEEN]
    row[A_HITS_SEEN] = used
    win = next_window(row[A_PREV_OFFSET], offset, hits, max_pages, row[A_PREV_WIN])
    if hits == 0:
        row[A_PREV_OFFSET] = offset
    row[A_PREV_WIN] = win
    if win <= 1:
        return 0
    start = offset & ~(win - 1)
    for i in range(win):
        out[i] = vm_lo + start + i
    return win
