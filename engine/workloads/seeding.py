"""Seeding of reference streams: one seed sequence per (scenario seed, VM, vCPU), and moving a
generator past draws without making them, so a stream can start anywhere at the same cost."""

from __future__ import annotations

import zlib

import numpy as np


def stream_seed(seed: int, vm_name: str, vcpu: int) -> np.random.SeedSequence:
    """One seed sequence per (scenario seed, VM name, vCPU): independent of VM order."""
    return np.random.SeedSequence([seed & 0xFFFFFFFFFFFFFFFF, zlib.crc32(vm_name.encode()), vcpu])


def skip_draws(rng: np.random.Generator, n: int) -> bool:
    """Move rng on as if it had drawn n doubles (`rng.random(n)`), without drawing them, where
    its bit generator can jump (PCG64, numpy's default: one double is one 64-bit step); False
    (and rng untouched) where it cannot."""
    bits = rng.bit_generator
    if not isinstance(bits, np.random.PCG64):
        return False
    bits.advance(n)
    return True
