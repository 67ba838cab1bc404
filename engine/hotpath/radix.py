"""Sorting non-negative int64 values by radix, compiled: victim selection packs (key, page) into
one int64 per page and needs them in order.

An LSD radix sort costs a few passes over the values, however they are ordered; numpy's sort
of the same 16K values took four to five times longer here (and its partition about as long
again), which made remaking a kept victim list the costliest step of reclaim. One counting
pass makes every digit's histogram; digits of at most 12 bits (a histogram of 32 KiB, the
size of a core's L1 cache) split the bits evenly, so 24 bits of key take two passes, not three.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MAX_DIGIT_BITS = 12
# From this many packed values (an eighth of them wanted) a selection sorts them all by radix
# (victims.smallest, the restore sets): a few passes over the key bits beat a comparison sort
# of thousands.
RADIX_FROM = 512


@njit(cache=True, nogil=True)
def radix_sort(values: np.ndarray, bits: int) -> np.ndarray:
    """values (each in [0, 2**bits)) in ascending order, as a new array."""
    return sort_bits_above(values.copy(), np.empty_like(values), 0, bits)


@njit(cache=True, nogil=True)
def sort_bits_above(values: np.ndarray, scratch: np.ndarray, low_bit: int, bits: int) -> np.ndarray:
    """values (each in [0, 2**bits)) stably sorted by their bits low_bit to bits, in place:
    returns values or scratch (of values' size), whichever holds the result. Bits below
    low_bit keep the order they came in: values packed as (key << b) | page with the pages
    ascending come out in (key, page) order sorting the key bits alone. A pass whose digit
    is the same for every value is skipped."""
    n = values.size
    span = bits - low_bit
    if span <= 0 or n < 2:
        return values
    passes = -(-span // MAX_DIGIT_BITS)
    digit_bits = -(-span // passes)
    mask = (1 << digit_bits) - 1
    counts = np.zeros((passes, mask + 1), dtype=np.int64)
    for i in range(n):
        v = values[i] >> low_bit
        for k in range(passes):
            counts[k, np.uint64((v >> (k * digit_bits)) & mask)] += 1
    src, dst = values, scratch
    for k in range(passes):
        shift = low_bit + k * digit_bits
        starts = counts[k]  # each digit's count becomes where its first value goes
        total = 0
        moves = True
        for d in range(mask + 1):
            c = starts[d]
            if c == n:  # every value has this digit: nothing moves
                moves = False
                break
            starts[d] = total
            total += c
        if moves:
            for i in range(n):
                v = src[i]
                # Unsigned indices (never negative): no wraparound of negative ones per value.
                digit = np.uint64((v >> shift) & mask)
                dst[np.uint64(starts[digit])] = v
                starts[digit] += 1
            src, dst = dst, src
    return src
