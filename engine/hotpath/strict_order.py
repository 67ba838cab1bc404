"""Whether a vCPU's use time strictly grows with the stream position (compiled): what lets
the oracle's prefetch stop looking once it has more pages than a step's reads carry."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.next_use import _one_use_time


@njit(cache=True, nogil=True)
def grows_strictly(
    starts: np.ndarray, cum: np.ndarray, cpu: int, share: float, unplanned_ns: int
) -> bool:
    """Whether the time the vCPU reaches k references from now (`use_times`) is larger for
    each k than for k - 1. Inside a segment it grows by cpu >= 1 per reference, past the
    plan by cpu × share >= 1 (a truncated product still grows), so only each segment's first
    reference against the one before it needs a look."""
    b = cum.size
    for j in range(b):
        k = cum[j]
        if k > 0 and _one_use_time(k - 1, starts, cum, 0, b, cpu, share, unplanned_ns) >= (
            _one_use_time(k, starts, cum, 0, b, cpu, share, unplanned_ns)
        ):
            return False
    return True
