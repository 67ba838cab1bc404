"""Bit counts of a 64-bit word, one processor instruction each in compiled code and plain
Python under NUMBA_DISABLE_JIT (numba's intrinsics for them have no Python form: a kernel
calling one directly could not run interpreted)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba.core.extending import overload
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros


def lowest_set_bit(word: int | np.integer) -> int:
    """The index of a non-zero word's lowest set bit (its count of trailing zeros)."""
    w = int(word)
    return (w & -w).bit_length() - 1


def bit_width(word: int | np.integer) -> int:
    """int.bit_length of a non-negative 64-bit word (64 less its count of leading zeros)."""
    return int(word).bit_length()


@overload(lowest_set_bit)
def _lowest_set_bit_compiled(word: Any) -> Any:
    """lowest_set_bit in compiled code: the processor's count of trailing zeros."""

    def impl(word: Any) -> Any:
        return trailing_zeros(word)  # type: ignore[call-arg]  # (mypy sees the intrinsic's typer)

    return impl


@overload(bit_width)
def _bit_width_compiled(word: Any) -> Any:
    """bit_width in compiled code: 64 less the processor's count of leading zeros."""

    def impl(word: Any) -> Any:
        return 64 - leading_zeros(word)  # type: ignore[call-arg]  # (as above)

    return impl
