"""Large scratch arrays mapped in small (4 KiB) pages: memory that is first written inside a
run without the huge-page advice numpy gives allocations of 4 MiB or more.

A huge page is faulted in whole on its first write, and when the machine's memory is
fragmented the kernel may take milliseconds to find one; measured here for the oracle's
window rows (two 2 MiB rows a vCPU, first written when its window is drawn): 10-50 ms a
window in most runs on a busy machine (~1 ms where huge pages came cheap), against 2-4 ms a
window, steadily, in 4 KiB pages."""

from __future__ import annotations

import mmap

import numpy as np


def small_page_empty(shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """An array of the shape and dtype to be written before it is read (its content is
    zeros), in anonymous memory of its own, advised against huge pages where the system
    would otherwise use them."""
    dt = np.dtype(dtype)
    n_bytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if n_bytes == 0 or not hasattr(mmap, "MAP_ANONYMOUS"):  # (no such mapping here)
        return np.empty(shape, dtype=dt)
    # Private, as malloc's memory is: a forked process gets its own copy on writing.
    buf = mmap.mmap(-1, n_bytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        buf.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(buf, dtype=dt).reshape(shape)
