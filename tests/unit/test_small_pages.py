"""Arrays in small pages: what the oracle's window rows are made of."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pytest

from engine.hotpath.small_pages import small_page_empty


@pytest.mark.parametrize("shape", [(0,), (3, 0), (5,), (4, 1 << 12), (2, 3, 7)])
def test_an_array_in_small_pages_is_an_ordinary_writable_array(shape: tuple[int, ...]) -> None:
    """The array has the shape and dtype asked for, is C-contiguous, writable, starts at
    a page boundary (when not empty), and holds what is written to it."""
    a = small_page_empty(shape, np.int64)
    assert a.shape == shape and a.dtype == np.int64
    assert a.flags.c_contiguous and a.flags.writeable
    values = np.arange(a.size, dtype=np.int64).reshape(shape)
    a[...] = values
    assert (a == values).all()
    if a.size:
        assert a.ctypes.data % mmap.PAGESIZE == 0


def test_arrays_in_small_pages_do_not_share_memory() -> None:
    """Each array has memory of its own: writing one leaves another as it was."""
    a, b = small_page_empty((8, 8), np.int64), small_page_empty((8, 8), np.int64)
    a[:] = 1
    b[:] = 2
    assert not np.shares_memory(a, b)
    assert (a == 1).all() and (b == 2).all()


def test_an_array_in_small_pages_is_private_to_a_forked_process() -> None:
    """What a forked process writes to the array is its own: the parent's stays as it was
    (the memory is mapped private, as malloc's is)."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    a = small_page_empty((1024,), np.int64)
    a[:] = 5
    pid = os.fork()
    if pid == 0:  # the child writes and leaves at once
        a[:] = 9
        os._exit(0)
    os.waitpid(pid, 0)
    assert (a == 5).all()
