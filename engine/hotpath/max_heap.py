"""A max-heap of int64 kept in an array (heap[:size]), for the kernels that keep the largest
of many values: the compiled pieces of Python's heapq that they need, for a max-heap."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def sift_down(heap: np.ndarray, i: int, size: int) -> None:
    """Restore the max-heap order below heap[i]."""
    v = heap[i]
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and heap[c + 1] > heap[c]:
            c += 1
        if heap[c] <= v:
            break
        heap[i] = heap[c]
        i = c
    heap[i] = v


@njit(cache=True, nogil=True)
def push(heap: np.ndarray, size: int, value: int) -> None:
    """Put value into the max-heap heap[:size] (heap has room for one more)."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] >= value:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = value


@njit(cache=True, nogil=True)
def pop(heap: np.ndarray, size: int) -> int:
    """Take the largest value out of the max-heap heap[:size] (size >= 1); heap[:size - 1]
    is the heap left."""
    top = heap[0]
    heap[0] = heap[size - 1]
    sift_down(heap, 0, size - 1)
    return top
