"""The states a guest page can be in, and which of them hold a frame or a swap slot.

A leaf module: the pool and the compiled kernels that move pages both read these, so neither
has to import the other to know them (`engine.pool` re-exports them).
"""

from __future__ import annotations

import numpy as np

# Resident states are contiguous so a range test finds them.
UNTOUCHED = 0  # never touched: first touch is a minor (zero-fill) fault
CLEAN = 1  # resident, with a valid copy on swap: dropped without I/O
DIRTY = 2  # resident, no valid swap copy: must be written before its frame is freed
PREFETCHED = 3  # resident and clean, brought in ahead of use and not touched since
SWAPPED = 4  # only on swap
READING = 5  # a prefetch read is in flight (holds a frame and a slot)
WRITING = 6  # being written out to free its frame (holds both until the write ends)
STATE_NAMES = ("untouched", "clean", "dirty", "prefetched", "swapped", "reading", "writing")
N_STATES = len(STATE_NAMES)

HOLDS_FRAME = np.array([False, True, True, True, False, True, True])
HOLDS_SLOT = np.array([False, True, False, True, True, True, True])
