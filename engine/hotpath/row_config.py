"""The settings array of a policy's own fault read made from per-VM rows (engine.hotpath.row_fault):
which read it is and its sizes, in int64 slots (numba checks a tuple's type slowly, at every
call)."""

from __future__ import annotations

# Which read the rows are for.
ROW_LEAP = 0  # Leap's majority trend (engine.hotpath.trend_fault)
ROW_ADAPTIVE = 1  # Linux's adaptive readahead window (engine.hotpath.adaptive_fault)
# Slots: the kind above; the first vote's size (Leap: history ÷ splits); the most pages one
# fault reads along (Leap's window, Linux's cluster).
C_KIND = 0
C_FIRST_WINDOW = 1
C_MAX_WINDOW = 2
N_CONFIG = 3
