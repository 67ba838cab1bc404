"""Injected faults: swap read and write errors, latency spikes, and a wrong plan.

Every draw is a hash of (seed, kind, operation number), not a step of a random generator,
so a fault depends only on which operation it is: the vectorised and the per-reference
executors, which reach the same operations in the same order, see the same faults.
"""

from __future__ import annotations

import numpy as np

MAX_ATTEMPTS = 16  # a read is retried until it succeeds, at most this many tries in all

_MUL = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)

READ_ERROR, WRITE_ERROR, SPIKE, PLAN = 1, 2, 3, 4


def uniform(seed: int, kind: int, counters: np.ndarray, attempt: int = 0) -> np.ndarray:
    """Uniform [0, 1) numbers from splitmix64 of (seed, kind, counter, attempt)."""
    with np.errstate(over="ignore"):
        x = (np.asarray(counters, dtype=np.uint64) + np.uint64(attempt << 40)) * _MUL
        x ^= np.uint64((seed * 0x2545F4914F6CDD1D + kind * 0x632BE59BD9B4E019) & (2**64 - 1))
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class FaultModel:
    """The scenario's [faults] table, as draws per operation."""

    def __init__(
        self,
        seed: int,
        read_error_rate: float = 0.0,
        write_error_rate: float = 0.0,
        latency_spike_rate: float = 0.0,
        latency_spike_us: float = 0.0,
        plan_error_rate: float = 0.0,
    ):
        self.seed = int(seed)
        self.read_error_rate = float(read_error_rate)
        self.write_error_rate = float(write_error_rate)
        self.spike_rate = float(latency_spike_rate)
        self.spike_ns = int(latency_spike_us * 1000)
        self.plan_error_rate = float(plan_error_rate)

    @property
    def device_faults(self) -> bool:
        return self.read_error_rate > 0 or self.write_error_rate > 0 or self.spike_rate > 0

    def read_attempts(self, counters: np.ndarray) -> np.ndarray:
        """How many tries each demand read takes (1 when none fails)."""
        counters = np.asarray(counters, dtype=np.uint64)
        attempts = np.ones(counters.size, dtype=np.int64)
        if self.read_error_rate <= 0:
            return attempts
        failing = np.ones(counters.size, dtype=bool)
        for k in range(MAX_ATTEMPTS - 1):
            failing &= uniform(self.seed, READ_ERROR, counters, k) < self.read_error_rate
            if not failing.any():
                break
            attempts += failing
        return attempts

    def spikes(self, counters: np.ndarray) -> np.ndarray:
        """Extra latency of each operation (0 or the spike)."""
        counters = np.asarray(counters, dtype=np.uint64)
        if self.spike_rate <= 0:
            return np.zeros(counters.size, dtype=np.int64)
        hit = uniform(self.seed, SPIKE, counters) < self.spike_rate
        return hit.astype(np.int64) * self.spike_ns

    def write_fails(self, counter: int) -> bool:
        if self.write_error_rate <= 0:
            return False
        return bool(uniform(self.seed, WRITE_ERROR, np.array([counter]))[0] < self.write_error_rate)

    def plan_wrong(self, counters: np.ndarray) -> np.ndarray:
        counters = np.asarray(counters, dtype=np.uint64)
        if self.plan_error_rate <= 0:
            return np.zeros(counters.size, dtype=bool)
        return uniform(self.seed, PLAN, counters) < self.plan_error_rate
