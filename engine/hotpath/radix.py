"""Sorting non-negative int64 values by radix, compiled: victim selection packs (key, page) into
one int64 per page and needs them in order.

An LSD radix sort of 11-bit digits costs a few passes over the values, however they are
ordered; numpy's sort of the same 16K values took four to five times longer here (and its
partition about as long again), which made remaking a kept victim list the costliest step
of reclaim.
"""

from __future__ import annotations

import numpy as np
from numba import njit

DIGIT_BITS = 11
DIGITS = 1 << DIGIT_BITS


@njit(cache=True, nogil=True)
def radix_sort(values: np.ndarray, bits: int) -> np.ndarray:
    """values (each in [0, 2**bits)) in ascending order, as a new array. A pass whose digit
    is the same for every value is skipped."""
    n = values.size
    src = values.copy()
    dst = np.empty_like(src)
    counts = np.empty(DIGITS + 1, dtype=np.int64)
    shift = 0
    while shift < bits:
        counts[:] = 0
        for i in range(n):
            counts[((src[i] >> shift) & (DIGITS - 1)) + 1] += 1
        if counts.max() < n:  # otherwise every value has the same digit: nothing moves
            for d in range(DIGITS):
                counts[d + 1] += counts[d]
            for i in range(n):
                d = (src[i] >> shift) & (DIGITS - 1)
                dst[counts[d]] = src[i]
                counts[d] += 1
            src, dst = dst, src
        shift += DIGIT_BITS
    return src
